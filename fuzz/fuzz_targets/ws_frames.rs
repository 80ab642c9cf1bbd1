//! WebSocket frames after a completed handshake, both directions, cut into
//! pieces anywhere, with gaps: no panic, bounded work, every record encodable;
//! and a second session that makes no per-frame records and is handed each
//! piece's frame-run note (the replay source's shortcut) counts exactly the
//! same frames, messages, bytes and violations.
//!
//! Input: one option byte (bit 0: permessage-deflate agreed; bit 1: no
//! context takeover; bits 2-5: window bits - 8), then chunks, each a header
//! byte h and up to (h >> 2) + 1 bytes: h & 1 is the direction (1 = client),
//! h & 2 makes it a gap of that many bytes instead of data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::event::Record;
use sockscope::proto::ws::{frame_run, FrameRun};
use sockscope::proto::{WsConfig, WsDecoder};
use sockscope::render::json::encode;
use sockscope::time::Timestamp;
use sockscope::track::key::Endpoint;
use sockscope::track::stream::{Interest, StreamCtx, StreamHandler};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fuzz_target!(|data: &[u8]| {
    let Some((&opts, mut rest)) = data.split_first() else { return };
    let ctx = StreamCtx {
        conn_id: 1,
        client: Endpoint { ip: [10, 0, 0, 1].into(), port: 40000 },
        server: Endpoint { ip: [10, 0, 0, 2].into(), port: 80 },
    };
    let mut d = WsDecoder::new(WsConfig { preview: 40, max_inflated: 1 << 20, events: true });
    let mut q = WsDecoder::new(WsConfig { preview: 40, max_inflated: 1 << 20, events: false });
    let mut out: Vec<Record> = Vec::new();
    let mut qout: Vec<Record> = Vec::new();
    let ext = if opts & 1 != 0 {
        let bits = 8 + ((opts >> 2) & 0x0f).min(7);
        let nct = if opts & 2 != 0 { "; server_no_context_takeover; client_no_context_takeover" } else { "" };
        format!("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits={bits}; client_max_window_bits={bits}{nct}\r\n")
    } else {
        String::new()
    };
    let req = format!("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
    let resp = format!("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {ACCEPT}\r\n{ext}\r\n");
    d.data(&ctx, true, Timestamp(0), req.as_bytes(), &mut out);
    d.data(&ctx, false, Timestamp(1), resp.as_bytes(), &mut out);
    q.data(&ctx, true, Timestamp(0), req.as_bytes(), &mut qout);
    q.data(&ctx, false, Timestamp(1), resp.as_bytes(), &mut qout);
    let mut t = 2;
    while let Some((&h, tail)) = rest.split_first() {
        let n = ((h >> 2) as usize + 1).min(tail.len());
        let (chunk, next) = tail.split_at(n);
        rest = next;
        t += 1;
        let from_client = h & 1 != 0;
        let ts = Timestamp(t);
        let (interest, q_interest) = if h & 2 != 0 {
            (
                d.gap(&ctx, from_client, ts, n as u64 + 1, &mut out),
                q.gap(&ctx, from_client, ts, n as u64 + 1, &mut qout),
            )
        } else {
            let note = frame_run(chunk).map_or(0, FrameRun::to_note);
            let qi = if note != 0 {
                q.data_noted(&ctx, from_client, ts, chunk, note, &mut qout)
            } else {
                q.data(&ctx, from_client, ts, chunk, &mut qout)
            };
            (d.data(&ctx, from_client, ts, chunk, &mut out), qi)
        };
        assert_eq!(interest, q_interest);
        if interest == Interest::Done {
            break;
        }
    }
    d.end(&ctx, Timestamp(t), &mut out);
    q.end(&ctx, Timestamp(t), &mut qout);
    let session = |out: &[Record]| {
        out.iter().find_map(|r| match r {
            Record::WsSession(w) => Some((w.client, w.server, w.violations)),
            _ => None,
        })
    };
    assert_eq!(session(&out), session(&qout));
    let mut buf = Vec::new();
    for r in &out {
        encode(r, &mut buf);
    }
});
