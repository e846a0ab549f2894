# Two commands for a fresh Debian 12 / Ubuntu 22.04+ machine:
#   make run    installs what is missing, builds, starts the workstation on a demo school
#   make test   installs what is missing, runs every test (end-to-end under Xvfb included)
# and, for the curious:
#   make bench  performance figures, written to BENCHMARKS.md
#   make server the central sync server on a throwaway PostgreSQL with a demo school

SHELL := /bin/bash
.DEFAULT_GOAL := run

# A build cache outside the clone, reused by every clone on this machine (CI included).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/schoolcard/target
# Line tables only: half the target dir, a faster cold build, backtraces still work.
export CARGO_PROFILE_DEV_DEBUG ?= line-tables-only
export CARGO_TERM_COLOR ?= never

export SCHOOLCARD_TOOLS ?= $(HOME)/.cache/schoolcard/tools
# The Python venv holding libosdp, the reference OSDP reader the tests talk to.
export SCHOOLCARD_VENV ?= $(HOME)/.cache/schoolcard/venv
export SCHOOLCARD_OSDP_PYTHON ?= $(SCHOOLCARD_VENV)/bin/python
APP_BIN := $(CARGO_TARGET_DIR)/debug/schoolcard
APP_RELEASE_BIN := $(CARGO_TARGET_DIR)/release/schoolcard
DEMO_DB ?= $(HOME)/.local/share/schoolcard/demo.sqlite

.PHONY: run test bench server app app-release setup setup-test unit e2e clean-demo

setup:
	@installers/setup.sh run

setup-test:
	@installers/setup.sh test

# The desktop binary with its UI embedded (tauri build runs the UI build first).
app: setup
	cd ui && npm run --silent app:build

app-release: setup
	cd ui && npm run --silent app:release

run:
	@if [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
	  echo "make run: no display (DISPLAY and WAYLAND_DISPLAY are unset) — run it in a desktop session, or try: xvfb-run -a make run" >&2; exit 2; fi
	@$(MAKE) --no-print-directory app
	$(APP_BIN) --demo --db "$(DEMO_DB)"

test: setup-test
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory app
	$(MAKE) --no-print-directory e2e

# Everything but the window: the pure crates and the cross-crate tests (no WebKit built).
unit:
	cargo test --workspace --exclude schoolcard-app

# The shell's own unit tests, built with the features of the app build (shared artefacts),
# then the real app window under Xvfb, driven over WebDriver (tauri-driver + WebKitWebDriver).
e2e:
	cargo test -p schoolcard-app --features custom-protocol
	SCHOOLCARD_APP_BIN=$(APP_BIN) TAURI_DRIVER=$(SCHOOLCARD_TOOLS)/bin/tauri-driver timeout -k 10 900 xvfb-run -a -s "-screen 0 1280x800x24" \
	  cargo test -p schoolcard-tests --test e2e -- --ignored --test-threads=1

bench: setup-test app-release
	cargo build --release -p schoolcard-tests --bin bench
	xvfb-run -a -s "-screen 0 1280x800x24" \
	  $(CARGO_TARGET_DIR)/release/bench --app $(APP_RELEASE_BIN) --out BENCHMARKS.md

# The central server with its own throwaway PostgreSQL cluster (a free loopback port, so
# it coexists with a system cluster), the demo school, an admin and an enrolment code.
server: setup
	cargo run -p schoolcard-server --release -- demo

clean-demo:
	rm -f "$(DEMO_DB)" "$(DEMO_DB)-wal" "$(DEMO_DB)-shm"
