//! Units and identifiers as types.
//!
//! Time is virtual: [`SimTime`] counts nanoseconds since the scenario epoch
//! (a UTC instant) and [`SimDuration`] is a span of virtual nanoseconds. The
//! time dilation factor [`Tdf`] maps virtual time to host (wall) time: with
//! TDF = 1000 one wall second is one virtual millisecond (Gupta et al.,
//! "To Infinity and Beyond: Time-Warped Network Emulation", NSDI 2006).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

use serde::{Deserialize, Serialize};

/// Nanoseconds in a second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// An instant of virtual time: nanoseconds since the scenario epoch.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(u64);

impl SimTime {
    /// The scenario epoch.
    pub const ZERO: Self = Self(0);
    /// The latest representable instant.
    pub const MAX: Self = Self(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        Self(ns)
    }

    pub const fn from_micros(us: u64) -> Self {
        Self(us.saturating_mul(1_000))
    }

    pub const fn from_millis(ms: u64) -> Self {
        Self(ms.saturating_mul(1_000_000))
    }

    /// Seconds since the epoch; negative and non-finite inputs clamp to zero.
    pub fn from_secs_f64(s: f64) -> Self {
        Self(secs_to_nanos(s))
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub const fn as_micros(self) -> u64 {
        self.0 / 1_000
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    pub const fn saturating_sub(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, other: SimTime) -> SimDuration {
        self.saturating_since(other)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6} s", self.as_secs_f64())
    }
}

/// A span of virtual time in nanoseconds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimDuration(u64);

impl SimDuration {
    pub const ZERO: Self = Self(0);

    pub const fn from_nanos(ns: u64) -> Self {
        Self(ns)
    }

    pub const fn from_micros(us: u64) -> Self {
        Self(us.saturating_mul(1_000))
    }

    pub const fn from_millis(ms: u64) -> Self {
        Self(ms.saturating_mul(1_000_000))
    }

    /// Negative and non-finite inputs clamp to zero.
    pub fn from_secs_f64(s: f64) -> Self {
        Self(secs_to_nanos(s))
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, o: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(o.0))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, o: SimDuration) {
        self.0 = self.0.saturating_add(o.0);
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} ms", self.as_millis_f64())
    }
}

fn secs_to_nanos(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        let ns = (s * NANOS_PER_SEC as f64).round();
        if ns >= u64::MAX as f64 {
            u64::MAX
        } else {
            ns as u64
        }
    } else {
        0
    }
}

/// Time dilation factor: wall time = virtual time × TDF.
///
/// TDF > 1 slows the emulated world down so that a host can honour delays
/// shorter than its timers resolve and rates higher than it can carry.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Tdf(f64);

impl Tdf {
    pub const REAL_TIME: Tdf = Tdf(1.0);

    /// `None` unless `factor` is finite and positive.
    pub fn new(factor: f64) -> Option<Tdf> {
        (factor.is_finite() && factor > 0.0).then_some(Tdf(factor))
    }

    pub fn factor(self) -> f64 {
        self.0
    }

    /// Wall nanoseconds for a span of virtual time.
    pub fn to_wall_nanos(self, d: SimDuration) -> u64 {
        secs_to_nanos(d.as_secs_f64() * self.0)
    }

    /// Virtual time elapsed in `wall_nanos` of host time.
    pub fn to_virtual(self, wall_nanos: u64) -> SimDuration {
        SimDuration(secs_to_nanos(
            wall_nanos as f64 / NANOS_PER_SEC as f64 / self.0,
        ))
    }
}

impl fmt::Display for Tdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A distance in metres.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Meters(pub f64);

impl Meters {
    pub fn from_km(km: f64) -> Meters {
        Meters(km * 1e3)
    }

    pub fn km(self) -> f64 {
        self.0 / 1e3
    }
}

impl fmt::Display for Meters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.abs() >= 10_000.0 {
            write!(f, "{:.1} km", self.km())
        } else {
            write!(f, "{:.1} m", self.0)
        }
    }
}

/// A data rate in bits per second.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct BitsPerSecond(pub u64);

impl BitsPerSecond {
    pub fn from_gbps(gbps: f64) -> BitsPerSecond {
        BitsPerSecond(if gbps.is_finite() && gbps > 0.0 {
            (gbps * 1e9).round() as u64
        } else {
            0
        })
    }

    pub fn gbps(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Time to put `bytes` on the wire at this rate (rounded up to the ns);
    /// `None` for a zero rate.
    pub fn serialization(self, bytes: Bytes) -> Option<SimDuration> {
        if self.0 == 0 {
            return None;
        }
        let bits = u128::from(bytes.0) * 8 * u128::from(NANOS_PER_SEC);
        let ns = bits.div_ceil(u128::from(self.0));
        Some(SimDuration(u64::try_from(ns).unwrap_or(u64::MAX)))
    }
}

impl fmt::Display for BitsPerSecond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} Gb/s", self.gbps())
    }
}

/// A size in bytes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} B", self.0)
    }
}

/// A satellite: its index in the scenario, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SatId(pub u32);

impl SatId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for SatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A candidate link: its index in the world's candidate list, from 0. Stable
/// for the whole run, so it names the link on the wire and seeds its RNG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LinkId(pub u32);

impl LinkId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link {}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialization_time_of_a_jumbo_frame_at_10_gbps() {
        // 9000 B × 8 / 10 Gb/s = 7.2 µs.
        let d = BitsPerSecond::from_gbps(10.0).serialization(Bytes(9000));
        assert_eq!(d, Some(SimDuration::from_nanos(7_200)));
        assert_eq!(BitsPerSecond(0).serialization(Bytes(1)), None);
    }

    #[test]
    fn tdf_maps_virtual_to_wall_and_back() {
        let tdf = Tdf::new(1000.0).expect("valid");
        // One virtual millisecond is one wall second at TDF 1000.
        assert_eq!(
            tdf.to_wall_nanos(SimDuration::from_millis(1)),
            NANOS_PER_SEC
        );
        assert_eq!(tdf.to_virtual(NANOS_PER_SEC), SimDuration::from_millis(1));
        assert!(Tdf::new(0.0).is_none());
        assert!(Tdf::new(f64::NAN).is_none());
    }

    #[test]
    fn seconds_clamp_instead_of_wrapping() {
        assert_eq!(SimTime::from_secs_f64(-1.0), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(f64::INFINITY), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(1.5).as_nanos(), 1_500_000_000);
    }
}
