//! UDP flows: a 5-tuple whose client is the first sender, with datagram and
//! payload-byte counts per direction and Zeek's UDP conn_state (S0: only the
//! client spoke; SF: both did).

use crate::event::{Direction, Record, RecordSink, UdpEvent, UdpFlowRecord, VlanList};
use crate::time::{Nanos, Timestamp};

use super::key::Endpoint as Addr;
use super::Vlans;

/// Every UDP flow state (Zeek's, as it gives them to UDP).
pub const FLOW_STATES: &[&str] = &["S0", "SF", "SHR", "OTH"];

/// The endpoints are not stored: the flow table's key holds them (a flow is
/// one of up to hundreds of thousands held at once, so every byte counts).
#[derive(Clone, Debug)]
pub struct UdpFlow {
    pub id: u64,
    vlans: VlanList,
    client_packets: u64,
    server_packets: u64,
    client_bytes: u64,
    server_bytes: u64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
}

impl UdpFlow {
    /// A flow whose first datagram is seen at `ts`.
    pub fn new(id: u64, ts: Timestamp) -> UdpFlow {
        UdpFlow {
            id,
            vlans: VlanList::default(),
            client_packets: 0,
            server_packets: 0,
            client_bytes: 0,
            server_bytes: 0,
            first_ts: ts,
            last_ts: ts,
        }
    }

    /// Counts one datagram of `payload_len` UDP payload bytes.
    pub fn datagram(&mut self, ts: Timestamp, from_client: bool, payload_len: u32, vlan: &Vlans) {
        self.last_ts = self.last_ts.max(ts);
        for &id in vlan.as_slice() {
            self.vlans.add(id);
        }
        if from_client {
            self.client_packets += 1;
            self.client_bytes += u64::from(payload_len);
        } else {
            self.server_packets += 1;
            self.server_bytes += u64::from(payload_len);
        }
    }

    /// Reports the new flow between `client` (the first sender) and `server`.
    pub fn announce<S: RecordSink>(
        &self,
        client: Addr,
        server: Addr,
        service: Option<&'static str>,
        sink: &mut S,
    ) {
        if !sink.flow_records().udp_event {
            return;
        }
        sink.record(Record::UdpEvent(UdpEvent {
            ts: self.first_ts,
            event: "new_flow",
            conn_id: self.id,
            client_ip: client.ip,
            client_port: client.port,
            server_ip: server.ip,
            server_port: server.port,
            direction: Direction::Client,
            service,
        }));
    }

    pub fn deadline(&self, idle: Nanos) -> Timestamp {
        self.last_ts + idle
    }

    /// One of [`FLOW_STATES`].
    pub fn state(&self) -> &'static str {
        match (self.client_packets > 0, self.server_packets > 0) {
            (true, true) => "SF",
            (true, false) => "S0",
            (false, true) => "SHR",
            (false, false) => "OTH",
        }
    }

    pub fn record(
        &self,
        client: Addr,
        server: Addr,
        evicted: bool,
        service: Option<&'static str>,
    ) -> UdpFlowRecord {
        UdpFlowRecord {
            conn_id: self.id,
            client_ip: client.ip,
            client_port: client.port,
            server_ip: server.ip,
            server_port: server.port,
            vlan: self.vlans,
            state: self.state(),
            service,
            client_packets: self.client_packets,
            server_packets: self.server_packets,
            client_bytes: self.client_bytes,
            server_bytes: self.server_bytes,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            duration: self.last_ts.since(self.first_ts),
            evicted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply() {
        let c = Addr {
            ip: "10.0.0.1".parse().unwrap(),
            port: 5000,
        };
        let s = Addr {
            ip: "10.0.0.2".parse().unwrap(),
            port: 53,
        };
        let mut f = UdpFlow::new(1, Timestamp(0));
        f.datagram(Timestamp(0), true, 30, &Vlans::default());
        assert_eq!(f.state(), "S0");
        f.datagram(Timestamp(5), false, 90, &Vlans::default());
        let r = f.record(c, s, false, Some("dns"));
        assert_eq!((r.client_port, r.server_port), (5000, 53));
        assert_eq!(r.state, "SF");
        assert_eq!(
            (
                r.client_packets,
                r.server_packets,
                r.client_bytes,
                r.server_bytes
            ),
            (1, 1, 30, 90)
        );
        assert_eq!(r.duration, Nanos(5));
    }
}
