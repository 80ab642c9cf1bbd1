//! Flow storage: a slab of flows plus a small hash index of slot numbers.
//!
//! A hash table holding the flows themselves doubles and copies every flow
//! each time it grows, and each growth touches fresh memory — on a capture
//! with hundreds of thousands of flows that copying and page-zeroing was a
//! fifth of the tracking thread's time. Here the flows sit in fixed-size
//! chunks that never move (memory is touched once, as flows arrive; freed
//! slots are reused, most recently freed first, while still in cache), and
//! the hash table only holds 4-byte slot numbers. A slot number also lets a
//! timer point straight at its flow.

use super::index::FlowIndex;
use super::key::{Endpoint, FlowKey};

/// Slots per chunk (a power of two).
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// A flow with its bookkeeping: `gen` changes when the slot gets a new flow,
/// `queued` is the wheel second of its live timer (other timers are stale).
pub struct Entry<F> {
    pub key: FlowKey,
    pub hash: u64,
    /// Whether the flow's client is endpoint `a` of the key.
    pub client_is_a: bool,
    pub gen: u32,
    pub queued: i64,
    pub flow: F,
}

impl<F> Entry<F> {
    /// The flow's client and server.
    pub fn endpoints(&self) -> (Endpoint, Endpoint) {
        if self.client_is_a {
            (self.key.a(), self.key.b())
        } else {
            (self.key.b(), self.key.a())
        }
    }
}

pub struct FlowTable<F> {
    index: FlowIndex,
    chunks: Vec<Vec<Option<Entry<F>>>>,
    free: Vec<u32>,
}

fn slot<F>(chunks: &[Vec<Option<Entry<F>>>], i: u32) -> Option<&Entry<F>> {
    chunks
        .get((i >> CHUNK_BITS) as usize)?
        .get(i as usize & (CHUNK - 1))?
        .as_ref()
}

