// The workplace's sections and who sees which. Hiding a section is a courtesy: the core
// authorizes every command itself.
import type { Role } from './api';

export type SectionId =
  | 'summary'
  | 'lookup'
  | 'pupils'
  | 'classes'
  | 'staff'
  | 'import'
  | 'journal'
  | 'school'
  | 'devices';

/** Canonical order: the first section a person may see is their home. */
/** New sections go last, so the Alt+digit people have learnt keep their meaning. */
const ORDER: SectionId[] = ['summary', 'lookup', 'pupils', 'classes', 'staff', 'import', 'journal', 'school', 'devices'];

const BY_ROLE: Record<Role, SectionId[]> = {
  admin: ['summary', 'lookup', 'pupils', 'classes', 'staff', 'import', 'journal', 'school', 'devices'],
  director: ['summary', 'lookup', 'pupils', 'staff', 'journal'],
  guard: ['lookup', 'pupils'],
  cashier: ['lookup', 'pupils'],
  librarian: ['lookup', 'pupils'],
};

export function sectionsFor(roles: Role[]): SectionId[] {
  const allowed = new Set(roles.flatMap((r) => BY_ROLE[r] ?? []));
  // A guard's home is the card check even if they also read summaries elsewhere.
  const posts = roles.some((r) => r === 'guard' || r === 'cashier' || r === 'librarian');
  const order = posts && !roles.includes('admin') && !roles.includes('director')
    ? ORDER.filter((s) => s !== 'summary')
    : ORDER;
  return order.filter((s) => allowed.has(s));
}
