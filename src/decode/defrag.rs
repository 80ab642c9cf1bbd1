//! IPv4 and IPv6 fragment reassembly, bounded.
//!
//! Why not etherparse's `IpDefragPool`: its documentation states that it is
//! not safe against memory exhaustion (no limits, no timeouts), and its buffer
//! lets a later fragment overwrite bytes an earlier one delivered. Here:
//! - the first copy of a byte wins; an overlapping fragment that disagrees with
//!   what is already held is counted as a conflict (an evasion classic);
//! - a fragment reaching past the end that a last fragment (MF=0) set is cut at
//!   that end and counted, which is also what tshark does;
//! - at most [`DefragLimits::max_datagrams`] datagrams and
//!   [`DefragLimits::max_bytes`] bytes are held; the oldest are dropped first;
//! - a datagram not completed within [`DefragLimits::timeout`] of capture time
//!   after its first fragment is dropped (Linux's `ipfrag_time` is 30 s).
//!
//! Every dropped datagram is counted as incomplete.
//!
//! The datagrams held are one insertion-ordered map (hashlink's
//! `LinkedHashMap`): finding, completing, expiring and evicting a datagram
//! are O(1), and the map holds exactly the incomplete datagrams. (A separate
//! queue of keys kept an entry for every datagram of the last 30 s, completed
//! or not: 2 million completed datagrams held 213 MB, and eviction walked
//! past every stale entry — 32 s of CPU for 3 000 fragments after a million
//! completed datagrams.)

use std::net::IpAddr;

use hashlink::LinkedHashMap;

use crate::time::{Nanos, Timestamp};

use super::Vlans;

/// Largest reassembled payload: an IP datagram cannot exceed 65535 bytes.
const MAX_DATAGRAM: u32 = 65_535;

#[derive(Clone, Copy, Debug)]
pub struct DefragLimits {
    pub max_datagrams: usize,
    pub max_bytes: usize,
    pub timeout: Nanos,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits {
            max_datagrams: 4096,
            max_bytes: 32 * 1024 * 1024,
            timeout: Nanos::from_secs(30),
        }
    }
}

/// Counters reported in the capture-health block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragment packets seen.
    pub fragments: u64,
    /// Datagrams rebuilt from their fragments.
    pub reassembled: u64,
    /// Datagrams dropped before completion (timeout, limits, cut fragments,
    /// end of capture).
    pub incomplete: u64,
    /// Fragments that overlapped held data with different bytes, or reached
    /// past the datagram's end.
    pub conflicts: u64,
    /// Fragments that could not belong to any datagram (beyond 64 KiB).
    pub invalid: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// IPv4 protocol / IPv6 next header after the fragment header.
    pub proto: u8,
}

/// One fragment, borrowed from the packet.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    pub key: FragKey,
    /// Byte offset of `data` in the datagram's payload.
    pub offset: u32,
    pub more: bool,
    pub data: &'a [u8],
    /// False when the snaplen cut this fragment: its datagram can never be
    /// rebuilt.
    pub whole: bool,
    pub ts: Timestamp,
    pub vlan: Vlans,
}

/// A rebuilt datagram payload.
#[derive(Debug)]
pub struct Reassembled {
    pub key: FragKey,
    pub data: Vec<u8>,
    pub vlan: Vlans,
}

struct Pending {
    first_ts: Timestamp,
    data: Vec<u8>,
    /// Received byte ranges, sorted, disjoint and non-adjacent.
    ranges: Vec<(u32, u32)>,
    end: Option<u32>,
    vlan: Vlans,
    damaged: bool,
}

pub struct Defragmenter {
    limits: DefragLimits,
    /// Incomplete datagrams in order of first fragment (for expiry and
    /// eviction, oldest first); completed ones leave at once.
    pending: LinkedHashMap<FragKey, Pending, foldhash::fast::RandomState>,
    bytes: usize,
    stats: DefragStats,
}

impl Defragmenter {
    pub fn new(limits: DefragLimits) -> Self {
        Defragmenter {
            limits,
            pending: LinkedHashMap::with_hasher(foldhash::fast::RandomState::default()),
            bytes: 0,
            stats: DefragStats::default(),
        }
    }

    /// Datagrams held (each with its place in the eviction order).
    pub fn held(&self) -> usize {
        self.pending.len()
    }

