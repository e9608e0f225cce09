#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian packages of BUILD_DIR (cpack -G DEB), installs them into a fresh Debian 12
# root, boots that root with systemd-nspawn and checks that the packaged unit runs the relay:
#
#   scripts/test-packages.sh BUILD_DIR
#
# Checks, each with a time bound, exit status 1 with one line on the first failure:
#   - dpkg -i of libportal0, portal-relay and portal (apt-get -f install fetches what they depend
#     on; libportal-dev's dependencies are resolved with apt-get -s, or it is installed too with
#     PORTAL_TEST_DEV_PACKAGE=1), the binaries resolve libportal.so.0 and find the plugins under
#     /usr/lib/portal/plugins;
#   - systemd-analyze verify of portal-relay.service, in the booted root;
#   - the unit was enabled by the package and started at boot, as a dynamic (non-root) user;
#   - /healthz answers (from the host: the container shares the host's network; the relay listens
#     on a free loopback port given by a drop-in) and from inside the container;
#   - /var/lib/portal/identity.key was created 0600, and the identity survives a restart;
#   - `systemctl reload` reaches the relay (SIGHUP);
#   - TLS with LoadCredential= (the drop-in of docs/deploy.md): https /healthz with the
#     certificate passed by systemd.
# The base root is debootstrapped once and cached (scripts/cached-rootfs.sh); each run works on
# a copy in a temporary folder that is removed at the end, with the machine stopped.
# Needs root, debootstrap, systemd-container (systemd-nspawn), dpkg-dev, curl, openssl, python3.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tag="test-packages"

fail() {
  echo "$tag: FAILED: $*" >&2
  exit 1
}
step() { echo "$tag: [$((SECONDS))s] $*"; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, systemd-nspawn)"
for tool in cpack dpkg-deb systemd-nspawn nsenter curl openssl python3 timeout; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (scripts/install-deps.sh)"
done

