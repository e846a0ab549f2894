// The one door to the core: `run(command)` sends a `schoolcard_core::Command` (JSON with a
// `type`) to the shell's `execute` and returns its JSON answer, or throws a `CommandError`
// whose `code` the message catalogue translates.
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

export type Role = 'guard' | 'cashier' | 'librarian' | 'director' | 'admin';
export const ROLES: Role[] = ['admin', 'director', 'guard', 'cashier', 'librarian'];
/** `visitor`: someone on a visitor card, enrolled when the guard issues the pass. */
export type PersonKind = 'pupil' | 'staff' | 'guardian' | 'visitor';
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
  /** The post this workstation serves and its name, once the first-run wizard (or the admin) set it. */
  post: { post: Post; name: string } | null;
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

// ─── Card readers and gates of this workstation ─────────────────────────────────────────

export type Post = 'entrance' | 'canteen' | 'library' | 'office';
export const POSTS: Post[] = ['entrance', 'canteen', 'library', 'office'];
export type Direction = 'entry' | 'exit';
export type LineFormat = 'iron_logic_z2' | 'hex_uid' | 'decimal_uid' | 'pattern';
export const LINE_FORMATS: LineFormat[] = ['iron_logic_z2', 'hex_uid', 'decimal_uid', 'pattern'];

/** How the shell reaches a device; `type` is its kind. */
export type Connection =
  | { type: 'serial_reader'; port: string; format: LineFormat; pattern: string | null; baud_rate: number }
  /** `reader`: a PC/SC reader's name; empty for any reader. */
  | { type: 'pcsc_reader'; reader: string }
  /** `fire_alarm_input`: the PD input (from 0) wired to the fire alarm panel, if any. */
  | { type: 'osdp_reader'; port: string; baud_rate: number; address: number; secure_only: boolean; fire_alarm_input: number | null }
  | { type: 'relay_gate'; port: string; entry_channel: number; exit_channel: number; pulse_ms: number }
  /** A thermal receipt printer (ESC/POS): a serial port or a USB printer node (`/dev/usb/lp0`). */
  | { type: 'receipt_printer'; port: string; baud_rate: number; paper: PaperWidth }
  /** A vending machine asking the workstation's API; its key is kept as a SHA-256 digest. */
  | { type: 'vending_machine'; key_sha256: string; listen: string }
  /** The demo's reader: played by the app itself on a pseudo-terminal (IronLogic Z-2 lines). */
  | { type: 'simulated_reader' }
  | { type: 'simulated_turnstile' };
export type DeviceKind = Connection['type'];
export const DEVICE_KINDS: DeviceKind[] = [
  'serial_reader',
  'pcsc_reader',
  'osdp_reader',
  'relay_gate',
  'receipt_printer',
  'vending_machine',
  'simulated_reader',
  'simulated_turnstile',
];
/** Kinds that open a passage rather than read cards. */
export const GATE_KINDS: DeviceKind[] = ['relay_gate', 'simulated_turnstile'];
/** A receipt printer's roll, in millimetres. */
export type PaperWidth = '58' | '80';
export const PAPER_WIDTHS: PaperWidth[] = ['58', '80'];
/** Where the vending API listens unless told otherwise (the whole school network). */
export const VENDING_LISTEN_DEFAULT = '0.0.0.0:8787';

/** A new vending machine key (32 random bytes as hex) and its SHA-256 digest. */
export async function newVendingKey(): Promise<{ key: string; digest: string }> {
  const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  const key = hex(crypto.getRandomValues(new Uint8Array(32)));
  const digest = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key))));
  return { key, digest };
}

export interface DeviceView {
  device_id: string;
  name: string;
  post: Post;
  /** Which way an entrance reader lets people through; `null` elsewhere and for gates. */
  direction: Direction | null;
  enabled: boolean;
  connection: Connection;
  /** The gate device this reader opens. */
  gate_id: string | null;
  /** Readers: whether the guard confirms each passage (older specs: automatic). */
  verification?: Verification;
  updated_at: string;
}

