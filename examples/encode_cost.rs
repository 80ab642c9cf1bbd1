//! JSON encoding cost per record type (a profiling aid):
//! `cargo run --release --example encode_cost -- FILE`.
use std::time::Instant;

use sockscope::config::{Input, ReplayConfig};
use sockscope::event::Record;
use sockscope::render::json::encode;

fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let (_, records) = sockscope::replay::replay(
        &ReplayConfig::new(Input::Path(path.into())),
        Vec::<Record>::new(),
    )
    .unwrap();
    let mut by_type: std::collections::BTreeMap<&str, Vec<&Record>> = Default::default();
    for r in &records {
        by_type.entry(r.type_name()).or_default().push(r);
    }
    let mut out = Vec::with_capacity(1 << 20);
    for (t, rs) in by_type {
        let start = Instant::now();
        let mut bytes = 0;
        for _ in 0..5 {
            for r in &rs {
                out.clear();
                encode(r, &mut out);
                bytes += out.len();
            }
        }
        let n = rs.len() * 5;
        println!(
            "{t:10} {:>8} records  {:>6.0} ns/record  {} bytes/record",
            rs.len(),
            start.elapsed().as_nanos() as f64 / n as f64,
            bytes / n
        );
    }
}
