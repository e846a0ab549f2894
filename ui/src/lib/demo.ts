// The demo school's accounts, shown on the sign-in screen in demo mode only. The logins
// are the demo generator's (core/src/demo/school.rs); the password and PIN come from
// core's constants through the shell (`app_info`).
import type { Role } from './api';

export const DEMO_ACCOUNTS: { role: Role; login: string }[] = [
  { role: 'admin', login: 'admin' },
  { role: 'director', login: 'director' },
  { role: 'guard', login: 'guard' },
  { role: 'cashier', login: 'cashier' },
  { role: 'librarian', login: 'librarian' },
];
