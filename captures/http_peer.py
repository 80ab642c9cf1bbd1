#!/usr/bin/python3
"""HTTP/1.x peers for record.sh's `http` group: Debian's python3-aiohttp (3.8)
server, Python's http.client and raw-socket clients, curl run under its own
trace, and the stdlib http.server for a close-delimited response.

Every program appends what it did, with its own clock (time.time(), to the
microsecond), to the JSON-lines log named on its command line: one object a
line, `by` naming the program (server, stdlib-server, client, pipeline, curl,
eventsource) and `kind` the record (see captures/README.md). The programs run
on the host that runs tcpdump, so their times and the capture's agree within
about a millisecond (the server's write, the veth and tcpdump's tap are one
kernel path; a client's times include its wake-up after recv).

    http_peer.py serve HOST PORT CLOSE_PORT LOG   aiohttp server on PORT, stdlib
                                                  http.server on CLOSE_PORT
    http_peer.py poll URL N INTERVAL LOG          GET /poll?since=.. every INTERVAL s,
                                                  one keep-alive connection
    http_peer.py longpoll URL N LOG               GET /updates?cursor=.., re-requested
                                                  as soon as each answer ends
    http_peer.py pipeline HOST PORT LOG           3 requests sent back to back
    http_peer.py curl LOG CURL_ARG...             curl with --trace-ascii --trace-time;
                                                  one record per transfer
"""

import asyncio
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def now():
    return round(time.time(), 6)


class Log:
    """Appends one JSON object a line; each line is one write(2) on an
    O_APPEND descriptor, so several programs can share the file."""

    def __init__(self, path, by):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.by = by
        self.lock = threading.Lock()

    def __call__(self, kind, **fields):
        line = json.dumps({"by": self.by, "kind": kind, **fields}, separators=(",", ":")) + "\n"
        with self.lock:
            os.write(self.fd, line.encode())


# ---------------------------------------------------------------- SSE script

BLOB = "0123456789" * 300
# Server-Sent Events scripts: (seconds to sleep before, text written as one
# chunk). SCRIPT_FIRST for a request without Last-Event-ID, SCRIPT_RESUME for
# Last-Event-ID 8; any other Last-Event-ID is answered 204 (which tells an
# EventSource to stop reconnecting).
SCRIPT_FIRST = [
    (0.0, "retry: 800\n: stream opened\n\n"),
    (0.25, 'event: tick\nid: 1\ndata: {"n":1}\n\n'),
    (0.25, ": heartbeat\n\n"),
    (0.25, "id: 2\ndata: line one\ndata: line two\ndata: line three\n\n"),
    (0.25, 'event: tick\nid: 3\ndata: {"n":3}\n\nevent: tick\nid: 4\ndata: {"n":4}\n\n'),
    (0.25, ": heartbeat\n\n"),
    (0.25, "event: split\nid: 5\ndata: first half"),
    (0.3, " of a long line\ndata: second line\n\n"),
    (0.25, "event: tick\r\nid: 6\r\ndata:no-space\r\n\r\n"),
    (0.25, "event: blob\nid: 7\ndata: " + BLOB + "\n\n"),
    (0.25, ": heartbeat\n\n"),
    (0.25, "event: bye\nid: 8\ndata: stream ends\n\n"),
]
SCRIPT_RESUME = [
    (0.0, ": resumed after 8\n\n"),
    (0.3, 'event: tick\nid: 9\ndata: {"n":9}\n\n'),
    (0.3, 'event: tick\nid: 10\ndata: {"n":10}\n\n'),
]


