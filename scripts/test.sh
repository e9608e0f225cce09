#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# README command 2: installs what is missing, builds and runs the whole test suite: the ci preset
# (warnings as errors), then the wasm preset (the cores inside WebAssembly and the JS SDK's Node
# tests, which use the ci build's portal-relay and portal), then the packages preset (the .debs
# booted with systemd-nspawn, the container image). With a preset name, only that one.
#   scripts/test.sh [preset]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  "$0" ci
  "$0" wasm
  exec "$0" packages
fi
preset="$1"
# The packages preset (the .debs booted with systemd-nspawn, the container image) tests the ci
# build, after the wasm build made the browser files the relay package carries.
# It needs root (debootstrap, systemd-nspawn, podman), through sudo like install-deps.sh.
if [ "$preset" = packages ]; then
  if [ "$(id -u)" -eq 0 ]; then exec ctest --preset packages --output-on-failure; fi
  if command -v sudo > /dev/null; then
    exec sudo --preserve-env=PATH ctest --preset packages --output-on-failure
  fi
  echo "test.sh: the packages preset needs root (debootstrap, systemd-nspawn, podman): run it as root or install sudo" >&2
  exit 1
fi
# --- tsan (issue 23) ---------------------------------------------------------------------------
# The tsan preset builds only the threaded tests (the relay with worker threads, the yamux
# driver, the streams, the client and the plugin host) and the programs they start. Reports go
# to build/tsan/tsan-reports (TSAN_OPTIONS log_path), from the test programs and from every
# portal-relay and portal they start: any file there fails the run, even if the tests passed.
if [ "$preset" = tsan ]; then
  ./scripts/build.sh tsan
  rm -rf build/tsan/tsan-reports
  mkdir -p build/tsan/tsan-reports
  rc=0
  ctest --preset tsan --output-on-failure -j "$(nproc)" || rc=$?
  if [ -n "$(ls -A build/tsan/tsan-reports)" ]; then
    for f in build/tsan/tsan-reports/*; do echo "== $f"; cat "$f"; done
    echo "test.sh: ThreadSanitizer reports in build/tsan/tsan-reports (above)" >&2
    exit 1
  fi
  exit "$rc"
fi
# --- end tsan ----------------------------------------------------------------------------------
./scripts/build.sh "$preset"
# The wasm preset's tests drive the JS SDK with npm packages pinned by tests/js/package-lock.json.
if [ "$preset" = wasm ]; then ./scripts/install-js-deps.sh; fi
ctest --preset "$preset" --output-on-failure -j "$(nproc)"
