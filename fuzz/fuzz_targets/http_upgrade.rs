//! The opening handshake from arbitrary bytes: the HTTP head parsers alone,
//! then a whole decoder fed the client's bytes and the server's (split at the
//! first NUL), in pieces of a size the first byte picks. When the first
//! byte's top bit is set, the decoder is told to shed its buffers every
//! seventh step (as the memory budget would): it then holds nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::event::Record;
use sockscope::proto::http::{accept_for, parse_request, parse_response};
use sockscope::proto::{WsConfig, WsDecoder};
use sockscope::render::json::encode;
use sockscope::time::Timestamp;
use sockscope::track::key::Endpoint;
use sockscope::track::stream::{StreamCtx, StreamHandler};

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    let shedding = step & 0x80 != 0;
    let step = step as usize % 64 + 1;
    if let Ok(Some((r, n))) = parse_request(rest) {
        assert!(n <= rest.len());
        if let Some(k) = &r.key {
            let _ = accept_for(k);
        }
    }
    if let Ok(Some((_, n))) = parse_response(rest) {
        assert!(n <= rest.len());
    }
    let (client, server) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let ctx = StreamCtx {
        conn_id: 1,
        client: Endpoint { ip: [10, 0, 0, 1].into(), port: 40000 },
        server: Endpoint { ip: [10, 0, 0, 2].into(), port: 80 },
    };
    let mut d = WsDecoder::new(WsConfig { preview: 40, max_inflated: 1 << 20, events: true });
    let mut out: Vec<Record> = Vec::new();
    let mut t = 0;
    // Interleave the two sides piece by piece.
    let (mut c, mut s) = (client.chunks(step), server.chunks(step));
    loop {
        let (a, b) = (c.next(), s.next());
        if a.is_none() && b.is_none() {
            break;
        }
        t += 1;
        if let Some(a) = a {
            d.data(&ctx, true, Timestamp(t), a, &mut out);
        }
        if let Some(b) = b {
            d.data(&ctx, false, Timestamp(t), b, &mut out);
        }
        if shedding && t % 7 == 0 {
            d.shed(&ctx, Timestamp(t), &mut out);
            assert_eq!(d.held_bytes(), 0, "shed holds nothing");
        }
    }
    d.end(&ctx, Timestamp(t), &mut out);
    let mut buf = Vec::new();
    for r in &out {
        encode(r, &mut buf);
    }
});
