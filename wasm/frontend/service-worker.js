// SPDX-License-Identifier: Apache-2.0
// Portal's browser client: a module service worker that answers the page's requests over
// end-to-end encrypted connections to the lease holder (docs/browser.md). The relay fills in the
// placeholders when it serves this file. Resolution, reconnects and the handshake run in the
// SDK's WebAssembly engine; this file speaks HTTP/1.1 over the connection it gets.
import { configure, connect } from "__PORTAL_SDK__";

configure({ wasmUrl: "__PORTAL_WASM__" });
const RELAYS = __PORTAL_RELAYS__;
const TIMEOUT_MS = 30000;
const MAX_HEAD = 64 * 1024;
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding",
  "upgrade", "te", "trailer", "host", "content-length", "cookie", "origin", "referer"]);

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("message", (event) => {
  if (event.data === "portal:claim") event.waitUntil(self.clients.claim());
  if (event.data && event.data.type === "portal:websocket" && event.ports[0]) {
    event.waitUntil(tunnelWebSocket(event.data, event.ports[0]));
  }
});

// ---- cookies ----------------------------------------------------------------------------------
// A worker's fetch sees no Cookie header and cannot set Set-Cookie, so the worker keeps the jar:
// one per origin (each app host is its own origin, so each has its own worker and jar). It is
// kept in Cache Storage, since the browser stops idle workers. document.cookie never shows it,
// but Cache Storage belongs to the origin: a script injected into the app could read it, so
// HttpOnly is not a guarantee against XSS here (docs/browser.md). SameSite is kept: a request
// that another site starts carries no Strict cookie, and a Lax one only on a top-level GET.
const JAR_CACHE = "portal-cookie-jar";
const JAR_KEY = "/.portal/cookies";
const MAX_COOKIES = 200;
let jarPromise = null;  // Map name|path -> {name, value, path, expires (ms or null), sameSite}

// One load, shared by every request that arrives while it runs.
function loadJar() {
  jarPromise ??= (async () => {
    const jar = new Map();
    try {
      const stored = await (await caches.open(JAR_CACHE)).match(JAR_KEY);
      if (stored) for (const c of await stored.json()) jar.set(`${c.name}|${c.path}`, c);
    } catch { /* a fresh jar */ }
    return jar;
  })();
  return jarPromise;
}

// Session cookies are kept too: the browser stops an idle worker after ~30 s, and a login must
// outlive that. They end with the worker's registration (a new build's worker starts afresh).
async function saveJar(jar) {
  try {
    const cache = await caches.open(JAR_CACHE);
    await cache.put(JAR_KEY, new Response(JSON.stringify([...jar.values()])));
  } catch { /* kept in memory */ }
}

function defaultPath(pathname) {
  const slash = pathname.lastIndexOf("/");
  return slash <= 0 ? "/" : pathname.slice(0, slash);
}

function pathMatches(requestPath, cookiePath) {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}

// Whether another site started the request (its referrer is not this origin; no referrer counts
// as another site). Such a request gets no Strict cookie, and a Lax one only on a top-level GET.
function crossSite(request) {
  try {
    return !request.referrer || new URL(request.referrer).origin !== self.location.origin;
  } catch {
    return true;
  }
}

async function cookieHeader(url, request) {
  const now = Date.now();
  const cross = crossSite(request);
  const topLevelGet = request.mode === "navigate" && ["GET", "HEAD"].includes(request.method);
  const allowed = (c) => !cross || c.sameSite === "none" || (c.sameSite === "lax" && topLevelGet);
  const list = [...(await loadJar()).values()]
    .filter((c) => (c.expires === null || c.expires > now) && pathMatches(url.pathname, c.path) &&
      allowed(c))
    .sort((a, b) => b.path.length - a.path.length);
  return list.map((c) => `${c.name}=${c.value}`).join("; ");
}

