//! HTTP/1.x wire formats: request and response heads (parsed with
//! httparse), what they say about the body that follows (RFC 9112 §6), the
//! chunked transfer coding as a streaming state machine (RFC 9112 §7.1),
//! and the WebSocket opening handshake's accept value (RFC 6455 §4).

use std::borrow::Cow;
use std::mem::MaybeUninit;

use base64::Engine;
use sha1::{Digest, Sha1};

/// Largest request or response head accepted (headers included).
pub const MAX_HEAD: usize = 16 * 1024;
/// httparse needs a fixed number of header slots.
const MAX_HEADERS: usize = 64;
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub http_minor: u8,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub key: Option<String>,
    pub version: Option<String>,
    pub protocols: Option<String>,
    pub extensions: Option<String>,
    /// `Upgrade: websocket` and `Connection: upgrade` both present.
    pub wants_websocket: bool,
    /// Content-Length (None when absent or not a number).
    pub content_length: Option<u64>,
    /// Transfer-Encoding as sent.
    pub transfer_encoding: Option<String>,
    pub content_type: Option<String>,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub accept: Option<String>,
    pub protocol: Option<String>,
    pub extensions: Option<String>,
    pub upgrade_websocket: bool,
    pub content_length: Option<u64>,
    pub transfer_encoding: Option<String>,
    pub content_type: Option<String>,
    /// The status line's HTTP minor version (HTTP/1.0: 0).
    pub http_minor: u8,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("not HTTP: {0}")]
    NotHttp(String),
    #[error("head longer than {MAX_HEAD} bytes")]
    TooLong,
}

/// The headers a head is read for, found in one pass over its headers
/// (each index in [`NAMES`]); repeated ones are joined with ", " (RFC 9110
/// §5.3), which allocates only then.
#[derive(Default)]
struct Found<'h> {
    first: [Option<&'h [u8]>; NAMES.len()],
    /// Joined values of the repeated headers (rare): index, value.
    joined: Vec<(usize, String)>,
}

const NAMES: [&str; 13] = [
    "host",
    "origin",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "upgrade",
    "connection",
    "content-length",
    "transfer-encoding",
    "content-type",
    "expect",
    "sec-websocket-accept",
];
const HOST: usize = 0;
const ORIGIN: usize = 1;
const WS_KEY: usize = 2;
const WS_VERSION: usize = 3;
const WS_PROTOCOL: usize = 4;
const WS_EXTENSIONS: usize = 5;
const UPGRADE: usize = 6;
const CONNECTION: usize = 7;
const CONTENT_LENGTH: usize = 8;
const TRANSFER_ENCODING: usize = 9;
const CONTENT_TYPE: usize = 10;
const EXPECT: usize = 11;
const WS_ACCEPT: usize = 12;

/// The index in [`NAMES`] of a header name, any case. Most headers of a
/// head are none of them: the length alone rules out most, so at most two
/// names are compared.
fn name_index(name: &str) -> Option<usize> {
    let candidates: &[usize] = match name.len() {
        4 => &[HOST],
        6 => &[ORIGIN, EXPECT],
        7 => &[UPGRADE],
        10 => &[CONNECTION],
        12 => &[CONTENT_TYPE],
        14 => &[CONTENT_LENGTH],
        17 => &[WS_KEY, TRANSFER_ENCODING],
        20 => &[WS_ACCEPT],
        21 => &[WS_VERSION],
        22 => &[WS_PROTOCOL],
        24 => &[WS_EXTENSIONS],
        _ => return None,
    };
    candidates
        .iter()
        .copied()
        .find(|&i| NAMES[i].eq_ignore_ascii_case(name))
}

/// A header value as text, trimmed; borrowed unless it is not UTF-8.
fn text(v: &[u8]) -> Cow<'_, str> {
    match String::from_utf8_lossy(v) {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
    }
}

