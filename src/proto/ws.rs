//! WebSocket frames (RFC 6455 §5.2): a checked view of the header bytes and
//! the small owned [`FrameHeader`] the session works with.
//!
//! ```text
//!  0               1               2               3
//!  F R R R opcode  M len(7)        [len 16 or 64]  [masking key (4)]
//! ```

/// Byte positions and bits of the fixed part of a frame header.
mod field {
    pub const FLAGS: usize = 0;
    pub const LEN: usize = 1;
    pub const FIN: u8 = 0x80;
    pub const RSV1: u8 = 0x40;
    pub const RSV2: u8 = 0x20;
    pub const RSV3: u8 = 0x10;
    pub const OPCODE: u8 = 0x0f;
    pub const MASK: u8 = 0x80;
    pub const LEN7: u8 = 0x7f;
    pub const LEN_16: u8 = 126;
    pub const LEN_64: u8 = 127;
}

/// The longest header: 2 + 8 (length) + 4 (mask).
pub const MAX_HEADER: usize = 14;

/// A frame's opcode; reserved values are kept, not rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
    Reserved(u8),
}

impl Opcode {
    pub fn from_u8(v: u8) -> Opcode {
        match v & 0x0f {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xa => Opcode::Pong,
            other => Opcode::Reserved(other),
        }
    }

    pub fn value(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xa,
            Opcode::Reserved(v) => v,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Opcode::Continuation => "continuation",
            Opcode::Text => "text",
            Opcode::Binary => "binary",
            Opcode::Close => "close",
            Opcode::Ping => "ping",
            Opcode::Pong => "pong",
            Opcode::Reserved(_) => "reserved",
        }
    }

    /// Close, ping, pong, and the reserved control opcodes 0xB-0xF.
    pub fn is_control(self) -> bool {
        self.value() & 0x08 != 0
    }

    pub fn is_data_start(self) -> bool {
        matches!(self, Opcode::Text | Opcode::Binary)
    }
}

/// How the payload length was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LengthForm {
    Short,
    U16,
    U64,
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv1: bool,
    pub rsv2: bool,
    pub rsv3: bool,
    pub opcode: Opcode,
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
    pub header_len: usize,
    pub length_form: LengthForm,
}

impl FrameHeader {
    /// RFC 6455 §5.2: the minimal number of bytes must be used for the length.
    pub fn non_minimal_length(&self) -> bool {
        match self.length_form {
            LengthForm::Short => false,
            LengthForm::U16 => self.payload_len < 126,
            LengthForm::U64 => self.payload_len <= 0xffff,
        }
    }

    /// RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
    pub fn length_top_bit(&self) -> bool {
        self.length_form == LengthForm::U64 && self.payload_len >> 63 == 1
    }

    /// A whole data message in one frame that breaks no rule by itself:
    /// FIN, no RSV bit, text or binary, its length written minimally.
    pub fn is_plain_message(&self) -> bool {
        self.fin
            && !(self.rsv1 || self.rsv2 || self.rsv3)
            && self.opcode.is_data_start()
            && !self.non_minimal_length()
            && !self.length_top_bit()
    }
}

/// Where the plain message frame `h` (read from the start of `data`) ends
/// in `data`, if all of it is there and, if text, ASCII once unmasked.
pub fn plain_message_end(h: &FrameHeader, data: &[u8]) -> Option<usize> {
    if !h.is_plain_message() {
        return None;
    }
    let end = h
        .header_len
        .checked_add(usize::try_from(h.payload_len).ok()?)?;
    let body = data.get(h.header_len..end)?;
    if h.opcode == Opcode::Text && !is_ascii_unmasked(body, h.mask) {
        // Other UTF-8 (or none) is for the general path to check.
        return None;
    }
    Some(end)
}

/// A checked view of the bytes a frame header may occupy.
pub struct FrameView<'a> {
    bytes: &'a [u8],
}

impl<'a> FrameView<'a> {
    /// How many bytes the header needs, given what is available: `Ok(n)`
    /// when complete (the header is `n` bytes), `Err(n)` when at least `n`
    /// bytes are needed.
    pub fn check_len(bytes: &'a [u8]) -> Result<FrameView<'a>, usize> {
        if bytes.len() < 2 {
            return Err(2);
        }
        let len7 = bytes[field::LEN] & field::LEN7;
        let masked = bytes[field::LEN] & field::MASK != 0;
        let ext = match len7 {
            field::LEN_16 => 2,
            field::LEN_64 => 8,
            _ => 0,
        };
        let need = 2 + ext + if masked { 4 } else { 0 };
        if bytes.len() < need {
            return Err(need);
        }
        Ok(FrameView {
            bytes: &bytes[..need],
        })
    }

    /// The header (the view's length is checked, so nothing here can panic).
    pub fn header(&self) -> FrameHeader {
        let b = self.bytes;
        let flags = b[field::FLAGS];
        let len7 = b[field::LEN] & field::LEN7;
        let masked = b[field::LEN] & field::MASK != 0;
        let (payload_len, ext, form) = match len7 {
            field::LEN_16 => (
                u64::from(u16::from_be_bytes([b[2], b[3]])),
                2,
                LengthForm::U16,
            ),
            field::LEN_64 => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(a), 8, LengthForm::U64)
            }
            n => (u64::from(n), 0, LengthForm::Short),
        };
        let mask = masked.then(|| {
            let m = 2 + ext;
            [b[m], b[m + 1], b[m + 2], b[m + 3]]
        });
        FrameHeader {
            fin: flags & field::FIN != 0,
            rsv1: flags & field::RSV1 != 0,
            rsv2: flags & field::RSV2 != 0,
            rsv3: flags & field::RSV3 != 0,
            opcode: Opcode::from_u8(flags & field::OPCODE),
            mask,
            payload_len,
            header_len: b.len(),
            length_form: form,
        }
    }
}

