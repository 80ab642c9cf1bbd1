//! A timer wheel of one-second slots for flow deadlines.
//!
//! Flow deadlines are "last packet + a fixed timeout", so a wheel with one
//! slot per second of the longest timeout holds them all, and scheduling and
//! expiring are O(1). A slot is processed once capture time has moved past
//! its second: a flow is forgotten at most one second late, never early.
//! Entries are processed in the order they were scheduled, which keeps
//! replays deterministic. Entries are not removed when a flow's deadline
//! moves; the owner tells stale ones apart (see [`super::Tracker`]).

use crate::time::{Timestamp, NANOS_PER_SEC};

pub struct TimerWheel<T> {
    slots: Vec<Vec<T>>,
    /// The second of the oldest slot not yet processed; `None` before the
    /// first entry.
    base: Option<i64>,
    len: usize,
}

impl<T> TimerWheel<T> {
    /// A wheel for deadlines up to `horizon_secs` after the current time.
    pub fn new(horizon_secs: i64) -> Self {
        let n = (horizon_secs.max(1) + 2) as usize;
        TimerWheel {
            slots: (0..n).map(|_| Vec::new()).collect(),
            base: None,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Files `item` under the second `deadline` falls in, clamped into the
    /// wheel's window (which starts at `now` for the first entry). Returns
    /// that second, which the owner records to recognise the entry.
    pub fn schedule(&mut self, now: Timestamp, deadline: Timestamp, item: T) -> i64 {
        let sec = deadline.0.div_euclid(NANOS_PER_SEC);
        let base = *self.base.get_or_insert(now.0.div_euclid(NANOS_PER_SEC));
        let last = base + self.slots.len() as i64 - 1;
        let sec = sec.clamp(base, last);
        let n = self.slots.len() as i64;
        self.slots[sec.rem_euclid(n) as usize].push(item);
        self.len += 1;
        sec
    }

    /// Takes the entries of every slot whose second is before `now`'s, in
    /// order; `f` gets each entry and the slot's second.
    pub fn expire(&mut self, now: Timestamp, mut f: impl FnMut(&mut Self, i64, T)) {
        let now_sec = now.0.div_euclid(NANOS_PER_SEC);
        let Some(mut base) = self.base else { return };
        let n = self.slots.len() as i64;
        // After a long silence, every slot is due: no need to walk each second.
        if now_sec - base > n {
            base = now_sec - n;
        }
        while base < now_sec {
            let idx = base.rem_euclid(n) as usize;
            let items = std::mem::take(&mut self.slots[idx]);
            self.len -= items.len();
            self.base = Some(base + 1);
            for item in items {
                f(self, base, item);
            }
            base += 1;
        }
        self.base = Some(base);
    }

    /// Removes and returns one entry from the earliest non-empty slot, with
    /// that slot's second.
    pub fn pop_earliest(&mut self) -> Option<(i64, T)> {
        let base = self.base?;
        let n = self.slots.len() as i64;
        for s in base..base + n {
            let idx = s.rem_euclid(n) as usize;
            if let Some(item) = self.slots[idx].pop() {
                self.len -= 1;
                return Some((s, item));
            }
        }
        None
    }

    pub fn clear(&mut self) {
        for s in &mut self.slots {
            s.clear();
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp(s * NANOS_PER_SEC)
    }

    #[test]
    fn expires_in_order_and_never_early() {
        let mut w = TimerWheel::new(10);
        w.schedule(t(0), t(5), "a");
        w.schedule(t(0), t(7), "b");
        w.schedule(t(0), t(5), "c");
        let mut out = Vec::new();
        w.expire(t(5), |_, _, x| out.push(x));
        assert!(out.is_empty(), "second 5 is not over");
        w.expire(t(6), |_, _, x| out.push(x));
        assert_eq!(out, vec!["a", "c"]);
        w.expire(t(100), |_, _, x| out.push(x));
        assert_eq!(out, vec!["a", "c", "b"]);
        assert!(w.is_empty());
    }

    #[test]
    fn far_deadlines_are_clamped_and_rescheduled() {
        let mut w = TimerWheel::new(3);
        let s = w.schedule(t(0), t(0), 1);
        assert_eq!(s, 0);
        let s = w.schedule(t(0), t(1000), 2);
        assert_eq!(s, 4, "clamped to the wheel's last slot");
        let mut seen = Vec::new();
        w.expire(t(5), |w, sec, x| {
            seen.push((sec, x));
            if x == 2 {
                w.schedule(t(5), t(1000), 3);
            }
        });
        assert_eq!(seen, vec![(0, 1), (4, 2)]);
        assert_eq!(w.len(), 1);
        assert_eq!(w.pop_earliest().map(|(_, x)| x), Some(3));
    }

    #[test]
    fn the_window_starts_at_now() {
        let mut w = TimerWheel::new(300);
        assert_eq!(w.schedule(t(0), t(300), 1), 300);
        assert_eq!(w.schedule(t(0), t(5), 2), 5);
        let mut out = Vec::new();
        w.expire(t(6), |_, _, x| out.push(x));
        assert_eq!(out, vec![2]);
    }
}
