//! A WebSocket session over a TCP connection's reassembled streams: the
//! HTTP opening handshake (RFC 6455 §4), then frames and messages in each
//! direction (§5), permessage-deflate (RFC 7692), and every rule broken.
//!
//! Bytes are parsed where they lie in the segment; only a frame header cut
//! across segments (at most 14 bytes) and the payload of control frames
//! (at most [`CONTROL_KEEP`] bytes) are copied. Masked payload is unmasked
//! into one buffer per direction, and only when it is needed (text, close
//! reasons, compressed data): binary payload is counted, not touched.

use crate::event::{
    ConnRef, Direction, Record, RecordSink, WsFrame, WsMessage, WsSession, WsSideTotals, WsUpgrade,
    WsViolation,
};
use crate::time::Timestamp;
use crate::track::stream::{Interest, StreamCtx, StreamHandler};

use super::deflate::{self, DeflateParams, InflateError, Inflater};
use super::http::{self, HeadError};
use super::utf8::Utf8Check;
use super::ws::{self, FrameHeader, FrameView, Opcode, MAX_HEADER};

/// What a WebSocket decoder shows and how much it will inflate.
#[derive(Clone, Copy, Debug)]
pub struct WsConfig {
    /// Characters of text kept per message, close reason and ping payload.
    pub preview: usize,
    /// Most bytes one compressed message may inflate to; beyond it the
    /// message is reported (`decompressed-too-big`) and not followed.
    pub max_inflated: u64,
    /// Write the per-event records (`ws_upgrade`, `ws_frame`, `ws_message`,
    /// `ws_violation`). Without them every check still runs and is counted
    /// in `ws_session`; only the records (and text previews) are not made.
    pub events: bool,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            preview: 120,
            max_inflated: 16 * 1024 * 1024,
            events: true,
        }
    }
}

/// Control frame payload bytes kept (a legal one has at most 125).
pub const CONTROL_KEEP: usize = 4096;
/// Client bytes held while the server's answer is awaited.
const EARLY_CAP: usize = 256 * 1024;

/// Every rule reported, with where it comes from. The ids are stable.
pub const RULES: &[(&str, &str)] = &[
    ("bad-accept", "Sec-WebSocket-Accept missing from a 101, or not base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)) (RFC 6455 §4.2.2)"),
    ("extension-not-offered", "the server accepted an extension the client did not offer, or permessage-deflate with invalid parameters (RFC 6455 §4.1, RFC 7692 §7.1)"),
    ("subprotocol-not-offered", "the server chose a subprotocol the client did not offer (RFC 6455 §4.1)"),
    ("frames-after-failed-upgrade", "bytes other than HTTP after an answer that is not 101; they are not decoded as frames (RFC 6455 §4.1)"),
    ("client-frame-unmasked", "a client frame without a masking key (RFC 6455 §5.1)"),
    ("server-frame-masked", "a server frame with a masking key (RFC 6455 §5.1)"),
    ("rsv-bits-without-extension", "RSV1, RSV2 or RSV3 set without a negotiated extension that defines it (RFC 6455 §5.2)"),
    ("rsv1-on-continuation", "RSV1 (compressed) set on a continuation frame (RFC 7692 §6.1)"),
    ("compressed-control-frame", "RSV1 (compressed) set on a control frame (RFC 7692 §6.1)"),
    ("reserved-opcode", "an opcode RFC 6455 reserves (3-7, 11-15); the payload is skipped (RFC 6455 §5.2)"),
    ("non-minimal-length", "a payload length written in a longer form than needed (RFC 6455 §5.2)"),
    ("length-top-bit-set", "a 64-bit payload length with its most significant bit set (RFC 6455 §5.2)"),
    ("control-frame-too-long", "a close, ping or pong frame with more than 125 bytes of payload (RFC 6455 §5.5)"),
    ("control-frame-fragmented", "a control frame without FIN (RFC 6455 §5.5)"),
    ("continuation-without-start", "a continuation frame with no fragmented message open (RFC 6455 §5.4)"),
    ("new-message-during-fragmented", "a text or binary frame while a fragmented message is still open (RFC 6455 §5.4)"),
    ("invalid-utf8-text", "a text message that is not valid UTF-8 (RFC 6455 §5.6, §8.1)"),
    ("close-payload-too-short", "a close frame with a 1-byte payload (RFC 6455 §5.5.1)"),
    ("invalid-close-code", "a close code not allowed on the wire: < 1000, 1004-1006, 1015, 1016-2999, >= 5000 (RFC 6455 §7.4)"),
    ("invalid-utf8-close-reason", "a close reason that is not valid UTF-8 (RFC 6455 §5.5.1)"),
    ("data-after-close", "a frame sent after the sender's own close frame (RFC 6455 §5.5.1)"),
    ("inflate-failed", "a compressed message that is not valid DEFLATE data for the agreed window and context takeover (RFC 7692 §7.2.2)"),
    ("decompressed-too-big", "a compressed message inflating past --ws-max-inflated; the rest is not inflated"),
    ("head-too-long", "an HTTP request or response head longer than 16 KiB: only its first 16 KiB are read, the rest is skipped to the blank line that ends it (servers commonly refuse such a request with 431)"),
];

