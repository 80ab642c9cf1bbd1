//! Engine.IO packets and polling payloads from arbitrary bytes, v3 and v4,
//! as the WebSocket and polling transports deliver them: no panic, every
//! packet's data lies inside the input, a v3 payload's packets are read
//! in order without overlapping, and an open packet's JSON and a query
//! read or say no.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::proto::engineio::{
    binary_packet, payload_v3, payload_v4, query, text_packet, Data, Open, Packet,
};

fn inside(p: &Packet<'_>, input: &[u8]) {
    let (start, len) = match p.data {
        Data::Text(t) => (t.as_ptr() as usize, t.len()),
        Data::Base64(b) | Data::Binary(b) => (b.as_ptr() as usize, b.len()),
    };
    let base = input.as_ptr() as usize;
    assert!(len == 0 || (start >= base && start + len <= base + input.len()));
    let _ = Open::parse(p);
}

fuzz_target!(|data: &[u8]| {
    for p in payload_v4(data).flatten() {
        inside(&p, data);
    }
    let mut last_end = data.as_ptr() as usize;
    for item in payload_v3(data) {
        let Ok(p) = item else { break };
        inside(&p, data);
        let (start, len) = match p.data {
            Data::Text(t) => (t.as_ptr() as usize, t.len()),
            Data::Base64(b) | Data::Binary(b) => (b.as_ptr() as usize, b.len()),
        };
        if len > 0 {
            assert!(start >= last_end, "v3 packets in order");
            last_end = start + len;
        }
    }
    for v3 in [false, true] {
        if let Ok(p) = binary_packet(data, v3) {
            inside(&p, data);
        }
        if let Ok(s) = std::str::from_utf8(data) {
            if let Ok(p) = text_packet(s, v3) {
                inside(&p, data);
            }
            let _ = query(s);
        }
    }
});
