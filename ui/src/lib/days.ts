// Calendar days and wall-clock times in the school's time zone, for the screens that ask
// for a day (`YYYY-MM-DD`) or turn a typed day and time into an instant.

/** The parts of `at` on the school's wall clock. */
function wallClock(at: Date, timeZone?: string): { y: number; mo: number; d: number; h: number; mi: number } {
  // By parts: a web view without a locale's data formats `en-CA` as `11/27/2026`.
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? '0');
  return { y: part('year'), mo: part('month'), d: part('day'), h: part('hour'), mi: part('minute') };
}

/** The day of `at` (now by default) in the school's zone, as `YYYY-MM-DD`. */
export function schoolDay(timeZone?: string, at: Date = new Date()): string {
  const w = wallClock(at, timeZone);
  return `${String(w.y).padStart(4, '0')}-${String(w.mo).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
}

/** `ДД.ММ.ГГГГ` (or `ДД/ММ/ГГГГ`, or ISO) → `YYYY-MM-DD`; `null` when it is no date. */
export function parseDay(text: string): string | null {
  const s = text.trim();
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  const [y, mo, d] = m ? [m[1], m[2], m[3]] : (m = /^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$/.exec(s)) ? [m[3], m[2], m[1]] : [];
  if (!y || !mo || !d) return null;
  const iso = `${y}-${mo.padStart(2, '0')}-${d.padStart(2, '0')}`;
  const check = new Date(`${iso}T12:00:00Z`);
  return Number.isNaN(check.getTime()) || check.toISOString().slice(0, 10) !== iso ? null : iso;
}

/** `ЧЧ:ММ` → minutes after midnight; `null` when it is no time of day. */
export function parseTimeOfDay(text: string): number | null {
  const m = /^(\d{1,2})[:.](\d{2})$/.exec(text.trim());
  if (!m) return null;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  return h < 24 && mi < 60 ? h * 60 + mi : null;
}

/** The day `days` after `day` (before, for a negative number). */
export function shiftDay(day: string, days: number): string {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * The instant when the school's clock shows `minutes` after midnight of `day`. The zone's
 * offset is read at a first guess and the guess corrected once (twice near a change of
 * offset is still exact for every zone with whole-minute offsets).
 */
export function schoolInstant(day: string, minutes: number, timeZone?: string): Date {
  const [y, mo, d] = day.split('-').map(Number);
  const wanted = Date.UTC(y, mo - 1, d, 0, minutes);
  let guess = wanted;
  for (let round = 0; round < 2; round++) {
    const w = wallClock(new Date(guess), timeZone);
    const shown = Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi);
    guess += wanted - shown;
  }
  return new Date(guess);
}
