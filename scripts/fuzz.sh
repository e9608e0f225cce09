#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target of tests/fuzz for a fixed time each, and prints a summary.
#   scripts/fuzz.sh [-t SECONDS] [-j JOBS] [--merge] [--no-build] [TARGET...]
#     -t SECONDS   time per target (default 60)
#     -j JOBS      build jobs (default 2)
#     --merge      merge the new inputs that add coverage into tests/fuzz/<target>/corpus
#                  (libFuzzer -merge=1: only inputs that reach new code are added); without it
#                  the committed corpus is only read
#     --no-build   use build/fuzz as it is
#     TARGET       run only these (directory names under tests/fuzz); default: all
# It builds the `fuzz` preset (clang 14, libFuzzer, ASan, UBSan) into build/fuzz. Each run
# starts from the committed corpus and writes what it finds to build/fuzz/fuzz-runs/<target>/
# (new inputs in corpus/, the log in fuzz.log). A crash leaves its input there as crash-*
# (also leak-*, timeout-*, oom-*): make it a corpus file (tests/fuzz/<target>/corpus/<name>)
# and fix the bug; the ordinary test run then replays it. Exit status 1 when any target failed.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=60
jobs=2
merge=0
build=1
targets=()
while (($#)); do
  case $1 in
    -t) seconds=${2:?-t needs seconds}; shift 2 ;;
    -j) jobs=${2:?-j needs a count}; shift 2 ;;
    --merge) merge=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ((${#targets[@]} == 0)); then
  for d in tests/fuzz/*/; do
    [[ -f $d/fuzz.cpp ]] && targets+=("$(basename "$d")")
  done
fi

if ((build)); then
  [[ -f build/fuzz/build.ninja ]] || cmake --preset fuzz >/dev/null
  ninja -C build/fuzz -j "$jobs" "${targets[@]/#/portal_fuzz_}"
fi

runs=build/fuzz/fuzz-runs
failed=0
summary=()
for t in "${targets[@]}"; do
  bin=build/fuzz/tests/fuzz/portal_fuzz_$t
  corpus=tests/fuzz/$t/corpus
  out=$runs/$t
  if [[ ! -x $bin ]]; then
    summary+=("$(printf '%-18s missing %s' "$t" "$bin")")
    failed=1
    continue
  fi
  rm -rf "$out"
  mkdir -p "$out/corpus"
  echo "== $t: ${seconds} s" >&2
  status=0
  # New inputs go to the run's own corpus directory (the first one given); the committed corpus
  # is read. Crash files land in the run directory.
  "$bin" "$out/corpus" "$corpus" -max_total_time="$seconds" -artifact_prefix="$out/" \
    -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 >"$out/fuzz.log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$out/fuzz.log" | tail -1 | cut -d' ' -f2)
  found=$(find "$out/corpus" -type f | wc -l)
  crashes=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  result=ok
  if ((status != 0 || crashes > 0)); then
    result="FAILED (exit $status; $crashes finding(s) in $out, log $out/fuzz.log)"
    failed=1
  fi
  merged=""
  if ((merge)) && [[ $result == ok ]] && ((found > 0)); then
    before=$(find "$corpus" -type f | wc -l)
    "$bin" -merge=1 "$corpus" "$out/corpus" >"$out/merge.log" 2>&1
    merged=" merged +$(($(find "$corpus" -type f | wc -l) - before))"
  fi
  summary+=("$(printf '%-18s %s  execs %s  cov %s  new inputs %s%s' "$t" "$result" \
    "${execs:-?}" "${cov:-?}" "$found" "$merged")")
done

echo
echo "fuzz.sh: ${seconds} s per target"
printf '  %s\n' "${summary[@]}"
exit "$failed"