work=""
nspawn_pid=""
cleanup() {
  local status=$?
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    # systemd-nspawn asks the container's systemd to power off on SIGTERM.
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$nspawn_pid" 2>/dev/null; then
      echo "$tag: the machine did not power off in 30 s; killing it" >&2
      kill -KILL "$nspawn_pid" 2>/dev/null || true
    fi
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  if [ -n "$work" ]; then
    if [ $status -ne 0 ] && [ -f "$work/boot.log" ]; then
      echo "$tag: the end of the machine's console:" >&2
      tail -n 30 "$work/boot.log" >&2 || true
    fi
    # Anything still mounted under the copy (there should be nothing) is detached first.
    if grep -q " $work/" /proc/mounts; then
      grep " $work/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l || true
    fi
    rm -rf "$work"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# 1. The packages.
start=$SECONDS
step "cpack -G DEB in $build"
rm -f "$build"/packages/*.deb
(cd "$build" && timeout 1800 cpack -G DEB >"$build/cpack.log" 2>&1) ||
  { tail -n 20 "$build/cpack.log" >&2; fail "cpack -G DEB (log: $build/cpack.log)"; }
debs=("$build"/packages/*.deb)
[ ${#debs[@]} -eq 4 ] || fail "expected 4 packages in $build/packages, found ${#debs[@]}"
for d in "${debs[@]}"; do
  step "  $(basename "$d")  $(du -k "$d" | cut -f1) KiB  Depends: $(dpkg-deb -f "$d" Depends)"
done

# 2. A fresh copy of the cached base root.
base=$("$here/cached-rootfs.sh" systemd,systemd-sysv,curl) || fail "cannot make the base root"
work=$(mktemp -d /var/tmp/portal-test-packages.XXXXXX)
root="$work/root"
step "copying $base"
cp -a "$base" "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Packages apt downloaded in earlier runs (the dependencies), so that a warm run fetches nothing.
archives="${PORTAL_CACHE:-$HOME/.cache/portal}/apt-archives/$(basename "$base")"
mkdir -p "$archives"
cp "$archives"/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
mkdir -p "$root/tmp/debs"
cp "${debs[@]}" "$root/tmp/debs/"

# 3. dpkg -i, and apt-get for what is missing. No systemd runs in the chroot, so the postinst
# only enables the unit (it starts at boot).
in_root() { timeout 600 chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
# The three runtime packages are installed. libportal-dev pulls in a compiler, Boost and the
# other -dev packages (two minutes of unpacking): by default its dependencies are only resolved
# (apt-get -s); PORTAL_TEST_DEV_PACKAGE=1 installs it too.
install_debs=(libportal0_ portal-relay_ portal_)
[ "${PORTAL_TEST_DEV_PACKAGE:-0}" = 1 ] && install_debs+=(libportal-dev_)
install_list=""
for prefix in "${install_debs[@]}"; do install_list+=" /tmp/debs/$prefix*.deb"; done
# A throwaway root: dpkg need not sync every file.
unsafe=(-o "Dpkg::Options::=--force-unsafe-io")
step "dpkg -i ${#install_debs[@]} packages"
if ! in_root sh -c "dpkg --force-unsafe-io -i $install_list" >"$work/dpkg.log" 2>&1; then
  grep -q "dependency problems" "$work/dpkg.log" ||
    { cat "$work/dpkg.log" >&2; fail "dpkg -i failed for another reason than missing dependencies"; }
  step "apt-get -f install (dependencies)"
  if ! in_root apt-get "${unsafe[@]}" -f install -y -qq >"$work/apt.log" 2>&1; then
    in_root apt-get update -qq >>"$work/apt.log" 2>&1 || true
    in_root apt-get "${unsafe[@]}" -f install -y -qq >>"$work/apt.log" 2>&1 ||
      { tail -n 20 "$work/apt.log" >&2; fail "apt-get -f install"; }
  fi
fi
cp "$root"/var/cache/apt/archives/*.deb "$archives/" 2>/dev/null || true
installed=(libportal0 portal-relay portal)
if [ "${PORTAL_TEST_DEV_PACKAGE:-0}" = 1 ]; then
  installed+=(libportal-dev)
else
  in_root sh -c 'apt-get install -s /tmp/debs/libportal-dev_*.deb' >"$work/dev.log" 2>&1 ||
    { tail -n 20 "$work/dev.log" >&2; fail "the dependencies of libportal-dev do not resolve"; }
  grep -q "^Inst libportal-dev " "$work/dev.log" || fail "apt-get -s would not install libportal-dev"
  step "libportal-dev: its dependencies resolve (apt-get -s; PORTAL_TEST_DEV_PACKAGE=1 installs it)"
fi
for p in "${installed[@]}"; do
  status=$(in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || fail "package $p is '$status', not installed"
done
in_root dpkg-query -L portal-relay | grep -qx /etc/portal/relay.json || fail "relay.json not in portal-relay"
[ "$(cat "$root/var/lib/dpkg/info/portal-relay.conffiles")" = /etc/portal/relay.json ] ||
  fail "/etc/portal/relay.json is not a conffile"
[ -L "$root/etc/systemd/system/multi-user.target.wants/portal-relay.service" ] ||
  fail "the package did not enable portal-relay.service"

# 4. The test's own drop-in: the relay listens on free loopback ports of the shared network.
port=$(free_port)
tls_port=$(free_port)
mkdir -p "$root/etc/systemd/system/portal-relay.service.d"
cat >"$root/etc/systemd/system/portal-relay.service.d/test-port.conf" <<EOF
[Service]
ExecStart=
ExecStart=/usr/bin/portal-relay --config /etc/portal/relay.json --listen ws://127.0.0.1:$port/relay
EOF
# The TLS drop-in of docs/deploy.md, enabled later: a self-signed pair only root can read.
mkdir -p "$root/etc/portal/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$root/etc/portal/tls/relay.key" -out "$root/etc/portal/tls/relay.pem" \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || fail "openssl req"
chmod 600 "$root/etc/portal/tls/relay.key"
cat >"$work/tls.conf" <<EOF
[Service]
LoadCredential=tls.crt:/etc/portal/tls/relay.pem
LoadCredential=tls.key:/etc/portal/tls/relay.key
ExecStart=
ExecStart=/usr/bin/portal-relay --config /etc/portal/relay.json --tls-cert %d/tls.crt --tls-key %d/tls.key --listen ws://127.0.0.1:$port/relay --listen wss://127.0.0.1:$tls_port/relay
EOF

# 5. Boot.
step "booting the root with systemd-nspawn -b (relay on 127.0.0.1:$port)"
machine="portal-pkgtest-$$"
# No machined and no systemd as PID 1 on every host: --register=no --keep-unit need neither.
systemd-nspawn -D "$root" -b -M "$machine" --register=no --keep-unit --console=read-only \
  >"$work/boot.log" 2>&1 </dev/null &
nspawn_pid=$!
# The container's PID 1 is the process named systemd under the nspawn processes.
leader=""
for _ in $(seq 1 60); do
  kill -0 "$nspawn_pid" 2>/dev/null || fail "systemd-nspawn exited during boot"
  # A direct child, or a grandchild when nspawn keeps an intermediate process.
  leader=$(pgrep -P "$nspawn_pid" -x systemd || true)
  for child in $(pgrep -P "$nspawn_pid" || true); do
    [ -n "$leader" ] && break
    leader=$(pgrep -P "$child" -x systemd || true)
  done
  [ -n "$leader" ] && break
  sleep 0.5
done
[ -n "$leader" ] || fail "no systemd inside the machine after 30 s"
in_machine() { timeout 60 nsenter -t "$leader" -a env LC_ALL=C "$@"; }

wait_active() {
  local state=""
  for _ in $(seq 1 120); do
    state=$(in_machine systemctl is-active portal-relay.service 2>/dev/null || true)
    [ "$state" = active ] && return 0
    [ "$state" = failed ] && break
    sleep 0.5
  done
  in_machine systemctl status --no-pager -l portal-relay.service >&2 || true
  in_machine journalctl --no-pager -u portal-relay.service >&2 || true
  fail "portal-relay.service is '$state', not active"
}
healthz() { # URL [curl options]
  local url=$1 out=""
  shift
  for _ in $(seq 1 40); do
    out=$(curl -fsS --max-time 2 "$@" "$url" 2>/dev/null || true)
    [ "$out" = '{"status":"ok"}' ] && return 0
    sleep 0.25
  done
  fail "$url answered '$out'"
}

# The programs as installed (with /proc, which they use to find their plugins).
for bin in /usr/bin/portal-relay /usr/bin/portal; do
  if in_machine ldd "$bin" | grep -q "not found"; then
    in_machine ldd "$bin" >&2
    fail "$bin: a library is not found"
  fi
done
in_machine portal --version >/dev/null || fail "portal --version"
plugins=$(in_machine portal-relay --list-plugins) ||
  { echo "$plugins" >&2; fail "portal-relay --list-plugins refused a file"; }
for id in portal.transport.ws portal.transport.tcp portal.mux.yamux portal.cipher.chacha20-poly1305; do
  grep -q "^plugin  $id .* /usr/lib/portal/plugins/" <<<"$plugins" ||
    { echo "$plugins" >&2; fail "plugin $id not found in /usr/lib/portal/plugins"; }
done
step "libportal.so.0 and the plugins in /usr/lib/portal/plugins are found"

wait_active
step "portal-relay.service is active"
in_machine systemctl is-enabled portal-relay.service | grep -qx enabled || fail "the unit is not enabled"
if ! verify=$(in_machine systemd-analyze verify portal-relay.service 2>&1); then
  echo "$verify" >&2
  fail "systemd-analyze verify portal-relay.service"
fi
if grep -i "portal-relay" <<<"$verify"; then fail "systemd-analyze verify warns about the unit"; fi
step "systemd-analyze verify: no complaint about portal-relay.service"

healthz "http://127.0.0.1:$port/healthz"
step "/healthz from the host: ok"
inside=$(in_machine curl -fsS --max-time 5 "http://127.0.0.1:$port/healthz") || fail "curl inside the machine"
[ "$inside" = '{"status":"ok"}' ] || fail "/healthz inside the machine answered '$inside'"
step "/healthz from inside the machine: ok"

pid=$(in_machine systemctl show -P MainPID portal-relay.service)
uid=$(in_machine awk '/^Uid:/{print $2}' "/proc/$pid/status")
[ -n "$uid" ] && [ "$uid" -ne 0 ] || fail "the relay runs as uid '$uid'"
step "the relay runs as the dynamic user $uid"

key=/var/lib/private/portal/identity.key
[ -L "$root/var/lib/portal" ] || fail "/var/lib/portal is not the StateDirectory link of a DynamicUser"
[ -f "$root$key" ] || fail "$key was not created"
mode=$(stat -c %a "$root$key")
[ "$mode" = 600 ] || fail "$key has mode $mode, not 600"
id_before=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/api/relay" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || fail "/api/relay"
step "identity key created 0600 in /var/lib/portal (identity $id_before)"

in_machine systemctl reload portal-relay.service || fail "systemctl reload"
for _ in $(seq 1 20); do
  in_machine journalctl --no-pager -u portal-relay.service | grep -q "received SIGHUP" && break
  sleep 0.25
done
in_machine journalctl --no-pager -u portal-relay.service | grep -q "received SIGHUP" ||
  fail "systemctl reload did not reach the relay"
step "systemctl reload: the relay got SIGHUP"

# 6. TLS through LoadCredential=, and the identity across a restart.
cp "$work/tls.conf" "$root/etc/systemd/system/portal-relay.service.d/test-tls.conf"
in_machine systemctl daemon-reload || fail "daemon-reload"
in_machine systemctl restart portal-relay.service || true
wait_active
healthz "https://127.0.0.1:$tls_port/healthz" --cacert "$root/etc/portal/tls/relay.pem"
step "TLS with LoadCredential=: https /healthz ok"
id_after=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/api/relay" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || fail "/api/relay"
[ "$id_before" = "$id_after" ] || fail "the identity changed across a restart ($id_before, $id_after)"
step "the identity survived a restart"

step "all checks passed in $((SECONDS - start)) s; stopping the machine"
