#!/usr/bin/python3
"""Generate hostile captures: inputs an attacker who can send packets (or a
damaged file) would hand sockscope, for the tests of its memory bounds.
Standard library only; OUT may be - for standard output (the large ones are
meant to be piped into `sockscope replay -`, never kept).

    hostile.py frags N M OUT      N fragmented UDP datagrams completed in turn
                                  (two fragments each), then M first fragments
                                  of new datagrams at a high offset (64000,
                                  1400 bytes: each holds ~64 KiB), all within
                                  30 s
    hostile.py heads N SIZE OUT   N TCP connections (handshake seen), each
                                  sending an HTTP GET head of SIZE bytes that
                                  never ends (no blank line), in 1448-byte
                                  segments, none closed
    hostile.py long-heads OUT     WebSocket upgrades with heads over 16 KiB:
                                  a request head of 20 000 bytes answered 101,
                                  a 101 answer of 20 000 bytes, and a plain GET
                                  of 20 000 bytes answered 431; frames follow
                                  each 101
    hostile.py burst N SECS OUT   N connections each sending a 15 KiB GET head
                                  that never ends and then resetting, then 400
                                  UDP datagrams every 100 ms of real time (and
                                  of capture time) for SECS seconds: memory
                                  taken by the burst is free after it, for the
                                  allocator to return while the capture goes on
    hostile.py ping-of-death OUT  an ICMP echo in 45 fragments of 1480 bytes
                                  whose last one ends past 65 535 bytes
    hostile.py bad-orig-len OUT   UDP packets, among them a record whose
                                  original length is 0xffffffff and one whose
                                  original length is below its captured length

Every frame is Ethernet/IPv4 with valid IP header checksums, in a
microsecond pcap file.
"""

import base64
import hashlib
import struct
import sys

MAC = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02"
ETH_IP = MAC + b"\x08\x00"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Pcap:
    def __init__(self, path):
        self.f = sys.stdout.buffer if path == "-" else open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.buf = []

    def packet(self, usec, frame, orig=None):
        sec, us = divmod(usec, 1_000_000)
        orig = len(frame) if orig is None else orig
        self.buf.append(struct.pack("<IIII", sec, us, len(frame), orig))
        self.buf.append(frame)
        if len(self.buf) > 4096:
            self.flush()

    def flush(self):
        self.f.write(b"".join(self.buf))
        self.buf = []

    def close(self):
        self.flush()
        self.f.flush()
        if self.f is not sys.stdout.buffer:
            self.f.close()


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip(src, dst, proto, payload, ident=0, frag=0):
    """An IPv4 header (no options) before `payload`; `frag` is the flags and
    fragment offset field (MF = 0x2000, offset in 8-byte units)."""
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, frag,
                    64, proto, 0, bytes(src), bytes(dst))
    h = h[:10] + struct.pack("!H", checksum(h)) + h[12:]
    return ETH_IP + h + payload


def udp(sport, dport, data):
    # Checksum 0: not computed (allowed over IPv4).
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def tcp(src, dst, sport, dport, seq, ack, flags, data=b""):
    # Checksum 0: sockscope does not check it, and nothing here is sent.
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                    5 << 4, flags, 65535, 0, 0)
    return ip(src, dst, 6, h + data)


class Conn:
    """One TCP connection's packets, handshake first."""

    def __init__(self, pcap, client, server, cport, sport, t):
        self.p, self.c, self.s, self.cp, self.sp = pcap, client, server, cport, sport
        self.cseq, self.sseq, self.t = 1000, 5000, t
        self.send(True, SYN)
        self.send(False, SYN | ACK)
        self.send(True, ACK)

    def send(self, from_client, flags, data=b""):
        if from_client:
            f = tcp(self.c, self.s, self.cp, self.sp, self.cseq, self.sseq, flags, data)
            self.cseq += len(data) + (1 if flags & (SYN | FIN) else 0)
        else:
            f = tcp(self.s, self.c, self.sp, self.cp, self.sseq, self.cseq, flags, data)
            self.sseq += len(data) + (1 if flags & (SYN | FIN) else 0)
        self.p.packet(self.t, f)
        self.t += 100

    def data(self, from_client, data, mss=1448):
        for i in range(0, len(data), mss):
            self.send(from_client, ACK | PSH, data[i:i + mss])


