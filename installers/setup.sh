#!/usr/bin/env bash
# Installs what building, running and testing the workstation needs and is missing on a
# Debian 12 / Ubuntu 22.04+ machine, then returns. Safe to run again: it only installs
# what is not there yet. Used by `make run`, `make test` and `make bench`.
#
#   installers/setup.sh run     packages to build and start the app
#   installers/setup.sh test    + what the end-to-end tests drive (Xvfb, WebKitWebDriver, …)
set -euo pipefail

purpose=${1:-run}
here=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup]\033[0m %s\n' "$*" >&2; exit 1; }

# Debian packages: WebKitGTK and friends for Tauri 2 (BUILD.md), a C toolchain for the
# bundled SQLite, the PC/SC client library card readers are reached through, and
# PostgreSQL for the central server (`make server` and its tests start a throwaway
# cluster of their own on a free port; the system cluster Debian starts is left alone).
apt_run=(build-essential pkg-config curl file libssl-dev libgtk-3-dev libwebkit2gtk-4.1-dev
         librsvg2-dev libayatana-appindicator3-dev libpcsclite-dev postgresql)
# The real window under Xvfb, driven over WebDriver; pdftotext/pdftoppm for documents.
# pcscd with the virtual reader vpcd is the PC/SC peer of the reader tests; headless
# Chromium with its WebDriver drives the parent portal as a phone's browser would.
apt_test=(xvfb xauth xdotool webkit2gtk-driver poppler-utils python3-venv pcscd vsmartcard-vpcd
          chromium chromium-driver)

wanted=("${apt_run[@]}")
[ "$purpose" = run ] || wanted+=("${apt_test[@]}")
command -v node >/dev/null 2>&1 || wanted+=(nodejs npm)

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    die "need root or sudo to install: ${missing[*]}"; fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust: the toolchain comes from rustup (Debian's rustc is too old for Tauri 2).
if ! command -v cargo >/dev/null 2>&1; then
  die "Rust is missing: install it with rustup (https://rustup.rs), version 1.90 or newer, then run make again."
fi
rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
[ "$rust_minor" -ge 90 ] || die "Rust $(rustc --version | cut -d' ' -f2) is too old: 1.90 or newer is needed (rustup update)."

node_major=$(node --version | sed -E 's/^v([0-9]+).*/\1/')
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old for Vite 8: 20.19 or newer is needed."

# npm packages of the UI and the Tauri CLI (prebuilt inside its npm package), installed
# exactly as locked.
if [ ! -d "$here/ui/node_modules" ] || [ "$here/ui/package-lock.json" -nt "$here/ui/node_modules/.package-lock.json" ]; then
  say "installing npm packages (ui/)"
  (cd "$here/ui" && npm ci --no-audit --no-fund --loglevel=error)
fi

# tauri-driver, the WebDriver bridge of the end-to-end tests, from crates.io into a tools
# folder beside the build cache (its npm wrapper lists platform packages the registry
# does not serve, which breaks `npm ci`).
if [ "$purpose" != run ]; then
  tools=${SCHOOLCARD_TOOLS:-$HOME/.cache/schoolcard/tools}
  if [ ! -x "$tools/bin/tauri-driver" ]; then
    say "installing tauri-driver 2 (cargo install, about a minute)"
    cargo install --quiet --locked tauri-driver --version '^2' --root "$tools"
  fi
fi

# The reference OSDP reader (libosdp, PyPI) that the OSDP tests talk to, and the SMTP
# server (aiosmtpd, PyPI) the notification tests send to, in their own venv.
if [ "$purpose" != run ]; then
  venv=${SCHOOLCARD_VENV:-$HOME/.cache/schoolcard/venv}
  if ! "$venv/bin/python" -c 'import osdp, aiosmtpd' >/dev/null 2>&1; then
    say "installing the test peers (libosdp 3.2.9, aiosmtpd 1.4.6) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'libosdp==3.2.9' 'aiosmtpd==1.4.6'
  fi
fi
