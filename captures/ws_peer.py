#!/usr/bin/python3
"""WebSocket peers for record.sh: Debian's python3-websockets (10.x) server and
client, and a raw-socket client that breaks RFC 6455 on purpose so the real
server's reaction is recorded.

    ws_peer.py serve                       echo servers on 8765 (permessage-deflate),
                                           8766 (no compression); /private answers 403
    ws_peer.py session URL [--no-compression]   the scripted session below
    ws_peer.py close-custom URL            connect and close with 4000 "custom reason"
    ws_peer.py violations HOST PORT        one connection per broken rule
    ws_peer.py big URL N [--deflate]       N messages each way (benchmark captures)
"""

import asyncio
import base64
import http
import os
import socket
import struct
import sys

import websockets


async def echo(ws, path=None):
    async for msg in ws:
        if isinstance(msg, str) and msg.startswith("frag"):
            # Answer a fragmented message with a fragmented one.
            await ws.send([msg[:5], msg[5:12], msg[12:]])
        else:
            await ws.send(msg)


async def private(path, headers):
    if path.startswith("/private"):
        return http.HTTPStatus.FORBIDDEN, [("Content-Type", "text/plain")], b"forbidden\n"
    return None


async def serve():
    # Every address of the (network namespace's) host, IPv4 and IPv6.
    host = None
    async with websockets.serve(echo, host, 8765, process_request=private, ping_interval=None), \
            websockets.serve(echo, host, 8766, compression=None, process_request=private, ping_interval=None):
        await asyncio.Future()


async def session(url, compression):
    kw = {"ping_interval": None, "subprotocols": ["chat.v1", "chat.v2"]}
    if not compression:
        kw["compression"] = None
    async with websockets.connect(url, origin="http://sockscope.test", **kw) as ws:
        await ws.send("hello, sockscope")
        await ws.recv()
        await ws.send(bytes(range(256)))
        await ws.recv()
        pong = await ws.ping(b"are you there?")
        await pong
        await ws.send(["frag-one ", "frag-two ", "frag-three"])
        await ws.recv()
        await ws.send("κόσμε — unicode across frames ✓")
        await ws.recv()
        # 60 kB of text: many TCP segments per frame (and a 16-bit length
        # after compression, a 64-bit one without).
        await ws.send("sockscope " * 7000)
        await ws.recv()
        await ws.close(code=1000, reason="done")


async def close_custom(url):
    async with websockets.connect(url, ping_interval=None) as ws:
        await ws.send("bye soon")
        await ws.recv()
        await ws.close(code=4000, reason="custom reason")


async def big(url, n, deflate):
    kw = {} if deflate else {"compression": None}
    async with websockets.connect(url, ping_interval=None, max_queue=None, **kw) as ws:
        for i in range(n):
            await ws.send(f"message {i} " + "x" * (i % 200))
            if i % 100 == 99:
                await ws.ping()
        # Wait for all echoes.
        for _ in range(n):
            await ws.recv()


def frame(opcode, payload, fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def raw_connect(host, port, path="/"):
    s = socket.create_connection((host, port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


def drain(s):
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()


def violations(host, port):
    cases = [
        [frame(1, b"fine"), frame(1, b"unmasked", mask=False)],
        [frame(1, b"\xce\xba\xff\xfe bad utf-8")],
        [frame(3, b"reserved opcode")],
        [frame(8, struct.pack("!H", 1005))],
        [frame(1, b"rsv2", rsv=0x20)],
        [frame(9, b"p" * 126)],
        [frame(0, b"orphan continuation")],
        [frame(1, b"start ", fin=False), frame(1, b"again")],
        [frame(1, b"compressed?", rsv=0x40)],
    ]
    for frames in cases:
        s, _ = raw_connect(host, port)
        for f in frames:
            s.sendall(f)
        drain(s)
    # A failed upgrade, then frames anyway.
    s, head = raw_connect(host, port, "/private")
    assert head.startswith(b"HTTP/1.1 403"), head
    try:
        s.sendall(frame(1, b"let me in"))
    except OSError:
        pass
    drain(s)


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        asyncio.run(serve())
    elif cmd == "session":
        asyncio.run(session(sys.argv[2], "--no-compression" not in sys.argv))
    elif cmd == "close-custom":
        asyncio.run(close_custom(sys.argv[2]))
    elif cmd == "violations":
        violations(sys.argv[2], int(sys.argv[3]))
    elif cmd == "big":
        asyncio.run(big(sys.argv[2], int(sys.argv[3]), "--deflate" in sys.argv))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
