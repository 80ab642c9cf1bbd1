//! permessage-deflate (RFC 7692): the negotiated parameters, and a bounded,
//! streaming inflater per direction.
//!
//! A compressed message is the raw DEFLATE data of its frames followed by the
//! four bytes 00 00 ff ff the sender removed (§7.2.2). The inflater keeps its
//! window across messages ("context takeover") unless the sender agreed to
//! `*_no_context_takeover`, and is created with the negotiated
//! `*_max_window_bits` — so data referring further back than the agreed
//! window fails to inflate and is reported. (flate2 cannot open a 256-byte
//! window: 8 bits inflates with 9, which reads every valid 8-bit stream.)
//! Output is capped per message: a decompression bomb is reported, not
//! followed.

use flate2::{Decompress, FlushDecompress, Status};

/// What the server accepted (from its Sec-WebSocket-Extensions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// The permessage-deflate parameters in an accepted extensions header, if
/// permessage-deflate is among them. Unknown or malformed parameters make it
/// `Err` with the reason (the server must not accept those).
pub fn parse_extensions(header: &str) -> Option<Result<DeflateParams, String>> {
    for ext in header.split(',') {
        let mut parts = ext.split(';').map(str::trim);
        if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
            continue;
        }
        let mut p = DeflateParams::default();
        for param in parts.filter(|s| !s.is_empty()) {
            let (name, value) = match param.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (param, None),
            };
            let bits = |v: Option<&str>| -> Result<u8, String> {
                match v {
                    None => Ok(15),
                    Some(v) => match v.parse::<u8>() {
                        Ok(b @ 8..=15) => Ok(b),
                        _ => Err(format!("{name}={v} is not 8..15")),
                    },
                }
            };
            match name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" => p.server_no_context_takeover = true,
                "client_no_context_takeover" => p.client_no_context_takeover = true,
                "server_max_window_bits" => match bits(value) {
                    Ok(b) => p.server_max_window_bits = b,
                    Err(e) => return Some(Err(e)),
                },
                "client_max_window_bits" => match bits(value) {
                    Ok(b) => p.client_max_window_bits = b,
                    Err(e) => return Some(Err(e)),
                },
                other => return Some(Err(format!("unknown parameter {other}"))),
            }
        }
        return Some(Ok(p));
    }
    None
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    #[error("invalid DEFLATE data: {0}")]
    Corrupt(String),
    #[error("the message inflates past the {0}-byte limit")]
    TooBig(u64),
}

/// One direction's decompressor.
pub struct Inflater {
    d: Decompress,
    window_bits: u8,
    context_takeover: bool,
    out: Vec<u8>,
    /// Bytes produced for the current message.
    produced: u64,
    limit: u64,
}

impl Inflater {
    pub fn new(window_bits: u8, context_takeover: bool, limit: u64) -> Self {
        let window_bits = window_bits.clamp(9, 15);
        Inflater {
            d: Decompress::new_with_window_bits(false, window_bits),
            window_bits,
            context_takeover,
            out: vec![0; 32 * 1024],
            produced: 0,
            limit,
        }
    }

    /// Whether messages refer back to earlier ones (context takeover).
    pub fn keeps_context(&self) -> bool {
        self.context_takeover
    }

    /// Forgets the window (after data that could not be inflated).
    pub fn reset(&mut self) {
        self.d = Decompress::new_with_window_bits(false, self.window_bits);
        self.produced = 0;
    }

    pub fn begin_message(&mut self) {
        self.produced = 0;
        if !self.context_takeover {
            self.d = Decompress::new_with_window_bits(false, self.window_bits);
        }
    }

    /// Inflates `input` (part of a message's compressed payload), passing
    /// the output to `sink`.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), InflateError> {
        while !input.is_empty() {
            let (before_in, before_out) = (self.d.total_in(), self.d.total_out());
            let status = self
                .d
                .decompress(input, &mut self.out, FlushDecompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            let used = (self.d.total_in() - before_in) as usize;
            let made = (self.d.total_out() - before_out) as usize;
            input = &input[used..];
            if made > 0 {
                self.produced += made as u64;
                if self.produced > self.limit {
                    return Err(InflateError::TooBig(self.limit));
                }
                sink(&self.out[..made]);
            }
            if used == 0 && made == 0 {
                if status == Status::StreamEnd {
                    // A final block inside a message: nothing more can follow.
                    return Err(InflateError::Corrupt(
                        "a final DEFLATE block in the middle of a message".into(),
                    ));
                }
                break;
            }
        }
        Ok(())
    }

