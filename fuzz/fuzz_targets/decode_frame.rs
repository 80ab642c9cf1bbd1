//! One frame through the decoder and the tracker. The first byte picks the
//! link type; a second frame (after a 0xff 0x00 separator, if any) shares the
//! decoder and tracker, so fragments and connections can span frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::decode::defrag::DefragLimits;
use sockscope::decode::{Decoded, Decoder};
use sockscope::event::Record;
use sockscope::proto::{stream_detector, WsConfig};
use sockscope::source::{LinkType, RawPacket};
use sockscope::time::Timestamp;
use sockscope::track::{TrackConfig, Tracker};

const LINKS: [LinkType; 8] = [
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::IPV4,
    LinkType::IPV6,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let link = LINKS[sel as usize % LINKS.len()];
    let mut decoder = Decoder::new(DefragLimits::default());
    let mut tracker = Tracker::new(TrackConfig::default());
    tracker.set_detector(stream_detector(WsConfig { preview: 40, max_inflated: 1 << 20, events: true }));
    let mut out: Vec<Record> = Vec::new();
    for (i, frame) in rest.split(|&b| b == 0xff).enumerate() {
        // Cut some frames by a pretend snaplen: the wire is longer.
        let wire_len = if sel & 0x80 != 0 { frame.len() as u32 + 100 } else { frame.len() as u32 };
        let raw = RawPacket {
            ts: Timestamp(i as i64 * 1_000_000),
            link,
            interface: 0,
            wire_len,
            data: frame,
            offset: 0,
        };
        // The fast path must agree with the general one.
        let fast = Decoder::fast_path(&raw).map(|p| format!("{p:?}"));
        let general = match decoder.decode_general(&raw) {
            Decoded::Packet(p) => Some(format!("{p:?}")),
            _ => None,
        };
        if let Some(f) = &fast {
            assert_eq!(Some(f), general.as_ref(), "fast path disagrees");
        }
        if let Decoded::Packet(p) = decoder.decode(&raw) {
            tracker.packet(&p, &mut out);
        }
    }
    tracker.finish(&mut out);
});
