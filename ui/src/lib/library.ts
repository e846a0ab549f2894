// The library desk's shapes (as core's `workstation/library.rs` answers them) and its
// small words: a copy's state, a date, the age marks and item types a form offers.
import { formatDate, tryT } from './i18n.svelte';

export interface Copy {
  barcode: string;
  location: string;
  item_type: string;
  state: string;
  note: string;
  due: string | null;
  person_id: string | null;
}

export interface Title {
  title_id: string;
  title: string;
  authors: string[];
  isbn: string | null;
  publisher: string | null;
  year: number | null;
  subject: string | null;
  age_mark: string | null;
  copies: Copy[];
}

/** Age marks (436-ФЗ), youngest first, as core `AgeMark` writes them. */
export const AGE_MARKS = ['0+', '6+', '12+', '16+', '18+'] as const;
/** Kinds of copy (core `ItemType`): they set the loan period. */
export const ITEM_TYPES = ['textbook', 'fiction', 'reference', 'other'] as const;

/** A date or an instant as a calendar date in the user's words. */
export function day(value: string | null | undefined): string {
  return value ? formatDate(value.slice(0, 10)) : '';
}

/** «на полке», «выдан», «утерян», «списан». */
export function copyState(state: string): string {
  return tryT(`library.state.${state}`, state);
}

/** «учебник», «художественная», … */
export function itemType(item: string): string {
  return tryT(`library.item.${item}`, item);
}
