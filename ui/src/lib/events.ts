// A journal event's payload told in a line a person reads: names, classes, cards and
// states instead of JSON with ids. Secrets' hashes are never shown.
import { currentLang, formatDateTime, t, tryT } from './i18n.svelte';
import { rubles } from './till';

type Payload = Record<string, unknown>;

function fullName(v: unknown): string {
  if (!v || typeof v !== 'object') return '';
  const n = v as { surname?: string; name?: string; patronymic?: string };
  return [n.surname, n.name, n.patronymic].filter(Boolean).join(' ');
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v);
}

export function describePayload(kind: string, payload: unknown, timeZone?: string): string {
  const p = (payload && typeof payload === 'object' ? payload : {}) as Payload;
  const parts: string[] = [];
  const push = (s: string) => {
    if (s.trim()) parts.push(s.trim());
  };
  switch (kind) {
    case 'school_configured':
      push(str(p.name));
      push(str(p.time_zone));
      break;
    case 'class_created':
    case 'class_renamed':
      push(`${str(p.grade)}${str(p.letter)}`);
      break;
    case 'person_enrolled':
      push(fullName(p.name));
      if (p.person_kind) push(tryT(`kind.${str(p.person_kind)}`, str(p.person_kind)));
      break;
    case 'person_updated':
      push(fullName(p.name));
      break;
    case 'person_status_changed':
      push(tryT(`status.${str(p.status)}`, str(p.status)));
      push(str(p.reason));
      break;
    case 'guardian_linked':
      push(str(p.relation));
      break;
    case 'card_bound':
      push(str(p.raw) || str(p.card));
      break;
    case 'card_state_changed':
      push(str(p.card));
      push(tryT(`card_state.${str(p.state)}`, str(p.state)));
      push(str(p.reason));
      break;
    case 'staff_account_opened':
      push(str(p.login));
      break;
    case 'staff_roles_set':
      push((Array.isArray(p.roles) ? p.roles : []).map((r) => tryT(`role.${str(r)}`, str(r))).join(', '));
      break;
    case 'signed_in':
      push(p.method === 'card_and_pin' ? t('signin.by_card') : t('signin.by_password'));
      break;
    case 'sign_in_failed':
      push(str(p.attempted));
      push(tryT(`failure.${str(p.reason)}`, str(p.reason)));
      break;
    case 'account_locked':
      if (typeof p.until === 'string') push(t('staff.locked_until', { time: formatDateTime(p.until, timeZone, false) }));
      break;
    case 'peripheral_configured': {
      const spec = (p.spec && typeof p.spec === 'object' ? p.spec : {}) as Payload;
      const connection = (spec.connection && typeof spec.connection === 'object' ? spec.connection : {}) as Payload;
      push(str(spec.name));
      if (connection.type) push(tryT(`device_kind.${str(connection.type)}`, str(connection.type)));
      if (spec.post) push(tryT(`post.${str(spec.post)}`, str(spec.post)));
      if (typeof connection.port === 'string') push(connection.port);
      if (spec.enabled === false) push(t('device_state.disabled'));
      break;
    }
    case 'workstation_post_set':
      push(str(p.name));
      push(tryT(`post.${str(p.post)}`, str(p.post)));
      break;
    case 'gate_opened_by_hand':
      push(tryT(`direction.${str(p.direction)}`, str(p.direction)));
      break;
    case 'roster_imported':
      push(str(p.file_name));
      push(t('journal.roster_counts', { rows: str(p.rows), created: str(p.created), updated: str(p.updated) }));
      break;
    // The canteen: money in kopecks on the wire, rubles to read.
    case 'sale_made':
      if (Array.isArray(p.lines)) {
        push((p.lines as Payload[]).map((l) => `${str(l.name)} × ${str(l.quantity)}`).join(', '));
      }
      if (typeof p.total === 'number') push(rubles(p.total));
      break;
    case 'sale_refunded':
    case 'balance_topped_up':
    case 'balance_corrected':
      if (typeof p.amount === 'number') push(rubles(p.amount));
      push(str(p.reason) || str(p.note));
      break;
    case 'meal_served':
      if (p.overridden) push(`${tryT(`till.reason.${str(p.overridden)}`, str(p.overridden))}: ${str(p.reason)}`);
      break;
    case 'product_saved':
    case 'complex_saved':
    case 'benefit_category_saved':
      push(str(((p.product ?? p.complex ?? p.category) as Payload | undefined)?.name));
      break;
    // The library: the copy's number, and the book or the reminder's days.
    case 'catalogue_imported':
      push(str(p.file_name));
      push(t('journal.catalogue_counts', { titles: str(p.titles), copies: str(p.copies) }));
      break;
    case 'book_title_saved':
      push(str((p.title as Payload | undefined)?.title));
      break;
    case 'book_copy_added':
      push(str((p.copy as Payload | undefined)?.barcode));
      break;
    case 'book_issued':
    case 'book_returned':
    case 'book_copy_state_changed':
      push(str(p.barcode));
      push(str(p.note));
      break;
    case 'book_overdue_notice':
      push(`${str(p.barcode)} «${str(p.title)}»`);
      push(t('journal.overdue_days', { days: str(p.days_overdue) }));
      break;
    // A restore: the backup, and the last event it held.
    case 'backup_restored':
      push(str(p.file));
      if (typeof p.last_event_at === 'string') push(t('backups.last_event', { when: formatDateTime(p.last_event_at, timeZone) }));
      break;
    default:
      break;
  }
  void currentLang();
  return parts.join(' · ');
}
