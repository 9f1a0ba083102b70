#!/usr/bin/env bash
# Installs the headless browser the dashboard's end-to-end test drives (crates/server/tests/browser.rs):
# Debian's `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver).
#
#   bash scripts/browser-deps.sh
#
# Idempotent and fast when both are already installed (no apt-get at all then). When it cannot
# install them (not root, no apt-get, the install fails) it says so and exits 0: the browser test then
# prints that it was SKIPPED -- unless WEDSYNC_BROWSER_TESTS=required (as CI sets it), which makes a
# missing browser fail the test.
set -uo pipefail

say() { printf '==> browser-deps: %s\n' "$*" >&2; }

have_browser() {
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]
}

versions() {
  say "$(/usr/bin/chromium --version 2>/dev/null | head -n 1 || echo 'chromium: version unknown')"
  say "$(/usr/bin/chromedriver --version 2>/dev/null | head -n 1 || echo 'chromedriver: version unknown')"
}

if have_browser; then
  say "chromium and chromedriver already installed"
  versions
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  say "chromium/chromedriver missing and not root: cannot install them"
  say "run as root: apt-get install chromium chromium-driver (the browser test is SKIPPED until then)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "chromium/chromedriver missing and no apt-get on this machine: cannot install them"
  say "install Chromium and its chromedriver some other way (the browser test is SKIPPED until then)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
say "installing chromium and chromium-driver with apt-get"
if ! apt-get update -qq; then
  say "apt-get update failed: cannot install the browser (the browser test is SKIPPED)"
  exit 0
fi
if ! apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; then
  say "apt-get install chromium chromium-driver failed (the browser test is SKIPPED)"
  exit 0
fi

if have_browser; then
  versions
else
  say "installed, but /usr/bin/chromium or /usr/bin/chromedriver is still missing (the browser test is SKIPPED)"
fi
exit 0