impl<'h> Found<'h> {
    fn of(headers: &[httparse::Header<'h>]) -> Found<'h> {
        let mut f = Found::default();
        for h in headers {
            let Some(i) = name_index(h.name) else {
                continue;
            };
            match f.first[i] {
                None => f.first[i] = Some(h.value),
                Some(first) => {
                    let at = match f.joined.iter().position(|(j, _)| *j == i) {
                        Some(at) => at,
                        None => {
                            f.joined.push((i, text(first).into_owned()));
                            f.joined.len() - 1
                        }
                    };
                    let j = &mut f.joined[at].1;
                    j.push_str(", ");
                    j.push_str(&text(h.value));
                }
            }
        }
        f
    }

    fn value(&self, i: usize) -> Option<Cow<'_, str>> {
        if let Some((_, j)) = self.joined.iter().find(|(k, _)| *k == i) {
            return Some(Cow::Borrowed(j.as_str()));
        }
        self.first[i].map(text)
    }

    fn get(&self, i: usize) -> Option<String> {
        self.value(i).map(Cow::into_owned)
    }

    fn has_token(&self, i: usize, token: &str) -> bool {
        has_token(self.value(i).as_deref(), token)
    }

    /// Content-Length: repeated identical values are one (RFC 9112 §6.3
    /// rule 5); differing ones, or anything not a number, are none.
    fn content_length(&self) -> Option<u64> {
        let v = self.value(CONTENT_LENGTH)?;
        let mut values = v.split(',').map(|x| x.trim().parse::<u64>());
        let first = values.next()?.ok()?;
        values.all(|x| x == Ok(first)).then_some(first)
    }
}

/// Whether a comma-separated header value contains `token` (case-insensitive).
pub fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// A request head as read, borrowing the buffer: what the exchange decoder
/// needs of every request, without copying anything out of it.
pub struct RequestHead<'b> {
    pub method: &'b str,
    pub target: &'b str,
    pub http_minor: u8,
    /// `Upgrade: websocket` and `Connection: upgrade` both present.
    pub wants_websocket: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    pub content_length: Option<u64>,
    found: Found<'b>,
}

impl<'b> RequestHead<'b> {
    pub fn host(&self) -> Option<Cow<'_, str>> {
        self.found.value(HOST)
    }

    pub fn transfer_encoding(&self) -> Option<Cow<'_, str>> {
        self.found.value(TRANSFER_ENCODING)
    }

    /// A request has a body only when it says so (RFC 9112 §6.3 rules 4-6).
    pub fn body(&self) -> BodyFraming {
        request_body(self.transfer_encoding().as_deref(), self.content_length)
    }

    /// The owned form (what the WebSocket decoder keeps of a request).
    pub fn to_request(&self) -> Request {
        let f = &self.found;
        // The WebSocket headers matter only to an upgrade request.
        let ws = |i| if self.wants_websocket { f.get(i) } else { None };
        Request {
            method: self.method.to_string(),
            target: self.target.to_string(),
            http_minor: self.http_minor,
            host: f.get(HOST),
            origin: ws(ORIGIN),
            key: ws(WS_KEY),
            version: ws(WS_VERSION),
            protocols: ws(WS_PROTOCOL),
            extensions: ws(WS_EXTENSIONS),
            wants_websocket: self.wants_websocket,
            content_length: self.content_length,
            transfer_encoding: f.get(TRANSFER_ENCODING),
            content_type: f.get(CONTENT_TYPE),
            expect_continue: self.expect_continue,
        }
    }
}

/// Parses a request head from the start of `buf` without copying it.
/// `Ok(None)`: incomplete.
pub fn parse_request_head(buf: &[u8]) -> Result<Option<(RequestHead<'_>, usize)>, HeadError> {
    // Uninitialised slots: initialising 64 of them (2 KiB) cost more than
    // reading a small head.
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => {
            let found = Found::of(req.headers);
            let head = RequestHead {
                method: req.method.unwrap_or(""),
                target: req.path.unwrap_or(""),
                http_minor: req.version.unwrap_or(0),
                wants_websocket: found.has_token(UPGRADE, "websocket")
                    && found.has_token(CONNECTION, "upgrade"),
                expect_continue: found.has_token(EXPECT, "100-continue"),
                content_length: found.content_length(),
                found,
            };
            Ok(Some((head, n)))
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Err(HeadError::TooLong),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(HeadError::NotHttp(e.to_string())),
    }
}