/** What `save_device` takes: a device without its id and stamp. */
export type DeviceSettings = Omit<DeviceView, 'device_id' | 'updated_at'>;

export type DeviceState = 'online' | 'offline' | 'starting' | 'misconfigured' | 'disabled';

/** One device as the shell's device hub sees it now. */
export interface DeviceHealth {
  device_id: string;
  name: string;
  state: DeviceState;
  /** Why it is offline or misconfigured, in the system's (English) words. */
  detail: string | null;
  last_frame_at: string | null;
  frames: number;
  errors: number;
  reconnects: number;
}

export interface PortList {
  serial: { path: string; description: string }[];
  pcsc: string[];
  /** Why the PC/SC readers could not be listed (no pcscd, …). */
  pcsc_error: string | null;
}

/** A card presented to one of this workstation's readers (the `card-read` event). */
export interface CardRead {
  device_id: string | null;
  device_name: string;
  post: Post | null;
  direction: Direction | null;
  /** Canonical (`40:55007EE424`). */
  card: string;
  raw: string;
  at: string;
}

/** Calls a shell command (not a core one), with its failure as a `CommandError`. */
async function shellCall<T>(name: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(name, args);
  } catch (e) {
    throw toCommandError(e);
  }
}

// ─── The director's documents (АРМ Отчётности) ──────────────────────────────────────────

/** The documents `export_report` builds (core `director::ReportKind`). */
export type ReportKind =
  | 'attendance_register'
  | 'lateness'
  | 'meals_and_savings'
  | 'buffet_sales'
  | 'cashier_shifts'
  | 'library_circulation'
  | 'guard_exceptions'
  | 'evacuation_list';
export type ReportFormat = 'pdf' | 'xlsx' | 'csv';

export interface ReportExported {
  /** Where the file was written (under `reports/` beside the database); it is opened too. */
  path: string;
  /** Rows in the document (group headings and totals not counted). */
  rows: number;
}

/** Builds a director's document for `from`–`to` (school days, both included) and one class
 *  or all, writes it as `format` and opens it; progress comes as `report_*` stages. */
export function exportReport(args: {
  kind: ReportKind;
  from: string;
  to: string;
  classId: string | null;
  format: ReportFormat;
}): Promise<ReportExported> {
  return shellCall<ReportExported>('export_report', args);
}

// ─── Diagnostics for support ────────────────────────────────────────────────────────────

export interface DiagnosticsExported {
  /** The ZIP written under `diagnostics/` beside the database. */
  path: string;
  bytes: number;
}

/** Writes the support archive (versions, devices, the logs' last errors, the database's
 *  checks and counts; no personal data). Admin only. */
export function exportDiagnostics(): Promise<DiagnosticsExported> {
  return shellCall<DiagnosticsExported>('export_diagnostics');
}

export function deviceHealth(): Promise<DeviceHealth[]> {
  return shellCall<DeviceHealth[]>('device_health');
}

export function listPorts(): Promise<PortList> {
  return shellCall<PortList>('list_ports');
}

/** Presents `card` (canonical) on a running simulated reader. */
export function simulateCard(deviceId: string, card: string): Promise<void> {
  return shellCall<void>('simulate_card', { deviceId, card });
}

/** Opens a gate one way by hand (the core records who did it first). */
export function openGate(deviceId: string, direction: Direction): Promise<void> {
  return shellCall<void>('open_gate', { deviceId, direction });
}

export function onCardRead(handler: (read: CardRead) => void): Promise<UnlistenFn> {
  return listen<CardRead>('card-read', (event) => handler(event.payload)).catch(() => () => {});
}

export function onDeviceHealth(handler: (health: DeviceHealth[]) => void): Promise<UnlistenFn> {
  return listen<DeviceHealth[]>('device-health', (event) => handler(event.payload)).catch(() => () => {});
}

// ─── The guard's post (СКУД): passages, the emergency, attendance ───────────────────────

