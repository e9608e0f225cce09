#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Descriptor exhaustion against a portal-relay binary (loopback only, bounded: 400 connections, 2 s):
#   bench/attacks/descriptor_flood.py <portal-relay> <plugin dir>
# Prints the relay CPU-seconds used during the flood (the relay runs at ulimit -n 128).
import socket, subprocess, sys, time, os, re
relay = sys.argv[1]; plugins = sys.argv[2]
import resource
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
import tempfile, atexit
cfg = os.path.join(tempfile.mkdtemp(prefix="portal-attack-"), "relay.json")
open(cfg, "w").write('{"limits": {"max_connections_per_ip": 100000}}')
p = subprocess.Popen(["bash", "-c", 'ulimit -n 128; exec "$0" "$@"', relay, "--config", cfg, "--listen", "ws://127.0.0.1:0/relay", "--listen", "tcp://127.0.0.1:0", "--plugin-dir", plugins], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
atexit.register(lambda: p.poll() is None and p.kill())
port = None
while port is None:
    line = p.stdout.readline()
    m = re.match(r"listening ws://127.0.0.1:(\d+)", line)
    if m: port = int(m.group(1))
def cpu():
    f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
c0 = cpu()
socks = []
for i in range(400):
    s = socket.create_connection(("127.0.0.1", port)); socks.append(s)
time.sleep(2)
c1 = cpu()
print(f"relay CPU during 2 s flood: {c1 - c0:.2f} s")
for s in socks: s.close()
time.sleep(0.5)
c2 = cpu()
try:
    out = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{port}/healthz"], capture_output=True, text=True).stdout
    print("healthz after:", out)
except Exception as e: print(e)
p.terminate(); p.wait()