fn rule(id: &'static str) -> &'static str {
    debug_assert!(RULES.iter().any(|(r, _)| *r == id), "unlisted rule {id}");
    id
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

const CLIENT: usize = 0;
const SERVER: usize = 1;

fn direction(dir: usize) -> Direction {
    Direction::from_is_client(dir == CLIENT)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading the client's request head.
    Request,
    /// An upgrade was asked for; reading the server's answer.
    Response,
    /// 101: frames.
    Open,
    /// Any other answer: nothing more is decoded, stray bytes are reported.
    Failed,
}

/// The frame being read.
#[derive(Debug)]
struct Frame {
    h: FrameHeader,
    /// Payload bytes still to come.
    remaining: u64,
    /// Payload bytes seen so far (for unmasking).
    pos: u64,
    /// The payload is not decoded (reserved opcode, orphan continuation).
    skip: bool,
    /// Bytes of the payload were not captured.
    gap: bool,
}

/// The data message being assembled.
#[derive(Debug)]
struct Message {
    opcode: Opcode,
    frames: u32,
    len: u64,
    wire_len: u64,
    compressed: bool,
    utf8: Utf8Check,
    utf8_reported: bool,
    /// The first bytes of a text message, for the preview.
    preview: Vec<u8>,
    /// Not all of it was seen or decoded.
    incomplete: bool,
    /// Bytes are missing (a gap): text after it is counted, not checked.
    gap: bool,
    /// Nothing more can be decoded (compressed data after a gap, or an
    /// inflate failure): the rest is only counted as wire bytes.
    stalled: bool,
}

/// One direction of the session.
#[derive(Default)]
struct Side {
    /// A header cut across segments.
    hdr: [u8; MAX_HEADER],
    hdr_len: usize,
    frame: Option<Frame>,
    msg: Option<Message>,
    /// Payload of the control frame being read.
    control: Vec<u8>,
    /// Boxed: it is large and touched only by compressed messages, and
    /// every packet of a session loads this side into the cache.
    inflater: Option<Box<Inflater>>,
    /// The sender's inflate window was lost (a gap or a failure with context
    /// takeover): its later compressed messages cannot be inflated.
    inflate_lost: bool,
    close_sent: bool,
    after_close_reported: bool,
    /// A gap outside a frame's payload: frame boundaries are lost.
    stopped: bool,
    /// The rest of an HTTP head too long to keep, being read past.
    head_rest: Option<HeadSkip>,
    totals: WsSideTotals,
}

/// Reads past the rest of an HTTP head that was too long to keep, to the
/// blank line that ends it, without keeping any of it.
#[derive(Clone, Copy, Debug, Default)]
struct HeadSkip {
    /// 0: inside a line; 1: just after LF; 2: after LF CR.
    state: u8,
}

impl HeadSkip {
    /// A skip that goes on after `seen` (the head read so far).
    fn after(seen: &[u8]) -> HeadSkip {
        let mut s = HeadSkip::default();
        s.end_in(&seen[seen.len().saturating_sub(3)..]);
        s
    }

    /// Where in `data` the head ends (just past its blank line: CRLF CRLF,
    /// or LF LF as httparse also accepts), if it does.
    fn end_in(&mut self, data: &[u8]) -> Option<usize> {
        for (i, &b) in data.iter().enumerate() {
            self.state = match (self.state, b) {
                (1 | 2, b'\n') => {
                    self.state = 0;
                    return Some(i + 1);
                }
                (_, b'\n') => 1,
                (1, b'\r') => 2,
                _ => 0,
            };
        }
        None
    }
}

/// After a failed upgrade: what is still allowed to come.
#[derive(Debug, Default)]
struct AfterFailure {
    /// Body bytes the server still owes (None: until the connection closes).
    server_body: Option<u64>,
    reported: [bool; 2],
}

/// The WebSocket decoder of one connection.
pub struct WsDecoder {
    cfg: WsConfig,
    phase: Phase,
    /// The head being read, then client bytes that came before the answer.
    client_buf: Vec<u8>,
    server_buf: Vec<u8>,
    request: Option<(http::Request, Timestamp)>,
    /// The request head was too long to read whole: headers it lacks (a
    /// key, an offer) may be in the part not read.
    request_cut: bool,
    /// Bytes the buffers above and the sides' control payloads hold, kept
    /// current as they change: the budget asks after every packet, and
    /// counting them then would read the other direction's state (a cache
    /// miss on most packets of a session).
    held: usize,
    /// An answer whose head was too long: what its first 16 KiB said, used
    /// once the rest of the head has been read past.
    cut_answer: Option<http::Response>,
    upgrade_emitted: bool,
    status: Option<u16>,
    accept_valid: Option<bool>,
    subprotocol: Option<String>,
    extensions: Option<String>,
    deflate: Option<DeflateParams>,
    sides: [Side; 2],
    failure: AfterFailure,
    close: Option<(Option<u16>, Option<String>, Direction)>,
    violations: u64,
    gap_bytes: u64,
    first_ts: Option<Timestamp>,
    last_ts: Timestamp,
}

impl WsDecoder {
    pub fn new(cfg: WsConfig) -> Self {
        WsDecoder {
            cfg,
            phase: Phase::Request,
            client_buf: Vec::new(),
            server_buf: Vec::new(),
            request: None,
            request_cut: false,
            held: 0,
            cut_answer: None,
            upgrade_emitted: false,
            status: None,
            accept_valid: None,
            subprotocol: None,
            extensions: None,
            deflate: None,
            sides: Default::default(),
            failure: AfterFailure::default(),
            close: None,
            violations: 0,
            gap_bytes: 0,
            first_ts: None,
            last_ts: Timestamp::default(),
        }
    }

    /// Data messages seen in both directions so far.
    pub fn data_messages(&self) -> u64 {
        self.sides[CLIENT].totals.messages + self.sides[SERVER].totals.messages
    }

    /// Bytes of text kept for a message's preview: enough for `preview`
    /// characters of any width, none when no record will show them.
    fn preview_cap(&self) -> usize {
        if self.cfg.events {
            self.cfg.preview.saturating_mul(4)
        } else {
            0
        }
    }

    fn violation(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        id: &'static str,
        detail: String,
        sink: &mut dyn RecordSink,
    ) {
        self.violations += 1;
        if !self.cfg.events {
            return;
        }
        sink.record(Record::WsViolation(Box::new(WsViolation {
            ts,
            conn: conn_ref(ctx),
            direction: direction(dir),
            rule: rule(id),
            detail,
        })));
    }

    // ----- the opening handshake -----

    fn request_bytes(
        &mut self,
        ctx: &StreamCtx,
        ts: Timestamp,
        data: &[u8],
        sink: &mut dyn RecordSink,
    ) -> Interest {
        let seen = self.client_buf.len();
        self.client_buf.extend_from_slice(data);
        // Parsed again only when the head may have ended (or grown too
        // long): a head arriving in many segments costs O(n), not O(n²).
        if seen > 0
            && self.client_buf.len() <= http::MAX_HEAD
            && !http::may_end_head(&self.client_buf, seen)
        {
            return Interest::More;
        }
        let (req, n) = match http::parse_request(&self.client_buf) {
            Ok(Some(r)) => r,
            Ok(None) => return Interest::More,
            Err(HeadError::TooLong) => return self.request_too_long(ctx, ts, sink),
            Err(HeadError::NotHttp(_)) => return Interest::Done,
        };
        if !req.wants_websocket {
            return Interest::Done;
        }
        if n > http::MAX_HEAD {
            let detail = format!(
                "request head of {n} bytes, longer than the {} read",
                http::MAX_HEAD
            );
            self.violation(ctx, CLIENT, ts, "head-too-long", detail, sink);
        }
        self.client_buf.drain(..n);
        self.request = Some((req, ts));
        self.first_ts.get_or_insert(ts);
        self.phase = Phase::Response;
        // The server may have answered already (bytes delivered earlier).
        if !self.server_buf.is_empty() {
            return self.response_bytes(ctx, ts, &[], sink);
        }
        Interest::More
    }

    /// The request head is longer than [`http::MAX_HEAD`]: it is reported,
    /// what its first 16 KiB say is kept as the request, the rest is read
    /// past, and the server's answer decides as usual (its Upgrade headers
    /// may be in the part not read).
    fn request_too_long(
        &mut self,
        ctx: &StreamCtx,
        ts: Timestamp,
        sink: &mut dyn RecordSink,
    ) -> Interest {
        let Some(req) = http::parse_request_prefix(&self.client_buf) else {
            return Interest::Done;
        };
        let detail = format!(
            "request head longer than {} bytes ({}): only those were read",
            http::MAX_HEAD,
            if req.wants_websocket {
                "they ask for a WebSocket upgrade"
            } else {
                "they do not say whether it asks for a WebSocket upgrade"
            }
        );
        self.violation(ctx, CLIENT, ts, "head-too-long", detail, sink);
        self.sides[CLIENT].head_rest = Some(HeadSkip::after(&self.client_buf));
        self.client_buf = Vec::new();
        self.request = Some((req, ts));
        self.request_cut = true;
        self.first_ts.get_or_insert(ts);
        self.phase = Phase::Response;
        if !self.server_buf.is_empty() {
            return self.response_bytes(ctx, ts, &[], sink);
        }
        Interest::More
    }

    fn response_bytes(
        &mut self,
        ctx: &StreamCtx,
        ts: Timestamp,
        data: &[u8],
        sink: &mut dyn RecordSink,
    ) -> Interest {
        self.server_buf.extend_from_slice(data);
        loop {
            let (resp, n) = match http::parse_response(&self.server_buf) {
                Ok(Some(r)) => r,
                Ok(None) => return Interest::More,
                Err(HeadError::TooLong) => {
                    let Some(resp) = http::parse_response_prefix(&self.server_buf) else {
                        self.emit_upgrade(ctx, ts, None, sink);
                        return Interest::Done;
                    };
                    let detail = format!(
                        "answer head ({} {}) longer than {} bytes: only those were read",
                        resp.status,
                        resp.reason,
                        http::MAX_HEAD
                    );
                    self.violation(ctx, SERVER, ts, "head-too-long", detail, sink);
                    return self.cut_head_answer(resp);
                }
                Err(HeadError::NotHttp(_)) => {
                    // Not an HTTP answer: the upgrade did not happen.
                    self.emit_upgrade(ctx, ts, None, sink);
                    return Interest::Done;
                }
            };
            if n > http::MAX_HEAD {
                let detail = format!(
                    "answer head of {n} bytes, longer than the {} read",
                    http::MAX_HEAD
                );
                self.violation(ctx, SERVER, ts, "head-too-long", detail, sink);
            }
            self.server_buf.drain(..n);
            // 1xx answers other than 101 are interim: the real one follows.
            if (100..200).contains(&resp.status) && resp.status != 101 {
                continue;
            }
            return self.answered(ctx, ts, &resp, sink);
        }
    }

    /// The answer's head is cut short (too long, or given up to the memory
    /// budget): what was read of it stands for it, and the rest of the head
    /// is read past; [`WsDecoder::answered`] follows at its end.
    fn cut_head_answer(&mut self, resp: http::Response) -> Interest {
        self.sides[SERVER].head_rest = Some(HeadSkip::after(&self.server_buf));
        self.server_buf = Vec::new();
        self.cut_answer = Some(resp);
        Interest::More
    }

    /// Reads past the rest of a head cut short on side `dir`; returns the
    /// bytes after it, or `None` while it goes on.
    fn skip_head_rest<'d>(&mut self, dir: usize, data: &'d [u8]) -> Option<&'d [u8]> {
        let skip = self.sides[dir].head_rest.as_mut()?;
        let end = skip.end_in(data)?;
        self.sides[dir].head_rest = None;
        Some(&data[end..])
    }

    /// The server's answer (its head consumed; `server_buf` and
    /// `client_buf` hold what each side sent after it).
    fn answered(
        &mut self,
        ctx: &StreamCtx,
        ts: Timestamp,
        resp: &http::Response,
        sink: &mut dyn RecordSink,
    ) -> Interest {
        self.emit_upgrade(ctx, ts, Some(resp), sink);
        let rest_server = std::mem::take(&mut self.server_buf);
        let rest_client = std::mem::take(&mut self.client_buf);
        if resp.status == 101 {
            self.open(ctx, ts, resp, sink);
            self.frames(ctx, SERVER, ts, &rest_server, sink);
            self.frames(ctx, CLIENT, ts, &rest_client, sink);
            return self.interest();
        }
        self.phase = Phase::Failed;
        self.failure.server_body = resp.content_length;
        self.after_failure(ctx, SERVER, ts, &rest_server, sink);
        self.after_failure(ctx, CLIENT, ts, &rest_client, sink);
        Interest::More
    }

    fn emit_upgrade(
        &mut self,
        ctx: &StreamCtx,
        ts: Timestamp,
        resp: Option<&http::Response>,
        sink: &mut dyn RecordSink,
    ) {
        let Some((req, request_ts)) = &self.request else {
            return;
        };
        if self.upgrade_emitted {
            return;
        }
        self.upgrade_emitted = true;
        self.status = resp.map(|r| r.status);
        let switched = self.status == Some(101);
        let accept = resp.and_then(|r| r.accept.clone());
        self.accept_valid = match (switched, &req.key, &accept) {
            (false, _, _) => None,
            (true, Some(k), Some(a)) => Some(http::accept_for(k) == a.trim()),
            // The key may be in the part of a cut head that was not read.
            (true, None, _) if self.request_cut => None,
            (true, _, _) => Some(false),
        };
        if switched {
            self.subprotocol = resp.and_then(|r| r.protocol.clone());
            self.extensions = resp.and_then(|r| r.extensions.clone());
        }
        if !self.cfg.events {
            return;
        }
        let u = WsUpgrade {
            ts: if resp.is_some() { ts } else { *request_ts },
            request_ts: *request_ts,
            conn: conn_ref(ctx),
            method: req.method.clone(),
            target: req.target.clone(),
            host: req.host.clone(),
            origin: req.origin.clone(),
            version: req.version.clone(),
            key: req.key.clone(),
            requested_protocols: req.protocols.clone(),
            requested_extensions: req.extensions.clone(),
            status: self.status,
            reason: resp.map(|r| r.reason.clone()),
            accept,
            accept_valid: self.accept_valid,
            subprotocol: self.subprotocol.clone(),
            extensions: self.extensions.clone(),
        };
        sink.record(Record::WsUpgrade(Box::new(u)));
    }

    /// The 101 was seen: check what the server agreed to, set up inflaters.
    fn open(
        &mut self,
        ctx: &StreamCtx,
        ts: Timestamp,
        resp: &http::Response,
        sink: &mut dyn RecordSink,
    ) {
        self.phase = Phase::Open;
        if self.accept_valid == Some(false) {
            let detail = match (
                &resp.accept,
                self.request.as_ref().and_then(|r| r.0.key.as_deref()),
            ) {
                (None, _) => "101 without Sec-WebSocket-Accept".to_string(),
                (Some(a), None) => {
                    format!("Sec-WebSocket-Accept {a} but the request had no Sec-WebSocket-Key")
                }
                (Some(a), Some(k)) => format!(
                    "Sec-WebSocket-Accept {a}, expected {} for key {k}",
                    http::accept_for(k)
                ),
            };
            self.violation(ctx, SERVER, ts, "bad-accept", detail, sink);
        }
        let offered_protocols = self.request.as_ref().and_then(|r| r.0.protocols.clone());
        // An offer missing from a cut request head may be in the part not
        // read: only one that was read and lacks the choice is broken.
        let unknown = |offer: &Option<String>| self.request_cut && offer.is_none();
        let offered_extensions = self.request.as_ref().and_then(|r| r.0.extensions.clone());
        let (protocols_unknown, extensions_unknown) =
            (unknown(&offered_protocols), unknown(&offered_extensions));
        if let Some(p) = resp.protocol.as_ref().filter(|_| !protocols_unknown) {
            if !http::has_token(offered_protocols.as_deref(), p) {
                let detail = format!(
                    "chose {p:?}, offered {}",
                    offered_protocols.as_deref().unwrap_or("none")
                );
                self.violation(ctx, SERVER, ts, "subprotocol-not-offered", detail, sink);
            }
        }
        if let Some(ext) = &resp.extensions {
            let offered = offered_extensions.clone().unwrap_or_default();
            let offered_names: Vec<String> = offered
                .split(',')
                .filter_map(|e| e.split(';').next())
                .map(|n| n.trim().to_ascii_lowercase())
                .collect();
            for name in ext
                .split(',')
                .filter_map(|e| e.split(';').next())
                .map(str::trim)
            {
                if !name.is_empty()
                    && !extensions_unknown
                    && !offered_names.iter().any(|o| o.eq_ignore_ascii_case(name))
                {
                    let detail = format!("accepted {name}, which the client did not offer");
                    self.violation(ctx, SERVER, ts, "extension-not-offered", detail, sink);
                }
            }
            match deflate::parse_extensions(ext) {
                None => {}
                Some(Ok(p)) => self.deflate = Some(p),
                Some(Err(why)) => {
                    // Decode with the defaults anyway: the peers may still talk.
                    self.violation(
                        ctx,
                        SERVER,
                        ts,
                        "extension-not-offered",
                        format!("permessage-deflate: {why}"),
                        sink,
                    );
                    self.deflate = Some(DeflateParams::default());
                }
            }
        }
        if let Some(p) = self.deflate {
            let limit = self.cfg.max_inflated;
            self.sides[CLIENT].inflater = Some(Box::new(Inflater::new(
                p.client_max_window_bits,
                !p.client_no_context_takeover,
                limit,
            )));
            self.sides[SERVER].inflater = Some(Box::new(Inflater::new(
                p.server_max_window_bits,
                !p.server_no_context_takeover,
                limit,
            )));
        }
    }

    /// Bytes after a non-101 answer: the server's body is allowed, a new
    /// HTTP request from the client is allowed; anything else is reported
    /// once per direction and never decoded.
    fn after_failure(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        mut data: &[u8],
        sink: &mut dyn RecordSink,
    ) {
        if data.is_empty() || self.failure.reported[dir] {
            return;
        }
        if dir == SERVER {
            match &mut self.failure.server_body {
                None => return,
                Some(left) => {
                    let body = (*left).min(data.len() as u64);
                    *left -= body;
                    data = &data[body as usize..];
                    if data.is_empty() {
                        return;
                    }
                }
            }
        } else if http::parse_request(data).is_ok() {
            // The client asks again (keep-alive): not frames.
            self.failure.reported[dir] = true;
            return;
        }
        self.failure.reported[dir] = true;
        let what = match FrameView::check_len(data) {
            Ok(v) => {
                let h = v.header();
                format!(
                    ", parsing as a {} frame of {} bytes",
                    h.opcode.name(),
                    h.payload_len
                )
            }
            Err(_) => String::new(),
        };
        let status = self
            .status
            .map_or("a non-101".to_string(), |s| s.to_string());
        let detail = format!("{} bytes after the {status} answer{what}", data.len());
        self.violation(ctx, dir, ts, "frames-after-failed-upgrade", detail, sink);
    }

    fn interest(&self) -> Interest {
        if self.phase == Phase::Open && self.sides[CLIENT].stopped && self.sides[SERVER].stopped {
            Interest::Done
        } else {
            Interest::More
        }
    }

    // ----- frames -----

    fn frames(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        mut data: &[u8],
        sink: &mut dyn RecordSink,
    ) {
        while !data.is_empty() && !self.sides[dir].stopped {
            let side = &mut self.sides[dir];
            match &side.frame {
                // A whole header in the segment: read it in place.
                None if side.hdr_len == 0 && FrameView::check_len(data).is_ok() => {
                    let h = FrameView::check_len(data).expect("checked").header();
                    if let Some(rest) = self.whole_message(dir, &h, data) {
                        data = rest;
                        continue;
                    }
                    data = &data[h.header_len..];
                    self.start_frame(ctx, dir, ts, h, sink);
                }
                None => {
                    let take = (MAX_HEADER - side.hdr_len).min(data.len());
                    side.hdr[side.hdr_len..side.hdr_len + take].copy_from_slice(&data[..take]);
                    match FrameView::check_len(&side.hdr[..side.hdr_len + take]) {
                        // Short of a header: `take` was all of `data`.
                        Err(_) => {
                            side.hdr_len += take;
                            data = &data[take..];
                        }
                        Ok(view) => {
                            let h = view.header();
                            data = &data[h.header_len - side.hdr_len..];
                            side.hdr_len = 0;
                            self.start_frame(ctx, dir, ts, h, sink);
                        }
                    }
                }
                Some(f) => {
                    let take = f.remaining.min(data.len() as u64) as usize;
                    self.payload(ctx, dir, ts, &data[..take], sink);
                    data = &data[take..];
                }
            }
            if self.sides[dir]
                .frame
                .as_ref()
                .is_some_and(|f| f.remaining == 0)
            {
                self.end_frame(ctx, dir, ts, sink);
            }
        }
    }

    /// Whether this side stands where plain messages
    /// ([`FrameHeader::is_plain_message`]) are counted in one step: no
    /// per-frame record is wanted (`-q`, `--summary`, `check`), no frame or
    /// message is open, no close was sent, and the masking is right for the
    /// side. There the general path would count each of them the same way,
    /// only frame by frame state.
    fn at_plain_boundary(&self, dir: usize, masked: bool) -> bool {
        let side = &self.sides[dir];
        !self.cfg.events
            && side.frame.is_none()
            && side.hdr_len == 0
            && !side.stopped
            && side.head_rest.is_none()
            && side.msg.is_none()
            && !side.close_sent
            && masked == (dir == CLIENT)
    }

    fn count_plain(&mut self, dir: usize, messages: u64, bytes: u64) {
        let t = &mut self.sides[dir].totals;
        t.frames += messages;
        t.messages += messages;
        t.wire_bytes += bytes;
        t.message_bytes += bytes;
    }

    /// The common frame in one step: a whole plain message within `data`
    /// (header `h` read from its start). Returns the bytes after it, or
    /// `None` for the general path.
    fn whole_message<'d>(
        &mut self,
        dir: usize,
        h: &FrameHeader,
        data: &'d [u8],
    ) -> Option<&'d [u8]> {
        if !self.at_plain_boundary(dir, h.mask.is_some()) {
            return None;
        }
        let end = ws::plain_message_end(h, data)?;
        self.count_plain(dir, 1, h.payload_len);
        Some(&data[end..])
    }

    /// Counts a packet's worth of plain messages the source already parsed
    /// ([`ws::FrameRun`]); false (nothing counted) unless this side is at a
    /// plain boundary.
    fn take_run(&mut self, dir: usize, run: ws::FrameRun) -> bool {
        if !self.at_plain_boundary(dir, run.masked) {
            return false;
        }
        self.count_plain(dir, u64::from(run.frames), u64::from(run.bytes));
        true
    }

    fn start_frame(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        h: FrameHeader,
        sink: &mut dyn RecordSink,
    ) {
        let deflate = self.deflate.is_some();
        let from_client = dir == CLIENT;
        let mut broken: Vec<(&'static str, String)> = Vec::new();
        let side = &mut self.sides[dir];
        side.totals.frames += 1;
        if side.close_sent && !side.after_close_reported {
            side.after_close_reported = true;
            broken.push((
                "data-after-close",
                format!("a {} frame after this side's close frame", h.opcode.name()),
            ));
        }
        if from_client && h.mask.is_none() {
            broken.push((
                "client-frame-unmasked",
                format!("{} frame without a masking key", h.opcode.name()),
            ));
        }
        if !from_client && h.mask.is_some() {
            broken.push((
                "server-frame-masked",
                format!("{} frame with a masking key", h.opcode.name()),
            ));
        }
        if h.length_top_bit() {
            broken.push((
                "length-top-bit-set",
                format!("64-bit length {:#018x}", h.payload_len),
            ));
        } else if h.non_minimal_length() {
            let form = if h.payload_len < 126 { "7" } else { "16" };
            let used = if h.header_len - h.mask.map_or(0, |_| 4) == 4 {
                16
            } else {
                64
            };
            broken.push((
                "non-minimal-length",
                format!(
                    "length {} written in {used} bits, fits in {form}",
                    h.payload_len
                ),
            ));
        }
        for (set, name) in [(h.rsv2, "RSV2"), (h.rsv3, "RSV3")] {
            if set {
                broken.push((
                    "rsv-bits-without-extension",
                    format!("{name} set on a {} frame", h.opcode.name()),
                ));
            }
        }
        let mut skip = false;
        let mut abandoned = None;
        match h.opcode {
            Opcode::Reserved(v) => {
                broken.push((
                    "reserved-opcode",
                    format!("opcode {v:#x}, {} bytes skipped", h.payload_len),
                ));
                skip = true;
            }
            Opcode::Close | Opcode::Ping | Opcode::Pong => {
                if h.payload_len > 125 {
                    broken.push((
                        "control-frame-too-long",
                        format!(
                            "{} frame with {} bytes of payload",
                            h.opcode.name(),
                            h.payload_len
                        ),
                    ));
                }
                if !h.fin {
                    broken.push((
                        "control-frame-fragmented",
                        format!("{} frame without FIN", h.opcode.name()),
                    ));
                }
                if h.rsv1 {
                    let id = if deflate {
                        "compressed-control-frame"
                    } else {
                        "rsv-bits-without-extension"
                    };
                    broken.push((id, format!("RSV1 set on a {} frame", h.opcode.name())));
                }
                side.control.clear();
            }
            Opcode::Continuation => {
                if h.rsv1 {
                    let id = if deflate {
                        "rsv1-on-continuation"
                    } else {
                        "rsv-bits-without-extension"
                    };
                    broken.push((id, "RSV1 set on a continuation frame".to_string()));
                }
                match &mut side.msg {
                    Some(m) => m.frames += 1,
                    None => {
                        broken.push((
                            "continuation-without-start",
                            format!("{} bytes skipped", h.payload_len),
                        ));
                        skip = true;
                    }
                }
            }
            Opcode::Text | Opcode::Binary => {
                if h.rsv1 && !deflate {
                    broken.push((
                        "rsv-bits-without-extension",
                        format!(
                            "RSV1 set on a {} frame, permessage-deflate not agreed",
                            h.opcode.name()
                        ),
                    ));
                }
                let compressed = h.rsv1 && deflate;
                // With its window lost, a compressed message cannot be inflated.
                let incomplete = compressed && side.inflate_lost;
                if compressed && !incomplete {
                    if let Some(inf) = side.inflater.as_mut() {
                        inf.begin_message();
                    }
                }
                let m = Message {
                    opcode: h.opcode,
                    frames: 1,
                    len: 0,
                    wire_len: 0,
                    compressed,
                    utf8: Utf8Check::default(),
                    utf8_reported: false,
                    preview: Vec::new(),
                    incomplete,
                    gap: false,
                    stalled: incomplete,
                };
                abandoned = side.msg.replace(m);
                if abandoned.is_some() {
                    broken.push((
                        "new-message-during-fragmented",
                        format!("a {} frame while a fragmented message is open; the open one is reported incomplete", h.opcode.name()),
                    ));
                }
            }
        }
        if let Some(mut o) = abandoned {
            o.incomplete = true;
            self.emit_message(ctx, dir, ts, o, sink);
        }
        self.sides[dir].frame = Some(Frame {
            h,
            remaining: h.payload_len,
            pos: 0,
            skip,
            gap: false,
        });
        for (id, detail) in broken {
            self.violation(ctx, dir, ts, id, detail, sink);
        }
    }

    fn payload(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        chunk: &[u8],
        sink: &mut dyn RecordSink,
    ) {
        let preview_cap = self.preview_cap();
        let side = &mut self.sides[dir];
        let Side {
            frame,
            msg,
            control,
            inflater,
            totals,
            ..
        } = side;
        let f = frame.as_mut().expect("payload without a frame");
        totals.wire_bytes += chunk.len() as u64;
        let pos = f.pos;
        f.pos += chunk.len() as u64;
        f.remaining -= chunk.len() as u64;
        if f.skip {
            return;
        }
        let mask = f.h.mask;
        if f.h.opcode.is_control() {
            let keep = CONTROL_KEEP.saturating_sub(control.len()).min(chunk.len());
            let (start, cap) = (control.len(), control.capacity());
            control.extend_from_slice(&chunk[..keep]);
            if let Some(key) = f.h.mask {
                ws::unmask(&mut control[start..], key, pos);
            }
            self.held += control.capacity() - cap;
            return;
        }
        let Some(m) = msg.as_mut() else { return };
        m.wire_len += chunk.len() as u64;
        if m.stalled {
            return;
        }
        // After a gap the text cannot be checked or previewed, only counted.
        let text = m.opcode == Opcode::Text && !m.gap;
        if m.compressed {
            let Some(inf) = inflater.as_mut() else { return };
            let r = with_unmasked(chunk, mask, pos, &mut |plain| {
                inf.feed(plain, &mut |out| feed_plain(m, out, text, preview_cap))
            });
            if let Err(e) = r {
                self.inflate_error(ctx, dir, ts, e, sink);
                return;
            }
        } else if text {
            let _ = with_unmasked(chunk, mask, pos, &mut |plain| {
                feed_plain(m, plain, text, preview_cap);
                Ok(())
            });
        } else {
            // Binary (or text after a gap): only its size matters.
            m.len += chunk.len() as u64;
        }
        self.check_utf8(ctx, dir, ts, sink);
    }

    fn inflate_error(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        e: InflateError,
        sink: &mut dyn RecordSink,
    ) {
        let side = &mut self.sides[dir];
        if let Some(m) = side.msg.as_mut() {
            m.incomplete = true;
            m.stalled = true;
        }
        let id = match e {
            InflateError::TooBig(_) => "decompressed-too-big",
            InflateError::Corrupt(_) => "inflate-failed",
        };
        // With context takeover later messages refer to this one's window.
        if let Some(inf) = side.inflater.as_mut() {
            if inf.keeps_context() {
                side.inflate_lost = true;
            }
            inf.reset();
        }
        self.violation(ctx, dir, ts, id, e.to_string(), sink);
    }

    fn check_utf8(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        sink: &mut dyn RecordSink,
    ) {
        let Some(m) = self.sides[dir].msg.as_mut() else {
            return;
        };
        if m.opcode == Opcode::Text && m.utf8.is_invalid() && !m.utf8_reported {
            m.utf8_reported = true;
            let detail = format!(
                "invalid UTF-8 within the first {} bytes of the message",
                m.len
            );
            self.violation(ctx, dir, ts, "invalid-utf8-text", detail, sink);
        }
    }

    /// The frame's last byte was seen (or never will be: `incomplete`).
    fn end_frame(&mut self, ctx: &StreamCtx, dir: usize, ts: Timestamp, sink: &mut dyn RecordSink) {
        let Some(f) = self.sides[dir].frame.take() else {
            return;
        };
        let incomplete = f.gap || f.remaining > 0;
        let h = f.h;
        let (mut close_code, mut close_reason, mut control_payload) = (None, None, None);
        match h.opcode {
            Opcode::Close if !incomplete => {
                let payload = std::mem::take(&mut self.sides[dir].control);
                match payload.len() {
                    0 => {}
                    1 => self.violation(
                        ctx,
                        dir,
                        ts,
                        "close-payload-too-short",
                        "a 1-byte close payload (a code takes 2)".into(),
                        sink,
                    ),
                    _ => {
                        let code = u16::from_be_bytes([payload[0], payload[1]]);
                        close_code = Some(code);
                        if !ws::close_code_allowed(code) {
                            self.violation(
                                ctx,
                                dir,
                                ts,
                                "invalid-close-code",
                                format!("close code {code}"),
                                sink,
                            );
                        }
                        let reason = &payload[2..];
                        match std::str::from_utf8(reason) {
                            Ok(r) => close_reason = Some(r.to_string()),
                            Err(_) => {
                                close_reason = Some(String::from_utf8_lossy(reason).into_owned());
                                let detail = format!("{} bytes of reason, not UTF-8", reason.len());
                                self.violation(
                                    ctx,
                                    dir,
                                    ts,
                                    "invalid-utf8-close-reason",
                                    detail,
                                    sink,
                                );
                            }
                        }
                    }
                }
                self.sides[dir].control = payload;
            }
            Opcode::Ping | Opcode::Pong if !incomplete && self.cfg.events => {
                control_payload = Some(printable(&self.sides[dir].control, self.cfg.preview).0);
            }
            _ => {}
        }
        if h.opcode.is_control() {
            // Freed, not kept for the next control frame: a session holds
            // a control payload only while one is cut across segments.
            self.held -= std::mem::take(&mut self.sides[dir].control).capacity();
        }
        if h.opcode == Opcode::Close {
            self.sides[dir].close_sent = true;
            if self.close.is_none() {
                self.close = Some((close_code, close_reason.clone(), direction(dir)));
            }
        }
        if self.cfg.events {
            sink.record(Record::WsFrame(Box::new(WsFrame {
                ts,
                conn: conn_ref(ctx),
                direction: direction(dir),
                fin: h.fin,
                rsv1: h.rsv1,
                rsv2: h.rsv2,
                rsv3: h.rsv3,
                opcode: h.opcode.value(),
                opcode_name: h.opcode.name(),
                masked: h.mask.is_some(),
                payload_len: h.payload_len,
                close_code,
                close_reason,
                control_payload,
                incomplete,
            })));
        }
        let data = matches!(
            h.opcode,
            Opcode::Text | Opcode::Binary | Opcode::Continuation
        ) && !f.skip;
        // A frame whose end was never seen ends its message too; a gap
        // inside a payload does not (the frame boundaries still hold).
        let cut = f.remaining > 0;
        if data && (h.fin || cut) {
            if let Some(mut m) = self.sides[dir].msg.take() {
                if incomplete {
                    m.incomplete = true;
                }
                self.finish_message(ctx, dir, ts, m, sink);
            }
        }
    }

    /// A message's last frame ended: drain the inflater, check the text.
    fn finish_message(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        mut m: Message,
        sink: &mut dyn RecordSink,
    ) {
        let preview_cap = self.preview_cap();
        let text = m.opcode == Opcode::Text;
        if m.compressed && !m.stalled {
            if let Some(inf) = self.sides[dir].inflater.as_mut() {
                if let Err(e) =
                    inf.end_message(&mut |out| feed_plain(&mut m, out, text, preview_cap))
                {
                    self.sides[dir].msg = Some(m);
                    self.inflate_error(ctx, dir, ts, e, sink);
                    m = self.sides[dir].msg.take().expect("put back");
                }
            }
        }
        if text && !m.incomplete && !m.gap && !m.utf8.finish() && !m.utf8_reported {
            m.utf8_reported = true;
            let detail = format!("the message's {} bytes end inside a character", m.len);
            self.violation(ctx, dir, ts, "invalid-utf8-text", detail, sink);
        }
        self.emit_message(ctx, dir, ts, m, sink);
    }

    fn emit_message(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        m: Message,
        sink: &mut dyn RecordSink,
    ) {
        let totals = &mut self.sides[dir].totals;
        totals.messages += 1;
        totals.message_bytes += m.len;
        if !self.cfg.events {
            return;
        }
        let (text, text_truncated) = if m.opcode == Opcode::Text {
            let (t, cut) = preview_text(&m.preview, self.cfg.preview);
            (Some(t), cut || (m.preview.len() as u64) < m.len)
        } else {
            (None, false)
        };
        sink.record(Record::WsMessage(Box::new(WsMessage {
            ts,
            conn: conn_ref(ctx),
            direction: direction(dir),
            opcode_name: m.opcode.name(),
            frames: m.frames,
            len: m.len,
            wire_len: m.wire_len,
            compressed: m.compressed,
            text,
            text_truncated,
            incomplete: m.incomplete,
        })));
    }

    /// [`StreamHandler::shed`]'s work (the count of bytes held is
    /// redone after it).
    fn shed_buffers(
        &mut self,
        ctx: &StreamCtx,
        ts: Timestamp,
        sink: &mut dyn RecordSink,
    ) -> Interest {
        match self.phase {
            // A request head cut short cannot say whether it asks for an
            // upgrade: the connection is not decoded (the tracker reports
            // what was given up).
            Phase::Request => {
                self.client_buf = Vec::new();
                self.server_buf = Vec::new();
                return Interest::Done;
            }
            Phase::Response => {
                // Client bytes sent before the answer: their frames are lost.
                if !self.client_buf.is_empty() {
                    self.sides[CLIENT].stopped = true;
                }
                self.client_buf = Vec::new();
                if !self.server_buf.is_empty() {
                    // The answer's head so far stands for it; the rest is
                    // read past.
                    let Some(resp) = http::parse_response_prefix(&self.server_buf) else {
                        self.server_buf = Vec::new();
                        self.emit_upgrade(ctx, ts, None, sink);
                        return Interest::Done;
                    };
                    return self.cut_head_answer(resp);
                }
                self.server_buf = Vec::new();
            }
            Phase::Open | Phase::Failed => {
                for side in &mut self.sides {
                    if side.control.capacity() > 0 {
                        side.control = Vec::new();
                        // The control frame being read is reported
                        // incomplete, the rest of its payload skipped.
                        if let Some(f) = side.frame.as_mut().filter(|f| f.h.opcode.is_control()) {
                            f.skip = true;
                            f.gap = true;
                        }
                    }
                }
            }
        }
        Interest::More
    }

    /// What the buffers hold, counted (see [`WsDecoder::held`]).
    fn count_held(&self) -> usize {
        self.client_buf.capacity()
            + self.server_buf.capacity()
            + self.sides[CLIENT].control.capacity()
            + self.sides[SERVER].control.capacity()
    }

    /// [`StreamHandler::data`]'s work.
    fn data_in(
        &mut self,
        ctx: &StreamCtx,
        from_client: bool,
        ts: Timestamp,
        data: &[u8],
        sink: &mut dyn RecordSink,
    ) -> Interest {
        self.last_ts = ts;
        let dir = if from_client { CLIENT } else { SERVER };
        let mut data = data;
        if self.sides[dir].head_rest.is_some() {
            let Some(rest) = self.skip_head_rest(dir, data) else {
                return Interest::More;
            };
            data = rest;
            if let Some(resp) = self.cut_answer.take().filter(|_| dir == SERVER) {
                self.server_buf.extend_from_slice(data);
                if (100..200).contains(&resp.status) && resp.status != 101 {
                    return self.response_bytes(ctx, ts, &[], sink);
                }
                return self.answered(ctx, ts, &resp, sink);
            }
            if data.is_empty() {
                return Interest::More;
            }
        }
        match (self.phase, dir) {
            (Phase::Request, CLIENT) => self.request_bytes(ctx, ts, data, sink),
            (Phase::Request, _) => {
                // The server spoke first: keep it for when the request is read.
                if self.server_buf.len() + data.len() > http::MAX_HEAD {
                    return Interest::Done;
                }
                self.server_buf.extend_from_slice(data);
                Interest::More
            }
            (Phase::Response, SERVER) => self.response_bytes(ctx, ts, data, sink),
            (Phase::Response, _) => {
                if self.client_buf.len() + data.len() > EARLY_CAP {
                    self.client_buf.clear();
                    self.sides[CLIENT].stopped = true;
                } else if !self.sides[CLIENT].stopped {
                    self.client_buf.extend_from_slice(data);
                }
                Interest::More
            }
            (Phase::Open, _) => {
                self.frames(ctx, dir, ts, data, sink);
                self.interest()
            }
            (Phase::Failed, _) => {
                self.after_failure(ctx, dir, ts, data, sink);
                Interest::More
            }
        }
    }

    /// `len` bytes of a direction will never be seen.
    fn gap_in(
        &mut self,
        ctx: &StreamCtx,
        dir: usize,
        ts: Timestamp,
        len: u64,
        sink: &mut dyn RecordSink,
    ) -> Interest {
        self.gap_bytes += len;
        if self.sides[dir].head_rest.take().is_some() {
            // Where the head being read past ends is lost with the bytes.
            if dir == SERVER {
                let cut = self.cut_answer.take();
                self.emit_upgrade(ctx, ts, cut.as_ref(), sink);
                return Interest::Done;
            }
            self.client_buf = Vec::new();
            self.sides[CLIENT].stopped = true;
            return if self.phase == Phase::Open {
                self.interest()
            } else {
                Interest::More
            };
        }
        match self.phase {
            // A head with a hole cannot be read.
            Phase::Request => return Interest::Done,
            Phase::Response => {
                if dir == SERVER {
                    self.emit_upgrade(ctx, ts, None, sink);
                    return Interest::Done;
                }
                // Client bytes before the answer are lost; frames in them too.
                self.client_buf.clear();
                self.sides[CLIENT].stopped = true;
                return Interest::More;
            }
            Phase::Failed => return Interest::More,
            Phase::Open => {}
        }
        let side = &mut self.sides[dir];
        if side.stopped {
            return self.interest();
        }
        let within = side.hdr_len == 0 && side.frame.as_ref().is_some_and(|f| len <= f.remaining);
        if within {
            // Inside a payload: skip it and go on with the next frame.
            let f = side.frame.as_mut().expect("checked");
            f.remaining -= len;
            f.pos += len;
            f.gap = true;
            side.totals.wire_bytes += len;
            if let Some(m) = side.msg.as_mut() {
                if !f.h.opcode.is_control() && !f.skip {
                    m.wire_len += len;
                    m.incomplete = true;
                    m.gap = true;
                    if m.compressed {
                        m.stalled = true;
                        if side.inflater.as_ref().is_some_and(|i| i.keeps_context()) {
                            side.inflate_lost = true;
                        }
                    }
                }
            }
            if f.remaining == 0 {
                self.end_frame(ctx, dir, ts, sink);
            }
        } else {
            // Frame boundaries are lost: report what was open and stop.
            side.stopped = true;
            side.hdr_len = 0;
            if let Some(f) = side.frame.as_mut() {
                f.gap = true;
            }
            self.end_frame(ctx, dir, ts, sink);
            if let Some(mut m) = self.sides[dir].msg.take() {
                m.incomplete = true;
                self.emit_message(ctx, dir, ts, m, sink);
            }
        }
        self.interest()
    }
}

