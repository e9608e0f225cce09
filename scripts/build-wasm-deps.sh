#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the third-party libraries of the WebAssembly build from Debian's own source packages:
# Crypto++ and the protobuf lite runtime, the same versions as the installed -dev packages.
#   scripts/build-wasm-deps.sh <build-dir>      (the wasm preset's configure step runs it)
# The sources come from `apt-get source` with a private sources list and state under
# <build-dir>/deps/apt, so /etc/apt is never touched and no root is needed. The result,
# <build-dir>/deps/prefix/{include,lib}, is kept and reused while the versions match, and also
# copied to ~/.cache/portal/wasm-deps for other clones (PORTAL_WASM_DEPS_CACHE).
set -euo pipefail

build=${1:?usage: build-wasm-deps.sh <build-dir>}
mkdir -p "$build"
build=$(cd "$build" && pwd)
deps="$build/deps"
prefix="$deps/prefix"
jobs=$(nproc 2>/dev/null || echo 2)

for tool in em++ emar dpkg-source apt-get protoc; do
  command -v "$tool" >/dev/null || {
    echo "build-wasm-deps: $tool is missing (scripts/install-deps.sh installs it)" >&2
    exit 1
  }
done
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}

# The versions the native build uses: the wasm build must speak the same protobuf runtime as
# the generated code (protoc), and the same Crypto++.
src_version() { dpkg-query -W -f='${source:Version}' "$1"; }
cryptopp_version=$(src_version libcrypto++-dev)
protobuf_version=$(src_version libprotobuf-dev)
stamp="$prefix/.versions"
want="cryptopp=$cryptopp_version protobuf=$protobuf_version emcc=$(em++ -dumpversion) script=6"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "build-wasm-deps: cached ($want)"
  exit 0
fi
# A built prefix is also kept outside the build tree (like ccache's cache), so that a clean
# clone (CI) copies it instead of fetching and compiling again. PORTAL_WASM_DEPS_CACHE="" turns
# that off.
cache=${PORTAL_WASM_DEPS_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/portal/wasm-deps}
if [ -n "$cache" ] && [ -f "$cache/.versions" ] && [ "$(cat "$cache/.versions")" = "$want" ]; then
  rm -rf "$prefix"
  mkdir -p "$(dirname "$prefix")"
  cp -a "$cache" "$prefix"
  echo "build-wasm-deps: copied from $cache ($want)"
  exit 0
fi

# --- sources ----------------------------------------------------------------------------------
apt_dir="$deps/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$deps/src"
cat > "$apt_dir/sources.list" <<LIST
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
LIST
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
          -o "Debug::NoLocking=1" -qq)
