//! Application decoders over reassembled TCP streams.
//!
//! Each protocol has a zero-copy parser for its wire format (`http`, `ws`,
//! `sse`, `deflate`, `stomp`, `engineio`, `sockjs`) and a stream handler that turns a connection's two
//! byte streams into records (`exchange` for HTTP/1.x, which hands an
//! upgraded connection to `websocket`). Real-time channels (`channel`) are
//! gathered across connections. The tracker never names a protocol:
//! whoever runs it installs [`stream_detector`].

pub mod channel;
pub mod deflate;
pub mod engineio;
pub mod exchange;
pub mod http;
pub mod sockjs;
pub mod sse;
pub mod stomp;
pub mod utf8;
pub mod websocket;
pub mod ws;

use std::sync::Arc;

use crate::track::stream::{StreamDetector, Streams};

pub use exchange::{HttpConfig, HttpDecoder, HttpOptions};
pub use websocket::{WsConfig, WsDecoder, RULES};

/// Longest request method the detector waits for.
const MAX_METHOD: usize = 20;

/// Whether the first bytes a client sends can begin an HTTP/1.x request
/// line: a method (a token of capitals, as every registered method is)
/// and a space; `None` while the bytes so far are a method's start.
pub fn looks_like_request(first: &[u8]) -> Option<bool> {
    let token = |b: &u8| b.is_ascii_uppercase() || *b == b'-' || *b == b'_';
    match first.iter().position(|b| !token(b)) {
        Some(0) => Some(false),
        Some(i) => Some(i <= MAX_METHOD && first[i] == b' '),
        None if first.is_empty() => Some(false),
        // All capitals so far: a method cut by the segment, unless too long.
        None if first.len() <= MAX_METHOD => None,
        None => Some(false),
    }
}

/// Chooses a decoder from the first bytes a client sends, by content on
/// any port. With HTTP decoding, every connection whose client starts an
/// HTTP/1.x request gets an [`HttpDecoder`] (which hands an upgraded
/// connection to the WebSocket decoder). Without it, only WebSocket
/// opening handshakes are decoded: an HTTP GET (RFC 6455 §4.1) whose head
/// asks for the upgrade — a first segment that holds a whole request head
/// is decided at once; a GET whose head goes on is followed until its head
/// says.
pub fn stream_detector(ws: Option<WsConfig>, http: Option<HttpConfig>) -> Option<StreamDetector> {
    match (ws, http) {
        (ws, Some(http)) => Some(Arc::new(move |first: &[u8]| {
            if looks_like_request(first) == Some(false) {
                return None;
            }
            Some(Streams::boxed(HttpDecoder::new(http.clone(), ws)))
        })),
        (Some(ws), None) => Some(websocket_detector(ws)),
        (None, None) => None,
    }
}

fn websocket_detector(ws: WsConfig) -> StreamDetector {
    Arc::new(move |first: &[u8]| {
        let n = first.len().min(4);
        if n == 0 || first[..n] != b"GET "[..n] {
            return None;
        }
        match http::request_wants_websocket(first) {
            Some(false) => None,
            Some(true) | None => Some(Streams::boxed(WsDecoder::new(ws))),
        }
    })
}

/// The note the packets' source makes of a TCP payload for the decoders
/// (see [`crate::track::Tracker::packet_noted`]), when the decoders write no
/// per-frame records: whether the payload is a run of whole, plain
/// WebSocket messages ([`ws::FrameRun`]). Run on the source thread, it
/// moves the parsing of most frames off the busier tracking thread.
pub fn payload_note(ws: &WsConfig) -> Option<fn(&[u8]) -> u64> {
    fn note(payload: &[u8]) -> u64 {
        ws::frame_run(payload).map_or(0, ws::FrameRun::to_note)
    }
    (!ws.events).then_some(note as fn(&[u8]) -> u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_detector_wants_requests() {
        let d = stream_detector(None, Some(HttpConfig::new(true, 100))).unwrap();
        assert!(d(b"POST /x HTTP/1.1\r\n").is_some());
        assert!(d(b"GE").is_some(), "a method cut by the segment");
        assert!(d(b"M-SEARCH * HTTP/1.1\r\n").is_some());
        assert!(d(b"\x16\x03\x01").is_none(), "TLS");
        assert!(d(b"SSH-2.0-OpenSSH").is_none());
        assert!(d(b"get / HTTP/1.1").is_none());
        assert!(d(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ").is_none());
        assert!(d(b"").is_none());
    }

    #[test]
    fn detector_wants_gets_only() {
        let d = websocket_detector(WsConfig::default());
        assert!(d(b"GET /chat HTTP/1.1\r\n").is_some(), "the head goes on");
        assert!(
            d(b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").is_some()
        );
        assert!(
            d(b"GET /page HTTP/1.1\r\nHost: a\r\n\r\n").is_none(),
            "plain HTTP"
        );
        assert!(d(b"GE").is_some(), "a request split after two bytes");
        assert!(d(b"POST / HTTP/1.1\r\n").is_none());
        assert!(d(b"\x16\x03\x01").is_none(), "TLS");
        assert!(d(b"").is_none());
    }
}
