// SPDX-License-Identifier: Apache-2.0
// The browser path's static files (docs/browser.md), from the JS SDK's build output:
//   node bundle.mjs <web dir> <frontend sources> <out dir>
// - <sha256>.js: portal_core.mjs and portal.mjs as one ES module (a service worker cannot load
//   the second by a relative name once names are content-addressed);
// - <sha256>.wasm: the module;
// - each also precompressed (.br, .gz), for the relay to serve by Accept-Encoding;
// - loader.html and service-worker.js (a template the relay fills in), and manifest.json.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const [web, sources, out] = process.argv.slice(2);
if (!web || !sources || !out) throw new Error("usage: bundle.mjs <web dir> <sources> <out dir>");

const core = fs.readFileSync(path.join(web, "portal_core.mjs"), "utf8");
const sdk = fs.readFileSync(path.join(web, "portal.mjs"), "utf8");
const coreExport = "export default createPortalCore;";
const sdkImport = 'import createPortalCore from "./portal_core.mjs";';
if (!core.includes(coreExport) || !sdk.includes(sdkImport)) {
  throw new Error("bundle.mjs: portal_core.mjs or portal.mjs changed shape");
}
const js = Buffer.from(core.replace(coreExport, "") + "\n" + sdk.replace(sdkImport, ""));
const wasm = fs.readFileSync(path.join(web, "portal_core.wasm"));

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const names = {};
for (const [kind, bytes, ext] of [["sdk", js, "js"], ["wasm", wasm, "wasm"]]) {
  const name = `${createHash("sha256").update(bytes).digest("hex")}.${ext}`;
  fs.writeFileSync(path.join(out, name), bytes);
  fs.writeFileSync(path.join(out, `${name}.br`), zlib.brotliCompressSync(bytes, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
  fs.writeFileSync(path.join(out, `${name}.gz`), zlib.gzipSync(bytes, { level: 9 }));
  names[kind] = name;
}
for (const f of ["loader.html", "service-worker.js", "ws-polyfill.js"]) {
  fs.copyFileSync(path.join(sources, f), path.join(out, f));
}
fs.writeFileSync(path.join(out, "manifest.json"), JSON.stringify(names, null, 2) + "\n");
