//! The egress queue of one direction of one link, sans-IO.
//!
//! A packet handed to [`Shaper::enqueue`] at `now` waits behind the packets
//! already queued (FIFO), is serialized at the link's rate, then travels for
//! the propagation delay the link has at enqueue. The shaper answers with
//! the instant the packet reaches the far end, or a drop and its reason:
//! the queue is full (tail drop by bytes), or the packet was corrupted
//! (bit errors, fixed loss, or a Gilbert–Elliott burst; a corrupted packet
//! still took its time on the wire). Releases never go backwards, so a
//! link whose delay shrinks does not reorder packets.

use std::collections::VecDeque;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::link::GilbertElliott;
use crate::units::{BitsPerSecond, Bytes, SimDuration, SimTime};

/// What the link is like for the packet being enqueued.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conditions {
    pub rate: BitsPerSecond,
    pub delay: SimDuration,
    /// Probability that this packet is corrupted outside bursts.
    pub loss: f64,
}

/// What happens to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Arrives at the far end at this instant.
    Deliver(SimTime),
    Drop(DropReason),
}

crate::named! {
    /// Why the shaper dropped a packet.
    pub enum DropReason {
        /// The queue held more than its limit.
        QueueFull = "queue-full",
        /// Bit errors or the link's fixed loss.
        Corrupted = "corrupted",
        /// Lost in a Gilbert–Elliott bad state.
        Burst = "burst",
        /// The link's rate is zero.
        NoRate = "no-rate",
    }
}

/// Counters of one shaper.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShaperStats {
    pub enqueued: u64,
    pub delivered: u64,
    pub bytes_delivered: u64,
    pub queue_full: u64,
    pub corrupted: u64,
    pub burst: u64,
}

/// One direction of one link.
#[derive(Debug)]
pub struct Shaper {
    limit: Bytes,
    /// When the transmitter is free again.
    busy_until: SimTime,
    last_release: SimTime,
    /// (serialization end, length) of packets not yet fully on the wire.
    queue: VecDeque<(SimTime, u64)>,
    queued: u64,
    rng: ChaCha8Rng,
    burst: Option<GilbertElliott>,
    bad: bool,
    stats: ShaperStats,
}

impl Shaper {
    /// A shaper with a queue limit of `limit` bytes, drawing losses from `rng`.
    pub fn new(limit: Bytes, burst: Option<GilbertElliott>, rng: ChaCha8Rng) -> Shaper {
        Shaper {
            limit,
            busy_until: SimTime::ZERO,
            last_release: SimTime::ZERO,
            queue: VecDeque::new(),
            queued: 0,
            rng,
            burst,
            bad: false,
            stats: ShaperStats::default(),
        }
    }

    pub fn stats(&self) -> ShaperStats {
        self.stats
    }

    /// Bytes waiting or being serialized at `now`.
    pub fn backlog(&mut self, now: SimTime) -> Bytes {
        while let Some(&(end, len)) = self.queue.front() {
            if end > now {
                break;
            }
            self.queued -= len;
            self.queue.pop_front();
        }
        Bytes(self.queued)
    }

    /// Enqueue a packet of `len` bytes at `now` on a link in `conditions`.
    pub fn enqueue(&mut self, now: SimTime, len: Bytes, conditions: Conditions) -> Verdict {
        self.stats.enqueued += 1;
        let Some(serialization) = conditions.rate.serialization(len) else {
            return Verdict::Drop(DropReason::NoRate);
        };
        if self.backlog(now).0 + len.0 > self.limit.0 {
            self.stats.queue_full += 1;
            return Verdict::Drop(DropReason::QueueFull);
        }
        let start = self.busy_until.max(now);
        let end = start + serialization;
        self.busy_until = end;
        self.queue.push_back((end, len.0));
        self.queued += len.0;
        if let Some(reason) = self.draw_loss(conditions.loss) {
            return Verdict::Drop(reason);
        }
        let release = (end + conditions.delay).max(self.last_release);
        self.last_release = release;
        self.stats.delivered += 1;
        self.stats.bytes_delivered += len.0;
        Verdict::Deliver(release)
    }

