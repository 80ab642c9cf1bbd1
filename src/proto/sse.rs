//! Server-Sent Events: the `text/event-stream` format (WHATWG HTML
//! §9.2.6), read as a response body arrives in any pieces.
//!
//! Lines end with CRLF, LF or CR (a CR at the end of one piece and an LF at
//! the start of the next are one line end); a blank line ends a block; a
//! line starting with `:` is a comment (servers send them as heart-beats);
//! `field: value` lines set `event`, `data` (repeated lines are joined with
//! LF), `id` (unless it holds a NUL) and `retry` (digits only); other
//! fields are ignored. A block whose data is empty is not dispatched to the
//! application, but it is reported (its id, retry or comments still mean
//! something). Memory is bounded: each line keeps at most
//! [`MAX_LINE_KEPT`] bytes, a block's data at most the preview asked for;
//! lengths are counted in full.

/// Bytes of one line kept while it is read (field names and short values);
/// the rest is counted.
pub const MAX_LINE_KEPT: usize = 1024;
/// Longest `event` or `id` value kept.
const MAX_NAME: usize = 256;

/// One block of the stream, ended by a blank line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseBlock {
    pub event: Option<String>,
    pub id: Option<String>,
    /// Length of the data as the application receives it (lines joined by
    /// LF, no final LF), in bytes.
    pub data_len: u64,
    /// The data's first bytes (up to the preview), as text.
    pub data: String,
    pub data_truncated: bool,
    pub data_lines: u32,
    /// The first comment's text (heart-beats), if any.
    pub comment: Option<String>,
    pub comments: u32,
    pub retry: Option<u64>,
    /// Delivered to the application as an event (its data was not empty).
    pub dispatched: bool,
}

impl SseBlock {
    fn is_empty(&self) -> bool {
        self.event.is_none()
            && self.id.is_none()
            && self.data_lines == 0
            && self.comments == 0
            && self.retry.is_none()
    }
}

/// Reads an event stream.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The line being read: its first [`MAX_LINE_KEPT`] bytes, and its
    /// whole length.
    line: Vec<u8>,
    line_len: u64,
    /// The last byte seen was a CR (an LF right after it is not a new line).
    after_cr: bool,
    /// Past the start of the stream (where a BOM is skipped), and the
    /// BOM's bytes seen so far.
    started: bool,
    bom_seen: usize,
    block: SseBlock,
    /// Bytes of data kept for the preview.
    preview: usize,
    /// Raw data bytes kept (valid UTF-8 is checked at the end of the block).
    data_kept: Vec<u8>,
}

impl SseParser {
    /// A parser keeping up to `preview` bytes of each block's data.
    pub fn new(preview: usize) -> Self {
        SseParser {
            preview,
            ..SseParser::default()
        }
    }

    /// Bytes the parser holds.
    pub fn held_bytes(&self) -> usize {
        self.line.capacity() + self.data_kept.capacity()
    }

    /// Drops the buffers (memory is short): the block being read is lost.
    pub fn shed(&mut self) {
        self.line = Vec::new();
        self.data_kept = Vec::new();
        self.block = SseBlock::default();
        self.line_len = 0;
    }

