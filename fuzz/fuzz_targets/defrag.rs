//! IP fragments from arbitrary bytes through the defragmenter, with small
//! limits: whatever arrives, at most `max_datagrams` datagrams and
//! `max_bytes` bytes are held, and a rebuilt datagram is never longer than
//! an IP datagram can be. Each fragment is 6 bytes of header (datagram id,
//! offset in 8-byte units, flags, length, time step) and its data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockscope::decode::defrag::{DefragLimits, Defragmenter, FragKey, Fragment};
use sockscope::decode::Vlans;
use sockscope::time::{Nanos, Timestamp};

fuzz_target!(|data: &[u8]| {
    let limits = DefragLimits { max_datagrams: 4, max_bytes: 20_000, timeout: Nanos::from_secs(30) };
    let mut d = Defragmenter::new(limits);
    let mut rest = data;
    let mut t = 0i64;
    while rest.len() >= 6 {
        let (h, tail) = rest.split_at(6);
        let len = (usize::from(h[4]) * 37).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        t += i64::from(h[5] & 0x0f) * 4_000_000_000;
        let frag = Fragment {
            key: FragKey {
                src: [10, 0, 0, 1].into(),
                dst: [10, 0, 0, 2].into(),
                id: u32::from(h[0] & 7),
                proto: 17,
            },
            offset: u32::from(u16::from_be_bytes([h[1], h[2]]) & 0x1fff) * 8,
            more: h[3] & 1 != 0,
            data: payload,
            whole: h[3] & 2 == 0,
            ts: Timestamp(t),
            vlan: Vlans::default(),
        };
        if let Some(r) = d.add(frag) {
            assert!(r.data.len() <= 65_535);
        }
        assert!(d.held() <= limits.max_datagrams);
        assert!(d.held_bytes() <= limits.max_bytes);
    }
    d.finish();
    assert_eq!((d.held(), d.held_bytes()), (0, 0));
});
