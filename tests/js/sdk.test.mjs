// SPDX-License-Identifier: Apache-2.0
// The JS SDK (build/wasm/web/portal.mjs) against the real relay and CLI, on loopback.
//   PORTAL_BIN_DIR=build/ci/bin PORTAL_WEB_DIR=build/wasm/web node --test tests/js/
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import WebSocket from "ws";

import {
  WEB, Proc, connectCli, exchange, expose, freePort, patternSha256, sleep, startHttp, startRelay,
} from "./helpers.mjs";

const { connect, generateIdentity, PortalError } =
  await import(pathToFileURL(path.join(WEB, "portal.mjs")).href);

const BIG = 64 * 1024 * 1024;
const fast = { requestTimeoutMs: 3000, handshakeTimeoutMs: 3000 };

async function expectError(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof PortalError, `not a PortalError: ${err}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.length > 0);
    return true;
  });
}

describe("the JS SDK through portal-relay over ws://", () => {
  let relay; let server; let exposed; let client;
  before(async () => {
    relay = await startRelay();
    server = await startHttp();
    exposed = await expose(relay.ws, server.port, "web");
    client = await connect({ relays: [relay.ws], WebSocket, timers: fast });
  });
  after(async () => {
    await client?.close();
    await exposed?.stop();
    await relay?.stop();
    server?.close();
  });

  test("dials `portal expose` and makes an HTTP request", async () => {
    const conn = await client.dial("web", { alpn: "http/1.1" });
    assert.equal(conn.alpn, "http/1.1");
    assert.match(conn.peerId, /^[A-Z2-7]{26}$/);
    const r = await exchange(conn, "GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n");
    const text = r.bytes.toString();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /hello from the exposed service\n$/);
  });

  test("sends a request body and reads it back", async () => {
    const body = "x".repeat(200000);
    const conn = await client.dial("WEB", { alpn: "http/1.1" });  // names resolve case-insensitively
    const r = await exchange(conn, "POST /echo HTTP/1.1\r\nHost: web\r\nConnection: close\r\n" +
      `Content-Length: ${body.length}\r\n\r\n${body}`);
    assert.ok(r.bytes.toString().endsWith(body));
  });

  test("downloads 64 MiB intact (SHA-256)", async () => {
    const conn = await client.dial("web", { alpn: "http/1.1" });
    const h = createHash("sha256");
    let header = Buffer.alloc(0);
    let inBody = false;
    const started = Date.now();
    const r = await exchange(conn, `GET /big?n=${BIG} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`,
      (chunk) => {
        if (inBody) { h.update(chunk); return; }
        header = Buffer.concat([header, chunk]);
        const end = header.indexOf("\r\n\r\n");
        if (end >= 0) { inBody = true; h.update(header.subarray(end + 4)); }
      });
    const seconds = (Date.now() - started) / 1000;
    assert.ok(r.total > BIG);
    assert.equal(h.digest("hex"), patternSha256(BIG));
    console.log(`# 64 MiB through the relay in ${seconds.toFixed(2)} s: ` +
      `${(BIG / seconds / 1e6).toFixed(1)} MB/s`);
  });

  test("`portal connect` dials a JS listener", async () => {
    const listener = await client.listen({ name: "tab", alpn: ["http/1.1"] });
    const cli = await connectCli(relay.ws, "tab");
    try {
      const served = (async () => {
        const conn = await listener.accept();
        const reader = conn.readable.getReader();
        let got = "";
        while (!got.includes("\r\n\r\n")) {
          const { value, done } = await reader.read();
          if (done) break;
          got += Buffer.from(value).toString();
        }
        const writer = conn.writable.getWriter();
        await writer.write(new TextEncoder().encode(
          "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello, tab!\n"));
        await writer.close();
        return { got, peer: conn.peerId };
      })();
      const answer = await new Promise((resolve, reject) => {
        const s = net.connect(cli.port, "127.0.0.1", () => s.write("GET /x HTTP/1.1\r\nHost: tab\r\n\r\n"));
        let data = "";
        s.on("data", (d) => { data += d; });
        s.on("end", () => resolve(data));
        s.on("error", reject);
        s.setTimeout(15000, () => reject(new Error(`timed out; got ${data}`)));
      });
      const { got, peer } = await served;
      assert.match(got, /^GET \/x HTTP\/1\.1\r\n/);
      assert.match(peer, /^[A-Z2-7]{26}$/);
      assert.match(answer, /hello, tab!\n$/);
    } finally {
      await cli.stop();
      await listener.close();
    }
  });

  test("each error case gives its code", async () => {
    await expectError(client.dial("nosuchlease", { alpn: "http/1.1" }), "NOT_FOUND");
    await expectError(client.dial("", { alpn: "http/1.1" }), "INVALID_TARGET");
    await expectError(client.dial("web", { alpn: "" }), "INVALID_TARGET");
    await expectError(client.listen({ name: "bad name!", alpn: "http/1.1" }), "INVALID_NAME");
    // The relay's reserved names (the browser path's own hosts) are nobody's, in any case.
    await assert.rejects(client.listen({ name: "Admin", alpn: "http/1.1" }), (err) => {
      assert.equal(err.code, "LEASE_REFUSED", err.message);
      assert.match(err.message, /INVALID_NAME/);
      return true;
    });
    // A look-alike under Unicode case folding (U+017F long s) is the reserved name too, and an
    // ASCII punycode name would reach another lease in a browser.
    for (const name of ["ſtatic", "xn--bcher-kva"]) {
      await assert.rejects(client.listen({ name, alpn: "http/1.1" }), (err) => {
        assert.equal(err.code, "LEASE_REFUSED", `${name}: ${err.message}`);
        return true;
      });
    }
    // Another identity holds "web": the relay refuses the lease.
    await expectError(client.listen({ name: "web", alpn: "http/1.1" }), "LEASE_REFUSED");
    const listener = await client.listen({ name: "once", alpn: "http/1.1" });
    await expectError(client.listen({ name: "twice", alpn: "http/1.1" }), "ALREADY_LISTENING");
    await listener.close();
    // The lease offers http/1.1 and h2 only.
    await expect_alpn_refused(client);
    await expectError(connect({ relays: [] }), "NO_RELAY");
    if (typeof globalThis.WebSocket !== "function") {
      await expectError(connect({ relays: [relay.ws] }), "NO_WEBSOCKET");
    }
    await expectError(connect({ relays: ["ws://127.0.0.1:1/relay"], WebSocket, timers: fast }),
      "NO_RELAY");
    await expectError(connect({ relays: [relay.ws], WebSocket, identity: new Uint8Array(3) }),
      "INVALID_IDENTITY");
    const other = await connect({ relays: [relay.ws], WebSocket, timers: fast });
    await other.close();
    await expectError(other.dial("web", { alpn: "http/1.1" }), "CLOSED");
  });

  test("a holder whose accept queue is full answers REJECTED", async () => {
    const holder = await connect({ relays: [relay.ws], WebSocket, timers: { ...fast, acceptQueue: 1 } });
    try {
      const listener = await holder.listen({ name: "busy", alpn: "http/1.1" });
      const first = await client.dial("busy", { alpn: "http/1.1" });  // waits, never accepted
      await expectError(client.dial("busy", { alpn: "http/1.1" }), "REJECTED");
      first.close();
      await listener.close();
    } finally {
      await holder.close();
    }
  });

  test("a name two identities hold on two relays is AMBIGUOUS", async () => {
    // Each relay refuses a second holder of a name, so the ambiguity needs two relays.
    const second = await startRelay();
    const a = await connect({ relays: [relay.ws], WebSocket, timers: fast });
    const b = await connect({ relays: [second.ws], WebSocket, timers: fast });
    const both = await connect({ relays: [relay.ws, second.ws], WebSocket, timers: fast });
    try {
      await a.listen({ name: "dup", alpn: "http/1.1" });
      await b.listen({ name: "dup", alpn: "http/1.1" });
      const until = Date.now() + 10000;
      while (!both.relays().every((r) => r.up) && Date.now() < until) await sleep(20);
      await assert.rejects(both.dial("dup", { alpn: "http/1.1" }), (err) => {
        assert.equal(err.code, "AMBIGUOUS", err.message);
        assert.ok(err.message.includes(a.id) && err.message.includes(b.id), err.message);
        return true;
      });
      // By ID there is nothing to choose.
      const byId = await both.dial(b.id, { alpn: "http/1.1" });
      assert.equal(byId.peerId, b.id);
      byId.close();
    } finally {
      await a.close();
      await b.close();
      await both.close();
      await second.stop();
    }
  });

  test("a slow reader gets every byte after both sides closed, and an empty stream ends", async () => {
    const holder = await connect({ relays: [relay.ws], WebSocket, timers: fast });
    const listener = await holder.listen({ name: "sender", alpn: "http/1.1" });
    const size = 3 * 1024 * 1024 + 17;
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; ++i) payload[i] = (i * 7 + (i >> 11)) & 0xff;
    try {
      const served = (async () => {
        const incoming = await listener.accept();
        const w = incoming.writable.getWriter();
        await w.write(payload);
        await w.close();
        const empty = await listener.accept();  // ends at once, sends nothing
        await empty.writable.getWriter().close();
      })();
      const conn = await client.dial("sender", { alpn: "http/1.1" });
      await conn.writable.getWriter().close();  // our side is done too
      await sleep(500);                          // the peer finishes while we do not read
      const reader = conn.readable.getReader();
      const parts = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parts.push(value);
        if (parts.length % 8 === 0) await sleep(5);  // and read slowly
      }
      const got = Buffer.concat(parts);
      assert.equal(got.length, size);
      assert.ok(got.equals(payload));
      const empty = await client.dial("sender", { alpn: "http/1.1" });
      const r = await empty.readable.getReader().read();
      assert.equal(r.done, true);
      await served;
    } finally {
      await listener.close();
      await holder.close();
    }
  });

  test("a reader that stops stops the writer at the other end (yamux window)", async () => {
    const holder = await connect({ relays: [relay.ws], WebSocket, timers: fast });
    const listener = await holder.listen({ name: "pusher", alpn: "http/1.1" });
    const total = 64 * 1024 * 1024;
    const chunk = new Uint8Array(256 * 1024).fill(0x5a);
    let written = 0;
    try {
      const pushing = (async () => {
        const incoming = await listener.accept();
        const w = incoming.writable.getWriter();
        while (written < total) {
          await w.write(chunk);
          written += chunk.length;
        }
        await w.close();
      })();
      const conn = await client.dial("pusher", { alpn: "http/1.1" });
      await sleep(1500);  // not reading
      const stalled = written;
      // What sits between the two: yamux windows and the relay's bounded buffers, a few MiB.
      assert.ok(stalled < 16 * 1024 * 1024, `the writer was not held back: ${stalled} bytes`);
      const reader = conn.readable.getReader();
      let got = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        got += value.length;
      }
      await pushing;
      assert.equal(got, total);
      console.log(`# a stopped reader held the writer at ${(stalled / 1048576).toFixed(1)} MiB`);
    } finally {
      await listener.close();
      await holder.close();
    }
  });

  test("a holder that does not answer gives TIMEOUT", async () => {
    const frozen = await expose(relay.ws, server.port, "frozen");
    try {
      frozen.child.kill("SIGSTOP");  // the relay forwards the request; nobody answers it
      const started = Date.now();
      await expectError(client.dial("frozen", { alpn: "http/1.1" }), "TIMEOUT");
      const waited = Date.now() - started;
      assert.ok(waited >= fast.requestTimeoutMs - 100 && waited < fast.requestTimeoutMs + 5000, `${waited} ms`);
    } finally {
      frozen.child.kill("SIGCONT");
      await frozen.stop();
    }
  });

  test("bad timers are refused with INVALID_OPTIONS", async () => {
    await expectError(connect({ relays: [relay.ws], WebSocket, timers: { requestTimeoutMs: 5 } }),
      "INVALID_OPTIONS");
    await expectError(connect({ relays: [relay.ws], WebSocket, timers: { nope: 5 } }),
      "INVALID_OPTIONS");
  });

  test("freshIdentity dials with a new identity each time", async () => {
    const holder = await connect({ relays: [relay.ws], WebSocket, timers: fast });
    const listener = await holder.listen({ name: "who", alpn: "http/1.1" });
    try {
      const peers = [];
      for (const fresh of [false, true, true]) {
        const conn = await client.dial("who", { alpn: "http/1.1", freshIdentity: fresh });
        const incoming = await listener.accept();
        peers.push(incoming.peerId);
        conn.close();
        incoming.close();
      }
      assert.equal(peers[0], client.id);
      assert.notEqual(peers[1], client.id);
      assert.notEqual(peers[2], client.id);
      assert.notEqual(peers[1], peers[2]);
    } finally {
      await listener.close();
      await holder.close();
    }
  });

  test("an identity seed gives a stable ID", async () => {
    const { seed, id } = await generateIdentity();
    assert.equal(seed.length, 32);
    const a = await connect({ relays: [relay.ws], WebSocket, identity: seed });
    assert.equal(a.id, id);
    await a.close();
  });
});