    /// Reads `data`; `on` gets each block that a blank line in it ended.
    pub fn feed(&mut self, mut data: &[u8], mut on: impl FnMut(SseBlock)) {
        // A byte order mark at the start of the stream is skipped, even
        // when it arrives cut across pieces.
        const BOM: &[u8] = "\u{feff}".as_bytes();
        while !self.started && !data.is_empty() {
            if data[0] == BOM[self.bom_seen] {
                self.bom_seen += 1;
                data = &data[1..];
                self.started = self.bom_seen == BOM.len();
            } else {
                self.started = true;
                let partial = &BOM[..self.bom_seen];
                self.take(partial);
            }
        }
        while !data.is_empty() {
            if self.after_cr && data[0] == b'\n' {
                data = &data[1..];
                self.after_cr = false;
                continue;
            }
            self.after_cr = false;
            match data.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.take(data);
                    return;
                }
                Some(end) => {
                    self.take(&data[..end]);
                    self.after_cr = data[end] == b'\r';
                    data = &data[end + 1..];
                    self.line_done(&mut on);
                }
            }
        }
    }

    fn take(&mut self, part: &[u8]) {
        let room = MAX_LINE_KEPT.saturating_sub(self.line.len());
        self.line.extend_from_slice(&part[..part.len().min(room)]);
        self.line_len += part.len() as u64;
    }

    fn line_done(&mut self, on: &mut impl FnMut(SseBlock)) {
        let len = std::mem::take(&mut self.line_len);
        if len == 0 {
            self.line.clear();
            let mut block = std::mem::take(&mut self.block);
            if !block.is_empty() {
                block.dispatched = block.data_lines > 0;
                let (text, cut) = text_of(&self.data_kept);
                block.data = text;
                block.data_truncated |= cut;
                on(block);
            }
            self.data_kept.clear();
            return;
        }
        let line = std::mem::take(&mut self.line);
        if line[0] == b':' {
            self.block.comments += 1;
            if self.block.comment.is_none() {
                let c = &line[1..];
                let c = c.strip_prefix(b" ").unwrap_or(c);
                self.block.comment = Some(text_of(&c[..c.len().min(MAX_NAME)]).0);
            }
        } else {
            let colon = line.iter().position(|&b| b == b':');
            let (name, value_at) = match colon {
                Some(c) => (&line[..c], c + 1),
                None => (&line[..], line.len()),
            };
            let mut value_at = value_at;
            if line.get(value_at) == Some(&b' ') {
                value_at += 1;
            }
            let value = &line[value_at.min(line.len())..];
            let value_len = len - value_at as u64;
            match name {
                b"data" => {
                    let b = &mut self.block;
                    if b.data_lines > 0 {
                        b.data_len += 1;
                        self.keep_data(b"\n");
                    }
                    self.block.data_lines += 1;
                    self.block.data_len += value_len;
                    self.keep_data(value);
                    if value_len > value.len() as u64 {
                        self.block.data_truncated = true;
                    }
                }
                b"event" => self.block.event = Some(text_of(&value[..value.len().min(MAX_NAME)]).0),
                b"id" if !value.contains(&0) => {
                    self.block.id = Some(text_of(&value[..value.len().min(MAX_NAME)]).0)
                }
                b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                    self.block.retry = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok())
                }
                _ => {}
            }
        }
        self.line = line;
        self.line.clear();
    }

    fn keep_data(&mut self, bytes: &[u8]) {
        let room = self.preview.saturating_sub(self.data_kept.len());
        if bytes.len() > room {
            self.block.data_truncated = true;
        }
        self.data_kept
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// Text of kept bytes: UTF-8 (a character cut at the end of the kept part
/// is dropped, and reported as a truncation), invalid bytes replaced.
fn text_of(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), false),
        Err(e) if e.error_len().is_none() => (
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
            true,
        ),
        Err(_) => (String::from_utf8_lossy(bytes).into_owned(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(stream: &[u8], step: usize, preview: usize) -> Vec<SseBlock> {
        let mut p = SseParser::new(preview);
        let mut out = Vec::new();
        for piece in stream.chunks(step) {
            p.feed(piece, |b| out.push(b));
        }
        out
    }

    #[test]
    fn whatwg_examples_in_any_pieces() {
        let stream = "\u{feff}: hello\r\n\r\nevent: add\ndata: one\ndata:two\nid: 7\nretry: 800\n\ndata\r\rdata: x\r\n\r\nid: 9\nretry: soon\n\n: tick\n\n";
        for step in 1..stream.len() {
            let b = blocks(stream.as_bytes(), step, 100);
            assert_eq!(b.len(), 6, "step {step}: {b:?}");
            assert_eq!(b[0].comment.as_deref(), Some("hello"));
            assert!(!b[0].dispatched);
            assert_eq!(b[1].event.as_deref(), Some("add"));
            assert_eq!(b[1].data, "one\ntwo");
            assert_eq!((b[1].data_len, b[1].data_lines), (7, 2));
            assert_eq!((b[1].id.as_deref(), b[1].retry), (Some("7"), Some(800)));
            assert!(b[1].dispatched);
            // `data` alone is an empty data line: dispatched with "" (CR CR
            // is two line ends).
            assert_eq!(
                (b[2].data.as_str(), b[2].data_len, b[2].dispatched),
                ("", 0, true)
            );
            assert_eq!(b[3].data, "x");
            assert_eq!((b[4].id.as_deref(), b[4].retry), (Some("9"), None), "{b:?}");
            assert!(!b[4].dispatched);
            assert_eq!(b[5].comment.as_deref(), Some("tick"));
        }
    }

    #[test]
    fn long_data_is_counted_and_cut() {
        let big = format!("data: {}\n\n", "é".repeat(2000));
        let b = blocks(big.as_bytes(), 700, 101);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].data_len, 4000);
        assert!(b[0].data_truncated);
        assert_eq!(b[0].data.chars().count(), 50, "a cut character is dropped");
        let mut p = SseParser::new(10);
        p.feed(big.as_bytes(), |_| {});
        assert!(p.held_bytes() <= 2 * MAX_LINE_KEPT + 64);
    }
}
