// SPDX-License-Identifier: Apache-2.0
// Portal for JavaScript: the client SDK. The protocol (relay sessions, leases, resolution,
// handshakes, encryption, reconnects) runs in WebAssembly, in the engine of wasm/sdk/engine.cpp.
// This file only does I/O: WebSockets, one timer, and turning connections into streams.
import createPortalCore from "./portal_core.mjs";

/** An error of the SDK: `code` is one of the C++ SDK's error names (NOT_FOUND, REJECTED, ...). */
export class PortalError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "PortalError";
    this.code = code;
  }
}

// Record kinds of the engine's output (engine.hpp, enum Out).
const OUT = {
  OpenSocket: 1, Send: 2, CloseSocket: 3, Timer: 4, RelayUp: 5, RelayDown: 6, DialDone: 7,
  ListenDone: 8, Incoming: 9, Data: 10, Eof: 11, Closed: 12, Writable: 13, Log: 14,
};
const NO_TIMER = 0xffffffff;
const WRITE_CHUNK = 64 * 1024;
const READ_CREDIT = 256 * 1024;
const TIMER_NAMES = ["leaseTtlS", "renewIntervalMs", "healthIntervalMs", "healthTimeoutMs",
  "reconnectInitialMs", "reconnectMaxMs", "reconnectJitterPercent", "requestTimeoutMs",
  "handshakeTimeoutMs", "acceptQueue"];
const TIMER_DEFAULTS = [30, 5000, 10000, 10000, 500, 5000, 20, 10000, 10000, 100];

const isNode = typeof process === "object" && !!(process.versions && process.versions.node);
let modulePromise = null;
let wasmUrl = null;

/**
 * Where the `.wasm` is, when it is not `portal_core.wasm` next to this file (the relay's
 * browser path serves it under a content-addressed name). Call before the first connect().
 */
export function configure(options = {}) {
  if (options.wasmUrl !== undefined) wasmUrl = String(options.wasmUrl);
}

function loadModule() {
  if (!modulePromise) {
    modulePromise = (async () => {
      const options = {};
      if (wasmUrl !== null) options.locateFile = () => wasmUrl;
      if (isNode) {
        // Node's fetch() cannot read file: URLs; hand the module its bytes.
        const { readFile } = await import("node:fs/promises");
        options.wasmBinary = await readFile(new URL("./portal_core.wasm", import.meta.url));
      }
      return createPortalCore(options);
    })().catch((err) => {
      modulePromise = null;  // a failed load (the relay restarting) is tried again next time
      throw err;
    });
  }
  return modulePromise;
}

const decoder = new TextDecoder();
function failure(text) {
  const nl = text.indexOf("\n");
  return nl < 0 ? new PortalError("ERROR", text) : new PortalError(text.slice(0, nl), text.slice(nl + 1));
}

/** A fresh identity: its 32-byte seed and its ID. */
export async function generateIdentity() {
  const M = await loadModule();
  const ptr = M._malloc(32);
  try {
    if (M._portal_random_seed(ptr) !== 0) throw new PortalError("ERROR", "no randomness");
    const seed = M.HEAPU8.slice(ptr, ptr + 32);
    return { seed, id: M.UTF8ToString(M._portal_identity_of_seed(ptr)) };
  } finally {
    M.HEAPU8.fill(0, ptr, ptr + 32);
    M._free(ptr);
  }
}

function withString(M, text, fn) {
  const size = M.lengthBytesUTF8(text) + 1;
  const ptr = M._malloc(size);
  try {
    M.stringToUTF8(text, ptr, size);
    return fn(ptr);
  } finally {
    M._free(ptr);
  }
}

function withBytes(M, bytes, fn) {
  const ptr = M._malloc(Math.max(bytes.length, 1));
  try {
    M.HEAPU8.set(bytes, ptr);
    return fn(ptr);
  } finally {
    M._free(ptr);
  }
}

/**
 * Connects to the relays. Resolves once one relay is up; rejects with NO_RELAY when every relay
 * failed its first attempt (the engine keeps no state then).
 */