/** How a reader's passages are let through: by the rules alone, or after the guard looks. */
export type Verification =
  | { mode: 'automatic' }
  | { mode: 'guard'; timeout_s: number }
  /** An external verifier (face recognition) asked over HTTP; its silence goes to the guard. */
  | { mode: 'external'; url: string; deadline_ms: number; timeout_s: number };
export const GUARD_TIMEOUT_DEFAULT_S = 10;
/** How long an external verifier has, by default and at most/least (core/src/peripherals.rs). */
export const EXTERNAL_DEADLINE_DEFAULT_MS = 1000;
export const EXTERNAL_DEADLINE_MIN_MS = 100;
export const EXTERNAL_DEADLINE_MAX_MS = 10000;

export type VerifiedBy = 'automatic' | 'guard' | 'external' | 'override';
export type PassOutcome = 'passed' | 'no_pass' | 'denied';

/** Rules' denials the guard may overrule (the core refuses the rest: `not_overridable`). */
export const OVERRIDABLE_REASONS = ['not_permitted', 'not_a_school_day', 'outside_hours', 'passback', 'lessons_in_progress'];

export interface PassagePerson {
  id: string;
  full_name: string;
  kind: PersonKind;
  class_name: string | null;
  position: string | null;
  status: PersonStatus;
  /** A `data:` URL; `null` in lists. */
  photo: string | null;
}

/** A card at an entrance reader, decided (the `passage` event; a row of the guard's list). */
export interface Passage {
  passage_id: string;
  at: string;
  reader: { device_id: string; name: string; direction: Direction | null; post: Post };
  gate_id: string | null;
  /** Canonical; `null` when the reader's line could not be read as a card. */
  card: string | null;
  raw: string;
  card_state: CardState | null;
  person: PassagePerson | null;
  decision: { allowed: boolean; reason: string; flags: string[]; overridden: string | null };
  /** `guard`: the guard must answer (Enter allows, Esc denies) before `deadline`. */
  awaiting: 'guard' | null;
  deadline: string | null;
  verified_by: VerifiedBy | null;
  outcome: PassOutcome | null;
  /** The guard's note: why someone passed without their card (empty otherwise). */
  note?: string;
}

export interface PassageOutcomeEvent {
  passage_id: string;
  outcome: PassOutcome;
  verified_by: VerifiedBy | null;
}

export interface EmergencyReport {
  done: string[];
  failed: { gate_id: string; error: string }[];
  elapsed_ms: number;
}

export interface EmergencyEvent {
  active: boolean;
  source?: 'alarm_input' | 'button' | 'hotkey';
  report: EmergencyReport;
}

export interface GuardSummary {
  inside: { pupils: number; staff: number; guardians: number; visitors: number; total: number };
  arrived_today: number;
  late_today: number;
  /** Newest first. */
  last_passages: Passage[];
}

export interface InsidePerson {
  id: string;
  full_name: string;
  class_name: string | null;
  position: string | null;
  since: string;
  gate: string | null;
}

export interface InsideGroup {
  key: string;
  title: string;
  kind: 'class' | 'staff' | 'guardians' | 'visitors';
  people: InsidePerson[];
}

export interface InsideNow {
  groups: InsideGroup[];
  total: number;
}

export type AttendanceMark = 'present' | 'late' | 'left_early' | 'absent' | 'excused';
export const ATTENDANCE_MARKS: AttendanceMark[] = ['present', 'late', 'left_early', 'absent', 'excused'];

export interface ClassAttendance {
  class_id: string;
  class_name: string;
  pupils: number;
  present: number;
  late: number;
  left_early: number;
  absent: number;
  excused: number;
}

export interface PupilAttendance {
  person_id: string;
  full_name: string;
  class_name: string | null;
  first_entry: string | null;
  last_exit: string | null;
  presence: 'present' | 'absent' | 'excused' | 'no_lessons';
  late: boolean;
  late_by_minutes: number | null;
  left_early: boolean;
  corrected: boolean;
}

export interface DayAttendance {
  date: string;
  day_kind: string;
  classes: ClassAttendance[];
  rows?: PupilAttendance[];
}

