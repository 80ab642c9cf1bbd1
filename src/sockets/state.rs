//! Socket states as the kernel numbers them, with ss's names, and the state
//! selections users type (`--state established,time-wait`, `connected`…).

use std::fmt;

/// A kernel socket state (`TCP_*` in `include/net/tcp_states.h`; UDP, raw
/// and unix sockets use the same numbers: ESTABLISHED when connected, CLOSE
/// when not, LISTEN for listening unix sockets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SockState(pub u8);

impl SockState {
    pub const ESTABLISHED: SockState = SockState(1);
    pub const SYN_SENT: SockState = SockState(2);
    pub const SYN_RECV: SockState = SockState(3);
    pub const FIN_WAIT1: SockState = SockState(4);
    pub const FIN_WAIT2: SockState = SockState(5);
    pub const TIME_WAIT: SockState = SockState(6);
    pub const CLOSE: SockState = SockState(7);
    pub const CLOSE_WAIT: SockState = SockState(8);
    pub const LAST_ACK: SockState = SockState(9);
    pub const LISTEN: SockState = SockState(10);
    pub const CLOSING: SockState = SockState(11);
    pub const NEW_SYN_RECV: SockState = SockState(12);

    /// ss's name for the state (`ESTAB`, `UNCONN`…).
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "ESTAB",
            2 => "SYN-SENT",
            3 => "SYN-RECV",
            4 => "FIN-WAIT-1",
            5 => "FIN-WAIT-2",
            6 => "TIME-WAIT",
            7 => "UNCONN",
            8 => "CLOSE-WAIT",
            9 => "LAST-ACK",
            10 => "LISTEN",
            11 => "CLOSING",
            12 => "NEW-SYN-RECV",
            13 => "BOUND-INACTIVE",
            _ => "UNKNOWN",
        }
    }

    /// The name in words (`established`, `time-wait`), for sentences.
    pub fn long_name(self) -> &'static str {
        const NAMES: [&str; 14] = [
            "unknown",
            "established",
            "syn-sent",
            "syn-recv",
            "fin-wait-1",
            "fin-wait-2",
            "time-wait",
            "unconnected",
            "close-wait",
            "last-ack",
            "listening",
            "closing",
            "syn-recv (request)",
            "bound-inactive",
        ];
        NAMES.get(usize::from(self.0)).copied().unwrap_or("unknown")
    }

    fn bit(self) -> u32 {
        1u32.checked_shl(u32::from(self.0)).unwrap_or(0)
    }
}

impl fmt::Display for SockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of states, as the kernel's `idiag_states` bitmask (bit n = state n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateSet(pub u32);

impl StateSet {
    /// Every state ss knows (1..=12; 13, BOUND-INACTIVE, only on request).
    pub const ALL: StateSet = StateSet(0x1ffe);
    /// ss's default: connected sockets, without TIME-WAIT and SYN-RECV.
    pub const CONNECTED: StateSet =
        StateSet(Self::ALL.0 & !(1 << 10 | 1 << 7 | 1 << 6 | 1 << 3 | 1 << 12));
    /// `-l`: listening TCP and unix sockets, and unconnected UDP and raw.
    pub const LISTENING: StateSet = StateSet(1 << 10 | 1 << 7);

    pub fn contains(self, s: SockState) -> bool {
        self.0 & s.bit() != 0
    }

    /// Parses ss's state names and groups, comma-separated (`established`,
    /// `syn-sent`, `time-wait`, `connected`, `synchronized`, `bucket`,
    /// `big`, `all`…); the error names the word not understood.
    pub fn parse(list: &str) -> Result<StateSet, String> {
        let mut set = 0u32;
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let bits = match word.to_ascii_lowercase().as_str() {
                "all" => Self::ALL.0,
                "connected" => Self::CONNECTED.0,
                "synchronized" => Self::CONNECTED.0 & !(1 << 2),
                "bucket" => 1 << 3 | 1 << 6 | 1 << 12,
                "big" => Self::ALL.0 & !(1 << 3 | 1 << 6 | 1 << 12),
                "established" | "estab" => 1 << 1,
                "syn-sent" => 1 << 2,
                "syn-recv" | "syn-received" => 1 << 3 | 1 << 12,
                "fin-wait-1" => 1 << 4,
                "fin-wait-2" => 1 << 5,
                "time-wait" => 1 << 6,
                "closed" | "unconn" | "unconnected" => 1 << 7,
                "close-wait" => 1 << 8,
                "last-ack" => 1 << 9,
                "listening" | "listen" => 1 << 10,
                "closing" => 1 << 11,
                "bound-inactive" => 1 << 13,
                _ => {
                    return Err(format!(
                        "unknown state `{word}` (expected one of: all, connected, synchronized, \
                         bucket, big, established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, \
                         time-wait, closed, close-wait, last-ack, listening, closing, bound-inactive)"
                    ))
                }
            };
            set |= bits;
        }
        if set == 0 {
            return Err("no state given".to_string());
        }
        Ok(StateSet(set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_match_ss() {
        // ss.c: SS_CONN = all but LISTEN, CLOSE, TIME_WAIT, SYN_RECV.
        let c = StateSet::CONNECTED;
        assert!(c.contains(SockState::ESTABLISHED));
        assert!(c.contains(SockState::SYN_SENT));
        assert!(c.contains(SockState::CLOSE_WAIT));
        assert!(!c.contains(SockState::LISTEN));
        assert!(!c.contains(SockState::CLOSE));
        assert!(!c.contains(SockState::TIME_WAIT));
        assert!(!c.contains(SockState::SYN_RECV));
        let s = StateSet::parse("synchronized").unwrap();
        assert!(!s.contains(SockState::SYN_SENT) && s.contains(SockState::ESTABLISHED));
        let b = StateSet::parse("bucket").unwrap();
        assert!(b.contains(SockState::TIME_WAIT) && !b.contains(SockState::ESTABLISHED));
        let l = StateSet::parse("established,TIME-WAIT").unwrap();
        assert_eq!(l.0, 1 << 1 | 1 << 6);
        assert!(StateSet::parse("establishd")
            .unwrap_err()
            .contains("establishd"));
        assert!(StateSet::parse("").is_err());
    }

    #[test]
    fn names_are_ss_names() {
        assert_eq!(SockState(1).name(), "ESTAB");
        assert_eq!(SockState(7).name(), "UNCONN");
        assert_eq!(SockState(10).name(), "LISTEN");
        assert_eq!(SockState(200).name(), "UNKNOWN");
    }
}
