// The last card presented to any of this workstation's readers, with its holder: the
// workspace listens to the shell's `card-read` events once, looks each card up, and the
// banner and the Devices screen's check panel both show the same answer.
import { onCardRead, run, type CardRead, type Lookup } from './api';

export interface Presented {
  /** Grows with every read: a screen reacts to a new read even of the same card. */
  seq: number;
  read: CardRead;
  /** The holder, or `known: false`; `null` when the lookup itself failed. */
  lookup: Lookup | null;
  error: unknown;
}

export const presented = $state({ last: null as Presented | null });

let seq = 0;

/** Starts listening; the returned function stops. */
export function watchCardReads(): () => void {
  let stopped = false;
  let unlisten: (() => void) | null = null;
  onCardRead(async (read) => {
    const mine = ++seq;
    let lookup: Lookup | null = null;
    let error: unknown = null;
    try {
      lookup = await run<Lookup>({ type: 'lookup_card', card: read.card });
    } catch (e) {
      error = e;
    }
    // A later card that was looked up faster wins: the screen shows the newest read.
    if (!stopped && (presented.last === null || presented.last.seq < mine)) {
      presented.last = { seq: mine, read, lookup, error };
    }
  }).then((u) => {
    if (stopped) u();
    else unlisten = u;
  });
  return () => {
    stopped = true;
    unlisten?.();
    presented.last = null;
  };
}
