#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the npm packages of the JS tests (tests/js: `ws`), exactly as package-lock.json pins
# them, with `npm ci`. Skipped while node_modules matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../tests/js"
stamp=node_modules/.portal-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install-js-deps: up to date"
  exit 0
fi
command -v npm >/dev/null || { echo "install-js-deps: npm is missing (scripts/install-deps.sh)" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
