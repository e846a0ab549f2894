// The access rules (`schoolcard_core::access::AccessRules`) as their JSON crosses the
// boundary: dates `YYYY-MM-DD`, times `HH:MM:SS`, enums snake_case. The «Правила доступа»
// screen edits this shape and saves it whole (`configure_access_rules`); the core checks
// it (`AccessRules::problems`) and names the first problem by a path into this JSON.
import type { Role } from './api';

export interface GradeBand {
  first: number;
  last: number;
}
export type WeekPattern = 'five_day' | 'six_day';
export const WEEK_PATTERNS: WeekPattern[] = ['five_day', 'six_day'];

export interface SchoolCalendar {
  first_day: string;
  last_day: string;
  pupil_week: WeekPattern;
  grade_weeks: { grades: GradeBand; week: WeekPattern }[];
  staff_week: WeekPattern;
  holidays: { date: string; name: string }[];
  vacations: { name: string; first: string; last: string; grades: GradeBand | null }[];
  shortened_days: string[];
  working_weekends: string[];
}

export type Shift = 'first' | 'second';
export const SHIFTS: Shift[] = ['first', 'second'];
export interface Lesson {
  start: string;
  end: string;
}
export interface ShiftBells {
  lessons: Lesson[];
  /** Empty: a shortened day keeps the full bells. */
  shortened: Lesson[];
}
export interface BellSchedule {
  first_shift: ShiftBells;
  /** `null`: one shift. */
  second_shift: ShiftBells | null;
  grades: { grades: GradeBand; shift: Shift; lessons_per_day: number }[];
  classes: { class_id: string; shift: Shift | null; lessons_per_day: number | null }[];
}

export type WindowDays = 'school_days' | 'every_day';
export const WINDOW_DAYS: WindowDays[] = ['school_days', 'every_day'];
/** `from` inclusive, `to` exclusive; `from > to` wraps past midnight; `from == to`: all day. */
export interface AccessWindow {
  from: string;
  to: string;
  days: WindowDays;
}
export type PassbackMode = 'strict' | 'soft' | 'off';
export const PASSBACK_MODES: PassbackMode[] = ['strict', 'soft', 'off'];

export interface AccessPolicy {
  pupils: AccessWindow;
  grade_windows: { grades: GradeBand; window: AccessWindow }[];
  class_windows: { class_id: string; window: AccessWindow }[];
  staff: AccessWindow;
  role_windows: { role: Role; window: AccessWindow }[];
  /** `null`: a guardian's card does not open the door. */
  guardians: AccessWindow | null;
  anti_passback: {
    mode: PassbackMode;
    zones: { zone: string; mode: PassbackMode }[];
    reset_at_midnight: boolean;
    forgive_after_minutes: number | null;
  };
  no_leaving: { grades: GradeBand; breaks_too: boolean }[];
  attendance: { late_grace_minutes: number; early_leave_grace_minutes: number };
}

export interface AccessRules {
  calendar: SchoolCalendar;
  bells: BellSchedule;
  policy: AccessPolicy;
}

export interface RulesAnswer {
  rules: AccessRules;
  /** `false`: nobody saved rules yet, these are the defaults for this school year. */
  configured: boolean;
}

/** The rules' problem codes (`ProblemCode`), each with a sentence `access.problem.<code>`. */
export const PROBLEM_CODES = ['range_reversed', 'lessons_overlap', 'bad_grade_band', 'too_many', 'no_lessons'] as const;

/** A grade's lesson count when a band is added: the most SanPiN allows in grades 2–4. */
export const LESSONS_PER_DAY_NEW = 5;
/** A lesson added after the last one starts this many minutes after it ends (a break). */
export const BREAK_NEW_MINUTES = 10;
/** …and lasts as long as the last one (or this long, for the first lesson of a shift). */
export const LESSON_NEW_MINUTES = 40;
/** A new access window: the pupils' default hours (07:30–18:00, school days). */
export const WINDOW_NEW: AccessWindow = { from: '07:30:00', to: '18:00:00', days: 'school_days' };

/** `HH:MM[:SS]` → minutes after midnight. */
export function minutesOf(time: string): number {
  const [h, m] = time.split(':').map(Number);
  return (h || 0) * 60 + (m || 0);
}

/** Minutes after midnight (wrapping) → `HH:MM:00`. */
export function timeOf(minutes: number): string {
  const day = 24 * 60;
  const m = ((minutes % day) + day) % day;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}:00`;
}

/** The lesson that follows `lessons`: after a break, as long as the last one. */
export function nextLesson(lessons: Lesson[]): Lesson {
  const last = lessons.at(-1);
  if (!last) return { start: '08:30:00', end: timeOf(minutesOf('08:30') + LESSON_NEW_MINUTES) };
  const length = Math.max(minutesOf(last.end) - minutesOf(last.start), 1);
  const start = minutesOf(last.end) + BREAK_NEW_MINUTES;
  return { start: timeOf(start), end: timeOf(start + length) };
}

/** One step of a problem's path: a field's name, or a list's index (from 0). */
export type PathStep = { field: string } | { index: number };

/**
 * A problem's `at` as steps: `bells.first_shift.lessons[3]` → first_shift, lessons, #3.
 * A bad grade band is named by its list and the band (`calendar.grade_weeks: 5–3`): the
 * band is returned apart, to find its row by.
 */
export function parsePath(at: string): { steps: PathStep[]; band: GradeBand | null } {
  const [path, bandText] = at.split(': ');
  const steps: PathStep[] = [];
  for (const part of path.split('.')) {
    const m = /^([a-z_]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) return { steps: [], band: null };
    steps.push({ field: m[1] });
    for (const index of m[2].matchAll(/\[(\d+)\]/g)) steps.push({ index: Number(index[1]) });
  }
  const band = bandText ? /^(\d+)\D+(\d+)$/.exec(bandText.trim()) : null;
  return { steps, band: band ? { first: Number(band[1]), last: Number(band[2]) } : null };
}

/**
 * The row (or field) a problem points at, as the screen's `data-path`: the path itself,
 * or for a bad grade band the first row of its list holding that band.
 */
export function problemRow(rules: AccessRules, at: string): string {
  const { steps, band } = parsePath(at);
  const path = at.split(': ')[0];
  if (!band) return path;
  const list = steps.reduce<unknown>(
    (node, step) => ('field' in step && node && typeof node === 'object' ? (node as Record<string, unknown>)[step.field] : undefined),
    rules,
  );
  if (!Array.isArray(list)) return path;
  const index = list.findIndex((item) => {
    const g = (item as { grades?: GradeBand | null }).grades;
    return g && g.first === band.first && g.last === band.last;
  });
  return index < 0 ? path : `${path}[${index}]`;
}
