// SPDX-License-Identifier: Apache-2.0
// The tests' HTTP server in a process of its own (for benchmarks: it does not share the client's
// event loop). Prints "port N" once listening; runs until it is signalled.
import { startHttp } from "./helpers.mjs";

const server = await startHttp();
process.stdout.write(`port ${server.port}\n`);