/** The guard's answer to a passage awaiting them; `allow` on a rules' denial overrides it. */
export function guardDecide(passageId: string, allow: boolean): Promise<Passage> {
  return shellCall<Passage>('guard_decide', { passageId, allow });
}

/** Every gate unlocked at once (fire alarm). Asks for no sign-in, like a break-glass button. */
export function fireUnlock(): Promise<EmergencyReport> {
  return shellCall<EmergencyReport>('fire_unlock');
}

export function endEmergency(): Promise<EmergencyReport> {
  return shellCall<EmergencyReport>('end_emergency');
}

export function emergencyState(): Promise<boolean> {
  return shellCall<boolean>('emergency_state');
}

/** Writes the evacuation list (everyone inside, by class) as a PDF and prints it (`lp`) or opens it. */
export function evacuationPdf(): Promise<{ path: string; people: number; printed: boolean }> {
  return shellCall<{ path: string; people: number; printed: boolean }>('evacuation_pdf');
}

export function onPassage(handler: (p: Passage) => void): Promise<UnlistenFn> {
  return listen<Passage>('passage', (event) => handler(event.payload)).catch(() => () => {});
}

export function onPassageOutcome(handler: (o: PassageOutcomeEvent) => void): Promise<UnlistenFn> {
  return listen<PassageOutcomeEvent>('passage-outcome', (event) => handler(event.payload)).catch(() => () => {});
}

export function onEmergency(handler: (e: EmergencyEvent) => void): Promise<UnlistenFn> {
  return listen<EmergencyEvent>('emergency', (event) => handler(event.payload)).catch(() => () => {});
}

/** The fire key (Ctrl+Shift+F12, grabbed by the shell) pressed once: a second press
 * within the given seconds unlocks every gate. */
export function onFireKeyArmed(handler: (seconds: number) => void): Promise<UnlistenFn> {
  return listen<number>('fire-hotkey-armed', (event) => handler(event.payload)).catch(() => () => {});
}

/** Lets someone through without their card (forgotten at home): the entrance reader's gate
 * opens if the rules allow, and the passage carries the guard's note. */
export function passWithoutCard(personId: string, readerId: string, note: string): Promise<Passage> {
  return shellCall<Passage>('pass_without_card', { personId, readerId, note });
}

// ─── Visitors, the day's exceptions, the roll-call ──────────────────────────────────────

/** A visitor's temporary pass on a visitor card (`list_visitors`). */
export interface VisitorPass {
  pass_id: string;
  person_id: string;
  full_name: string;
  /** Canonical. */
  card: string;
  document: string;
  visiting: string;
  issued_at: string;
  valid_until: string;
  closed_at: string | null;
  inside: boolean;
}

/** One passage in the day's exceptions report. */
export interface ExceptionRow {
  passage_id: string;
  at: string;
  person_id: string | null;
  full_name: string;
  class_name: string | null;
  card: string | null;
  reader: string | null;
  direction: Direction;
  allowed: boolean;
  reason: string;
  outcome: PassOutcome;
  note: string;
  /** The refusal a guard's override set aside, when the core names it. */
  overridden?: string | null;
}

/** `till_without_entry`: a card used at the canteen's till by a pupil who never came in;
 * its `first` is the till's first use (a time, the pupil), not a passage. */
export interface Anomaly {
  kind: 'two_readers' | 'repeated_entry' | 'till_without_entry';
  first: ExceptionRow;
  second?: ExceptionRow;
  seconds?: number;
}

export interface ExceptionsReport {
  date: string;
  without_card: ExceptionRow[];
  overrides: ExceptionRow[];
  guard_denials: ExceptionRow[];
  anomalies: Anomaly[];
}

export interface RollCallPerson {
  id: string;
  full_name: string;
  position: string | null;
  present: boolean;
}

export interface RollCallGroup {
  /** A class's name (`5А`), or a kind for everyone else: `staff`, `visitor`, `guardian`, `pupil`. */
  key: string;
  title: string;
  missing: number;
  people: RollCallPerson[];
}

export interface RollCall {
  roll_call_id: string;
  started_at: string;
  ended_at: string | null;
  total: number;
  present: number;
  missing: number;
  groups: RollCallGroup[];
}

