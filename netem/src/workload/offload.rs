//! Ground data, space compute: the `offload` workload. A ground station
//! sends a dataset up to one compute satellite or several (split evenly,
//! one part each), each satellite computes its share of the FLOPs on the
//! scenario's accelerator model, and the results come down to a ground
//! station. Each leg waits for a contact (see [`crate::contact`]) when no
//! route joins its ends.
//!
//! A part's compute time is its FLOPs over the sustained rate,
//! `flops / n / (peak × utilization)`, the accelerator model `train` uses.

use crate::units::{SatId, SimDuration, SimTime};
use crate::workload::{Accelerator, Cc, Transport};

/// Most compute satellites one offload may split its data between.
pub const MAX_PARTS: usize = 64;

crate::named! {
    /// The two legs of an offload: data up, results down.
    pub enum Leg {
        Uplink = "uplink",
        Downlink = "downlink",
    }
}

/// A dataset sent up, computed on in orbit, results sent down.
#[derive(Clone, Debug, PartialEq)]
pub struct Offload {
    /// The ground station the data leaves from.
    pub from: SatId,
    /// The compute satellites, one part each, in this order.
    pub to: Vec<SatId>,
    /// The ground station the results come down to.
    pub down: SatId,
    /// Dataset bytes, split evenly between the parts.
    pub bytes: u64,
    /// FLOPs of the whole job, split evenly between the parts.
    pub flops: f64,
    /// Result bytes, split evenly between the parts.
    pub result_bytes: u64,
    pub transport: Transport,
    pub cc: Cc,
    pub start: SimTime,
    /// Give up this long after the start (default: the run's end).
    pub timeout: Option<SimDuration>,
}

impl Offload {
    /// How many parts (compute satellites).
    pub fn parts(&self) -> usize {
        self.to.len()
    }

    /// The sending and receiving node of part `k`'s leg `leg`.
    pub fn ends(&self, leg: Leg, k: usize) -> Option<(SatId, SatId)> {
        let sat = *self.to.get(k)?;
        Some(match leg {
            Leg::Uplink => (self.from, sat),
            Leg::Downlink => (sat, self.down),
        })
    }

    /// Part `k`'s share of leg `leg`'s bytes: (offset, length).
    pub fn share(&self, leg: Leg, k: usize) -> (u64, u64) {
        let total = match leg {
            Leg::Uplink => self.bytes,
            Leg::Downlink => self.result_bytes,
        };
        share(total, self.parts(), k)
    }

    /// FLOPs each part computes.
    pub fn part_flops(&self) -> f64 {
        self.flops / self.parts().max(1) as f64
    }

    /// How long each part computes on `acc`: its FLOPs over the sustained
    /// rate (peak × utilization).
    pub fn compute_time(&self, acc: &Accelerator) -> SimDuration {
        SimDuration::from_secs_f64(self.part_flops() / (acc.peak_flops * acc.utilization))
    }

    /// When the workload gives up: its timeout after its start, or `end`.
    pub fn deadline(&self, end: SimTime) -> SimTime {
        self.timeout.map_or(end, |t| (self.start + t).min(end))
    }
}

/// Part `k` of `n` of `total` bytes: (offset, length); the parts cover
/// `total` exactly and differ in length by one byte at most.
pub fn share(total: u64, n: usize, k: usize) -> (u64, u64) {
    let (n, k) = (n.max(1) as u128, k as u128);
    let total = u128::from(total);
    let start = total * k / n;
    let end = total * (k + 1).min(n) / n;
    (start as u64, end.saturating_sub(start) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offload(parts: u32) -> Offload {
        Offload {
            from: SatId(10),
            to: (0..parts).map(SatId).collect(),
            down: SatId(11),
            bytes: 1_000_003,
            flops: 3.6e15,
            result_bytes: 7,
            transport: Transport::Tcp,
            cc: Cc::Cubic,
            start: SimTime::ZERO,
            timeout: None,
        }
    }

    #[test]
    fn shares_cover_the_bytes_and_differ_by_a_byte_at_most() {
        let o = offload(3);
        let up: Vec<(u64, u64)> = (0..3).map(|k| o.share(Leg::Uplink, k)).collect();
        assert_eq!(up.iter().map(|s| s.1).sum::<u64>(), 1_000_003);
        for w in up.windows(2) {
            assert_eq!(w[0].0 + w[0].1, w[1].0, "contiguous");
        }
        let lens: Vec<u64> = up.iter().map(|s| s.1).collect();
        assert!(lens.iter().max().unwrap_or(&0) - lens.iter().min().unwrap_or(&0) <= 1);
        let down: Vec<u64> = (0..3).map(|k| o.share(Leg::Downlink, k).1).collect();
        assert_eq!(down, vec![2, 2, 3]);
        assert_eq!(share(u64::MAX, 2, 1).1, u64::MAX - u64::MAX / 2);
    }

    #[test]
    fn compute_time_is_flops_over_the_sustained_rate() {
        // An H100's dense bf16 peak, 989.4 TFLOP/s, at 40 %: 3.6e15 FLOPs
        // split over 3 satellites take 1.2e15 / 3.9576e14 = 3.0321 s each.
        let acc = Accelerator {
            name: "h100".into(),
            peak_flops: 989.4e12,
            utilization: 0.4,
        };
        let t = offload(3).compute_time(&acc).as_secs_f64();
        assert!((t - 1.2e15 / (989.4e12 * 0.4)).abs() < 1e-9, "{t}");
        assert_eq!(
            offload(3).ends(Leg::Downlink, 2),
            Some((SatId(2), SatId(11)))
        );
        assert_eq!(offload(3).ends(Leg::Uplink, 3), None);
    }
}