    /// Bytes held for them.
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Adds a fragment; returns the datagram when this fragment completes it.
    pub fn add(&mut self, frag: Fragment<'_>) -> Option<Reassembled> {
        self.stats.fragments += 1;
        self.expire(frag.ts);
        let len = frag.data.len() as u32;
        let Some(frag_end) = frag.offset.checked_add(len).filter(|&e| e <= MAX_DATAGRAM) else {
            self.stats.invalid += 1;
            return None;
        };

        if !self.pending.contains_key(&frag.key) {
            while self.pending.len() >= self.limits.max_datagrams {
                if !self.evict_oldest() {
                    break;
                }
            }
            self.pending.insert(
                frag.key,
                Pending {
                    first_ts: frag.ts,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    end: None,
                    vlan: frag.vlan,
                    damaged: false,
                },
            );
        }

        // Make room for the bytes this fragment may add.
        let grow = {
            let p = &self.pending[&frag.key];
            (frag_end as usize).saturating_sub(p.data.len())
        };
        while self.bytes + grow > self.limits.max_bytes {
            if !self.evict_oldest_except(&frag.key) {
                break;
            }
        }
        if self.bytes + grow > self.limits.max_bytes {
            self.drop_pending(&frag.key);
            return None;
        }

        let p = self.pending.get_mut(&frag.key).expect("inserted above");
        if !frag.whole {
            p.damaged = true;
        }
        let mut conflict = false;

        // The end of the datagram: set by the first last-fragment seen.
        let mut end = frag_end;
        if !frag.more {
            match p.end {
                None => {
                    p.end = Some(frag_end);
                    // Data already held past this end came from inconsistent
                    // fragments: cut it.
                    if p.data.len() > frag_end as usize {
                        conflict = true;
                        self.bytes -= p.data.len() - frag_end as usize;
                        p.data.truncate(frag_end as usize);
                        clip_ranges(&mut p.ranges, frag_end);
                    }
                }
                Some(e) if e != frag_end => conflict = true,
                Some(_) => {}
            }
        }
        if let Some(e) = p.end {
            if end > e {
                conflict = true;
                end = e;
            }
        }
        let take = end.saturating_sub(frag.offset) as usize;
        let data = &frag.data[..take.min(frag.data.len())];
        let end = frag.offset + data.len() as u32;

        if p.data.len() < end as usize {
            let before = p.data.len();
            p.data.resize(end as usize, 0);
            self.bytes += p.data.len() - before;
        }
        conflict |= insert_first_wins(&mut p.data, &mut p.ranges, frag.offset, data);
        if conflict {
            self.stats.conflicts += 1;
        }

        let complete = matches!(p.end, Some(e) if p.ranges.len() == 1 && p.ranges[0] == (0, e));
        if complete {
            let p = self.pending.remove(&frag.key).expect("present");
            self.bytes -= p.data.len();
            if p.damaged {
                self.stats.incomplete += 1;
                return None;
            }
            self.stats.reassembled += 1;
            return Some(Reassembled {
                key: frag.key,
                data: p.data,
                vlan: p.vlan,
            });
        }
        None
    }

    /// Drops datagrams whose first fragment is older than the timeout.
    pub fn expire(&mut self, now: Timestamp) {
        while let Some((&key, p)) = self.pending.front() {
            if now.since(p.first_ts) <= self.limits.timeout {
                break;
            }
            self.drop_pending(&key);
        }
    }

    /// End of capture: whatever is still held never completed.
    pub fn finish(&mut self) {
        self.stats.incomplete += self.pending.len() as u64;
        self.pending.clear();
        self.bytes = 0;
    }

    fn evict_oldest(&mut self) -> bool {
        match self.pending.front() {
            Some((&key, _)) => {
                self.drop_pending(&key);
                true
            }
            None => false,
        }
    }

    /// Drops the oldest datagram other than `keep` (the first or the
    /// second in the order).
    fn evict_oldest_except(&mut self, keep: &FragKey) -> bool {
        let victim = self.pending.keys().take(2).find(|k| *k != keep).copied();
        match victim {
            Some(key) => {
                self.drop_pending(&key);
                true
            }
            None => false,
        }
    }

    fn drop_pending(&mut self, key: &FragKey) {
        if let Some(p) = self.pending.remove(key) {
            self.bytes -= p.data.len();
            self.stats.incomplete += 1;
        }
    }
}

