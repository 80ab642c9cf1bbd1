//! HTTP/1.x exchanges over one connection's reassembled streams: each
//! request and its response (`http_txn`), with keep-alive and pipelining
//! (responses answer requests in order), bodies delimited by
//! Content-Length, the chunked coding or the connection's close, responses
//! without a body (HEAD, 1xx, 204, 304), interim answers (`100 Continue`),
//! event streams decoded as they arrive (`sse_event`, [`super::sse`]), and
//! the WebSocket upgrade: from an upgrade request on, the connection's
//! bytes also go to a [`WsDecoder`], which writes the WebSocket records
//! exactly as it does alone.
//!
//! Heads are kept until they end (at most [`http::MAX_HEAD`]); bodies are
//! counted, never kept (an event stream keeps one line's start and the
//! data preview). A gap ends the exchanges it touches as incomplete; bytes
//! that are not HTTP stop the decoding of that direction.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use crate::event::{ConnRef, HttpTxn, Record, RecordSink, SseEvent};
use crate::time::Timestamp;
use crate::track::stream::{Interest, StreamCtx, StreamHandler};

use super::channel::{BodyKind, ChannelRef, Channels, SPREAD};
use super::http::{self, BodyFraming, ChunkEvent, Chunked, HeadError};
use super::sse::{SseBlock, SseParser};
use super::websocket::{WsConfig, WsDecoder};

/// Requests read ahead of their answers (pipelining) before the decoder
/// gives up on the connection.
pub const MAX_PIPELINED: usize = 64;
/// Client bytes kept after an upgrade request while its answer is awaited
/// (they are HTTP again if the upgrade is refused).
const MAX_EARLY: usize = 64 * 1024;

/// Options of HTTP decoding (plain values, set from flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    /// Write `sse_event` records (they are counted either way).
    pub events: bool,
    /// Bytes of an event's data kept as its text.
    pub preview: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            events: true,
            preview: 120,
        }
    }
}

impl From<HttpOptions> for HttpConfig {
    fn from(o: HttpOptions) -> Self {
        HttpConfig::new(o.events, o.preview)
    }
}

/// What the HTTP decoder of every connection shares (one per run).
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Write `sse_event` records (they are counted either way).
    pub events: bool,
    /// Bytes of an event's data kept as its text.
    pub preview: usize,
    pub channels: Arc<Channels>,
}

impl HttpConfig {
    /// Puts what the run's HTTP decoders counted into the summary.
    pub fn counts_into(&self, s: &mut crate::event::Summary) {
        let c = self.channels.counts();
        s.http_txns = c.exchanges;
        s.sse_events = c.sse_events;
        s.rt_channels = c.channels;
    }

    pub fn new(events: bool, preview: usize) -> Self {
        HttpConfig {
            events,
            preview,
            channels: Arc::new(Channels::new()),
        }
    }
}

fn conn_ref(ctx: &StreamCtx) -> ConnRef {
    ConnRef {
        conn_id: ctx.conn_id,
        client_ip: ctx.client.ip,
        client_port: ctx.client.port,
        server_ip: ctx.server.ip,
        server_port: ctx.server.port,
    }
}

/// Joins a head's new bytes to what was kept of it (`slot`): `None` when
/// its end cannot be among them yet (everything is kept in `slot` again);
/// else the kept bytes with `data` after them (nothing when nothing was
/// kept: the head is then read from `data` itself), and how many were kept.
fn gather_head(slot: &mut Vec<u8>, data: &[u8]) -> Option<(Vec<u8>, usize)> {
    let seen = slot.len();
    let mut buf = std::mem::take(slot);
    if seen > 0 {
        buf.extend_from_slice(data);
        // Parsed again only when the head may have ended.
        if buf.len() <= http::MAX_HEAD && !http::may_end_head(&buf, seen) {
            *slot = buf;
            return None;
        }
    }
    Some((buf, seen))
}

/// A body being read.
#[derive(Clone, Copy, Debug)]
enum BodyReader {
    /// Bytes left.
    Length(u64),
    Chunked(Chunked),
    /// Until the connection closes.
    Close,
}

impl BodyReader {
    fn new(f: BodyFraming) -> Option<BodyReader> {
        match f {
            BodyFraming::None => None,
            BodyFraming::Length(n) => Some(BodyReader::Length(n)),
            BodyFraming::Chunked => Some(BodyReader::Chunked(Chunked::default())),
            BodyFraming::Close => Some(BodyReader::Close),
        }
    }
}