// ─── The canteen's till (СОП): who is at the till, free meals, the buffet ───────────────

/** Money as the core counts it: whole kopecks (never floats). */
export type Kopecks = number;
export type MealKind = 'breakfast' | 'lunch' | 'afternoon_snack';
export type Payer = 'municipal' | 'regional' | 'parents';

/** Why the till refused (core/src/canteen/till.rs `TillReason`). */
export type TillReason =
  | 'unknown_card'
  | 'not_a_pupil'
  | 'not_entitled'
  | 'already_served'
  | 'bad_basket'
  | 'not_on_menu'
  | 'product_banned'
  | 'category_banned'
  | 'allergen_banned'
  | 'daily_limit_exceeded'
  | 'insufficient_balance'
  | 'offline_budget_exceeded';
/** Refusals a cashier may set aside with a reason. */
export const OVERRIDABLE_TILL_REASONS: TillReason[] = ['not_entitled', 'already_served'];

/** Who stands at the till: the card they presented, or a pupil picked from a list. */
export type TillWho = { card: string } | { person_id: string };

export interface Product {
  product_id: string;
  name: string;
  price: Kopecks;
  category: string;
  allergens: string[];
}

export interface Complex {
  complex_id: string;
  name: string;
  meal: MealKind;
  grades: { first: number; last: number };
  price: Kopecks;
  payer: Payer;
}

export interface CanteenCatalogue {
  settings: { order_cut_off: string; overdraft_floor: Kopecks; offline_budget: Kopecks };
  products: Product[];
  complexes: Complex[];
  benefit_categories: { category_id: string; name: string; meals: MealKind[] }[];
  eu_allergens: string[];
}

export interface DayMenuItem {
  product_id: string;
  name: string;
  category: string;
  allergens: string[];
  price: Kopecks;
}

export interface DayMenu {
  date: string;
  items: DayMenuItem[];
}

export interface Entitlement {
  complex_id: string;
  meal: MealKind;
  price: Kopecks;
  payer: Payer;
  basis: { kind: 'primary_grades' } | { kind: 'benefit'; category_id: string };
}

/** `till_pupil`: the pupil at the till today, or why the till cannot serve them. */
export type TillPupil =
  | {
      ok: true;
      person_id: string;
      full_name: string;
      class_name: string | null;
      entitlements: Entitlement[];
      /** Complexes pre-ordered (and paid) for today. */
      pre_orders: string[];
      /** Complexes served today already (one entry per serving). */
      served_today: string[];
      balance: Kopecks;
      /** What may be spent now: down to the overdraft floor. */
      available: Kopecks;
      spent_today: Kopecks;
      daily_limit: Kopecks | null;
    }
  | { ok: false; reason: TillReason };

export type BanTarget =
  | { kind: 'product'; value: string }
  | { kind: 'category'; value: string }
  | { kind: 'allergen'; value: string };

export interface Ban {
  ban_id: string;
  target: BanTarget;
  /** School time, `HH:MM:SS`; `null`: all day. */
  hours: { from: string; to: string } | null;
}

/** `pupil_canteen`: the parents' bans and limit (and more the till does not show). */
export interface PupilCanteen {
  person_id: string;
  balance: Kopecks;
  daily_limit: Kopecks | null;
  bans: Ban[];
}

export interface BasketLine {
  product_id: string;
  quantity: number;
}

export type MealAnswer =
  | { ok: true; meal_id: string; person_id: string; overridden: TillReason | null; repeated?: boolean }
  | { ok: false; reason: TillReason };

export type SaleAnswer =
  | {
      ok: true;
      sale_id: string;
      person_id: string;
      total: Kopecks;
      lines: { product_id: string; name: string; price: Kopecks; quantity: number }[];
      balance: Kopecks;
    }
  | { ok: false; reason: TillReason; product_id?: string | null };

