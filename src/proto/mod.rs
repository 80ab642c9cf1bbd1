//! Application decoders over reassembled TCP streams.
//!
//! Each protocol has a zero-copy parser for its wire format (`http`, `ws`,
//! `deflate`) and a stream handler that turns a connection's two byte
//! streams into records (`websocket`). The tracker never names a protocol:
//! whoever runs it installs [`stream_detector`].

pub mod deflate;
pub mod http;
pub mod utf8;
pub mod websocket;
pub mod ws;

use std::sync::Arc;

use crate::track::stream::{StreamDetector, Streams};

pub use websocket::{WsConfig, WsDecoder, RULES};

/// Chooses a decoder from the first bytes a client sends. WebSocket is
/// found by content, on any port: an opening handshake is an HTTP GET
/// (RFC 6455 §4.1). A first segment that holds a whole request head is
/// decided at once (plain HTTP costs nothing more); a GET whose head goes
/// on in later segments is followed until its head says.
pub fn stream_detector(ws: WsConfig) -> StreamDetector {
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
    fn detector_wants_gets_only() {
        let d = stream_detector(WsConfig::default());
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
