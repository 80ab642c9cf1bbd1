//! HTTP/1.1 heads for the WebSocket opening handshake (RFC 6455 §4): the
//! client's Upgrade request and the server's answer, parsed with httparse.

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
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("not HTTP: {0}")]
    NotHttp(String),
    #[error("head longer than {MAX_HEAD} bytes")]
    TooLong,
}

/// Joins repeated headers with ", " (RFC 9110 §5.3).
fn header(headers: &[httparse::Header<'_>], name: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for h in headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name)) {
        let v = String::from_utf8_lossy(h.value).trim().to_string();
        out = Some(match out {
            Some(o) => format!("{o}, {v}"),
            None => v,
        });
    }
    out
}

/// Whether a comma-separated header value contains `token` (case-insensitive).
pub fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Parses a request head from the start of `buf`. `Ok(None)`: incomplete.
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            let h = req.headers;
            let upgrade = header(h, "upgrade");
            let connection = header(h, "connection");
            let r = Request {
                method: req.method.unwrap_or("").to_string(),
                target: req.path.unwrap_or("").to_string(),
                http_minor: req.version.unwrap_or(0),
                host: header(h, "host"),
                origin: header(h, "origin"),
                key: header(h, "sec-websocket-key"),
                version: header(h, "sec-websocket-version"),
                protocols: header(h, "sec-websocket-protocol"),
                extensions: header(h, "sec-websocket-extensions"),
                wants_websocket: has_token(upgrade.as_deref(), "websocket")
                    && has_token(connection.as_deref(), "upgrade"),
            };
            Ok(Some((r, n)))
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Err(HeadError::TooLong),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(HeadError::NotHttp(e.to_string())),
    }
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

/// Parses a response head from the start of `buf`. `Ok(None)`: incomplete.
pub fn parse_response(buf: &[u8]) -> Result<Option<(Response, usize)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            let h = resp.headers;
            let r = Response {
                status: resp.code.unwrap_or(0),
                reason: resp.reason.unwrap_or("").to_string(),
                accept: header(h, "sec-websocket-accept"),
                protocol: header(h, "sec-websocket-protocol"),
                extensions: header(h, "sec-websocket-extensions"),
                upgrade_websocket: has_token(header(h, "upgrade").as_deref(), "websocket"),
                content_length: header(h, "content-length").and_then(|v| v.parse().ok()),
            };
            Ok(Some((r, n)))
        }
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Err(HeadError::TooLong),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(HeadError::NotHttp(e.to_string())),
    }
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