export async function connect(options = {}) {
  const M = await loadModule();
  const relays = options.relays || [];
  if (!Array.isArray(relays) || relays.length === 0) {
    throw new PortalError("NO_RELAY", "connect() needs at least one relay URL in options.relays");
  }
  const WS = options.WebSocket || globalThis.WebSocket;
  if (typeof WS !== "function") {
    throw new PortalError("NO_WEBSOCKET",
      "no WebSocket: pass options.WebSocket (for example the `ws` package's) in Node < 22");
  }
  if (options.identity !== undefined &&
      !(options.identity instanceof Uint8Array && options.identity.length === 32)) {
    throw new PortalError("INVALID_IDENTITY", "options.identity must be a 32-byte Uint8Array seed");
  }
  const client = new Client(M, WS, relays, options);
  await client._ready;
  return client;
}

class Client {
  constructor(M, WS, relays, options) {
    this._M = M;
    this._WS = WS;
    this._relays = relays.map(String);
    this._log = options.onLog || null;
    this._sockets = new Map();
    this._timer = null;
    this._dials = new Map();
    this._listens = new Map();
    this._conns = new Map();
    this._listener = null;
    this._status = this._relays.map((url) => ({ url, up: false, id: "", error: "" }));
    this._attempted = new Set();
    this._closed = false;
    let readyResolve, readyReject;
    this._ready = new Promise((res, rej) => { readyResolve = res; readyReject = rej; });
    this._readyResolve = readyResolve;
    this._readyReject = readyReject;
    this._readyDone = false;

    const timers = new Uint32Array(TIMER_NAMES.map((name, i) => {
      const v = options.timers && options.timers[name];
      return v === undefined ? TIMER_DEFAULTS[i] : v;
    }));
    for (const name of Object.keys(options.timers || {})) {
      const v = options.timers[name];
      if (!TIMER_NAMES.includes(name) || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new PortalError("INVALID_OPTIONS", `timers.${name}: ${TIMER_NAMES.includes(name) ?
          "expected a whole number" : `unknown (known: ${TIMER_NAMES.join(", ")})`}`);
      }
    }
    const timersPtr = M._malloc(timers.byteLength);
    const seedPtr = options.identity ? M._malloc(32) : 0;
    try {
      new Uint32Array(M.HEAPU32.buffer, timersPtr, timers.length).set(timers);
      const why = M.UTF8ToString(M._portal_check_timers(timersPtr));
      if (why) throw new PortalError("INVALID_OPTIONS", why);
      if (seedPtr) M.HEAPU8.set(options.identity, seedPtr);
      this._e = withString(M, this._relays.join("\n"), (relaysPtr) =>
        M._portal_engine_new(seedPtr, relaysPtr, timersPtr));
    } finally {
      if (seedPtr) { M.HEAPU8.fill(0, seedPtr, seedPtr + 32); M._free(seedPtr); }
      M._free(timersPtr);
    }
    if (!this._e) throw new PortalError("INVALID_IDENTITY", "the identity seed is unusable");
    this.id = M.UTF8ToString(M._portal_engine_id(this._e));
    this._drain();
  }

  /** The relays and their state: [{url, up, id, error}]. */
  relays() { return this._status.map((s) => ({ ...s })); }

  /** Dials a lease by name or ID. Resolves to a Connection; rejects with a PortalError.
   *  `options.freshIdentity`: the handshake uses a new identity, not the client's. */
  dial(target, options = {}) {
    if (this._closed) return Promise.reject(new PortalError("CLOSED", "the client is closed"));
    const alpn = options.alpn || "";
    return new Promise((resolve, reject) => {
      const id = withString(this._M, String(target), (t) => withString(this._M, alpn, (a) =>
        this._M._portal_dial(this._e, t, a, options.freshIdentity ? 1 : 0)));
      this._dials.set(id, { resolve, reject });
      this._drain();
    });
  }

  /** Registers a lease on every relay; resolves to a Listener of incoming Connections. */
  listen(options = {}) {
    if (this._closed) return Promise.reject(new PortalError("CLOSED", "the client is closed"));
    const alpns = Array.isArray(options.alpn) ? options.alpn : [options.alpn || "http/1.1"];
    return new Promise((resolve, reject) => {
      const M = this._M;
      const id = withString(M, String(options.name || ""), (n) =>
        withString(M, alpns.join("\n"), (a) =>
          withString(M, options.metadata || "", (m) => M._portal_listen(this._e, n, a, m))));
      this._listens.set(id, { resolve, reject });
      this._drain();
    });
  }

