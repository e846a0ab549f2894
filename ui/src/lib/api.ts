// The one door to the core: `run(command)` sends a `schoolcard_core::Command` (JSON with a
// `type`) to the shell's `execute` and returns its JSON answer, or throws a `CommandError`
// whose `code` the message catalogue translates.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

export type Role = 'guard' | 'cashier' | 'librarian' | 'director' | 'admin';
export const ROLES: Role[] = ['admin', 'director', 'guard', 'cashier', 'librarian'];
export type PersonKind = 'pupil' | 'staff' | 'guardian';
export type PersonStatus = 'active' | 'suspended' | 'left';
export type CardState = 'active' | 'lost' | 'blocked' | 'returned';

export interface Session {
  person_id: string;
  login: string;
  display_name: string;
  roles: Role[];
}

export interface DemoAccount {
  login: string;
  roles: Role[];
  full_name: string;
  /** The staff card in a form the card sign-in reads back (`40:55007EE424`), if any. */
  card_typed: string | null;
}

/** The generated demo school: its accounts and their published password and PIN. */
export interface Demo {
  password: string;
  pin: string;
  accounts: DemoAccount[];
}

export interface School {
  configured: boolean;
  name: string;
  time_zone: string;
  /** A fresh database: no staff account yet, so the first screen is the set-up form. */
  needs_setup: boolean;
  /** Present for the demo school only. */
  demo: Demo | null;
}

export interface AppInfo {
  version: string;
  db_path: string;
  lang: 'ru' | 'en' | null;
}

export interface PersonSummary {
  id: string;
  kind: PersonKind;
  full_name: string;
  surname: string;
  name: string;
  patronymic: string;
  class_id: string | null;
  class_name: string | null;
  status: PersonStatus;
  external_id: string | null;
  has_photo: boolean;
  position: string | null;
}

export interface Card {
  /** Canonical (`40:55007EE424`); the core reads it back as this card. */
  card: string;
  /** `returned` for a card the person held and gave back (`past`). */
  state: CardState;
  /** Held by the person before, no more (returned, or re-issued since). */
  past: boolean;
  raw: string;
  hex: string | null;
  wiegand26: string | null;
  decimal: string | null;
  changed_at: string;
}

export interface Relative {
  id: string;
  full_name: string;
  relation: string;
  phone: string | null;
  email: string | null;
  class_name: string | null;
}

export interface Account {
  login: string;
  roles: Role[];
  has_password: boolean;
  has_pin: boolean;
  failed_attempts: number;
  locked_until: string | null;
}

export interface Details {
  external_id: string | null;
  birth_date: string | null;
  phone: string | null;
  email: string | null;
  position: string | null;
}

export interface PersonDetail {
  person: PersonSummary;
  details: Details;
  photo: string | null;
  cards: Card[];
  guardians: Relative[];
  children: Relative[];
  account: Account | null;
}

export interface ClassInfo {
  id: string;
  grade: number;
  letter: string;
  name: string;
  pupils: number;
}

export interface StaffRow {
  id: string;
  full_name: string;
  position: string | null;
  status: PersonStatus;
  login: string | null;
  roles: Role[];
  failed_attempts: number;
  locked: boolean;
  locked_until: string | null;
  last_sign_in: string | null;
  has_pin: boolean;
}

export interface Summary {
  today: string;
  pupils: number;
  staff: number;
  guardians: number;
  classes: number;
  active_cards: number;
  pupils_without_card: number;
  pupils_without_photo: number;
  lost_or_blocked_cards: number;
  events: number;
  by_grade: { grade: number; pupils: number }[];
}

export interface Lookup {
  card: string;
  known: boolean;
  state?: CardState;
  person?: PersonSummary;
  photo?: string | null;
}

export interface Progress {
  stage: string;
  done: number;
  total: number;
}

export interface JournalEvent {
  seq: number;
  origin: string;
  origin_seq: number;
  occurred_at: string;
  actor: string;
  kind: string;
  payload: unknown;
}

/**
 * A refused command, as the shell's `ErrorDto` carries it: `code` is the kind
 * (`invalid`, `conflict`, `not_found`, …); for `invalid` and `conflict`, `reason` says
 * why (`card_taken`, `too_short`, … — the catalogue's `refusal.<reason>`) and `params`
 * holds the values its sentence needs.
 */
export class CommandError extends Error {
  readonly code: string;
  readonly reason: string | null;
  readonly params: Record<string, string>;
  readonly field: string | null;
  readonly until: string | null;
  constructor(
    code: string,
    message: string,
    extra: { reason?: string | null; params?: Record<string, string>; field?: string | null; until?: string | null } = {},
  ) {
    super(message);
    this.code = code;
    this.reason = extra.reason ?? null;
    this.params = extra.params ?? {};
    this.field = extra.field ?? null;
    this.until = extra.until ?? null;
  }
}

function toCommandError(e: unknown): CommandError {
  if (e instanceof CommandError) return e;
  if (e && typeof e === 'object' && 'code' in e) {
    const dto = e as {
      code: string;
      reason?: string | null;
      params?: Record<string, string>;
      message?: string;
      field?: string | null;
      until?: string | null;
    };
    return new CommandError(dto.code, dto.message ?? dto.code, dto);
  }
  // Outside the shell (`npm run dev` in a browser) there is no IPC at all.
  return new CommandError('internal', e instanceof Error ? e.message : String(e));
}

export type Command = { type: string } & Record<string, unknown>;

let onSignedOut: (() => void) | null = null;

/** Called when the core answers `not_signed_in`: the window goes back to sign-in. */
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export async function run<T = unknown>(cmd: Command): Promise<T> {
  try {
    return await invoke<T>('execute', { cmd });
  } catch (e) {
    const err = toCommandError(e);
    if (err.code === 'not_signed_in') onSignedOut?.();
    throw err;
  }
}

export async function appInfo(): Promise<AppInfo> {
  try {
    return await invoke<AppInfo>('app_info');
  } catch {
    return { version: '', db_path: '', lang: null };
  }
}

export async function uiReady(): Promise<void> {
  try {
    await invoke('ui_ready');
  } catch {
    /* outside the shell: nobody to tell */
  }
}

export function onProgress(handler: (p: Progress) => void): Promise<UnlistenFn> {
  return listen<Progress>('progress', (event) => handler(event.payload)).catch(() => () => {});
}

/** The native "Open file" dialog; `null` when the user cancels. */
export async function pickFile(filters: { name: string; extensions: string[] }[]): Promise<string | null> {
  const { open } = await import('@tauri-apps/plugin-dialog');
  const chosen = await open({ multiple: false, directory: false, filters });
  return typeof chosen === 'string' ? chosen : null;
}
