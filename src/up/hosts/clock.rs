//! The offset between a host's clock and the coordinator's, measured as
//! NTP does (RFC 5905, §8) from four timestamps per exchange:
//!
//! ```text
//! host         t1 ──────────────► t2   coordinator
//!              t4 ◄────────────── t3
//! offset θ = ((t2 − t1) + (t3 − t4)) / 2      coordinator clock − host clock
//! delay  δ = (t4 − t1) − (t3 − t2)            time on the network, both ways
//! ```
//!
//! Whatever the split of δ between the two directions, the true offset
//! lies within θ ± δ/2: that half delay is the uncertainty. Of several
//! exchanges the one with the least delay is kept (the least queueing, so
//! the least asymmetry), as NTP's clock filter does. Timestamps are Unix
//! nanoseconds, the clock in which a run's start instant is given.

/// One exchange's four timestamps, Unix nanoseconds: `t1` and `t4` on the
/// host's clock, `t2` and `t3` on the coordinator's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Exchange {
    pub t1: u64,
    pub t2: u64,
    pub t3: u64,
    pub t4: u64,
}

/// A host's clock against the coordinator's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Offset {
    /// Coordinator clock minus host clock, nanoseconds.
    pub offset_ns: i64,
    /// The true offset is within `offset_ns` ± this.
    pub uncertainty_ns: u64,
}

impl Exchange {
    /// θ, nanoseconds.
    fn offset(&self) -> i128 {
        let [t1, t2, t3, t4] = [self.t1, self.t2, self.t3, self.t4].map(i128::from);
        ((t2 - t1) + (t3 - t4)) / 2
    }

    /// δ, nanoseconds (never below zero: a coordinator that took longer to
    /// answer than the whole exchange lasted has a clock running oddly).
    fn delay(&self) -> u64 {
        let [t1, t2, t3, t4] = [self.t1, self.t2, self.t3, self.t4].map(i128::from);
        ((t4 - t1) - (t3 - t2)).clamp(0, i128::from(u64::MAX)) as u64
    }
}

impl Offset {
    /// The offset from the exchange of least delay; `None` without any.
    pub(super) fn estimate(exchanges: &[Exchange]) -> Option<Offset> {
        let best = exchanges.iter().min_by_key(|e| e.delay())?;
        let offset = best
            .offset()
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        Some(Offset {
            offset_ns: offset,
            uncertainty_ns: best.delay().div_ceil(2),
        })
    }

    /// The coordinator's instant `t` (Unix nanoseconds) on the host's clock.
    pub(super) fn to_host(self, t: u64) -> u64 {
        (i128::from(t) - i128::from(self.offset_ns)).clamp(0, i128::from(u64::MAX)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exchange with a host clock `skew` ns behind the coordinator's,
    /// `out` ns on the way there, `back` ns on the way back, `hold` ns in
    /// the coordinator.
    fn exchange(t1: u64, skew: i64, out: u64, back: u64, hold: u64) -> Exchange {
        let c = |t: u64| (i128::from(t) + i128::from(skew)) as u64;
        Exchange {
            t1,
            t2: c(t1 + out),
            t3: c(t1 + out + hold),
            t4: t1 + out + hold + back,
        }
    }

    #[test]
    fn a_symmetric_exchange_gives_the_offset_exactly() {
        let o =
            Offset::estimate(&[exchange(1_000_000, 5_000, 40_000, 40_000, 7_000)]).expect("offset");
        assert_eq!(o.offset_ns, 5_000);
        assert_eq!(o.uncertainty_ns, 40_000);
        assert_eq!(o.to_host(2_000_000 + 5_000), 2_000_000);
    }

    #[test]
    fn an_asymmetric_path_stays_within_the_uncertainty() {
        for (skew, out, back) in [
            (-3_000_000i64, 10_000, 90_000),
            (1_000, 500_000, 1_000),
            (0, 1, 999),
        ] {
            let o = Offset::estimate(&[exchange(1 << 40, skew, out, back, 3_000)]).expect("offset");
            let err = (i128::from(o.offset_ns) - i128::from(skew)).unsigned_abs();
            assert!(
                err <= u128::from(o.uncertainty_ns),
                "skew {skew}: {o:?} is off by {err}"
            );
            assert_ne!(o.uncertainty_ns, 0);
        }
    }

    #[test]
    fn the_quickest_exchange_is_kept() {
        let slow = exchange(1_000, 70, 900_000, 100, 0);
        let quick = exchange(2_000_000, 70, 2_000, 2_000, 0);
        let o = Offset::estimate(&[slow, quick, slow]).expect("offset");
        assert_eq!(o.offset_ns, 70);
        assert_eq!(o.uncertainty_ns, 2_000);
        assert_eq!(Offset::estimate(&[]), None);
    }
}
