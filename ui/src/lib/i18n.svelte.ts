// The message catalogue in use. `t(key)` reads the current language, so a template that
// calls it re-renders when the language changes. Russian is the default; the choice is
// remembered on this workstation unless the shell was started with `--lang`.
import { ru, type Key, type PluralKey, type Plural } from '../i18n/ru';
import { en } from '../i18n/en';
import { CommandError } from './api';
import { parsePath } from './rules';

export type Lang = 'ru' | 'en';
const CATALOGUES = { ru, en } as const;
const STORAGE_KEY = 'schoolcard.lang';
/** Dates and times: English screens still use the day-first, 24-hour clock of the school. */
const LOCALES: Record<Lang, string> = { ru: 'ru-RU', en: 'en-GB' };

const state = $state({ lang: 'ru' as Lang });

export function currentLang(): Lang {
  return state.lang;
}

export function setLang(lang: Lang, remember = true): void {
  state.lang = lang;
  document.documentElement.lang = lang;
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, lang);
    } catch {
      /* storage may be unavailable; the choice then lasts this session */
    }
  }
}

export function rememberedLang(): Lang | null {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === 'ru' || v === 'en' ? v : null;
  } catch {
    return null;
  }
}

function fill(template: string, params?: Record<string, string | number>): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

export function t(key: Key, params?: Record<string, string | number>): string {
  const message = CATALOGUES[state.lang][key] as string | Plural;
  return fill(typeof message === 'string' ? message : message.other, params);
}

/** A message that agrees with a number: «1 ученик», «3 ученика», «5 учеников». */
export function tn(key: PluralKey, n: number, params?: Record<string, string | number>): string {
  const forms = CATALOGUES[state.lang][key] as Plural;
  const category = new Intl.PluralRules(state.lang).select(n) as keyof Plural;
  const template = forms[category] ?? forms.other;
  return fill(template, { n: n.toLocaleString(LOCALES[state.lang]), ...params });
}

/** Does the catalogue know this key? (For codes that arrive from the core as strings.) */
export function has(key: string): key is Key {
  return key in CATALOGUES[state.lang];
}

export function tryT(key: string, fallback: string, params?: Record<string, string | number>): string {
  return has(key) ? t(key, params) : fallback;
}

/** A number as the reader writes it: «1 428» in Russian, "1,428" in English. */
export function num(n: number): string {
  return n.toLocaleString(LOCALES[state.lang]);
}

/** A time of day in the school's zone: «locked until 10:45». */
export function formatTime(iso: string | Date, timeZone?: string): string {
  return new Intl.DateTimeFormat(LOCALES[state.lang], { hour: '2-digit', minute: '2-digit', timeZone }).format(new Date(iso));
}

/** A recent instant to the second: «10:45:07» today, with the date on other days. */
export function formatRecent(iso: string, timeZone?: string, now: Date = new Date()): string {
  const day = (d: Date) => new Intl.DateTimeFormat('en-CA', { timeZone }).format(d);
  if (day(new Date(iso)) !== day(now)) return formatDateTime(iso, timeZone);
  return new Intl.DateTimeFormat(LOCALES[state.lang], { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone }).format(
    new Date(iso),
  );
}

export function formatDateTime(iso: string, timeZone?: string, seconds = true): string {
  return new Intl.DateTimeFormat(LOCALES[state.lang], {
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: seconds ? '2-digit' : undefined,
    timeZone,
  }).format(new Date(iso));
}

export function formatDate(isoDate: string): string {
  // A calendar date (no instant): printed as it is, in the reader's order.
  const [y, m, d] = isoDate.split('-');
  if (!y || !m || !d) return isoDate;
  return state.lang === 'ru' ? `${d}.${m}.${y}` : `${d}/${m}/${y}`;
}

/** «Нет обязательного столбца» inside a sentence: «…: нет обязательного столбца». */
function lowerFirst(text: string): string {
  return text.charAt(0).toLocaleLowerCase(LOCALES[state.lang]) + text.slice(1);
}

/** Params that hold counts: printed as the reader writes numbers. */
const NUMBER_PARAMS = ['min', 'max', 'rows', 'error_rows', 'first_row', 'pupils', 'max_mib'];

/** A refusal's values in the user's words: codes among them are translated too. */
function localParams(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...params };
  if (params.state) out.state = lowerFirst(tryT(`card_state.${params.state}`, params.state));
  if (params.copy_state) out.copy_state = tryT(`library.state.${params.copy_state}`, params.copy_state);
  if (params.expected) out.expected = lowerFirst(tryT(`kind.${params.expected}`, params.expected));
  // A gate's refusal names the rule's reason code (`not_overridable`).
  if (params.reason) out.reason = lowerFirst(tryT(`access.reason.${params.reason}`, params.reason));
  for (const key of ['issue', 'first_issue']) {
    if (params[key]) out[key] = lowerFirst(tryT(`reason.${params[key]}`, params[key]));
  }
  // The access rules' problem and where it is (`bells.first_shift.lessons[3]`).
  if (params.problem) out.problem = tryT(`access.problem.${params.problem}`, params.problem);
  if (params.at) out.at = rulesPathWords(params.at);
  for (const key of NUMBER_PARAMS) {
    if (params[key] && /^\d+$/.test(params[key])) out[key] = num(Number(params[key]));
  }
  return out;
}

/** A path into the access rules in words: «Звонки → первая смена → обычный день → урок 4». */
export function rulesPathWords(at: string): string {
  const { steps, band } = parsePath(at);
  if (steps.length === 0) return at;
  const words: string[] = [];
  let previous = '';
  for (const step of steps) {
    if ('field' in step) {
      words.push(tryT(`access.path.${step.field}`, step.field));
      previous = step.field;
    } else {
      const lesson = previous === 'lessons' || previous === 'shortened';
      words.push(t(lesson ? 'access.path.lesson' : 'access.path.row', { n: step.index + 1 }));
    }
  }
  return words.join(' → ') + (band ? ` (${band.first}–${band.last})` : '');
}

/**
 * What to tell the user about a failed command: a whole sentence for a refusal the
 * catalogue knows (`refusal.<reason>`, filled with the error's values and the field's
 * name on this screen); otherwise the translated kind, with the core's own words (in
 * English) as the detail.
 */
export function describeError(
  e: unknown,
  timeZone?: string,
  fieldLabels?: Record<string, string>,
): { text: string; detail: string | null } {
  const err = e instanceof CommandError ? e : new CommandError('internal', String(e));
  const field = err.field ? (fieldLabels?.[err.field] ?? tryT(`field.${err.field}`, err.field)) : '';
  if (err.reason && has(`refusal.${err.reason}`)) {
    // The field's name on this screen wins over a `field` value the core sends as a code.
    const params = localParams(err.params);
    return { text: t(`refusal.${err.reason}` as Key, { ...params, field: field || params.field || '' }), detail: null };
  }
  let text: string;
  if (err.code === 'account_locked' && err.until) {
    text = t('error.account_locked_until', { time: formatTime(err.until, timeZone) });
  } else if (err.code === 'invalid' && err.field) {
    text = t('error.invalid_field', { field });
  } else {
    text = tryT(`error.${err.code}`, t('error.unknown'), localParams(err.params));
  }
  const detail = ['wrong_credentials', 'account_locked', 'not_signed_in'].includes(err.code) ? null : err.message;
  return { text, detail };
}
