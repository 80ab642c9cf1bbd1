//! Engine.IO packets, versions 3 and 4
//! (<https://github.com/socketio/engine.io-protocol>, branches `v3` and
//! `main`): a checked, zero-copy view over one packet, and the payloads of
//! the HTTP long-polling transport split into packets.
//!
//! ```text
//! packet      = type-digit [ data ]                 ; 0 open … 6 noop
//! v4 payload  = packet *( %x1E packet )             ; binary: "b" base64
//! v3 payload  = 1*( length ":" packet )             ; length in UTF-16 units
//!             / 1*( (%x00 / %x01) 1*digit-byte %xFF packet )   ; XHR2 binary
//! ```
//!
//! On the WebSocket transport each frame is one packet: a text frame is
//! `<type>[<data>]`; a binary frame is a message's bytes as they are (v4),
//! or a type byte then the bytes (v3). The parsers take *messages* (a
//! WebSocket message, an HTTP body), never TCP, so one parser serves both
//! transports. Every length is checked; nothing is copied but an `open`
//! packet's JSON when it is read.

use serde::Deserialize;

/// Engine.IO packet types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Open,
    Close,
    Ping,
    Pong,
    Message,
    Upgrade,
    Noop,
}

impl Kind {
    pub fn of(id: u8) -> Option<Kind> {
        Some(match id {
            0 => Kind::Open,
            1 => Kind::Close,
            2 => Kind::Ping,
            3 => Kind::Pong,
            4 => Kind::Message,
            5 => Kind::Upgrade,
            6 => Kind::Noop,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Open => "open",
            Kind::Close => "close",
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::Message => "message",
            Kind::Upgrade => "upgrade",
            Kind::Noop => "noop",
        }
    }
}

/// A packet's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Data<'a> {
    /// Text (UTF-8).
    Text(&'a str),
    /// Binary data, base64-encoded (the polling transport's `b` packets).
    Base64(&'a [u8]),
    /// Binary data as sent (a WebSocket binary frame, a v3 XHR2 payload).
    Binary(&'a [u8]),
}

impl Data<'_> {
    /// Length of the data as sent.
    pub fn len(&self) -> usize {
        match self {
            Data::Text(t) => t.len(),
            Data::Base64(b) | Data::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One packet, borrowing the message it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub kind: Kind,
    pub data: Data<'a>,
}

/// Bytes that are not an Engine.IO packet or payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EioError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type")]
    UnknownType,
    #[error("text that is not UTF-8")]
    NotUtf8,
    #[error("a v3 payload length that is missing, not a number or past the end")]
    BadLength,
}

/// A text packet: `<type digit>[<data>]`, or (v4 polling) `b<base64>`, a
/// binary message; (v3 polling) `b<type digit><base64>`.
pub fn text_packet(s: &str, v3: bool) -> Result<Packet<'_>, EioError> {
    let b = s.as_bytes();
    match b.first() {
        None => Err(EioError::Empty),
        Some(b'b') if v3 => {
            let id = *b.get(1).ok_or(EioError::Empty)?;
            let kind = digit(id).ok_or(EioError::UnknownType)?;
            Ok(Packet {
                kind,
                data: Data::Base64(&b[2..]),
            })
        }
        Some(b'b') => Ok(Packet {
            kind: Kind::Message,
            data: Data::Base64(&b[1..]),
        }),
        Some(&id) => Ok(Packet {
            kind: digit(id).ok_or(EioError::UnknownType)?,
            data: Data::Text(&s[1..]),
        }),
    }
}

fn digit(c: u8) -> Option<Kind> {
    c.checked_sub(b'0').and_then(Kind::of)
}

/// A WebSocket binary frame: a message's bytes as they are (v4), or a type
/// byte then the bytes (v3).
pub fn binary_packet(b: &[u8], v3: bool) -> Result<Packet<'_>, EioError> {
    if !v3 {
        return Ok(Packet {
            kind: Kind::Message,
            data: Data::Binary(b),
        });
    }
    let (&id, rest) = b.split_first().ok_or(EioError::Empty)?;
    Ok(Packet {
        kind: Kind::of(id).ok_or(EioError::UnknownType)?,
        data: Data::Binary(rest),
    })
}

/// The packets of a v4 polling payload (an HTTP body): text packets
/// separated by `\x1e`.
pub fn payload_v4(body: &[u8]) -> impl Iterator<Item = Result<Packet<'_>, EioError>> {
    body.split(|&c| c == 0x1e).map(|p| {
        let s = std::str::from_utf8(p).map_err(|_| EioError::NotUtf8)?;
        text_packet(s, false)
    })
}

