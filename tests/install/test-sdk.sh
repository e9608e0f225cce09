#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The installed SDK, used as an outside developer would (issue 19, docs/embedding.md):
# 1. install the build to a staging prefix;
# 2. build the examples as standalone projects with find_package(Portal) against that prefix,
#    and check that no include path reaches into the source or build tree;
# 3. build the echo example again with pkg-config only;
# 4. run the embedded relay with the staged plugins and do an echo round trip through it;
# 5. the outside unix transport plugin: its own kit test and a relay+client round trip over unix://.
#   tests/install/test-sdk.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/portal-sdk.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test-sdk: FAIL: $*" >&2; exit 1; }

stage="$work/stage"
echo "== install to $stage"
cmake --install "$build" --prefix "$stage" > "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "cmake --install"; }
for f in lib/libportal.so.0 lib/cmake/Portal/PortalConfig.cmake lib/pkgconfig/portal.pc \
         lib/portal/plugins/portal-transport-tcp.so include/portal/relay/relay.hpp bin/portal-relay; do
  [ -e "$stage/$f" ] || fail "$f is not installed"
done
soname=$(objdump -p "$stage/lib/libportal.so.0" | awk '/SONAME/ {print $2}')
[ "$soname" = libportal.so.0 ] || fail "libportal's SONAME is '$soname', not libportal.so.0"

launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# The outside projects must not see Portal's source or build tree: nothing but the stage.
check_paths() {
  local db="$1/compile_commands.json" own="$2"
  [ -f "$db" ] || fail "no $db"
  if sed "s#$own##g" "$db" | grep -E -o -- "-(I|isystem) ?($src|$build)[^ \"]*" | head -1 | grep -q .; then
    fail "$own includes from the source or build tree: $(sed "s#$own##g" "$db" | grep -E -o -- "-(I|isystem) ?($src|$build)[^ \"]*" | head -1)"
  fi
}
for ex in echo embed-relay; do
  echo "== examples/$ex against the stage"
  cmake -S "$src/examples/$ex" -B "$work/$ex" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_PREFIX_PATH="$stage" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "${launcher[@]}" \
    > "$work/$ex.log" 2>&1 || { cat "$work/$ex.log"; fail "configure examples/$ex"; }
  cmake --build "$work/$ex" >> "$work/$ex.log" 2>&1 || { cat "$work/$ex.log"; fail "build examples/$ex"; }
  check_paths "$work/$ex" "$src/examples/$ex"
done

echo "== examples/echo with pkg-config"
export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
pc_flags=$(pkg-config --cflags --libs portal-client) || fail "pkg-config portal-client"
case "$pc_flags" in *"$src"*|*"$build"*) fail "pkg-config names the source or build tree: $pc_flags";; esac
# shellcheck disable=SC2086
${CXX:-g++} -O1 -o "$work/echo-pc" "$src/examples/echo/main.cpp" $pc_flags \
  || fail "compile examples/echo with pkg-config"
# The relay library and the cores alone, each linked with pkg-config only.
pc_relay=$(pkg-config --cflags --libs portal-relay) || fail "pkg-config portal-relay"
# shellcheck disable=SC2086
${CXX:-g++} -O1 -o "$work/embed-pc" "$src/examples/embed-relay/main.cpp" \
  -DPORTAL_EXAMPLE_PLUGIN_DIR="\"$stage/lib/portal/plugins\"" $pc_relay \
  || fail "compile examples/embed-relay with pkg-config"
cat > "$work/cores.cpp" <<'CPP'
#include <cstdio>
#include <string>

#include "portal/base/encoding.hpp"
#include "portal/crypto/sha256.hpp"

int main() {
  const std::string abc = "abc";
  const auto digest = portal::crypto::sha256(portal::base::as_bytes(abc));
  std::printf("%s\n", portal::base::hex_encode(digest).c_str());
}
CPP
pc_cores=$(pkg-config --cflags --libs 'portal-cores >= 0.1') || fail "pkg-config portal-cores"
# shellcheck disable=SC2086
${CXX:-g++} -O1 -o "$work/cores" "$work/cores.cpp" $pc_cores || fail "link with portal-cores.pc"
[ "$("$work/cores")" = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad ] \
  || fail "the cores linked with portal-cores.pc compute a wrong SHA-256"

echo "== embedded relay + echo round trip"
plugins="$stage/lib/portal/plugins"
# The pkg-config build of the embedded relay (the CMake one was built above too).
"$work/embed-pc" > "$work/relay.out" 2> "$work/relay.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening tcp://' "$work/relay.out" && break; sleep 0.1; done
relay=$(grep -o 'tcp://[^ ]*' "$work/relay.out" | head -1)
[ -n "$relay" ] || { cat "$work/relay.err"; fail "the embedded relay did not listen"; }
name="sdk$RANDOM"
timeout 30 "$work/echo/portal-example-echo" listen "$relay" "$name" "$plugins" > "$work/listen.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^listening as' "$work/listen.out" && break; sleep 0.1; done
grep -q '^listening as' "$work/listen.out" || { cat "$work/listen.out"; fail "echo listen"; }
got=$(timeout 20 "$work/echo-pc" dial "$relay" "$name" "$plugins" "through the staged SDK") \
  || fail "echo dial (pkg-config build)"
[ "$got" = "through the staged SDK" ] || fail "echo returned '$got'"
grep -q '^\[embed-relay\] ' "$work/relay.err" || fail "the host's log sink got no relay lines"
kill -INT "${pids[0]}"
for _ in $(seq 100); do kill -0 "${pids[0]}" 2>/dev/null || break; sleep 0.1; done
kill -0 "${pids[0]}" 2>/dev/null && fail "the embedded relay did not stop on SIGINT"
grep -q '^\[embed-relay\] info relay: stopped' "$work/relay.err" \
  || fail "the embedded relay did not drain (no 'relay: stopped' line)"

echo "== examples/plugin-transport-unix against the stage"
"$src/examples/plugin-transport-unix/test-staged.sh" "$stage" "$work/unix" \
  || fail "examples/plugin-transport-unix"
echo "test-sdk: passed"
