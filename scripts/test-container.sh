#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the container image's runtime stage from the .debs of BUILD_DIR (no second compile),
# runs it, and checks it from the host:
#
#   scripts/test-container.sh BUILD_DIR
#
#   - the base image is a local `debootstrap --variant=minbase bookworm` root imported into
#     podman (no registry is needed), cached like the root itself;
#   - `podman build --format docker --target runtime-debs --build-arg BASE=localhost/...`;
#   - the image carries the HEALTHCHECK, and `podman healthcheck run` passes;
#   - `podman run -p 127.0.0.1:PORT:4017`, /healthz answers from the host;
#   - the relay runs as a non-root user and created its identity key 0600 in /var/lib/portal;
#   - `portal expose` inside the container registers a lease that /api/leases lists.
# podman runs with .ci/containers.conf (runc, ulimits) and keeps its storage under
# ${PORTAL_CACHE:-~/.cache/portal}/containers, never in /var/lib/containers. Every wait is
# bounded; the container and its volume are removed at the end (the images stay, as a cache).
# Needs root; installs podman and runc when they are missing.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
tag="test-container"

fail() {
  echo "$tag: FAILED: $*" >&2
  exit 1
}
step() { echo "$tag: [$((SECONDS))s] $*"; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, podman)"
missing=()
for p in podman runc; do
  command -v "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]}"
fi
for tool in cpack curl python3 timeout; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (scripts/install-deps.sh)"
done

# podman's configuration and storage: the project's CI folder and the cache, nothing in /etc or
# /var/lib/containers.
cache="${PORTAL_CACHE:-$HOME/.cache/portal}/containers"
mkdir -p "$cache"
cat >"$cache/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$cache/storage"
runroot = "$cache/run"
EOF
export CONTAINERS_CONF="$src/.ci/containers.conf"
export CONTAINERS_STORAGE_CONF="$cache/storage.conf"
pod() { timeout "${POD_TIMEOUT:-120}" podman "$@"; }

work=""
container=""
cleanup() {
  local status=$?
  if [ -n "$container" ]; then
    if [ $status -ne 0 ]; then
      echo "$tag: the container's log:" >&2
      pod logs "$container" 2>&1 | tail -n 30 >&2 || true
    fi
    pod rm -f -v "$container" >/dev/null 2>&1 || true
  fi
  [ -n "$work" ] && rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work=$(mktemp -d /var/tmp/portal-test-container.XXXXXX)
start=$SECONDS

# 1. The .debs: the build tree's when nothing they are made of (programs, libraries, plugins,
#    browser files, the packaging files) changed after the oldest of them, otherwise cpack.
debs=("$build"/packages/*.deb)
fresh=yes
if [ ${#debs[@]} -ne 4 ] || [ ! -e "${debs[0]}" ]; then fresh=no; else
  oldest=$(ls -tr "${debs[@]}" | head -1)
  inputs=("$build/bin" "$build/lib" "$src/packaging" "$src/cmake/PortalPackaging.cmake")
  [ -d "$src/build/wasm/frontend" ] && inputs+=("$src/build/wasm/frontend")
  if [ -n "$(find "${inputs[@]}" -newer "$oldest" -print -quit)" ]; then fresh=no; fi
fi
if [ $fresh = no ]; then
  step "cpack -G DEB in $build"
  rm -f "$build"/packages/*.deb
  (cd "$build" && timeout 1800 cpack -G DEB >"$build/cpack.log" 2>&1) ||
    { tail -n 20 "$build/cpack.log" >&2; fail "cpack -G DEB (log: $build/cpack.log)"; }
  debs=("$build"/packages/*.deb)
fi
[ ${#debs[@]} -eq 4 ] || fail "expected 4 packages in $build/packages, found ${#debs[@]}"
mkdir -p "$work/context/debs"
cp "${debs[@]}" "$work/context/debs/"

# 2. The base image, from the cached debootstrap root.
root=$("$here/cached-rootfs.sh" "") || fail "cannot make the base root"
base="localhost/portal-base:bookworm-${root##*-}-2"
if ! pod image exists "$base"; then
  step "importing $root as $base"
  # Without apt's lists and caches (as Debian's own images): each stage fetches fresh lists.
  tar -C "$root" --exclude=./.portal-rootfs-complete --exclude='./var/lib/apt/lists/*' \
    --exclude='./var/cache/apt/*' -c . |
    POD_TIMEOUT=600 pod import - "$base" >/dev/null || fail "podman import"
fi

# 3. The runtime stage from the .debs.
image="localhost/portal-relay:test"
step "podman build --target runtime-debs (BASE=$base)"
# The host's network for the build: apt-get fetches curl and the packages' dependencies.
if ! POD_TIMEOUT=900 pod build --format docker --network host --target runtime-debs \
  --build-arg "BASE=$base" -t "$image" -f "$src/Containerfile" "$work/context" \
  >"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log" >&2
  fail "podman build"
fi
health=$(pod image inspect --format '{{json .Config.Healthcheck}}' "$image")
grep -q "/healthz" <<<"$health" || fail "the image has no HEALTHCHECK on /healthz: $health"
size=$(pod image inspect --format '{{.Size}}' "$image")
step "image $image: $((size / 1024 / 1024)) MiB, HEALTHCHECK $health"

# 4. Run it with a free loopback port of the host.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
container="portal-test-$$"
# podman cannot arm the periodic health check without systemd as PID 1 and says so on
# stderr; `podman healthcheck run` below runs the check itself.
pod run -d --name "$container" -p "127.0.0.1:$port:4017" "$image" >/dev/null 2>"$work/run.log" ||
  { cat "$work/run.log" >&2; fail "podman run"; }
out=""
for _ in $(seq 1 120); do
  out=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null || true)
  [ "$out" = '{"status":"ok"}' ] && break
  [ "$(pod inspect --format '{{.State.Running}}' "$container")" = true ] ||
    fail "the container stopped"
  sleep 0.5
done
[ "$out" = '{"status":"ok"}' ] || fail "http://127.0.0.1:$port/healthz answered '$out'"
step "/healthz from the host through 127.0.0.1:$port: ok"

pod healthcheck run "$container" >/dev/null || fail "podman healthcheck run"
step "the image's HEALTHCHECK passes"
uid=$(pod exec "$container" id -u)
[ "$uid" -ne 0 ] || fail "the relay runs as root"
mode=$(pod exec "$container" stat -c %a /var/lib/portal/identity.key) ||
  fail "no /var/lib/portal/identity.key"
[ "$mode" = 600 ] || fail "/var/lib/portal/identity.key has mode $mode"
step "runs as uid $uid; identity key 0600 in the /var/lib/portal volume"

# 5. The client in the same image: a lease through the relay.
pod exec -d "$container" portal expose --relay ws://127.0.0.1:4017/relay \
  --target 127.0.0.1:9 --name container-test >/dev/null || fail "podman exec portal expose"
leases=""
for _ in $(seq 1 40); do
  leases=$(curl -fsS --max-time 2 "http://127.0.0.1:$port/api/leases" 2>/dev/null || true)
  grep -q '"container-test"' <<<"$leases" && break
  sleep 0.25
done
grep -q '"container-test"' <<<"$leases" || fail "portal expose: no lease in /api/leases: $leases"
step "portal expose inside the container: the lease is listed"

step "all checks passed in $((SECONDS - start)) s"
