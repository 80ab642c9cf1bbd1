//! Inputs that once made a fuzz target fail (kept in `fuzz/regressions/`),
//! replayed through the real binary: each must finish with a summary.

use std::io::Write;

use crate::schema::Records;
use crate::util::{replay_json, root};

/// A `decode_frame` input as a pcap: the first byte picks the link type
/// (the target's table), frames are separated by 0xff.
fn decode_frame_as_pcap(input: &[u8]) -> Vec<u8> {
    const LINKS: [u32; 8] = [1, 101, 113, 276, 0, 108, 228, 229];
    let (sel, rest) = input.split_first().unwrap();
    let mut pcap = Vec::new();
    // magic, version 2.4, zone, sigfigs, snaplen, link type.
    for v in [
        0xa1b2c3d4u32,
        0x0004_0002,
        0,
        0,
        262_144,
        LINKS[*sel as usize % 8],
    ] {
        pcap.extend_from_slice(&v.to_le_bytes());
    }
    for (i, frame) in rest.split(|&b| b == 0xff).enumerate() {
        let wire = if sel & 0x80 != 0 {
            frame.len() + 100
        } else {
            frame.len()
        } as u32;
        // One frame per millisecond, as in the target.
        let (sec, usec) = (i as u32 / 1000, i as u32 % 1000 * 1000);
        for v in [sec, usec, frame.len() as u32, wire] {
            pcap.extend_from_slice(&v.to_le_bytes());
        }
        pcap.extend_from_slice(frame);
    }
    pcap
}

#[test]
fn fuzz_regressions_finish() {
    let dir = root().join("fuzz/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file = if name.starts_with("decode_frame-") {
            let pcap = decode_frame_as_pcap(&std::fs::read(&path).unwrap());
            let tmp = std::env::temp_dir().join(format!("sockscope-{name}.pcap"));
            std::fs::File::create(&tmp)
                .unwrap()
                .write_all(&pcap)
                .unwrap();
            tmp
        } else {
            path.clone()
        };
        let (recs, run) = replay_json(file.to_str().unwrap(), &[]);
        assert!(run.status == 0 || run.status == 2, "{name}: {}", run.stderr);
        let _ = recs.summary();
        n += 1;
    }
    assert!(n >= 2, "no regression inputs in {}", dir.display());
}