/// Copies the parts of `src` (at `offset`) not yet covered by `ranges` into
/// `buf`, and merges the range in. Returns true when an already-held byte
/// differs from the new copy (a conflicting overlap).
fn insert_first_wins(
    buf: &mut [u8],
    ranges: &mut Vec<(u32, u32)>,
    offset: u32,
    src: &[u8],
) -> bool {
    let (s, e) = (offset, offset + src.len() as u32);
    if s == e {
        return false;
    }
    let mut conflict = false;
    let mut cursor = s;
    for &(rs, re) in ranges.iter() {
        if re <= cursor {
            continue;
        }
        if rs >= e {
            break;
        }
        if rs > cursor {
            let (a, b) = (cursor, rs);
            buf[a as usize..b as usize].copy_from_slice(&src[(a - s) as usize..(b - s) as usize]);
        }
        // Overlap [max(rs, cursor), min(re, e)): compare.
        let (a, b) = (rs.max(cursor), re.min(e));
        if buf[a as usize..b as usize] != src[(a - s) as usize..(b - s) as usize] {
            conflict = true;
        }
        cursor = re.min(e);
        if cursor >= e {
            break;
        }
    }
    if cursor < e {
        buf[cursor as usize..e as usize].copy_from_slice(&src[(cursor - s) as usize..]);
    }
    // Merge [s, e) into the sorted list.
    let mut merged = (s, e);
    ranges.retain(|&(rs, re)| {
        if re < merged.0 || rs > merged.1 {
            true
        } else {
            merged = (merged.0.min(rs), merged.1.max(re));
            false
        }
    });
    let at = ranges.partition_point(|&(rs, _)| rs < merged.0);
    ranges.insert(at, merged);
    conflict
}

