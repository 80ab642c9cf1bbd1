//! Times each pipeline stage alone on a capture (a profiling aid):
//! `cargo run --release --example stages -- FILE`.
use std::time::Instant;

use sockscope::decode::{defrag::DefragLimits, Decoded, Decoder};
use sockscope::event::Record;
use sockscope::source::file::CaptureReader;
use sockscope::track::{TrackConfig, Tracker};

fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let t = Instant::now();
    let mut r = CaptureReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut n = 0u64;
    while let Some(p) = r.next_packet().unwrap() {
        n += p.data.len() as u64;
    }
    println!("read only:        {:?} ({n} bytes)", t.elapsed());

    let t = Instant::now();
    let mut r = CaptureReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut d = Decoder::new(DefragLimits::default());
    let mut k = 0u64;
    while let Some(p) = r.next_packet().unwrap() {
        if let Decoded::Packet(_) = d.decode(&p) {
            k += 1;
        }
    }
    println!("read+decode:      {:?} ({k} packets)", t.elapsed());

    let t = Instant::now();
    let mut r = CaptureReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut d = Decoder::new(DefragLimits::default());
    let mut tr = Tracker::new(TrackConfig::default());
    let mut sink: Vec<Record> = Vec::new();
    let mut records = 0usize;
    while let Some(p) = r.next_packet().unwrap() {
        if let Decoded::Packet(pkt) = d.decode(&p) {
            tr.packet(&pkt, &mut sink);
            records += sink.len();
            sink.clear();
        }
    }
    tr.finish(&mut sink);
    println!("read+decode+track: {:?} ({records} records)", t.elapsed());
}
