//! A whole capture file through the reader, the decoder, the tracker and the
//! WebSocket decoder:
//! whatever the bytes, no panic, and every record is encodable; and a second
//! tracker whose decoders make no per-frame records, fed each packet with the
//! payload note the replay source would make, ends every WebSocket session
//! with the same counts (the notes survive reassembly only where they may).
//! The decoded connections' buffers share a small budget: after every
//! packet what the budget counts is what the connections hold, and within it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::decode::defrag::DefragLimits;
use sockscope::decode::{Decoded, Decoder};
use sockscope::event::Record;
use sockscope::decode::Transport;
use sockscope::proto::{payload_note, stream_detector, HttpConfig, WsConfig};
use sockscope::render::json::encode;
use sockscope::source::file::CaptureReader;
use sockscope::track::reassembly::ReassemblyLimits;
use sockscope::track::{TrackConfig, Tracker};

/// Small enough that captures with a few decoded connections reach it.
const BUDGET: usize = 24 * 1024;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else { return };
    let mut decoder = Decoder::new(DefragLimits::default());
    let cfg = TrackConfig {
        max_flows: 64,
        reassembly: ReassemblyLimits { total_bytes: BUDGET, ..ReassemblyLimits::default() },
        ..TrackConfig::default()
    };
    let mut tracker = Tracker::new(cfg);
    // WebSocket decoding over reassembled streams, with a small inflate cap.
    let ws = WsConfig { preview: 40, max_inflated: 1 << 20, events: true };
    tracker.set_detector(
        stream_detector(Some(ws), Some(HttpConfig::new(true, 40))).expect("a detector"),
    );
    let quiet_ws = WsConfig { preview: 40, max_inflated: 1 << 20, events: false };
    let note = payload_note(&quiet_ws).expect("quiet decoders take notes");
    let mut quiet = Tracker::new(cfg);
    quiet.set_detector(
        stream_detector(Some(quiet_ws), Some(HttpConfig::new(false, 40))).expect("a detector"),
    );
    let mut out: Vec<Record> = Vec::new();
    let mut qout: Vec<Record> = Vec::new();
    while let Ok(Some(raw)) = reader.next_packet() {
        if let Decoded::Packet(p) = decoder.decode(&raw) {
            tracker.packet(&p, &mut out);
            let (counted, held) = tracker.buffers();
            assert_eq!(counted, held, "the budget counts what is held");
            assert!(counted <= BUDGET, "{counted} bytes held");
            let n = match &p.transport {
                Transport::Tcp(seg) if !seg.payload.is_empty() => note(seg.stream_bytes()),
                _ => 0,
            };
            let k = quiet.keyer().key(&p);
            quiet.packet_noted(&p, &k, None, n, &mut qout);
        }
    }
    tracker.finish(&mut out);
    quiet.finish(&mut qout);
    let sessions = |out: &[Record]| -> Vec<_> {
        out.iter()
            .filter_map(|r| match r {
                Record::WsSession(w) => Some((w.conn.conn_id, w.client, w.server, w.violations)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(sessions(&out), sessions(&qout));
    let mut buf = Vec::new();
    for r in &out {
        encode(r, &mut buf);
    }
});
