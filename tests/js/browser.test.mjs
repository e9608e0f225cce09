// SPDX-License-Identifier: Apache-2.0
// The browser path end to end: Debian's chromium (headless, through playwright-core) opens
// http://web.localhost:PORT/, the relay serves the loader and the service worker, and the worker
// reaches `portal expose` over an end-to-end encrypted connection (docs/browser.md).
//   PORTAL_BIN_DIR=build/ci/bin PORTAL_WEB_DIR=build/wasm/web node --test tests/js/browser.test.mjs
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

import { expose, freePort, patternSha256, sleep, startHttp, startRelay } from "./helpers.mjs";

const CHROMIUM = process.env.PORTAL_CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = process.env.PORTAL_ARTIFACT_DIR || path.resolve("artifacts");
const BIG = 64 * 1024 * 1024;

let port; let relay; let server; let exposed; let browser; let page;
const relayArgs = () => ["--portal-url", `http://localhost:${port}`];

before(async () => {
  port = await freePort();
  relay = await startRelay(port, relayArgs());
  server = await startHttp();
  exposed = await expose(relay.ws, server.port, "web");
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  page = await (await browser.newContext()).newPage();
});

after(async () => {
  await browser?.close();
  await exposed?.stop();
  await relay?.stop();
  server?.close();
});

const bodyText = (p) => p.evaluate(() => document.body ? document.body.innerText : "");

test("the loader installs the worker and the exposed service's page shows", async () => {
  await page.goto(`http://web.localhost:${port}/`);
  await page.waitForFunction(() => document.body && document.body.innerText.includes("hello from the exposed service"),
    null, { timeout: 20000 });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, "browser-web.png") });
  assert.ok(fs.statSync(path.join(ARTIFACTS, "browser-web.png")).size > 0);
});

test("the lease page links each lease to its app host, with a copy button", async () => {
  const lp = await page.context().newPage();
  await lp.goto(`http://localhost:${port}/`);
  const href = await lp.getAttribute("a[href*='web.localhost']", "href");
  assert.equal(href, `http://web.localhost:${port}/`);
  const copy = await lp.getAttribute("button", "title");
  assert.match(copy, new RegExp(`^portal connect [A-Z2-7]{26} --relay ws://localhost:${port}/relay`));
  await lp.close();
});

test("a POST with a body", async () => {
  const echoed = await page.evaluate(async () => {
    const body = "x".repeat(100000) + "end";
    const r = await fetch("/echo", { method: "POST", body });
    return { status: r.status, ok: (await r.text()) === body };
  });
  assert.deepEqual(echoed, { status: 200, ok: true });
});

test("a 64 MiB download, checked with SHA-256 in the page", async () => {
  const started = Date.now();
  const digest = await page.evaluate(async (n) => {
    const r = await fetch(`/big?n=${n}`);
    const buf = await r.arrayBuffer();
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
    return { size: buf.byteLength, hex: [...d].map((b) => b.toString(16).padStart(2, "0")).join("") };
  }, BIG);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(digest.size, BIG);
  assert.equal(digest.hex, patternSha256(BIG));
  console.log(`# 64 MiB through the browser path in ${seconds.toFixed(2)} s: ${(BIG / seconds / 1e6).toFixed(1)} MB/s`);
});

test("idle connections are reused (keep-alive), each dialed with its own identity", async () => {
  const r = await page.evaluate(async () => {
    const seen = [];
    for (let i = 0; i < 5; ++i) seen.push(await (await fetch(`/peer?i=${i}`)).text());
    return seen;
  });
  // The service sees the client port of its TCP connection from `portal expose`: one
  // connection served all five requests in turn.
  assert.equal(new Set(r).size, 1, r.join(", "));
});

test("a redirect is followed", async () => {
  const r = await page.evaluate(async () => {
    const res = await fetch("/redirect");
    return { status: res.status, redirected: res.redirected, url: new URL(res.url).pathname, text: await res.text() };
  });
  assert.deepEqual(r, { status: 200, redirected: true, url: "/landed", text: "you were redirected\n" });
});

