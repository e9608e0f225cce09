#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An independent WebSocket peer for interop tests: Debian's python3-websockets (asyncio API).

  ws_peer.py server [CERT KEY]  echo the byte stream back in 1000-byte messages (boundaries
                                that differ from the writer's); print "port N" on stdout; run
                                until stdin closes. With CERT and KEY: wss:// (TLS).
  ws_peer.py client URL [CA]    send 300 KiB in messages of varying size, expect the same bytes
                                back as a stream, ping, then send a message above the server's
                                64 KiB limit and expect close code 1009. For a wss:// URL, CA is
                                the PEM file that verifies the server (host name included).

Exit status 0 means every check passed; failures are explained on stderr.
"""
import asyncio
import ssl
import sys

import websockets


def fail(msg):
    print("ws_peer: " + msg, file=sys.stderr)
    sys.exit(1)


async def server(tls=None):
    async def echo(ws, path=None):
        pending = b""
        try:
            async for message in ws:
                pending += message if isinstance(message, bytes) else message.encode()
                while len(pending) >= 1000:
                    await ws.send(pending[:1000])
                    pending = pending[1000:]
                if pending:
                    await ws.send(pending)
                    pending = b""
        except websockets.ConnectionClosed:
            pass

    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None, compression=None,
                                ssl=tls) as srv:
        port = srv.sockets[0].getsockname()[1]
        print("port %d" % port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


async def client(url, tls=None):
    data = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(300 * 1024))
    async with websockets.connect(url, max_size=None, compression=None, ssl=tls) as ws:
        sizes = [1, 12, 4096, 60000, 77, 65000, 3]  # under the server's 64 KiB limit
        pos, k = 0, 0
        while pos < len(data):
            n = sizes[k % len(sizes)]
            await ws.send(data[pos:pos + n])
            pos += n
            k += 1
        got = b""
        while len(got) < len(data):
            message = await ws.recv()
            got += message if isinstance(message, bytes) else message.encode()
        if got != data:
            fail("echo differs (%d of %d bytes)" % (len(got), len(data)))
        pong = await ws.ping()
        await asyncio.wait_for(pong, 5)
        # A text message is part of the stream too.
        await ws.send("text")
        message = await ws.recv()
        if message != b"text":
            fail("text message not echoed as bytes: %r" % (message,))
        # Oversize: the server's limit is 64 KiB, so 100 KiB in one message must close with 1009.
        await ws.send(b"x" * (100 * 1024))
        try:
            await asyncio.wait_for(ws.recv(), 5)
            fail("oversize message was accepted")
        except websockets.ConnectionClosed as closed:
            if closed.code != 1009:
                fail("oversize message closed with %s, expected 1009" % closed.code)
    print("ws_peer: client checks passed", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) in (2, 4) and sys.argv[1] == "server":
        context = None
        if len(sys.argv) == 4:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(sys.argv[2], sys.argv[3])
        asyncio.run(server(context))
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "client":
        context = None
        if len(sys.argv) == 4:
            context = ssl.create_default_context(cafile=sys.argv[3])
        asyncio.run(client(sys.argv[2], context))
    else:
        fail("usage: ws_peer.py server [CERT KEY] | client URL [CA]")
