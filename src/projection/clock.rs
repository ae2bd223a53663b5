//! The clock every statistics window reads, and the arithmetic of windows.
//!
//! Statistics never call the system clock directly: a [`JournalStatistics`]
//! reads its [`Clock`], so tests and forensic "as of" queries can set the
//! time.
//!
//! [`JournalStatistics`]: crate::projection::JournalStatistics

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::entry::Timestamp;

/// Nanoseconds in an hour.
pub(crate) const NANOS_PER_HOUR: i64 = 3_600 * 1_000_000_000;
/// Nanoseconds in a day.
pub(crate) const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;

/// A source of "now" for statistics windows and for the timestamps of the
/// events that statistics writes append.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock ([`Timestamp::now`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to. Clones share the same time, so a
/// test keeps one clone and hands another to the statistics.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock showing `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start.as_unix_nanos())))
    }

    /// The time it shows (also available through [`Clock::now`]).
    #[must_use]
    pub fn now(&self) -> Timestamp {
        Timestamp::from_unix_nanos(self.0.load(Ordering::SeqCst))
    }

    /// Sets the time (it may move backwards).
    pub fn set(&self, time: Timestamp) {
        self.0.store(time.as_unix_nanos(), Ordering::SeqCst);
    }

    /// Moves the time forward by `by`, saturating at [`Timestamp::MAX`].
    pub fn advance(&self, by: Duration) {
        let nanos = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(nanos))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        ManualClock::now(self)
    }
}

/// `now - hours`, saturating at [`Timestamp::MIN`].
pub(crate) fn hours_before(now: Timestamp, hours: u32) -> Timestamp {
    before(now, i64::from(hours).saturating_mul(NANOS_PER_HOUR))
}

/// `now - days`, saturating at [`Timestamp::MIN`].
pub(crate) fn days_before(now: Timestamp, days: u32) -> Timestamp {
    before(now, i64::from(days).saturating_mul(NANOS_PER_DAY))
}

fn before(now: Timestamp, nanos: i64) -> Timestamp {
    Timestamp::from_unix_nanos(now.as_unix_nanos().saturating_sub(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_the_time() {
        let clock = ManualClock::new(Timestamp::from_unix_nanos(0));
        let other = clock.clone();
        clock.advance(Duration::from_secs(2));
        assert_eq!(other.now().as_unix_nanos(), 2_000_000_000);
        other.set(Timestamp::from_unix_nanos(-5));
        assert_eq!(clock.now().as_unix_nanos(), -5);
    }

    #[test]
    fn windows_saturate_instead_of_overflowing() {
        let now = Timestamp::from_unix_nanos(0);
        assert_eq!(days_before(now, u32::MAX).as_unix_nanos(), -i64::MAX);
        assert_eq!(hours_before(now, 1).as_unix_nanos(), -NANOS_PER_HOUR);
    }
}
