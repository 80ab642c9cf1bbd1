//! The other implementation on the team's list, measured: pnet's datalink
//! channel (AF_PACKET SOCK_RAW, one recvfrom per packet, no ring, no kernel
//! timestamp) feeding the same decode → track steps as `sockscope capture`.
//! scripts/bench-capture-loss.sh runs it beside sockscope and tcpdump with
//! PNET=1. Prints how many packets it read when SIGINT/SIGTERM arrives.
//!
//!     cargo run --release --example pnet_loss -- IFACE

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pnet_datalink::{Channel, Config};
use sockscope::decode::{Decoded, Decoder};
use sockscope::event::Record;
use sockscope::source::{LinkType, RawPacket};
use sockscope::time::Timestamp;
use sockscope::track::{FlowKeyer, TrackConfig, Tracker};

fn main() {
    let name = std::env::args().nth(1).expect("usage: pnet_loss IFACE");
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == name)
        .expect("no such interface");
    let cfg = Config {
        // Whole loopback frames (the default 4096 truncates them).
        read_buffer_size: 65536,
        read_timeout: Some(Duration::from_millis(100)),
        promiscuous: true,
        ..Config::default()
    };
    let Ok(Channel::Ethernet(_, mut rx)) = pnet_datalink::channel(&iface, cfg) else {
        panic!("cannot open a channel on {name}");
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).unwrap();
    }
    eprintln!("pnet_loss: listening on {name}");
    let keyer = FlowKeyer::new(false);
    let mut tracker = Tracker::with_keyer(TrackConfig::default(), keyer.clone());
    let mut decoder = Decoder::new(Default::default());
    let mut sink: Vec<Record> = Vec::new();
    let mut read = 0u64;
    while !stop.load(Ordering::Relaxed) {
        match rx.next() {
            Ok(data) => {
                read += 1;
                // pnet gives no capture time: the clock when read is all
                // there is.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                let raw = RawPacket {
                    ts: Timestamp::from_parts(
                        now.as_secs() as i64,
                        u64::from(now.subsec_nanos()),
                        1_000_000_000,
                    ),
                    link: LinkType::ETHERNET,
                    interface: 0,
                    wire_len: data.len() as u32,
                    data,
                    offset: read,
                };
                if let Decoded::Packet(p) = decoder.decode(&raw) {
                    let k = keyer.key(&p);
                    tracker.packet_keyed(&p, &k, &mut sink);
                }
                sink.clear();
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("{e}"),
        }
    }
    println!("{read}");
}
