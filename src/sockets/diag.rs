//! The kernel's socket tables over netlink `NETLINK_SOCK_DIAG`: one
//! `SOCK_DIAG_BY_FAMILY` dump per family and protocol, the state filter
//! sent as the `idiag_states` bitmask so the kernel skips what is not
//! wanted. Message layouts are netlink-packet-sock-diag's; `tcp_info` is read
//! through [`TcpInfoView`].

use std::io;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::{
    constants::{AF_INET, AF_INET6, IPPROTO_RAW, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE},
    inet::{self, ExtensionFlags, InetRequest, InetResponse, SocketId},
    unix::{self, nlas::UnixDiagName, ShowFlags, UnixRequest, UnixResponse},
    SockDiagMessage,
};
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr};

use super::tcp_info::TcpInfoView;
use super::{Family, MemInfo, SockProto, SockState, SocketRow, StateSet, UnixKind};

/// An open sock_diag socket.
pub struct Diag {
    socket: Socket,
    buf: Vec<u8>,
    seq: u32,
}

/// What each inet dump asks the kernel to add.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extras {
    pub tcp_info: bool,
    pub mem: bool,
}

impl Diag {
    pub fn open() -> io::Result<Diag> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Diag {
            socket,
            buf: Vec::with_capacity(1 << 16),
            seq: 0,
        })
    }

    fn request(&mut self, msg: SockDiagMessage) -> io::Result<()> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        self.seq += 1;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;
        Ok(())
    }

    /// Reads the answers to the last request until NLMSG_DONE, handing each
    /// socket to `each`.
    fn replies(&mut self, mut each: impl FnMut(SockDiagMessage)) -> io::Result<()> {
        loop {
            self.buf.clear();
            let n = self.socket.recv(&mut self.buf, 0)?;
            if n > self.buf.len() {
                return Err(io::Error::other("netlink message larger than the buffer"));
            }
            let mut at = 0;
            while at < self.buf.len() {
                let bytes = &self.buf[at..];
                let msg = NetlinkMessage::<SockDiagMessage>::deserialize(bytes)
                    .map_err(|e| io::Error::other(format!("sock_diag answer: {e}")))?;
                let len = msg.header.length as usize;
                match msg.payload {
                    // A dump that failed (e.g. no diag module for the
                    // protocol) ends with a DONE carrying -errno.
                    NetlinkPayload::Done(d) if d.code < 0 => {
                        return Err(io::Error::from_raw_os_error(-d.code))
                    }
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(m) => each(m),
                    _ => {}
                }
                // Messages are 4-byte aligned.
                let step = (len + 3) & !3;
                if step == 0 {
                    return Err(io::Error::other("netlink message of length 0"));
                }
                at += step;
            }
        }
    }

    /// Every socket of one inet family and protocol in `states`.
    pub fn inet(
        &mut self,
        family: Family,
        proto: SockProto,
        states: StateSet,
        extras: Extras,
        rows: &mut Vec<SocketRow>,
    ) -> io::Result<()> {
        let (af, socket_id) = match family {
            Family::Inet6 => (AF_INET6, SocketId::new_v6()),
            _ => (AF_INET, SocketId::new_v4()),
        };
        let protocol = match proto {
            SockProto::Tcp => IPPROTO_TCP,
            SockProto::Udp => IPPROTO_UDP,
            SockProto::UdpLite => IPPROTO_UDPLITE,
            _ => IPPROTO_RAW,
        };
        let mut extensions = ExtensionFlags::empty();
        if extras.tcp_info && proto == SockProto::Tcp {
            extensions |= ExtensionFlags::INFO;
        }
        if extras.mem {
            extensions |= ExtensionFlags::SKMEMINFO;
        }
        self.request(SockDiagMessage::InetRequest(InetRequest {
            family: af,
            protocol,
            extensions,
            states: inet::StateFlags::from_bits_retain(states.0),
            socket_id,
        }))?;
        self.replies(|m| {
            if let SockDiagMessage::InetResponse(r) = m {
                rows.push(inet_row(&r, family, proto));
            }
        })
    }

    /// Every unix socket in `states`.
    /// (Socket memory is not asked for: the crate's unix `MemInfo` does not
    /// follow the kernel's `sk_meminfo` layout.)
    pub fn unix(&mut self, states: StateSet, rows: &mut Vec<SocketRow>) -> io::Result<()> {
        let show = ShowFlags::NAME | ShowFlags::PEER | ShowFlags::RQLEN;
        self.request(SockDiagMessage::UnixRequest(UnixRequest {
            state_flags: unix::StateFlags::from_bits_retain(states.0),
            inode: 0,
            show_flags: show,
            cookie: [0xff; 8],
        }))?;
        self.replies(|m| {
            if let SockDiagMessage::UnixResponse(r) = m {
                rows.push(unix_row(&r));
            }
        })
    }
}

fn inet_row(r: &InetResponse, family: Family, proto: SockProto) -> SocketRow {
    let h = &r.header;
    let id = &h.socket_id;
    let mut row = SocketRow::new(proto, family, SockState(h.state));
    row.local_ip = Some(id.source_address);
    row.local_port = Some(id.source_port);
    row.remote_ip = Some(id.destination_address);
    row.remote_port = Some(id.destination_port);
    row.interface = id.interface_id;
    row.recv_q = h.recv_queue;
    row.send_q = h.send_queue;
    row.uid = Some(h.uid);
    row.inode = u64::from(h.inode);
    for nla in &r.nlas {
        match nla {
            inet::nlas::Nla::TcpInfo(bytes) => {
                row.tcp_info = TcpInfoView::new(bytes).ok().map(|v| v.to_owned());
            }
            inet::nlas::Nla::MemInfo(m) => {
                row.mem = Some(MemInfo {
                    rmem_alloc: m.receive_queue,
                    rcvbuf: m.receive_queue_max,
                    wmem_alloc: m.bottom_send_queues,
                    sndbuf: m.send_queue_max,
                    fwd_alloc: m.cache,
                    wmem_queued: m.send_queue,
                    optmem: m.options,
                    backlog: m.backlog_queue_length,
                    drops: m.drops,
                });
            }
            _ => {}
        }
    }
    row
}

fn unix_row(r: &UnixResponse) -> SocketRow {
    let h = &r.header;
    let kind = match h.kind {
        1 => UnixKind::Stream,
        2 => UnixKind::Dgram,
        _ => UnixKind::Seqpacket,
    };
    let mut row = SocketRow::new(SockProto::Unix(kind), Family::Unix, SockState(h.state));
    row.inode = u64::from(h.inode);
    for nla in &r.nlas {
        match nla {
            unix::nlas::Nla::Name(UnixDiagName::Pathname(p)) => {
                row.unix_path = Some(p.to_string_lossy().into_owned());
            }
            unix::nlas::Nla::Name(UnixDiagName::Abstract(a)) => {
                row.unix_path = Some(format!("@{}", String::from_utf8_lossy(a)));
            }
            unix::nlas::Nla::Peer(p) => row.unix_peer = Some(u64::from(*p)),
            unix::nlas::Nla::ReceiveQueueLength(rq, wq) => {
                row.recv_q = *rq;
                row.send_q = *wq;
            }
            _ => {}
        }
    }
    row
}
