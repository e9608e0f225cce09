#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The unix transport example, checked against a staged Portal install (issue 19):
# 1. configure and build this project with find_package(Portal) from STAGE_PREFIX only, and check
#    that no include path reaches into Portal's source or build tree;
# 2. run its tests (the conformance kit's transport suites and its own);
# 3. `portal-relay --list-plugins` lists it with its id, kind, version and file;
# 4. a relay loading it from BUILD_DIR/plugins listens on unix://; `portal expose` publishes a
#    local HTTP server through that socket, `portal connect` reaches it through the same socket,
#    and an HTTP GET through the tunnel returns the server's file;
# 5. the relay counts the socket's peers (no IP address) in one bucket for the listener: with
#    max_connections_per_ip 2, a third client is refused and the log names the bucket;
# 6. the relay removes its socket when it stops.
# Every step is bounded in time; processes and the socket are cleaned up on every exit; any
# failure exits non-zero.
#   examples/plugin-transport-unix/test-staged.sh STAGE_PREFIX BUILD_DIR
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 STAGE_PREFIX BUILD_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stage=$(cd "$1" && pwd)
mkdir -p "$2"
build=$(cd "$2" && pwd)
# A short private folder: a socket path has at most 107 bytes.
work=$(mktemp -d /tmp/portal-unix.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
  echo "test-staged: FAIL: $*" >&2
  for f in "$work"/*.log; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}
# Waits up to $3 tenths of a second for the regex $2 in file $1.
wait_for() {
  for _ in $(seq "$3"); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

for f in bin/portal-relay bin/portal lib/cmake/Portal/PortalConfig.cmake lib/portal/plugins; do
  [ -e "$stage/$f" ] || fail "$stage/$f is missing: not a staged Portal install"
done

echo "== configure and build against $stage"
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
generator=()
if command -v ninja > /dev/null; then generator=(-G Ninja); fi
timeout 300 cmake -S "$here" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$stage" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "${launcher[@]}" \
  > "$work/configure.log" 2>&1 || fail "configure"
timeout 900 cmake --build "$build" > "$work/build.log" 2>&1 || fail "build"
# Only the stage and the system: no path into the tree that produced the stage.
portal_root=$(cd "$here/../.." && pwd)
if sed "s#$here##g" "$build/compile_commands.json" |
  grep -E -o -- "-(I|isystem) ?$portal_root[^ \"]*" | head -1 | grep -q .; then
  fail "the example includes from $portal_root"
fi
plugin="$build/plugins/portal-transport-unix.so"
[ -f "$plugin" ] || fail "$plugin was not built"

echo "== tests (conformance kit and the socket file's life)"
timeout 600 ctest --test-dir "$build" --output-on-failure --no-tests=error \
  > "$work/ctest.log" 2>&1 || fail "ctest"
grep -q "Unix/TransportConformance" "$work/ctest.log" || fail "the kit's transport suites did not run"
grep -E "tests passed|Total Test time" "$work/ctest.log" | head -2

echo "== portal-relay --list-plugins"
# Output lines are "plugin  <id>  <kind>  <version>  <file>"; a refused file fails the listing.
timeout 30 "$stage/bin/portal-relay" --list-plugins --plugin-dir "$build/plugins" \
  > "$work/list.log" 2>&1 || fail "--list-plugins"
grep -qxF "plugin  example.transport.unix  transport  1.0.0  $plugin" "$work/list.log" ||
  fail "--list-plugins did not list the unix transport"
cat "$work/list.log"

echo "== relay and client over unix://"
sock="$work/relay.sock"
dirs=(--plugin-dir "$stage/lib/portal/plugins" --plugin-dir "$build/plugins")
printf '{"limits": {"max_connections_per_ip": 2}}\n' > "$work/relay.json"
timeout 120 "$stage/bin/portal-relay" --config "$work/relay.json" "${dirs[@]}" \
  --listen "unix://$sock" > "$work/relay.log" 2>&1 &
pids+=($!)
wait_for "$work/relay.log" "^listening unix://$sock\$" 100 || fail "the relay did not listen on unix://$sock"
[ -S "$sock" ] || fail "no socket at $sock"

# The service: a static file over HTTP on loopback.
mkdir "$work/www"
token="portal-unix-$RANDOM$RANDOM"
printf '%s\n' "$token" > "$work/www/index.txt"
timeout 120 python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/www" \
  > "$work/http.log" 2>&1 &
pids+=($!)
wait_for "$work/http.log" "port [0-9]+" 100 || fail "the HTTP server did not start"
http_port=$(grep -oE "port [0-9]+" "$work/http.log" | head -1 | cut -d' ' -f2)

name="unix$RANDOM"
timeout 120 "$stage/bin/portal" expose "${dirs[@]}" --relay "unix://$sock" \
  --target "127.0.0.1:$http_port" --name "$name" > "$work/expose.log" 2>&1 &
pids+=($!)
wait_for "$work/expose.log" "\(registered\)" 150 || fail "portal expose did not register its lease"

timeout 120 "$stage/bin/portal" connect "$name" "${dirs[@]}" --relay "unix://$sock" \
  --listen 127.0.0.1:0 > "$work/connect.log" 2>&1 &
pids+=($!)
wait_for "$work/connect.log" "^listening 127\.0\.0\.1:[0-9]+" 150 || fail "portal connect did not listen"
local_port=$(grep -oE "^listening 127\.0\.0\.1:[0-9]+" "$work/connect.log" | head -1 | cut -d: -f2)

got=$(curl -sS --max-time 20 "http://127.0.0.1:$local_port/index.txt") || fail "GET through the tunnel"
[ "$got" = "$token" ] || fail "the tunnel returned '$got', not '$token'"
echo "round trip over unix://$sock: ok"

# expose and connect hold the listener's two connections; a third peer of the same socket is
# refused, counted under the listener's bucket.
if timeout 30 "$stage/bin/portal" info "${dirs[@]}" --relay "unix://$sock" > "$work/info.log" 2>&1; then
  fail "a third connection over the socket was admitted (max_connections_per_ip 2)"
fi
wait_for "$work/relay.log" "connection from listener #0 unix://$sock via unix refused" 50 ||
  fail "the relay did not refuse the third peer in the listener's bucket"
echo "third peer of the socket refused in the listener's bucket: ok"

# The relay removes its socket when it stops.
kill -INT "${pids[0]}"
for _ in $(seq 100); do kill -0 "${pids[0]}" 2>/dev/null || break; sleep 0.1; done
kill -0 "${pids[0]}" 2>/dev/null && fail "the relay did not stop on SIGINT"
[ -e "$sock" ] && fail "the relay left its socket $sock behind"
echo "test-staged: passed"