async function expect_alpn_refused(client) {
  await assert.rejects(client.dial("web", { alpn: "spdy/3" }), (err) => {
    assert.ok(err instanceof PortalError);
    assert.equal(err.code, "HANDSHAKE_FAILED", err.message);
    assert.match(err.message, /ALPN|alpn/);
    return true;
  });
}

test("the JS client recovers from a relay restart with the core's backoff", async () => {
  const server = await startHttp();
  let relay = await startRelay();
  const port = relay.port;
  const exposed = await expose(relay.ws, server.port, "web");
  const client = await connect({ relays: [relay.ws], WebSocket, timers: fast });
  try {
    const first = await client.dial("web", { alpn: "http/1.1" });
    await exchange(first, "GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n");
    await relay.stop();
    // The core notices (the socket closes) and reconnects on its own schedule.
    const until = Date.now() + 10000;
    while (client.relays()[0].up && Date.now() < until) await sleep(20);
    assert.equal(client.relays()[0].up, false, "the client did not notice the relay going away");
    relay = await startRelay(port);
    // Nothing here retries: the test only watches the status the engine reports, and waits for
    // `portal expose` (a C++ client, same core) to register again.
    const back = Date.now() + 20000;
    while (!client.relays()[0].up && Date.now() < back) await sleep(50);
    assert.ok(client.relays()[0].up, `not reconnected: ${JSON.stringify(client.relays())}`);
    await exposed.waitFor(/lease 'web' registered[\s\S]*lease 'web' registered/, 20000, "err");
    const again = await client.dial("web", { alpn: "http/1.1" });
    const r = await exchange(again, "GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n");
    assert.match(r.bytes.toString(), /hello from the exposed service/);
  } finally {
    await client.close();
    await exposed.stop();
    await relay.stop();
    server.close();
  }
});