    /// Ends a message: feeds the removed 00 00 ff ff tail and drains.
    pub fn end_message(&mut self, sink: &mut dyn FnMut(&[u8])) -> Result<(), InflateError> {
        self.feed(&[0x00, 0x00, 0xff, 0xff], sink)?;
        // Drain whatever the tail unblocked.
        loop {
            let before_out = self.d.total_out();
            self.d
                .decompress(&[], &mut self.out, FlushDecompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            let made = (self.d.total_out() - before_out) as usize;
            if made == 0 {
                return Ok(());
            }
            self.produced += made as u64;
            if self.produced > self.limit {
                return Err(InflateError::TooBig(self.limit));
            }
            sink(&self.out[..made]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// What a permessage-deflate sender puts on the wire for `msg`.
    fn deflate(c: &mut Compress, msg: &[u8]) -> Vec<u8> {
        let mut out = vec![0; msg.len() + 64];
        let before = c.total_out();
        c.compress(msg, &mut out, FlushCompress::Sync).unwrap();
        out.truncate((c.total_out() - before) as usize);
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    }

    fn inflate(inf: &mut Inflater, wire: &[u8]) -> Result<Vec<u8>, InflateError> {
        let mut got = Vec::new();
        inf.begin_message();
        inf.feed(wire, &mut |b| got.extend_from_slice(b))?;
        inf.end_message(&mut |b| got.extend_from_slice(b))?;
        Ok(got)
    }

    #[test]
    fn rfc_7692_hello() {
        // §7.2.3.1: "Hello" compressed: f2 48 cd c9 c9 07 00.
        let mut inf = Inflater::new(15, true, 1 << 20);
        assert_eq!(
            inflate(&mut inf, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]).unwrap(),
            b"Hello"
        );
        // §7.2.3.2: the same again with context takeover: f2 00 11 00 00.
        assert_eq!(
            inflate(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn context_takeover_matters() {
        let mut c = Compress::new_with_window_bits(Compression::default(), false, 15);
        let a = deflate(&mut c, b"the same words, the same words again");
        let b = deflate(&mut c, b"the same words, the same words again");
        let mut keep = Inflater::new(15, true, 1 << 20);
        inflate(&mut keep, &a).unwrap();
        assert_eq!(
            inflate(&mut keep, &b).unwrap(),
            b"the same words, the same words again"
        );
        // Without takeover the second message's back-references dangle.
        let mut fresh = Inflater::new(15, false, 1 << 20);
        inflate(&mut fresh, &a).unwrap();
        assert!(matches!(
            inflate(&mut fresh, &b),
            Err(InflateError::Corrupt(_))
        ));
    }

    #[test]
    fn bombs_are_stopped() {
        let mut c = Compress::new_with_window_bits(Compression::best(), false, 15);
        let zeros = vec![0u8; 1 << 20];
        let wire = deflate(&mut c, &zeros);
        assert!(wire.len() < 2000);
        let mut inf = Inflater::new(15, true, 64 * 1024);
        assert_eq!(
            inflate(&mut inf, &wire),
            Err(InflateError::TooBig(64 * 1024))
        );
    }

    #[test]
    fn extension_parameters() {
        assert_eq!(parse_extensions("x-webkit-deflate-frame"), None);
        let p = parse_extensions(
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        )
        .unwrap()
        .unwrap();
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (15, 10)
        );
        let p = parse_extensions("foo, permessage-deflate; client_max_window_bits")
            .unwrap()
            .unwrap();
        assert_eq!(p.client_max_window_bits, 15);
        assert!(
            parse_extensions("permessage-deflate; server_max_window_bits=7")
                .unwrap()
                .is_err()
        );
        assert!(parse_extensions("permessage-deflate; bogus")
            .unwrap()
            .is_err());
    }
}
