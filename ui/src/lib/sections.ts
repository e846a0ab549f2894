// The workplace's sections and who sees which. Hiding a section is a courtesy: the core
// authorizes every command itself.
import type { Post, Role } from './api';

export type SectionId =
  | 'guard'
  | 'inside'
  | 'attendance'
  | 'summary'
  | 'dashboard'
  | 'documents'
  | 'lookup'
  | 'pupils'
  | 'classes'
  | 'staff'
  | 'import'
  | 'journal'
  | 'school'
  | 'devices'
  | 'visitors'
  | 'exceptions'
  | 'rules'
  | 'till'
  | 'till_class'
  | 'canteen_menu'
  | 'canteen_benefits'
  | 'canteen_pupils'
  | 'canteen_order'
  | 'canteen_report'
  | 'server'
  | 'library'
  | 'backups';

/** Canonical order: the first section a person may see is their home. */
/** New sections go last, so the Alt+digit people have learnt keep their meaning; the
 *  director's dashboard and documents are the exception: the office's own, beside the summary. */
const ORDER: SectionId[] = [
  'summary',
  'dashboard',
  'documents',
  'lookup',
  'pupils',
  'classes',
  'staff',
  'import',
  'journal',
  'school',
  'devices',
  'guard',
  'inside',
  'attendance',
  'visitors',
  'exceptions',
  'rules',
  'till',
  'till_class',
  'canteen_menu',
  'canteen_benefits',
  'canteen_pupils',
  'canteen_order',
  'canteen_report',
  'server',
  'library',
  'backups',
];

const BY_ROLE: Record<Role, SectionId[]> = {
  admin: ['summary', 'dashboard', 'documents', 'lookup', 'pupils', 'classes', 'staff', 'import', 'journal', 'school', 'devices', 'guard', 'inside', 'attendance', 'visitors', 'exceptions', 'rules', 'till', 'till_class', 'canteen_menu', 'canteen_benefits', 'canteen_pupils', 'canteen_order', 'canteen_report', 'server', 'library', 'backups'],
  // The director reads the visitors' passes; issuing and closing them is the post's.
  // The director also reads how the sync with the server goes; connecting is the admin's.
  director: ['dashboard', 'documents', 'summary', 'lookup', 'pupils', 'staff', 'journal', 'inside', 'attendance', 'visitors', 'exceptions', 'canteen_order', 'canteen_report', 'server'],
  guard: ['guard', 'inside', 'lookup', 'pupils', 'visitors'],
  // The till is the cashier's home (Касса), serving a class beside it.
  cashier: ['till', 'till_class', 'lookup', 'pupils', 'canteen_order'],
  // The library desk is the librarian's home (Библиотека), as the till is the cashier's.
  librarian: ['library', 'lookup', 'pupils'],
};

/** A guard's post comes first for them: they work there all day. */
const GUARD_FIRST: SectionId[] = ['guard', 'inside'];
/** The cashier's till comes first for them, as the post does for a guard. */
const TILL_FIRST: SectionId[] = ['till', 'till_class'];
/** The library desk comes first for the librarian. */
const LIBRARY_FIRST: SectionId[] = ['library'];
/** The dashboard is the director's home (a director who is also an admin keeps the summary first). */
const DASHBOARD_FIRST: SectionId[] = ['dashboard', 'documents'];

export function sectionsFor(roles: Role[]): SectionId[] {
  const allowed = new Set(roles.flatMap((r) => BY_ROLE[r] ?? []));
  // A guard's home is their post (or the card check) even if they also read summaries elsewhere.
  const posts = roles.some((r) => r === 'guard' || r === 'cashier' || r === 'librarian');
  const office = roles.includes('admin') || roles.includes('director');
  let order = posts && !office ? ORDER.filter((s) => s !== 'summary') : ORDER;
  if (roles.includes('guard') && !office) order = [...GUARD_FIRST, ...order.filter((s) => !GUARD_FIRST.includes(s))];
  if (roles.includes('cashier') && !office) order = [...TILL_FIRST, ...order.filter((s) => !TILL_FIRST.includes(s))];
  if (roles.includes('librarian') && !office) order = [...LIBRARY_FIRST, ...order.filter((s) => !LIBRARY_FIRST.includes(s))];
  if (roles.includes('director') && !roles.includes('admin')) order = [...DASHBOARD_FIRST, ...order.filter((s) => !DASHBOARD_FIRST.includes(s))];
  return order.filter((s) => allowed.has(s));
}

/** The section of the post this workstation serves (the first-run wizard's choice). */
const POST_HOME: Partial<Record<Post, SectionId>> = { entrance: 'guard', canteen: 'till', library: 'library' };

/** `sections` with this workstation's post's screen first, when the person may see it: at
 *  the canteen till an admin signs in to the till, not to the summary. */
export function withPostFirst(sections: SectionId[], post: Post | null | undefined): SectionId[] {
  const home = post ? POST_HOME[post] : undefined;
  if (!home || !sections.includes(home)) return sections;
  return [home, ...sections.filter((s) => s !== home)];
}

/** Alt+1…Alt+9, then Alt+0 for the tenth; later sections are reached by Tab. */
export function shortcutOf(index: number): string | null {
  if (index < 9) return `Alt+${index + 1}`;
  if (index === 9) return 'Alt+0';
  return null;
}
