#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# README command 1: installs what is missing, builds the release preset and the wasm preset (the
# JS SDK, in build/wasm/web), and runs the main job on embedded defaults: portal-relay on
# ws://127.0.0.1:4017/relay and tcp://127.0.0.1:4027 until Ctrl-C. Extra arguments are passed to
# portal-relay (e.g. --config FILE, --listen URI).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh release
./scripts/build.sh wasm
exec ./build/release/bin/portal-relay "$@"