test("a login sets a cookie that the next requests carry (path rules kept)", async () => {
  const r = await page.evaluate(async () => {
    const login = await (await fetch("/login", { method: "POST", body: "user=me" })).text();
    const me = await (await fetch("/me")).text();
    const prefs = await (await fetch("/prefs/me")).text();
    return { login, me, prefs, visible: document.cookie };
  });
  assert.equal(r.login, "logged in\n");
  assert.equal(r.me, "cookie: session=s3cr3t\n");
  assert.match(r.prefs, /^cookie: (theme=dark; session=s3cr3t|session=s3cr3t; theme=dark)\n$/);
  assert.equal(r.visible, "");  // the jar is the worker's: page scripts never see it
});

test("another site's POST carries no cookie (SameSite=Lax), and the service sees its Origin", async () => {
  const evil = await page.context().newPage();
  // A form on another origin (the relay's own host) posts to the app; returns the answer's text.
  const postFromElsewhere = async (path) => {
    await evil.goto(`http://localhost:${port}/healthz`);
    await evil.evaluate((target) => {
      const f = document.createElement("form");
      f.method = "POST";
      f.action = target;
      document.body.appendChild(f);
      f.submit();
    }, `http://web.localhost:${port}${path}`);
    await evil.waitForURL(`http://web.localhost:${port}${path}`);
    return (await evil.evaluate(() => document.body.innerText)).trim();
  };
  assert.equal(await postFromElsewhere("/me"), "cookie:");
  assert.equal(await postFromElsewhere("/origin"), `origin: http://localhost:${port}`);
  await evil.close();
});

test("a second tab is served by the installed worker", async () => {
  const again = await page.context().newPage();
  await again.goto(`http://web.localhost:${port}/`);
  await again.waitForFunction(() => document.body && document.body.innerText.includes("hello from the exposed service"),
    null, { timeout: 20000 });
  await again.close();
});

test("the page's WebSocket reaches the service: text, binary, close codes", async () => {
  await page.goto(`http://web.localhost:${port}/app`);
  await page.waitForFunction(() => document.body && document.body.innerText.includes("the app"), null, { timeout: 20000 });
  const r = await page.evaluate(() => new Promise((resolve) => {
    const got = [];
    const ws = new WebSocket(`ws://${location.host}/ws-echo`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { ws.send("hello"); ws.send(new Uint8Array([1, 2, 3, 250])); };
    ws.onmessage = (ev) => {
      got.push(typeof ev.data === "string" ? ev.data : [...new Uint8Array(ev.data)]);
      if (got.length === 2) ws.send("bye");
    };
    ws.onclose = (ev) => resolve({ got, code: ev.code, reason: ev.reason, clean: ev.wasClean,
      portal: !!WebSocket.__portal });
    setTimeout(() => resolve({ got, timeout: true }), 15000);
  }));
  assert.equal(r.portal, true);
  assert.equal(r.got[0], "echo: hello (cookie session=s3cr3t)");
  assert.deepEqual(r.got[1], [1, 2, 3, 250]);
  assert.deepEqual([r.code, r.reason, r.clean], [4001, "bye to you", true]);
});

test("an unknown name gives the error page", async () => {
  const other = await page.context().newPage();
  await other.goto(`http://nosuchlease.localhost:${port}/`);
  await other.waitForFunction(() => document.body && document.body.innerText.includes("502"), null, { timeout: 20000 });
  const text = await bodyText(other);
  assert.match(text, /502: NOT_FOUND/);
  assert.match(text, /nosuchlease/);
  await other.close();
});

test("a restarted relay is recovered from without reloading the browser", async () => {
  await relay.stop();
  relay = await startRelay(port, relayArgs());
  // `portal expose` registers again on its own; so does the worker's client reconnect.
  await exposed.waitFor(/lease 'web' registered[\s\S]*lease 'web' registered/, 20000, "err");
  let last = "";
  for (const until = Date.now() + 20000; Date.now() < until;) {
    last = await page.evaluate(async () => {
      try { return await (await fetch("/")).text(); } catch (e) { return String(e); }
    });
    if (last.includes("hello from the exposed service")) break;
    await sleep(250);
  }
  assert.match(last, /hello from the exposed service/);
});
