// Runs the Tauri CLI for this repository's layout: the web UI in ui/ (this package), the
// Rust shell in ../src-tauri. `npm run tauri -- build --debug --no-bundle` from ui/.
import { spawnSync } from 'node:child_process';
import { dirname, resolve, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const uiDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = {
  ...process.env,
  TAURI_APP_PATH: resolve(uiDir, '..', 'src-tauri'),
  TAURI_FRONTEND_PATH: uiDir,
};
const bin = join(uiDir, 'node_modules', '.bin', process.platform === 'win32' ? 'tauri.cmd' : 'tauri');
const result = spawnSync(bin, process.argv.slice(2), { cwd: uiDir, env, stdio: 'inherit', shell: process.platform === 'win32' });
if (result.error) {
  console.error(`tauri: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
