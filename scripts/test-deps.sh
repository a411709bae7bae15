#!/bin/sh
# What the tests need beyond `npm ci`: Chromium, for the browser tests (test/browser.test.ts).
# Installs Debian's/Ubuntu's package with apt (as root, or through sudo) when it is missing.
# Nothing to do when KEOPS_TS_CHROMIUM names a browser binary or KEOPS_TEST_BROWSER=0.
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
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
  exit 0
fi
echo "scripts/test-deps.sh: install Chromium, set KEOPS_TS_CHROMIUM to a Chromium or Chrome binary, or set KEOPS_TEST_BROWSER=0 to leave the browser tests out" >&2
exit 1