/// Parses a request head from the start of `buf`. `Ok(None)`: incomplete.
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, HeadError> {
    Ok(parse_request_head(buf)?.map(|(h, n)| (h.to_request(), n)))
}

/// Whether the request head at the start of `buf` asks for a WebSocket
/// upgrade, without copying anything out of it: `None` when the head is not
/// complete yet (or not HTTP).
pub fn request_wants_websocket(buf: &[u8]) -> Option<bool> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {
            let has = |name: &str, token: &str| {
                req.headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case(name))
                    .any(|h| std::str::from_utf8(h.value).is_ok_and(|v| has_token(Some(v), token)))
            };
            Some(has("upgrade", "websocket") && has("connection", "upgrade"))
        }
        _ => None,
    }
}

/// A response head as read, borrowing the buffer.
pub struct ResponseHead<'b> {
    pub status: u16,
    pub reason: &'b str,
    /// The status line's HTTP minor version (HTTP/1.0: 0).
    pub http_minor: u8,
    pub content_length: Option<u64>,
    found: Found<'b>,
}

impl<'b> ResponseHead<'b> {
    pub fn content_type(&self) -> Option<Cow<'_, str>> {
        self.found.value(CONTENT_TYPE)
    }

    pub fn transfer_encoding(&self) -> Option<Cow<'_, str>> {
        self.found.value(TRANSFER_ENCODING)
    }

    /// The body of this answer to a `method` request (RFC 9112 §6.3).
    pub fn body(&self, method: &str) -> BodyFraming {
        response_body(
            self.status,
            self.transfer_encoding().as_deref(),
            self.content_length,
            method,
        )
    }

    /// The owned form (what the WebSocket decoder keeps of an answer).
    pub fn to_response(&self) -> Response {
        let f = &self.found;
        let ws = |i| if self.status == 101 { f.get(i) } else { None };
        Response {
            status: self.status,
            reason: self.reason.to_string(),
            accept: ws(WS_ACCEPT),
            protocol: ws(WS_PROTOCOL),
            extensions: ws(WS_EXTENSIONS),
            upgrade_websocket: f.has_token(UPGRADE, "websocket"),
            content_length: self.content_length,
            transfer_encoding: f.get(TRANSFER_ENCODING),
            content_type: f.get(CONTENT_TYPE),
            http_minor: self.http_minor,
        }
    }
}

/// Parses a response head from the start of `buf` without copying it.
/// `Ok(None)`: incomplete.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<(ResponseHead<'_>, usize)>, HeadError> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut headers,
    );
    match parsed {
        Ok(httparse::Status::Complete(n)) => {
            let found = Found::of(resp.headers);
            let head = ResponseHead {
                status: resp.code.unwrap_or(0),
                reason: resp.reason.unwrap_or(""),
                http_minor: resp.version.unwrap_or(1),
                content_length: found.content_length(),
                found,
            };
            Ok(Some((head, n)))
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Err(HeadError::TooLong),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(HeadError::NotHttp(e.to_string())),
    }
}

/// Parses a response head from the start of `buf`. `Ok(None)`: incomplete.
pub fn parse_response(buf: &[u8]) -> Result<Option<(Response, usize)>, HeadError> {
    Ok(parse_response_head(buf)?.map(|(h, n)| (h.to_response(), n)))
}

/// Whether a head in `buf` may have ended in the bytes from `from` on (a
/// blank line, CRLF CRLF or LF LF, reaching into them): when not, parsing
/// it again would only say "incomplete" again.
pub fn may_end_head(buf: &[u8], from: usize) -> bool {
    let tail = &buf[from.saturating_sub(3).min(buf.len())..];
    tail.windows(2)
        .enumerate()
        .any(|(i, w)| w == b"\n\n" || (w == b"\r\n" && i >= 1 && tail[i - 1] == b'\n'))
}

/// The readable start of a head longer than [`MAX_HEAD`]: its first
/// [`MAX_HEAD`] bytes up to the last whole line (and at most
/// [`MAX_HEADERS`] header lines), closed by a blank line.
fn cut_head(buf: &[u8]) -> Vec<u8> {
    let part = &buf[..buf.len().min(MAX_HEAD)];
    let mut end = 0;
    for (lines, (i, _)) in part
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .enumerate()
    {
        if lines > MAX_HEADERS {
            break;
        }
        end = i + 1;
    }
    let mut v = part[..end].to_vec();
    v.extend_from_slice(b"\r\n");
    v
}