/// Unmasks `data` in place; `pos` is the offset of `data[0]` in the payload.
/// Eight bytes at a time: the key, rotated to `pos`, repeated to a `u64`.
pub fn unmask(data: &mut [u8], key: [u8; 4], pos: u64) {
    let start = (pos % 4) as usize;
    let rotated: [u8; 4] = std::array::from_fn(|i| key[(start + i) % 4]);
    let k8 = u64::from_ne_bytes(std::array::from_fn(|i| rotated[i % 4]));
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c.try_into().expect("8 bytes")) ^ k8;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= rotated[i % 4];
    }
}

/// Whether `data` (a payload from its first byte, masked with `mask` if
/// given) is all ASCII once unmasked — checked in place, eight bytes at a
/// time: unmasking flips a byte's top bit exactly where the key's has it.
pub fn is_ascii_unmasked(data: &[u8], mask: Option<[u8; 4]>) -> bool {
    let Some(key) = mask else {
        return data.is_ascii();
    };
    let k8 = u64::from_ne_bytes(std::array::from_fn(|i| key[i % 4]));
    let mut chunks = data.chunks_exact(8);
    let mut high = 0u64;
    for c in &mut chunks {
        high |= u64::from_ne_bytes(c.try_into().expect("8 bytes")) ^ k8;
    }
    for (i, b) in chunks.remainder().iter().enumerate() {
        high |= u64::from(b ^ key[i % 4]);
    }
    high & 0x8080_8080_8080_8080 == 0
}

/// A packet's payload that is, from its first byte to its last, whole
/// WebSocket messages of the common kind: each a single frame (FIN, no RSV
/// bit, text or binary, minimal length, ASCII if text), all masked or all
/// not. Found by [`frame_run`] on the source thread, where there is time to
/// spare; a session at a frame boundary then counts them without parsing
/// (the general parser would count exactly the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRun {
    pub frames: u16,
    /// Payload bytes of all the frames.
    pub bytes: u32,
    pub masked: bool,
}

impl FrameRun {
    /// As a nonzero word (0 stands for no run), to travel with a packet.
    pub fn to_note(self) -> u64 {
        u64::from(self.bytes) | u64::from(self.frames) << 32 | u64::from(self.masked) << 48
    }

    pub fn from_note(note: u64) -> Option<FrameRun> {
        let frames = (note >> 32) as u16;
        (frames > 0).then_some(FrameRun {
            frames,
            bytes: note as u32,
            masked: note >> 48 & 1 == 1,
        })
    }
}

/// The [`FrameRun`] that `payload` is, if it is one.
pub fn frame_run(payload: &[u8]) -> Option<FrameRun> {
    if payload.len() < 2 || payload.len() > usize::from(u16::MAX) {
        return None;
    }
    let masked = payload[field::LEN] & field::MASK != 0;
    let mut run = FrameRun {
        frames: 0,
        bytes: 0,
        masked,
    };
    let mut rest = payload;
    while !rest.is_empty() {
        let h = FrameView::check_len(rest).ok()?.header();
        if h.mask.is_some() != masked {
            return None;
        }
        let end = plain_message_end(&h, rest)?;
        // All within a payload of at most 64 KiB: these cannot overflow.
        run.frames += 1;
        run.bytes += h.payload_len as u32;
        rest = &rest[end..];
    }
    Some(run)
}