    fn draw_loss(&mut self, loss: f64) -> Option<DropReason> {
        if let Some(ge) = self.burst {
            let flip = if self.bad {
                ge.p_bad_good
            } else {
                ge.p_good_bad
            };
            if self.rng.random::<f64>() < flip {
                self.bad = !self.bad;
            }
            let p = if self.bad { ge.loss_bad } else { ge.loss_good };
            if self.rng.random::<f64>() < p {
                self.stats.burst += 1;
                return Some(DropReason::Burst);
            }
        }
        if loss > 0.0 && self.rng.random::<f64>() < loss {
            self.stats.corrupted += 1;
            return Some(DropReason::Corrupted);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Domain, stream};

    fn shaper(limit: u64) -> Shaper {
        Shaper::new(Bytes(limit), None, stream(1, Domain::LinkLoss, 0))
    }

    const TEN_GBPS: Conditions = Conditions {
        rate: BitsPerSecond(10_000_000_000),
        delay: SimDuration::from_millis(5),
        loss: 0.0,
    };

    #[test]
    fn serializes_back_to_back_then_delays() {
        let mut s = shaper(1 << 20);
        let now = SimTime::from_millis(1);
        // 1250 B at 10 Gb/s = 1 µs each; the second waits for the first.
        let a = s.enqueue(now, Bytes(1250), TEN_GBPS);
        let b = s.enqueue(now, Bytes(1250), TEN_GBPS);
        assert_eq!(
            a,
            Verdict::Deliver(now + SimDuration::from_micros(1) + TEN_GBPS.delay)
        );
        assert_eq!(
            b,
            Verdict::Deliver(now + SimDuration::from_micros(2) + TEN_GBPS.delay)
        );
        // An idle link starts at once.
        let later = SimTime::from_millis(2);
        let c = s.enqueue(later, Bytes(1250), TEN_GBPS);
        assert_eq!(
            c,
            Verdict::Deliver(later + SimDuration::from_micros(1) + TEN_GBPS.delay)
        );
    }

    #[test]
    fn fifo_even_when_the_delay_shrinks() {
        let mut s = shaper(1 << 20);
        let now = SimTime::from_millis(1);
        let Verdict::Deliver(first) = s.enqueue(now, Bytes(100), TEN_GBPS) else {
            panic!()
        };
        let shorter = Conditions {
            delay: SimDuration::from_millis(1),
            ..TEN_GBPS
        };
        let Verdict::Deliver(second) = s.enqueue(now, Bytes(100), shorter) else {
            panic!()
        };
        assert!(second >= first);
    }

    #[test]
    fn tail_drop_by_bytes() {
        let mut s = shaper(3000);
        let now = SimTime::from_millis(1);
        assert!(matches!(
            s.enqueue(now, Bytes(1500), TEN_GBPS),
            Verdict::Deliver(_)
        ));
        assert!(matches!(
            s.enqueue(now, Bytes(1500), TEN_GBPS),
            Verdict::Deliver(_)
        ));
        assert_eq!(
            s.enqueue(now, Bytes(1), TEN_GBPS),
            Verdict::Drop(DropReason::QueueFull)
        );
        assert_eq!(s.backlog(now), Bytes(3000));
        // Once the first packet is serialized (1.2 µs) there is room again.
        let later = now + SimDuration::from_nanos(1200);
        assert_eq!(s.backlog(later), Bytes(1500));
        assert!(matches!(
            s.enqueue(later, Bytes(1500), TEN_GBPS),
            Verdict::Deliver(_)
        ));
        assert_eq!(s.stats().queue_full, 1);
    }

    #[test]
    fn seeded_loss_converges_to_the_configured_rate() {
        let mut s = shaper(u64::MAX);
        let lossy = Conditions {
            loss: 0.01,
            ..TEN_GBPS
        };
        let n = 200_000u32;
        let mut dropped = 0u32;
        for i in 0..n {
            let t = SimTime::from_micros(u64::from(i) * 10);
            if s.enqueue(t, Bytes(100), lossy) == Verdict::Drop(DropReason::Corrupted) {
                dropped += 1;
            }
        }
        let rate = f64::from(dropped) / f64::from(n);
        // Binomial standard deviation sqrt(p(1-p)/n) ≈ 0.00022: allow 5σ.
        assert!((rate - 0.01).abs() < 0.0011, "{rate}");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// A packet offered to the shaper: bytes, and the gap since the
        /// previous one as a fraction of the previous packet's
        /// serialization time (below 1: it arrives while the link is busy).
        fn packets() -> impl Strategy<Value = Vec<(u64, f64)>> {
            prop::collection::vec((1u64..=9000, 0.0f64..3.0), 1..300)
        }

        fn rate() -> impl Strategy<Value = BitsPerSecond> {
            prop::sample::select(vec![
                1_000_000u64,
                100_000_000,
                1_000_000_000,
                10_000_000_000,
            ])
            .prop_map(BitsPerSecond)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whatever the sizes, gaps, queue and loss: releases come in
            /// the order packets went in; each delivered packet is released
            /// no sooner than its own serialization and delay after it was
            /// offered, and at least its serialization time after the
            /// delivered packet before it (what was lost between still
            /// took its time on the wire).
            #[test]
            fn never_reorders_nor_outruns_its_rate(
                packets in packets(),
                rate in rate(),
                delay_us in 0u64..50_000,
                limit in 9_000u64..200_000,
                loss in prop::sample::select(vec![0.0, 0.01, 0.3]),
                seed in any::<u64>(),
            ) {
                let mut s = Shaper::new(Bytes(limit), None, stream(seed, Domain::LinkLoss, 0));
                let c = Conditions { rate, delay: SimDuration::from_micros(delay_us), loss };
                let mut now = SimTime::from_millis(1);
                let mut prev_ser = SimDuration::ZERO;
                let mut last: Option<SimTime> = None;
                for (len, gap) in packets {
                    now += SimDuration::from_nanos((prev_ser.as_nanos() as f64 * gap) as u64);
                    let ser = rate.serialization(Bytes(len)).expect("a rate");
                    prev_ser = ser;
                    match s.enqueue(now, Bytes(len), c) {
                        Verdict::Deliver(at) => {
                            prop_assert!(at >= now + ser + c.delay, "released early");
                            if let Some(l) = last {
                                prop_assert!(at >= l + ser, "{at:?} within {ser:?} of {l:?}");
                            }
                            last = Some(at);
                        }
                        Verdict::Drop(why) => prop_assert!(
                            matches!(why, DropReason::QueueFull | DropReason::Corrupted),
                            "{why:?}"
                        ),
                    }
                    prop_assert!(s.backlog(now).0 <= limit, "the queue outgrew its limit");
                }
            }

            /// With a link that is never full, the share of packets lost
            /// converges to the configured probability (within 5 binomial
            /// standard deviations over 20 000 packets).
            #[test]
            fn losses_converge_to_the_configured_probability(
                p in 0.001f64..0.5,
                seed in any::<u64>(),
            ) {
                let mut s = Shaper::new(Bytes(u64::MAX), None, stream(seed, Domain::LinkLoss, 7));
                let c = Conditions { loss: p, ..TEN_GBPS };
                let n = 20_000u32;
                let lost = (0..n)
                    .filter(|i| {
                        let t = SimTime::from_micros(u64::from(*i) * 10);
                        s.enqueue(t, Bytes(1000), c) == Verdict::Drop(DropReason::Corrupted)
                    })
                    .count();
                let rate = lost as f64 / f64::from(n);
                let sigma = (p * (1.0 - p) / f64::from(n)).sqrt();
                prop_assert!((rate - p).abs() < 5.0 * sigma, "{rate} against {p}");
            }
        }
    }

    #[test]
    fn burst_loss_converges_to_the_stationary_rate() {
        let ge = GilbertElliott {
            p_good_bad: 0.01,
            p_bad_good: 0.09,
            loss_good: 0.0,
            loss_bad: 0.5,
        };
        let mut s = Shaper::new(Bytes(u64::MAX), Some(ge), stream(3, Domain::LinkLoss, 1));
        let n = 400_000u32;
        let mut dropped = 0u32;
        for i in 0..n {
            let t = SimTime::from_micros(u64::from(i) * 10);
            if s.enqueue(t, Bytes(100), TEN_GBPS) == Verdict::Drop(DropReason::Burst) {
                dropped += 1;
            }
        }
        let rate = f64::from(dropped) / f64::from(n);
        assert!((rate - ge.mean_loss()).abs() < 0.005, "{rate}");
    }
}