/// Passes `chunk` (payload starting at offset `pos`) to `f` unmasked: as it
/// is when the frame has no mask, else in pieces unmasked on the stack (a
/// per-stream heap buffer would be one more cold cache line per packet).
fn with_unmasked(
    chunk: &[u8],
    mask: Option<[u8; 4]>,
    pos: u64,
    f: &mut dyn FnMut(&[u8]) -> Result<(), InflateError>,
) -> Result<(), InflateError> {
    let Some(key) = mask else { return f(chunk) };
    let mut buf = [0u8; 512];
    let mut at = pos;
    for piece in chunk.chunks(buf.len()) {
        let b = &mut buf[..piece.len()];
        b.copy_from_slice(piece);
        ws::unmask(b, key, at);
        f(b)?;
        at += piece.len() as u64;
    }
    Ok(())
}

/// Adds decoded message bytes: counted, checked, and the first kept.
fn feed_plain(m: &mut Message, out: &[u8], text: bool, preview_cap: usize) {
    m.len += out.len() as u64;
    if text {
        m.utf8.feed(out);
        if m.preview.len() < preview_cap {
            let keep = (preview_cap - m.preview.len()).min(out.len());
            m.preview.extend_from_slice(&out[..keep]);
        }
    }
}

/// The first `chars` characters of `bytes` (lossy if not UTF-8), and
/// whether there were more.
fn preview_text(bytes: &[u8], chars: usize) -> (String, bool) {
    let valid = match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        // Cut inside a character by the preview buffer: drop the piece.
        Err(e) if e.error_len().is_none() => {
            std::borrow::Cow::Borrowed(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""))
        }
        Err(_) => String::from_utf8_lossy(bytes),
    };
    match valid.char_indices().nth(chars) {
        Some((i, _)) => (valid[..i].to_string(), true),
        None => (valid.into_owned(), false),
    }
}