/// What the first [`MAX_HEAD`] bytes of an over-long request head say: its
/// request line and the header lines among them. A request line that is
/// itself too long gives its method and the start of its target. `None`:
/// not HTTP.
pub fn parse_request_prefix(buf: &[u8]) -> Option<Request> {
    if let Ok(Some((r, _))) = parse_request(&cut_head(buf)) {
        return Some(r);
    }
    let part = &buf[..buf.len().min(MAX_HEAD)];
    let sp = part.iter().position(|&b| b == b' ')?;
    let method = &part[..sp];
    if method.is_empty() || !method.iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let target = &part[sp + 1..];
    let target = &target[..target.len().min(256)];
    Some(Request {
        method: String::from_utf8_lossy(method).into_owned(),
        target: format!("{}…", String::from_utf8_lossy(target)),
        http_minor: 1,
        ..Request::default()
    })
}

/// What the first [`MAX_HEAD`] bytes of an over-long response head say
/// (status line and the header lines among them). `None`: its status line
/// is not among them, or it is not HTTP.
pub fn parse_response_prefix(buf: &[u8]) -> Option<Response> {
    match parse_response(&cut_head(buf)) {
        Ok(Some((r, _))) => Some(r),
        _ => None,
    }
}

/// How a message's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// Whether the last coding of a Transfer-Encoding value is `chunked`.
fn last_coding_is_chunked(te: Option<&str>) -> bool {
    te.and_then(|v| v.rsplit(',').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
}

/// A request has a body only when it says so (RFC 9112 §6.3 rules 4-6).
fn request_body(transfer_encoding: Option<&str>, content_length: Option<u64>) -> BodyFraming {
    if transfer_encoding.is_some() {
        // Not chunked last: the length cannot be known (rule 4); read
        // as chunked anyway is wrong, so the exchange stops being read.
        return if last_coding_is_chunked(transfer_encoding) {
            BodyFraming::Chunked
        } else {
            BodyFraming::Close
        };
    }
    match content_length {
        Some(0) | None => BodyFraming::None,
        Some(n) => BodyFraming::Length(n),
    }
}

/// The body of a `status` answer to a `method` request (RFC 9112 §6.3
/// rules 1-3, 4, 5, 7).
fn response_body(
    status: u16,
    transfer_encoding: Option<&str>,
    content_length: Option<u64>,
    method: &str,
) -> BodyFraming {
    if method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
    {
        return BodyFraming::None;
    }
    if method.eq_ignore_ascii_case("CONNECT") && (200..300).contains(&status) {
        // A tunnel: what follows is not HTTP.
        return BodyFraming::Close;
    }
    if transfer_encoding.is_some() {
        return if last_coding_is_chunked(transfer_encoding) {
            BodyFraming::Chunked
        } else {
            BodyFraming::Close
        };
    }
    match content_length {
        Some(0) => BodyFraming::None,
        Some(n) => BodyFraming::Length(n),
        None => BodyFraming::Close,
    }
}

impl Request {
    /// A request has a body only when it says so (RFC 9112 §6.3 rules 4-6).
    pub fn body(&self) -> BodyFraming {
        request_body(self.transfer_encoding.as_deref(), self.content_length)
    }
}

impl Response {
    /// The body of this answer to a `method` request (RFC 9112 §6.3
    /// rules 1-3, 4, 5, 7).
    pub fn body(&self, method: &str) -> BodyFraming {
        response_body(
            self.status,
            self.transfer_encoding.as_deref(),
            self.content_length,
            method,
        )
    }
}

/// Longest chunk-size line (size, extensions) or trailer line read; a
/// longer one is an error, not a buffer.
pub const MAX_CHUNK_LINE: u64 = 4096;

/// Where a [`Chunked`] body stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex size (`digits` so far).
    Size {
        digits: u32,
    },
    /// After the size: extensions up to the line's end.
    Ext,
    /// Expecting LF after CR of the size line.
    SizeLf,
    /// Data bytes still to come in this chunk.
    Data(u64),
    /// CRLF after a chunk's data (`1`: CR seen).
    DataEnd(u8),
    /// Trailer section: at the start of a line (`true`) or inside one.
    Trailer {
        line_start: bool,
        cr: bool,
    },
    Done,
}