impl<F> Default for FlowTable<F> {
    fn default() -> Self {
        FlowTable {
            index: FlowIndex::default(),
            chunks: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<F> FlowTable<F> {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The slot of the flow with this key.
    #[inline]
    pub fn find(&self, hash: u64, key: &FlowKey) -> Option<u32> {
        let chunks = &self.chunks;
        self.index
            .find(hash, |i| slot(chunks, i).is_some_and(|e| e.key == *key))
    }

    /// The slot of the first flow whose hash tag matches `hash`, without
    /// reading any flow (it may hold another key: check before use).
    #[inline]
    pub fn candidate(&self, hash: u64) -> Option<u32> {
        self.index.candidate(hash)
    }

    /// [`FlowTable::find`], trying slot `hint` first (a slot found for the
    /// key a moment ago: right if it still holds that key, since keys are
    /// unique in the table).
    #[inline]
    pub fn find_hinted(&self, hint: Option<u32>, hash: u64, key: &FlowKey) -> Option<u32> {
        if let Some(i) = hint {
            if self.get(i).is_some_and(|e| e.hash == hash && e.key == *key) {
                return Some(i);
            }
        }
        self.find(hash, key)
    }

    #[inline]
    pub fn get(&self, i: u32) -> Option<&Entry<F>> {
        slot(&self.chunks, i)
    }

    #[inline]
    pub fn get_mut(&mut self, i: u32) -> Option<&mut Entry<F>> {
        self.chunks
            .get_mut((i >> CHUNK_BITS) as usize)?
            .get_mut(i as usize & (CHUNK - 1))?
            .as_mut()
    }

    /// Starts loading slot `i` into the cache without reading it (expiry
    /// visits flows untouched for a long time: each is a cold miss, and
    /// several can be in flight at once).
    #[inline]
    pub fn prefetch(&self, i: u32) {
        if let Some(e) = self
            .chunks
            .get((i >> CHUNK_BITS) as usize)
            .and_then(|c| c.get(i as usize & (CHUNK - 1)))
        {
            let p = e as *const Option<Entry<F>> as *const u8;
            super::stream::prefetch(p);
            super::stream::prefetch_rest(e);
        }
    }

    /// Starts loading the index bucket a lookup of `hash` begins at (the
    /// first of the replay loop's prefetch steps: it needs only the hash).
    #[inline(always)]
    pub fn prefetch_index(&self, hash: u64) {
        self.index.prefetch(hash);
    }

    /// Stores a flow whose key is not in the table yet; returns its slot.
    pub fn insert(&mut self, entry: Entry<F>) -> u32 {
        let hash = entry.hash;
        let i = match self.free.pop() {
            Some(i) => {
                self.chunks[(i >> CHUNK_BITS) as usize][i as usize & (CHUNK - 1)] = Some(entry);
                i
            }
            None => {
                if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
                    self.chunks.push(Vec::with_capacity(CHUNK));
                }
                let n = self.chunks.len() - 1;
                let last = &mut self.chunks[n];
                last.push(Some(entry));
                ((n << CHUNK_BITS) + last.len() - 1) as u32
            }
        };
        self.index.insert(hash, i);
        i
    }

    /// Takes the flow out of slot `i`.
    pub fn remove(&mut self, i: u32) -> Option<Entry<F>> {
        let e = self
            .chunks
            .get_mut((i >> CHUNK_BITS) as usize)?
            .get_mut(i as usize & (CHUNK - 1))?
            .take()?;
        self.forget(i, e.hash);
        Some(e)
    }

    /// Frees slot `i`, emptied already, whose flow was stored under `hash`.
    fn forget(&mut self, i: u32, hash: u64) {
        self.index.remove(hash, i);
        self.free.push(i);
    }

    /// Hands the flow in slot `i` to `f`, then takes it out of the table and
    /// drops it where it lies (an entry is up to ~300 bytes: moving it out
    /// to look at it once was a copy per flow). False if the slot is empty.
    pub fn remove_with(&mut self, i: u32, f: impl FnOnce(&mut Entry<F>)) -> bool {
        let Some(cell) = self
            .chunks
            .get_mut((i >> CHUNK_BITS) as usize)
            .and_then(|c| c.get_mut(i as usize & (CHUNK - 1)))
        else {
            return false;
        };
        let Some(e) = cell.as_mut() else {
            return false;
        };
        f(e);
        let hash = e.hash;
        *cell = None;
        self.forget(i, hash);
        true
    }

    /// Every flow with its slot.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Entry<F>)> {
        self.chunks.iter().enumerate().flat_map(|(n, c)| {
            c.iter()
                .enumerate()
                .filter_map(move |(j, e)| e.as_ref().map(|e| (((n << CHUNK_BITS) + j) as u32, e)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Vlans;

    fn entry(port: u16) -> Entry<u16> {
        let a = Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port,
        };
        let b = Endpoint {
            ip: "10.0.0.2".parse().unwrap(),
            port: 53,
        };
        let (key, _) = FlowKey::new(a, b, &Vlans::default());
        Entry {
            key,
            // A poor hash on purpose: collisions must still find the right key.
            hash: u64::from(port / 3),
            client_is_a: true,
            gen: 0,
            queued: 0,
            flow: port,
        }
    }

    #[test]
    fn insert_find_remove_reuse() {
        let mut t = FlowTable::default();
        let slots: Vec<u32> = (0..10_000).map(|p| t.insert(entry(p))).collect();
        assert_eq!(t.len(), 10_000);
        for p in (0..10_000).step_by(3) {
            let e = entry(p);
            let i = t.find(e.hash, &e.key).unwrap();
            assert_eq!(i, slots[p as usize]);
            assert_eq!(t.remove(i).unwrap().flow, p);
            assert!(t.find(e.hash, &e.key).is_none());
            assert!(t.get(i).is_none());
        }
        assert_eq!(t.len(), 10_000 - 3334);
        // Freed slots are reused before the slab grows.
        let i = t.insert(entry(60_000));
        assert_eq!(i, slots[9999]);
        assert_eq!(t.iter().count(), t.len());
        for p in (1..10_000).step_by(3) {
            let e = entry(p);
            let i = t.find(e.hash, &e.key).unwrap();
            assert_eq!(t.get(i).unwrap().flow, p);
            t.get_mut(i).unwrap().flow += 1;
            assert_eq!(t.get(i).unwrap().flow, p + 1);
        }
        assert!(t.remove(u32::MAX).is_none());
        // Removing in place: the flow is seen once, then gone and its slot free.
        let e = entry(2);
        let i = t.find(e.hash, &e.key).unwrap();
        let mut seen = None;
        assert!(t.remove_with(i, |x| seen = Some(x.flow)));
        assert_eq!(seen, Some(2));
        assert!(t.find(e.hash, &e.key).is_none() && t.get(i).is_none());
        assert!(!t.remove_with(i, |_| panic!("empty slot handed out")));
        assert!(!t.remove_with(u32::MAX, |_| panic!("no such slot")));
        assert_eq!(t.insert(entry(61_000)), i);
    }

    #[test]
    fn a_stale_hint_is_not_trusted() {
        let mut t = FlowTable::default();
        let (a, b, c) = (entry(1), entry(2), entry(3));
        let (ka, kb, kc) = ((a.hash, a.key), (b.hash, b.key), (c.hash, c.key));
        let sa = t.insert(a);
        let sb = t.insert(b);
        assert_eq!(t.find_hinted(Some(sa), ka.0, &ka.1), Some(sa));
        // A wrong or out-of-range hint falls back to the index.
        assert_eq!(t.find_hinted(Some(sb), ka.0, &ka.1), Some(sa));
        assert_eq!(t.find_hinted(Some(u32::MAX), kb.0, &kb.1), Some(sb));
        // The hinted slot was freed, then taken by another flow.
        t.remove(sa);
        assert_eq!(t.find_hinted(Some(sa), ka.0, &ka.1), None);
        let sc = t.insert(c);
        assert_eq!(sc, sa);
        assert_eq!(t.find_hinted(Some(sa), ka.0, &ka.1), None);
        assert_eq!(t.find_hinted(Some(sa), kc.0, &kc.1), Some(sc));
        assert_eq!(t.find_hinted(None, kb.0, &kb.1), Some(sb));
        // Three keys with one hash: the candidate is one of them, and used
        // as a hint it still finds each key's own slot.
        let slots: Vec<(u32, Entry<u16>)> =
            (6..9).map(|p| (t.insert(entry(p)), entry(p))).collect();
        let cand = t.candidate(slots[0].1.hash);
        assert!(slots.iter().any(|(s, _)| Some(*s) == cand));
        for (s, e) in &slots {
            assert_eq!(t.find_hinted(cand, e.hash, &e.key), Some(*s));
        }
        // A candidate for a key not in the table (here its tag matches
        // others': all these hashes are small) leads nowhere.
        let absent = entry(9999);
        assert_eq!(
            t.find_hinted(t.candidate(absent.hash), absent.hash, &absent.key),
            None
        );
    }
}
