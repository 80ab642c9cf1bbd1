//! The decoder's IPv4 fast path gives exactly what the general (etherparse)
//! path gives, on every packet of every capture it accepts.

use sockscope::decode::defrag::DefragLimits;
use sockscope::decode::{Decoded, Decoder};
use sockscope::source::file::CaptureReader;

use crate::util::{conformance_dir, root};

#[test]
fn fast_path_agrees_with_the_general_path() {
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in [root().join("captures"), conformance_dir()] {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
                files.push(p);
            }
        }
    }
    let (mut fast, mut total) = (0, 0);
    for path in files {
        let Ok(mut reader) = CaptureReader::new(std::fs::File::open(&path).unwrap()) else {
            continue;
        };
        let mut general = Decoder::new(DefragLimits::default());
        while let Ok(Some(raw)) = reader.next_packet() {
            total += 1;
            let g = general.decode_general(&raw);
            if let Some(f) = Decoder::fast_path(&raw) {
                fast += 1;
                match g {
                    Decoded::Packet(p) => {
                        assert_eq!(format!("{f:?}"), format!("{p:?}"), "{}", path.display())
                    }
                    other => panic!(
                        "{}: fast path decoded what the general path calls {other:?}",
                        path.display()
                    ),
                }
            }
        }
    }
    assert!(fast > 300 && total > fast, "fast {fast} of {total}");
}
