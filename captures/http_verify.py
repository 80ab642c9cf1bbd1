#!/usr/bin/python3
"""http_verify.py CAPTURE.pcap [LOG.jsonl] -- checks that an http-* capture
holds what its programs logged (record.sh runs it after each http capture).

The capture is read with tshark (every TCP segment: time, ports, sequence
number, payload), the two byte streams of each connection are rebuilt, and the
HTTP/1.x messages in them are split by a small parser of its own (Content-
Length, chunked, close-delimited; no body for HEAD, 1xx, 204, 304). Each
message gets the capture times of its first and last byte and of each chunk.
Then, against the log:

  * every response the server logged is in the capture on the connection of
    the logged port: same method, target, status, body length, chunk count;
  * every request a client logged likewise;
  * times: a server's write is logged as [time before, time after] the
    write call, and the capture time of the segment it sent must lie inside
    (the veth hands the segment to tcpdump inside the sender's system call);
    a client's send likewise; a client's receive times (when its recv, curl's
    trace line or an EventSource event came) are upper bounds: the capture's
    time of that byte must be at most that, and at most CLIENT_LAG_MS
    (default 25) earlier; a long poll's hold against the capture's wait
    (last request byte to first response byte): at least the hold, at most
    10 ms more;
  * SSE: the capture's event streams parsed again give the server's logged
    blocks, and the events the EventSource logged.

Prints one line per message and a summary; exits 1 on a mismatch.
"""

import collections
import json
import os
import subprocess
import sys

SLACK = 0.0001  # the clocks' read-out granularity around a bracket
CLIENT_LAG = float(os.environ.get("CLIENT_LAG_MS", "25")) / 1000
HOLD_TOL = 0.010
SERVER_PORTS = (8080, 8081)


