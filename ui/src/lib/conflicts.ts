// A sync conflict told in words: what was edited (the core's master-data key,
// core/src/sync/keys.rs, as «Товар», «Карта 40:55007EE424», «Меню на 27.11.2026»), and
// each edit's payload read back from its JSON text.
import type { ConflictSide } from './api';
import { formatDate, t, tryT } from './i18n.svelte';

/** Keys whose first part alone names the thing edited (the rest is an id nobody reads). */
const PLAIN_KINDS = ['class', 'guardian', 'product', 'complex', 'benefit_category', 'benefit_grant', 'ban', 'limit'];
/** `person:<id>:<part>` and `staff:<id>:<part>`: the part says which of their data. */
const PERSON_PARTS = ['details', 'class', 'status', 'photo'];
const STAFF_PARTS = ['roles', 'password', 'pin'];

/** What a conflict's key names, in the reader's language; the key itself when unknown. */
export function conflictKeyWords(key: string): string {
  const [kind, ...rest] = key.split(':');
  const tail = rest.join(':');
  if (rest.length === 0) return tryT(`sync.key.${kind}`, key);
  if (PLAIN_KINDS.includes(kind)) return tryT(`sync.key.${kind}`, key);
  if (kind === 'card') return t('sync.key.card', { card: tail });
  if (kind === 'menu') return t('sync.key.menu', { date: formatDate(tail) });
  const part = rest[rest.length - 1];
  if (kind === 'person' && PERSON_PARTS.includes(part)) return tryT(`sync.key.person_${part}`, key);
  if (kind === 'staff' && STAFF_PARTS.includes(part)) return tryT(`sync.key.staff_${part}`, key);
  return key;
}

/** A side's payload as an object (`{}` when its text is not JSON). */
export function payloadOf(side: ConflictSide): unknown {
  try {
    return JSON.parse(side.payload) as unknown;
  } catch {
    return {};
  }
}

/** A side's payload indented for reading; the text as stored when it is not JSON. */
export function formattedPayload(side: ConflictSide): string {
  try {
    return JSON.stringify(JSON.parse(side.payload), null, 2);
  } catch {
    return side.payload;
  }
}

/** A workstation's id shortened for a table: the first block of its UUID. */
export function shortOrigin(origin: string): string {
  const plain = origin.startsWith('device:') ? origin.slice('device:'.length) : origin;
  return plain.split('-')[0].slice(0, 8) || plain;
}
