//! STOMP 1.0–1.2 frames (<https://stomp.github.io/stomp-specification-1.2.html>):
//! a checked, zero-copy view over one frame at the start of a buffer.
//!
//! ```text
//! frame   = command EOL *( header EOL ) EOL *OCTET NULL *( EOL )
//! EOL     = [CR] LF
//! header  = header-name ":" header-value
//! ```
//!
//! The parser takes bytes from any transport — a WebSocket message, an
//! HTTP body, a TCP stream — and says how many of them the frame used, so
//! one message may hold several frames and one frame may span several
//! pieces (the caller keeps the cut start and asks again). A bare EOL
//! between frames is a heart-beat. Header values are unescaped on demand
//! (`\r \n \c \\`, STOMP 1.2 §"Value Encoding"; none in CONNECT and
//! CONNECTED), the first of repeated headers wins, and a body is read up to
//! its NUL or exactly `content-length` octets (NULs allowed inside). Every
//! length is checked against the buffer and against [`MAX_HEADERS_LEN`].
//! What the parser reports as [`Problem`]s a session reports as violations;
//! only bytes that cannot be framed at all are an error.

use std::borrow::Cow;

use crate::time::Timestamp;

/// Longest command line and header block read before giving up on the
/// frame (brokers limit it too: RabbitMQ's default is about 10 KiB).
pub const MAX_HEADERS_LEN: usize = 64 * 1024;

/// The commands of STOMP 1.2 (1.0 and 1.1 use a subset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    Connect,
    Stomp,
    Connected,
    Send,
    Subscribe,
    Unsubscribe,
    Ack,
    Nack,
    Begin,
    Commit,
    Abort,
    Disconnect,
    Message,
    Receipt,
    Error,
}

impl Command {
    pub const ALL: [Command; 15] = [
        Command::Connect,
        Command::Stomp,
        Command::Connected,
        Command::Send,
        Command::Subscribe,
        Command::Unsubscribe,
        Command::Ack,
        Command::Nack,
        Command::Begin,
        Command::Commit,
        Command::Abort,
        Command::Disconnect,
        Command::Message,
        Command::Receipt,
        Command::Error,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::Connect => "CONNECT",
            Command::Stomp => "STOMP",
            Command::Connected => "CONNECTED",
            Command::Send => "SEND",
            Command::Subscribe => "SUBSCRIBE",
            Command::Unsubscribe => "UNSUBSCRIBE",
            Command::Ack => "ACK",
            Command::Nack => "NACK",
            Command::Begin => "BEGIN",
            Command::Commit => "COMMIT",
            Command::Abort => "ABORT",
            Command::Disconnect => "DISCONNECT",
            Command::Message => "MESSAGE",
            Command::Receipt => "RECEIPT",
            Command::Error => "ERROR",
        }
    }

    fn of(b: &[u8]) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name().as_bytes() == b)
    }

    /// Sent by servers (the others by clients).
    pub fn from_server(self) -> bool {
        matches!(
            self,
            Command::Connected | Command::Message | Command::Receipt | Command::Error
        )
    }

    /// Only SEND, MESSAGE and ERROR frames may have a body (§"Frames and
    /// Headers").
    pub fn may_have_body(self) -> bool {
        matches!(self, Command::Send | Command::Message | Command::Error)
    }

    /// CONNECT and CONNECTED headers are not escaped (for 1.0 peers).
    fn escapes(self) -> bool {
        !matches!(self, Command::Connect | Command::Connected)
    }
}

/// What is wrong with a frame that could still be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A header value holds a backslash not followed by `r`, `n`, `c` or
    /// `\` (a fatal error in STOMP 1.2).
    BadEscape,
    /// A header line without a colon.
    HeaderWithoutColon,
    /// A body on a frame that may not carry one.
    BodyNotAllowed,
    /// `content-length` is not a number.
    BadContentLength,
}

/// Bytes that cannot be a STOMP frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown command")]
    UnknownCommand,
    #[error("the octet after a content-length body is not NUL")]
    MissingNul,
    #[error("command and headers longer than {MAX_HEADERS_LEN} bytes")]
    TooLong,
}