# As root, apt drops to _apt for downloads, which cannot write to a private build directory.
[ "$(id -u)" -eq 0 ] && apt_opts+=(-o "APT::Sandbox::User=root")
fetch() {  # fetch <source package> <version> -> prints the unpacked directory
  local pkg=$1 version=$2 upstream dir
  upstream=${version#*:}
  upstream=${upstream%-*}
  dir=$(find "$deps/src" -maxdepth 1 -type d -name "${pkg}-${upstream}" | head -1)
  if [ -z "$dir" ]; then
    (cd "$deps/src" && apt-get "${apt_opts[@]}" source --only-source "$pkg=$version" >&2)
    dir=$(find "$deps/src" -maxdepth 1 -type d -name "${pkg}-${upstream}" | head -1)
  fi
  [ -n "$dir" ] || { echo "build-wasm-deps: no source tree for $pkg $version" >&2; exit 1; }
  echo "$dir"
}
apt-get "${apt_opts[@]}" update
cryptopp_src=$(fetch libcrypto++ "$cryptopp_version")
protobuf_src=$(fetch protobuf "$protobuf_version")
echo "build-wasm-deps: sources $cryptopp_src $protobuf_src"

# --- Crypto++ ---------------------------------------------------------------------------------
# Only the sources Portal's crypto uses (Ed25519/X25519 donna, SHA-256/HMAC, ChaCha20-Poly1305)
# and what they need: a static library links no more than it references anyway, and this keeps
# the build to a minute. No assembly: wasm32 has none of Crypto++'s x86 paths.
# emscripten's default exception mode: a `throw` aborts and nothing catches; Portal checks every
# input before Crypto++ sees it (docs/adr/0008-cores-library-and-client-core.md).
cxxflags=(-O2 -DNDEBUG)
rm -rf "$prefix" "$deps/obj"
mkdir -p "$prefix/include/cryptopp" "$prefix/lib" "$deps/obj/cryptopp"
cryptopp_sources=(cryptlib misc allocate algparam fips140 cpu iterhash simple hmac sha sha_simd
                  chacha chacha_simd chacha_avx chachapoly poly1305 authenc donna_32 donna_64
                  filters queue mqueue integer asn)
# The template instances that Crypto++'s dll.cpp holds natively, limited to the ones used here
# (dll.cpp itself instantiates every algorithm of the library).
cat > "$deps/obj/cryptopp/portal_instances.cpp" <<'CPP'
#define CRYPTOPP_MANUALLY_INSTANTIATE_TEMPLATES
#define CRYPTOPP_DEFAULT_NO_DLL
#include "pch.h"
#include "algparam.h"
#include "strciphr.h"
CPP
em++ "${cxxflags[@]}" -DCRYPTOPP_DISABLE_ASM -I"$cryptopp_src" -c \
  "$deps/obj/cryptopp/portal_instances.cpp" -o "$deps/obj/cryptopp/portal_instances.o"
printf '%s\n' "${cryptopp_sources[@]}" | xargs -P "$jobs" -I{} \
  em++ "${cxxflags[@]}" -DCRYPTOPP_DISABLE_ASM -c "$cryptopp_src/{}.cpp" -o "$deps/obj/cryptopp/{}.o"
emar rcs "$prefix/lib/libcryptopp.a" "$deps/obj/cryptopp/"*.o
cp "$cryptopp_src"/*.h "$prefix/include/cryptopp/"
# The wasm build's Crypto++ has no assembly: make that the headers' default too.
sed -i 's|^#define CRYPTOPP_CONFIG_ASM_H|#define CRYPTOPP_CONFIG_ASM_H\n#ifndef CRYPTOPP_DISABLE_ASM\n# define CRYPTOPP_DISABLE_ASM 1\n#endif|' \
  "$prefix/include/cryptopp/config_asm.h"
grep -q 'define CRYPTOPP_DISABLE_ASM 1' "$prefix/include/cryptopp/config_asm.h" || {
  echo "build-wasm-deps: could not pin CRYPTOPP_DISABLE_ASM in config_asm.h" >&2
  exit 1
}

# --- protobuf lite runtime --------------------------------------------------------------------
# Its own CMake project, configured for emscripten; only the lite library is built.
emcmake cmake -S "$protobuf_src" -B "$deps/obj/protobuf" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="-DNDEBUG" -Dprotobuf_BUILD_TESTS=OFF -Dprotobuf_BUILD_PROTOC_BINARIES=OFF \
  -Dprotobuf_BUILD_LIBPROTOC=OFF -Dprotobuf_WITH_ZLIB=OFF -Dprotobuf_BUILD_SHARED_LIBS=OFF \
  -Dprotobuf_INSTALL=OFF > "$deps/obj/protobuf-configure.log" 2>&1 || {
  echo "build-wasm-deps: protobuf configure failed, see $deps/obj/protobuf-configure.log" >&2
  exit 1
}
cmake --build "$deps/obj/protobuf" --target libprotobuf-lite -j "$jobs" > "$deps/obj/protobuf-build.log" 2>&1 || {
  echo "build-wasm-deps: protobuf build failed, see $deps/obj/protobuf-build.log" >&2
  exit 1
}
cp "$deps/obj/protobuf/libprotobuf-lite.a" "$prefix/lib/"
(cd "$protobuf_src/src" && find google \( -name '*.h' -o -name '*.inc' \) -exec cp --parents {} "$prefix/include" \;)

echo "$want" > "$stamp"
echo "build-wasm-deps: built into $prefix"
if [ -n "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  rm -rf "$cache.tmp.$$"
  if cp -a "$prefix" "$cache.tmp.$$"; then
    rm -rf "$cache" && mv "$cache.tmp.$$" "$cache" || rm -rf "$cache.tmp.$$"
  fi
fi
