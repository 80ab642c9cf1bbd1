//! HTTP exchanges and event streams from arbitrary bytes: the chunked-coding
//! and SSE parsers alone, then a whole HTTP decoder (WebSocket upgrades
//! included) fed the client's bytes and the server's (split at the first
//! NUL) in pieces of a size the first byte picks, with a gap every eleventh
//! step when the first byte's bit 6 is set, and buffers shed every seventh
//! when its top bit is set (it then holds nothing but the WebSocket
//! decoder's fixed state). No panic; every record encodes; exchanges come
//! out in request order with bodies no longer than what was fed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::event::Record;
use sockscope::proto::http::Chunked;
use sockscope::proto::sse::SseParser;
use sockscope::proto::{HttpConfig, HttpDecoder, WsConfig};
use sockscope::render::json::encode;
use sockscope::time::Timestamp;
use sockscope::track::key::Endpoint;
use sockscope::track::stream::{StreamCtx, StreamHandler};

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else { return };
    let shedding = step & 0x80 != 0;
    let gaps = step & 0x40 != 0;
    let step = step as usize % 64 + 1;
    let mut c = Chunked::default();
    let _ = c.feed(rest, |_| {});
    let mut p = SseParser::new(64);
    for piece in rest.chunks(step) {
        // Invalid bytes become U+FFFD (3 bytes each) in the text.
        p.feed(piece, |b| assert!(b.data.len() <= 3 * 64));
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
    let cfg = HttpConfig::new(true, 40);
    let ws = WsConfig { preview: 40, max_inflated: 1 << 20, events: true };
    let mut d = HttpDecoder::new(cfg.clone(), Some(ws));
    let mut out: Vec<Record> = Vec::new();
    let mut t = 0;
    let (mut cs, mut ss) = (client.chunks(step), server.chunks(step));
    loop {
        let (a, b) = (cs.next(), ss.next());
        if a.is_none() && b.is_none() {
            break;
        }
        t += 1;
        if gaps && t % 11 == 0 {
            d.gap(&ctx, t % 2 == 0, Timestamp(t), step as u64, &mut out);
            continue;
        }
        if let Some(a) = a {
            d.data(&ctx, true, Timestamp(t), a, &mut out);
        }
        if let Some(b) = b {
            d.data(&ctx, false, Timestamp(t), b, &mut out);
        }
        if shedding && t % 7 == 0 {
            d.shed(&ctx, Timestamp(t), &mut out);
        }
    }
    d.closed(&ctx, true, Timestamp(t), &mut out);
    d.closed(&ctx, false, Timestamp(t), &mut out);
    d.end(&ctx, Timestamp(t), &mut out);
    cfg.channels.finish(&mut out);
    let mut buf = Vec::new();
    let mut last_ts = None;
    for r in &out {
        if let Record::HttpTxn(x) = r {
            assert!(x.resp_body_len <= server.len() as u64);
            assert!(x.req_body_len <= client.len() as u64);
            assert!(last_ts.is_none_or(|l| l <= x.ts), "request order");
            last_ts = Some(x.ts);
        }
        encode(r, &mut buf);
    }
});
