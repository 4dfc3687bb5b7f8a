//! Which satellites may link, and the state of every candidate link at an
//! instant.
//!
//! Patterns:
//! - `plus-grid`: each satellite links to the next one in its plane and to
//!   the same slot in the neighbouring planes (4 links each; one plane is a
//!   ring). This is the +Grid of Walker shells (Hypatia, IMC 2020).
//! - `nearest`: the k nearest satellites in range and in sight, chosen
//!   greedily by distance so that the choice is symmetric and no satellite
//!   holds more links than it has terminals.
//! - `all`: every pair in range and in sight, terminals permitting.
//! - `explicit`: a list of pairs.
//!
//! A [`Snapshot`] is a pure function of the time; acquisition (a new link
//! spends pointing, acquisition and tracking time before carrying traffic)
//! needs history, which [`AcquisitionTracker`] keeps.

use std::collections::BTreeSet;

use crate::units::{BitsPerSecond, LinkId, Meters, SatId, SimDuration, SimTime};

/// How candidate links are chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    PlusGrid { planes: u32, per_plane: u32 },
    Nearest { k: u32 },
    All,
    Explicit(Vec<(SatId, SatId)>),
}

impl Pattern {
    /// The static candidate pairs (a < b), in priority order.
    pub fn candidates(&self, satellites: u32) -> Vec<(SatId, SatId)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let mut push = |a: u32, b: u32| {
            if a == b {
                return;
            }
            let pair = (SatId(a.min(b)), SatId(a.max(b)));
            if seen.insert(pair) {
                out.push(pair);
            }
        };
        match self {
            Pattern::PlusGrid { planes, per_plane } => {
                let (planes, per_plane) = (*planes, *per_plane);
                for p in 0..planes {
                    for s in 0..per_plane {
                        let me = p * per_plane + s;
                        push(me, p * per_plane + (s + 1) % per_plane);
                        push(me, ((p + 1) % planes) * per_plane + s);
                    }
                }
            }
            Pattern::Nearest { .. } | Pattern::All => {
                for a in 0..satellites {
                    for b in a + 1..satellites {
                        push(a, b);
                    }
                }
            }
            Pattern::Explicit(pairs) => {
                for (a, b) in pairs {
                    push(a.0, b.0);
                }
            }
        }
        out
    }

    /// Whether candidates compete for terminals by distance (nearest first)
    /// rather than by their order in the list.
    pub fn by_distance(&self) -> bool {
        matches!(self, Pattern::Nearest { .. } | Pattern::All)
    }

    /// The most links one satellite may hold under this pattern.
    pub fn links_per_satellite(&self, terminals: u32) -> u32 {
        match self {
            Pattern::Nearest { k } => (*k).min(terminals),
            _ => terminals,
        }
    }
}

crate::named! {
    /// Whether a link carries traffic.
    pub enum LinkState {
        Up = "up",
        Acquiring = "acquiring",
        Down = "down",
    }
}

crate::named! {
    /// Why a link is down.
    pub enum DownReason {
        /// The Earth (plus the grazing margin) blocks the line of sight.
        Occluded = "occluded",
        /// Longer than the terminals' maximum range.
        OutOfRange = "out-of-range",
        /// Feasible, but a terminal at one end is busy with another link.
        NoTerminal = "no-terminal",
        /// Cut by a scheduled fault.
        Fault = "fault",
        /// A ground link: the satellite is below the station's elevation mask.
        BelowMask = "below-mask",
        /// An optical ground link: cloud over the station's site.
        Cloud = "cloud",
        /// A ground link: the station is re-pointing after a handover
        /// (a change of site, or of satellite under break-before-make).
        Handover = "handover",
    }
}

/// One candidate link at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkStatus {
    pub id: LinkId,
    pub a: SatId,
    pub b: SatId,
    pub state: LinkState,
    pub reason: Option<DownReason>,
    pub distance: Meters,
    pub delay: SimDuration,
    pub rate: BitsPerSecond,
    /// Loss probability of an MTU-sized packet (bit errors and fixed loss).
    pub loss: f64,
}

impl LinkStatus {
    pub fn is_up(&self) -> bool {
        self.state == LinkState::Up
    }
}

/// Every candidate link at one instant, indexed by [`LinkId`], or some of
/// them in order of their ids (a satellite's own).
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub t: SimTime,
    /// Nodes: the satellites, then the ground stations.
    pub satellites: u32,
    pub links: Vec<LinkStatus>,
    /// Nodes that end routes but never forward (ground stations that are
    /// not relays), by index; empty when every node forwards.
    pub stubs: std::sync::Arc<[bool]>,
}