/// What a step of [`Chunked::feed`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkEvent {
    /// A chunk header with a non-zero size was read.
    ChunkStart,
    /// Data of the current chunk: the range of the input.
    Data(usize, usize),
    /// The last chunk and trailers were read; the body ended this many
    /// bytes into the input.
    End(usize),
}

/// The chunked transfer coding (RFC 9112 §7.1), read as bytes arrive in any
/// pieces, without copying: chunk sizes are parsed, extensions and trailers
/// skipped, data handed out as ranges of the input.
#[derive(Clone, Copy, Debug)]
pub struct Chunked {
    state: ChunkState,
    size: u64,
    /// Bytes of the current size or trailer line.
    line: u64,
}

/// A chunked body that breaks the coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk size is not hexadecimal")]
    BadSize,
    #[error("chunk size too large")]
    SizeOverflow,
    #[error("chunk line longer than {MAX_CHUNK_LINE} bytes")]
    LineTooLong,
    #[error("chunk data not followed by CRLF")]
    BadDataEnd,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: ChunkState::Size { digits: 0 },
            size: 0,
            line: 0,
        }
    }
}

impl Chunked {
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Reads `data`, calling `on` for each event in order. Stops at the end
    /// of the body (`ChunkEvent::End`) or at an error.
    pub fn feed(&mut self, data: &[u8], mut on: impl FnMut(ChunkEvent)) -> Result<(), ChunkError> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            match self.state {
                ChunkState::Done => return Ok(()),
                ChunkState::Data(left) => {
                    let take = left.min((data.len() - i) as u64) as usize;
                    on(ChunkEvent::Data(i, i + take));
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd(0)
                    } else {
                        ChunkState::Data(left)
                    };
                    continue;
                }
                ChunkState::Size { digits } => {
                    self.line += 1;
                    if let Some(d) = (b as char).to_digit(16) {
                        if digits >= 16 {
                            return Err(ChunkError::SizeOverflow);
                        }
                        self.size = self.size << 4 | u64::from(d);
                        self.state = ChunkState::Size { digits: digits + 1 };
                    } else if digits == 0 {
                        return Err(ChunkError::BadSize);
                    } else if b == b'\r' {
                        self.state = ChunkState::SizeLf;
                    } else if b == b'\n' {
                        self.size_line_done(&mut on, i);
                    } else if b == b';' || b == b' ' || b == b'\t' {
                        self.state = ChunkState::Ext;
                    } else {
                        return Err(ChunkError::BadSize);
                    }
                }
                ChunkState::Ext => {
                    self.line += 1;
                    if b == b'\r' {
                        self.state = ChunkState::SizeLf;
                    } else if b == b'\n' {
                        self.size_line_done(&mut on, i);
                    }
                }
                ChunkState::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkError::BadSize);
                    }
                    self.size_line_done(&mut on, i);
                }
                ChunkState::DataEnd(cr) => match (cr, b) {
                    (0, b'\r') => self.state = ChunkState::DataEnd(1),
                    (_, b'\n') => {
                        self.state = ChunkState::Size { digits: 0 };
                        self.size = 0;
                        self.line = 0;
                    }
                    _ => return Err(ChunkError::BadDataEnd),
                },
                ChunkState::Trailer { line_start, cr } => {
                    self.line += 1;
                    if b == b'\n' {
                        if line_start {
                            self.state = ChunkState::Done;
                            on(ChunkEvent::End(i + 1));
                            return Ok(());
                        }
                        self.line = 0;
                        self.state = ChunkState::Trailer {
                            line_start: true,
                            cr: false,
                        };
                    } else if b == b'\r' && !cr {
                        self.state = ChunkState::Trailer {
                            line_start,
                            cr: true,
                        };
                    } else {
                        self.state = ChunkState::Trailer {
                            line_start: false,
                            cr: false,
                        };
                    }
                }
            }
            if self.line > MAX_CHUNK_LINE {
                return Err(ChunkError::LineTooLong);
            }
            i += 1;
        }
        Ok(())
    }

    fn size_line_done(&mut self, on: &mut impl FnMut(ChunkEvent), _at: usize) {
        self.line = 0;
        if self.size == 0 {
            self.state = ChunkState::Trailer {
                line_start: true,
                cr: false,
            };
        } else {
            on(ChunkEvent::ChunkStart);
            self.state = ChunkState::Data(self.size);
        }
    }
}

