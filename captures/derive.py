#!/usr/bin/python3
"""Derive captures with out-of-order, duplicated or missing TCP segments from a
recorded one, for reassembly tests (this kernel has no netem).

    derive.py reorder IN OUT   every 7th pair of server data segments that are
                               next to each other in the file swapped (as a
                               path that reorders would deliver them); every
                               11th client data segment sent twice (a
                               retransmission)
    derive.py gap IN OUT       the 20th server data segment removed (its
                               bytes are acknowledged but never captured)
    derive.py conflict IN OUT  the 3rd client data segment repeated with its
                               last byte changed (a retransmission that
                               disagrees with the first copy)
    derive.py wrap IN OUT      sequence and acknowledgement numbers shifted so
                               both sides' initial sequence numbers sit a few
                               hundred bytes below 2^32 (both streams wrap)

Only Ethernet/IPv4/TCP pcap files with microsecond or nanosecond timestamps
are handled (what record.sh writes). Records keep their timestamps in file
order: a moved segment takes the time of the slot it lands in.
"""

import struct
import sys


def read_pcap(path):
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        sys.exit(f"{path}: not a pcap file")
    header = data[:24]
    recs = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        recs.append([sec, frac, incl, orig, data[off + 16:off + 16 + incl]])
        off += 16 + incl
    return e, header, recs


def write_pcap(path, e, header, recs):
    with open(path, "wb") as f:
        f.write(header)
        for sec, frac, incl, orig, pkt in recs:
            f.write(struct.pack(e + "IIII", sec, frac, incl, orig) + pkt)


def tcp_payload_len(pkt):
    """(src_port, dst_port, payload length) of an Ethernet/IPv4/TCP frame, or None."""
    if len(pkt) < 14 + 20 or pkt[12:14] != b"\x08\x00" or pkt[23] != 6:
        return None
    ihl = (pkt[14] & 0x0F) * 4
    total = struct.unpack("!H", pkt[16:18])[0]
    t = 14 + ihl
    sport, dport = struct.unpack("!HH", pkt[t:t + 4])
    doff = (pkt[t + 12] >> 4) * 4
    return sport, dport, total - ihl - doff


def data_segments(recs, server_port, from_server):
    out = []
    for i, r in enumerate(recs):
        t = tcp_payload_len(r[4])
        if t and t[2] > 0 and (t[0] == server_port) == from_server and server_port in t[:2]:
            out.append(i)
    return out


def server_port(recs):
    for r in recs:
        t = tcp_payload_len(r[4])
        if t and r[4][14 + (r[4][14] & 0x0F) * 4 + 13] & 0x12 == 0x02:  # SYN without ACK
            return t[1]
    sys.exit("no SYN found")


def main():
    mode, src, dst = sys.argv[1:4]
    e, header, recs = read_pcap(src)
    port = server_port(recs)
    times = [r[:2] for r in recs]
    if mode == "reorder":
        srv = data_segments(recs, port, True)
        # Only neighbours: an acknowledgement between them would cover the
        # later one before it was captured, which no path can do.
        pairs = [i for i, j in zip(srv, srv[1:]) if j == i + 1]
        for i in pairs[6::7]:
            recs[i][2:], recs[i + 1][2:] = recs[i + 1][2:], recs[i][2:]
        cli = data_segments(recs, port, False)
        for k in reversed(range(10, len(cli), 11)):
            i = cli[k]
            recs.insert(i + 1, list(recs[i]))
            times.insert(i + 1, times[i])
    elif mode == "gap":
        srv = data_segments(recs, port, True)
        del recs[srv[19]]
        del times[srv[19]]
    elif mode == "wrap":
        isn = {}
        for r in recs:
            pkt = r[4]
            t = tcp_payload_len(pkt)
            if not t:
                continue
            o = 14 + (pkt[14] & 0x0F) * 4
            flags = pkt[o + 13]
            if flags & 0x02:  # SYN or SYN-ACK: this side's ISN
                isn.setdefault(t[0], struct.unpack("!I", pkt[o + 4:o + 8])[0])
        target = {port: (2**32 - 400 - 200 * (port == port_of_server)) for port, port_of_server in ((p, port) for p in isn)}
        shift = {p: (target[p] - isn[p]) % 2**32 for p in isn}
        for r in recs:
            pkt = bytearray(r[4])
            t = tcp_payload_len(bytes(pkt))
            if not t or t[0] not in shift or t[1] not in shift:
                continue
            o = 14 + (pkt[14] & 0x0F) * 4
            seq, ack = struct.unpack("!II", pkt[o + 4:o + 12])
            seq = (seq + shift[t[0]]) % 2**32
            if pkt[o + 13] & 0x10:  # ACK: acknowledges the other side
                ack = (ack + shift[t[1]]) % 2**32
            pkt[o + 4:o + 12] = struct.pack("!II", seq, ack)
            r[4] = bytes(pkt)
    elif mode == "conflict":
        i = data_segments(recs, port, False)[2]
        copy = list(recs[i])
        pkt = bytearray(copy[4])
        pkt[-1] ^= 0xFF
        copy[4] = bytes(pkt)
        recs.insert(i + 1, copy)
        times.insert(i + 1, times[i])
    else:
        sys.exit(__doc__)
    for r, t in zip(recs, times):
        r[:2] = t
    write_pcap(dst, e, header, recs)


if __name__ == "__main__":
    main()
