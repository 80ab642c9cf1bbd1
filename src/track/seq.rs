//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4),
//! and a 64-bit "unwrapped" space so that byte counts of long connections
//! stay right across wrap-arounds.

use std::cmp::Ordering;

/// A 32-bit TCP sequence or acknowledgement number. Ordered by the signed
/// distance between two values, never by raw `u32` comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// Signed distance `self - other` modulo 2^32.
    pub fn delta(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl std::ops::Add<u32> for SeqNum {
    type Output = SeqNum;
    /// Sequence arithmetic is modulo 2^32.
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.delta(*other).cmp(&0))
    }
}

/// Base added to the first sequence number of a direction, so that values a
/// little before it (retransmissions, out-of-order packets, an unseen SYN)
/// unwrap without going below zero.
pub const UNWRAP_BASE: u64 = 1 << 32;

/// Maps a 32-bit sequence number to the 64-bit value nearest to `reference`
/// (an already unwrapped value of the same direction).
pub fn unwrap_near(reference: u64, v: SeqNum) -> u64 {
    let delta = v.delta(SeqNum(reference as u32)) as i64;
    (reference as i64).saturating_add(delta).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_wraps() {
        assert!(SeqNum(5) > SeqNum(u32::MAX - 5));
        assert!(SeqNum(u32::MAX) < SeqNum(0));
        assert_eq!(SeqNum(2).delta(SeqNum(u32::MAX)), 3);
        assert_eq!(SeqNum(u32::MAX) + 2, SeqNum(1));
    }

    #[test]
    fn unwrapping_crosses_the_wrap() {
        let start = UNWRAP_BASE + u64::from(u32::MAX - 10);
        let after = unwrap_near(start, SeqNum(20));
        assert_eq!(after - start, 31);
        let before = unwrap_near(after, SeqNum(u32::MAX - 20));
        assert_eq!(after - before, 41);
        // Never below zero.
        assert_eq!(unwrap_near(3, SeqNum(1)), 1);
        assert_eq!(unwrap_near(3, SeqNum(u32::MAX)), 0);
        assert_eq!(unwrap_near(0, SeqNum(u32::MAX - 100)), 0);
    }
}
