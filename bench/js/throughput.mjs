// SPDX-License-Identifier: Apache-2.0
// Bulk download through portal-relay on loopback, in one run: the JS SDK (wasm) against the C++
// client (`portal connect`) as the baseline, and the plain HTTP server as the ceiling of this
// harness. Prints a Markdown table.
//   PORTAL_BIN_DIR=build/ci/bin PORTAL_WEB_DIR=build/wasm/web node bench/js/throughput.mjs [MiB]
import net from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tests = path.join(here, "../../tests/js");
const { default: WebSocket } = await import(pathToFileURL(path.join(tests, "node_modules/ws/wrapper.mjs")).href);
const { Proc, WEB, connectCli, exchange, expose, startRelay } =
  await import(pathToFileURL(path.join(tests, "helpers.mjs")).href);
const { connect } = await import(pathToFileURL(path.join(WEB, "portal.mjs")).href);

const mib = Number(process.argv[2] || 128);
const bytes = mib * 1024 * 1024;
const request = `GET /fast?n=${bytes} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`;

function tcpDownload(port) {
  return new Promise((resolve, reject) => {
    let total = 0;
    const started = process.hrtime.bigint();
    const s = net.connect(port, "127.0.0.1", () => s.write(request));
    s.on("data", (d) => { total += d.length; });
    s.on("end", () => resolve({ total, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
    s.on("error", reject);
  });
}

const serverProc = new Proc([process.execPath, path.join(tests, "serve.mjs")], "serve");
const httpPort = Number((await serverProc.waitFor(/port (\d+)/))[1]);
const relay = await startRelay();
const exposed = await expose(relay.ws, httpPort, "web");
const rows = [];
try {
  const direct = await tcpDownload(httpPort);
  rows.push(["plain HTTP, no Portal (the harness's ceiling)", direct]);

  const cli = await connectCli(relay.ws, "web");
  const viaCpp = await tcpDownload(cli.port);
  rows.push(["C++ client: `portal connect` (baseline)", viaCpp]);
  await cli.stop();

  const client = await connect({ relays: [relay.ws], WebSocket });
  const conn = await client.dial("web", { alpn: "http/1.1" });
  const started = process.hrtime.bigint();
  const r = await exchange(conn, request, () => {});
  rows.push(["JS SDK (wasm) in Node, `ws` WebSocket", { total: r.total,
    seconds: Number(process.hrtime.bigint() - started) / 1e9 }]);
  await client.close();
} finally {
  await exposed.stop();
  await relay.stop();
  await serverProc.stop();
}
console.log(`| ${mib} MiB over ws:// through portal-relay (loopback) | seconds | MB/s |`);
console.log("|---|---:|---:|");
for (const [name, { total, seconds }] of rows) {
  if (total < bytes) throw new Error(`${name}: only ${total} of ${bytes} bytes`);
  console.log(`| ${name} | ${seconds.toFixed(2)} | ${(bytes / seconds / 1e6).toFixed(1)} |`);
}
