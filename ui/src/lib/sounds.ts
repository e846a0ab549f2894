// The guard's ear: a short tone for each verdict, made in code with the Web Audio API (no
// sound files). Soft waveforms and mid frequencies, under half a second each: heard across
// a lobby, not shrill. Muting is remembered on this workstation.

export type Cue = 'allow' | 'deny' | 'unknown' | 'blocked' | 'confirm';

const STORAGE_KEY = 'schoolcard.guard.muted';
/** Loud enough over a corridor's noise, well under clipping. */
const GAIN_PEAK = 0.28;
/** Attack and release of each note, so no note clicks. */
const EDGE_S = 0.012;

/** A note: frequency in Hz, start and length in seconds from the cue's start. */
type Note = { hz: number; at_s: number; len_s: number };

const CUES: Record<Cue, { wave: OscillatorType; notes: Note[] }> = {
  // Rising major third: «go ahead».
  allow: { wave: 'sine', notes: [{ hz: 660, at_s: 0, len_s: 0.11 }, { hz: 880, at_s: 0.12, len_s: 0.16 }] },
  // Falling fourth, lower and rounder: «no».
  deny: { wave: 'triangle', notes: [{ hz: 392, at_s: 0, len_s: 0.16 }, { hz: 294, at_s: 0.18, len_s: 0.24 }] },
  // Three quick low pips: «who is this?».
  unknown: {
    wave: 'triangle',
    notes: [{ hz: 330, at_s: 0, len_s: 0.08 }, { hz: 330, at_s: 0.12, len_s: 0.08 }, { hz: 330, at_s: 0.24, len_s: 0.08 }],
  },
  // One long low note: a card that must be taken away.
  blocked: { wave: 'sawtooth', notes: [{ hz: 220, at_s: 0, len_s: 0.45 }] },
  // A doorbell: «look at the screen and answer».
  confirm: { wave: 'sine', notes: [{ hz: 784, at_s: 0, len_s: 0.14 }, { hz: 622, at_s: 0.16, len_s: 0.22 }] },
};

let context: AudioContext | null = null;

export function isMuted(): boolean {
  try {
    return localStorage.getItem(STORAGE_KEY) === '1';
  } catch {
    return false;
  }
}

export function setMuted(muted: boolean): void {
  try {
    localStorage.setItem(STORAGE_KEY, muted ? '1' : '0');
  } catch {
    /* storage unavailable: the choice lasts this session only through the caller's state */
  }
}

export function play(cue: Cue): void {
  if (isMuted()) return;
  try {
    context ??= new AudioContext();
    if (context.state === 'suspended') void context.resume();
    const ctx = context;
    const { wave, notes } = CUES[cue];
    const start = ctx.currentTime + 0.01;
    for (const n of notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = wave;
      osc.frequency.value = n.hz;
      // A sawtooth is harsher: played quieter.
      const peak = wave === 'sawtooth' ? GAIN_PEAK * 0.5 : GAIN_PEAK;
      const t0 = start + n.at_s;
      const t1 = t0 + n.len_s;
      gain.gain.setValueAtTime(0, t0);
      gain.gain.linearRampToValueAtTime(peak, t0 + EDGE_S);
      gain.gain.setValueAtTime(peak, t1 - EDGE_S);
      gain.gain.linearRampToValueAtTime(0, t1);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t1 + 0.02);
    }
  } catch {
    /* no audio device (a server, a test under Xvfb): the screen still says it all */
  }
}
