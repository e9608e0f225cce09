// SPDX-License-Identifier: Apache-2.0
// Real processes on loopback for the JS SDK's tests: portal-relay, `portal expose`,
// `portal connect`, and a local HTTP server. Every wait is bounded.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import path from "node:path";

export const BIN = process.env.PORTAL_BIN_DIR;
export const WEB = process.env.PORTAL_WEB_DIR;
if (!BIN || !WEB) throw new Error("set PORTAL_BIN_DIR (native build's bin/) and PORTAL_WEB_DIR");

/** A child process whose stdout and stderr are kept, and waited on line by line. */
export class Proc {
  constructor(argv, name) {
    this.name = name;
    this.out = "";
    this.err = "";
    this.child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve({ code, signal })));
    this.child.stdout.on("data", (d) => { this.out += d; });
    this.child.stderr.on("data", (d) => { this.err += d; });
  }

  /** Waits until stdout (or stderr) matches `re` (returns the match) or `ms` pass (throws, with
   *  the output). */
  async waitFor(re, ms = 20000, stream = "out") {
    const until = Date.now() + ms;
    for (;;) {
      const m = this[stream].match(re);
      if (m) return m;
      if (Date.now() > until || this.child.exitCode !== null) {
        throw new Error(`${this.name}: no ${re} in ${ms} ms\nstdout:\n${this.out}\nstderr:\n${this.err}`);
      }
      await sleep(20);
    }
  }

  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** portal-relay on a loopback ws:// port (0: any); `ws` is its relay URL. */
export async function startRelay(port = 0, extra = []) {
  const p = new Proc([path.join(BIN, "portal-relay"), "--listen", `ws://127.0.0.1:${port}/relay`,
    ...extra], "portal-relay");
  const m = await p.waitFor(/listening (ws:\/\/127\.0\.0\.1:(\d+)\/relay)/);
  p.ws = m[1];
  p.port = Number(m[2]);
  p.http = `http://127.0.0.1:${p.port}`;
  return p;
}

/** `portal expose` of 127.0.0.1:`target` as `name`, once registered. */
export async function expose(relay, target, name) {
  const p = new Proc([path.join(BIN, "portal"), "expose", "--relay", relay, "--target",
    `127.0.0.1:${target}`, "--name", name], "portal expose");
  await p.waitFor(/\(registered\)/);
  return p;
}

/** `portal connect TARGET` on a free local port; `port` is it. */
export async function connectCli(relay, target) {
  const p = new Proc([path.join(BIN, "portal"), "connect", target, "--relay", relay,
    "--listen", "127.0.0.1:0"], "portal connect");
  const m = await p.waitFor(/127\.0\.0\.1:(\d+)/);
  p.port = Number(m[1]);
  return p;
}

/** Deterministic bytes: block i of `size` is filled from SHA-256 of its index. */
export function* pattern(size, block = 64 * 1024) {
  for (let off = 0, i = 0; off < size; off += block, ++i) {
    const seed = createHash("sha256").update(String(i)).digest();
    const chunk = Buffer.alloc(Math.min(block, size - off));
    for (let k = 0; k < chunk.length; k += 32) seed.copy(chunk, k, 0, Math.min(32, chunk.length - k));
    yield chunk;
  }
}

export function patternSha256(size) {
  const h = createHash("sha256");
  for (const c of pattern(size)) h.update(c);
  return h.digest("hex");
}

// 1 MiB of the pattern, repeated by /fast (benchmarks: costs the server nothing per byte).
let fastBlock = null;

/** A local HTTP server: GET / (text), POST /echo, GET /big?n=BYTES (the pattern), GET /fast?n=BYTES
 *  (one 1 MiB block repeated). */
export async function startHttp() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/") {
      res.setHeader("content-type", "text/plain");
      res.end("hello from the exposed service\n");
    } else if (url.pathname === "/echo") {
      const parts = [];
      req.on("data", (d) => parts.push(d));
      req.on("end", () => res.end(Buffer.concat(parts)));
    } else if (url.pathname === "/big") {
      const n = Number(url.searchParams.get("n"));
      res.setHeader("content-length", String(n));
      const it = pattern(n);
      const pump = () => {
        for (;;) {
          const next = it.next();
          if (next.done) return res.end();
          if (!res.write(next.value)) return res.once("drain", pump);
        }
      };
      pump();
    } else if (url.pathname === "/login" && req.method === "POST") {
      res.setHeader("set-cookie", ["session=s3cr3t; Path=/; HttpOnly; Max-Age=3600", "theme=dark; Path=/prefs"]);
      res.end("logged in\n");
    } else if (url.pathname === "/me" || url.pathname === "/prefs/me") {
      res.setHeader("content-type", "text/plain");
      res.end(`cookie: ${req.headers.cookie || ""}\n`);
    } else if (url.pathname === "/app") {
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end("<!doctype html><html><head><title>the app</title></head><body><p>the app</p></body></html>\n");
    } else if (url.pathname === "/origin") {
      res.setHeader("content-type", "text/plain");
      res.end(`origin: ${req.headers.origin || ""}\n`);
    } else if (url.pathname === "/peer") {
      res.setHeader("content-type", "text/plain");
      res.end(`${req.socket.remotePort}\n`);
    } else if (url.pathname === "/redirect") {
      res.statusCode = 302;
      res.setHeader("location", "/landed");
      res.end();
    } else if (url.pathname === "/landed") {
      res.setHeader("content-type", "text/plain");
      res.end("you were redirected\n");
    } else if (url.pathname === "/fast") {
      fastBlock ||= Buffer.concat([...pattern(1024 * 1024)]);
      let left = Number(url.searchParams.get("n"));
      res.setHeader("content-length", String(left));
      const pump = () => {
        while (left > 0) {
          const part = left >= fastBlock.length ? fastBlock : fastBlock.subarray(0, left);
          left -= part.length;
          if (!res.write(part)) return res.once("drain", pump);
        }
        return res.end();
      };
      pump();
    } else {
      res.statusCode = 404;
      res.end("not found\n");
    }
  });
  // WebSocket echo on /ws-echo: text and binary back as sent; "bye" closes with 4001.
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ server, path: "/ws-echo" });
  wss.on("connection", (ws, req) => {
    ws.on("message", (data, binary) => {
      if (!binary && data.toString() === "bye") ws.close(4001, "bye to you");
      else ws.send(binary ? data : `echo: ${data}${req.headers.cookie ? ` (cookie ${req.headers.cookie})` : ""}`,
        { binary });
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  server.port = server.address().port;
  return server;
}

/** Sends `request` on a Portal connection and reads the whole response (Connection: close). */
export async function exchange(conn, request, onChunk) {
  const writer = conn.writable.getWriter();
  await writer.write(new TextEncoder().encode(request));
  writer.releaseLock();
  const reader = conn.readable.getReader();
  const parts = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.length;
    if (onChunk) onChunk(value); else parts.push(value);
  }
  return { bytes: onChunk ? null : Buffer.concat(parts), total };
}

/** A free loopback TCP port (for a relay whose --portal-url must name its port up front). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