impl Snapshot {
    /// Link `id`'s status, if the snapshot holds it.
    pub fn link(&self, id: LinkId) -> Option<&LinkStatus> {
        match self.links.get(id.index()) {
            Some(l) if l.id == id => Some(l),
            // A partial snapshot: its links sorted by id.
            _ => self
                .links
                .binary_search_by_key(&id, |l| l.id)
                .ok()
                .and_then(|i| self.links.get(i)),
        }
    }

    pub fn count(&self, state: LinkState) -> usize {
        self.links.iter().filter(|l| l.state == state).count()
    }
}

/// Turns newly feasible links into `acquiring` until their acquisition time
/// has passed. Feed it snapshots in time order. Links feasible at the first
/// snapshot it sees count as already acquired: the constellation was running
/// before the scenario epoch.
#[derive(Clone, Debug)]
pub struct AcquisitionTracker {
    acquisition: SimDuration,
    /// Links with ids from here on are not tracked (ground links, whose
    /// handover time the world applies itself).
    untracked_from: usize,
    ready_at: Vec<Option<SimTime>>,
    started: bool,
}

impl AcquisitionTracker {
    pub fn new(acquisition: SimDuration, links: usize) -> AcquisitionTracker {
        AcquisitionTracker {
            acquisition,
            untracked_from: usize::MAX,
            ready_at: vec![None; links],
            started: false,
        }
    }

    /// Leaves links with ids `from` and above alone.
    pub fn untracked_from(mut self, from: usize) -> AcquisitionTracker {
        self.untracked_from = from;
        self
    }

    /// Rewrites `snapshot` in place: feasible links still acquiring become `acquiring`.
    pub fn apply(&mut self, snapshot: &mut Snapshot) {
        if self.ready_at.len() < snapshot.links.len() {
            self.ready_at.resize(snapshot.links.len(), None);
        }
        let first = !self.started;
        self.started = true;
        for link in &mut snapshot.links {
            if link.id.index() >= self.untracked_from {
                continue;
            }
            let ready = &mut self.ready_at[link.id.index()];
            if link.state != LinkState::Up {
                *ready = None;
                continue;
            }
            let at = *ready.get_or_insert(if first {
                snapshot.t
            } else {
                snapshot.t + self.acquisition
            });
            if snapshot.t < at {
                link.state = LinkState::Acquiring;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_grid_counts() {
        let p = Pattern::PlusGrid {
            planes: 72,
            per_plane: 22,
        };
        assert_eq!(p.candidates(1584).len(), 3168);
        // One plane is a ring.
        let ring = Pattern::PlusGrid {
            planes: 1,
            per_plane: 12,
        };
        let c = ring.candidates(12);
        assert_eq!(c.len(), 12);
        assert!(c.contains(&(SatId(0), SatId(11))));
        // Two planes: each satellite has one inter-plane neighbour, not two.
        let two = Pattern::PlusGrid {
            planes: 2,
            per_plane: 3,
        };
        assert_eq!(two.candidates(6).len(), 6 + 3);
    }

    fn status(id: u32, state: LinkState) -> LinkStatus {
        LinkStatus {
            id: LinkId(id),
            a: SatId(0),
            b: SatId(1),
            state,
            reason: None,
            distance: Meters(1.0),
            delay: SimDuration::ZERO,
            rate: BitsPerSecond(1),
            loss: 0.0,
        }
    }

    #[test]
    fn acquisition_delays_a_new_link() {
        let mut tr = AcquisitionTracker::new(SimDuration::from_millis(500), 2);
        let snap = |ms, s0, s1| Snapshot {
            t: SimTime::from_millis(ms),
            satellites: 2,
            links: vec![status(0, s0), status(1, s1)],
            stubs: std::sync::Arc::new([]),
        };
        let mut s = snap(0, LinkState::Up, LinkState::Down);
        tr.apply(&mut s);
        assert_eq!(
            s.links[0].state,
            LinkState::Up,
            "up at the start counts as acquired"
        );
        let mut s = snap(100, LinkState::Up, LinkState::Up);
        tr.apply(&mut s);
        assert_eq!(s.links[1].state, LinkState::Acquiring);
        let mut s = snap(599, LinkState::Up, LinkState::Up);
        tr.apply(&mut s);
        assert_eq!(s.links[1].state, LinkState::Acquiring);
        let mut s = snap(600, LinkState::Up, LinkState::Up);
        tr.apply(&mut s);
        assert_eq!(s.links[1].state, LinkState::Up);
        // Lost and found again: acquire again.
        let mut s = snap(700, LinkState::Down, LinkState::Up);
        tr.apply(&mut s);
        let mut s = snap(800, LinkState::Up, LinkState::Up);
        tr.apply(&mut s);
        assert_eq!(s.links[0].state, LinkState::Acquiring);
    }
}
