#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prints the folder of a Debian 12 (bookworm) root made with `debootstrap --variant=minbase`,
# creating it on first use and keeping it under ${PORTAL_CACHE:-~/.cache/portal}/rootfs/,
# keyed by the package list (so a changed list makes a new root). Callers copy it; never change
# the cached folder itself. Used by scripts/test-packages.sh and scripts/test-container.sh.
#
#   scripts/cached-rootfs.sh [PACKAGE,PACKAGE,...]     # extra packages (debootstrap --include)
#
# The root's apt sources are bookworm, bookworm-updates and bookworm-security, with their lists
# fetched when the root was made. Mirror: PORTAL_DEBIAN_MIRROR (default http://deb.debian.org/debian).
# Runs as root. Takes about 1.5 minutes the first time, nothing afterwards.
set -euo pipefail

include="${1:-}"
mirror="${PORTAL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${PORTAL_CACHE:-$HOME/.cache/portal}/rootfs"
# The recipe's version: bump it when the way the root is made changes.
recipe="portal-rootfs-1 bookworm minbase include=${include}"
key=$(printf '%s' "$recipe" | sha256sum | cut -c1-12)
root="$cache/bookworm-minbase-$key"

if [ -f "$root/.portal-rootfs-complete" ]; then
  echo "$root"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "cached-rootfs: debootstrap needs root" >&2
  exit 1
fi
command -v debootstrap >/dev/null 2>&1 || {
  echo "cached-rootfs: debootstrap is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
}

mkdir -p "$cache"
# One creator at a time; a second caller waits and then finds the finished root.
exec 9>"$cache/.lock"
flock -w 900 9 || { echo "cached-rootfs: timed out waiting for $cache/.lock" >&2; exit 1; }
if [ -f "$root/.portal-rootfs-complete" ]; then
  echo "$root"
  exit 0
fi

tmp="$root.partial"
# A debootstrap killed by its timeout can leave proc/sys (and dev) mounted inside the partial
# root: unmount them before removing it, and never cross into another file system.
discard_partial() {
  if grep -q " $tmp/" /proc/mounts; then
    grep " $tmp/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l || true
  fi
  rm -rf --one-file-system "$tmp"
}
discard_partial
args=(--variant=minbase)
[ -n "$include" ] && args+=("--include=$include")
echo "cached-rootfs: debootstrap ${args[*]} bookworm (first use of this package list)" >&2
if ! timeout 900 debootstrap "${args[@]}" bookworm "$tmp" "$mirror" >"$cache/debootstrap-$key.log" 2>&1; then
  echo "cached-rootfs: debootstrap failed; the end of $cache/debootstrap-$key.log:" >&2
  tail -n 20 "$cache/debootstrap-$key.log" >&2
  discard_partial
  exit 1
fi
security="${PORTAL_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
cat >"$tmp/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
cp /etc/resolv.conf "$tmp/etc/resolv.conf"
if ! timeout 300 chroot "$tmp" apt-get update -qq >>"$cache/debootstrap-$key.log" 2>&1; then
  echo "cached-rootfs: apt-get update in the new root failed (see $cache/debootstrap-$key.log)" >&2
  discard_partial
  exit 1
fi
rm -f "$tmp/var/cache/apt/archives/"*.deb
printf '%s\n' "$recipe" >"$tmp/.portal-rootfs-complete"
mv "$tmp" "$root"
echo "cached-rootfs: made $root" >&2
echo "$root"
