#!/bin/sh
# What the tests need beyond `npm ci`: Chromium, for the browser tests (test/browser.test.ts),
# and a software WebGPU adapter for the webgpu tests (scripts/webgpu-adapter.sh).
# Installs Debian's/Ubuntu's package with apt (as root, or through sudo) when it is missing.
# Nothing to do when KEOPS_TS_CHROMIUM names a browser binary or KEOPS_TEST_BROWSER=0.
set -e
# the webgpu tests' software adapter (lavapipe, into a private cache folder; see that script)
sh "$(dirname "$0")/webgpu-adapter.sh" >/dev/null || echo "scripts/test-deps.sh: the lavapipe setup failed: the webgpu tests will say so (KEOPS_TEST_WEBGPU=0 leaves them out)" >&2
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
