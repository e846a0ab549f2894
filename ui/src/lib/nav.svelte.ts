// A screen asking the workspace to open another section (the guard's post opens the
// roll-call in «Кто в здании»). The workspace watches `seq`; the section opened reads
// `intent` once on mount and clears it.
import type { SectionId } from './sections';

export type Intent = 'roll_call' | null;

export const nav = $state({
  seq: 0,
  section: null as SectionId | null,
  intent: null as Intent,
});

export function openSection(section: SectionId, intent: Intent = null): void {
  nav.section = section;
  nav.intent = intent;
  nav.seq += 1;
}

/** The intent left for the section now opening, read once. */
export function takeIntent(): Intent {
  const intent = nav.intent;
  nav.intent = null;
  return intent;
}
