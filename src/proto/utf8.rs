//! UTF-8 validation of a message that arrives in pieces (RFC 6455 §8.1: a
//! text message must be valid UTF-8 as a whole; a character may be split
//! across frames and TCP segments).

/// The width of the character a lead byte starts (0: not a lead byte).
fn width(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

/// A streaming validator: keeps at most the three bytes of a character cut
/// at the end of a piece.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Check {
    pending: [u8; 4],
    pending_len: u8,
    invalid: bool,
}

impl Utf8Check {
    pub fn is_invalid(&self) -> bool {
        self.invalid
    }

    pub fn feed(&mut self, mut data: &[u8]) {
        if self.invalid {
            return;
        }
        if self.pending_len > 0 {
            let need = width(self.pending[0]).max(2);
            let mut have = self.pending_len as usize;
            while have < need && !data.is_empty() {
                self.pending[have] = data[0];
                have += 1;
                data = &data[1..];
            }
            self.pending_len = have as u8;
            match std::str::from_utf8(&self.pending[..have]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() => {
                    self.invalid = true;
                    return;
                }
                // Still cut short: wait for the next piece.
                Err(_) => return,
            }
        }
        if let Err(e) = std::str::from_utf8(data) {
            if e.error_len().is_some() {
                self.invalid = true;
            } else {
                let tail = &data[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
            }
        }
    }

    /// The message is over: a character still cut short is invalid.
    pub fn finish(&mut self) -> bool {
        if self.pending_len > 0 {
            self.invalid = true;
        }
        !self.invalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_split(bytes: &[u8]) -> bool {
        let whole = std::str::from_utf8(bytes).is_ok();
        // Every way of cutting it in three gives the same answer.
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let mut c = Utf8Check::default();
                c.feed(&bytes[..i]);
                c.feed(&bytes[i..j]);
                c.feed(&bytes[j..]);
                assert_eq!(c.finish(), whole, "{bytes:x?} cut at {i}, {j}");
            }
        }
        whole
    }

    #[test]
    fn split_characters_are_joined() {
        assert!(check_split("héllo €𝄞 κόσμε".as_bytes()));
        assert!(check_split(b""));
    }

    #[test]
    fn invalid_sequences_are_found_wherever_cut() {
        // From RFC 6455's test suite (Autobahn 6.x): a surrogate, an
        // overlong form, a truncated character, a stray continuation byte.
        for bad in [
            &b"\xed\xa0\x80"[..],
            b"\xc0\xaf",
            b"ab\xe2\x82",
            b"\x80abc",
            b"\xf4\x90\x80\x80",
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        ] {
            assert!(!check_split(bad), "{bad:x?}");
        }
    }
}