/** `serve_class`: a class's pupils on today's order, and who has eaten. */
export interface ClassServing {
  date: string;
  class_id: string;
  ordered: number;
  served: number;
  pupils: { person_id: string; full_name: string; complex_id: string; complex: string | null; source: string; served: boolean }[];
}

export function tillPupil(who: TillWho): Promise<TillPupil> {
  return run<TillPupil>({ type: 'till_pupil', ...who });
}

export function serveMeal(mealId: string, who: TillWho, complexId: string, overrideReason?: string): Promise<MealAnswer> {
  return run<MealAnswer>({
    type: 'serve_meal',
    meal_id: mealId,
    ...who,
    complex_id: complexId,
    ...(overrideReason ? { override_reason: overrideReason } : {}),
  });
}

export function sellBasket(saleId: string, who: TillWho, basket: BasketLine[]): Promise<SaleAnswer> {
  return run<SaleAnswer>({ type: 'sell_basket', sale_id: saleId, ...who, basket });
}

export function refundSale(saleId: string, reason: string): Promise<{ balance: Kopecks }> {
  return run<{ balance: Kopecks }>({ type: 'refund_sale', sale_id: saleId, reason });
}

/** Where a receipt went: the canteen's printer, or (with none) a PDF beside the database. */
export interface ReceiptPrinted {
  printer: string | null;
  pdf: string | null;
}

/** Prints a sale's receipt on this workstation's receipt printer (the shell's command). */
export function printReceipt(saleId: string): Promise<ReceiptPrinted> {
  return shellCall<ReceiptPrinted>('print_receipt', { saleId });
}

/** A cashier's shift at this till, as the core reports it (money in kopecks). */
export interface ShiftReport {
  shift_id: string;
  cashier: string;
  opened_at: string;
  closed_at: string | null;
  open: boolean;
  sales: number;
  sold: number;
  refunds: number;
  refunded: number;
  net: number;
  by_category: { category: string; items: number; amount: number }[];
  free_meals: { complex: string; payer: string; served: number; amount: number; overridden: number }[];
}

/** The shift's report (this till's open or last shift) as a PDF beside the database, opened. */
export function shiftReportPdf(shiftId: string | null): Promise<{ path: string }> {
  return shellCall<{ path: string }>('shift_report_pdf', { shiftId });
}

// ─── The canteen's office (СОП): catalogue, benefits, a pupil's account, the meal order ──

export type CanteenSettings = CanteenCatalogue['settings'];
export type BenefitCategory = CanteenCatalogue['benefit_categories'][number];

/** A pupil's benefit grant (`pupil_canteen`); `revoked_at` set once revoked. */
export interface BenefitGrantRow {
  grant_id: string;
  category_id: string;
  valid_from: string;
  valid_to: string;
  document: string;
  revoked_at: string | null;
  revoke_reason: string;
}

export interface PreOrderRow {
  pre_order_id: string;
  complex_id: string;
  date: string;
  price: Kopecks;
  cancelled: boolean;
}

/** `pupil_canteen` in full: what the admin's pupil card shows. */
export interface PupilCanteenRecord extends PupilCanteen {
  grants: BenefitGrantRow[];
  pre_orders: PreOrderRow[];
}

/** A problem of a menu file's row (core `MenuIssue`); `row` counts from 1, 0 for the whole file. */
export interface MenuIssue {
  row: number;
  column: 'name' | 'price' | 'category' | 'allergens' | null;
  code: string;
  value: string;
}

/** `import_day_menu`: the dry run's verdict or the commit's summary. */
export type MenuImport =
  | { ok: true; date: string; items: number; products_created: number; written: boolean }
  | { ok: false; issues?: MenuIssue[]; file_error?: { code: string; column: string | null; message: string } };

/** A class × complex line of the meal order (made, or forecast: no names then). */
export interface MealOrderLine {
  class_id: string;
  class_name?: string;
  complex_id: string;
  complex?: string | null;
  price: Kopecks;
  payer: Payer;
  entitled: number;
  ordered: number;
  saved: Kopecks;
}

export interface MealOrder {
  date: string;
  made: boolean;
  lines: MealOrderLine[];
}