async function storeCookies(url, setCookies) {
  if (!setCookies.length) return;
  const j = await loadJar();
  for (const line of setCookies) {
    const [pair, ...attrs] = line.split(";");
    const eq = pair.indexOf("=");
    if (eq <= 0) continue;
    const c = { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(),
      path: defaultPath(url.pathname), expires: null, sameSite: "lax" };  // the browsers' default
    for (const attr of attrs) {
      const [k, ...rest] = attr.split("=");
      const key = k.trim().toLowerCase();
      const value = rest.join("=").trim();
      if (key === "path" && value.startsWith("/")) c.path = value;
      else if (key === "samesite" && ["strict", "lax", "none"].includes(value.toLowerCase())) {
        c.sameSite = value.toLowerCase();
      }
      else if (key === "max-age" && /^-?\d+$/.test(value)) c.expires = Date.now() + Number(value) * 1000;
      else if (key === "expires" && c.expires === null) {
        const t = Date.parse(value);
        if (!Number.isNaN(t)) c.expires = t;
      }
    }
    const id = `${c.name}|${c.path}`;
    if (c.expires !== null && c.expires <= Date.now()) j.delete(id);
    else if (j.size < MAX_COOKIES || j.has(id)) j.set(id, c);
  }
  await saveJar(j);
}

let clientPromise = null;
function portalClient() {
  if (!clientPromise) {
    clientPromise = connect({ relays: RELAYS }).catch((err) => {
      clientPromise = null;  // the next request tries again (the engine retries within one)
      throw err;
    });
  }
  return clientPromise;
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin) return;  // other origins: the network
  if (url.pathname === "/service-worker.js" || url.pathname.startsWith("/frontend/") ||
      url.pathname === "/.portal/ws-polyfill.js") {
    return;  // the relay's own files
  }
  if (url.pathname === "/.portal/ready") {
    event.respondWith(new Response("ready\n", { headers: { "x-portal-worker": "ready" } }));
    return;
  }
  event.respondWith(proxy(event.request, url));
});

// The lease a host names: its first DNS label, percent-decoded, punycode (xn--) to Unicode. The
// engine resolves it exact-first, and as an ID when it has the form of one.
function leaseName(hostname) {
  let label = hostname.split(".")[0];
  try { label = decodeURIComponent(label); } catch { /* keep it */ }
  return label.startsWith("xn--") ? punycodeDecode(label.slice(4)) : label;
}

// RFC 3492 decoding (the labels browsers send are ASCII; names may not be).
function punycodeDecode(input) {
  const base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700;
  const out = [];
  let i = 0, n = 128, bias = 72;
  const basic = input.lastIndexOf("-");
  for (let j = 0; j < Math.max(basic, 0); ++j) out.push(input.charCodeAt(j));
  const adapt = (delta, points, first) => {
    delta = first ? Math.floor(delta / damp) : delta >> 1;
    delta += Math.floor(delta / points);
    let k = 0;
    while (delta > ((base - tMin) * tMax) >> 1) { delta = Math.floor(delta / (base - tMin)); k += base; }
    return k + Math.floor(((base - tMin + 1) * delta) / (delta + skew));
  };
  for (let at = basic > 0 ? basic + 1 : 0; at < input.length;) {
    const oldI = i;
    for (let w = 1, k = base; ; k += base) {
      if (at >= input.length) return input;
      const c = input.charCodeAt(at++);
      const digit = c - 48 < 10 ? c - 22 : c - 65 < 26 ? c - 65 : c - 97 < 26 ? c - 97 : base;
      if (digit >= base) return input;
      i += digit * w;
      const t = k <= bias ? tMin : k >= bias + tMax ? tMax : k - bias;
      if (digit < t) break;
      w *= base - t;
    }
    bias = adapt(i - oldI, out.length + 1, oldI === 0);
    n += Math.floor(i / (out.length + 1));
    i %= out.length + 1;
    out.splice(i++, 0, n);
  }
  return String.fromCodePoint(...out);
}

function errorPage(status, title, detail) {
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const body = `<!doctype html><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2rem}</style>
<h1>${status}: ${esc(title)}</h1><p>${esc(detail)}</p>
<p>Portal could not reach the service for <code>${esc(self.location.host)}</code>.</p>\n`;
  return new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8" } });
}