/// One step of reading a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A frame, and the bytes it used (up to its NUL).
    Frame(Frame<'a>, usize),
    /// A heart-beat: a bare EOL (1 or 2 bytes).
    HeartBeat(usize),
    /// Not enough bytes yet (nothing used).
    Incomplete,
}

/// A frame, borrowing the buffer it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub command: Command,
    /// The header lines, raw (each ends with EOL), up to the blank line.
    headers: &'a [u8],
    pub body: &'a [u8],
    /// The body was delimited by `content-length` (else by the first NUL).
    pub counted: bool,
    /// The first problem found, if any.
    pub problem: Option<Problem>,
}

/// Splits a line at its end: the line without its EOL, and the rest.
fn line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = memchr::memchr(b'\n', buf)?;
    let l = &buf[..n];
    Some((l.strip_suffix(b"\r").unwrap_or(l), &buf[n + 1..]))
}

/// Reads the frame (or heart-beat) at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Step<'_>, FrameError> {
    match buf {
        [] | [b'\r'] => return Ok(Step::Incomplete),
        [b'\n', ..] => return Ok(Step::HeartBeat(1)),
        [b'\r', b'\n', ..] => return Ok(Step::HeartBeat(2)),
        _ => {}
    }
    let head_room = &buf[..buf.len().min(MAX_HEADERS_LEN)];
    let Some((cmd, mut rest)) = line(head_room) else {
        return if buf.len() >= MAX_HEADERS_LEN {
            Err(FrameError::TooLong)
        } else if Command::ALL.iter().any(|c| {
            c.name()
                .as_bytes()
                .starts_with(buf.strip_suffix(b"\r").unwrap_or(buf))
        }) {
            Ok(Step::Incomplete)
        } else {
            Err(FrameError::UnknownCommand)
        };
    };
    let command = Command::of(cmd).ok_or(FrameError::UnknownCommand)?;
    let headers_start = buf.len() - rest.len();
    // Header lines up to the blank one.
    loop {
        match line(rest) {
            None if buf.len() >= MAX_HEADERS_LEN => return Err(FrameError::TooLong),
            None => return Ok(Step::Incomplete),
            Some((l, after)) => {
                let consumed = buf.len() - after.len();
                if consumed > MAX_HEADERS_LEN {
                    return Err(FrameError::TooLong);
                }
                if l.is_empty() {
                    break;
                }
                rest = after;
            }
        }
    }
    let headers = &buf[headers_start..buf.len() - rest.len()];
    let body_start = buf.len() - line(rest).map_or(0, |(_, a)| a.len());
    let mut frame = Frame {
        command,
        headers,
        body: &[],
        counted: false,
        problem: None,
    };
    let (problem, length) = frame.check_headers();
    frame.problem = problem;
    let tail = &buf[body_start..];
    let body_end = match length {
        Some(n) => {
            let Some(&after) = tail.get(n) else {
                return Ok(Step::Incomplete);
            };
            if after != 0 {
                return Err(FrameError::MissingNul);
            }
            frame.counted = true;
            n
        }
        None => match memchr::memchr(0, tail) {
            Some(n) => n,
            None => return Ok(Step::Incomplete),
        },
    };
    frame.body = &tail[..body_end];
    if !frame.body.is_empty() && !command.may_have_body() {
        frame.problem.get_or_insert(Problem::BodyNotAllowed);
    }
    // Up to the NUL: the EOLs after it are read as heart-beats.
    let used = body_start + body_end + 1;
    Ok(Step::Frame(frame, used))
}

