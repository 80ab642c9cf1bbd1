//! SockJS frames, streaming bodies, client messages and session URLs from
//! arbitrary text: no panic; a streaming body's frames are whole lines
//! before the rest it reports, and the rest is what follows the last
//! newline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::proto::sockjs::{close, frame, messages, session_path, stream_frames, Frame};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(f) = frame(s) {
        match f {
            Frame::Messages(j) => {
                let _ = messages(j);
            }
            Frame::Close(j) => {
                let _ = close(j);
            }
            Frame::Open | Frame::HeartBeat => {}
        }
    }
    let _ = messages(s);
    let (frames, rest) = stream_frames(s);
    assert!(rest <= s.len());
    assert!(!s[rest..].contains('\n'));
    assert!(frames.len() <= s[..rest].matches('\n').count());
    if let Some(p) = session_path(s) {
        assert!(!p.server.is_empty() && !p.session.contains('.'));
    }
});