  /** Deletes the lease, closes every connection and relay session. */
  async close() {
    if (this._closed) return;
    this._closed = true;
    this._M._portal_shutdown(this._e);
    this._drain();
    if (this._listener) this._listener._end();
    this._listener = null;
    for (const c of this._early || []) c.close();
    this._early = [];
    for (const ws of this._sockets.values()) ws.close();
    this._sockets.clear();
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    this._M._portal_engine_free(this._e);
    this._e = 0;
    if (this._sizePtr) this._M._free(this._sizePtr);
    if (this._scratchPtr) this._M._free(this._scratchPtr);
    this._sizePtr = 0;
    this._scratchPtr = 0;
  }

  // ---- the engine's output ----

  // Takes and dispatches the engine's output until there is none. A handler that calls into the
  // engine (through _call) does not drain itself: the loop below picks the new records up after
  // the current batch, so records are always handled in the order the engine queued them.
  _drain() {
    if (this._draining) return;
    this._draining = true;
    try {
      this._drainLoop();
    } finally {
      this._draining = false;
    }
  }

  _drainLoop() {
    const M = this._M;
    if (!this._e) return;
    if (!this._sizePtr) this._sizePtr = M._malloc(4);
    for (;;) {
      if (!this._e) return;  // closed by a handler
      const ptr = M._portal_take_output(this._e, this._sizePtr);
      const size = M.HEAPU32[this._sizePtr >> 2];
      if (size === 0) return;
      // Copied out: the engine's buffer is only valid until the next call into it.
      const bytes = M.HEAPU8.slice(ptr, ptr + size);
      const view = new DataView(bytes.buffer);
      const records = [];
      for (let at = 0; at + 13 <= size;) {
        const kind = bytes[at];
        const a = view.getUint32(at + 1, true);
        const b = view.getUint32(at + 5, true);
        const len = view.getUint32(at + 9, true);
        records.push({ kind, a, b, data: bytes.subarray(at + 13, at + 13 + len) });
        at += 13 + len;
      }
      for (const r of records) {
        if (!this._e) return;
        this._dispatch(r);
      }
    }
  }

  _call(fn) {
    if (!this._e) return 0;
    const result = fn(this._e);
    this._drain();
    return result;
  }

  _dispatch({ kind, a, b, data }) {
    const M = this._M;
    switch (kind) {
      case OUT.OpenSocket: this._open(a, b, decoder.decode(data)); break;
      case OUT.Send: {
        const ws = this._sockets.get(`${a}:${b}`);
        if (ws && ws.readyState === 1) ws.send(data.slice());
        break;
      }
      case OUT.CloseSocket: {
        const key = `${a}:${b}`;
        const ws = this._sockets.get(key);
        this._sockets.delete(key);
        if (ws) ws.close();
        break;
      }
      case OUT.Timer:
        if (this._timer !== null) clearTimeout(this._timer);
        this._timer = null;
        if (a !== NO_TIMER && !this._closed) {
          this._timer = setTimeout(() => {
            this._timer = null;
            this._call((e) => M._portal_tick(e));
          }, a);
        }
        break;
      case OUT.RelayUp:
        Object.assign(this._status[a], { up: true, id: decoder.decode(data), error: "" });
        this._attempted.add(a);
        if (!this._readyDone) { this._readyDone = true; this._readyResolve(); }
        break;
      case OUT.RelayDown: {
        Object.assign(this._status[a], { up: false, error: decoder.decode(data) });
        this._attempted.add(a);
        if (!this._readyDone && this._attempted.size === this._relays.length &&
            this._status.every((s) => !s.up)) {
          this._readyDone = true;
          const why = this._status.map((s) => `${s.url}: ${s.error}`).join("; ");
          this._readyReject(new PortalError("NO_RELAY", `no relay is connected: ${why}`));
          queueMicrotask(() => this.close());
        }
        break;
      }
      case OUT.DialDone: {
        const d = this._dials.get(a);
        this._dials.delete(a);
        if (!d) break;
        const text = decoder.decode(data);
        if (b === 0) { d.reject(failure(text)); break; }
        const [peerId, alpn] = text.split("\n");
        d.resolve(this._connection(b, peerId, alpn));
        break;
      }
      case OUT.ListenDone: {
        const l = this._listens.get(a);
        this._listens.delete(a);
        if (!l) break;
        const early = this._early || [];
        this._early = [];
        if (b === 0) {
          for (const c of early) this._dropIncoming(c);
          l.reject(failure(decoder.decode(data)));
          break;
        }
        this._listener = new Listener(this);
        for (const c of early) this._listener._push(c);
        l.resolve(this._listener);
        break;
      }
      case OUT.Incoming: {
        const [peerId, alpn] = decoder.decode(data).split("\n");
        const conn = this._connection(a, peerId, alpn);
        if (this._listener) {
          this._listener._push(conn);
        } else if (this._listens.size) {
          // A relay that already holds the lease forwards before listen() resolves.
          (this._early ||= []).push(conn);
        } else {
          this._dropIncoming(conn);
        }
        break;
      }
      // A copy of its own: a chunk must not share its buffer with other connections' bytes.
      case OUT.Data: { const c = this._conns.get(a); if (c) c._data(data.slice()); break; }
      case OUT.Eof: { const c = this._conns.get(a); if (c) c._eof(); break; }
      case OUT.Closed: {
        const c = this._conns.get(a);
        this._conns.delete(a);
        if (c) c._closed(data.length ? failure(decoder.decode(data)) : null);
        break;
      }
      case OUT.Writable: { const c = this._conns.get(a); if (c) c._writable(); break; }
      case OUT.Log: if (this._log) this._log(a, decoder.decode(data)); break;
      default: break;
    }
  }