def sse_blocks(text):
    """Splits an event stream into blocks as the WHATWG parser does (lines
    end in CRLF, LF or CR; a blank line ends a block). Each block: its event
    type, id, data (data lines joined by LF), retry, comments, and whether a
    parser dispatches it (only blocks with data are dispatched)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks, cur = [], None
    for line in lines[:-1]:  # the text ends in a line end
        if line == "":
            if cur is not None:
                cur["dispatched"] = cur["data"] is not None
                blocks.append(cur)
            cur = None
            continue
        if cur is None:
            cur = {"event": None, "id": None, "data": None, "retry": None, "comments": []}
        if line.startswith(":"):
            cur["comments"].append(line[1:].removeprefix(" "))
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            cur["data"] = value if cur["data"] is None else cur["data"] + "\n" + value
        elif field in ("event", "id"):
            cur[field] = value
        elif field == "retry":
            cur["retry"] = int(value)
    return blocks


# ---------------------------------------------------------------- servers

RESOURCES = {
    "a": ("text/plain; charset=utf-8", ("resource a, line of text\n" * 25).encode(), '"a-v1"'),
    "b": ("application/octet-stream", bytes(i % 251 for i in range(3000)), '"b-v1"'),
}
# Long polls: seconds until the data for cursor N appears; None: none
# appears, the server answers empty when its timeout (2.5 s) ends.
LONGPOLL_DATA_AFTER = [0.6, 1.4, None, 0.5, 2.0, 0.9]
LONGPOLL_TIMEOUT = 2.5
# Polls: the server has new items at these polls only (counted from 0 since
# it started; the client moves its `since` on by the items it got).
POLL_DATA_AT = {2: ["alpha"], 5: ["beta", "gamma"]}
UPLOAD_LIMIT = 2048


def serve(host, port, close_port, path):
    from aiohttp import web
    from aiohttp.web_urldispatcher import _default_expect_handler

    log = Log(path, "server")

    def conn_of(request):
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return peer[1] if peer else None

    def base_fields(request):
        return {
            "conn": conn_of(request),
            "method": request.method,
            "target": request.raw_path,
            "version": "HTTP/%d.%d" % request.version,
        }

    @web.middleware
    async def timing(request, handler):
        # Non-streamed responses are sent here rather than by aiohttp after
        # the middleware returns, so their times can be logged.
        request["t_req"] = now()
        resp = await handler(request)
        if "t_headers" not in request:
            t0 = now()
            await resp.prepare(request)  # writes the status line and headers
            t1 = now()
            await resp.write_eof()  # writes the body, if any
            t2 = now()
            body = resp.body if isinstance(resp, web.Response) else b""
            wire_body = 0 if request.method == "HEAD" or resp.status in (204, 304) else len(body or b"")
            t_headers, t_last = [t0, t1], ([t1, t2] if wire_body else [t0, t1])
            rec = {"pieces": 0}
        else:
            t_headers, t_last = request["t_headers"], request["t_last"]
            wire_body = request["resp_body_len"]
            rec = {"pieces": request["pieces"]}
        rec.update(request.get("extra", {}))
        log(
            "response",
            **base_fields(request),
            status=resp.status,
            reason=resp.reason,
            content_type=resp.headers.get("Content-Type"),
            content_length=resp.headers.get("Content-Length"),
            transfer_encoding=resp.headers.get("Transfer-Encoding"),
            req_body_len=request.get("req_body_len", 0),
            resp_body_len=wire_body,
            t_req=request["t_req"],
            t_headers=t_headers,
            t_last=t_last,
            **rec,
        )
        return resp

    async def stream(request, status, content_type, script, extra_headers=None):
        """Sends `script` as a chunked response, one chunk per write, and logs
        every chunk (and, for event streams, every block)."""
        resp = web.StreamResponse(status=status, headers={"Content-Type": content_type, **(extra_headers or {})})
        t0 = now()
        await resp.prepare(request)
        request["t_headers"] = [t0, now()]
        conn, target = conn_of(request), request.raw_path
        sent, text = 0, ""
        for seq, (delay, piece) in enumerate(script):
            if delay:
                await asyncio.sleep(delay)
            data = piece.encode()
            t0 = now()
            await resp.write(data)
            t = [t0, now()]
            sent += len(data)
            log("chunk", conn=conn, target=target, seq=seq, len=len(data), t=t,
                text=piece if len(piece) <= 200 else piece[:60] + "...(%d chars)" % len(piece))
            if content_type.startswith("text/event-stream"):
                # Blocks completed by this write.
                done = sse_blocks(text + piece)
                for block in done[len(sse_blocks(text)):]:
                    if block["data"] is not None and len(block["data"]) > 200:
                        block["data_len"] = len(block["data"])
                        block["data"] = block["data"][:60] + "...(%d chars)" % len(block["data"])
                    elif block["data"] is not None:
                        block["data_len"] = len(block["data"])
                    log("sse_block", conn=conn, target=target, t=t, **block)
                text += piece
        t0 = now()
        await resp.write_eof()  # the last chunk, 0 CRLF CRLF
        request["t_last"] = [t0, now()]
        request["resp_body_len"] = sent
        request["pieces"] = len(script)
        return resp

    poll_count = {"n": 0}

    async def poll(request):
        n = poll_count["n"]
        poll_count["n"] += 1
        items = POLL_DATA_AT.get(n, [])
        request["extra"] = {"items": len(items), "poll": n}
        return web.json_response({"poll": n, "items": items})

    async def status(request):
        return web.json_response({"status": "ok", "version": 7})

    async def updates(request):
        cursor = int(request.query.get("cursor", "0"))
        after = LONGPOLL_DATA_AFTER[cursor] if cursor < len(LONGPOLL_DATA_AFTER) else None
        t0 = time.time()
        if after is None:
            await asyncio.sleep(LONGPOLL_TIMEOUT)
            items = []
        else:
            await asyncio.sleep(after)
            items = ["update-%d" % cursor]
        request["extra"] = {
            "hold_planned_s": LONGPOLL_TIMEOUT if after is None else after,
            "hold_s": round(time.time() - t0, 6),
            "timed_out": after is None,
            "items": len(items),
        }
        return web.json_response({"cursor": cursor, "next": cursor + 1, "items": items})

    async def events(request):
        last = request.headers.get("Last-Event-ID")
        request["extra"] = {"last_event_id": last}
        if last is None:
            script = SCRIPT_FIRST
        elif last == "8":
            script = SCRIPT_RESUME
        else:
            return web.Response(status=204)
        blocks = sse_blocks("".join(p for _, p in script))
        request["extra"]["events"] = sum(b["dispatched"] for b in blocks)
        request["extra"]["comments"] = sum(len(b["comments"]) for b in blocks)
        return await stream(request, 200, "text/event-stream", script, {"Cache-Control": "no-cache"})

    async def ndjson(request):
        script = [(0.0 if i == 0 else 0.5, json.dumps({"seq": i, "value": i * i}) + "\n") for i in range(6)]
        return await stream(request, 200, "application/x-ndjson", script)

    async def resource(request):
        name = request.match_info["name"]
        ctype, body, etag = RESOURCES[name]
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, content_type=ctype.split(";")[0], charset=None, headers={"ETag": etag})

    async def nocontent(request):
        return web.Response(status=204)

    async def slow(request):
        ms = int(request.query.get("ms", "300"))
        await asyncio.sleep(ms / 1000)
        return web.Response(text="slept %d ms\n" % ms)

    async def logged_expect(request):
        # aiohttp's own handler writes "HTTP/1.1 100 Continue"; log when.
        t0 = now()
        await _default_expect_handler(request)
        log("continue", **base_fields(request), status=100, t=[t0, now()])

    async def limited_expect(request):
        # aiohttp 3.8 ignores a response returned by an expect handler, but
        # sends an HTTPException raised there instead of calling the handler
        # (and without reading the body, which curl then never sends).
        if request.content_length is not None and request.content_length > UPLOAD_LIMIT:
            exc = web.HTTPRequestEntityTooLarge(UPLOAD_LIMIT, request.content_length)
            # aiohttp sends it after this returns: no times for it here.
            log("response", **base_fields(request), status=413, reason="Request Entity Too Large",
                content_type=exc.content_type + "; charset=utf-8", content_length=str(len(exc.body)),
                transfer_encoding=None, req_body_len=0, resp_body_len=len(exc.body), t_req=now(),
                t_headers=None, t_last=None, pieces=0, refused_before_body=True,
                request_content_length=request.content_length)
            raise exc
        await logged_expect(request)

    async def upload(request):
        body = await request.read()
        request["req_body_len"] = len(body)
        request["extra"] = {"t_body_read": now()}
        return web.json_response({"received": len(body)}, status=201)

    app = web.Application(middlewares=[timing])
    app.router.add_get("/poll", poll)
    app.router.add_get("/status", status)
    app.router.add_get("/updates", updates)
    app.router.add_get("/events", events)
    app.router.add_get("/stream", ndjson)
    app.router.add_get("/resource/{name}", resource)
    app.router.add_get("/nocontent", nocontent)
    app.router.add_get("/slow", slow)
    app.router.add_post("/upload", upload, expect_handler=logged_expect)
    app.router.add_post("/upload-limited", upload, expect_handler=limited_expect)

    # The stdlib http.server answers HTTP/1.0 without Content-Length and
    # closes: a close-delimited body.
    close_log = Log(path, "stdlib-server")

    class CloseDelimited(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        disable_nagle_algorithm = True  # each write leaves at once, as logged

        def do_GET(self):
            t_req = now()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            t0 = now()
            self.end_headers()  # writes the status line and headers
            t_headers = [t0, now()]
            sent = 0
            for i in range(5):
                if i:
                    time.sleep(0.4)
                data = (json.dumps({"seq": i, "note": "close-delimited"}) + "\n").encode()
                t0 = now()
                self.wfile.write(data)
                t = [t0, now()]
                sent += len(data)
                close_log("chunk", conn=self.client_address[1], target=self.path, seq=i, len=len(data), t=t)
            close_log("response", conn=self.client_address[1], method="GET", target=self.path,
                      version=self.request_version, status=200, reason="OK",
                      content_type="application/x-ndjson", content_length=None, transfer_encoding=None,
                      req_body_len=0, resp_body_len=sent, t_req=t_req, t_headers=t_headers,
                      t_last=t, pieces=5, close_delimited=True)

        def log_message(self, *args):
            pass

    close_srv = ThreadingHTTPServer((host, close_port), CloseDelimited)
    threading.Thread(target=close_srv.serve_forever, daemon=True).start()
    web.run_app(app, host=host, port=port, print=None, access_log=None, handle_signals=True)


# ---------------------------------------------------------------- clients

class TimedRaw(io.RawIOBase):
    def __init__(self, owner):
        self.owner = owner

    def readable(self):
        return True

    def readinto(self, b):
        n = self.owner.sock.recv_into(b)
        self.owner.recvs.append((now(), n))
        return n


class TimedSocket:
    """Wraps http.client's socket: the time of every send and recv."""

    def __init__(self, sock):
        self.sock = sock
        self.recvs = []
        self.t_sent = None

    def sendall(self, data):
        t0 = now()
        self.sock.sendall(data)
        self.t_sent = [t0, now()]

    def makefile(self, mode, *args, **kwargs):
        return io.BufferedReader(TimedRaw(self))

    def __getattr__(self, name):
        return getattr(self.sock, name)