impl<'a> Frame<'a> {
    /// Header lines as (name, raw value, whether the line had a colon), in
    /// order.
    fn lines(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8], bool)> {
        let mut rest = self.headers;
        std::iter::from_fn(move || {
            let (l, after) = line(rest)?;
            rest = after;
            if l.is_empty() {
                return None;
            }
            Some(match memchr::memchr(b':', l) {
                Some(c) => (&l[..c], &l[c + 1..], true),
                None => (l, &l[l.len()..], false),
            })
        })
    }

    /// Header lines as (name, raw value), in order.
    pub fn raw_headers(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.lines().map(|(n, v, _)| (n, v))
    }

    /// The first value of header `name` (repeated headers: the first wins),
    /// unescaped where the frame's command escapes them.
    pub fn header(&self, name: &str) -> Option<Cow<'a, str>> {
        let escapes = self.command.escapes();
        self.raw_headers()
            .find(|(n, _)| unescape(n, escapes).is_some_and(|n| n == name))
            .and_then(|(_, v)| unescape(v, escapes))
    }

    /// The first problem of the header block, and the content-length.
    fn check_headers(&self) -> (Option<Problem>, Option<usize>) {
        let escapes = self.command.escapes();
        let mut problem = None;
        let mut length: Option<Option<usize>> = None;
        for (n, v, colon) in self.lines() {
            if !colon {
                problem.get_or_insert(Problem::HeaderWithoutColon);
            }
            if escapes && (unescape(n, true).is_none() || unescape(v, true).is_none()) {
                problem.get_or_insert(Problem::BadEscape);
            }
            if length.is_none() && n == b"content-length" {
                let parsed = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse::<usize>().ok());
                if parsed.is_none() {
                    problem.get_or_insert(Problem::BadContentLength);
                }
                length = Some(parsed);
            }
        }
        (problem, length.flatten())
    }
}

/// A header name or value as text: `\r \n \c \\` unescaped when `escapes`;
/// `None` for an undefined escape. Not UTF-8: replaced (U+FFFD).
pub fn unescape(raw: &[u8], escapes: bool) -> Option<Cow<'_, str>> {
    if !escapes || memchr::memchr(b'\\', raw).is_none() {
        return Some(String::from_utf8_lossy(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        out.push(match bytes.next()? {
            b'r' => b'\r',
            b'n' => b'\n',
            b'c' => b':',
            b'\\' => b'\\',
            _ => return None,
        });
    }
    Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

/// Bytes of a frame cut across messages kept per direction, at most.
pub const MAX_FRAME: usize = 1024 * 1024;
/// Subscriptions and awaited receipts kept per session, at most (beyond
/// them, what is not kept is counted and not checked).
pub const MAX_TRACKED: usize = 1024;
/// A direction that promised heart-beats every `n` ms is late when nothing
/// came from it for more than `HEART_BEAT_TOLERANCE` × `n` ms (the
/// specification leaves the tolerance to the receiver; STOMP clients use
/// about twice the interval).
pub const HEART_BEAT_TOLERANCE: i64 = 2;

/// What a session found wrong: the rule's name (as records will write it)
/// and what was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    pub detail: String,
}

/// What a session reads from one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen<'a> {
    Frame {
        from_client: bool,
        frame: Frame<'a>,
    },
    HeartBeat {
        from_client: bool,
    },
    Violation {
        from_client: bool,
        violation: Violation,
    },
}

/// One side of a session.
#[derive(Debug, Default)]
struct Side {
    /// The start of a frame cut at the end of the last message.
    cut: Vec<u8>,
    /// Stopped: bytes that cannot be framed were seen.
    stopped: bool,
    last: Option<Timestamp>,
    missed: u64,
}

/// A STOMP session: the frames of both directions, given message by
/// message (a WebSocket message, or what a TCP stream delivered), and what
/// the specification says they must agree on: heart-beats as negotiated,
/// MESSAGEs for subscriptions the client made, RECEIPTs for receipts it
/// asked for, commands from the side that may send them.
#[derive(Debug, Default)]
pub struct Session {
    sides: [Side; 2],
    /// CONNECT's heart-beat header (cx, cy), then the intervals agreed at
    /// CONNECTED (client's, server's), in ms; 0: none.
    offered: Option<(u64, u64)>,
    every: [u64; 2],
    /// STOMP version the server chose (CONNECTED's `version`; 1.0 if absent).
    pub version: Option<String>,
    subscriptions: Vec<Box<str>>,
    receipts: Vec<Box<str>>,
    /// Subscriptions and receipts not tracked (over [`MAX_TRACKED`]).
    pub untracked: u64,
    pub frames: [u64; 2],
    pub heart_beats: [u64; 2],
}

fn side(from_client: bool) -> usize {
    usize::from(!from_client)
}

