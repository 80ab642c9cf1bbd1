//! A whole capture file through the reader, the decoder, the tracker and the
//! WebSocket decoder:
//! whatever the bytes, no panic, and every record is encodable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::decode::defrag::DefragLimits;
use sockscope::decode::{Decoded, Decoder};
use sockscope::event::Record;
use sockscope::proto::{stream_detector, WsConfig};
use sockscope::render::json::encode;
use sockscope::source::file::CaptureReader;
use sockscope::track::{TrackConfig, Tracker};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::new(data) else { return };
    let mut decoder = Decoder::new(DefragLimits::default());
    let mut tracker = Tracker::new(TrackConfig { max_flows: 64, ..TrackConfig::default() });
    // WebSocket decoding over reassembled streams, with a small inflate cap.
    tracker.set_detector(stream_detector(WsConfig { preview: 40, max_inflated: 1 << 20, events: true }));
    let mut out: Vec<Record> = Vec::new();
    while let Ok(Some(raw)) = reader.next_packet() {
        if let Decoded::Packet(p) = decoder.decode(&raw) {
            tracker.packet(&p, &mut out);
        }
    }
    tracker.finish(&mut out);
    let mut buf = Vec::new();
    for r in &out {
        encode(r, &mut buf);
    }
});