def segments(path):
    out = subprocess.run(
        ["tshark", "-r", path, "-Y", "tcp", "-T", "fields", "-e", "frame.time_epoch", "-e", "tcp.srcport",
         "-e", "tcp.dstport", "-e", "tcp.seq_raw", "-e", "tcp.flags.syn", "-e", "tcp.flags.fin", "-e", "tcp.payload"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if out.returncode:
        raise SystemExit("tshark: " + out.stderr.decode().strip())
    out = out.stdout.decode()
    for line in out.splitlines():
        t, sp, dp, seq, syn, fin, payload = (line.split("\t") + [""] * 7)[:7]
        yield float(t), int(sp), int(dp), int(seq), syn in ("1", "True"), fin in ("1", "True"), bytes.fromhex(payload.replace(":", ""))


class Stream:
    """One direction of a connection: its bytes, and for each byte offset the
    time of the segment that carried it."""

    def __init__(self):
        self.isn = None
        self.data = bytearray()
        self.marks = []  # (offset, time) at each segment start
        self.fin_time = None

    def add(self, t, seq, syn, fin, payload):
        if syn:
            self.isn = (seq + 1) & 0xFFFFFFFF
        if payload:
            off = (seq - self.isn) & 0xFFFFFFFF
            if off == len(self.data):
                self.marks.append((off, t))
                self.data += payload
            elif off + len(payload) > len(self.data) > off:  # partial retransmission
                self.marks.append((len(self.data), t))
                self.data += payload[len(self.data) - off:]
            elif off > len(self.data):
                raise SystemExit("gap in the capture at offset %d" % len(self.data))
        if fin and self.fin_time is None:
            self.fin_time = t

    def time_at(self, off):
        best = None
        for o, t in self.marks:
            if o <= off:
                best = t
            else:
                break
        return best


def read_line(data, pos):
    end = data.find(b"\r\n", pos)
    if end < 0:
        raise ValueError("no line end")
    return data[pos:end].decode("latin-1"), end + 2


def read_head(data, pos):
    first, pos = read_line(data, pos)
    headers = {}
    while True:
        line, pos = read_line(data, pos)
        if not line:
            return first, headers, pos
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()


def read_body(data, pos, headers, stream, no_body, close_ok):
    """Returns (body_len, chunks [(data offset, size, chunk bytes)], end)."""
    if no_body:
        return 0, [], pos
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks, total = [], 0
        while True:
            start = pos
            line, pos = read_line(data, pos)
            size = int(line.split(";")[0], 16)
            if size == 0:
                while True:  # trailers
                    line, pos = read_line(data, pos)
                    if not line:
                        return total, chunks, pos
            chunks.append((start, size, bytes(data[pos:pos + size])))
            total += size
            pos += size + 2
    if "content-length" in headers:
        # A request refused before its body (Expect: 100-continue) ends
        # with its headers.
        n = min(int(headers["content-length"]), len(data) - pos)
        return n, [], pos + n
    if close_ok:  # close-delimited
        return len(data) - pos, [], len(data)
    return 0, [], pos


def parse_connection(c2s, s2c):
    """Pairs requests and responses in order; yields one dict each."""
    reqs, pos = [], 0
    while pos < len(c2s.data):
        first_off = pos
        first, headers, pos = read_head(c2s.data, pos)
        method, target, version = first.split(" ", 2)
        n, _, pos = read_body(c2s.data, pos, headers, c2s, False, False)
        reqs.append({"method": method, "target": target, "version": version, "headers": headers,
                     "req_body_len": n, "t_req_first": c2s.time_at(first_off),
                     "t_req_last": c2s.time_at(pos - 1), "req_off": (first_off, pos)})
    pos = 0
    for req in reqs:
        if pos >= len(s2c.data):
            req["status"] = None  # never answered
            continue
        interim = []
        while True:
            first_off = pos
            first, headers, pos = read_head(s2c.data, pos)
            status = int(first.split(" ")[1])
            if 100 <= status < 200 and status != 101:
                interim.append((status, s2c.time_at(first_off)))
                continue
            break
        no_body = req["method"] == "HEAD" or status in (204, 304) or status < 200
        body_start = pos
        n, chunks, pos = read_body(s2c.data, pos, headers, s2c, no_body, True)
        req.update({
            "status": status, "reason": first.split(" ", 2)[2] if first.count(" ") >= 2 else "",
            "resp_version": first.split(" ")[0], "resp_headers": headers, "interim": interim,
            "resp_body_len": n, "t_resp_first": s2c.time_at(first_off), "t_resp_last": s2c.time_at(pos - 1),
            "chunks": [(s2c.time_at(off), size, body) for off, size, body in chunks],
            "body": bytes(s2c.data[body_start:pos]) if len(chunks) == 0 else b"".join(c[2] for c in chunks),
        })
    if pos != len(s2c.data):
        raise SystemExit("bytes after the last response on a connection")
    return reqs


def sse_blocks(text):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from http_peer import sse_blocks as parse
    return parse(text)


def main(pcap, logpath):
    streams = collections.defaultdict(Stream)
    for t, sp, dp, seq, syn, fin, payload in segments(pcap):
        streams[(sp, dp)].add(t, seq, syn, fin, payload)
    conns = {}
    for (sp, dp) in list(streams):
        if dp in SERVER_PORTS:
            conns[sp] = parse_connection(streams[(sp, dp)], streams.get((dp, sp), Stream()))
    log = [json.loads(line) for line in open(logpath)]
    errors = []

    def check(cond, what):
        if not cond:
            errors.append(what)

    lags = []

    def within(bracket, b, what):
        # bracket: the log's [before, after] a write; b: the capture's time.
        if bracket is None or b is None:
            errors.append("%s: missing time (log %s, capture %s)" % (what, bracket, b))
        elif not bracket[0] - SLACK <= b <= bracket[1] + SLACK:
            errors.append("%s: capture %.6f outside the logged [%.6f, %.6f]" % (what, b, bracket[0], bracket[1]))

    def after(a, b, what):
        # a: a client's time of seeing a byte (an upper bound), b: the capture's.
        if a is None or b is None:
            errors.append("%s: missing time (log %s, capture %s)" % (what, a, b))
        elif not -SLACK <= a - b <= CLIENT_LAG:
            errors.append("%s: log %.6f, capture %.6f (%+.3f ms)" % (what, a, b, (a - b) * 1000))
        else:
            lags.append(a - b)

    # Match logged records to captured exchanges, in order per connection.
    used = collections.defaultdict(lambda: collections.defaultdict(int))
    n_req = sum(len(v) for v in conns.values())
    print("%s: %d connections, %d requests" % (os.path.basename(pcap), len(conns), n_req))
    for port, reqs in sorted(conns.items()):
        for r in reqs:
            ch = r.get("chunks") or []
            print("  :%d %-4s %-22s %s %-4s body %5s  chunks %2d  wait %7.1f ms  %s" % (
                port, r["method"], r["target"][:22], r.get("resp_version", "-"), r["status"],
                r.get("resp_body_len"), len(ch),
                ((r["t_resp_first"] - r["t_req_last"]) * 1000) if r["status"] else float("nan"),
                ("interim %s" % [s for s, _ in r["interim"]]) if r.get("interim") else ""))
    chunk_logs = collections.defaultdict(list)
    block_logs = collections.defaultdict(list)
    for rec in log:
        if rec["kind"] == "chunk":
            chunk_logs[rec["conn"]].append(rec)
        if rec["kind"] == "sse_block":
            block_logs[rec["conn"]].append(rec)
    checked = 0
    for rec in log:
        if rec["kind"] not in ("request", "response"):
            continue
        port = rec["conn"]
        reqs = conns.get(port)
        if reqs is None:
            errors.append("%s %s: no connection from port %s in the capture" % (rec["by"], rec["target"], port))
            continue
        k = used[rec["by"]][port]
        used[rec["by"]][port] += 1
        if k >= len(reqs):
            errors.append("%s: more records than requests on :%s" % (rec["by"], port))
            continue
        r = reqs[k]
        what = "%s :%s #%d %s %s" % (rec["by"], port, k, rec["method"], rec["target"])
        check(r["method"] == rec["method"] and r["target"] == rec["target"],
              "%s: capture has %s %s" % (what, r["method"], r["target"]))
        check(r["status"] == rec["status"], "%s: status %s, capture %s" % (what, rec["status"], r["status"]))
        if rec.get("resp_body_len") is not None:
            check(r["resp_body_len"] == rec["resp_body_len"],
                  "%s: body %s, capture %s" % (what, rec["resp_body_len"], r["resp_body_len"]))
        if rec.get("req_body_len") is not None and not rec.get("refused_before_body"):
            check(r["req_body_len"] == rec["req_body_len"],
                  "%s: request body %s, capture %s" % (what, rec["req_body_len"], r["req_body_len"]))
        if rec.get("statuses"):
            check([s for s, _ in r["interim"]] + [r["status"]] == rec["statuses"],
                  "%s: statuses %s, capture %s" % (what, rec["statuses"], r["interim"]))
        if rec["by"] in ("server", "stdlib-server"):
            if rec.get("t_headers"):
                within(rec["t_headers"], r["t_resp_first"], what + " t_headers")
                within(rec["t_last"], r["t_resp_last"], what + " t_last")
            if "hold_s" in rec:
                # hold_s is how long the handler waited; the capture's wait
                # adds the server's reaction (the request reaching the
                # handler, the answer being written).
                wait = r["t_resp_first"] - r["t_req_last"]
                check(rec["hold_s"] - SLACK <= wait <= rec["hold_s"] + HOLD_TOL,
                      "%s: hold %.6f s logged, wait %.6f s in the capture" % (what, rec["hold_s"], wait))
            if rec.get("pieces"):
                logged = [c for c in chunk_logs[port] if c["target"] == rec["target"]][:rec["pieces"]]
                chunk_logs[port] = chunk_logs[port][len(logged):]
                if rec.get("transfer_encoding") == "chunked":
                    check(len(r["chunks"]) == len(logged),
                          "%s: %d chunks logged, %d in the capture" % (what, len(logged), len(r["chunks"])))
                    for c, (t, size, _) in zip(logged, r["chunks"]):
                        check(c["len"] == size, "%s chunk %d: %d bytes logged, %d captured" % (what, c["seq"], c["len"], size))
                        within(c["t"], t, "%s chunk %d" % (what, c["seq"]))
                else:  # close-delimited: the pieces are the segments
                    s2c = streams[(8081, port)]
                    times = [t for o, t in s2c.marks][1:]  # after the header segment
                    check(len(times) == len(logged), "%s: %d pieces logged, %d data segments" % (what, len(logged), len(times)))
                    for c, t in zip(logged, times):
                        within(c["t"], t, "%s piece %d" % (what, c["seq"]))
                if rec.get("content_type", "").startswith("text/event-stream"):
                    blocks = sse_blocks(r["body"].decode())
                    logged_b = block_logs[port][:len(blocks)]
                    block_logs[port] = block_logs[port][len(blocks):]
                    keys = ("event", "id", "retry", "comments", "dispatched", "data_len")
                    for b in blocks:
                        b["data_len"] = len(b["data"]) if b["data"] is not None else None
                    check([{k: b.get(k) for k in keys} for b in blocks]
                          == [{k: b.get(k) for k in keys} for b in logged_b],
                          "%s: SSE blocks differ from the log" % what)
                    print("  :%d %s: %d SSE blocks, %d dispatched, %d comments, as logged" % (
                        port, rec["target"], len(blocks), sum(b["dispatched"] for b in blocks),
                        sum(len(b["comments"]) for b in blocks)))
        else:
            if isinstance(rec.get("t_req_sent"), list):
                within(rec["t_req_sent"], r["t_req_last"], what + " t_req_sent")
            else:  # curl: after its send
                after(rec.get("t_req_sent"), r["t_req_last"], what + " t_req_sent")
            after(rec.get("t_first_byte"), r["interim"][0][1] if r["interim"] else r["t_resp_first"],
                  what + " t_first_byte")
            after(rec.get("t_last_byte"), r["t_resp_last"], what + " t_last_byte")
        checked += 1
    for rec in log:
        if rec["kind"] == "continue":
            r = conns[rec["conn"]][[q["target"] for q in conns[rec["conn"]]].index(rec["target"])]
            check(bool(r["interim"]), "100 Continue logged, none in the capture")
            if r["interim"]:
                within(rec["t"], r["interim"][0][1], "100 Continue on :%d" % rec["conn"])
    # The EventSource's events: the dispatched blocks of every event stream
    # not read by curl, in order, with the last event id carried along.
    es_logged = [(r["type"], r["last_event_id"], r["data_len"], r["t"]) for r in log
                 if r["by"] == "eventsource" and r["kind"] == "event"]
    if es_logged:
        expect, last_id = [], ""
        for port, reqs in sorted(conns.items()):
            for r in reqs:
                if "curl" in r["headers"].get("user-agent", "") or r.get("status") != 200:
                    continue
                if r["resp_headers"].get("content-type", "").startswith("text/event-stream"):
                    text = b"".join(c[2] for c in r["chunks"]).decode()
                    # The time each block was complete: the chunk that ended it.
                    done = []
                    acc = ""
                    for t, _, body in r["chunks"]:
                        acc += body.decode()
                        done += [t] * (len(sse_blocks(acc)) - len(done))
                    for b, t in zip(sse_blocks(text), done):
                        if b["id"] is not None:
                            last_id = b["id"]
                        if b["dispatched"]:
                            expect.append((b["event"] or "message", last_id, len(b["data"]), t))
        check([e[:3] for e in es_logged] == [e[:3] for e in expect],
              "EventSource events %s, capture %s" % ([e[:3] for e in es_logged], [e[:3] for e in expect]))
        for got, exp in zip(es_logged, expect):
            after(got[3], exp[3], "EventSource event id %s" % got[1])
        print("  EventSource: %d events, as in the capture" % len(es_logged))
    print("%d log records checked against the capture" % checked
          + ("; clients saw bytes %.1f ms after the capture at most" % (max(lags) * 1000) if lags else ""))
    for e in errors:
        print("MISMATCH " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    pcap = sys.argv[1]
    logpath = sys.argv[2] if len(sys.argv) > 2 else pcap[:-len(".pcap")] + ".log.jsonl"
    sys.exit(main(pcap, logpath))
