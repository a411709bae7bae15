#!/bin/sh
# What the tests need beyond `npm ci`:
# - a software WebGPU adapter for the webgpu tests (lavapipe, into a private cache folder: see
#   scripts/webgpu-adapter.sh; KEOPS_TEST_WEBGPU=0 leaves those tests out);
# - redis-server, for the distributed tests (they start their own on a free port;
#   KEOPS_TEST_REDIS=0 leaves them out);
# - Chromium, for the browser tests (test/browser.test.ts, the playground and bundler tests;
#   nothing to do when KEOPS_TS_CHROMIUM names a browser binary or KEOPS_TEST_BROWSER=0).
# Debian's/Ubuntu's packages come from apt (as root, or through sudo) when missing. Quiet unless
# it fails (then apt's output is printed); waits up to KEOPS_TS_APT_WAIT seconds (default 300)
# for another apt/dpkg to release its lock.
set -e
sh "$(dirname "$0")/webgpu-adapter.sh" >/dev/null || echo "scripts/test-deps.sh: the lavapipe setup failed: the webgpu tests will say so (KEOPS_TEST_WEBGPU=0 leaves them out)" >&2
need=""
if [ "$KEOPS_TEST_REDIS" != 0 ] && ! command -v redis-server >/dev/null 2>&1; then need="$need redis-server"; fi
if [ -z "$KEOPS_TS_CHROMIUM" ] && [ "$KEOPS_TEST_BROWSER" != 0 ] && [ ! -x /usr/bin/chromium ]; then need="$need chromium"; fi
[ -n "$need" ] || exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/test-deps.sh: install$need (or set KEOPS_TS_CHROMIUM to a Chromium or Chrome binary, KEOPS_TEST_BROWSER=0 to leave the browser tests out, KEOPS_TEST_REDIS=0 the distributed ones)" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
WAIT="${KEOPS_TS_APT_WAIT:-300}"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
# apt-get waits for the dpkg lock itself (DPkg::Lock::Timeout, apt ≥ 1.9); the loop also covers
# the lists lock of `apt-get update` and older apt: retry while another apt holds a lock.
run() {
  start=$(date +%s)
  while :; do
    if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$WAIT" "$@" >>"$LOG" 2>&1; then return 0; fi
    if ! grep -q "Could not get lock\|Unable to acquire the dpkg frontend lock\|Unable to lock" "$LOG" || [ $(( $(date +%s) - start )) -ge "$WAIT" ]; then
      cat "$LOG" >&2
      echo "scripts/test-deps.sh: apt-get $* failed (see above)" >&2
      exit 1
    fi
    : >"$LOG"
    sleep 5
  done
}
run update -qq
# shellcheck disable=SC2086 # a list of package names
run install -y -qq --no-install-recommends $need