/// What one step of a body read found.
#[derive(Debug, Default)]
struct BodyStep {
    /// Bytes of the input that belong to the body (framing included).
    used: usize,
    /// Body bytes (without the chunk framing).
    payload: u64,
    /// Chunks begun.
    chunks: u64,
    /// The body ended.
    done: bool,
    /// The chunked coding was broken.
    broken: bool,
}

/// Reads body bytes from `data`; `on` gets the payload's pieces.
fn body_step(r: &mut BodyReader, data: &[u8], mut on: impl FnMut(&[u8])) -> BodyStep {
    let mut s = BodyStep::default();
    match r {
        BodyReader::Length(left) => {
            let n = (*left).min(data.len() as u64);
            *left -= n;
            on(&data[..n as usize]);
            s.used = n as usize;
            s.payload = n;
            s.done = *left == 0;
        }
        BodyReader::Close => {
            on(data);
            s.used = data.len();
            s.payload = data.len() as u64;
        }
        BodyReader::Chunked(c) => {
            let mut end = None;
            let res = c.feed(data, |e| match e {
                ChunkEvent::ChunkStart => s.chunks += 1,
                ChunkEvent::Data(a, b) => {
                    s.payload += (b - a) as u64;
                    on(&data[a..b]);
                }
                ChunkEvent::End(n) => end = Some(n),
            });
            match (res, end) {
                (Err(_), _) => {
                    s.broken = true;
                    s.used = data.len();
                }
                (Ok(()), Some(n)) => {
                    s.used = n;
                    s.done = true;
                }
                (Ok(()), None) => s.used = data.len(),
            }
        }
    }
    s
}

/// One exchange being read.
#[derive(Debug)]
struct Exchange {
    txn: HttpTxn,
    /// Its number on the connection (the client's body names it).
    seq: u64,
    wants_websocket: bool,
    expect_continue: bool,
    req_done: bool,
    resp_done: bool,
    /// The final answer's first byte.
    resp_first: Option<Timestamp>,
    sse: bool,
    /// SSE blocks dispatched as events.
    events: u64,
    /// The response body had no length (chunked or until the close).
    unsized_body: bool,
    gap: bool,
    req_framing: BodyFraming,
    /// Its channel.
    channel: ChannelRef,
    /// The request's method, as far as the answer's framing depends on it.
    method: Method,
}

/// What an answer's body depends on of its request's method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Head,
    Connect,
    Other,
}

impl Method {
    fn of(m: &str) -> Method {
        if m.eq_ignore_ascii_case("HEAD") {
            Method::Head
        } else if m.eq_ignore_ascii_case("CONNECT") {
            Method::Connect
        } else {
            Method::Other
        }
    }

    fn name(self) -> &'static str {
        match self {
            Method::Head => "HEAD",
            Method::Connect => "CONNECT",
            Method::Other => "GET",
        }
    }
}

/// What the exchange decoder reads of a request head (borrowed from the
/// head as read, or from what the start of a head too long to keep said).
struct Asked<'a> {
    method: &'a str,
    target: &'a str,
    host: Option<&'a str>,
    http_minor: u8,
    transfer_encoding: Option<&'a str>,
    framing: BodyFraming,
    wants_websocket: bool,
    expect_continue: bool,
}

