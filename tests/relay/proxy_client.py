#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A load balancer in TCP mode, as the relay sees it: each connection starts with a PROXY
protocol header (v1 or v2) naming a client, then carries the client's own bytes (TLS, WebSocket,
yamux) unchanged. Independent of the project's code: headers are built here from the HAProxy
specification, and the checks speak yamux by hand (a ping, answered with an ack).

usage: proxy_client.py URL CA_FILE|- SPEC...
  URL    tcp://, tls://, ws:// or wss://127.0.0.1:PORT[/path]
  SPEC   v1:ADDRESS | v2:ADDRESS | v1-unknown | v2-local | none | garbage | silent | pause
         | xff-unknown (v1 UNKNOWN, then on ws/wss an X-Forwarded-For of 203.0.113.9 that must
           not be believed)
Prints one word per SPEC, in order: "open" when the relay's yamux answered a ping through the
connection, "closed" otherwise; for "silent" (a header that never comes), "dropped" when the
relay closes the connection within 10 s. All connections stay open until every SPEC is tried.
"""
import asyncio
import ipaddress
import socket
import ssl
import struct
import sys
import urllib.parse

import websockets

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PING = struct.pack(">BBHII", 0, 2, 1, 0, 0x5EED)  # version 0, Ping, SYN, stream 0, opaque


def header(spec, dest_port):
    if spec == "none" or spec == "silent":
        return b""
    if spec == "garbage":
        return b"HELLO relay\r\n"
    if spec in ("v1-unknown", "xff-unknown"):
        return b"PROXY UNKNOWN\r\n"
    if spec == "v2-local":
        return SIGNATURE + bytes([0x20, 0x00, 0, 0])
    version, address = spec.split(":", 1)
    ip = ipaddress.ip_address(address)
    if version == "v1":
        family = "TCP4" if ip.version == 4 else "TCP6"
        dest = "127.0.0.1" if ip.version == 4 else "::1"
        return f"PROXY {family} {ip} {dest} 40000 {dest_port}\r\n".encode()
    dest = ipaddress.ip_address("127.0.0.1" if ip.version == 4 else "::1")
    block = ip.packed + dest.packed + struct.pack(">HH", 40000, dest_port)
    block += bytes([0x04, 0x00, 0x04]) + b"\x00\x00\x00\x00"  # a CRC32C TLV, skipped
    family = 0x11 if ip.version == 4 else 0x21
    return SIGNATURE + bytes([0x21, family]) + struct.pack(">H", len(block)) + block


def is_ack(data):
    if len(data) < 12:
        return False
    version, kind, flags, stream, opaque = struct.unpack(">BBHII", data[:12])
    return kind == 2 and flags & 2 and opaque == 0x5EED


async def raw(url, ctx, spec, kept):
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    kept.append(writer)
    writer.write(header(spec, url.port))
    await writer.drain()
    if spec == "silent":
        return await closes(reader)
    if ctx is not None:
        await writer.start_tls(ctx, server_hostname=url.hostname)
    writer.write(PING)
    await writer.drain()
    data = b""
    while len(data) < 12:
        chunk = await reader.read(12 - len(data))
        if not chunk:
            return "closed"
        data += chunk
    return "open" if is_ack(data) else "closed"


async def closes(reader):
    try:
        return "dropped" if await asyncio.wait_for(reader.read(1), 10) == b"" else "kept"
    except ConnectionError:
        return "dropped"
    except asyncio.TimeoutError:
        return "kept"


async def websocket(url, ctx, spec, kept):
    sock = socket.create_connection((url.hostname, url.port))
    sock.sendall(header(spec, url.port))
    sock.setblocking(False)
    if spec == "silent":
        reader, writer = await asyncio.open_connection(sock=sock)
        kept.append(writer)
        return await closes(reader)
    extra = {"X-Forwarded-For": "203.0.113.9"} if spec == "xff-unknown" else {}
    ws = await websockets.connect(url.geturl(), sock=sock, ssl=ctx,
                                  server_hostname=url.hostname if ctx else None,
                                  open_timeout=5, extra_headers=extra)
    kept.append(ws)
    await ws.send(PING)
    data = b""
    while len(data) < 12:
        data += await ws.recv()
    return "open" if is_ack(data) else "closed"


async def main(url, ca, specs):
    ctx = None
    if url.scheme in ("tls", "wss"):
        ctx = ssl.create_default_context(cafile=ca)
    kept, out = [], []
    for spec in specs:
        if spec == "pause":  # past the relay's once-a-second log line
            await asyncio.sleep(1.1)
            continue
        probe = raw if url.scheme in ("tcp", "tls") else websocket
        try:
            word = await asyncio.wait_for(probe(url, ctx, spec, kept), 15)
        except Exception:
            word = "closed"
        out.append(word)
    print(" ".join(out), flush=True)
    for k in kept:  # at once: no closing handshakes to wait for
        (k.transport if isinstance(k, websockets.WebSocketClientProtocol) else k).close()


if __name__ == "__main__":
    parsed = urllib.parse.urlparse(sys.argv[1])
    asyncio.run(main(parsed, None if sys.argv[2] == "-" else sys.argv[2], sys.argv[3:]))
