//! The one place a satellite reads a clock.
//!
//! Virtual time runs from a start instant shared by every satellite of the
//! run and advances at 1/TDF of wall time: `virtual = wall elapsed / TDF`.
//!
//! The clock is tokio's: in the process harness it is the host's monotonic
//! clock; in the in-process harness the runtime's time is paused and jumps
//! from timer to timer, so the same arithmetic gives simulated time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use orbnet_netem::{SimTime, Tdf};

/// Maps between this host's monotonic clock and the run's virtual time.
#[derive(Clone, Copy, Debug)]
pub struct VirtualClock {
    start: Instant,
    tdf: Tdf,
}

impl VirtualClock {
    /// A clock whose virtual zero is `start` (tokio's clock).
    pub fn new(start: Instant, tdf: Tdf) -> VirtualClock {
        VirtualClock { start, tdf }
    }

    /// A clock whose virtual zero is the Unix instant `start_unix_ns`
    /// (shared between processes through the launcher).
    pub fn from_unix(start_unix_ns: u64, tdf: Tdf) -> VirtualClock {
        let now_instant = Instant::now();
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let start = if start_unix_ns >= now_unix {
            now_instant + Duration::from_nanos(start_unix_ns - now_unix)
        } else {
            now_instant
                .checked_sub(Duration::from_nanos(now_unix - start_unix_ns))
                .unwrap_or(now_instant)
        };
        VirtualClock { start, tdf }
    }

    pub fn tdf(&self) -> Tdf {
        self.tdf
    }

    /// Virtual time now (zero before the start).
    pub fn now(&self) -> SimTime {
        let wall = Instant::now().saturating_duration_since(self.start);
        SimTime::ZERO + self.tdf.to_virtual(wall.as_nanos() as u64)
    }

    /// The wall instant at which virtual time reaches `t`.
    pub fn wall(&self, t: SimTime) -> Instant {
        let ns = self.tdf.to_wall_nanos(t.saturating_since(SimTime::ZERO));
        self.start + Duration::from_nanos(ns.min(u64::MAX / 4))
    }
}

/// Unix time in nanoseconds, for choosing a shared start instant.
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