/// RFC 6455 §7.4: may this close code appear on the wire? 1000-1003,
/// 1007-1014 (registered), 3000-4999 (libraries and applications).
pub fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(b: &[u8]) -> FrameHeader {
        FrameView::check_len(b).unwrap().header()
    }

    #[test]
    fn short_masked_text() {
        // A masked "Hello" from RFC 6455 §5.7.
        let f = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let h = header(&f);
        assert!(h.fin && !h.rsv1);
        assert_eq!(h.opcode, Opcode::Text);
        assert_eq!((h.payload_len, h.header_len), (5, 6));
        let mut p = f[6..].to_vec();
        unmask(&mut p, h.mask.unwrap(), 0);
        assert_eq!(p, b"Hello");
        // Unmasking in two pieces gives the same.
        let mut a = f[6..8].to_vec();
        let mut b = f[8..].to_vec();
        unmask(&mut a, h.mask.unwrap(), 0);
        unmask(&mut b, h.mask.unwrap(), 2);
        assert_eq!([a, b].concat(), b"Hello");
    }

    #[test]
    fn unmasking_in_words_equals_bytewise() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let plain: Vec<u8> = (0..100u8).collect();
        for pos in 0..8u64 {
            for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 100] {
                let mut d = plain[..len].to_vec();
                unmask(&mut d, key, pos);
                let want: Vec<u8> = plain[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(pos as usize + i) % 4])
                    .collect();
                assert_eq!(d, want, "pos {pos} len {len}");
            }
        }
    }

    #[test]
    fn frame_runs_are_whole_plain_messages() {
        let key = [1, 2, 3, 4];
        let frame = |b0: u8, payload: &[u8], mask: Option<[u8; 4]>| {
            let mut f = vec![b0];
            let m = if mask.is_some() { 0x80 } else { 0 };
            if payload.len() < 126 {
                f.push(m | payload.len() as u8);
            } else {
                f.push(m | 126);
                f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            }
            let mut p = payload.to_vec();
            if let Some(k) = mask {
                f.extend_from_slice(&k);
                unmask(&mut p, k, 0);
            }
            f.extend(p);
            f
        };
        let long = vec![b'x'; 300];
        let mut two = frame(0x81, b"hello", Some(key));
        two.extend(frame(0x82, &[0xff; 9], Some(key)));
        assert_eq!(
            frame_run(&two),
            Some(FrameRun {
                frames: 2,
                bytes: 14,
                masked: true
            })
        );
        let mut srv = frame(0x81, &long, None);
        srv.extend(frame(0x81, b"", None));
        let run = frame_run(&srv).unwrap();
        assert_eq!(
            run,
            FrameRun {
                frames: 2,
                bytes: 300,
                masked: false
            }
        );
        assert_eq!(FrameRun::from_note(run.to_note()), Some(run));
        assert_eq!(FrameRun::from_note(0), None);
        // Not a run: a frame cut short, trailing bytes, mixed masking, not
        // FIN, RSV1, a control frame, non-ASCII text, a non-minimal length,
        // or no frame at all (HTTP).
        let mut mixed = frame(0x81, b"a", Some(key));
        mixed.extend(frame(0x81, b"b", None));
        let mut trailing = frame(0x82, b"ab", None);
        trailing.push(0x81);
        for bad in [
            two[..two.len() - 1].to_vec(),
            trailing,
            mixed,
            frame(0x01, b"frag", None),
            frame(0xc1, b"rsv1", None),
            frame(0x89, b"ping", None),
            frame(0x81, "\u{e9}".as_bytes(), Some(key)),
            vec![0x81, 0x7e, 0x00, 0x01, b'a'],
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            vec![0x81],
        ] {
            assert_eq!(frame_run(&bad), None, "{bad:02x?}");
        }
    }

    #[test]
    fn ascii_check_sees_through_the_mask() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 100] {
            let ascii: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let mut masked = ascii.clone();
            unmask(&mut masked, key, 0);
            assert!(is_ascii_unmasked(&ascii, None), "len {len}");
            assert!(is_ascii_unmasked(&masked, Some(key)), "len {len}");
            // One non-ASCII byte anywhere is seen, masked or not.
            for at in 0..len {
                let mut other = ascii.clone();
                other[at] = 0xc3;
                assert!(!is_ascii_unmasked(&other, None), "len {len} at {at}");
                unmask(&mut other, key, 0);
                assert!(!is_ascii_unmasked(&other, Some(key)), "len {len} at {at}");
            }
        }
    }

    #[test]
    fn extended_lengths_and_their_rules() {
        // 256 bytes, 16-bit length, unmasked binary (RFC 6455 §5.7).
        let h = header(&[0x82, 0x7e, 0x01, 0x00]);
        assert_eq!(
            (h.payload_len, h.length_form, h.header_len),
            (256, LengthForm::U16, 4)
        );
        assert!(!h.non_minimal_length());
        // 64 KiB, 64-bit length.
        let h = header(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(h.payload_len, 65536);
        assert!(!h.non_minimal_length() && !h.length_top_bit());
        // 5 bytes written with 16 bits: not minimal.
        assert!(header(&[0x81, 0x7e, 0, 5]).non_minimal_length());
        // Top bit set.
        assert!(header(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]).length_top_bit());
    }

    #[test]
    fn header_length_is_checked_first() {
        assert_eq!(FrameView::check_len(&[0x81]).err(), Some(2));
        assert_eq!(FrameView::check_len(&[0x81, 0xfe, 0]).err(), Some(8));
        assert_eq!(FrameView::check_len(&[0x82, 0x7f, 0, 0]).err(), Some(10));
    }

    #[test]
    fn opcodes_and_close_codes() {
        assert!(Opcode::from_u8(0x8).is_control());
        assert!(Opcode::from_u8(0xb).is_control());
        assert_eq!(Opcode::from_u8(0x3), Opcode::Reserved(3));
        assert!(!Opcode::Reserved(3).is_control());
        for ok in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(close_code_allowed(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!close_code_allowed(bad), "{bad}");
        }
    }
}
