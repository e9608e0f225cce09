#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A peer that floods yamux pings and never reads, against a portal-relay binary (loopback only,
# bounded: 64 MiB or 15 s):  bench/attacks/ping_flood.py <portal-relay> <plugin dir>
# Prints what was sent, the relay RSS growth and its CPU-seconds.
import socket, subprocess, sys, time, os, re
relay = sys.argv[1]; plugins = sys.argv[2]
import tempfile, atexit
cfg = os.path.join(tempfile.mkdtemp(prefix="portal-attack-"), "relay.json"); open(cfg, "w").write("{}")
p = subprocess.Popen([relay, "--config", cfg, "--listen", "ws://127.0.0.1:0/relay", "--listen", "tcp://127.0.0.1:0", "--plugin-dir", plugins], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
atexit.register(lambda: p.poll() is None and p.kill())
port = None
while port is None:
    m = re.match(r"listening tcp://127.0.0.1:(\d+)", p.stdout.readline())
    if m: port = int(m.group(1))
time.sleep(0.3)
def rss():
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1])
def cpu():
    f = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
r0 = rss(); c0 = cpu()
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(0.2)
frame = bytes([0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]); chunk = frame * 5461
sent = 0; peak = r0; t0 = time.time()
while sent < 64 * 1024 * 1024 and time.time() - t0 < 15:
    try: sent += s.send(chunk)
    except socket.timeout: pass
    except OSError: break
    peak = max(peak, rss())
print(f"sent {sent/1048576:.0f} MiB in {time.time()-t0:.1f} s; RSS {r0} KiB -> peak {peak} KiB (+{(peak-r0)/1024:.1f} MiB); CPU {cpu()-c0:.2f} s")
p.terminate(); p.wait()
