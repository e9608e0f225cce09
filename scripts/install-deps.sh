#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian 12 package that building and testing Portal needs.
# Idempotent: packages already present are skipped, and `apt-get update` runs at most once,
# only when something is missing. Runs as root (or through sudo when available).
#
#   scripts/install-deps.sh           # everything: build, tests, wasm, packaging tests
#   scripts/install-deps.sh --build   # only what a native build and `cpack -G DEB` need
#                                     # (the Containerfile's build stage)
#   scripts/install-deps.sh --bench   # a native build and bench/run (python3, gnuplot, openssl,
#                                     # redis-server)
set -euo pipefail

# bench/run: its Python 3 helper, the plot, the throwaway certificates of the TLS rows, and the
# fleet table's shared directory (portal-bench-e2e --rows fleet starts its own redis-server).
bench_packages=(python3 gnuplot-nox openssl redis-server)

# A native build without tests, and its Debian packages.
build_packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev
  libcrypto++-dev
  libpoco-dev
  libcli11-dev
  libssl-dev         # TLS in the transport plugins (wss://, tls://)
  libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev
  libbenchmark-dev   # bench/ (built in every preset)
  dpkg-dev file      # cpack -G DEB: dpkg-shlibdeps computes Depends, file finds the binaries
)

packages=(
  "${build_packages[@]}"
  git
  clang-format       # the BuildFormat test checks .clang-format
  doxygen            # the API reference (docs target, BuildApiDocs test)
  clang-14           # the clang preset (CI): what the WebAssembly path's clang 14 accepts
  golang-go golang-github-hashicorp-yamux-dev  # tests/interop: the independent yamux peer
  # tests/interop: the independent v1 handshake peer (Go protobuf runtime, X25519, HKDF, ChaCha)
  golang-google-protobuf-dev golang-golang-x-crypto-dev
  golang-github-gorilla-websocket-dev  # tests/interop: the independent v1 client's WebSocket
  python3 python3-websockets  # tests/interop: the independent WebSocket peer
  curl               # tests check the HTTP surface with curl
  redis-server       # tests/directory: the Redis directory plugin against a real server
  openssl            # tests check key-file interop with `openssl genpkey` / `openssl pkey`
  gnuplot-nox        # bench/run's plot
  emscripten         # the wasm preset: the cores and the JS SDK (docs/javascript.md)
  # dpkg-dev (above) also gives dpkg-source, which `apt-get source` needs (build-wasm-deps.sh)
  nodejs             # runs the wasm tests and the JS SDK's tests
  chromium           # the browser path's end-to-end test (tests/js/browser.test.mjs)
  # scripts/test-packages.sh: a debootstrap root booted with systemd-nspawn
  debootstrap systemd-container
  # scripts/test-container.sh: podman with runc (crun fails on hybrid cgroups, docs/deploy.md)
  podman runc
)
# npm (the JS tests' packages): Debian's package, unless a Node distribution that ships its own
# npm is installed already.
command -v npm >/dev/null 2>&1 || packages+=(npm)

if [ "${1:-}" = "--build" ]; then
  packages=("${build_packages[@]}")
elif [ "${1:-}" = "--bench" ]; then
  packages=("${build_packages[@]}" "${bench_packages[@]}")
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--build | --bench]" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then as_root=(sudo); else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