/// A control payload as text when it is UTF-8, else as hex.
fn printable(bytes: &[u8], chars: usize) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(_) => preview_text(bytes, chars),
        Err(_) => {
            let n = bytes.len().min(chars / 2);
            let mut s = String::with_capacity(n * 2);
            for b in &bytes[..n] {
                s.push_str(&format!("{b:02x}"));
            }
            (s, n < bytes.len())
        }
    }
}

impl StreamHandler for WsDecoder {
    fn prefetch(&self, from_client: bool) {
        use crate::track::stream::prefetch;
        prefetch(&self.phase as *const Phase as *const u8);
        let side = &self.sides[usize::from(!from_client)];
        let at = side as *const Side as *const u8;
        for line in (0..std::mem::size_of::<Side>()).step_by(64) {
            prefetch(at.wrapping_add(line));
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
        let before = self.phase;
        let interest = self.data_in(ctx, from_client, ts, data, sink);
        // Frames only change the side's control payload, counted as it
        // changes; the handshake's buffers are counted here.
        if before != Phase::Open || self.phase != Phase::Open {
            self.held = self.count_held();
        }
        interest
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
        let dir = if from_client { CLIENT } else { SERVER };
        if let Some(run) = ws::FrameRun::from_note(note) {
            if self.phase == Phase::Open && self.take_run(dir, run) {
                self.last_ts = ts;
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
        let dir = if from_client { CLIENT } else { SERVER };
        let interest = self.gap_in(ctx, dir, ts, len, sink);
        if self.phase != Phase::Open {
            self.held = self.count_held();
        }
        interest
    }

    /// The heads and early client bytes, and control payloads cut across
    /// segments. (The text preview is bounded by `--preview`, and an
    /// inflater's window by the agreed window bits: both are part of the
    /// fixed cost of a session.)
    fn held_bytes(&self) -> usize {
        debug_assert_eq!(self.held, self.count_held(), "held bytes kept current");
        self.held
    }

    fn shed(&mut self, ctx: &StreamCtx, ts: Timestamp, sink: &mut dyn RecordSink) -> Interest {
        let interest = self.shed_buffers(ctx, ts, sink);
        self.held = self.count_held();
        interest
    }
    fn end(&mut self, ctx: &StreamCtx, ts: Timestamp, sink: &mut dyn RecordSink) {
        if self.request.is_none() {
            return;
        }
        let ts = ts.max(self.last_ts);
        if self.phase == Phase::Response {
            // An answer whose head was cut short is still the answer.
            let cut = self.cut_answer.take();
            self.emit_upgrade(ctx, ts, cut.as_ref(), sink);
        }
        if self.phase == Phase::Open {
            for dir in [CLIENT, SERVER] {
                if self.sides[dir].frame.is_some() {
                    self.end_frame(ctx, dir, ts, sink);
                }
                if let Some(mut m) = self.sides[dir].msg.take() {
                    m.incomplete = true;
                    self.emit_message(ctx, dir, ts, m, sink);
                }
            }
        }
        let (req, request_ts) = self.request.as_ref().expect("checked");
        let (close_code, close_reason, closed_by) = match &self.close {
            Some((c, r, d)) => (*c, r.clone(), Some(*d)),
            None => (None, None, None),
        };
        sink.record(Record::WsSession(Box::new(WsSession {
            ts,
            conn: conn_ref(ctx),
            target: req.target.clone(),
            host: req.host.clone(),
            status: self.status,
            accept_valid: self.accept_valid,
            subprotocol: self.subprotocol.clone(),
            extensions: self.extensions.clone(),
            compression: self.deflate.is_some(),
            client: self.sides[CLIENT].totals,
            server: self.sides[SERVER].totals,
            close_code,
            close_reason,
            closed_by,
            violations: self.violations,
            gap_bytes: self.gap_bytes,
            first_ts: self.first_ts.unwrap_or(*request_ts),
            last_ts: ts,
        })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::key::Endpoint;
    use flate2::{Compress, Compression, FlushCompress};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn ctx() -> StreamCtx {
        StreamCtx {
            conn_id: 7,
            client: Endpoint {
                ip: "10.0.0.1".parse().unwrap(),
                port: 40000,
            },
            server: Endpoint {
                ip: "10.0.0.2".parse().unwrap(),
                port: 80,
            },
        }
    }

    /// A frame as a peer would write it (masked with a fixed key when `mask`).
    fn frame(b0: u8, payload: &[u8], mask: bool) -> Vec<u8> {
        let mut f = vec![b0];
        let m = if mask { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => f.push(m | n as u8),
            n @ 126..=0xffff => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if mask {
            let key = [0x37, 0xfa, 0x21, 0x3d];
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        f
    }

    fn client(b0: u8, payload: &[u8]) -> Vec<u8> {
        frame(b0, payload, true)
    }

    fn server(b0: u8, payload: &[u8]) -> Vec<u8> {
        frame(b0, payload, false)
    }

    struct Session {
        d: WsDecoder,
        out: Vec<Record>,
        t: i64,
    }

    impl Session {
        fn new() -> Self {
            Session {
                d: WsDecoder::new(WsConfig::default()),
                out: Vec::new(),
                t: 0,
            }
        }

        /// A session through its handshake; `extensions` is the server's
        /// Sec-WebSocket-Extensions answer.
        fn open(extensions: Option<&str>) -> Self {
            let mut s = Session::new();
            let offer = if extensions.is_some() {
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            } else {
                ""
            };
            s.send(true, format!("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n").as_bytes());
            let ext = extensions
                .map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n"))
                .unwrap_or_default();
            s.send(false, format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n{ext}\r\n").as_bytes());
            assert!(s.rules().is_empty(), "{:?}", s.rules());
            s
        }

        fn send(&mut self, from_client: bool, bytes: &[u8]) -> Interest {
            self.t += 1_000_000;
            self.d
                .data(&ctx(), from_client, Timestamp(self.t), bytes, &mut self.out)
        }

        fn end(&mut self) {
            self.d.end(&ctx(), Timestamp(self.t), &mut self.out);
        }

        fn rules(&self) -> Vec<&'static str> {
            self.out
                .iter()
                .filter_map(|r| match r {
                    Record::WsViolation(v) => Some(v.rule),
                    _ => None,
                })
                .collect()
        }

        fn frames(&self) -> Vec<&WsFrame> {
            self.out
                .iter()
                .filter_map(|r| match r {
                    Record::WsFrame(f) => Some(&**f),
                    _ => None,
                })
                .collect()
        }

        fn messages(&self) -> Vec<&WsMessage> {
            self.out
                .iter()
                .filter_map(|r| match r {
                    Record::WsMessage(m) => Some(&**m),
                    _ => None,
                })
                .collect()
        }

        fn upgrade(&self) -> &WsUpgrade {
            self.out
                .iter()
                .find_map(|r| match r {
                    Record::WsUpgrade(u) => Some(&**u),
                    _ => None,
                })
                .expect("no ws_upgrade")
        }
    }

    /// Sends `bad` on a fresh session and expects exactly `rule`; sends
    /// `good` on another and expects no violation.
    /// Without per-frame records (`-q`) common frames take a shortcut; the
    /// session's totals and violations must not notice.
    #[test]
    fn quiet_sessions_count_what_full_ones_do() {
        let long: Vec<u8> = (0..300).map(|i| b'a' + (i % 26) as u8).collect();
        let mut two = client(0x81, b"one");
        two.extend(client(0x82, &[0xff; 40]));
        let split = server(0x81, &long);
        let mut nonminimal = vec![0x81, 0x7e, 0x00, 0x03];
        nonminimal.extend_from_slice(b"abc");
        let sends: Vec<(bool, Vec<u8>)> = vec![
            (true, client(0x81, b"hello")),
            (true, client(0x81, "h\u{e9}llo w\u{f6}rld".as_bytes())),
            (true, client(0x81, &[b'a', 0xff, b'b'])),
            (false, server(0x81, &long)),
            (false, server(0x82, &[0x80; 20])),
            (true, two),
            (false, split[..50].to_vec()),
            (false, split[50..].to_vec()),
            (false, nonminimal),
            (true, server(0x81, b"unmasked")),
            (false, client(0x81, b"masked")),
            (true, client(0x01, b"frag")),
            (true, client(0x89, b"ping")),
            (true, client(0x80, b"ment")),
            (false, server(0xc1, b"rsv1")),
            (true, client(0x88, &1000u16.to_be_bytes())),
            (true, client(0x81, b"after close")),
        ];
        // With notes: each send as one packet, with the note the source
        // would have made of it.
        let totals = |events: bool, noted: bool| {
            let mut s = Session::open(None);
            s.d.cfg.events = events;
            for (from_client, bytes) in &sends {
                let note = ws::frame_run(bytes).map_or(0, ws::FrameRun::to_note);
                if noted && note != 0 {
                    s.t += 1_000_000;
                    let ts = Timestamp(s.t);
                    s.d.data_noted(&ctx(), *from_client, ts, bytes, note, &mut s.out);
                } else {
                    s.send(*from_client, bytes);
                }
            }
            s.end();
            let w = s
                .out
                .iter()
                .find_map(|r| match r {
                    Record::WsSession(w) => Some(w.clone()),
                    _ => None,
                })
                .expect("no ws_session");
            (w.client, w.server, w.violations, s.rules())
        };
        let full = totals(true, false);
        for quiet in [
            totals(false, false),
            totals(false, true),
            totals(true, true),
        ] {
            assert_eq!(full.0, quiet.0);
            assert_eq!(full.1, quiet.1);
            assert_eq!(full.2, quiet.2);
        }
        // Seven sends are runs: four taken as such, and three a session must
        // refuse (masking for the wrong side, twice, and data after close).
        let runs = sends
            .iter()
            .filter(|(_, b)| ws::frame_run(b).is_some())
            .count();
        assert_eq!(runs, 7);
        assert_eq!((full.0.frames, full.0.messages), (11, 8));
        assert_eq!((full.1.frames, full.1.wire_bytes), (6, 633));
        assert_eq!(
            full.3,
            [
                "invalid-utf8-text",
                "non-minimal-length",
                "client-frame-unmasked",
                "server-frame-masked",
                "rsv-bits-without-extension",
                "data-after-close"
            ]
        );
        assert_eq!(full.2, 6);
    }

    fn rule_case(rule: &str, from_client: bool, ext: Option<&str>, bad: &[u8], good: &[u8]) {
        let mut s = Session::open(ext);
        s.send(from_client, bad);
        assert_eq!(s.rules(), vec![rule], "bad case of {rule}");
        let mut s = Session::open(ext);
        s.send(from_client, good);
        assert_eq!(s.rules(), Vec::<&str>::new(), "good case of {rule}");
    }

    const DEFLATE: Option<&str> = Some("permessage-deflate");

    #[test]
    fn masking_rules() {
        rule_case(
            "client-frame-unmasked",
            true,
            None,
            &server(0x81, b"hi"),
            &client(0x81, b"hi"),
        );
        rule_case(
            "server-frame-masked",
            false,
            None,
            &client(0x81, b"hi"),
            &server(0x81, b"hi"),
        );
    }

    #[test]
    fn control_frame_rules() {
        rule_case(
            "control-frame-too-long",
            false,
            None,
            &server(0x89, &[b'p'; 126]),
            &server(0x89, &[b'p'; 125]),
        );
        rule_case(
            "control-frame-fragmented",
            false,
            None,
            &server(0x09, b"p"),
            &server(0x89, b"p"),
        );
    }

    #[test]
    fn rsv_and_compression_rules() {
        rule_case(
            "rsv-bits-without-extension",
            false,
            None,
            &server(0xc1, b"x"),
            &server(0x81, b"x"),
        );
        rule_case(
            "rsv-bits-without-extension",
            false,
            DEFLATE,
            &server(0xa1, b"x"),
            &server(0x81, b"x"),
        );
        rule_case(
            "rsv-bits-without-extension",
            false,
            DEFLATE,
            &server(0x91, b"x"),
            &server(0x81, b"x"),
        );
        rule_case(
            "compressed-control-frame",
            false,
            DEFLATE,
            &server(0xc9, b""),
            &server(0x89, b""),
        );
        // "Hello" compressed (RFC 7692 §7.2.3.1) in two frames; RSV1 only on the first.
        let hel = [0xf2, 0x48, 0xcd];
        let lo = [0xc9, 0xc9, 0x07, 0x00];
        let bad = [server(0x41, &hel), server(0xc0, &lo)].concat();
        let good = [server(0x41, &hel), server(0x80, &lo)].concat();
        rule_case("rsv1-on-continuation", false, DEFLATE, &bad, &good);
        let mut s = Session::open(DEFLATE);
        s.send(false, &good);
        let m = s.messages()[0];
        assert_eq!(
            (m.text.as_deref(), m.frames, m.compressed, m.wire_len),
            (Some("Hello"), 2, true, 7)
        );
    }

    #[test]
    fn opcode_and_fragmentation_rules() {
        rule_case(
            "reserved-opcode",
            false,
            None,
            &server(0x83, b"?"),
            &server(0x82, b"?"),
        );
        rule_case(
            "reserved-opcode",
            false,
            None,
            &server(0x8b, b""),
            &server(0x8a, b""),
        );
        rule_case(
            "continuation-without-start",
            false,
            None,
            &server(0x80, b"x"),
            &[server(0x01, b"a"), server(0x80, b"x")].concat(),
        );
        rule_case(
            "new-message-during-fragmented",
            false,
            None,
            &[server(0x01, b"a"), server(0x81, b"b")].concat(),
            // A ping may come between fragments.
            &[server(0x01, b"a"), server(0x89, b""), server(0x80, b"b")].concat(),
        );
    }

    #[test]
    fn utf8_rules() {
        rule_case(
            "invalid-utf8-text",
            false,
            None,
            &server(0x81, b"\xce\xba\xff"),
            &server(0x81, "κ".as_bytes()),
        );
        // A character cut at the end of the message.
        rule_case(
            "invalid-utf8-text",
            false,
            None,
            &server(0x81, b"ab\xe2\x82"),
            &server(0x81, "ab€".as_bytes()),
        );
        // A character split across two frames is fine.
        rule_case(
            "invalid-utf8-text",
            false,
            None,
            &[server(0x01, b"\xe2\x82"), server(0x80, b"\xff")].concat(),
            &[server(0x01, b"\xe2\x82"), server(0x80, b"\xac")].concat(),
        );
        // Binary payload is not text.
        let mut s = Session::open(None);
        s.send(false, &server(0x82, b"\xff\xfe"));
        assert!(s.rules().is_empty());
    }

    #[test]
    fn close_rules() {
        let close =
            |code: u16, reason: &[u8]| server(0x88, &[&code.to_be_bytes()[..], reason].concat());
        rule_case(
            "close-payload-too-short",
            false,
            None,
            &server(0x88, &[0x03]),
            &server(0x88, b""),
        );
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            rule_case(
                "invalid-close-code",
                false,
                None,
                &close(bad, b""),
                &close(1000, b""),
            );
        }
        for good in [1001, 1011, 1014, 3000, 4999] {
            let mut s = Session::open(None);
            s.send(false, &close(good, b"ok"));
            assert!(s.rules().is_empty(), "{good}");
        }
        rule_case(
            "invalid-utf8-close-reason",
            false,
            None,
            &close(1000, b"\xc0\xaf"),
            &close(1000, "bye ✓".as_bytes()),
        );
        rule_case(
            "data-after-close",
            false,
            None,
            &[close(1000, b""), server(0x81, b"late")].concat(),
            &[server(0x81, b"early"), close(1000, b"")].concat(),
        );
        let mut s = Session::open(None);
        s.send(false, &close(4000, b"custom"));
        let f = s.frames()[0];
        assert_eq!(
            (f.close_code, f.close_reason.as_deref()),
            (Some(4000), Some("custom"))
        );
        s.send(true, &client(0x88, b""));
        let f = s.frames()[1];
        assert_eq!(
            (f.close_code, f.close_reason.as_deref()),
            (None, None),
            "an empty close"
        );
    }

    #[test]
    fn length_rules() {
        // 5 bytes written with a 16-bit length; then with a 64-bit one.
        let bad16 = [&[0x82, 0x7e, 0, 5][..], b"abcde"].concat();
        let bad64 = [&[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 5][..], b"abcde"].concat();
        rule_case(
            "non-minimal-length",
            false,
            None,
            &bad16,
            &server(0x82, b"abcde"),
        );
        rule_case(
            "non-minimal-length",
            false,
            None,
            &bad64,
            &server(0x82, &[0; 200]),
        );
        let top = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        rule_case(
            "length-top-bit-set",
            false,
            None,
            &top,
            &server(0x82, &[0; 70_000]),
        );
    }

    #[test]
    fn handshake_rules() {
        // A wrong accept.
        let mut s = Session::new();
        s.send(true, format!("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\r\n").as_bytes());
        s.send(false, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n");
        assert_eq!(s.rules(), vec!["bad-accept"]);
        assert_eq!(s.upgrade().accept_valid, Some(false));
        // A subprotocol and an extension nobody offered.
        let mut s = Session::new();
        s.send(true, format!("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Protocol: a, b\r\n\r\n").as_bytes());
        s.send(false, format!("HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Protocol: c\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n").as_bytes());
        assert_eq!(
            s.rules(),
            vec!["subprotocol-not-offered", "extension-not-offered"]
        );
        // Offered and chosen: fine, and permessage-deflate's parameters are read.
        let s = Session::open(Some(
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        ));
        assert_eq!(s.upgrade().accept_valid, Some(true));
        let p = s.d.deflate.unwrap();
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!(p.client_max_window_bits, 10);
    }

    #[test]
    fn failed_upgrade_is_not_decoded() {
        let req = format!("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\r\n");
        // The body is allowed, anything after it is reported and not decoded.
        let mut s = Session::new();
        s.send(true, req.as_bytes());
        s.send(
            false,
            &[
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope".as_slice(),
                &server(0x81, b"sneaky"),
            ]
            .concat(),
        );
        assert_eq!(s.upgrade().status, Some(403));
        assert_eq!(s.upgrade().accept_valid, None);
        assert_eq!(s.rules(), vec!["frames-after-failed-upgrade"]);
        assert!(s.frames().is_empty());
        // The same with only the body: nothing to report; a new request from
        // the client (keep-alive) is not a frame either.
        let mut s = Session::new();
        s.send(true, req.as_bytes());
        s.send(
            false,
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 4\r\n\r\nnope",
        );
        s.send(true, b"GET /again HTTP/1.1\r\n\r\n");
        assert!(s.rules().is_empty());
        // Client frames after a 403.
        let mut s = Session::new();
        s.send(true, req.as_bytes());
        s.send(
            false,
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        );
        s.send(true, &client(0x81, b"let me in"));
        assert_eq!(s.rules(), vec!["frames-after-failed-upgrade"]);
        s.end();
        let session = s
            .out
            .iter()
            .find_map(|r| {
                if let Record::WsSession(w) = r {
                    Some(w)
                } else {
                    None
                }
            })
            .unwrap();
        assert_eq!((session.status, session.client.frames), (Some(403), 0));
    }

    #[test]
    fn an_ordinary_get_is_given_up() {
        let mut s = Session::new();
        assert_eq!(
            s.send(true, b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Interest::More
        );
        assert_eq!(s.send(true, b"\r\n"), Interest::Done);
        s.end();
        assert!(s.out.is_empty(), "no WebSocket records for plain HTTP");
    }

    /// Heads over 16 KiB, in pieces of any size: reported, read past to
    /// their blank line without being kept, and the frames after them
    /// decoded. Before, a long request ended decoding unseen and a long
    /// answer was reported as no answer.
    #[test]
    fn long_heads_are_reported_and_read_past() {
        let pad = format!("X-Pad: {}\r\n", "p".repeat(20_000));
        let upgrade =
            format!("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n");
        let ok = format!("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {ACCEPT}\r\n");
        for (req, resp, side) in [
            (
                format!("GET /r HTTP/1.1\r\n{pad}{upgrade}\r\n"),
                format!("{ok}\r\n"),
                Direction::Client,
            ),
            (
                format!("GET /a HTTP/1.1\r\n{upgrade}\r\n"),
                format!("{ok}{pad}\r\n"),
                Direction::Server,
            ),
        ] {
            for step in [1, 3, 1448, 65_536] {
                let mut s = Session::new();
                let most = step.max(http::MAX_HEAD + step);
                for piece in req.as_bytes().chunks(step) {
                    s.send(true, piece);
                    assert!(s.d.held_bytes() <= 2 * most, "the head is not kept");
                }
                for piece in [resp.as_bytes(), &server(0x81, b"hi")]
                    .concat()
                    .chunks(step)
                {
                    s.send(false, piece);
                    assert!(s.d.held_bytes() <= 2 * most);
                }
                s.send(true, &client(0x81, b"hello"));
                s.end();
                assert_eq!(s.rules(), ["head-too-long"], "step {step}");
                let v = s.out.iter().find_map(|r| match r {
                    Record::WsViolation(v) => Some(v.direction),
                    _ => None,
                });
                assert_eq!(v, Some(side));
                assert_eq!(s.upgrade().status, Some(101));
                let texts: Vec<_> = s.messages().iter().map(|m| m.text.clone()).collect();
                assert_eq!(
                    texts,
                    [Some("hi".into()), Some("hello".into())],
                    "step {step}"
                );
            }
        }
    }

    /// Told to shed (memory is short), the decoder holds nothing after it,
    /// in every phase, and goes on where it can.
    #[test]
    fn shedding_drops_every_buffer() {
        // A partial request head: cannot go on.
        let mut s = Session::new();
        s.send(true, b"GET /x HTTP/1.1\r\nHost: a\r\n");
        assert!(s.d.held_bytes() > 0);
        assert_eq!(s.d.shed(&ctx(), Timestamp(0), &mut s.out), Interest::Done);
        assert_eq!(s.d.held_bytes(), 0);
        // A partial answer: what was read of it stands for it.
        let mut s = Session::new();
        s.send(true, format!("GET /x HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\r\n").as_bytes());
        s.send(
            false,
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {ACCEPT}\r\nX-Long: a"
            )
            .as_bytes(),
        );
        assert_eq!(s.d.shed(&ctx(), Timestamp(0), &mut s.out), Interest::More);
        assert_eq!(s.d.held_bytes(), 0);
        s.send(
            false,
            &[b"aaaa\r\n\r\n".as_slice(), &server(0x81, b"hi")].concat(),
        );
        assert_eq!(s.upgrade().status, Some(101));
        assert_eq!(s.messages().len(), 1);
        // A control frame cut across segments: reported incomplete.
        let mut s = Session::open(None);
        let ping = client(0x89, b"are you there");
        s.send(true, &ping[..8]);
        assert!(s.d.held_bytes() > 0);
        assert_eq!(s.d.shed(&ctx(), Timestamp(0), &mut s.out), Interest::More);
        assert_eq!(s.d.held_bytes(), 0);
        s.send(true, &ping[8..]);
        s.send(true, &client(0x81, b"after"));
        let f = s.frames();
        assert_eq!((f[0].opcode_name, f[0].incomplete), ("ping", true));
        assert_eq!(s.messages().len(), 1);
        assert_eq!(s.d.held_bytes(), 0, "a whole control frame is not kept");
    }

    #[test]
    fn heads_and_frames_split_anywhere() {
        let req = format!("GET /x HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\r\n");
        let resp = [
            format!("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n")
                .as_bytes(),
            &server(0x89, b"coalesced"),
        ]
        .concat();
        let frames = [
            client(0x81, &[b'a'; 300]),
            client(0x01, b"frag "),
            client(0x8a, b""),
            client(0x80, "ment ✓".as_bytes()),
            client(0x88, &1000u16.to_be_bytes()),
        ]
        .concat();
        for step in [1, 2, 3, 7, 13, 100] {
            let mut s = Session::new();
            for c in req.as_bytes().chunks(step) {
                s.send(true, c);
            }
            for c in resp.chunks(step) {
                s.send(false, c);
            }
            for c in frames.chunks(step) {
                s.send(true, c);
            }
            s.end();
            assert!(s.rules().is_empty(), "step {step}: {:?}", s.rules());
            let names: Vec<_> = s
                .frames()
                .iter()
                .map(|f| (f.opcode_name, f.payload_len))
                .collect();
            assert_eq!(
                names,
                [
                    ("ping", 9),
                    ("text", 300),
                    ("text", 5),
                    ("pong", 0),
                    ("continuation", 8),
                    ("close", 2)
                ],
                "step {step}"
            );
            let m = s.messages();
            assert_eq!(m.len(), 2);
            assert_eq!(
                (m[1].text.as_deref(), m[1].frames),
                (Some("frag ment ✓"), 2)
            );
            assert_eq!(s.frames()[0].control_payload.as_deref(), Some("coalesced"));
        }
    }

    #[test]
    fn gaps_inside_a_payload_resync_elsewhere_stop() {
        let mut s = Session::open(None);
        let big = server(0x81, &[b'x'; 1000]);
        s.send(false, &big[..500]);
        s.d.gap(&ctx(), false, Timestamp(9), 100, &mut s.out);
        s.send(false, &big[600..]);
        s.send(false, &server(0x81, b"after"));
        let m = s.messages();
        assert_eq!((m[0].len, m[0].incomplete), (900, true));
        assert_eq!(
            (m[1].text.as_deref(), m[1].incomplete),
            (Some("after"), false)
        );
        assert!(s.frames()[0].incomplete);
        // A gap where a header was due: frame boundaries are lost.
        assert_eq!(
            s.d.gap(&ctx(), false, Timestamp(9), 10, &mut s.out),
            Interest::More
        );
        s.send(false, &server(0x81, b"lost"));
        assert_eq!(s.messages().len(), 2);
        // The client side still decodes; when it is lost too, the decoder is done.
        s.send(true, &client(0x81, b"still here"));
        assert_eq!(s.messages().len(), 3);
        assert_eq!(
            s.d.gap(&ctx(), true, Timestamp(9), 10, &mut s.out),
            Interest::Done
        );
    }

    #[test]
    fn capture_ends_mid_frame() {
        let mut s = Session::open(None);
        s.send(false, &server(0x82, &[0; 1000])[..300]);
        s.end();
        let f = s.frames()[0];
        assert!(f.incomplete && f.payload_len == 1000);
        let m = s.messages()[0];
        assert_eq!((m.len, m.incomplete), (296, true));
        assert!(s.out.iter().any(|r| matches!(r, Record::WsSession(_))));
    }

    /// What a permessage-deflate sender puts on the wire for `msg`.
    fn deflate(c: &mut Compress, msg: &[u8]) -> Vec<u8> {
        let mut out = vec![0; msg.len() + 64];
        let before = c.total_out();
        c.compress(msg, &mut out, FlushCompress::Sync).unwrap();
        out.truncate((c.total_out() - before) as usize);
        out.truncate(out.len() - 4);
        out
    }

    #[test]
    fn deflate_context_takeover_and_limits() {
        let text = "the same words, the same words again and again";
        // Context kept: the second message refers back to the first.
        let mut c = Compress::new_with_window_bits(Compression::default(), false, 15);
        let (a, b) = (
            deflate(&mut c, text.as_bytes()),
            deflate(&mut c, text.as_bytes()),
        );
        let mut s = Session::open(DEFLATE);
        s.send(false, &[server(0xc1, &a), server(0xc1, &b)].concat());
        let m = s.messages();
        assert_eq!((m[1].text.as_deref(), m[1].incomplete), (Some(text), false));
        // The server promised no context takeover and broke it.
        let mut s = Session::open(Some("permessage-deflate; server_no_context_takeover"));
        s.send(false, &[server(0xc1, &a), server(0xc1, &b)].concat());
        assert_eq!(s.rules(), vec!["inflate-failed"]);
        // Kept: a message compressed without takeover inflates either way.
        let mut c = Compress::new_with_window_bits(Compression::default(), false, 15);
        let a2 = deflate(&mut c, text.as_bytes());
        let mut s = Session::open(Some("permessage-deflate; server_no_context_takeover"));
        s.send(false, &[server(0xc1, &a), server(0xc1, &a2)].concat());
        assert!(s.rules().is_empty());
        // A decompression bomb.
        let mut c = Compress::new_with_window_bits(Compression::best(), false, 15);
        let bomb = deflate(&mut c, &vec![b'0'; 64 << 20]);
        let mut s = Session::open(DEFLATE);
        s.send(false, &server(0xc1, &bomb));
        assert_eq!(s.rules(), vec!["decompressed-too-big"]);
        let m = s.messages()[0];
        assert!(m.incomplete && m.len <= WsConfig::default().max_inflated);
        // Garbage.
        rule_case(
            "inflate-failed",
            false,
            DEFLATE,
            &server(0xc1, &[0xff; 8]),
            &server(0xc1, &a),
        );
    }

    #[test]
    fn every_rule_is_listed_once() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.0).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        assert!(ids.iter().all(|id| id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())));
    }
}
