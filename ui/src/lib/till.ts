// The till's arithmetic and words, kept out of the screens: money in roubles, the basket
// (lines, total, the sale id it is paid under), which of the day's products the parents'
// bans stop now, and a refusal in a whole sentence.
import type { Ban, DayMenuItem, Kopecks, Product, TillReason } from './api';
import { currentLang, t, tryT } from './i18n.svelte';

/** Pieces of one product in one basket (core `QUANTITY_MAX`): a tray, not a warehouse. */
export const QUANTITY_MAX = 20;
/** Lines in one basket (core `BASKET_LINES_MAX`). */
export const BASKET_LINES_MAX = 30;
/** Menu tiles reached by a digit key: 1…9. */
export const TILE_SHORTCUTS_MAX = 9;
/** Free meals reached by a function key: F1…F4 (F5 and up are the till's other keys). */
export const MEAL_SHORTCUTS_MAX = 4;

/** «1 234,50 ₽» (Russian) or "RUB 1,234.50" (English); kopecks only, never floats in sums. */
export function rubles(kopecks: Kopecks): string {
  const lang = currentLang();
  const sign = kopecks < 0 ? '−' : '';
  const abs = Math.abs(kopecks);
  const whole = Math.floor(abs / 100).toLocaleString(lang === 'ru' ? 'ru-RU' : 'en-GB');
  const cents = String(abs % 100).padStart(2, '0');
  return lang === 'ru' ? `${sign}${whole},${cents}\u00a0₽` : `${sign}₽${whole}.${cents}`;
}

export interface Line {
  product_id: string;
  name: string;
  price: Kopecks;
  quantity: number;
}

/** The basket: its lines in the order rung up, and the id it will be paid under. */
export interface Basket {
  /** Made once per basket: a retry (a lost answer, a double press) is never charged twice. */
  sale_id: string;
  lines: Line[];
}

export function newBasket(): Basket {
  return { sale_id: crypto.randomUUID(), lines: [] };
}

export function basketTotal(basket: Basket): Kopecks {
  return basket.lines.reduce((sum, l) => sum + l.price * l.quantity, 0);
}

/** One more of `item` (a new line at the end, or the line's quantity up to the most). */
export function addOne(basket: Basket, item: DayMenuItem): Basket {
  const at = basket.lines.findIndex((l) => l.product_id === item.product_id);
  if (at >= 0) return changeQuantity(basket, item.product_id, +1);
  if (basket.lines.length >= BASKET_LINES_MAX) return basket;
  return { ...basket, lines: [...basket.lines, { product_id: item.product_id, name: item.name, price: item.price, quantity: 1 }] };
}

/** `by` more (or fewer) of a line; a line at 0 leaves the basket. */
export function changeQuantity(basket: Basket, productId: string, by: number): Basket {
  const lines = basket.lines
    .map((l) => (l.product_id === productId ? { ...l, quantity: Math.min(QUANTITY_MAX, l.quantity + by) } : l))
    .filter((l) => l.quantity > 0);
  return { ...basket, lines };
}

/** `HH:MM:SS` or `HH:MM` → minutes after midnight. */
function minutes(time: string): number {
  const [h, m] = time.split(':').map(Number);
  return h * 60 + m;
}

/** Does a ban hold at `nowMinutes` (school time)? `from` included, `to` excluded; over midnight too. */
export function banHoldsAt(ban: Ban, nowMinutes: number): boolean {
  if (!ban.hours) return true;
  const from = minutes(ban.hours.from);
  const to = minutes(ban.hours.to);
  return from <= to ? nowMinutes >= from && nowMinutes < to : nowMinutes >= from || nowMinutes < to;
}

/** The school's time now, in minutes after midnight. */
export function schoolMinutesNow(timeZone: string | undefined, now: Date = new Date()): number {
  const parts = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone }).formatToParts(now);
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
  return hour * 60 + minute;
}

/** The refusal a menu item would meet from the bans holding now (the core's order: product, category, allergen). */
export function banOf(item: DayMenuItem, bans: Ban[], nowMinutes: number): TillReason | null {
  for (const ban of bans) {
    if (!banHoldsAt(ban, nowMinutes)) continue;
    const target = ban.target;
    if (target.kind === 'product' && target.value === item.product_id) return 'product_banned';
    if (target.kind === 'category' && target.value.toLowerCase() === item.category.toLowerCase()) return 'category_banned';
    if (target.kind === 'allergen' && item.allergens.includes(target.value)) return 'allergen_banned';
  }
  return null;
}

/** An allergen's name: one of the 14 common ones in words, a custom one as the school wrote it. */
export function allergenName(tag: string): string {
  return tryT(`till.allergen.${tag}`, tag);
}

/** A ban in words: «Шоколадный батончик», «категория «сладости»», «аллерген: арахис», with its hours. */
export function banText(ban: Ban, products: Product[]): string {
  const target = ban.target;
  let what: string;
  if (target.kind === 'product') what = products.find((p) => p.product_id === target.value)?.name ?? target.value;
  else if (target.kind === 'category') what = t('till.ban.category', { category: target.value });
  else what = t('till.ban.allergen', { allergen: allergenName(target.value) });
  return ban.hours ? t('till.ban.hours', { what, from: ban.hours.from.slice(0, 5), to: ban.hours.to.slice(0, 5) }) : what;
}

/** A till's refusal as a sentence; `product` names what a ban stopped. */
export function reasonText(reason: string, product?: string): string {
  return tryT(`till.reason.${reason}`, reason, { product: product ?? '' });
}
