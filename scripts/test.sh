#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# README command 2: installs what is missing, builds a preset (default: ci, warnings as errors)
# and runs the whole test suite.
#   scripts/test.sh [preset]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-ci}"
./scripts/build.sh "$preset"
ctest --preset "$preset" --output-on-failure -j "$(nproc)"