def frags(n, m, out):
    p = Pcap(out)
    src, dst = [10, 0, 0, 1], [10, 0, 0, 2]
    t = 1_700_000_000_000_000
    whole = udp(4000, 5000, b"sockscope-frag!!")  # 24 bytes: 16, then 8
    first, data = whole[:16], whole
    # Two templates whose identification and checksum are patched per
    # datagram (a million of them: building each header whole is slow).
    a = bytearray(ip(src, dst, 17, first, ident=0, frag=0x2000))
    b = bytearray(ip(src, dst, 17, data[16:], ident=0, frag=2))
    sum_a = (~struct.unpack("!H", a[24:26])[0]) & 0xFFFF
    sum_b = (~struct.unpack("!H", b[24:26])[0]) & 0xFFFF
    for i in range(n):
        ident = i & 0xFFFF
        for f, s in ((a, sum_a), (b, sum_b)):
            c = s + ident
            c = (c & 0xFFFF) + (c >> 16)
            f[18:20] = struct.pack("!H", ident)
            f[24:26] = struct.pack("!H", (~c) & 0xFFFF)
            p.packet(t, bytes(f))
        t += 10
    big = bytes(1400)
    for j in range(m):
        # Another source per 65 536 ids keeps every key distinct.
        s = [10, 1, (j >> 16) & 0xFF, 1]
        p.packet(t, ip(s, dst, 17, big, ident=j, frag=0x2000 | (64000 // 8)))
        t += 10
    p.close()


def heads(n, size, out):
    p = Pcap(out)
    t = 1_700_000_000_000_000
    server = [10, 0, 0, 2]
    start = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Pad: "
    head = start + b"a" * (size - len(start))
    for i in range(n):
        client = [10, 2, (i >> 8) & 0xFF, i & 0xFF]
        c = Conn(p, client, server, 10000 + i % 50000, 80, t)
        c.data(True, head)
        t += 1000
    p.close()


RST = 0x04


def burst(n, secs, out):
    import time
    p = Pcap(out)
    t = 1_700_000_000_000_000
    server = [10, 0, 0, 2]
    start = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Pad: "
    head = start + b"a" * (15360 - len(start))
    for i in range(n):
        client = [10, 2, (i >> 8) & 0xFF, i & 0xFF]
        c = Conn(p, client, server, 10000 + i % 50000, 80, t)
        c.data(True, head)
        c.send(True, RST | ACK)
        t += 100
    p.flush()
    p.f.flush()
    # 400 datagrams of 1400 bytes a tick: more than a replay's read chunk
    # (512 KiB), so a replay reading a pipe sees them as they come.
    tick = ip([10, 0, 0, 1], server, 17, udp(4000, 53, bytes(1400)))
    for _ in range(int(secs * 10)):
        time.sleep(0.1)
        for _ in range(400):
            t += 250
            p.packet(t, tick)
        p.flush()
        p.f.flush()
    p.close()


def frame(b0, payload, mask):
    n = len(payload)
    f = bytes([b0])
    m = 0x80 if mask else 0
    if n < 126:
        f += bytes([m | n])
    else:
        f += bytes([m | 126]) + struct.pack("!H", n)
    if mask:
        key = b"\x37\xfa\x21\x3d"
        f += key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    else:
        f += payload
    return f


def long_heads(out):
    p = Pcap(out)
    t = 1_700_000_000_000_000
    client, server = [10, 0, 0, 1], [10, 0, 0, 2]
    key = base64.b64encode(b"sockscope long h").decode()
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    pad = "X-Pad: " + "a" * 20000 + "\r\n"
    upgrade = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
               + "\r\nSec-WebSocket-Version: 13\r\n")
    ok = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " + accept + "\r\n")
    cases = [
        # The request's padding comes before its Upgrade headers.
        ("GET /long-request HTTP/1.1\r\nHost: a\r\n" + pad + upgrade + "\r\n", ok + "\r\n"),
        ("GET /long-answer HTTP/1.1\r\nHost: a\r\n" + upgrade + "\r\n", ok + pad + "\r\n"),
        ("GET /long-plain HTTP/1.1\r\nHost: a\r\n" + pad + "\r\n",
         "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n"),
    ]
    for i, (req, resp) in enumerate(cases):
        c = Conn(p, client, server, 40000 + i, 80, t)
        c.data(True, req.encode())
        c.data(False, resp.encode())
        if resp.startswith("HTTP/1.1 101"):
            c.data(True, frame(0x81, b"hello", True))
            c.data(False, frame(0x81, b"hello back", False))
            c.data(True, frame(0x88, b"\x03\xe8", True))
            c.data(False, frame(0x88, b"\x03\xe8", False))
        c.send(True, FIN | ACK)
        c.send(False, FIN | ACK)
        c.send(True, ACK)
        t += 1_000_000
    p.close()


def ping_of_death(out):
    p = Pcap(out)
    t = 1_700_000_000_000_000
    src, dst = [10, 0, 0, 1], [10, 0, 0, 2]
    echo = struct.pack("!BBHHH", 8, 0, 0, 0x5353, 1)
    body = echo + bytes(1480 - len(echo))
    # 44 fragments of 1480 bytes (0 .. 65 120), then the last at 65 120
    # with 1480 bytes: it ends at 66 600, past the 65 535 an IP datagram
    # can hold.
    for k in range(45):
        chunk = body if k == 0 else bytes(1480)
        more = 0x2000 if k < 44 else 0
        p.packet(t, ip(src, dst, 1, chunk, ident=0x4242, frag=more | (k * 1480 // 8)))
        t += 10
    p.close()


def bad_orig_len(out):
    p = Pcap(out)
    t = 1_700_000_000_000_000
    src, dst = [10, 0, 0, 1], [10, 0, 0, 2]
    for i in range(6):
        f = ip(src, dst, 17, udp(4000 + i, 53, b"query %d" % i))
        orig = {2: 0xFFFFFFFF, 4: len(f) - 10}.get(i)
        p.packet(t, f, orig)
        t += 1000
    p.close()


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    what, args = argv[1], argv[2:]
    if what == "frags" and len(args) == 3:
        frags(int(args[0]), int(args[1]), args[2])
    elif what == "heads" and len(args) == 3:
        heads(int(args[0]), int(args[1]), args[2])
    elif what == "long-heads" and len(args) == 1:
        long_heads(args[0])
    elif what == "burst" and len(args) == 3:
        burst(int(args[0]), float(args[1]), args[2])
    elif what == "ping-of-death" and len(args) == 1:
        ping_of_death(args[0])
    elif what == "bad-orig-len" and len(args) == 1:
        bad_orig_len(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