/// The packets of a v3 polling payload: `<length>:<packet>` with the length
/// in UTF-16 code units (JavaScript's string length), or the XHR2 binary
/// form (`\x00` text / `\x01` binary, the length as digit bytes, `\xff`).
/// Reading stops at the first error, which is the last item.
pub fn payload_v3(body: &[u8]) -> impl Iterator<Item = Result<Packet<'_>, EioError>> {
    let mut rest = body;
    let mut failed = false;
    std::iter::from_fn(move || {
        if rest.is_empty() || failed {
            return None;
        }
        let item = next_v3(&mut rest);
        failed = item.is_err();
        Some(item)
    })
}

fn next_v3<'a>(rest: &mut &'a [u8]) -> Result<Packet<'a>, EioError> {
    let b = *rest;
    if let Some(&kind) = b.first().filter(|&&k| k <= 1) {
        // XHR2: kind, the length as bytes 0-9, 0xff, then the packet.
        let end = b
            .iter()
            .position(|&c| c == 0xff)
            .ok_or(EioError::BadLength)?;
        let digits = &b[1..end];
        if digits.is_empty() || digits.len() > 10 || digits.iter().any(|&d| d > 9) {
            return Err(EioError::BadLength);
        }
        let len = digits.iter().fold(0usize, |n, &d| n * 10 + usize::from(d));
        let start = end + 1;
        let packet = b.get(start..start + len).ok_or(EioError::BadLength)?;
        *rest = &b[start + len..];
        return if kind == 0 {
            // Text, each character written as one byte (its code, < 256).
            let s = std::str::from_utf8(packet).map_err(|_| EioError::NotUtf8)?;
            text_packet(s, true)
        } else {
            binary_packet(packet, true)
        };
    }
    let colon = b
        .iter()
        .take(11)
        .position(|&c| c == b':')
        .ok_or(EioError::BadLength)?;
    let units: usize = std::str::from_utf8(&b[..colon])
        .ok()
        .filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
        .ok_or(EioError::BadLength)?;
    let after = &b[colon + 1..];
    // Walk `units` UTF-16 code units of UTF-8 text.
    let text = utf8_prefix(after, units).ok_or(EioError::BadLength)?;
    *rest = &after[text.len()..];
    text_packet(text, true)
}

/// The longest prefix of `b` that is `units` UTF-16 code units of UTF-8
/// text; `None` if `b` ends first or is not UTF-8 there.
fn utf8_prefix(b: &[u8], units: usize) -> Option<&str> {
    let mut n = 0;
    let mut at = 0;
    while n < units {
        let lead = *b.get(at)?;
        let (bytes, u) = match lead {
            0x00..=0x7f => (1, 1),
            0xc0..=0xdf => (2, 1),
            0xe0..=0xef => (3, 1),
            0xf0..=0xf7 => (4, 2),
            _ => return None,
        };
        at += bytes;
        n += u;
    }
    if n != units {
        return None;
    }
    std::str::from_utf8(b.get(..at)?).ok()
}

/// What an `open` packet says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Open {
    pub sid: String,
    #[serde(default)]
    pub upgrades: Vec<String>,
    pub ping_interval: Option<u64>,
    pub ping_timeout: Option<u64>,
    /// v4 only.
    pub max_payload: Option<u64>,
}

impl Open {
    /// Reads an open packet's JSON; `None` when it is not what the
    /// protocol says.
    pub fn parse(p: &Packet<'_>) -> Option<Open> {
        match (p.kind, p.data) {
            (Kind::Open, Data::Text(t)) => serde_json::from_str(t).ok(),
            _ => None,
        }
    }
}

/// The Engine.IO version and transport a request names in its query
/// (`EIO=4&transport=polling&sid=…`), and its session id when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query<'a> {
    pub version: u8,
    pub transport: &'a str,
    pub sid: Option<&'a str>,
}