  _open(relay, socket, url) {
    let ws;
    try {
      ws = new this._WS(url);
    } catch (err) {
      queueMicrotask(() => this._call((e) => withString(this._M, String(err && err.message || err),
        (r) => this._M._portal_socket_closed(e, relay, socket, r))));
      return;
    }
    ws.binaryType = "arraybuffer";
    const key = `${relay}:${socket}`;
    this._sockets.set(key, ws);
    let ended = false;
    const end = (why) => {
      if (ended) return;
      ended = true;
      if (this._sockets.get(key) === ws) this._sockets.delete(key);
      try { ws.close(); } catch { /* closing already */ }
      this._call((e) => withString(this._M, why, (r) => this._M._portal_socket_closed(e, relay, socket, r)));
    };
    ws.onopen = () => this._call((e) => this._M._portal_socket_opened(e, relay, socket));
    ws.onmessage = (ev) => {
      if (!(ev.data instanceof ArrayBuffer)) return end("the relay sent a text message");
      const bytes = new Uint8Array(ev.data);
      const p = this._scratch(bytes.length);
      this._M.HEAPU8.set(bytes, p);
      this._call((e) => this._M._portal_socket_message(e, relay, socket, p, bytes.length));
    };
    ws.onerror = (ev) => end(`WebSocket error${ev && ev.message ? `: ${ev.message}` : ""}`);
    ws.onclose = (ev) => end(`WebSocket closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`);
  }

  // An incoming connection nobody will take: its queue place is given back, then it is closed.
  _dropIncoming(conn) {
    this._call((e) => this._M._portal_incoming_taken(e));
    conn.close();
  }

  // One reusable buffer in wasm memory for what JS hands in (socket messages).
  _scratch(size) {
    if (!this._scratchPtr || this._scratchSize < size) {
      if (this._scratchPtr) this._M._free(this._scratchPtr);
      this._scratchSize = Math.max(size, 64 * 1024);
      this._scratchPtr = this._M._malloc(this._scratchSize);
    }
    return this._scratchPtr;
  }

  _connection(id, peerId, alpn) {
    const c = new Connection(this, id, peerId, alpn);
    this._conns.set(id, c);
    return c;
  }
}