// ADR 0016: relays sharing a Redis directory (no fleet.peers: no forwarding). A lease held on A
// is not in B's RelayInfo, but B answers a lease lookup for it, so a JS client connected to B
// only resolves the name to B (and B, which does not forward, answers its ConnectionRequest
// INVALID_IDENTITY: LEASE_GONE), while an unknown name stays NOT_FOUND.
describe("the JS SDK in a fleet: a lease held on another relay is looked up", () => {
  let redis; let a; let b; let exposed; let client; let dir;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "portal-lookup-"));
    const port = await freePort();
    redis = new Proc(["/usr/bin/redis-server", "--port", String(port), "--bind", "127.0.0.1",
      "--save", "", "--appendonly", "no", "--dir", dir], "redis-server");
    await redis.waitFor(/Ready to accept connections/);
    const config = (name) => {
      const file = path.join(dir, `${name}.json`);
      fs.writeFileSync(file, JSON.stringify({
        identity_key_file: path.join(dir, `${name}.key`),
        directory: { name: "redis", settings: { url: `redis://127.0.0.1:${port}/0`, key_prefix: "js-lookup:" } },
        fleet: { peer_uri: `tcp://127.0.0.1:1/${name}`, heartbeat_ms: 500 },
      }));
      return ["--config", file];
    };
    a = await startRelay(0, config("a"));
    b = await startRelay(0, config("b"));
    exposed = await expose(a.ws, 9, "Fleet-Svc");
    client = await connect({ relays: [b.ws], WebSocket, timers: fast });
  });
  after(async () => {
    await client?.close();
    await exposed?.stop();
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("B resolves the name through its lookup", async () => {
    // The record is published right after A's answer: retry NOT_FOUND for a moment.
    let last;
    for (let i = 0; i < 50; ++i) {
      try {
        const conn = await client.dial("fleet-SVC", { alpn: "http/1.1" });
        conn.close();
        assert.fail("B does not forward without fleet.peers, so the dial cannot succeed");
      } catch (err) {
        last = err;
        if (err.code !== "NOT_FOUND") break;
      }
      await sleep(100);
    }
    assert.equal(last.code, "LEASE_GONE", last.message);
    assert.match(last.message, /INVALID_IDENTITY/);
    assert.ok(last.message.includes(b.ws), last.message);
    await expectError(client.dial("not-in-the-fleet", { alpn: "http/1.1" }), "NOT_FOUND");
    const metrics = await (await fetch(`${b.http}/metrics`)).text();
    assert.match(metrics, /portal_requests_total\{type="lease_lookup",result="accepted"\} 1\n/);
  });
});