/// The Sec-WebSocket-Accept a server must send for `key` (RFC 6455 §4.2.2):
/// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
pub fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_found_by_length_then_name() {
        for (i, n) in NAMES.iter().enumerate() {
            assert_eq!(name_index(n), Some(i), "{n}");
            assert_eq!(name_index(&n.to_ascii_uppercase()), Some(i), "{n}");
        }
        for n in [
            "",
            "hostx",
            "hos",
            "accept",
            "content-lengt",
            "x-sec-websocket-key",
        ] {
            assert_eq!(name_index(n), None, "{n}");
        }
    }

    #[test]
    fn views_and_owned_heads_agree() {
        let req = b"POST /up?x=1 HTTP/1.0\r\nHost:  a.example \r\nContent-Length: 5\r\nContent-Length: 5\r\nX: y\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\nhello";
        let (head, n) = parse_request_head(req).unwrap().unwrap();
        assert_eq!(n, req.len() - 5);
        assert_eq!(
            (head.method, head.target, head.http_minor),
            ("POST", "/up?x=1", 0)
        );
        assert_eq!(head.host().as_deref(), Some("a.example"));
        assert_eq!(head.content_length, Some(5));
        assert_eq!(head.transfer_encoding().as_deref(), Some("gzip, chunked"));
        assert_eq!(head.body(), BodyFraming::Chunked);
        let owned = parse_request(req).unwrap().unwrap().0;
        assert_eq!(owned.body(), head.body());
        assert_eq!(owned.host.as_deref(), Some("a.example"));
        let resp =
            b"HTTP/1.1 200 Fine\r\nContent-Type: text/event-stream\r\nContent-Length: 3\r\n\r\n";
        let (head, n) = parse_response_head(resp).unwrap().unwrap();
        assert_eq!(n, resp.len());
        assert_eq!((head.status, head.reason), (200, "Fine"));
        assert_eq!(head.content_type().as_deref(), Some("text/event-stream"));
        assert_eq!(head.body("GET"), BodyFraming::Length(3));
        assert_eq!(head.body("HEAD"), BodyFraming::None);
        let owned = parse_response(resp).unwrap().unwrap().0;
        assert_eq!(owned.body("GET"), head.body("GET"));
    }

    const REQ: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\nrest";

    #[test]
    fn rfc_6455_example_request_and_accept() {
        let (r, n) = parse_request(REQ).unwrap().unwrap();
        assert_eq!(&REQ[n..], b"rest");
        assert!(r.wants_websocket, "comma list, case-insensitive");
        assert_eq!(r.target, "/chat");
        assert_eq!(r.key.as_deref(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        assert_eq!(r.protocols.as_deref(), Some("chat, superchat"));
        // The accept value given in RFC 6455 §1.3.
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn partial_heads_wait_and_garbage_is_not_http() {
        assert_eq!(parse_request(&REQ[..40]), Ok(None));
        assert!(matches!(
            parse_request(b"\x16\x03\x01\x02\x00"),
            Err(HeadError::NotHttp(_))
        ));
        let big = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(parse_request(&big), Err(HeadError::TooLong));
    }

    #[test]
    fn upgrade_check_without_copies_agrees_with_the_parser() {
        for head in [
            REQ,
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
            b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
            b"GET / HTTP/1.1\r\nUPGRADE: WebSocket\r\nconnection: upgrade\r\n\r\n",
        ] {
            let full = parse_request(head).unwrap().unwrap().0.wants_websocket;
            assert_eq!(request_wants_websocket(head), Some(full));
        }
        assert_eq!(request_wants_websocket(&REQ[..40]), None);
    }

    #[test]
    fn an_ordinary_get_is_not_an_upgrade() {
        let (r, _) = parse_request(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!r.wants_websocket);
        let (r, _) =
            parse_request(b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
                .unwrap()
                .unwrap();
        assert!(!r.wants_websocket);
    }

    /// Runs a chunked body through [`Chunked`] cut at every `step` bytes.
    fn dechunk(body: &[u8], step: usize) -> Result<(Vec<u8>, u32, Option<usize>), ChunkError> {
        let mut c = Chunked::default();
        let (mut out, mut chunks, mut end) = (Vec::new(), 0, None);
        for (k, piece) in body.chunks(step).enumerate() {
            c.feed(piece, |e| match e {
                ChunkEvent::ChunkStart => chunks += 1,
                ChunkEvent::Data(a, b) => out.extend_from_slice(&piece[a..b]),
                ChunkEvent::End(n) => end = Some(k * step + n),
            })?;
        }
        Ok((out, chunks, end))
    }

    #[test]
    fn chunked_bodies_in_any_pieces() {
        let body = b"5;ext=1\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        for step in 1..body.len() {
            let (out, chunks, end) = dechunk(body, step).unwrap();
            assert_eq!(out, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
            assert_eq!(chunks, 2);
            assert_eq!(end, Some(body.len() - 4), "step {step}");
        }
        let lf_only = b"3\nabc\n0\n\n";
        assert_eq!(dechunk(lf_only, 1).unwrap().2, Some(lf_only.len()));
        assert_eq!(dechunk(b"zz\r\n", 4), Err(ChunkError::BadSize));
        assert_eq!(
            dechunk(b"11111111111111111\r\n", 64),
            Err(ChunkError::SizeOverflow)
        );
        assert_eq!(dechunk(b"2\r\nabX", 64), Err(ChunkError::BadDataEnd));
        let long_ext = [b"1;".as_slice(), &[b'a'; 5000]].concat();
        assert_eq!(dechunk(&long_ext, 100), Err(ChunkError::LineTooLong));
    }

    #[test]
    fn body_framing_follows_rfc_9112() {
        let resp = |head: &[u8]| parse_response(head).unwrap().unwrap().0;
        let chunked = resp(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(chunked.body("GET"), BodyFraming::Chunked);
        assert_eq!(chunked.body("HEAD"), BodyFraming::None);
        let len = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n");
        assert_eq!(len.body("GET"), BodyFraming::Length(7));
        let bad = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 7, 8\r\n\r\n");
        assert_eq!(bad.body("GET"), BodyFraming::Close);
        let v10 = resp(b"HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!((v10.body("GET"), v10.http_minor), (BodyFraming::Close, 0));
        for s in [
            b"204 No Content".as_slice(),
            b"304 Not Modified",
            b"100 Continue",
        ] {
            let r = resp(&[b"HTTP/1.1 ".as_slice(), s, b"\r\nContent-Length: 5\r\n\r\n"].concat());
            assert_eq!(r.body("GET"), BodyFraming::None);
        }
        let req = |head: &[u8]| parse_request(head).unwrap().unwrap().0;
        assert_eq!(req(b"GET / HTTP/1.1\r\n\r\n").body(), BodyFraming::None);
        let post = req(b"POST /u HTTP/1.1\r\nContent-Length: 4000\r\nExpect: 100-continue\r\n\r\n");
        assert_eq!(post.body(), BodyFraming::Length(4000));
        assert!(post.expect_continue);
    }

    #[test]
    fn responses() {
        let buf = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n\x89\x00";
        let (r, n) = parse_response(buf).unwrap().unwrap();
        assert_eq!((r.status, r.protocol.as_deref()), (101, Some("chat")));
        assert!(r.upgrade_websocket);
        assert_eq!(
            &buf[n..],
            b"\x89\x00",
            "a frame coalesced with the head is left over"
        );
        let (r, _) =
            parse_response(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden")
                .unwrap()
                .unwrap();
        assert_eq!(
            (r.status, r.reason.as_str(), r.content_length),
            (403, "Forbidden", Some(9))
        );
    }
}
