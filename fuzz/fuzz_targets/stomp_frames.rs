//! STOMP frames from arbitrary bytes, read as a session's messages would
//! be: frame after frame and heart-beat after heart-beat from the start,
//! and again in pieces of a size the first byte picks (a frame cut across
//! pieces is asked for again with the next piece appended). No panic; each
//! step uses at least one byte and no more than it was given; a frame's
//! body lies inside what it used; every header reads; a counted body is
//! exactly its content-length; and reading in pieces finds the same frames
//! as reading the whole. A session is then given the bytes as messages
//! from both sides (the first byte's top bit picks who starts) one
//! second apart: no panic, and it counts the frames it reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::proto::stomp::{parse, Frame, Seen, Session, Step};
use sockscope::time::Timestamp;

/// Reads `buf` from the start: the frames (command, body) found, and where
/// reading stopped (an error or an incomplete frame).
fn read_all(buf: &[u8]) -> (Vec<(&'static str, Vec<u8>)>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        match parse(&buf[at..]) {
            Ok(Step::Frame(f, n)) => {
                assert!(n >= 1 && n <= buf.len() - at);
                check(&f, &buf[at..at + n]);
                frames.push((f.command.name(), f.body.to_vec()));
                at += n;
            }
            Ok(Step::HeartBeat(n)) => {
                assert!(n == 1 || n == 2);
                at += n;
            }
            Ok(Step::Incomplete) | Err(_) => break,
        }
    }
    (frames, at)
}

fn check(f: &Frame<'_>, used: &[u8]) {
    let start = f.body.as_ptr() as usize;
    let base = used.as_ptr() as usize;
    assert!(start >= base && start + f.body.len() < base + used.len());
    assert_eq!(used[used.len() - 1], 0, "a frame ends with its NUL");
    for (n, _) in f.raw_headers() {
        let _ = f.header(&String::from_utf8_lossy(n));
    }
    if f.counted {
        let n: usize = f.header("content-length").unwrap().trim().parse().unwrap();
        assert_eq!(f.body.len(), n);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    let step = step as usize % 32 + 1;
    let (whole, stopped) = read_all(rest);
    // In pieces: what is not used yet waits for the next piece.
    let mut pending: Vec<u8> = Vec::new();
    let mut frames = Vec::new();
    for piece in rest[..stopped].chunks(step) {
        pending.extend_from_slice(piece);
        let (found, used) = read_all(&pending);
        frames.extend(found);
        pending.drain(..used);
    }
    assert_eq!(frames, whole);
    let mut session = Session::new();
    let mut reported = [0u64; 2];
    let first_client = data[0] & 0x80 != 0;
    for (k, piece) in rest.chunks(step).enumerate() {
        let from_client = (k % 2 == 0) == first_client;
        session.message(from_client, Timestamp(k as i64 * 1_000_000_000), piece, |e| {
            if let Seen::Frame { from_client, .. } = e {
                reported[usize::from(!from_client)] += 1;
            }
        });
    }
    assert_eq!(session.frames, reported);
});