// ---- connections -------------------------------------------------------------------------------
// Idle connections are kept per lease for reuse (HTTP/1.1 keep-alive), as v1 does: up to
// IDLE_PER_LEASE each, closed after IDLE_MS unused. Each was dialed with its own fresh identity.
const IDLE_MS = 30000;
const IDLE_PER_LEASE = 6;
const idle = new Map();  // lease name -> [{conn, reader, timer}]

function takeIdle(name) {
  const list = idle.get(name);
  const entry = list && list.pop();
  if (list && !list.length) idle.delete(name);
  if (entry) clearTimeout(entry.timer);
  return entry || null;
}

function putIdle(name, entry) {
  const list = idle.get(name) || [];
  if (list.length >= IDLE_PER_LEASE) { entry.conn.close(); return; }
  entry.timer = setTimeout(() => {
    const l = idle.get(name);
    const at = l ? l.indexOf(entry) : -1;
    if (at >= 0) l.splice(at, 1);
    if (l && !l.length) idle.delete(name);
    entry.conn.close();
  }, IDLE_MS);
  list.push(entry);
  idle.set(name, list);
}

async function dialEntry(name) {
  const conn = await (await portalClient()).dial(name, { alpn: "http/1.1", freshIdentity: true });
  return { conn, reader: conn.readable.getReader(), timer: null };
}

async function proxy(request, url) {
  const name = leaseName(url.hostname);
  // A body the browser gives as a stream is sent as it comes (chunked) and cannot be sent twice:
  // such a request always gets a new connection. Others may reuse an idle one, and are sent once
  // more on a new connection when the idle one turns out to be closed before any answer.
  const withBody = !["GET", "HEAD"].includes(request.method);
  const streamed = withBody && request.body ? request.body : null;
  let body = null;
  try {
    body = withBody && !streamed ? new Uint8Array(await request.arrayBuffer()) : null;
  } catch (err) {
    return errorPage(502, "cannot read the request", err && err.message ? err.message : String(err));
  }
  for (let attempt = 0; ; ++attempt) {
    let entry = streamed || attempt > 0 ? null : takeIdle(name);
    const reused = entry !== null;
    if (!entry) {
      try {
        entry = await dialEntry(name);
      } catch (err) {
        const code = err && err.code ? err.code : "ERROR";
        return errorPage(502, `${code}: cannot reach "${name}"`, err && err.message ? err.message : String(err));
      }
    }
    const result = await exchange(request, url, name, entry, body, streamed, reused);
    if (result.retry && attempt === 0) continue;
    return result.response;
  }
}

