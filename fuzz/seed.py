#!/usr/bin/python3
"""Seed the ws_frames, http_upgrade and http_exchange corpora from recorded sessions.

    fuzz/seed.py captures/ws-deflate.pcap captures/ws-plain.pcap ...

For each TCP connection in each (Ethernet, IPv4 or IPv6) capture, the two
byte streams are rebuilt (in file order, duplicates skipped) and written as:
  corpus/http_upgrade/<name>-<n>: step byte, client bytes, NUL, server bytes
  corpus/ws_frames/<name>-<n>:    option byte, then the bytes after each
                                  side's HTTP head in the target's chunk format
  corpus/http_exchange/<name>-<n>: step byte, client bytes, NUL, server bytes
                                  (whole streams of any HTTP request, 16 KB each at most)
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def packets(path):
    data = open(path, "rb").read()
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl


def tcp(pkt):
    et = pkt[12:14]
    if et == b"\x08\x00":
        ihl = (pkt[14] & 0x0F) * 4
        if pkt[23] != 6:
            return None
        src, dst = pkt[26:30], pkt[30:34]
        t = 14 + ihl
        end = 14 + struct.unpack("!H", pkt[16:18])[0]
    elif et == b"\x86\xdd":
        if pkt[20] != 6:
            return None
        src, dst = pkt[22:38], pkt[38:54]
        t = 54
        end = 54 + struct.unpack("!H", pkt[18:20])[0]
    else:
        return None
    sp, dp, seq = struct.unpack("!HHI", pkt[t:t + 8])
    flags = pkt[t + 13]
    doff = (pkt[t + 12] >> 4) * 4
    return (src, sp), (dst, dp), seq, flags, pkt[t + doff:end]


def streams(path):
    conns = {}
    for p in packets(path):
        t = tcp(p)
        if not t:
            continue
        a, b, seq, flags, payload = t
        if flags & 0x12 == 0x02:  # SYN: a new connection, client a
            conns[(a, b)] = {"c": [seq + 1, b""], "s": [None, b""]}
            continue
        key, side = ((a, b), "c") if (a, b) in conns else ((b, a), "s")
        if key not in conns:
            continue
        st = conns[key][side]
        if flags & 0x12 == 0x12:
            st[0] = seq + 1
            continue
        if payload and st[0] is not None and seq == st[0]:
            st[1] += payload
            st[0] += len(payload)
    return [(v["c"][1], v["s"][1]) for v in conns.values()]


def chunks(side_bytes, side_bit, size=60):
    out = b""
    for i in range(0, len(side_bytes), size):
        c = side_bytes[i:i + size]
        out += bytes([((len(c) - 1) << 2) | side_bit]) + c
    return out


def main():
    for d in ("ws_frames", "http_upgrade", "http_exchange"):
        os.makedirs(os.path.join(HERE, "corpus", d), exist_ok=True)
    for path in sys.argv[1:]:
        name = os.path.basename(path).split(".")[0]
        for n, (c, s) in enumerate(streams(path)):
            if c[:1].isupper() and b" HTTP/1." in c[:2048]:
                whole = b"\x0b" + c[:8192].replace(b"\x00", b"") + b"\x00" + s[:8192]
                open(os.path.join(HERE, "corpus/http_exchange", f"{name}-{n}"), "wb").write(whole)
            if not c.startswith(b"GET "):
                continue
            ch, sh = c.split(b"\r\n\r\n", 1), s.split(b"\r\n\r\n", 1)
            head = c[: len(ch[0]) + 4] + b"\x00" + s[: len(sh[0]) + 4]
            open(os.path.join(HERE, "corpus/http_upgrade", f"{name}-{n}"), "wb").write(b"\x07" + head)
            deflate = b"permessage-deflate" in sh[0]
            opts = bytes([1 | (4 << 2) if deflate else 0])
            body = chunks(ch[1] if len(ch) > 1 else b"", 1)[:4000] + chunks(sh[1] if len(sh) > 1 else b"", 0)[:4000]
            open(os.path.join(HERE, "corpus/ws_frames", f"{name}-{n}"), "wb").write(opts + body)


if __name__ == "__main__":
    main()