/** An end-to-end encrypted connection. */
class Connection {
  constructor(client, id, peerId, alpn) {
    this._client = client;
    this._id = id;
    this.peerId = peerId;
    this.alpn = alpn;
    this._error = null;
    this._done = false;
    this._wake = null;       // the pending pull
    this._writeWait = null;  // a write waiting for Writable
    const M = client._M;
    this._outstanding = 0;  // credit granted to the engine and not yet used
    this.readable = new ReadableStream({
      start: (controller) => { this._controller = controller; },
      pull: (controller) => {
        if (this._done) return undefined;
        // The engine may run ahead of the reader by the queue's free space, no more: credit
        // already granted counts against it.
        const want = Math.min(Math.max(controller.desiredSize || 0, 1), READ_CREDIT);
        const grant = want - this._outstanding;
        return new Promise((resolve) => {
          this._wake = resolve;
          if (grant > 0) {
            this._outstanding += grant;
            client._call((e) => M._portal_credit(e, id, grant));
          }
        });
      },
      cancel: () => this.close(),
    }, new ByteLengthQueuingStrategy({ highWaterMark: READ_CREDIT }));
    this.writable = new WritableStream({
      write: async (chunk) => {
        const bytes = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
        for (let off = 0; off < bytes.length;) {
          if (this._error) throw this._error;
          if (this._done && !client._conns.has(id)) throw new PortalError("CLOSED", "the connection is closed");
          const part = bytes.subarray(off, off + WRITE_CHUNK);
          const n = client._call((e) => withBytes(M, part, (p) => M._portal_write(e, id, p, part.length)));
          if (n === 0) {
            if (!client._conns.has(id)) throw this._error || new PortalError("CLOSED", "the connection is closed");
            await new Promise((resolve) => { this._writeWait = resolve; });
          }
          off += n;
        }
      },
      close: () => { client._call((e) => M._portal_close_write(e, id)); },
      abort: () => this.close(),
    });
  }

  _wakeReader() { const w = this._wake; this._wake = null; if (w) w(); }

  _data(bytes) {
    this._outstanding = Math.max(0, this._outstanding - bytes.length);
    if (this._controller) this._controller.enqueue(bytes);
    this._wakeReader();
  }

  _eof() {
    if (this._done) return;
    this._done = true;
    if (this._controller) { try { this._controller.close(); } catch { /* already closed */ } }
    this._wakeReader();
  }

  _closed(error) {
    this._error = error;
    if (!this._done) {
      this._done = true;
      if (this._controller) {
        try {
          if (error) this._controller.error(error); else this._controller.close();
        } catch { /* already closed */ }
      }
    }
    this._wakeReader();
    this._writable();
  }

  _writable() { const w = this._writeWait; this._writeWait = null; if (w) w(); }

  /** Closes both directions at once (writable.close() half-closes instead). */
  close() {
    const client = this._client;
    if (!client._conns.has(this._id)) return;
    client._conns.delete(this._id);
    client._call((e) => client._M._portal_close(e, this._id));
    this._closed(null);
  }
}

/** The incoming connections of a lease, as an async iterator. */
class Listener {
  constructor(client) {
    this._client = client;
    this._queue = [];
    this._waiters = [];
    this._closed = false;
  }

  _push(conn) {
    const w = this._waiters.shift();
    if (w) {
      this._client._call((e) => this._client._M._portal_incoming_taken(e));
      w({ value: conn, done: false });
    } else {
      this._queue.push(conn);
    }
  }

  /** The next incoming connection (null once the listener is closed). */
  async accept() {
    const next = await this.next();
    return next.done ? null : next.value;
  }

  next() {
    if (this._queue.length) {
      this._client._call((e) => this._client._M._portal_incoming_taken(e));
      return Promise.resolve({ value: this._queue.shift(), done: false });
    }
    if (this._closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this._waiters.push(resolve));
  }

  [Symbol.asyncIterator]() { return this; }

  /** Deletes the lease; queued connections are closed. */
  async close() {
    if (this._closed) return;
    const client = this._client;
    if (client._listener === this) client._listener = null;
    client._call((e) => client._M._portal_stop_listening(e));
    this._end();
  }

  // Ends the iteration: queued connections close, waiting next() calls resolve done.
  _end() {
    this._closed = true;
    for (const c of this._queue) c.close();
    this._queue = [];
    for (const w of this._waiters) w({ value: undefined, done: true });
    this._waiters = [];
  }

  return() { return this.close().then(() => ({ value: undefined, done: true })); }
}
