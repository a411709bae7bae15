#!/bin/sh
# What the tests need beyond `npm ci`: Chromium, for the browser tests (test/browser.test.ts, the
# playground and bundler tests). Installs Debian's/Ubuntu's package with apt (as root, or through
# sudo) when it is missing. Nothing to do when KEOPS_TS_CHROMIUM names a browser binary or
# KEOPS_TEST_BROWSER=0. Quiet unless it fails (then apt's output is printed); waits up to
# KEOPS_TS_APT_WAIT seconds (default 300) for another apt/dpkg to release its lock.
set -e
# redis-server, for the distributed tests (test/distributed.test.ts start their own on a free
# port); KEOPS_TEST_REDIS=0 leaves them out.
if [ "$KEOPS_TEST_REDIS" != 0 ] && ! command -v redis-server >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    R_SUDO=""
    [ "$(id -u)" = 0 ] || R_SUDO="sudo"
    $R_SUDO apt-get update -qq
    $R_SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
  else
    echo "scripts/test-deps.sh: install redis-server (Redis or Valkey >= 6.2), or set KEOPS_TEST_REDIS=0 to leave the distributed tests out" >&2
    exit 1
  fi
fi
if [ -n "$KEOPS_TS_CHROMIUM" ] || [ "$KEOPS_TEST_BROWSER" = 0 ] || [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/test-deps.sh: install Chromium, set KEOPS_TS_CHROMIUM to a Chromium or Chrome binary, or set KEOPS_TEST_BROWSER=0 to leave the browser tests out" >&2
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
run install -y -qq --no-install-recommends chromium