export interface MealsReportLine {
  date: string;
  complex_id: string;
  complex: string | null;
  payer: Payer;
  price: Kopecks;
  entitled: number;
  ordered: number;
  served: number;
  saved: Kopecks;
  ordered_kopecks: Kopecks;
  served_kopecks: Kopecks;
}

export interface MealsReport {
  from: string;
  to: string;
  lines: MealsReportLine[];
  totals: Omit<MealsReportLine, 'date' | 'complex_id' | 'complex' | 'price'>[];
  buffet: { sales: number; sold: Kopecks; refunded: Kopecks; net: Kopecks };
  overrides: {
    meal_id: string;
    date: string;
    at: string;
    person_id: string;
    full_name: string;
    complex_id: string;
    overridden: string;
    reason: string;
  }[];
}

/** Writes the day's meal order as a document (the shell's command) and answers where. */
export function exportMealOrder(date: string, format: 'pdf' | 'xlsx'): Promise<{ path: string }> {
  return shellCall<{ path: string }>('export_meal_order', { date, format });
}

// ─── The central server: enrolment, sync, conflicts ─────────────────────────────────────

/** Where this workstation is enrolled (`sync_status`'s `enrolment`). */
export interface Enrolment {
  server_url: string;
  school_id: string;
  school_name: string;
  enrolled_at: string;
}

/** `sync_status`: standalone (`enrolment: null`) or how the sync with the server goes. */
export interface SyncStatus {
  device_id: string;
  enrolment: Enrolment | null;
  /** The last attempt reached the server and finished. */
  online: boolean;
  last_attempt_at: string | null;
  last_success_at: string | null;
  /** Attempts failed in a row since the last success. */
  failures: number;
  /** The last failure in the system's (English) words; empty when none. */
  last_error: string;
  /** Own events the server does not hold yet. */
  pending: number;
  /** How far this workstation has read the server's events. */
  cursor: number;
  conflicts: number;
  /** Pulled events this version cannot read (a newer one wrote them): kept, not applied. */
  set_aside: number;
}

export type ConflictOutcome = 'ours_stands' | 'theirs_stands' | 'later_stands';

/** One of the two edits of a conflict, as this workstation's journal holds it. */
export interface ConflictSide {
  seq: number;
  origin: string;
  /** Made on this workstation. */
  ours: boolean;
  occurred_at: string;
  actor: string;
  kind: string;
  /** The event without its `kind`, as JSON text. */
  payload: string;
}

/** Two edits of the same master data settled by the server's order (`sync_conflicts`). */
export interface SyncConflict {
  id: number;
  detected_at: string;
  /** What was edited: `product:<uuid>`, `card:<id>`, `menu:2026-11-27`, `access_rules`… */
  key: string;
  outcome: ConflictOutcome;
  winner: ConflictSide;
  loser: ConflictSide;
}

/** The shell's `sync` event after every attempt. */
export interface SyncAttempt {
  ok: boolean;
  pushed: number;
  pulled: number;
  error: string | null;
}

/** Wakes the background sync now («Синхронизировать сейчас»); its `sync` event follows. */
/** A newer build the enrolled server offers (proto `UpdateOffer`). */
export interface UpdateOffer {
  version: string;
  notes: string;
  pub_date?: string;
  url: string;
  signature: string;
}

export interface UpdateCheck {
  current: string;
  /** The server asked; null on a standalone workstation. */
  server: string | null;
  offer: UpdateOffer | null;
}

export function checkUpdate(): Promise<UpdateCheck> {
  return shellCall<UpdateCheck>('check_update');
}

/** Downloads and verifies `version`, drains the outbox, backs up, installs and restarts
 *  (progress as `update_*` stages). */
export function installUpdate(version: string): Promise<void> {
  return shellCall<void>('install_update', { version });
}

export function syncNow(): Promise<void> {
  return shellCall<void>('sync_now');
}

export function onSync(handler: (attempt: SyncAttempt) => void): Promise<UnlistenFn> {
  return listen<SyncAttempt>('sync', (event) => handler(event.payload)).catch(() => () => {});
}
