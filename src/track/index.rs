//! The flow table's hash index: open addressing with linear probing over
//! 8-byte buckets, each holding the low 32 bits of the flow's hash and its
//! slot number.
//!
//! Why not `hashbrown`: there a lookup reads a control group and then the
//! value in another cache line, and where the group lies can only be learnt
//! through a lookup. On the benchmark capture those two dependent misses
//! were the tracking loop's largest stall. Here the bucket a hash starts at
//! is known from the hash alone, so the replay loop prefetches it packets
//! ahead ([`FlowIndex::prefetch`]) and the lookup later finds tag and slot
//! in one line that is already in the cache.
//!
//! A bucket is `tag << 32 | (slot + 1)`; 0 is empty. The tag's low bits are
//! the bucket the entry belongs to, so growing and deleting (backward shift,
//! no tombstones) need no access to the flows.

/// Most buckets used before the index doubles: 7 of 10. Linear probing stays
/// short at this load, and a miss stops at the first empty bucket.
const LOAD_NUM: usize = 7;
const LOAD_DEN: usize = 10;
const MIN_BUCKETS: usize = 64;

#[derive(Default)]
pub struct FlowIndex {
    buckets: Vec<u64>,
    len: usize,
}

#[inline(always)]
fn tag(hash: u64) -> u64 {
    hash & 0xffff_ffff
}

#[inline(always)]
fn pack(hash: u64, slot: u32) -> u64 {
    (tag(hash) << 32) | (u64::from(slot) + 1)
}

#[inline(always)]
fn slot_of(bucket: u64) -> u32 {
    // `slot + 1` fits in 32 bits: slot numbers stay below `u32::MAX`.
    ((bucket & 0xffff_ffff) - 1) as u32
}

impl FlowIndex {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask()
    }

    /// Starts loading the bucket a lookup of `hash` begins at.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        if let Some(b) = self.buckets.get(self.home(hash)) {
            super::stream::prefetch(b as *const u64 as *const u8);
        }
    }

    /// The slots whose tag matches `hash`, in probe order.
    #[inline(always)]
    fn probe(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        let mask = self.mask();
        let want = tag(hash);
        let mut i = self.home(hash);
        let mut left = if self.buckets.is_empty() {
            0
        } else {
            self.buckets.len()
        };
        std::iter::from_fn(move || {
            while left > 0 {
                let b = self.buckets[i];
                if b == 0 {
                    return None;
                }
                i = (i + 1) & mask;
                left -= 1;
                if b >> 32 == want {
                    return Some(slot_of(b));
                }
            }
            None
        })
    }

    /// The first slot stored under `hash` for which `eq` holds.
    #[inline]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        self.probe(hash).find(|&s| eq(s))
    }

    /// The first slot whose tag matches `hash` (it may belong to another
    /// key: check before use).
    #[inline]
    pub fn candidate(&self, hash: u64) -> Option<u32> {
        self.probe(hash).next()
    }

    /// Stores `slot` under `hash`.
    pub fn insert(&mut self, hash: u64, slot: u32) {
        assert!(slot < u32::MAX, "flow slot number out of range");
        if (self.len + 1) * LOAD_DEN > self.buckets.len() * LOAD_NUM {
            self.grow();
        }
        self.place(pack(hash, slot));
        self.len += 1;
    }

    fn place(&mut self, bucket: u64) {
        let mask = self.mask();
        let mut i = (bucket >> 32) as usize & mask;
        while self.buckets[i] != 0 {
            i = (i + 1) & mask;
        }
        self.buckets[i] = bucket;
    }

    fn grow(&mut self) {
        let n = (self.buckets.len() * 2).max(MIN_BUCKETS);
        let old = std::mem::replace(&mut self.buckets, vec![0; n]);
        for b in old.into_iter().filter(|&b| b != 0) {
            self.place(b);
        }
    }

    /// Takes `slot`, stored under `hash`, out of the index; false if it was
    /// not there.
    pub fn remove(&mut self, hash: u64, slot: u32) -> bool {
        if self.buckets.is_empty() {
            return false;
        }
        let mask = self.mask();
        let want = pack(hash, slot);
        let mut i = self.home(hash);
        loop {
            match self.buckets[i] {
                0 => return false,
                b if b == want => break,
                _ => i = (i + 1) & mask,
            }
        }
        // Backward shift: pull later entries of the run into the hole when
        // their home bucket does not lie between the hole and where they sit,
        // so no lookup ever stops early at it.
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let b = self.buckets[j];
            if b == 0 {
                break;
            }
            let home = (b >> 32) as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.buckets[hole] = b;
                hole = j;
            }
        }
        self.buckets[hole] = 0;
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A model check: random inserts and removes, with hashes drawn from a
    /// small set so runs collide, wrap around the end and shift back.
    #[test]
    fn behaves_like_a_map_under_collisions_and_wraparound() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut idx = FlowIndex::default();
        let mut model: HashMap<u32, u64> = HashMap::new();
        let mut live: Vec<u32> = Vec::new();
        let mut next_slot = 0u32;
        for step in 0..100_000 {
            let r = rnd();
            // Grow, then shrink, then grow again.
            let insert_odds = if (step / 25_000) % 2 == 0 { 3 } else { 1 };
            if r % 4 < insert_odds || model.is_empty() {
                // Hashes near the top of the table (wraparound) and few of
                // them (long runs, equal tags).
                let hash = (rnd() % 40).wrapping_sub(20) | ((r % 7) << 40);
                idx.insert(hash, next_slot);
                model.insert(next_slot, hash);
                live.push(next_slot);
                next_slot += 1;
            } else {
                let slot = live.swap_remove((r as usize / 4) % live.len());
                let hash = model.remove(&slot).unwrap();
                assert!(idx.remove(hash, slot));
                assert!(!idx.remove(hash, slot), "removed twice");
            }
            assert_eq!(idx.len(), model.len());
            if step % 4999 == 0 {
                for (&slot, &hash) in &model {
                    assert_eq!(idx.find(hash, |s| s == slot), Some(slot), "step {step}");
                }
            }
        }
        for (&slot, &hash) in &model {
            assert_eq!(idx.find(hash, |s| s == slot), Some(slot));
            assert!(idx.candidate(hash).is_some());
        }
    }

    #[test]
    fn empty_index_finds_nothing() {
        let mut idx = FlowIndex::default();
        assert_eq!(idx.find(7, |_| true), None);
        assert_eq!(idx.candidate(7), None);
        assert!(!idx.remove(7, 0));
        idx.prefetch(7);
        idx.insert(7, 0);
        assert_eq!(idx.candidate(7), Some(0));
        assert_eq!(idx.candidate(8), None);
        assert!(idx.remove(7, 0));
        assert!(idx.is_empty());
        assert_eq!(idx.find(7, |_| true), None);
    }
}
