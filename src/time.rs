//! Capture time.
//!
//! Time is an input: every timestamp in sockscope comes from the packet's capture
//! record (or, for live capture, the kernel), never from the wall clock, so a replay
//! of the same file gives the same output on every run, timeouts included.
//!
//! A [`Timestamp`] is a signed count of nanoseconds since the Unix epoch: exact for
//! microsecond and nanosecond captures, and cheap to compare and subtract on the hot
//! path. Conversions to floating point happen only when rendering.

use std::fmt;

/// Nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// A span of capture time in nanoseconds (may be negative when a capture is not
/// in time order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub i64);

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    /// From seconds and a fraction expressed in `units_per_sec` (10^6 for
    /// microsecond pcap, 10^9 for nanosecond pcap, anything for pcapng's
    /// `if_tsresol`). Saturates instead of overflowing on absurd input.
    pub fn from_parts(secs: i64, frac: u64, units_per_sec: u64) -> Timestamp {
        let frac_ns = if units_per_sec == 0 {
            0
        } else {
            ((frac as u128 * NANOS_PER_SEC as u128) / units_per_sec as u128) as i64
        };
        Timestamp(secs.saturating_mul(NANOS_PER_SEC).saturating_add(frac_ns))
    }

    /// From a single count of `units_per_sec` ticks (pcapng's 64-bit timestamps).
    pub fn from_ticks(ticks: u64, units_per_sec: u64) -> Timestamp {
        if units_per_sec == 0 {
            return Timestamp(0);
        }
        let ns = (ticks as u128 * NANOS_PER_SEC as u128) / units_per_sec as u128;
        Timestamp(i64::try_from(ns).unwrap_or(i64::MAX))
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    pub fn subsec_nanos(self) -> i64 {
        self.0.rem_euclid(NANOS_PER_SEC)
    }

    pub fn as_secs_f64(self) -> f64 {
        self.secs() as f64 + self.subsec_nanos() as f64 / NANOS_PER_SEC as f64
    }

    pub fn since(self, earlier: Timestamp) -> Nanos {
        Nanos(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Nanos> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Nanos) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0))
    }
}

impl Nanos {
    pub const fn from_secs(s: i64) -> Nanos {
        Nanos(s * NANOS_PER_SEC)
    }

    pub const fn from_millis(ms: i64) -> Nanos {
        Nanos(ms * 1_000_000)
    }

    /// Milliseconds as a float, for RTTs: exact to the nanosecond for any RTT a
    /// human cares about.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
}

/// `HH:MM:SS.ffffff` in UTC, the way tcpdump prints a packet time with `TZ=UTC`.
pub struct TimeOfDay(pub Timestamp);

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.secs();
        let day = secs.rem_euclid(86_400);
        write!(
            f,
            "{:02}:{:02}:{:02}.{:06}",
            day / 3600,
            (day / 60) % 60,
            day % 60,
            self.0.subsec_nanos() / 1000
        )
    }
}

/// `YYYY-MM-DD HH:MM:SS.ffffff UTC`.
pub struct DateTime(pub Timestamp);

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.secs();
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        write!(f, "{y:04}-{m:02}-{d:02} {} UTC", TimeOfDay(self.0))
    }
}

/// Days since the epoch to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_ticks_agree() {
        let a = Timestamp::from_parts(1_735_689_600, 123_456, 1_000_000);
        let b = Timestamp::from_ticks(1_735_689_600_123_456, 1_000_000);
        assert_eq!(a, b);
        assert_eq!(a.secs(), 1_735_689_600);
        assert_eq!(a.subsec_nanos(), 123_456_000);
    }

    #[test]
    fn nanosecond_resolution_is_exact() {
        let t = Timestamp::from_parts(10, 127_521_774, 1_000_000_000);
        assert_eq!(t.0, 10_127_521_774);
    }

    #[test]
    fn absurd_ticks_saturate() {
        assert_eq!(Timestamp::from_ticks(u64::MAX, 1).0, i64::MAX);
        assert_eq!(Timestamp::from_parts(i64::MAX, 5, 10).0, i64::MAX);
    }

    #[test]
    fn dates() {
        assert_eq!(
            DateTime(Timestamp::from_parts(1_735_689_600, 5, 1_000_000)).to_string(),
            "2025-01-01 00:00:00.000005 UTC"
        );
        assert_eq!(
            DateTime(Timestamp(0)).to_string(),
            "1970-01-01 00:00:00.000000 UTC"
        );
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
