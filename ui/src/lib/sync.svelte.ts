// How this workstation's sync with the central server stands, shared by the top bar's
// indicator and the «Сервер» section: the workspace watches it once (the shell's `sync`
// event after every attempt, and a poll for what changes between attempts — events
// written here raise the unsent count), screens read it and refresh it after their own
// commands.
import { onSync, run, type SyncAttempt, type SyncStatus } from './api';

/** The poll between attempts: the unsent count follows the day's work within seconds. */
const POLL_INTERVAL_MS = 10_000;

export const sync = $state({
  /** `null` until the first answer (or when it failed: outside the shell, signed out). */
  status: null as SyncStatus | null,
  /** The last attempt the shell reported since this window started. */
  attempt: null as SyncAttempt | null,
  /** Grows with every reported attempt: a screen waiting for one compares it. */
  attempts: 0,
});

let inFlight: Promise<SyncStatus | null> | null = null;

/** Asks the core for the status now (one request at a time; callers share it). */
export function refreshSync(): Promise<SyncStatus | null> {
  inFlight ??= run<SyncStatus>({ type: 'sync_status' })
    .then(
      (status) => (sync.status = status),
      () => null,
    )
    .finally(() => (inFlight = null));
  return inFlight;
}

/** Sets the status from a command that answers with it (`connect_server`, `disconnect_server`). */
export function setSyncStatus(status: SyncStatus): void {
  sync.status = status;
}

/** Starts listening and polling; the returned function stops. */
export function watchSync(): () => void {
  let stopped = false;
  let unlisten: (() => void) | null = null;
  onSync((attempt) => {
    sync.attempt = attempt;
    sync.attempts += 1;
    void refreshSync();
  }).then((u) => {
    if (stopped) u();
    else unlisten = u;
  });
  void refreshSync();
  const timer = setInterval(() => void refreshSync(), POLL_INTERVAL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    unlisten?.();
    sync.status = null;
    sync.attempt = null;
  };
}
