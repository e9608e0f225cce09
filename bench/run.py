#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs every Portal benchmark and summarises them (called by bench/run, which builds first).

Each bench program is run as a child in a process group of its own, bounded in time, and
prints one JSON object per row (--json, or google-benchmark's JSON for the cipher). Every row
is the median of --runs runs, shown with the minimum and maximum. The summary is a Markdown
table on stdout; the JSON (every value of every run, and the summary) goes to --out, and a PNG
plot of aggregate throughput against concurrent streams (gnuplot) next to it.

Python 3 standard library only.
"""

import argparse
import atexit
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Sizes per mode. The full run stays near 15 minutes on a 2-core machine, the quick one near
# a minute.
SIZES = {
    "full": dict(bulk_mib=1024, stream_mib=512, streams="1,8,64", rtts=2000, seq=500, par=1000,
                 budget=10, relay_mib=1024, idle="1000,10000", cipher_min_time=0.3,
                 timeout=900),
    "quick": dict(bulk_mib=64, stream_mib=64, streams="1,8,64", rtts=300, seq=100, par=200,
                  budget=3, relay_mib=128, idle="1000", cipher_min_time=0.05, timeout=180),
}

# The reference figures (issue 20): the original Go v1 on this machine class, and the
# targets. Not measured here; printed next to this run's numbers.
V1 = {
    "bulk_ws": "185 / 200 MB/s",
    "bulk_tcp": "—",
    "conn_ws": "~330 /s, p50 2.7 ms",
    "conn_tcp": "—",
    "idle": "~76 KB",
    "cpu": "3–4 CPU-s/GiB",
}
TARGET = {
    "bulk_ws": "≥ 600 MB/s both ways",
    "bulk_tcp": "≥ 800 MB/s",
    "conn_ws": "≥ 1,000 /s",
    "conn_tcp": "≥ 1,000 /s",
    "idle": "≤ 8 KiB",
    "cpu": "≤ 1.1× on both",
}

_live = []  # process groups of the children still running


def _kill_live():
    for pgid in list(_live):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _live.remove(pgid)


def _on_signal(signum, _frame):
    _kill_live()
    sys.stderr.write(f"bench/run: stopped by signal {signum}; children killed\n")
    sys.exit(128 + signum)


class BenchError(Exception):
    pass


def log(msg):
    sys.stderr.write(f"bench/run: {msg}\n")
    sys.stderr.flush()


def run_child(cmd, timeout, what):
    """Runs cmd in its own process group; returns its stdout. Raises BenchError on a timeout
    or a non-zero exit. The whole group (the relay and holder it started) is killed after."""
    log(f"{what}: {' '.join(cmd)}")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True, text=True)
    _live.append(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise BenchError(f"{what}: no result after {timeout} s (killed)\n{tail(err)}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
        except ProcessLookupError:
            pass
        if proc.pid in _live:
            _live.remove(proc.pid)
    if proc.returncode != 0:
        raise BenchError(f"{what}: exit status {proc.returncode}\n{tail(err)}")
    log(f"{what}: done in {time.monotonic() - start:.1f} s")
    return out


def tail(text, lines=15):
    rows = (text or "").strip().splitlines()
    return "\n".join("    " + r for r in rows[-lines:]) or "    (no output on stderr)"


def json_lines(out, what):
    rows = []
    for n, line in enumerate(out.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise BenchError(f"{what}: line {n} is not JSON ({e}): {line[:200]!r}")
        if not isinstance(row, dict) or "table" not in row:
            raise BenchError(f"{what}: line {n} is not a row: {line[:200]!r}")
        rows.append(row)
    if not rows:
        raise BenchError(f"{what}: printed no rows")
    return rows


def cipher_rows(out, what):
    try:
        doc = json.loads(out)
        benchmarks = doc["benchmarks"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise BenchError(f"{what}: unparsable google-benchmark JSON ({e})")
    impls = {0: "cipher-chacha (Crypto++), plugin", 1: "cipher-chacha (Crypto++), static",
             2: "cipher-openssl chacha20-poly1305", 3: "cipher-openssl aes-256-gcm"}
    rows = []
    for b in benchmarks:
        if b.get("error_occurred"):
            raise BenchError(f"{what}: {b.get('name')}: {b.get('error_message')}")
        name = b["name"]  # BM_Seal/bytes:16384/impl:2 or BM_MemcpyBaseline/bytes:16384
        parts = dict(p.split(":", 1) for p in name.split("/")[1:] if ":" in p)
        op = name.split("/")[0][3:]
        size = int(parts["bytes"])
        if op == "MemcpyBaseline":
            row, op = "memcpy (baseline)", "copy"
        else:
            row, op = impls[int(parts["impl"])], op.lower()
        rows.append({"bench": "cipher", "table": "cipher", "row": row, "op": op, "bytes": size,
                     "GBps": float(b["GB/s"]) / 1e0})
    if not rows:
        raise BenchError(f"{what}: no benchmarks in the output")
    return rows


def machine_info(build_dir):
    info = {"host": socket.gethostname(), "cpus": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    info["os"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cxx = None
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_CXX_COMPILER:"):
                    cxx = line.split("=", 1)[1].strip()
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    info["build_type"] = line.split("=", 1)[1].strip()
    except OSError:
        pass
    if cxx:
        try:
            v = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=10)
            info["compiler"] = v.stdout.splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            info["compiler"] = cxx
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        info["commit"] = rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    info["load_before"] = os.getloadavg()[0]
    return info


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard, f"raised the descriptor soft limit from {soft} to the hard limit {hard}"
        except (ValueError, OSError) as e:
            return soft, f"cannot raise the descriptor soft limit {soft} to {hard}: {e}"
    return soft, f"descriptor limit {soft} (already the hard limit)"


def detect_threads(relay_bin, key="threads"):
    """Whether portal-relay accepts a top-level `threads` key: --check-config on a config with
    it, against the same check of an empty config. Returns (accepted, explanation)."""
    with tempfile.TemporaryDirectory(prefix="portal-bench-run-") as d:
        results = {}
        for name, doc in (("empty", {}), ("threads", {key: 1})):
            path = os.path.join(d, name + ".json")
            with open(path, "w") as f:
                json.dump(doc, f)
            try:
                r = subprocess.run([relay_bin, "--check-config", path], capture_output=True,
                                   text=True, timeout=60, stdin=subprocess.DEVNULL)
                results[name] = (r.returncode, (r.stdout + r.stderr).strip())
            except (OSError, subprocess.SubprocessError) as e:
                results[name] = (-1, str(e))
    if results["empty"][0] != 0:
        return False, ("cannot tell: portal-relay --check-config refuses even an empty config: "
                       + results["empty"][1].replace("\n", "; "))
    if results["threads"][0] == 0:
        return True, f'portal-relay accepts "{key}"'
    return False, (f'portal-relay does not accept a "{key}" key yet ('
                   + results["threads"][1].replace("\n", "; ")
                   + "): every row runs with the relay's default")


def summarise(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "values": vals}


def fmt(s, digits=0, unit=""):
    """median (min–max) of a summary."""
    if s is None:
        return "-"
    def f(v):
        return f"{v:,.{digits}f}"
    if len(s["values"]) == 1 or f(s["min"]) == f(s["max"]):
        return f"{f(s['median'])}{unit}"
    return f"{f(s['median'])}{unit} ({f(s['min'])}–{f(s['max'])})"


class Results:
    """Rows by key; each key holds one dict of metrics per run."""

    def __init__(self):
        self.rows = {}  # key tuple -> {"fields": {...}, "runs": [metrics...]}

    def add(self, key, fields, metrics):
        entry = self.rows.setdefault(key, {"fields": fields, "runs": []})
        entry["runs"].append(metrics)

    def get(self, key, metric):
        entry = self.rows.get(key)
        if not entry:
            return None
        return summarise([m.get(metric) for m in entry["runs"]])

    def keys(self, table):
        """The table's keys: rows in the order first printed, then by threads and count."""
        keys = [k for k in self.rows if k[0] == table]
        first = {}
        for k in keys:
            first.setdefault(k[1], len(first))
        return sorted(keys, key=lambda k: (first[k[1]], str(k[2]), k[3]))


# The cipher table's ChaCha20-Poly1305 rows and the plugin file each one measures.
CHACHA_FILES = {"cipher-chacha (Crypto++), plugin": "portal-cipher-chacha.so",
                "cipher-openssl chacha20-poly1305": "portal-cipher-openssl.so"}


def fastest_chacha(res):
    best = max(CHACHA_FILES,
               key=lambda row: (res.get(("cipher", row, "seal", 16384), "GBps")
                                or {"median": 0})["median"])
    return CHACHA_FILES[best]


def ingest_cipher(res, rows):
    for r in rows:
        res.add(("cipher", r["row"], r["op"], r["bytes"]), r, {"GBps": r["GBps"]})


def ingest_e2e(res, info, rows, run, tl, suffix=""):
    for r in rows:
        table = r["table"]
        if suffix:
            if table == "info":
                continue
            r = dict(r, row=r["row"] + suffix)
        if table == "info":
            info.setdefault("ciphers", []).append(
                f"run {run}, threads {tl}: {r['cipher']}, dialer "
                f"{r.get('dialer_cipher_plugin', r.get('cipher_plugin', '?'))}, holder "
                f"{r.get('holder_cipher_plugin', '?')}")
            continue
        # Baselines do not touch the relay: their threads column is "-".
        rt = tl if r["transport"] not in ("direct", "copy") else "-"
        extra = r.get("streams", r.get("parallel", 0))
        res.add(("e2e-" + table, r["row"], rt, extra), dict(r, threads=rt), r)


def ingest_relay(res, notes, rows, tl):
    copy = next((r for r in rows if r["table"] == "bulk" and r["transport"] == "copy"), None)
    for r in rows:
        if r.get("error"):
            note = f"{r['row']} at {r['connections']:,}: {r['error']}"
            if note not in notes:
                notes.append(note)
        rt = tl if r["transport"] not in ("copy", "-") else "-"
        if r["table"] == "bulk":
            m = dict(r)
            if copy and r is not copy and copy["relay_cpu_s_per_GiB"] > 0:
                m["ratio_to_copy"] = r["relay_cpu_s_per_GiB"] / copy["relay_cpu_s_per_GiB"]
            res.add(("relay-bulk", r["row"], rt, 0), dict(r, threads=rt), m)
        else:
            res.add(("relay-idle", r["row"], rt, r["connections"]), dict(r, threads=rt), r)


def rerender(path):
    """--from-json: the Markdown and the plot again from a saved JSON file, nothing run."""
    with open(path) as f:
        doc = json.load(f)
    res, info, notes = Results(), dict(doc["machine"]), list(doc["notes"])
    info.pop("ciphers", None)
    groups = {}  # (bench, run, threads) -> rows, in the order they were printed
    for r in doc["raw"]:
        groups.setdefault((r["bench"], r["run"], r.get("threads")), []).append(r)
    for (bench, run, tl), rows in groups.items():
        if bench == "cipher":
            ingest_cipher(res, rows)
        elif bench == "e2e":
            ingest_e2e(res, info, rows, run, tl)
        else:
            ingest_relay(res, notes, rows, tl)
    now = datetime.datetime.fromisoformat(doc["date"])
    md = markdown(res, info, notes, doc["mode"], doc["runs"], now, doc["seconds"], None)
    print(md)
    stem = path[:-5] if path.endswith(".json") else path
    with open(stem + ".md", "w") as f:
        f.write(md + "\n")
    ok = plot(res, stem + ".png", info, now) if res.keys("e2e-streams") else True
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="Runs every Portal benchmark (real processes on loopback) and prints a "
                    "Markdown table; writes JSON and a PNG plot.")
    p.add_argument("--quick", action="store_true",
                   help="small sizes and one run (about a minute), for trying it out")
    p.add_argument("--runs", type=int, default=None,
                   help="runs per row; each row is their median (default 3, quick 1)")
    p.add_argument("--out", default=None,
                   help="JSON file (default bench/results/<date>-<host>.json); the plot and the "
                        "Markdown go next to it (.png, .md)")
    p.add_argument("--relay-threads", default="auto",
                   help="relay worker threads per row, e.g. 1,2 (a top-level \"threads\" key in "
                        "the relay config); 'auto' (default): 1,2 if the relay accepts the key, "
                        "'default': never set it")
    p.add_argument("--e2e-cipher", default="fastest",
                   help="the ChaCha20-Poly1305 plugin both ends of the E2EE rows load: 'fastest' "
                        "(default: the one the cipher table of this run measured fastest, by CPU "
                        "time), 'auto' (every plugin present; each process times them for a few "
                        "ms and takes the fastest, as client::assemble does), or a file name "
                        "such as portal-cipher-openssl.so")
    p.add_argument("--only", default="cipher,bulk,relay,idle,streams,rtt,conn,fleet",
                   help="tables to run (comma-separated; default all)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds each bench program may take (default 900, quick 180)")
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    p.add_argument("--no-build", action="store_true", help="(bench/run) do not build first")
    p.add_argument("--no-install", action="store_true",
                   help="(bench/run) do not install missing packages first")
    p.add_argument("--from-json", metavar="FILE",
                   help="run nothing: print the Markdown and redraw the plot from a JSON file "
                        "written before (its .md and .png are rewritten)")
    a = p.parse_args()
    if a.from_json:
        return rerender(a.from_json)

    mode = "quick" if a.quick else "full"
    size = dict(SIZES[mode])
    if a.timeout is not None:
        if a.timeout <= 0:
            p.error("--timeout must be positive")
        size["timeout"] = a.timeout
    runs = a.runs if a.runs is not None else (1 if a.quick else 3)
    if runs < 1:
        p.error("--runs must be at least 1")
    only = set(x for x in a.only.split(",") if x)
    unknown = only - {"cipher", "bulk", "relay", "idle", "streams", "rtt", "conn", "fleet"}
    if unknown:
        p.error(f"--only: unknown tables {sorted(unknown)}")

    bench_dir = os.path.join(a.build_dir, "bench")
    relay_bin = os.path.join(a.build_dir, "bin", "portal-relay")
    bins = {n: os.path.join(bench_dir, n)
            for n in ("portal-bench-cipher", "portal-bench-relay", "portal-bench-e2e")}
    for path in list(bins.values()) + [relay_bin]:
        if not os.access(path, os.X_OK):
            log(f"missing {path}: build the release preset first (bench/run does)")
            return 2

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    atexit.register(_kill_live)

    now = datetime.datetime.now(datetime.timezone.utc)
    info = machine_info(a.build_dir)
    fd_limit, fd_note = raise_fd_limit()
    notes = [fd_note]
    log(fd_note)

    # Relay threads.
    thread_settings = [None]  # None: the relay's default (no key)
    if a.relay_threads != "default":
        accepted, why = detect_threads(relay_bin)
        notes.append(why)
        log(why)
        if accepted:
            wanted = "1,2" if a.relay_threads == "auto" else a.relay_threads
            try:
                thread_settings = [int(x) for x in wanted.split(",") if x]
            except ValueError:
                p.error(f"--relay-threads: not a list of numbers: {wanted}")
            if not thread_settings or min(thread_settings) < 0:
                p.error("--relay-threads: give numbers (0: the relay's one per core)")

    def threads_label(t):
        return "default" if t is None else str(t)

    def relay_json(t):
        return [] if t is None else ["--relay-json", json.dumps({"threads": t})]

    res = Results()
    raw = []  # every row of every run, as the benches printed it
    e2e_cipher = None  # --cipher-file of portal-bench-e2e; None: every plugin present
    if a.e2e_cipher not in ("fastest", "auto"):
        e2e_cipher = a.e2e_cipher
        notes.append(f"E2EE rows: both ends load {e2e_cipher} only (--e2e-cipher)")
    elif a.e2e_cipher == "fastest" and "cipher" not in only:
        notes.append("E2EE rows: every cipher plugin present, each process takes the fastest "
                     "(--e2e-cipher fastest needs the cipher table)")
    elif a.e2e_cipher == "auto":
        notes.append("E2EE rows: every cipher plugin present, each process takes the fastest "
                     "(--e2e-cipher auto)")
    e2e_rows = [r for r in ("bulk", "streams", "rtt", "conn", "fleet") if r in only]
    started = time.monotonic()
    try:
        for run in range(1, runs + 1):
            log(f"run {run} of {runs} ({mode})")
            if "cipher" in only:
                what = f"cipher, run {run}"
                out = run_child([bins["portal-bench-cipher"], "--benchmark_format=json",
                                 "--benchmark_filter=/bytes:(16384|65536)",
                                 f"--benchmark_min_time={size['cipher_min_time']}"],
                                size["timeout"], what)
                rows = cipher_rows(out, what)
                raw.extend(dict(r, run=run) for r in rows)
                ingest_cipher(res, rows)
                if e2e_cipher is None and a.e2e_cipher == "fastest":
                    e2e_cipher = fastest_chacha(res)
                    note = (f"E2EE rows: both ends load {e2e_cipher} only, the ChaCha20-Poly1305 "
                            "plugin the cipher table of run 1 measured fastest (seal, 16 KiB)")
                    notes.append(note)
                    log(note)
            for t in thread_settings:
                tl = threads_label(t)
                if e2e_rows:
                    what = f"e2e, threads {tl}, run {run}"
                    cmd = [bins["portal-bench-e2e"], str(size["bulk_mib"]), "--json",
                           "--rows", ",".join(e2e_rows), "--streams", size["streams"],
                           "--stream-mib", str(size["stream_mib"]), "--rtts", str(size["rtts"]),
                           "--seq", str(size["seq"]), "--par", str(size["par"]),
                           "--budget", str(size["budget"])] + relay_json(t)
                    if e2e_cipher:
                        cmd += ["--cipher-file", e2e_cipher]
                    rows = json_lines(run_child(cmd, size["timeout"], what), what)
                    raw.extend(dict(r, run=run, threads=tl) for r in rows)
                    ingest_e2e(res, info, rows, run, tl)
                if "bulk" in e2e_rows:
                    # The negotiated channel with AES-256-GCM first at both ends (docs/adr/0014),
                    # over ws:// and tcp://, next to the default (ChaCha20-Poly1305) rows.
                    what = f"e2e AES-256-GCM, threads {tl}, run {run}"
                    cmd = [bins["portal-bench-e2e"], str(size["bulk_mib"]), "--json",
                           "--rows", "bulk", "--transports", "ws,tcp",
                           "--ciphers", "aes-256-gcm,chacha20-poly1305"] + relay_json(t)
                    if e2e_cipher:
                        cmd += ["--cipher-file", "portal-cipher-openssl.so"]  # AES's only plugin
                    rows = json_lines(run_child(cmd, size["timeout"], what), what)
                    raw.extend(dict(r, run=run, threads=tl, ciphers="aes-256-gcm") for r in rows)
                    ingest_e2e(res, info, rows, run, tl, " (AES-256-GCM)")
                relay_tables = ("relay" in only, "idle" in only and t == thread_settings[0])
                if any(relay_tables):
                    what = f"relay, threads {tl}, run {run}"
                    cmd = [bins["portal-bench-relay"],
                           str(size["relay_mib"] if relay_tables[0] else 0),
                           size["idle"] if relay_tables[1] else "0", "0", "--json"] + relay_json(t)
                    rows = json_lines(run_child(cmd, size["timeout"], what), what)
                    raw.extend(dict(r, run=run, threads=tl) for r in rows)
                    ingest_relay(res, notes, rows, tl)
    except BenchError as e:
        _kill_live()
        sys.stderr.write(f"bench/run: FAILED: {e}\n")
        return 1
    elapsed = time.monotonic() - started
    info["load_after"] = os.getloadavg()[0]

    md = markdown(res, info, notes, mode, runs, now, elapsed, thread_settings)
    print(md)

    out = a.out or os.path.join(ROOT, "bench", "results",
                                f"{now:%Y-%m-%d}-{info['host']}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    stem = out[:-5] if out.endswith(".json") else out
    doc = {
        "date": now.isoformat(timespec="seconds"), "mode": mode, "runs": runs,
        "seconds": round(elapsed, 1), "machine": info, "notes": notes,
        "relay_threads": [threads_label(t) for t in thread_settings], "sizes": size,
        "rows": [{"key": list(k), "fields": v["fields"],
                  "summary": {m: summarise([r.get(m) for r in v["runs"]])
                              for m in v["runs"][0] if isinstance(v["runs"][0][m], (int, float))
                              and not isinstance(v["runs"][0][m], bool)}}
                 for k, v in res.rows.items()],
        "raw": raw,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(md + "\n")
    log(f"wrote {out} and {stem}.md")
    if "streams" in only and not plot(res, stem + ".png", info, now):
        log("FAILED: no plot")
        return 1
    return 0


def markdown(res, info, notes, mode, runs, now, elapsed, thread_settings):
    L = []
    L.append(f"## Portal benchmarks, {now:%Y-%m-%d %H:%M} UTC")
    L.append("")
    L.append(f"- machine: {info.get('host')}, {info.get('cpus')} cores "
             f"({info.get('cpu', '?')}), {info.get('os', '?')}, kernel {info.get('kernel')}, "
             f"{info.get('compiler', '?')}, {info.get('build_type', '?')}; commit "
             f"{info.get('commit', '?')}")
    L.append(f"- mode: {mode}, {runs} run(s) per row, each cell the median (min–max); "
             f"{elapsed:.0f} s; load average {info['load_before']:.1f} before, "
             f"{info['load_after']:.1f} after")
    if info.get("ciphers"):
        plugins = sorted(set(c.split(": ", 1)[1] for c in info["ciphers"]))
        L.append("- E2EE cipher plugin each end took, as the bench reported it: "
                 + "; ".join(plugins))
    for n in notes:
        L.append(f"- {n}")
    L.append("")

    def table(title, head, rows):
        if not rows:
            return
        L.append(f"### {title}")
        L.append("")
        L.append("| " + " | ".join(head) + " |")
        L.append("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            L.append("| " + " | ".join(str(c) for c in r) + " |")
        L.append("")

    # Issue 20's table: v1 / ours / target.
    def pick(table_, row, metric, extra=0):
        out = []
        for k in res.keys(table_):
            if k[1] == row and k[3] == extra:
                out.append((k[2], res.get(k, metric)))
        return out

    def per_threads(pairs, render):
        pairs = [(t, s) for t, s in pairs if s is not None]
        if not pairs:
            return "-"
        if len(pairs) == 1:
            return render(pairs[0][1])
        return "; ".join(f"{t} thr: {render(s)}" for t, s in pairs)

    target_rows = []
    for tr, label in (("ws", "E2EE bulk through the relay, ws:// (down / up)"),
                      ("tcp", "same, tcp://")):
        row = f"E2EE through portal-relay, {tr}://"
        down = dict(pick("e2e-bulk", row, "down_MBps"))
        up = dict(pick("e2e-bulk", row, "up_MBps"))
        cell = per_threads([(t, (down[t], up.get(t))) for t in down],
                           lambda s: f"{fmt(s[0])} / {fmt(s[1])} MB/s")
        target_rows.append([label, V1["bulk_" + tr], cell, TARGET["bulk_" + tr]])
    for tr, label in (("ws", "sequential E2EE connections, ws://"),
                      ("tcp", "sequential E2EE connections, tcp://")):
        row = f"E2EE through portal-relay, {tr}://"
        rate = dict(pick("e2e-conn", row, "per_s", 1))
        p50 = dict(pick("e2e-conn", row, "p50_ms", 1))
        cell = per_threads([(t, (rate[t], p50.get(t))) for t in rate],
                           lambda s: f"{fmt(s[0])} /s, p50 {fmt(s[1], 2)} ms")
        target_rows.append([label, V1["conn_" + tr], cell, TARGET["conn_" + tr]])
    idle_cells = []
    for tr in ("ws", "tcp"):
        for k in res.keys("relay-idle"):
            if k[1] == f"portal-relay over {tr}://" and k[3] == 10000:
                s = res.get(k, "KiB_per_connection")
                if s:
                    idle_cells.append(f"{fmt(s, 1)} KiB {tr}")
    target_rows.append(["relay RSS per idle lease connection at 10,000", V1["idle"],
                        ", ".join(idle_cells) or "not in this run (full mode, or see notes)",
                        TARGET["idle"]])
    cpu_cells = []
    for tr in ("tcp", "ws"):
        for k in res.keys("relay-bulk"):
            if k[1] == f"portal-relay, yamux over {tr}://":
                s = res.get(k, "ratio_to_copy")
                if s:
                    thr = "" if k[2] == "default" else f", {k[2]} thr"
                    cpu_cells.append(f"{fmt(s, 2)}× ({tr}{thr})")
    target_rows.append(["relay CPU per GiB relayed vs a plain copy relay, same run", V1["cpu"],
                        ", ".join(cpu_cells) or "-", TARGET["cpu"]])
    table("Issue 20's table: v1 / this run / target",
          ["", "original v1 (issue 20)", "this run", "target"], target_rows)

    rows = []
    for k in res.keys("e2e-bulk"):
        rows.append([k[1], k[2], fmt(res.get(k, "down_MBps")), fmt(res.get(k, "up_MBps")),
                     fmt(res.get(k, "relay_cpu_s_per_GiB"), 2),
                     fmt(res.get(k, "ends_cpu_s_per_GiB"), 2)])
    table("Bulk, one stream, both ways (MB/s); CPU per GiB moved",
          ["path", "relay threads", "download MB/s", "upload MB/s",
           "relay (or copy relay) CPU-s/GiB", "both ends' CPU-s/GiB"], rows)

    rows = []
    for k in res.keys("relay-bulk"):
        rows.append([k[1], k[2], fmt(res.get(k, "MBps")),
                     fmt(res.get(k, "relay_cpu_s_per_GiB"), 2),
                     fmt(res.get(k, "ratio_to_copy"), 2, "×") if k[2] != "-" else "1×"])
    table("Relay CPU per GiB: yamux streams without E2EE, one direction, vs the copy relay",
          ["relay", "threads", "MB/s", "relay CPU-s/GiB", "vs copy relay"], rows)

    rows = []
    for k in res.keys("e2e-conn"):
        rows.append([k[1], k[2], "sequential" if k[3] == 1 else f"{k[3]} parallel",
                     fmt(res.get(k, "per_s")), fmt(res.get(k, "p50_ms"), 2),
                     fmt(res.get(k, "p99_ms"), 2)])
    table("New E2EE connections (dial by ID, handshake, 32-byte echo, both close)",
          ["path", "relay threads", "mode", "connections/s", "p50 ms", "p99 ms"], rows)

    rows = []
    for k in res.keys("e2e-fleet"):
        rows.append([k[1], k[2], fmt(res.get(k, "down_MBps")), fmt(res.get(k, "up_MBps")),
                     fmt(res.get(k, "relay_a_cpu_s_per_GiB"), 2),
                     fmt(res.get(k, "relay_b_cpu_s_per_GiB"), 2),
                     fmt(res.get(k, "per_s")), fmt(res.get(k, "p50_ms"), 2),
                     fmt(res.get(k, "p99_ms"), 2), fmt(res.get(k, "relays_cpu_ms_per_conn"), 2),
                     fmt(res.get(k, "redis_cpu_ms_per_conn"), 2)])
    table("Fleet: a dial on the holder's relay vs across relays (tcp://, lease on relay A, "
          "Redis directory; bulk as above, new connections sequential)",
          ["path", "relay threads", "download MB/s", "upload MB/s", "relay A CPU-s/GiB",
           "relay B CPU-s/GiB", "connections/s", "p50 ms", "p99 ms", "relays' CPU ms/conn",
           "Redis CPU ms/conn"],
          rows)

    rows = []
    for k in res.keys("e2e-rtt"):
        rows.append([k[1], k[2], fmt(res.get(k, "p50_us")), fmt(res.get(k, "p99_us"))])
    table("64-byte round trips over one open connection",
          ["path", "relay threads", "p50 µs", "p99 µs"], rows)

    rows = []
    by_row = {}
    for k in res.keys("e2e-streams"):
        by_row.setdefault((k[1], k[2]), {})[k[3]] = res.get(k, "MBps")
    counts = sorted({k[3] for k in res.keys("e2e-streams")})
    for (name, thr), cells in by_row.items():
        rows.append([name, thr] + [fmt(cells.get(c)) for c in counts])
    table("Aggregate download over concurrent streams (MB/s; the plot)",
          ["path", "relay threads"] + [f"{c} stream{'s' if c > 1 else ''}" for c in counts],
          rows)

    rows = []
    for k in res.keys("relay-idle"):
        if k[3] == 0:
            rows.append([k[1], k[2], "-", fmt(res.get(k, "rss_after_MiB"), 1) + " MiB total"])
        else:
            s = res.get(k, "KiB_per_connection")
            rows.append([k[1], k[2], f"{k[3]:,}",
                         (fmt(s, 1) + " KiB per connection") if s else "not run (see notes)"])
    table("Relay RSS per idle lease connection (one yamux session with one lease each)",
          ["relay", "threads", "connections", "RSS"], rows)

    rows = []
    cipher_keys = res.keys("cipher")
    names = []
    for k in cipher_keys:
        if k[1] not in names:
            names.append(k[1])
    for name in names:
        cells = []
        for op in (("copy",) if name.startswith("memcpy") else ("seal", "open")):
            for b in (16384, 65536):
                s = res.get(("cipher", name, op, b), "GBps")
                cells.append(fmt(s, 2))
        if name.startswith("memcpy"):
            cells = [cells[0], cells[1], cells[0], cells[1]]
        rows.append([name] + cells)
    table("Cipher, one core (GB/s)",
          ["implementation", "seal 16 KiB", "seal 64 KiB", "open 16 KiB", "open 64 KiB"], rows)
    return "\n".join(L).rstrip()


def plot(res, png, info, now):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        log("gnuplot not found: no plot (scripts/install-deps.sh --bench installs it)")
        return False
    series = {}
    for k in res.keys("e2e-streams"):
        label = k[1] + ("" if k[2] in ("-", "default") else f", {k[2]} relay threads")
        s = res.get(k, "MBps")
        if s:
            series.setdefault(label, []).append((k[3], s["median"], s["min"], s["max"]))
    if not series:
        log("no streams rows to plot")
        return False
    with tempfile.TemporaryDirectory(prefix="portal-bench-plot-") as d:
        plots = []
        for i, (label, pts) in enumerate(series.items()):
            path = os.path.join(d, f"s{i}.dat")
            with open(path, "w") as f:
                for x, med, lo, hi in sorted(pts):
                    f.write(f"{x} {med} {lo} {hi}\n")
            title = label.replace('"', "'")
            plots.append(f'"{path}" using 1:2:3:4 with yerrorlines lw 2 title "{title}"')
        script = "\n".join([
            "set terminal pngcairo size 1000,600 noenhanced",
            f'set output "{png}"',
            f'set title "Aggregate E2EE download vs concurrent streams — {info["host"]}, '
            f'{info["cpus"]} cores, {now:%Y-%m-%d} (median, min–max bars)"',
            "set logscale x 2",
            "set xlabel \"concurrent streams\"",
            "set ylabel \"MB/s (all streams together)\"",
            "set yrange [0:*]",
            "set key below",
            "set xtics (1, 2, 4, 8, 16, 32, 64)",
            "set xrange [0.8:80]",
            "set grid",
            "plot " + ", ".join(plots),
        ])
        try:
            r = subprocess.run([gnuplot], input=script, capture_output=True, text=True,
                               timeout=60)
        except (OSError, subprocess.SubprocessError) as e:
            log(f"gnuplot failed: {e}")
            return False
        if r.returncode != 0 or not os.path.exists(png):
            log(f"gnuplot failed: {r.stderr.strip()}")
            return False
    log(f"wrote {png}")
    return True


if __name__ == "__main__":
    sys.exit(main())