/// A `heart-beat` header value: two integers (ms).
fn heart_beat(v: &str) -> Option<(u64, u64)> {
    let (a, b) = v.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

impl Session {
    pub fn new() -> Self {
        Session::default()
    }

    /// The heart-beat intervals in force (client's, server's), in ms.
    pub fn heart_beat_every(&self) -> [u64; 2] {
        self.every
    }

    /// Heart-beats missed by each side so far.
    pub fn missed(&self) -> [u64; 2] {
        [self.sides[0].missed, self.sides[1].missed]
    }

    /// Reads one message from a side; `out` gets each frame, heart-beat and
    /// violation in order.
    pub fn message(
        &mut self,
        from_client: bool,
        ts: Timestamp,
        bytes: &[u8],
        mut out: impl FnMut(Seen<'_>),
    ) {
        let i = side(from_client);
        if self.sides[i].stopped {
            return;
        }
        self.liveness(from_client, ts, &mut out);
        // A frame cut at the end of the last message goes first.
        let joined;
        let buf: &[u8] = if self.sides[i].cut.is_empty() {
            bytes
        } else {
            let mut cut = std::mem::take(&mut self.sides[i].cut);
            cut.extend_from_slice(bytes);
            joined = cut;
            &joined
        };
        let mut at = 0;
        while at < buf.len() {
            match parse(&buf[at..]) {
                Ok(Step::HeartBeat(n)) => {
                    at += n;
                    self.heart_beats[i] += 1;
                    out(Seen::HeartBeat { from_client });
                }
                Ok(Step::Frame(frame, n)) => {
                    at += n;
                    self.frames[i] += 1;
                    self.frame(from_client, &frame, &mut out);
                    out(Seen::Frame { from_client, frame });
                }
                Ok(Step::Incomplete) => {
                    let rest = &buf[at..];
                    if rest.len() > MAX_FRAME {
                        self.stop(
                            from_client,
                            "frame-too-long",
                            format!("{} bytes and no end", rest.len()),
                            &mut out,
                        );
                    } else {
                        self.sides[i].cut = rest.to_vec();
                    }
                    return;
                }
                Err(e) => {
                    let rule = match e {
                        FrameError::UnknownCommand => "unknown-command",
                        FrameError::MissingNul => "missing-nul",
                        FrameError::TooLong => "frame-too-long",
                    };
                    let start = &buf[at..buf.len().min(at + 16)];
                    let detail = format!("{e} (at {:?})", String::from_utf8_lossy(start));
                    self.stop(from_client, rule, detail, &mut out);
                    return;
                }
            }
        }
    }

    fn stop(
        &mut self,
        from_client: bool,
        rule: &'static str,
        detail: String,
        out: &mut impl FnMut(Seen<'_>),
    ) {
        let s = &mut self.sides[side(from_client)];
        s.stopped = true;
        s.cut = Vec::new();
        out(Seen::Violation {
            from_client,
            violation: Violation { rule, detail },
        });
    }

    /// A side was heard from at `ts`: was it late for its heart-beat?
    fn liveness(&mut self, from_client: bool, ts: Timestamp, out: &mut impl FnMut(Seen<'_>)) {
        let i = side(from_client);
        let every = self.every[i];
        let s = &mut self.sides[i];
        let last = s.last.replace(ts);
        let (Some(last), true) = (last, every > 0) else {
            return;
        };
        let quiet_ms = ts.since(last).0 / 1_000_000;
        if quiet_ms > HEART_BEAT_TOLERANCE * every as i64 {
            s.missed += 1;
            out(Seen::Violation {
                from_client,
                violation: Violation {
                    rule: "missed-heart-beat",
                    detail: format!(
                        "nothing for {quiet_ms} ms, heart-beats every {every} ms agreed"
                    ),
                },
            });
        }
    }

    /// What a frame changes in the session, and what is wrong with it.
    fn frame(&mut self, from_client: bool, f: &Frame<'_>, out: &mut impl FnMut(Seen<'_>)) {
        let mut flag = |rule: &'static str, detail: String| {
            out(Seen::Violation {
                from_client,
                violation: Violation { rule, detail },
            })
        };
        let name = f.command.name();
        if let Some(p) = f.problem {
            let rule = match p {
                Problem::BadEscape => "bad-escape",
                Problem::HeaderWithoutColon => "header-without-colon",
                Problem::BodyNotAllowed => "body-not-allowed",
                Problem::BadContentLength => "bad-content-length",
            };
            flag(rule, format!("{name} frame"));
        }
        if f.command.from_server() == from_client {
            let who = if from_client { "client" } else { "server" };
            flag("wrong-direction", format!("{name} sent by the {who}"));
        }
        match f.command {
            Command::Connect | Command::Stomp => {
                self.offered = Some(
                    f.header("heart-beat")
                        .and_then(|v| heart_beat(&v))
                        .unwrap_or((0, 0)),
                );
            }
            Command::Connected => {
                self.version = Some(f.header("version").map_or("1.0".into(), |v| v.into_owned()));
                let (sx, sy) = f
                    .header("heart-beat")
                    .and_then(|v| heart_beat(&v))
                    .unwrap_or((0, 0));
                let (cx, cy) = self.offered.unwrap_or((0, 0));
                let agree = |a: u64, b: u64| if a == 0 || b == 0 { 0 } else { a.max(b) };
                self.every = [agree(cx, sy), agree(sx, cy)];
            }
            Command::Subscribe => match f.header("id") {
                Some(id) if self.subscriptions.iter().any(|s| **s == *id) => {}
                Some(id) if self.subscriptions.len() < MAX_TRACKED => {
                    self.subscriptions.push(id.into());
                }
                Some(_) => self.untracked += 1,
                // STOMP 1.0 subscriptions may have no id: MESSAGEs for them
                // cannot be checked.
                None => {}
            },
            Command::Unsubscribe => {
                if let Some(id) = f.header("id") {
                    self.subscriptions.retain(|s| **s != *id);
                }
            }
            Command::Message if !from_client => {
                if let Some(sub) = f.header("subscription") {
                    let known = self.subscriptions.iter().any(|s| **s == *sub);
                    if !known && self.untracked == 0 {
                        flag(
                            "message-for-unknown-subscription",
                            format!("subscription {sub:?} was never made (or was ended)"),
                        );
                    }
                }
            }
            Command::Receipt => match f.header("receipt-id") {
                Some(id) => match self.receipts.iter().position(|r| **r == *id) {
                    Some(at) => {
                        self.receipts.swap_remove(at);
                    }
                    None if self.untracked == 0 => flag(
                        "receipt-for-no-request",
                        format!("receipt-id {id:?} was never asked for"),
                    ),
                    None => {}
                },
                None => flag(
                    "receipt-for-no-request",
                    "RECEIPT without receipt-id".into(),
                ),
            },
            Command::Error => {
                let message = f
                    .header("message")
                    .map_or_else(String::new, |m| m.into_owned());
                flag("error-frame", format!("ERROR: {message}"));
            }
            _ => {}
        }
        if from_client && f.command != Command::Connect && f.command != Command::Stomp {
            if let Some(r) = f.header("receipt") {
                if self.receipts.len() < MAX_TRACKED {
                    self.receipts.push(r.into());
                } else {
                    self.untracked += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(buf: &[u8]) -> (Frame<'_>, usize) {
        match parse(buf).unwrap() {
            Step::Frame(f, n) => (f, n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_specifications_examples() {
        // §"Frames and Headers" and §"SEND".
        let send = b"SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello queue a\n\x00";
        let (f, n) = frame(send);
        assert_eq!(n, send.len());
        assert_eq!(f.command, Command::Send);
        assert_eq!(f.header("destination").as_deref(), Some("/queue/a"));
        assert_eq!(f.header("content-type").as_deref(), Some("text/plain"));
        assert_eq!(f.body, b"hello queue a\n");
        assert_eq!(f.problem, None);
        let connect = b"CONNECT\r\naccept-version:1.2\r\nhost:stomp.github.org\r\n\r\n\x00";
        let (f, n) = frame(connect);
        assert_eq!(n, connect.len());
        assert_eq!(f.header("accept-version").as_deref(), Some("1.2"));
        assert_eq!(f.header("host").as_deref(), Some("stomp.github.org"));
        assert!(f.body.is_empty());
    }

    #[test]
    fn frames_follow_each_other_with_heart_beats_between() {
        let buf = b"\nMESSAGE\nsubscription:0\nmessage-id:007\ndestination:/queue/a\n\nhi\x00\r\n\nRECEIPT\nreceipt-id:77\n\n\x00";
        assert_eq!(parse(buf).unwrap(), Step::HeartBeat(1));
        let (f, n) = frame(&buf[1..]);
        assert_eq!((f.command, f.body), (Command::Message, &b"hi"[..]));
        let rest = &buf[1 + n..];
        assert_eq!(parse(rest).unwrap(), Step::HeartBeat(2));
        assert_eq!(parse(&rest[2..]).unwrap(), Step::HeartBeat(1));
        let (f, m) = frame(&rest[3..]);
        assert_eq!(f.command, Command::Receipt);
        assert_eq!(f.header("receipt-id").as_deref(), Some("77"));
        assert_eq!(m, rest.len() - 3);
    }

    #[test]
    fn any_cut_is_incomplete_until_the_frame_is_whole() {
        let buf = b"SEND\ndestination:/q\ncontent-length:5\n\na\x00b\x00c\x00";
        for cut in 0..buf.len() - 1 {
            assert_eq!(parse(&buf[..cut]).unwrap(), Step::Incomplete, "{cut}");
        }
        let (f, n) = frame(buf);
        // content-length: NULs inside the body.
        assert_eq!(
            (f.body, f.counted, n),
            (&b"a\x00b\x00c"[..], true, buf.len())
        );
    }

    #[test]
    fn escapes_are_decoded_except_in_connect_frames() {
        let buf = b"MESSAGE\nsubscription:0\nmessage-id:1\ndestination:/a\\cb\\\\c\\nd\\re\n\n\x00";
        let (f, _) = frame(buf);
        assert_eq!(f.header("destination").as_deref(), Some("/a:b\\c\nd\re"));
        assert_eq!(f.problem, None);
        let buf = b"CONNECT\nlogin:a\\b\n\n\x00";
        let (f, _) = frame(buf);
        assert_eq!(f.header("login").as_deref(), Some("a\\b"));
        assert_eq!(f.problem, None);
        let buf = b"SEND\ndestination:/a\\tb\n\n\x00";
        assert_eq!(frame(buf).0.problem, Some(Problem::BadEscape));
    }

    #[test]
    fn the_first_of_repeated_headers_wins() {
        let buf = b"MESSAGE\nfoo:World\nfoo:Hello\n\n\x00";
        assert_eq!(frame(buf).0.header("foo").as_deref(), Some("World"));
    }

    #[test]
    fn what_cannot_be_framed_and_what_is_only_wrong() {
        assert_eq!(parse(b"HELLO\n\n\x00"), Err(FrameError::UnknownCommand));
        assert_eq!(parse(b"XYZ"), Err(FrameError::UnknownCommand));
        assert_eq!(
            parse(b"SEN").unwrap(),
            Step::Incomplete,
            "a command cut short"
        );
        assert_eq!(
            parse(b"SEND\ncontent-length:2\n\nabc\x00"),
            Err(FrameError::MissingNul)
        );
        let long = [b"SEND\nx:".as_slice(), &[b'y'; MAX_HEADERS_LEN]].concat();
        assert_eq!(parse(&long), Err(FrameError::TooLong));
        let (f, _) = frame(b"SUBSCRIBE\nid:0\ndestination:/a\n\nbody\x00");
        assert_eq!(f.problem, Some(Problem::BodyNotAllowed));
        let (f, _) = frame(b"SEND\ndestination:/a\nnocolon\n\n\x00");
        assert_eq!(f.problem, Some(Problem::HeaderWithoutColon));
        let (f, _) = frame(b"SEND\ncontent-length:x\n\nab\x00");
        assert_eq!(
            (f.problem, f.body),
            (Some(Problem::BadContentLength), &b"ab"[..])
        );
        let (f, _) = frame(b"SEND\nempty:\n\n\x00");
        assert_eq!((f.problem, f.header("empty").as_deref()), (None, Some("")));
    }

    fn run(s: &mut Session, steps: &[(bool, i64, &[u8])]) -> Vec<String> {
        let mut seen = Vec::new();
        for &(from_client, ms, bytes) in steps {
            s.message(from_client, Timestamp(ms * 1_000_000), bytes, |e| {
                seen.push(match e {
                    Seen::Frame { frame, .. } => frame.command.name().to_string(),
                    Seen::HeartBeat { .. } => "heart-beat".to_string(),
                    Seen::Violation { violation, .. } => format!("! {}", violation.rule),
                })
            });
        }
        seen
    }

    #[test]
    fn a_session_subscribes_receives_and_gets_its_receipts() {
        let mut s = Session::new();
        let seen = run(
            &mut s,
            &[
                (true, 0, b"CONNECT\naccept-version:1.2\nheart-beat:1000,2000\n\n\x00"),
                (false, 5, b"CONNECTED\nversion:1.2\nheart-beat:3000,500\n\n\x00"),
                (true, 10, b"SUBSCRIBE\nid:sub-0\ndestination:/topic/a\nreceipt:r1\n\n\x00"),
                (false, 12, b"RECEIPT\nreceipt-id:r1\n\n\x00MESSAGE\nsubscription:sub-0\nmessage-id:1\ndestination:/topic/a\n\nhi\x00"),
                // One frame in two messages, then a heart-beat.
                (true, 900, b"SEND\ndestination:/topic/a\n\nhel"),
                (true, 901, b"lo\x00\n"),
            ],
        );
        assert_eq!(
            seen,
            [
                "CONNECT",
                "CONNECTED",
                "SUBSCRIBE",
                "RECEIPT",
                "MESSAGE",
                "SEND",
                "heart-beat"
            ]
        );
        assert_eq!(s.version.as_deref(), Some("1.2"));
        // Client: max(cx 1000, sy 500); server: max(sx 3000, cy 2000).
        assert_eq!(s.heart_beat_every(), [1000, 3000]);
        assert_eq!(s.frames, [3, 3]);
        assert_eq!(s.missed(), [0, 0]);
    }

    #[test]
    fn each_rule_is_broken_once() {
        let mut s = Session::new();
        let seen = run(
            &mut s,
            &[
                (true, 0, b"CONNECT\nheart-beat:1000,0\n\n\x00"),
                (false, 1, b"CONNECTED\nheart-beat:0,1000\n\n\x00"),
                (
                    false,
                    2,
                    b"MESSAGE\nsubscription:nope\nmessage-id:1\ndestination:/a\n\n\x00",
                ),
                (false, 3, b"RECEIPT\nreceipt-id:r9\n\n\x00"),
                (true, 4, b"MESSAGE\nsubscription:x\n\n\x00"),
                (true, 5, b"SEND\ndestination:/a\\q\n\n\x00"),
                // 1000 ms agreed for the client, 2500 ms of silence.
                (true, 2505, b"\n"),
                (false, 2600, b"ERROR\nmessage:malformed frame\n\n\x00"),
                (false, 2700, b"BOGUS\n\n\x00"),
                (false, 2800, b"RECEIPT\nreceipt-id:r9\n\n\x00"),
            ],
        );
        assert_eq!(s.version.as_deref(), Some("1.0"));
        assert_eq!(s.heart_beat_every(), [1000, 0]);
        assert_eq!(
            seen,
            [
                "CONNECT",
                "CONNECTED",
                "! message-for-unknown-subscription",
                "MESSAGE",
                "! receipt-for-no-request",
                "RECEIPT",
                "! wrong-direction",
                "MESSAGE",
                "! bad-escape",
                "SEND",
                "! missed-heart-beat",
                "heart-beat",
                "! error-frame",
                "ERROR",
                "! unknown-command",
                // The server's side stopped at the bytes it could not frame.
            ]
        );
        assert_eq!(s.missed(), [1, 0]);
    }

    #[test]
    fn a_frame_that_never_ends_is_given_up() {
        let mut s = Session::new();
        let mut seen = run(&mut s, &[(true, 0, b"SEND\ndestination:/a\n\n")]);
        let big = vec![b'x'; MAX_FRAME];
        seen.extend(run(&mut s, &[(true, 1, &big), (true, 2, b"\x00")]));
        assert_eq!(seen, ["! frame-too-long"]);
    }
}
