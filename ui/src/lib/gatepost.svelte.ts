// What the guard's post shares with the rest of the window: the passages the entrance
// readers decided (the shell's `passage` and `passage-outcome` events), newest first, and
// whether the gates stand unlocked for an emergency (`emergency`). The workspace listens
// to passages once for the whole session, so the guard screen, left and opened again,
// still shows a passage that waits for the guard's answer; the window listens to the
// emergency from its start, signed in or not (the fire key needs no one).
import {
  emergencyState,
  onEmergency,
  onFireKeyArmed,
  onPassage,
  onPassageOutcome,
  type EmergencyEvent,
  type Passage,
  type PassageOutcomeEvent,
} from './api';

/** The list keeps as many passages as the core's summary gives (`last_passages`). */
export const RECENT_PASSAGES_MAX = 50;

export const gatepost = $state({
  /** Newest first. */
  recent: [] as Passage[],
  /** Grows with every new passage: the guard screen sounds and shows it. */
  seq: 0,
  /** The passage that arrived last. */
  latestId: null as string | null,
  /** Grows with every outcome: counters refresh. */
  outcomes: 0,
  emergency: false,
  /** The last `emergency` event (which gates took the command). */
  report: null as EmergencyEvent | null,
  /** Until when (ms since the epoch) a second press of the fire key unlocks every gate. */
  fireKeyArmedUntil: 0,
});

/** A passage still waiting for the guard's Enter or Esc. */
export function isAwaiting(p: Passage): boolean {
  return p.awaiting === 'guard' && p.outcome === null;
}

/** Puts a passage (new or updated) into the list, keeping the list's order and bound. */
export function upsertPassage(p: Passage): void {
  const at = gatepost.recent.findIndex((r) => r.passage_id === p.passage_id);
  if (at >= 0) {
    // A list row has no photo: keep the one the event brought.
    const photo = p.person?.photo ?? gatepost.recent[at].person?.photo ?? null;
    gatepost.recent[at] = p.person ? { ...p, person: { ...p.person, photo } } : p;
  } else {
    gatepost.recent = [p, ...gatepost.recent].slice(0, RECENT_PASSAGES_MAX);
  }
}

function applyOutcome(o: PassageOutcomeEvent): void {
  const at = gatepost.recent.findIndex((r) => r.passage_id === o.passage_id);
  if (at >= 0) {
    const p = gatepost.recent[at];
    gatepost.recent[at] = { ...p, outcome: o.outcome, verified_by: o.verified_by ?? p.verified_by, awaiting: null };
  }
  gatepost.outcomes += 1;
}

/**
 * The core's list (after a refresh) replaces ours, except for what only the events
 * brought: photos, the guard's notes, and passages newer than the core's answer.
 */
export function mergeRecent(fromCore: Passage[]): void {
  const known = new Set(fromCore.map((p) => p.passage_id));
  const ours = new Map(gatepost.recent.map((p) => [p.passage_id, p]));
  const newer = gatepost.recent.filter((p) => !known.has(p.passage_id) && (fromCore.length === 0 || p.at > fromCore[0].at));
  const merged = fromCore.map((p) => {
    const mine = ours.get(p.passage_id);
    if (!mine) return p;
    // Our copy may be fresher (an outcome the core had not yet journaled).
    const outcome = p.outcome ?? mine.outcome;
    const person = p.person && mine.person ? { ...p.person, photo: mine.person.photo } : p.person;
    // The guard's note («забыл карту») may come with the event only.
    const note = p.note || mine.note;
    return { ...p, person, outcome, note, awaiting: outcome ? null : p.awaiting };
  });
  gatepost.recent = [...newer, ...merged].slice(0, RECENT_PASSAGES_MAX);
}

/** Starts listening; the returned function stops. */
export function watchGatepost(): () => void {
  let stopped = false;
  const unlisteners: (() => void)[] = [];
  const keep = (u: () => void) => (stopped ? u() : unlisteners.push(u));
  onPassage((p) => {
    upsertPassage(p);
    gatepost.latestId = p.passage_id;
    gatepost.seq += 1;
  }).then(keep);
  onPassageOutcome(applyOutcome).then(keep);
  return () => {
    stopped = true;
    unlisteners.forEach((u) => u());
    gatepost.recent = [];
    gatepost.latestId = null;
  };
}

/** Starts listening to the emergency and the fire key; the returned function stops. */
export function watchEmergency(): () => void {
  let stopped = false;
  const unlisteners: (() => void)[] = [];
  const keep = (u: () => void) => (stopped ? u() : unlisteners.push(u));
  onEmergency((e) => {
    gatepost.emergency = e.active;
    gatepost.report = e;
    if (e.active) gatepost.fireKeyArmedUntil = 0;
  }).then(keep);
  onFireKeyArmed((seconds) => {
    gatepost.fireKeyArmedUntil = Date.now() + seconds * 1000;
  }).then(keep);
  emergencyState().then(
    (active) => {
      if (!stopped) gatepost.emergency = active;
    },
    () => {},
  );
  return () => {
    stopped = true;
    unlisteners.forEach((u) => u());
  };
}