impl<'a> Asked<'a> {
    fn of(r: &'a http::Request) -> Asked<'a> {
        Asked {
            method: &r.method,
            target: &r.target,
            host: r.host.as_deref(),
            http_minor: r.http_minor,
            transfer_encoding: r.transfer_encoding.as_deref(),
            framing: r.body(),
            wants_websocket: r.wants_websocket,
            expect_continue: r.expect_continue,
        }
    }
}

/// Where one direction stands.
#[derive(Clone, Copy, Debug)]
enum Dir {
    /// Reading a head (kept in the direction's buffer while it is cut).
    Head,
    /// Reading a body (the client's: of exchange `seq`).
    Body(BodyReader, u64),
    /// An upgrade was asked: client bytes are kept until its answer.
    AwaitingUpgrade,
    /// Switched protocols: the bytes are not HTTP.
    Upgraded,
    /// Not HTTP (any more), or lost: nothing more is read.
    Stopped,
}

impl Dir {
    fn over(self) -> bool {
        matches!(self, Dir::Upgraded | Dir::Stopped)
    }
}

/// The HTTP decoder of one connection.
pub struct HttpDecoder {
    cfg: HttpConfig,
    ws_cfg: Option<WsConfig>,
    /// The WebSocket decoder, from the first upgrade request on; every
    /// byte after that request goes to it too.
    ws: Option<Box<WsDecoder>>,
    ws_done: bool,
    ws_channel: ChannelRef,
    client: Dir,
    server: Dir,
    /// A cut head, or (awaiting an upgrade's answer) the client's bytes.
    client_buf: Vec<u8>,
    server_buf: Vec<u8>,
    /// When the head being read began.
    client_head_ts: Option<Timestamp>,
    server_head_ts: Option<Timestamp>,
    /// Exchanges not yet written, oldest first.
    pending: VecDeque<Exchange>,
    next_seq: u64,
    sse: Option<SseParser>,
    last_ts: Timestamp,
}

impl HttpDecoder {
    pub fn new(cfg: HttpConfig, ws_cfg: Option<WsConfig>) -> Self {
        HttpDecoder {
            cfg,
            ws_cfg,
            ws: None,
            ws_done: false,
            ws_channel: ChannelRef::default(),
            client: Dir::Head,
            server: Dir::Head,
            client_buf: Vec::new(),
            server_buf: Vec::new(),
            client_head_ts: None,
            server_head_ts: None,
            pending: VecDeque::new(),
            next_seq: 0,
            sse: None,
            last_ts: Timestamp::default(),
        }
    }

    fn interest(&self) -> Interest {
        if self.client.over() && self.server.over() && (self.ws.is_none() || self.ws_done) {
            Interest::Done
        } else {
            Interest::More
        }
    }

    fn ws_active(&self) -> bool {
        self.ws.is_some() && !self.ws_done
    }

    fn feed_ws(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        data: &[u8],
        sink: &mut dyn RecordSink,
    ) {
        if data.is_empty() || self.ws_done {
            return;
        }
        if let Some(ws) = self.ws.as_mut() {
            if ws.data(ctx, from_client, ts, data, sink) == Interest::Done {
                self.ws_done = true;
            }
        }
    }

    fn exchange_mut(&mut self, seq: u64) -> Option<&mut Exchange> {
        self.pending.iter_mut().find(|e| e.seq == seq)
    }

    // ----- the client's side: requests -----

