//! SockJS frames and session URLs (<https://github.com/sockjs/sockjs-protocol>,
//! `sockjs-protocol.py`): a checked, zero-copy view over one frame, the
//! frames of a streaming body, and the `/<server>/<session>/<transport>`
//! path that names a session across its requests.
//!
//! ```text
//! o                      open
//! h                      heart-beat
//! a["m1","m2"]           messages (a JSON array of strings)
//! c[3000,"Go away!"]     close (code, reason)
//! ```
//!
//! On `websocket` each message is one frame; `xhr` answers one frame and a
//! newline; `xhr_streaming` answers a prelude of 2048 `h` and a newline, then
//! frames each ended by a newline; `eventsource` carries a frame in each
//! event's data. Client messages (`xhr_send`, and `websocket` from the
//! client) are a bare JSON array of strings, or one JSON string. The
//! parsers take *messages* (a WebSocket message, an HTTP body, an SSE
//! event), never TCP.

use serde_json::Value;

/// Bytes of the `xhr_streaming` prelude (`h` repeated) before its newline.
pub const PRELUDE: usize = 2048;

/// The transports a session URL may name.
pub const TRANSPORTS: &[&str] = &[
    "websocket",
    "xhr",
    "xhr_send",
    "xhr_streaming",
    "eventsource",
    "htmlfile",
    "jsonp",
    "jsonp_send",
];

/// A frame the server sends, borrowing the message it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Open,
    HeartBeat,
    /// `a` and the raw JSON array (see [`messages`]).
    Messages(&'a str),
    /// `c[code,"reason"]`.
    Close(&'a str),
}

/// What is not a SockJS frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SockJsError {
    #[error("empty frame")]
    Empty,
    #[error("unknown frame type {0:?}")]
    UnknownType(char),
    #[error("frame `{0}` carries data")]
    Trailing(char),
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("not an array of strings")]
    NotStrings,
    #[error("a close frame that is not [code, \"reason\"]")]
    BadClose,
}

/// Reads one server frame (without its trailing newline, if any).
pub fn frame(s: &str) -> Result<Frame<'_>, SockJsError> {
    let s = s.strip_suffix('\n').unwrap_or(s);
    let mut chars = s.chars();
    let t = chars.next().ok_or(SockJsError::Empty)?;
    let rest = chars.as_str();
    match t {
        'o' | 'h' if !rest.is_empty() => Err(SockJsError::Trailing(t)),
        'o' => Ok(Frame::Open),
        'h' => Ok(Frame::HeartBeat),
        'a' => Ok(Frame::Messages(rest)),
        'c' => Ok(Frame::Close(rest)),
        other => Err(SockJsError::UnknownType(other)),
    }
}

/// The messages of an `a` frame, or of a client's message (a JSON array of
/// strings, or one JSON string).
pub fn messages(json: &str) -> Result<Vec<String>, SockJsError> {
    let v: Value = serde_json::from_str(json).map_err(|e| SockJsError::Json(e.to_string()))?;
    match v {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .into_iter()
            .map(|m| match m {
                Value::String(s) => Ok(s),
                _ => Err(SockJsError::NotStrings),
            })
            .collect(),
        _ => Err(SockJsError::NotStrings),
    }
}

/// The code and reason of a `c` frame.
pub fn close(json: &str) -> Result<(u16, String), SockJsError> {
    let v: Value = serde_json::from_str(json).map_err(|e| SockJsError::Json(e.to_string()))?;
    match v.as_array().map(Vec::as_slice) {
        Some([Value::Number(code), Value::String(reason)]) => {
            let code = code
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .ok_or(SockJsError::BadClose)?;
            Ok((code, reason.clone()))
        }
        _ => Err(SockJsError::BadClose),
    }
}

