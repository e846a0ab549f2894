// The canteen office's arithmetic and words, kept out of the screens: roubles typed as
// «45,50» to whole kopecks and back, the meals and payers in order, a class × complex
// table of the meal order, a menu file's row problem in a sentence.
import type { Kopecks, MealKind, MealOrderLine, MenuIssue, Payer } from './api';
import { t, tryT } from './i18n.svelte';

export const MEALS: MealKind[] = ['breakfast', 'lunch', 'afternoon_snack'];
export const PAYERS: Payer[] = ['municipal', 'regional', 'parents'];
/** The dearest price or single top-up the core takes (core `AMOUNT_MAX_KOPECKS`). */
export const AMOUNT_MAX_KOPECKS = 10_000_000;
/** Grades of the school (core `GRADE_MIN`, `GRADE_MAX`). */
export const GRADE_MIN = 1;
export const GRADE_MAX = 11;

/**
 * «45,50», «45.5», «45», «1 234,50» → kopecks; `null` when it is no amount. `signed`
 * allows a leading minus (a correction takes money off).
 */
export function parseRubles(text: string, signed = false): Kopecks | null {
  const s = text.replace(/[\s\u00a0₽]|руб\.?/g, '').replace('−', '-');
  const m = (signed ? /^(-?)(\d{1,9})(?:[.,](\d{1,2}))?$/ : /^()(\d{1,9})(?:[.,](\d{1,2}))?$/).exec(s);
  if (!m) return null;
  const kopecks = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -kopecks : kopecks;
}

/** Kopecks as typed back into a field: «45,50» (no sign of the currency). */
export function rublesField(kopecks: Kopecks): string {
  const sign = kopecks < 0 ? '-' : '';
  const abs = Math.abs(kopecks);
  return `${sign}${Math.floor(abs / 100)},${String(abs % 100).padStart(2, '0')}`;
}

/** `HH:MM:SS` or `HH:MM` → `HH:MM` for a field. */
export function hhmm(time: string): string {
  return time.slice(0, 5);
}

/** `ЧЧ:ММ` typed → `HH:MM:00` for the core; `null` when it is no time of day. */
export function parseHhmm(text: string): string | null {
  const m = /^(\d{1,2})[:.](\d{2})$/.exec(text.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return null;
  return `${m[1].padStart(2, '0')}:${m[2]}:00`;
}

export function mealName(meal: MealKind): string {
  return t(`canteen.meal.${meal}`);
}

export function payerName(payer: string): string {
  return tryT(`canteen.payer.${payer}`, payer);
}

/** A menu file's problem in words: «Строка 4, цена: «сорок» — не читается как цена». */
export function menuIssueText(issue: MenuIssue): string {
  const what = tryT(`canteen.import.issue.${issue.code}`, issue.code);
  // Row 0: the file as a whole (no header row, too many rows).
  if (issue.row === 0) return what;
  const column = issue.column ? tryT(`canteen.import.column.${issue.column}`, issue.column) : '';
  return t('canteen.import.issue_line', { row: issue.row, column, value: issue.value, what });
}

/** The order's lines by class, in the order given, each with its lines per complex. */
export function byClass(lines: MealOrderLine[]): { class_id: string; class_name: string; lines: MealOrderLine[] }[] {
  const groups = new Map<string, { class_id: string; class_name: string; lines: MealOrderLine[] }>();
  for (const line of lines) {
    let group = groups.get(line.class_id);
    if (!group) {
      group = { class_id: line.class_id, class_name: line.class_name ?? line.class_id, lines: [] };
      groups.set(line.class_id, group);
    }
    group.lines.push(line);
  }
  return [...groups.values()];
}

/** Entitled, ordered and saved over lines, per payer (budget payers first). */
export function totalsByPayer(lines: MealOrderLine[]): { payer: Payer; entitled: number; ordered: number; saved: Kopecks }[] {
  return PAYERS.map((payer) => {
    const mine = lines.filter((l) => l.payer === payer);
    return {
      payer,
      entitled: mine.reduce((s, l) => s + l.entitled, 0),
      ordered: mine.reduce((s, l) => s + l.ordered, 0),
      saved: mine.reduce((s, l) => s + l.saved, 0),
    };
  }).filter((row) => row.entitled > 0 || row.ordered > 0);
}