/// Reads the query of a request target; `None` unless it names `EIO`.
pub fn query(target: &str) -> Option<Query<'_>> {
    let (_, q) = target.split_once('?')?;
    let mut version = None;
    let mut transport = None;
    let mut sid = None;
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "EIO" => version = v.parse().ok(),
            "transport" => transport = Some(v),
            "sid" => sid = Some(v).filter(|s| !s.is_empty()),
            _ => {}
        }
    }
    Some(Query {
        version: version?,
        transport: transport?,
        sid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(items: Vec<Result<Packet<'_>, EioError>>) -> Vec<Result<(Kind, Data<'_>), EioError>> {
        items
            .into_iter()
            .map(|r| r.map(|p| (p.kind, p.data)))
            .collect()
    }

    #[test]
    fn v4_payloads_as_the_specification_writes_them() {
        let got = kinds(payload_v4(b"4hello\x1e2\x1e4world").collect());
        assert_eq!(
            got,
            [
                Ok((Kind::Message, Data::Text("hello"))),
                Ok((Kind::Ping, Data::Text(""))),
                Ok((Kind::Message, Data::Text("world"))),
            ]
        );
        let got = kinds(payload_v4(b"4hello\x1ebAQIDBA==").collect());
        assert_eq!(got[1], Ok((Kind::Message, Data::Base64(b"AQIDBA=="))));
        assert_eq!(
            kinds(payload_v4(b"9x\x1e").collect())[0],
            Err(EioError::UnknownType)
        );
        assert_eq!(
            kinds(payload_v4(b"4a\x1e").collect())[1],
            Err(EioError::Empty)
        );
    }

    #[test]
    fn v3_payloads_count_utf16_units() {
        // The v3 README's example: "€" is one character (3 bytes).
        let got = kinds(payload_v3("6:4hello2:4€".as_bytes()).collect());
        assert_eq!(
            got,
            [
                Ok((Kind::Message, Data::Text("hello"))),
                Ok((Kind::Message, Data::Text("€"))),
            ]
        );
        // A character outside the BMP is two UTF-16 units.
        let got = kinds(payload_v3("3:4😀1:2".as_bytes()).collect());
        assert_eq!(
            got,
            [
                Ok((Kind::Message, Data::Text("😀"))),
                Ok((Kind::Ping, Data::Text("")))
            ]
        );
        // Base64: b, the type, the data.
        let got = kinds(payload_v3(b"10:b4AQIDBA==").collect());
        assert_eq!(got, [Ok((Kind::Message, Data::Base64(b"AQIDBA==")))]);
        // Errors end the payload.
        let got = kinds(payload_v3(b"9:4abc2:2").collect());
        assert_eq!(got, [Err(EioError::BadLength)]);
        let got = kinds(payload_v3(b"1:2x:4a").collect());
        assert_eq!(
            got,
            [Ok((Kind::Ping, Data::Text(""))), Err(EioError::BadLength)]
        );
    }

    #[test]
    fn v3_xhr2_binary_payloads() {
        // Text "4hi" (3 bytes), then binary type 4 with bytes 1 2 3.
        let body = [0, 3, 0xff, b'4', b'h', b'i', 1, 4, 0xff, 4, 1, 2, 3];
        let got = kinds(payload_v3(&body).collect());
        assert_eq!(
            got,
            [
                Ok((Kind::Message, Data::Text("hi"))),
                Ok((Kind::Message, Data::Binary(&[1, 2, 3]))),
            ]
        );
        assert_eq!(
            kinds(payload_v3(&[1, 9, 0xff, 4]).collect()),
            [Err(EioError::BadLength)]
        );
        assert_eq!(
            kinds(payload_v3(&[0, 0xff]).collect()),
            [Err(EioError::BadLength)]
        );
    }

    #[test]
    fn websocket_frames_are_one_packet_each() {
        assert_eq!(
            text_packet("2probe", false).map(|p| (p.kind, p.data)),
            Ok((Kind::Ping, Data::Text("probe")))
        );
        assert_eq!(text_packet("5", false).map(|p| p.kind), Ok(Kind::Upgrade));
        assert_eq!(text_packet("", false), Err(EioError::Empty));
        assert_eq!(text_packet("x", false), Err(EioError::UnknownType));
        assert_eq!(
            binary_packet(&[1, 2], false).map(|p| (p.kind, p.data)),
            Ok((Kind::Message, Data::Binary(&[1, 2])))
        );
        assert_eq!(
            binary_packet(&[4, 9], true).map(|p| (p.kind, p.data)),
            Ok((Kind::Message, Data::Binary(&[9])))
        );
        assert_eq!(binary_packet(&[7], true), Err(EioError::UnknownType));
    }

    #[test]
    fn the_open_packet_and_the_query() {
        let open = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let p = text_packet(open, false).unwrap();
        let o = Open::parse(&p).unwrap();
        assert_eq!(o.sid, "lv_VI97HAXpY6yYWAAAC");
        assert_eq!(o.upgrades, ["websocket"]);
        assert_eq!(
            (o.ping_interval, o.ping_timeout, o.max_payload),
            (Some(25000), Some(20000), Some(1_000_000))
        );
        assert_eq!(
            Open::parse(&text_packet("0{}", false).unwrap()),
            None,
            "no sid"
        );
        let q = query("/socket.io/?EIO=4&transport=websocket&sid=abc").unwrap();
        assert_eq!(
            (q.version, q.transport, q.sid),
            (4, "websocket", Some("abc"))
        );
        let q = query("/engine.io/?EIO=3&transport=polling&t=N8hyd6w").unwrap();
        assert_eq!((q.version, q.transport, q.sid), (3, "polling", None));
        assert_eq!(query("/socket.io/?transport=polling"), None);
        assert_eq!(query("/index.html"), None);
    }
}
