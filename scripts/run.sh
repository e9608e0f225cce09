#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# README command 1: installs what is missing, builds the release preset, and runs the main job
# on embedded defaults. Until the relay server lands (issue 7) the main job is
# `portal-relay --version`; extra arguments are passed to portal-relay.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh release
if [ $# -eq 0 ]; then set -- --version; fi
exec ./build/release/bin/portal-relay "$@"
