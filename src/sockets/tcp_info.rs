//! `struct tcp_info` (linux/tcp.h) as the kernel sends it in
//! `INET_DIAG_INFO`: a checked view over its bytes, read into the few fields
//! users ask for. Its length grows with kernel versions; fields past the end
//! of what this kernel sent are `None`, never read out of bounds.

/// The TCP_INFO fields sockscope shows (times in microseconds, as the
/// kernel gives them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    pub ca_state: u8,
    pub retransmits: u8,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub rto_us: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub unacked: u32,
    pub lost: u32,
    pub retrans: u32,
    pub pmtu: u32,
    pub rtt_us: u32,
    pub rttvar_us: u32,
    pub snd_ssthresh: u32,
    pub snd_cwnd: u32,
    pub total_retrans: u32,
    pub bytes_acked: Option<u64>,
    pub bytes_received: Option<u64>,
    pub segs_out: Option<u32>,
    pub segs_in: Option<u32>,
    pub min_rtt_us: Option<u32>,
    pub delivery_rate: Option<u64>,
    pub bytes_sent: Option<u64>,
    pub bytes_retrans: Option<u64>,
}

/// Byte offsets in `struct tcp_info`.
mod field {
    pub const CA_STATE: usize = 1;
    pub const RETRANSMITS: usize = 2;
    pub const WSCALE: usize = 6;
    pub const RTO: usize = 8;
    pub const SND_MSS: usize = 16;
    pub const RCV_MSS: usize = 20;
    pub const UNACKED: usize = 24;
    pub const LOST: usize = 32;
    pub const RETRANS: usize = 36;
    pub const PMTU: usize = 60;
    pub const RTT: usize = 68;
    pub const RTTVAR: usize = 72;
    pub const SND_SSTHRESH: usize = 76;
    pub const SND_CWND: usize = 80;
    pub const TOTAL_RETRANS: usize = 100;
    /// The fields up to here exist on every kernel with sock_diag.
    pub const BASE_LEN: usize = 104;
    pub const BYTES_ACKED: usize = 120;
    pub const BYTES_RECEIVED: usize = 128;
    pub const SEGS_OUT: usize = 136;
    pub const SEGS_IN: usize = 140;
    pub const MIN_RTT: usize = 148;
    pub const DELIVERY_RATE: usize = 160;
    pub const BYTES_SENT: usize = 200;
    pub const BYTES_RETRANS: usize = 208;
}

/// Why a `tcp_info` could not be read.
#[derive(Debug, PartialEq, Eq)]
pub struct TooShort(pub usize);

/// A checked view over the bytes of a `struct tcp_info` (native endian).
pub struct TcpInfoView<'a>(&'a [u8]);

impl<'a> TcpInfoView<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, TooShort> {
        if bytes.len() < field::BASE_LEN {
            return Err(TooShort(bytes.len()));
        }
        Ok(TcpInfoView(bytes))
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b = self.0.get(at..at + 4)?;
        Some(u32::from_ne_bytes(b.try_into().ok()?))
    }

    fn u64_at(&self, at: usize) -> Option<u64> {
        let b = self.0.get(at..at + 8)?;
        Some(u64::from_ne_bytes(b.try_into().ok()?))
    }

    /// The base fields are within `BASE_LEN`, checked in `new`.
    fn base(&self, at: usize) -> u32 {
        self.u32_at(at).unwrap_or(0)
    }

    pub fn to_owned(&self) -> TcpInfo {
        let wscale = self.0[field::WSCALE];
        TcpInfo {
            ca_state: self.0[field::CA_STATE],
            retransmits: self.0[field::RETRANSMITS],
            snd_wscale: wscale & 0x0f,
            rcv_wscale: wscale >> 4,
            rto_us: self.base(field::RTO),
            snd_mss: self.base(field::SND_MSS),
            rcv_mss: self.base(field::RCV_MSS),
            unacked: self.base(field::UNACKED),
            lost: self.base(field::LOST),
            retrans: self.base(field::RETRANS),
            pmtu: self.base(field::PMTU),
            rtt_us: self.base(field::RTT),
            rttvar_us: self.base(field::RTTVAR),
            snd_ssthresh: self.base(field::SND_SSTHRESH),
            snd_cwnd: self.base(field::SND_CWND),
            total_retrans: self.base(field::TOTAL_RETRANS),
            bytes_acked: self.u64_at(field::BYTES_ACKED),
            bytes_received: self.u64_at(field::BYTES_RECEIVED),
            segs_out: self.u32_at(field::SEGS_OUT),
            segs_in: self.u32_at(field::SEGS_IN),
            min_rtt_us: self.u32_at(field::MIN_RTT),
            delivery_rate: self.u64_at(field::DELIVERY_RATE),
            bytes_sent: self.u64_at(field::BYTES_SENT),
            bytes_retrans: self.u64_at(field::BYTES_RETRANS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    }

    #[test]
    fn reads_fields_at_their_offsets() {
        let mut b = vec![0u8; 232];
        b[field::WSCALE] = 0x7a; // rcv 7, snd 10
        put32(&mut b, field::RTT, 1234);
        put32(&mut b, field::SND_CWND, 10);
        b[field::BYTES_RECEIVED..field::BYTES_RECEIVED + 8].copy_from_slice(&99u64.to_ne_bytes());
        let i = TcpInfoView::new(&b).unwrap().to_owned();
        assert_eq!((i.snd_wscale, i.rcv_wscale), (10, 7));
        assert_eq!(i.rtt_us, 1234);
        assert_eq!(i.snd_cwnd, 10);
        assert_eq!(i.bytes_received, Some(99));
        assert_eq!(i.bytes_retrans, Some(0));
    }

    #[test]
    fn short_buffers() {
        assert_eq!(TcpInfoView::new(&[0; 50]).err(), Some(TooShort(50)));
        // An old kernel's 104-byte struct: later fields are absent.
        let i = TcpInfoView::new(&[0; 104]).unwrap().to_owned();
        assert_eq!(i.bytes_acked, None);
        assert_eq!(i.delivery_rate, None);
    }
}