    fn client_data(
        &mut self,
        ctx: &StreamCtx,
        ts: Timestamp,
        mut data: &[u8],
        sink: &mut dyn RecordSink,
    ) {
        while !data.is_empty() {
            match self.client {
                Dir::Stopped | Dir::Upgraded => return,
                Dir::AwaitingUpgrade => {
                    if self.client_buf.len() + data.len() > MAX_EARLY {
                        self.client_buf = Vec::new();
                        self.client = Dir::Stopped;
                    } else {
                        self.client_buf.extend_from_slice(data);
                    }
                    return;
                }
                Dir::Body(mut reader, seq) => {
                    let step = body_step(&mut reader, data, |_| {});
                    data = &data[step.used..];
                    self.client = if step.broken {
                        Dir::Stopped
                    } else if step.done {
                        Dir::Head
                    } else {
                        Dir::Body(reader, seq)
                    };
                    let Some(ex) = self.exchange_mut(seq) else {
                        // Answered and written already (the server did not
                        // wait for the body).
                        continue;
                    };
                    ex.txn.req_body_len += step.payload;
                    ex.txn.request_ms = ts.since(ex.txn.ts);
                    ex.gap |= step.broken;
                    if step.done {
                        ex.req_done = true;
                        self.flush(sink);
                    }
                }
                Dir::Head => {
                    let head_ts = *self.client_head_ts.get_or_insert(ts);
                    let Some((mut buf, seen)) = gather_head(&mut self.client_buf, data) else {
                        return;
                    };
                    let buffered = seen > 0;
                    let head: &[u8] = if buffered { &buf } else { data };
                    match http::parse_request_head(head) {
                        Ok(Some((req, n))) => {
                            self.client_head_ts = None;
                            let rest = &data[n - seen..];
                            let host = req.host();
                            let te = req.transfer_encoding();
                            let asked = Asked {
                                method: req.method,
                                target: req.target,
                                host: host.as_deref(),
                                http_minor: req.http_minor,
                                transfer_encoding: te.as_deref(),
                                framing: req.body(),
                                wants_websocket: req.wants_websocket,
                                expect_continue: req.expect_continue,
                            };
                            self.request(ctx, head_ts, ts, asked, n as u64, &head[..n], rest, sink);
                            buf.clear();
                            self.client_buf = buf;
                            data = rest;
                            if matches!(self.client, Dir::Head) {
                                self.request_body();
                            }
                        }
                        Ok(None) => {
                            if !buffered {
                                buf.extend_from_slice(data);
                            }
                            self.client_buf = buf;
                            return;
                        }
                        Err(HeadError::TooLong) => {
                            // What its first 16 KiB say is the request; the
                            // rest of the connection's requests are not read.
                            // A WebSocket decoder is given the whole head: it
                            // reports it, reads past it, and lets the answer
                            // say whether it was an upgrade (its Upgrade
                            // headers may be in the part not read).
                            self.client_head_ts = None;
                            self.client = Dir::Stopped;
                            if let Some(req) = http::parse_request_prefix(head) {
                                let len = head.len() as u64;
                                let first = self.ws.is_none();
                                self.request(
                                    ctx,
                                    head_ts,
                                    ts,
                                    Asked::of(&req),
                                    len,
                                    &[],
                                    &[],
                                    sink,
                                );
                                if let Some(ex) = self.pending.back_mut() {
                                    ex.gap = true;
                                    ex.req_done = false;
                                    ex.wants_websocket = true;
                                }
                                if first && self.ws.is_none() {
                                    if let Some(cfg) = self.ws_cfg {
                                        let mut ws = Box::new(WsDecoder::new(cfg));
                                        self.ws_done =
                                            ws.data(ctx, true, ts, head, sink) == Interest::Done;
                                        self.ws = Some(ws);
                                        self.ws_channel = self
                                            .pending
                                            .back()
                                            .map_or(ChannelRef::default(), |e| e.channel);
                                    }
                                }
                                self.client = Dir::Stopped;
                            }
                            return;
                        }
                        Err(HeadError::NotHttp(_)) => {
                            self.client = Dir::Stopped;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The request just read has a body: read it next.
    fn request_body(&mut self) {
        let Some(ex) = self.pending.back() else {
            return;
        };
        if ex.req_done {
            return;
        }
        let seq = ex.seq;
        match BodyReader::new(self.req_framing(seq)) {
            Some(r) => self.client = Dir::Body(r, seq),
            None => {
                if let Some(ex) = self.exchange_mut(seq) {
                    ex.req_done = true;
                }
            }
        }
    }

    fn req_framing(&self, seq: u64) -> BodyFraming {
        self.pending
            .iter()
            .find(|e| e.seq == seq)
            .map_or(BodyFraming::None, |e| e.req_framing)
    }

    /// A request head was read: `head` its bytes (empty when it was too
    /// long to keep), `rest` what the client sent after it in this piece.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        ctx: &StreamCtx,
        first_ts: Timestamp,
        ts: Timestamp,
        req: Asked<'_>,
        head_len: u64,
        head: &[u8],
        rest: &[u8],
        sink: &mut dyn RecordSink,
    ) {
        if self.pending.len() >= MAX_PIPELINED {
            self.client = Dir::Stopped;
            return;
        }
        let websocket = req.wants_websocket && self.ws.is_none();
        let channel = self.cfg.channels.request(
            ctx.conn_id,
            ctx.client.ip,
            ctx.server.ip,
            ctx.server.port,
            req.host,
            req.target,
            websocket,
            first_ts,
            sink,
        );
        // The texts are copied only for a sink that keeps the records.
        let records = sink.flow_records().http;
        let owned = |s: &str| {
            if records {
                s.to_string()
            } else {
                String::new()
            }
        };
        let framing = req.framing;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.push_back(Exchange {
            seq,
            wants_websocket: req.wants_websocket,
            expect_continue: req.expect_continue,
            req_done: framing == BodyFraming::None,
            resp_done: false,
            resp_first: None,
            sse: false,
            events: 0,
            unsized_body: false,
            gap: false,
            txn: HttpTxn {
                ts: first_ts,
                conn: conn_ref(ctx),
                version: if req.http_minor == 0 {
                    "HTTP/1.0"
                } else {
                    "HTTP/1.1"
                },
                method: owned(req.method),
                target: owned(req.target),
                host: req.host.filter(|_| records).map(str::to_string),
                status: None,
                reason: None,
                // The request's framing, until the response replaces them.
                content_type: None,
                transfer_encoding: req
                    .transfer_encoding
                    .filter(|_| records)
                    .map(str::to_string),
                req_body_len: 0,
                resp_body_len: 0,
                resp_pieces: 0,
                req_head_bytes: head_len,
                resp_head_bytes: 0,
                request_ms: ts.since(first_ts),
                wait_ms: None,
                transfer_ms: None,
                last_ts: ts,
                continued: false,
                upgrade: false,
                complete: false,
                channel_id: channel.id,
            },
            req_framing: framing,
            method: Method::of(req.method),
            channel,
        });
        // (A head too long to keep is handed over by the caller, whole.)
        if websocket && !head.is_empty() {
            if let Some(cfg) = self.ws_cfg {
                let mut ws = Box::new(WsDecoder::new(cfg));
                let mut done = ws.data(ctx, true, ts, head, sink) == Interest::Done;
                if !done && !rest.is_empty() {
                    done = ws.data(ctx, true, ts, rest, sink) == Interest::Done;
                }
                self.ws = Some(ws);
                self.ws_done = done;
                self.ws_channel = channel;
            }
            self.client = Dir::AwaitingUpgrade;
        }
    }

    // ----- the server's side: responses -----

    /// The exchange the server is answering.
    fn answering(&self) -> Option<usize> {
        self.pending.iter().position(|e| !e.resp_done)
    }

    fn server_data(
        &mut self,
        ctx: &StreamCtx,
        ts: Timestamp,
        mut data: &[u8],
        sink: &mut dyn RecordSink,
    ) {
        while !data.is_empty() {
            match self.server {
                Dir::Stopped | Dir::Upgraded | Dir::AwaitingUpgrade => return,
                Dir::Body(mut reader, _) => {
                    let Some(i) = self.answering() else {
                        self.server = Dir::Stopped;
                        return;
                    };
                    let HttpDecoder {
                        sse, pending, cfg, ..
                    } = self;
                    let ex = &mut pending[i];
                    let step = body_step(&mut reader, data, |piece| {
                        if let Some(p) = sse.as_mut() {
                            p.feed(piece, |b| {
                                ex.events += u64::from(b.dispatched);
                                if cfg.events && sink.flow_records().http {
                                    sink.record(sse_record(ctx, ex.txn.channel_id, ts, b, cfg));
                                }
                            });
                        }
                    });
                    data = &data[step.used..];
                    ex.txn.resp_body_len += step.payload;
                    ex.txn.resp_pieces += if matches!(reader, BodyReader::Chunked(_)) {
                        step.chunks
                    } else {
                        u64::from(step.payload > 0)
                    };
                    if step.payload > 0 || step.done {
                        ex.txn.last_ts = ts;
                    }
                    if step.broken {
                        ex.gap = true;
                        ex.resp_done = true;
                        self.server = Dir::Stopped;
                    } else if step.done {
                        ex.resp_done = true;
                        self.server = Dir::Head;
                        self.sse = None;
                    } else {
                        self.server = Dir::Body(reader, 0);
                    }
                    self.flush(sink);
                }
                Dir::Head => {
                    let Some(i) = self.answering() else {
                        // An answer to no request: not HTTP as we know it.
                        self.server = Dir::Stopped;
                        return;
                    };
                    let head_ts = *self.server_head_ts.get_or_insert(ts);
                    let Some((mut buf, seen)) = gather_head(&mut self.server_buf, data) else {
                        return;
                    };
                    let buffered = seen > 0;
                    let head: &[u8] = if buffered { &buf } else { data };
                    let parsed = http::parse_response_head(head);
                    let (resp, n) = match parsed {
                        Ok(Some(r)) => r,
                        Ok(None) => {
                            if !buffered {
                                buf.extend_from_slice(data);
                            }
                            self.server_buf = buf;
                            return;
                        }
                        Err(HeadError::TooLong) => {
                            // The exchange ends here, with what the first
                            // 16 KiB say; the connection is not read further.
                            let ex = &mut self.pending[i];
                            if let Some(r) = http::parse_response_prefix(head) {
                                ex.txn.status = Some(r.status);
                                ex.txn.reason = Some(r.reason);
                            }
                            ex.txn.resp_head_bytes += head.len() as u64;
                            ex.gap = true;
                            ex.resp_done = true;
                            self.server = Dir::Stopped;
                            self.flush(sink);
                            return;
                        }
                        Err(HeadError::NotHttp(_)) => {
                            self.server = Dir::Stopped;
                            return;
                        }
                    };
                    self.server_head_ts = None;
                    data = &data[n - seen..];
                    self.response(ctx, i, head_ts, ts, resp, n as u64, data, sink);
                    buf.clear();
                    self.server_buf = buf;
                    if matches!(self.server, Dir::Upgraded | Dir::Stopped) {
                        return;
                    }
                }
            }
        }
    }

    /// The response head of exchange `i` was read (`n` bytes, begun at
    /// `first_ts`); `rest` is what follows it in this piece.
    #[allow(clippy::too_many_arguments)]
    fn response(
        &mut self,
        ctx: &StreamCtx,
        i: usize,
        first_ts: Timestamp,
        ts: Timestamp,
        resp: http::ResponseHead<'_>,
        n: u64,
        rest: &[u8],
        sink: &mut dyn RecordSink,
    ) {
        let records = sink.flow_records().http;
        let ws_ready = self.ws.is_some();
        let ex = &mut self.pending[i];
        ex.txn.resp_head_bytes += n;
        if (100..200).contains(&resp.status) && resp.status != 101 {
            // Interim: the final answer follows.
            ex.txn.continued |= resp.status == 100;
            return;
        }
        let req_last = ex.txn.ts + ex.txn.request_ms;
        ex.resp_first = Some(first_ts);
        ex.txn.wait_ms = Some(first_ts.since(req_last));
        ex.txn.last_ts = ts;
        ex.txn.status = Some(resp.status);
        let content_type = resp.content_type();
        if records {
            ex.txn.content_type = content_type.as_deref().map(str::to_string);
            ex.txn.transfer_encoding = resp.transfer_encoding().map(Cow::into_owned);
            ex.txn.reason = Some(resp.reason.to_string());
        } else {
            ex.txn.transfer_encoding = None;
        }
        let _ = rest;
        if resp.status == 101 {
            ex.txn.upgrade = true;
            ex.resp_done = true;
            let to_ws = ex.wants_websocket && ws_ready;
            self.client_buf = Vec::new();
            if to_ws {
                // The WebSocket decoder has had every byte since the request.
                self.server = Dir::Upgraded;
                self.client = Dir::Upgraded;
            } else {
                self.server = Dir::Stopped;
                self.client = Dir::Stopped;
            }
            self.flush(sink);
            return;
        }
        let framing = resp.body(ex.method.name());
        ex.unsized_body = matches!(framing, BodyFraming::Chunked | BodyFraming::Close);
        ex.sse = (200..300).contains(&resp.status)
            && framing != BodyFraming::None
            && content_type.as_deref().is_some_and(|c| {
                c.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
            });
        let seq = ex.seq;
        // A refused `Expect: 100-continue`: the client will not send the body.
        let refused_body =
            ex.expect_continue && !ex.req_done && ex.txn.req_body_len == 0 && resp.status >= 300;
        if refused_body {
            ex.req_done = true;
            if matches!(self.client, Dir::Body(_, s) if s == seq) {
                self.client = Dir::Head;
            }
        }
        let refused_upgrade = ex.wants_websocket;
        let sse = ex.sse;
        match BodyReader::new(framing) {
            None => {
                self.pending[i].resp_done = true;
                self.server = Dir::Head;
            }
            Some(r) => {
                self.server = Dir::Body(r, 0);
                if sse {
                    self.sse = Some(SseParser::new(self.cfg.preview));
                }
            }
        }
        if refused_upgrade && matches!(self.client, Dir::AwaitingUpgrade) {
            // The client's bytes since are HTTP again.
            self.client = Dir::Head;
            let early = std::mem::take(&mut self.client_buf);
            self.client_data(ctx, ts, &early, sink);
        }
        self.flush(sink);
    }

    /// Writes the exchanges at the front that are over.
    fn flush(&mut self, sink: &mut dyn RecordSink) {
        while self
            .pending
            .front()
            .is_some_and(|e| e.resp_done && (e.req_done || e.gap))
        {
            let ex = self.pending.pop_front().expect("checked");
            self.emit(ex, sink);
        }
    }

    fn emit(&mut self, ex: Exchange, sink: &mut dyn RecordSink) {
        let mut txn = ex.txn;
        txn.complete = ex.req_done && ex.resp_done && !ex.gap;
        if ex.sse {
            txn.resp_pieces = ex.events;
        }
        txn.transfer_ms = ex.resp_first.map(|f| txn.last_ts.since(f));
        let kind = if ex.sse {
            BodyKind::Events(ex.events)
        } else if ex.unsized_body
            && txn.resp_pieces > 1
            && txn.transfer_ms.is_some_and(|t| t >= SPREAD)
        {
            BodyKind::Streamed(txn.resp_pieces)
        } else {
            BodyKind::Whole
        };
        self.cfg.channels.exchange(ex.channel, &txn, kind);
        if sink.flow_records().http {
            sink.record(Record::HttpTxn(Box::new(txn)));
        }
    }

    fn gap_in(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        len: u64,
        sink: &mut dyn RecordSink,
    ) {
        // A request head cut by the gap (a snaplen, a lost segment): what
        // was read of it is an exchange, incomplete.
        if from_client && matches!(self.client, Dir::Head) && !self.client_buf.is_empty() {
            let buf = std::mem::take(&mut self.client_buf);
            if let Some(req) = http::parse_request_prefix(&buf) {
                let first = self.client_head_ts.take().unwrap_or(ts);
                self.request(
                    ctx,
                    first,
                    ts,
                    Asked::of(&req),
                    buf.len() as u64,
                    &[],
                    &[],
                    sink,
                );
                if let Some(ex) = self.pending.back_mut() {
                    ex.req_done = false;
                }
            }
        }
        let side = if from_client {
            self.client
        } else {
            self.server
        };
        let at = match side {
            Dir::Body(BodyReader::Length(left), seq) if left > len => {
                let reader = BodyReader::Length(left - len);
                if from_client {
                    self.client = Dir::Body(reader, seq);
                } else {
                    self.server = Dir::Body(reader, seq);
                }
                if from_client {
                    self.exchange_mut(seq)
                } else {
                    self.answering().map(|i| &mut self.pending[i])
                }
            }
            Dir::Body(BodyReader::Close, _) if !from_client => {
                self.answering().map(|i| &mut self.pending[i])
            }
            Dir::Upgraded | Dir::Stopped => None,
            _ => {
                if from_client {
                    self.client = Dir::Stopped;
                    self.client_buf = Vec::new();
                    self.pending.back_mut()
                } else {
                    self.server = Dir::Stopped;
                    self.server_buf = Vec::new();
                    self.answering().map(|i| &mut self.pending[i])
                }
            }
        };
        if let Some(ex) = at {
            ex.gap = true;
        }
        if !from_client && matches!(self.server, Dir::Stopped) {
            if let Some(i) = self.answering() {
                self.pending[i].resp_done = true;
            }
        }
        self.flush(sink);
    }
}

fn sse_record(
    ctx: &StreamCtx,
    channel_id: u64,
    ts: Timestamp,
    b: SseBlock,
    _cfg: &HttpConfig,
) -> Record {
    Record::SseEvent(Box::new(SseEvent {
        ts,
        conn: conn_ref(ctx),
        channel_id,
        event: b.event,
        id: b.id,
        data_len: b.data_len,
        data: (b.data_lines > 0).then_some(b.data),
        data_truncated: b.data_truncated,
        comment: b.comment,
        retry: b.retry,
        dispatched: b.dispatched,
    }))
}

impl StreamHandler for HttpDecoder {
    fn prefetch(&self, from_client: bool) {
        if let Some(ws) = &self.ws {
            ws.prefetch(from_client);
        }
    }

    fn data(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        data: &[u8],
        sink: &mut dyn RecordSink,
    ) -> Interest {
        self.last_ts = ts;
        if self.ws_active() {
            self.feed_ws(ctx, from_client, ts, data, sink);
        }
        if from_client {
            self.client_data(ctx, ts, data, sink);
        } else {
            self.server_data(ctx, ts, data, sink);
        }
        self.interest()
    }

    fn data_noted(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        data: &[u8],
        note: u64,
        sink: &mut dyn RecordSink,
    ) -> Interest {
        // An open WebSocket session: straight to its decoder.
        if matches!(self.client, Dir::Upgraded) && !self.ws_done {
            if let Some(ws) = self.ws.as_mut() {
                self.last_ts = ts;
                if ws.data_noted(ctx, from_client, ts, data, note, sink) == Interest::Done {
                    self.ws_done = true;
                }
                return self.interest();
            }
        }
        self.data(ctx, from_client, ts, data, sink)
    }

    fn gap(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        len: u64,
        sink: &mut dyn RecordSink,
    ) -> Interest {
        self.last_ts = ts;
        if self.ws_active() {
            if let Some(ws) = self.ws.as_mut() {
                if ws.gap(ctx, from_client, ts, len, sink) == Interest::Done {
                    self.ws_done = true;
                }
            }
        }
        self.gap_in(ctx, from_client, ts, len, sink);
        self.interest()
    }

    fn closed(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        sink: &mut dyn RecordSink,
    ) -> Interest {
        if from_client {
            if matches!(self.client, Dir::Head) {
                if !self.client_buf.is_empty() {
                    // A request head the FIN cut short.
                    self.gap_in(ctx, true, ts, 0, sink);
                }
                self.client = Dir::Stopped;
            }
        } else {
            match self.server {
                Dir::Body(BodyReader::Close, _) => {
                    // The body delimited by the close is whole.
                    if let Some(i) = self.answering() {
                        self.pending[i].resp_done = true;
                    }
                    self.server = Dir::Stopped;
                }
                Dir::Upgraded | Dir::AwaitingUpgrade => {}
                _ => self.server = Dir::Stopped,
            }
            // No answer comes after the server's FIN.
            self.flush(sink);
            if !self.ws_active() {
                while let Some(mut ex) = self.pending.pop_front() {
                    ex.gap |= !(ex.resp_done && ex.req_done);
                    self.emit(ex, sink);
                }
            }
        }
        self.interest()
    }

    fn held_bytes(&self) -> usize {
        self.client_buf.capacity()
            + self.server_buf.capacity()
            + self.sse.as_ref().map_or(0, SseParser::held_bytes)
            + self.ws.as_ref().map_or(0, |w| w.held_bytes())
    }

    fn shed(&mut self, ctx: &StreamCtx, ts: Timestamp, sink: &mut dyn RecordSink) -> Interest {
        if !self.client_buf.is_empty() {
            self.client_buf = Vec::new();
            if !self.client.over() {
                self.gap_in(ctx, true, ts, u64::MAX, sink);
                self.client = Dir::Stopped;
            }
        }
        self.client_buf = Vec::new();
        if !self.server_buf.is_empty() {
            self.server_buf = Vec::new();
            if !self.server.over() {
                self.gap_in(ctx, false, ts, u64::MAX, sink);
            }
        }
        self.server_buf = Vec::new();
        if let Some(p) = self.sse.as_mut() {
            p.shed();
        }
        if let Some(ws) = self.ws.as_mut() {
            if !self.ws_done && ws.shed(ctx, ts, sink) == Interest::Done {
                self.ws_done = true;
            }
        }
        self.interest()
    }

    fn end(&mut self, ctx: &StreamCtx, ts: Timestamp, sink: &mut dyn RecordSink) {
        let ts = ts.max(self.last_ts);
        // A body delimited by the close ends here.
        if let Dir::Body(BodyReader::Close, _) = self.server {
            if let Some(i) = self.answering() {
                self.pending[i].resp_done = true;
            }
        }
        self.server = Dir::Stopped;
        self.client = Dir::Stopped;
        while let Some(mut ex) = self.pending.pop_front() {
            if !(ex.resp_done && ex.req_done) {
                ex.gap = true;
            }
            self.emit(ex, sink);
        }
        if let Some(ws) = self.ws.as_mut() {
            ws.end(ctx, ts, sink);
            let messages = ws.data_messages();
            self.cfg.channels.ws_messages(self.ws_channel, messages, ts);
        }
    }
}