/// The frames of a streaming body (`xhr`, `xhr_streaming`): lines, the
/// prelude of `h`s skipped. A last line without its newline is not
/// returned (it may still be arriving): `rest` says where it starts.
pub fn stream_frames(body: &str) -> (Vec<Result<Frame<'_>, SockJsError>>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(n) = body[at..].find('\n') {
        let line = &body[at..at + n];
        at += n + 1;
        if line.len() == PRELUDE && line.bytes().all(|b| b == b'h') {
            continue;
        }
        out.push(frame(line));
    }
    (out, at)
}

/// A session URL: `<prefix>/<server>/<session>/<transport>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPath<'a> {
    pub prefix: &'a str,
    pub server: &'a str,
    pub session: &'a str,
    pub transport: &'a str,
}

/// Reads a request target as a SockJS session URL (the query ignored):
/// the last three segments are server, session and one of
/// [`TRANSPORTS`]; server and session are not empty and hold no dot.
pub fn session_path(target: &str) -> Option<SessionPath<'_>> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let mut parts = path.rsplitn(4, '/');
    let transport = parts.next()?;
    let session = parts.next()?;
    let server = parts.next()?;
    let prefix = parts.next()?;
    let ok = |s: &str| !s.is_empty() && !s.contains('.');
    (TRANSPORTS.contains(&transport) && ok(session) && ok(server)).then_some(SessionPath {
        prefix,
        server,
        session,
        transport,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocols_frames() {
        assert_eq!(frame("o"), Ok(Frame::Open));
        assert_eq!(frame("h\n"), Ok(Frame::HeartBeat));
        assert_eq!(frame(r#"a["a"]"#), Ok(Frame::Messages(r#"["a"]"#)));
        assert_eq!(messages(r#"["a","b\n"]"#).unwrap(), ["a", "b\n"]);
        let Ok(Frame::Close(c)) = frame(r#"c[3000,"Go away!"]"#) else {
            panic!()
        };
        assert_eq!(close(c), Ok((3000, "Go away!".to_string())));
        assert_eq!(
            close(r#"[2010,"Another connection still open"]"#),
            Ok((2010, "Another connection still open".to_string()))
        );
        assert_eq!(frame(""), Err(SockJsError::Empty));
        assert_eq!(frame("ox"), Err(SockJsError::Trailing('o')));
        assert_eq!(frame("m\"x\""), Err(SockJsError::UnknownType('m')));
        assert_eq!(messages("[1]"), Err(SockJsError::NotStrings));
        assert!(matches!(messages("[\"a\""), Err(SockJsError::Json(_))));
        assert_eq!(close("[3000]"), Err(SockJsError::BadClose));
        assert_eq!(close("[70000,\"x\"]"), Err(SockJsError::BadClose));
        // A client's single message.
        assert_eq!(messages(r#""hi""#).unwrap(), ["hi"]);
    }

    #[test]
    fn an_xhr_streaming_body_skips_its_prelude() {
        let body = format!("{}\no\na[\"x\"]\nh\nc[3000,\"Go", "h".repeat(PRELUDE));
        let (frames, rest) = stream_frames(&body);
        assert_eq!(
            frames,
            [
                Ok(Frame::Open),
                Ok(Frame::Messages("[\"x\"]")),
                Ok(Frame::HeartBeat)
            ]
        );
        assert_eq!(&body[rest..], "c[3000,\"Go");
    }

    #[test]
    fn session_urls_as_the_protocol_tests_them() {
        let p = session_path("/echo/000/abc-1/xhr_streaming?t=1").unwrap();
        assert_eq!(
            (p.prefix, p.server, p.session, p.transport),
            ("/echo", "000", "abc-1", "xhr_streaming")
        );
        assert!(session_path("/a/a123/xhr").is_some());
        assert!(session_path("/abcdefgh_i-j%20/abcdefg_i-j%2012/websocket").is_some());
        // test_invalidPaths: empty parts, dots, too few parts.
        for bad in [
            "//xhr",
            "/a./a/xhr",
            "/a/a./xhr",
            "/./././xhr",
            "/xhr",
            "///xhr",
            "/a/b/c/info",
        ] {
            assert_eq!(session_path(bad), None, "{bad}");
        }
    }
}
