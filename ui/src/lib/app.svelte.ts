// What the whole window shares: how the shell was started, the school, who is signed in.
import type { AppInfo, School, Session } from './api';

export const app = $state({
  info: null as AppInfo | null,
  school: null as School | null,
  session: null as Session | null,
  /** The login just created on the set-up screen, offered on the sign-in screen. */
  lastLogin: '' as string,
  /** The first-run wizard's steps after the set-up screen (post, server, readers) are on. */
  firstRun: false,
});

export function isAdmin(): boolean {
  return app.session?.roles.includes('admin') ?? false;
}

/** The generated demo school: the core lists its accounts, password and PIN. */
export function demoSchool() {
  return app.school?.demo ?? null;
}