async function exchange(request, url, name, entry, body, streamed, reused) {
  const { conn, reader } = entry;
  let timer = null;
  let answered = false;
  try {
    let head = `${request.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
    for (const [k, v] of request.headers) {
      if (!HOP_BY_HOP.has(k.toLowerCase())) head += `${k}: ${v}\r\n`;
    }
    if (body) head += `Content-Length: ${body.length}\r\n`;
    if (streamed) head += "Transfer-Encoding: chunked\r\n";
    const cookies = await cookieHeader(url, request);
    if (cookies) head += `Cookie: ${cookies}\r\n`;
    // What the browser's network layer would add after the worker, so that the service can
    // check where a request comes from.
    if (request.referrer) head += `Referer: ${request.referrer}\r\n`;
    if (!["GET", "HEAD"].includes(request.method)) {
      let origin = "null";
      try { if (request.referrer) origin = new URL(request.referrer).origin; } catch { /* null */ }
      head += `Origin: ${origin}\r\n`;
    }
    head += "Connection: keep-alive\r\n\r\n";
    const writer = conn.writable.getWriter();
    await writer.write(textToBytes(head));
    if (body && body.length) await writer.write(body);
    if (streamed) {
      const source = streamed.getReader();
      for (;;) {
        const { value, done } = await source.read();
        if (done) break;
        if (!value || !value.length) continue;
        await writer.write(textToBytes(`${value.length.toString(16)}\r\n`));
        await writer.write(value);
        await writer.write(textToBytes("\r\n"));
      }
      await writer.write(textToBytes("0\r\n\r\n"));
    }
    writer.releaseLock();
    // The service has 30 s to start its answer once the request is sent.
    timer = setTimeout(() => conn.close(), TIMEOUT_MS);
    let head1 = await readHead(reader, new Uint8Array(0));
    answered = true;
    // Interim answers (100 Continue, 103 Early Hints) come before the real one.
    while (head1.status >= 100 && head1.status < 200 && head1.status !== 101) {
      head1 = await readHead(reader, head1.rest);
    }
    const { status, statusText, headers, rest } = head1;
    clearTimeout(timer);
    const noBody = request.method === "HEAD" || [101, 204, 205, 304].includes(status);
    await storeCookies(url, headers.filter(([k]) => k === "set-cookie").map(([, v]) => v));
    const out = new Headers();
    for (const [k, v] of headers) {
      if ((!HOP_BY_HOP.has(k) || k === "content-length") && k !== "set-cookie") out.append(k, v);
    }
    const chunked = (headers.find(([k]) => k === "transfer-encoding")?.[1] || "").toLowerCase().includes("chunked");
    const lengthText = headers.find(([k]) => k === "content-length")?.[1];
    if (lengthText !== undefined && !/^\d{1,15}$/.test(lengthText)) {
      throw new Error(`bad Content-Length "${lengthText}"`);
    }
    const length = lengthText !== undefined ? Number(lengthText) : null;
    // Reusable when the service keeps it open and the body's end is known.
    const keep = !(headers.find(([k]) => k === "connection")?.[1] || "").toLowerCase().includes("close") &&
      status !== 101 && (noBody || chunked || length !== null);
    const done = (clean, leftover) => {
      if (clean && keep && !(leftover && leftover.length)) putIdle(name, entry);
      else conn.close();
    };
    let stream = null;
    if (noBody) done(true, rest);
    else stream = bodyStream(reader, rest, chunked ? null : length, chunked, done);
    // HTML pages get Portal's WebSocket first, so that the app's own WebSockets reach it.
    if (stream && /^text\/html/i.test(out.get("content-type") || "") && !out.has("content-encoding")) {
      stream = stream.pipeThrough(injectPolyfill());
      out.delete("content-length");
    }
    return { response: new Response(stream, { status, statusText, headers: out }) };
  } catch (err) {
    clearTimeout(timer);
    conn.close();
    // An idle connection the service had closed: try once more on a new one.
    if (reused && !answered) return { retry: true };
    return { response: errorPage(502, "bad answer from the service", err && err.message ? err.message : String(err)) };
  }
}

// HTTP heads are bytes: one character per byte both ways (fetch's header values are ByteStrings).
const bytesToText = (bytes) => {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
};
const textToBytes = (text) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

async function readHead(reader, first) {
  let buf = first;
  for (;;) {
    const text = bytesToText(buf);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const lines = text.slice(0, end).split("\r\n");
      const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
      if (!m) throw new Error(`not an HTTP/1.1 response: ${lines[0].slice(0, 80)}`);
      const headers = lines.slice(1).map((l) => {
        const c = l.indexOf(":");
        return [l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim()];
      });
      return { status: Number(m[1]), statusText: m[2], headers, rest: buf.subarray(end + 4) };
    }
    if (buf.length > MAX_HEAD) throw new Error("the response head is too large");
    const { value, done } = await reader.read();
    if (done) throw new Error("the service closed the connection before answering");
    buf = concat(buf, value);
  }
}

// The body as a stream: `length` bytes, chunked, or up to the end. Nothing is held beyond the
// stream's own queue: a 1 GiB download flows through.
function bodyStream(reader, first, length, chunked, done) {
  let pending = first;
  let left = length;
  let chunkLeft = 0;     // chunked: bytes left in the current chunk
  let chunkState = "size";
  let surplus = false;
  // After "0\r\n": trailer lines up to an empty line, then the connection is clean if nothing
  // else arrived.
  const finishTrailers = async (after) => {
    let buf = after;
    for (let guard = 0; guard < 64; ++guard) {
      const text = bytesToText(buf);
      const end = text.startsWith("\r\n") ? 0 : text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const rest = buf.subarray(end === 0 ? 2 : end + 4);
        done(rest.length === 0 && pending.length === 0, rest);
        return;
      }
      if (buf.length > 8192) break;
      const more = await next();
      if (more === null) break;
      buf = concat(buf, more);
    }
    done(false);
  };
  const next = async () => {
    if (pending.length) { const p = pending; pending = new Uint8Array(0); return p; }
    const { value, done } = await reader.read();
    return done ? null : value;
  };
  return new ReadableStream({
    async pull(controller) {
      try {
        if (!chunked) {
          if (left === 0) { controller.close(); done(!surplus, pending); return; }
          let data = await next();
          if (data === null) {
            if (left === null) { controller.close(); done(false); return; }
            throw new Error("the service closed the connection before the end of the body");
          }
          if (left !== null) {
            if (data.length > left) {
              surplus = true;  // bytes past the body: the connection is not reused
              data = data.subarray(0, left);
            }
            left -= data.length;
          }
          controller.enqueue(data);
          return;
        }
        // Chunked: size line, data, CRLF; a zero size ends it (trailers are dropped).
        for (;;) {
          let data = await next();
          if (data === null) throw new Error("the service closed the connection inside a chunked body");
          while (data.length) {
            if (chunkState === "size") {
              const nl = data.indexOf(10);
              if (nl < 0) {
                if (data.length > 4096) throw new Error("a chunk size line is too long");
                const more = await next();
                if (more === null) throw new Error("truncated chunk size");
                data = concat(data, more);
                continue;
              }
              const line = bytesToText(data.subarray(0, nl)).trim();
              chunkLeft = parseInt(line.split(";")[0], 16);
              if (!Number.isFinite(chunkLeft)) throw new Error(`bad chunk size "${line}"`);
              data = data.subarray(nl + 1);
              if (chunkLeft === 0) {
                // The last chunk: its (empty) trailer section ends with CRLF. Anything else
                // that follows makes the connection unusable.
                await finishTrailers(data);
                controller.close();
                return;
              }
              chunkState = "data";
            } else if (chunkState === "data") {
              const take = Math.min(chunkLeft, data.length);
              controller.enqueue(data.slice(0, take));
              chunkLeft -= take;
              data = data.subarray(take);
              if (chunkLeft === 0) chunkState = "crlf";
              if (!data.length) return;
            } else {  // the CRLF after a chunk's data
              const nl = data.indexOf(10);
              if (nl < 0) { data = new Uint8Array(0); continue; }
              data = data.subarray(nl + 1);
              chunkState = "size";
            }
          }
        }
      } catch (err) {
        controller.error(err);
        done(false);
      }
    },
    cancel() { done(false); },
  });
}

// ---- WebSocket tunnelling (ws-polyfill.js is the page's half) ----------------------------------

const POLYFILL_TAG = '<script src="/.portal/ws-polyfill.js"></script>';

// Puts the polyfill's script tag after <head ...> (or <!doctype ...>, or first) in the page's
// first bytes, and passes everything else through unchanged.
function injectPolyfill() {
  let done = false;
  return new TransformStream({
    transform(chunk, controller) {
      if (done) { controller.enqueue(chunk); return; }
      done = true;
      const text = bytesToText(chunk);
      const m = /<head[^>]*>/i.exec(text) || /<!doctype[^>]*>/i.exec(text);
      const at = m ? m.index + m[0].length : 0;
      controller.enqueue(textToBytes(text.slice(0, at) + POLYFILL_TAG + text.slice(at)));
    },
  });
}

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_WS_MESSAGE = 16 * 1024 * 1024;
const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));

function wsFrame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + 4 + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) frame[1] = 0x80 | n;
  else if (n < 65536) { frame[1] = 0x80 | 126; frame[2] = n >> 8; frame[3] = n & 0xff; }
  else { frame[1] = 0x80 | 127; new DataView(frame.buffer).setBigUint64(2, BigInt(n)); }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, head);
  for (let i = 0; i < n; ++i) frame[head + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

async function tunnelWebSocket(request, port) {
  const tell = (m, transfer) => port.postMessage(m, transfer || []);
  const fail = (reason) => tell({ type: "close", code: 1006, reason: String(reason).slice(0, 120), error: true });
  const url = new URL(request.path, self.location.origin);
  let conn;
  try {
    conn = await (await portalClient()).dial(leaseName(url.hostname), { alpn: "http/1.1", freshIdentity: true });
  } catch (err) {
    return fail(err && err.code ? `${err.code}: ${err.message}` : err);
  }
  const writer = conn.writable.getWriter();
  const reader = conn.readable.getReader();
  let closeSent = false;
  try {
    const key = toBase64(crypto.getRandomValues(new Uint8Array(16)));
    let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      `Origin: ${self.location.origin}\r\n`;
    if (request.protocols.length) head += `Sec-WebSocket-Protocol: ${request.protocols.join(", ")}\r\n`;
    const cookies = await cookieHeader(url, { referrer: self.location.origin + "/", mode: "websocket", method: "GET" });
    if (cookies) head += `Cookie: ${cookies}\r\n`;
    await writer.write(textToBytes(head + "\r\n"));
    const answer = await readHead(reader, new Uint8Array(0));
    const accept = answer.headers.find(([k]) => k === "sec-websocket-accept")?.[1];
    const want = toBase64(new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + WS_GUID))));
    if (answer.status !== 101 || accept !== want) {
      throw new Error(`the service refused the WebSocket (HTTP ${answer.status})`);
    }
    tell({ type: "open", protocol: answer.headers.find(([k]) => k === "sec-websocket-protocol")?.[1] || "" });

    // Page -> service.
    port.onmessage = async (ev) => {
      const m = ev.data;
      try {
        if (m.type === "send") {
          const text = typeof m.data === "string";
          const payload = text ? new TextEncoder().encode(m.data) : new Uint8Array(m.data);
          await writer.write(wsFrame(text ? 1 : 2, payload));
          tell({ type: "sent", bytes: payload.length });
        } else if (m.type === "close" && !closeSent) {
          closeSent = true;
          const reason = new TextEncoder().encode(m.reason || "").subarray(0, 123);
          const body = new Uint8Array(2 + reason.length);
          body[0] = m.code >> 8; body[1] = m.code & 0xff; body.set(reason, 2);
          await writer.write(wsFrame(8, body));
        }
      } catch (err) { fail(err); conn.close(); }
    };

    // Service -> page: frames (server frames are unmasked), fragments joined, pings answered.
    let buf = answer.rest;
    const need = async (n) => {
      while (buf.length < n) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the service closed the connection");
        buf = concat(buf, value);
      }
    };
    let parts = [], partsOpcode = 0, partsSize = 0;
    for (;;) {
      await need(2);
      const fin = (buf[0] & 0x80) !== 0, opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f, at = 2;
      if (buf[1] & 0x80) throw new Error("the service sent a masked frame");
      if (len === 126) { await need(4); len = (buf[2] << 8) | buf[3]; at = 4; }
      else if (len === 127) { await need(10); len = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(2)); at = 10; }
      if (len > MAX_WS_MESSAGE || partsSize + len > MAX_WS_MESSAGE) throw new Error("a WebSocket message over 16 MiB");
      await need(at + len);
      const payload = buf.slice(at, at + len);
      buf = buf.subarray(at + len);
      if (opcode === 8) {  // close: answer it, report it
        const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
        const reason = new TextDecoder().decode(payload.subarray(2));
        if (!closeSent) { closeSent = true; await writer.write(wsFrame(8, payload.subarray(0, 2))).catch(() => {}); }
        tell({ type: "close", code, reason, clean: true });
        conn.close();
        return;
      }
      if (opcode === 9) { await writer.write(wsFrame(10, payload)); continue; }
      if (opcode === 10) continue;
      if (opcode !== 0) { partsOpcode = opcode; parts = []; partsSize = 0; }
      parts.push(payload);
      partsSize += payload.length;
      if (!fin) continue;
      const whole = parts.length === 1 ? parts[0] : parts.reduce((a, b) => concat(a, b));
      parts = []; partsSize = 0;
      if (partsOpcode === 1) tell({ type: "message", data: new TextDecoder().decode(whole) });
      else { const ab = whole.buffer.slice(whole.byteOffset, whole.byteOffset + whole.byteLength); tell({ type: "message", data: ab }, [ab]); }
    }
  } catch (err) {
    fail(err && err.message ? err.message : err);
    conn.close();
  }
}
