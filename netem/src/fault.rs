//! Faults on a schedule: links cut, groups partitioned, bursts of loss,
//! satellites crashed (and restarted).
//! Applied to every snapshot, so every satellite sees the same fault at the
//! same virtual instant and routes around it on its next routing update.

use crate::topology::{DownReason, LinkState, LinkStatus};
use crate::units::{SatId, SimTime};

/// What goes wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// The links between `a` and `b` go down.
    LinkDown { a: SatId, b: SatId },
    /// Every link between a satellite of `a` and one of `b` goes down.
    Partition { a: Vec<SatId>, b: Vec<SatId> },
    /// The links between `a` and `b` also lose each packet with probability `loss`.
    LossBurst { a: SatId, b: SatId, loss: f64 },
    /// Satellite `sat` is down: its terminals go dark, so every link of it
    /// is cut until it restarts. The harness stops its process or task.
    Crash { sat: SatId },
}

/// A fault from `at` until `until` (for the rest of the run if `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub at: SimTime,
    pub until: Option<SimTime>,
    pub kind: FaultKind,
}

impl Fault {
    pub fn active(&self, t: SimTime) -> bool {
        t >= self.at && self.until.is_none_or(|u| t < u)
    }

    /// Applies the fault to one link's status.
    pub fn apply(&self, l: &mut LinkStatus) {
        let between = |a: SatId, b: SatId| (l.a == a && l.b == b) || (l.a == b && l.b == a);
        match &self.kind {
            FaultKind::LinkDown { a, b } if between(*a, *b) => cut(l),
            FaultKind::Partition { a, b }
                if (a.contains(&l.a) && b.contains(&l.b))
                    || (a.contains(&l.b) && b.contains(&l.a)) =>
            {
                cut(l);
            }
            FaultKind::Crash { sat } if l.a == *sat || l.b == *sat => cut(l),
            FaultKind::LossBurst { a, b, loss } if between(*a, *b) => {
                l.loss = 1.0 - (1.0 - l.loss) * (1.0 - loss);
            }
            _ => {}
        }
    }
}

fn cut(l: &mut LinkStatus) {
    l.state = LinkState::Down;
    l.reason = Some(DownReason::Fault);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{BitsPerSecond, LinkId, Meters, SimDuration};

    fn link(a: u32, b: u32) -> LinkStatus {
        LinkStatus {
            id: LinkId(0),
            a: SatId(a),
            b: SatId(b),
            state: LinkState::Up,
            reason: None,
            distance: Meters(1000.0),
            delay: SimDuration::from_nanos(3336),
            rate: BitsPerSecond::from_gbps(10.0),
            loss: 0.01,
        }
    }

    #[test]
    fn faults_apply_in_their_window_to_their_links() {
        let f = Fault {
            at: SimTime::from_secs_f64(10.0),
            until: Some(SimTime::from_secs_f64(15.0)),
            kind: FaultKind::LinkDown {
                a: SatId(2),
                b: SatId(1),
            },
        };
        assert!(!f.active(SimTime::from_secs_f64(9.9)));
        assert!(f.active(SimTime::from_secs_f64(10.0)));
        assert!(!f.active(SimTime::from_secs_f64(15.0)));
        let mut l = link(1, 2);
        f.apply(&mut l);
        assert_eq!(
            (l.state, l.reason),
            (LinkState::Down, Some(DownReason::Fault))
        );
        let mut other = link(2, 3);
        f.apply(&mut other);
        assert_eq!(other.state, LinkState::Up);

        let p = Fault {
            kind: FaultKind::Partition {
                a: vec![SatId(0), SatId(1)],
                b: vec![SatId(2)],
            },
            ..f.clone()
        };
        let (mut across, mut inside) = (link(2, 1), link(0, 1));
        p.apply(&mut across);
        p.apply(&mut inside);
        assert_eq!(across.state, LinkState::Down);
        assert_eq!(inside.state, LinkState::Up);

        let crash = Fault {
            kind: FaultKind::Crash { sat: SatId(2) },
            ..f.clone()
        };
        let (mut to, mut from, mut elsewhere) = (link(1, 2), link(2, 3), link(0, 1));
        for l in [&mut to, &mut from, &mut elsewhere] {
            crash.apply(l);
        }
        assert_eq!(
            [to.state, from.state, elsewhere.state],
            [LinkState::Down, LinkState::Down, LinkState::Up]
        );

        let burst = Fault {
            kind: FaultKind::LossBurst {
                a: SatId(1),
                b: SatId(2),
                loss: 0.5,
            },
            ..f
        };
        let mut l = link(1, 2);
        burst.apply(&mut l);
        // Independent losses: 1 − (1 − 0.01)(1 − 0.5).
        assert!((l.loss - 0.505).abs() < 1e-12);
        assert_eq!(l.state, LinkState::Up);
    }
}