fn clip_ranges(ranges: &mut Vec<(u32, u32)>, end: u32) {
    ranges.retain_mut(|r| {
        r.1 = r.1.min(end);
        r.0 < r.1
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            id,
            proto: 17,
        }
    }

    fn frag(id: u32, offset: u32, more: bool, data: &[u8], t: i64) -> Fragment<'_> {
        Fragment {
            key: key(id),
            offset,
            more,
            data,
            whole: true,
            ts: Timestamp(t * 1_000_000_000),
            vlan: Vlans::default(),
        }
    }

    #[test]
    fn in_and_out_of_order() {
        let mut d = Defragmenter::new(DefragLimits::default());
        assert!(d.add(frag(1, 8, false, b"BBBB", 0)).is_none());
        let r = d.add(frag(1, 0, true, b"AAAAAAAA", 0)).unwrap();
        assert_eq!(r.data, b"AAAAAAAABBBB");
        assert_eq!(d.stats().reassembled, 1);
        assert_eq!(d.stats().fragments, 2);
    }

    #[test]
    fn first_copy_wins_and_conflicts_are_counted() {
        let mut d = Defragmenter::new(DefragLimits::default());
        d.add(frag(1, 0, true, b"AAAAAAAA", 0));
        let r = d.add(frag(1, 0, false, b"XXXXXXXXCC", 0)).unwrap();
        assert_eq!(r.data, b"AAAAAAAACC");
        assert_eq!(d.stats().conflicts, 1);
    }

    #[test]
    fn oversized_overlap_is_cut_at_the_known_end() {
        // The shape of zeek's ipv4/fragmented-1 trace: 18 bytes at 0 (MF),
        // last fragment at 48, then an overlapping first fragment of 304 bytes.
        let mut d = Defragmenter::new(DefragLimits::default());
        let first = [1u8; 18];
        let last = [2u8; 116];
        let big = [1u8; 304];
        assert!(d.add(frag(7, 0, true, &first, 0)).is_none());
        assert!(d.add(frag(7, 48, false, &last, 0)).is_none());
        let r = d.add(frag(7, 0, true, &big, 0)).unwrap();
        assert_eq!(r.data.len(), 164);
        assert_eq!(&r.data[..48], &[1u8; 48][..]);
        assert_eq!(&r.data[48..], &last[..]);
        assert_eq!(d.stats().conflicts, 1);
    }

    #[test]
    fn timeouts_and_limits_count_incomplete() {
        let mut d = Defragmenter::new(DefragLimits {
            max_datagrams: 2,
            max_bytes: 1 << 20,
            timeout: Nanos::from_secs(30),
        });
        d.add(frag(1, 0, true, b"AAAAAAAA", 0));
        d.add(frag(2, 0, true, b"AAAAAAAA", 1));
        d.add(frag(3, 0, true, b"AAAAAAAA", 2)); // evicts 1
        assert_eq!(d.stats().incomplete, 1);
        d.add(frag(4, 0, true, b"AAAAAAAA", 100)); // 2 and 3 time out; 4 held
        assert_eq!(d.stats().incomplete, 3);
        d.finish();
        assert_eq!(d.stats().incomplete, 4);
    }

    #[test]
    fn byte_cap_holds() {
        let mut d = Defragmenter::new(DefragLimits {
            max_datagrams: 100,
            max_bytes: 100,
            timeout: Nanos::from_secs(30),
        });
        let data = [0u8; 64];
        d.add(frag(1, 0, true, &data, 0));
        d.add(frag(2, 0, true, &data, 0)); // evicts 1
        assert_eq!(d.stats().incomplete, 1);
        assert!(d.bytes <= 100);
        d.add(frag(3, 0, true, &[0u8; 200], 0)); // can never fit
        assert!(d.bytes <= 100);
    }

    #[test]
    fn beyond_64k_is_invalid() {
        let mut d = Defragmenter::new(DefragLimits::default());
        assert!(d.add(frag(1, 65_528, false, &[0u8; 16], 0)).is_none());
        assert_eq!(d.stats().invalid, 1);
    }

    #[test]
    fn cut_fragments_never_complete() {
        let mut d = Defragmenter::new(DefragLimits::default());
        let mut f = frag(1, 0, true, b"AAAAAAAA", 0);
        f.whole = false;
        d.add(f);
        assert!(d.add(frag(1, 8, false, b"BB", 0)).is_none());
        assert_eq!(d.stats().incomplete, 1);
        assert_eq!(d.stats().reassembled, 0);
    }

    /// A last fragment that ends before data already held cuts it, and the
    /// bytes cut are no longer counted as held (they were, for good: each
    /// such datagram shrank the byte limit until the capture ended).
    #[test]
    fn a_conflicting_end_frees_what_it_cuts() {
        let mut d = Defragmenter::new(DefragLimits::default());
        d.add(frag(1, 8, true, &[1u8; 100], 0));
        d.add(frag(1, 16, false, &[1u8; 8], 0));
        assert_eq!(d.held_bytes(), 24);
        assert_eq!(d.stats().conflicts, 1);
    }

    /// Completed datagrams leave nothing behind: before, each left its key
    /// in the eviction queue for 30 s, and eviction walked past all of them.
    #[test]
    fn completed_datagrams_leave_nothing_behind() {
        let mut d = Defragmenter::new(DefragLimits::default());
        for id in 0..100_000u32 {
            d.add(frag(id, 0, true, b"AAAAAAAA", 0));
            assert!(d.add(frag(id, 8, false, b"BB", 0)).is_some());
        }
        assert_eq!((d.held(), d.held_bytes()), (0, 0));
        // Now a flood of held datagrams: each is found at the front.
        let big = [0u8; 1400];
        for id in 0..3000u32 {
            d.add(frag(1_000_000 + id, 64_000, true, &big, 1));
        }
        assert!(d.held_bytes() <= DefragLimits::default().max_bytes);
        assert_eq!(d.stats().reassembled, 100_000);
        assert_eq!(d.stats().incomplete + d.held() as u64, 3000);
    }

    /// Whatever arrives, in whatever order: the datagrams and bytes held
    /// stay within the limits, and the bytes held are the bytes of the
    /// datagrams held.
    #[test]
    fn limits_hold_for_any_fragments() {
        let limits = DefragLimits {
            max_datagrams: 8,
            max_bytes: 4000,
            timeout: Nanos::from_secs(30),
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let data = [7u8; 2048];
        let mut d = Defragmenter::new(limits);
        let mut t = 0;
        for _ in 0..200_000 {
            let r = next();
            let id = (r % 24) as u32;
            // Mostly near the start (datagrams complete), now and then
            // past 64 KiB (invalid).
            let offset = if (r >> 52) % 64 == 0 {
                65_000
            } else {
                ((r >> 8) % 3000) as u32 & !7
            };
            let len = ((r >> 24) % 2048) as usize;
            let more = (r >> 40) % 3 != 0;
            t += (r >> 48) % 3;
            d.add(frag(id, offset, more, &data[..len], t as i64));
            assert!(d.held() <= limits.max_datagrams);
            assert!(d.held_bytes() <= limits.max_bytes);
            let sum: usize = d.pending.values().map(|p| p.data.len()).sum();
            assert_eq!(sum, d.held_bytes());
        }
        let s = d.stats();
        assert!(
            s.reassembled > 0 && s.incomplete > 0 && s.invalid > 0,
            "{s:?}"
        );
        d.finish();
        assert_eq!((d.held(), d.held_bytes()), (0, 0));
    }

    #[test]
    fn range_merging() {
        let mut buf = vec![0u8; 20];
        let mut r = Vec::new();
        insert_first_wins(&mut buf, &mut r, 10, b"bbbbb");
        insert_first_wins(&mut buf, &mut r, 0, b"aaaaa");
        assert_eq!(r, vec![(0, 5), (10, 15)]);
        insert_first_wins(&mut buf, &mut r, 3, b"ccccccccc");
        assert_eq!(r, vec![(0, 15)]);
        assert_eq!(&buf[..15], b"aaaaacccccbbbbb");
    }
}
