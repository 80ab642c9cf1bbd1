//! One memory budget for every buffer decoded connections hold.
//!
//! A decoded connection holds bytes in its reassemblers (out-of-order
//! segments) and in its decoder (a partial HTTP head, client bytes sent
//! before the server's answer, a control frame's payload). Each of these has
//! a per-connection cap; this budget bounds their sum over all connections.
//! After each packet the tracker tells the budget what the connection's
//! buffers hold now ([`StreamBudget::charge`]); while the sum is over the
//! limit, the connection that has been holding buffers longest gives them
//! up ([`StreamBudget::oldest`]), which is counted and reported.
//!
//! Holders are kept in an insertion-ordered map (hashlink's
//! `LinkedHashMap`): charging, releasing and finding the oldest are O(1),
//! and only connections that hold something are in it. Most decoded
//! packets hold nothing once delivered, so they never touch it.

use hashlink::LinkedHashMap;

/// Counts for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BufferStats {
    /// Times a connection gave up its buffers to stay within the budget.
    pub given_up: u64,
    /// The bytes they held.
    pub given_up_bytes: u64,
}

/// A connection that holds buffers: where it is, and what it is charged.
#[derive(Clone, Copy, Debug)]
struct Holder {
    slot: u32,
    charged: usize,
}

pub struct StreamBudget {
    limit: usize,
    used: usize,
    /// By connection id, oldest holder first.
    holders: LinkedHashMap<u64, Holder, foldhash::fast::RandomState>,
    stats: BufferStats,
}

impl StreamBudget {
    pub fn new(limit: usize) -> Self {
        StreamBudget {
            limit,
            used: 0,
            holders: LinkedHashMap::with_hasher(foldhash::fast::RandomState::default()),
            stats: BufferStats::default(),
        }
    }

    pub fn stats(&self) -> BufferStats {
        self.stats
    }

    /// Bytes held by all connections' buffers.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Connections holding buffers.
    pub fn holders(&self) -> usize {
        self.holders.len()
    }

    pub fn over(&self) -> bool {
        self.used > self.limit
    }

    /// Connection `id` (in flow-table slot `slot`) now holds `held` bytes.
    /// A connection that starts holding goes to the back of the order; one
    /// that holds more or less keeps its place; one that holds nothing
    /// leaves.
    pub fn charge(&mut self, id: u64, slot: u32, held: usize) {
        let before = match self.holders.get_mut(&id) {
            Some(h) => {
                let before = h.charged;
                h.charged = held;
                h.slot = slot;
                before
            }
            None => {
                if held > 0 {
                    self.holders.insert(
                        id,
                        Holder {
                            slot,
                            charged: held,
                        },
                    );
                }
                0
            }
        };
        if held == 0 && before > 0 {
            self.holders.remove(&id);
        }
        self.used = self.used - before + held;
    }

    /// Connection `id` is gone (its buffers with it).
    pub fn release(&mut self, id: u64) {
        if let Some(h) = self.holders.remove(&id) {
            self.used -= h.charged;
        }
    }

    /// The connection that has held buffers longest: (id, slot).
    pub fn oldest(&self) -> Option<(u64, u32)> {
        self.holders.front().map(|(&id, h)| (id, h.slot))
    }

    /// Moves a holder that could not give up its buffers behind the others.
    pub fn to_back(&mut self, id: u64) {
        self.holders.to_back(&id);
    }

    /// A connection gave up `bytes` of buffers.
    pub fn gave_up(&mut self, bytes: usize) {
        self.stats.given_up += 1;
        self.stats.given_up_bytes += bytes as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_in_order_and_sums() {
        let mut b = StreamBudget::new(100);
        b.charge(1, 10, 40);
        b.charge(2, 20, 0);
        b.charge(3, 30, 50);
        assert_eq!((b.used(), b.holders(), b.over()), (90, 2, false));
        b.charge(1, 10, 60);
        assert!(b.over());
        assert_eq!(b.oldest(), Some((1, 10)), "growing keeps its place");
        b.charge(1, 10, 0);
        assert_eq!((b.used(), b.oldest()), (50, Some((3, 30))));
        b.charge(4, 40, 5);
        b.to_back(3);
        assert_eq!(b.oldest(), Some((4, 40)));
        b.release(4);
        b.release(3);
        b.release(99);
        assert_eq!((b.used(), b.holders()), (0, 0));
    }
}