class TimedConnection(http.client.HTTPConnection):
    def connect(self):
        super().connect()
        self.sock = TimedSocket(self.sock)


def timed_request(conn, log, method, target, headers=None, body=None):
    if conn.sock is None:
        conn.connect()
    ts = conn.sock
    ts.recvs.clear()
    conn.request(method, target, body=body, headers=headers or {})
    t_sent = ts.t_sent
    resp = conn.getresponse()
    t_headers = now()
    data = resp.read()
    recvs = [r for r in ts.recvs if r[0] >= t_sent[0]]
    rec = {
        "conn": ts.sock.getsockname()[1],
        "method": method,
        "target": target,
        "status": resp.status,
        "reason": resp.reason,
        "content_type": resp.getheader("Content-Type"),
        "transfer_encoding": resp.getheader("Transfer-Encoding"),
        "req_body_len": len(body) if body else 0,
        "resp_body_len": len(data),
        "t_req_sent": t_sent,
        "t_first_byte": recvs[0][0] if recvs else None,
        "t_headers": t_headers,
        "t_last_byte": recvs[-1][0] if recvs else None,
    }
    log("request", **rec)
    return resp, data


def split_url(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port


def poll(url, n, interval, path):
    log = Log(path, "client")
    host, port = split_url(url)
    conn = TimedConnection(host, port)
    since = 0
    start = time.time()
    for i in range(n):
        _, data = timed_request(conn, log, "GET", "/poll?since=%d" % since)
        items = json.loads(data)["items"]
        since += len(items)
        if i + 1 < n:
            time.sleep(max(0.0, start + (i + 1) * interval - time.time()))
    conn.close()


def longpoll(url, n, path):
    log = Log(path, "client")
    host, port = split_url(url)
    conn = TimedConnection(host, port)
    for cursor in range(n):
        timed_request(conn, log, "GET", "/updates?cursor=%d" % cursor)
    conn.close()


class NoCloseReader(io.BufferedReader):
    def close(self):
        pass


class BufferSock:
    def __init__(self, reader):
        self.reader = reader

    def makefile(self, *args, **kwargs):
        return self.reader


def pipeline(host, port, path):
    """Sends three requests in one write before reading anything, then
    parses the answers with http.client in order."""
    log = Log(path, "pipeline")
    port = int(port)
    reqs = [("GET", "/slow?ms=300"), ("HEAD", "/resource/b"), ("GET", "/resource/a")]
    wire = b""
    for i, (method, target) in enumerate(reqs):
        close = "Connection: close\r\n" if i == len(reqs) - 1 else ""
        wire += ("%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: http_peer-pipeline\r\n%s\r\n"
                 % (method, target, host, port, close)).encode()
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    local = s.getsockname()[1]
    t0 = now()
    s.sendall(wire)
    t_sent = [t0, now()]
    log("sent", conn=local, requests=[m + " " + t for m, t in reqs], len=len(wire), t=t_sent)
    recvs, buf = [], b""
    while True:
        data = s.recv(65536)
        if not data:
            break
        buf += data
        recvs.append((now(), len(buf)))
    s.close()
    reader = NoCloseReader(io.BytesIO(buf))
    start = 0
    for method, target in reqs:
        resp = http.client.HTTPResponse(BufferSock(reader), method=method)
        resp.begin()
        body = resp.read()
        end = reader.tell()
        log("request", conn=local, method=method, target=target, status=resp.status, reason=resp.reason,
            content_type=resp.getheader("Content-Type"), transfer_encoding=resp.getheader("Transfer-Encoding"),
            req_body_len=0, resp_body_len=len(body), t_req_sent=t_sent,
            t_first_byte=next(t for t, upto in recvs if upto > start),
            t_last_byte=next(t for t, upto in recvs if upto >= end),
            resp_offset=start, resp_len=end - start)
        start = end
    assert start == len(buf), "bytes after the last response"


def curl(path, args):
    """Runs curl with its own trace (--trace-ascii --trace-time: a wall-clock
    time for every header and data block it sent or received) and -w
    '%{json}' after every --next, and logs one record per transfer."""
    log = Log(path, "curl")
    trace = tempfile.NamedTemporaryFile(prefix="curl-trace", delete=False)
    trace.close()
    wfmt = ["-w", "%{json}\\n"]
    cmd = ["curl", "-s", "--trace-ascii", trace.name, "--trace-time"] + wfmt
    for a in args:
        cmd.append(a)
        if a == "--next":
            cmd += wfmt
    # curl's trace times are CLOCK_MONOTONIC plus a whole number of seconds
    # (time(NULL) minus the monotonic seconds, taken at its first trace line),
    # so they are off the wall clock by up to a second, differently on every
    # run; the microseconds are the monotonic clock's. Put back the fraction:
    # a time is corrected by frac(realtime - monotonic) or that minus one
    # second, whichever puts curl's first trace line just after its start.
    d = time.time() - time.monotonic()
    day = time.time()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)
    writeouts = [json.loads(line) for line in out.stdout.decode().splitlines() if line.startswith("{")]
    lt = time.localtime(day)
    midnight = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))
    events = []  # [t, what, nbytes, first line]
    with open(trace.name, encoding="latin-1") as f:
        lines = f.read().splitlines()
    os.unlink(trace.name)
    for i, line in enumerate(lines):
        parts = line.split(" ", 1)
        if len(parts) < 2 or len(parts[0]) != 15 or parts[0][2] != ":":
            continue
        rest = parts[1]
        for what in ("=> Send header", "=> Send data", "<= Recv header", "<= Recv data"):
            if rest.startswith(what):
                h, m, s = parts[0].split(":")
                t = round(midnight + int(h) * 3600 + int(m) * 60 + float(s), 6)
                if t < day - 3600:
                    t += 86400
                n = int(rest[len(what) + 2:].split(" ")[0])
                first = lines[i + 1][6:] if i + 1 < len(lines) and lines[i + 1].startswith("0000: ") else ""
                events.append([t, what[3:].lower().replace(" ", "_"), n, first])
    if events:
        frac = d - int(d // 1)
        shift = frac if day <= events[0][0] + frac < day + 1 else frac - 1
        for ev in events:
            ev[0] = round(ev[0] + shift, 6)
        log("clock", text="curl trace times shifted by %+.6f s" % shift, shift=round(shift, 6))
    # One transfer from each "Send header" that carries a request line.
    transfers = []
    for ev in events:
        if ev[1] == "send_header" and " HTTP/" in ev[3]:
            transfers.append([])
        if transfers:
            transfers[-1].append(ev)
    for wo, evs in zip(writeouts, transfers):
        method, target, _ = evs[0][3].split(" ", 2)
        sends = [e for e in evs if e[1].startswith("send")]
        recvs = [e for e in evs if e[1].startswith("recv")]
        statuses = [int(e[3].split(" ")[1]) for e in recvs if e[1] == "recv_header" and e[3].startswith("HTTP/")]
        log("request", conn=wo.get("local_port"), method=method, target=target, status=wo.get("http_code"),
            statuses=statuses, num_connects=wo.get("num_connects"), content_type=wo.get("content_type"),
            req_body_len=wo.get("size_upload"), resp_body_len=wo.get("size_download"),
            t_req_sent=sends[-1][0] if sends else None,
            t_first_byte=recvs[0][0] if recvs else None, t_last_byte=recvs[-1][0] if recvs else None,
            recv_data=[[e[0], e[2]] for e in recvs if e[1] == "recv_data"],
            trace=[e[:3] for e in evs], exitcode=wo.get("exitcode"))
    if len(writeouts) != len(transfers):
        log("warning", text="%d -w records, %d transfers in the trace" % (len(writeouts), len(transfers)))
    return out.returncode


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "serve":
        serve(argv[2], int(argv[3]), int(argv[4]), argv[5])
    elif cmd == "poll":
        poll(argv[2], int(argv[3]), float(argv[4]), argv[5])
    elif cmd == "longpoll":
        longpoll(argv[2], int(argv[3]), argv[4])
    elif cmd == "pipeline":
        pipeline(argv[2], argv[3], argv[4])
    elif cmd == "curl":
        return curl(argv[2], argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
