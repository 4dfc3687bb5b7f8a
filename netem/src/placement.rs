//! Placement: which host runs which satellite when one run is split across
//! hosts (`orbnet up --hosts N`). It is a function of the scenario alone
//! (the constellation, the candidate links and their states at t = 0), with
//! integer costs and ordered ties, so every host running the same binary
//! computes the same placement without talking to the others;
//! [`Placement::digest`] lets them check that at the handshake.
//!
//! **What is minimised.** Links between hosts ("cut" links), whose frames
//! leave the machine. A *link*, here, is a candidate pair that can carry
//! traffic: every candidate of a fixed pattern (`plus-grid`, `explicit`),
//! and for the patterns that choose by distance (`nearest`, `all`, under
//! which every pair is a candidate) the pairs up at t = 0. The cost of a
//! placement is lexicographic: first the number of links cut, then the
//! number of those up at t = 0 (a link down then, occluded or out of range,
//! carries nothing yet). Hosts are balanced: their shares differ by at most
//! one plane (Walker shells) or one satellite (everything else).
//!
//! **Walker shells: whole planes.** With P planes of S satellites on
//! H ≤ P hosts, each host takes a contiguous block of ⌊P/H⌋ or ⌈P/H⌉
//! planes (the larger blocks first), and the blocks are rotated round the
//! shell to the first plane that costs least. For the +Grid this split cuts
//! the fewest links any split into whole planes can:
//!
//! - a +Grid link joins two slots of one plane (never cut when planes stay
//!   whole) or slot s of two consecutive planes p and p + 1 mod P, S links
//!   per pair of consecutive planes (for P = 2 the pairs (0, 1) and (1, 0)
//!   are one and its S links are listed once; for P = 1 there are none);
//! - so a split into whole planes cuts S links for every pair of consecutive
//!   planes on different hosts, a *boundary* on the cycle of planes
//!   0, 1, …, P − 1, 0;
//! - every host holds a plane, so the cycle falls into at least H maximal
//!   runs of planes on one host, and with two runs or more a cycle has as
//!   many boundaries as runs: at least H boundaries, S·H links cut (S for
//!   P = 2, where both boundaries are the same pair);
//! - contiguous blocks make exactly H runs: S·H cut (S for P = 2), the
//!   bound. Every rotation cuts as many; the one chosen cuts fewest links
//!   up at t = 0 (a Walker star's seam, down at t = 0, is cut first).
//!
//! A shell with other patterns is split the same way, at its cheapest
//! rotation (that is the best contiguous split, not a proven optimum). A
//! shell with fewer planes than hosts cannot go by whole planes: it is
//! partitioned as below, so a one-plane ring falls into H arcs.
//!
//! **Other constellations** (TLE sets, formations): a balanced graph
//! partition of the links (`placement/partition.rs`), never costlier than
//! splitting the satellites by index into contiguous blocks.
//!
//! **Ground stations** are placed after the satellites, each with the host
//! whose satellites it sees most: [`Placement::host_seeing_most`] takes
//! how long the station sees each satellite (from
//! [`crate::ground::passes`]) and gives the host. [`Placement::new`]
//! samples each station's view of every satellite over the first 100
//! minutes (about one low orbit) and places the station there; a share's
//! `satellites` then end with its stations' nodes, and a ground link up at
//! t = 0 between hosts counts as cut.

use std::fmt;

use crate::scenario::Constellation;
use crate::units::{LinkId, SatId, SimDuration, SimTime};
use crate::world::World;

mod partition;
#[cfg(test)]
mod tests;

/// Most rotations of the plane blocks tried (all of them below this).
const MAX_ROTATIONS: u32 = 1024;

/// A host of a split run: its index, from 0. Host 0 coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub u32);

impl HostId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host {}", self.0)
    }
}

/// Why a scenario cannot be split over that many hosts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("a run needs at least one host (got 0)")]
    NoHosts,
    #[error("{hosts} hosts for {satellites} satellites: every host needs at least one")]
    TooManyHosts { hosts: u32, satellites: u32 },
}

/// How the satellites were split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Contiguous blocks of whole planes of a Walker shell, host 0's
    /// starting at `first_plane`.
    WholePlanes { first_plane: u32 },
    /// A balanced graph partition.
    Partition,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::WholePlanes { .. } => "whole-planes",
            Method::Partition => "partition",
        }
    }
}

/// One host's share of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    /// Its nodes in increasing order: satellites, then ground stations.
    pub satellites: Vec<SatId>,
    /// The planes, in order round the shell (Walker shells split by
    /// planes; empty otherwise).
    pub planes: Vec<u32>,
    /// Links with one end here and the other on another host.
    pub links_cut: usize,
    /// The shortest delay of those links up at t = 0.
    pub shortest_cut_delay: Option<SimDuration>,
}

impl Share {
    /// The satellites as runs of consecutive indices: first and last of each.
    pub fn runs(&self) -> Vec<(SatId, SatId)> {
        let mut runs: Vec<(SatId, SatId)> = Vec::new();
        for &s in &self.satellites {
            match runs.last_mut() {
                Some((_, last)) if last.0 + 1 == s.0 => *last = s,
                _ => runs.push((s, s)),
            }
        }
        runs
    }
}

/// Which host runs which satellite, and what crosses between hosts.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    method: Method,
    host_of: Vec<HostId>,
    shares: Vec<Share>,
    cut: Vec<LinkId>,
}

impl Placement {
    /// Places the satellites of `world` (built as `constellation`) on
    /// `hosts` hosts.
    pub fn new(
        world: &World,
        constellation: &Constellation,
        hosts: u32,
    ) -> Result<Placement, PlacementError> {
        let satellites = world.satellites();
        if hosts == 0 {
            return Err(PlacementError::NoHosts);
        }
        if hosts > satellites {
            return Err(PlacementError::TooManyHosts { hosts, satellites });
        }
        let links = Links::new(world, false);
        let (method, mut part) = match constellation {
            Constellation::Walker(shell)
                if hosts <= shell.planes
                    && u64::from(shell.planes) * u64::from(shell.per_plane)
                        == u64::from(satellites) =>
            {
                let (first, part) = whole_planes(&links, shell.planes, shell.per_plane, hosts);
                (Method::WholePlanes { first_plane: first }, part)
            }
            _ => (
                Method::Partition,
                partition::partition(&links, satellites, hosts),
            ),
        };
        let planes = match (method, constellation) {
            (Method::WholePlanes { first_plane }, Constellation::Walker(shell)) => {
                planes_of_hosts(shell.planes, hosts, first_plane)
            }
            _ => vec![Vec::new(); hosts as usize],
        };
        let mut placement = Placement::from_parts(method, &part, planes.clone(), &links);
        if let Some(ground) = world.ground() {
            for seen in time_in_view(world, ground) {
                part.push(placement.host_seeing_most(seen).0);
            }
            // The station's links up at t = 0 count as cut or not.
            placement = Placement::from_parts(method, &part, planes, &Links::new(world, true));
        }
        Ok(placement)
    }

    /// The placement that assigns satellite `i` to host `part[i]`.
    fn from_parts(method: Method, part: &[u32], planes: Vec<Vec<u32>>, links: &Links) -> Placement {
        let mut shares: Vec<Share> = planes
            .into_iter()
            .map(|planes| Share {
                satellites: Vec::new(),
                planes,
                links_cut: 0,
                shortest_cut_delay: None,
            })
            .collect();
        for (i, &h) in part.iter().enumerate() {
            shares[h as usize].satellites.push(SatId(i as u32));
        }
        let mut cut = Vec::new();
        for (i, &(a, b)) in links.ends.iter().enumerate() {
            let (ha, hb) = (part[a as usize] as usize, part[b as usize] as usize);
            if ha == hb {
                continue;
            }
            cut.push(links.id[i]);
            for h in [ha, hb] {
                let share = &mut shares[h];
                share.links_cut += 1;
                if links.up[i] {
                    let d = links.delay[i];
                    share.shortest_cut_delay =
                        Some(share.shortest_cut_delay.map_or(d, |s| s.min(d)));
                }
            }
        }
        Placement {
            method,
            host_of: part.iter().map(|&h| HostId(h)).collect(),
            shares,
            cut,
        }
    }

    pub fn method(&self) -> Method {
        self.method
    }

    pub fn hosts(&self) -> u32 {
        self.shares.len() as u32
    }

    /// The host that runs `sat` (`None` for a satellite the world lacks).
    pub fn host_of(&self, sat: SatId) -> Option<HostId> {
        self.host_of.get(sat.index()).copied()
    }

    /// Every host's share, indexed by [`HostId`].
    pub fn shares(&self) -> &[Share] {
        &self.shares
    }

    pub fn share(&self, host: HostId) -> Option<&Share> {
        self.shares.get(host.index())
    }

    /// The links between hosts, in increasing order.
    pub fn cut(&self) -> &[LinkId] {
        &self.cut
    }

    /// The shortest delay at t = 0 of a link between hosts that is up then.
    pub fn shortest_cut_delay(&self) -> Option<SimDuration> {
        self.shares
            .iter()
            .filter_map(|s| s.shortest_cut_delay)
            .min()
    }

    /// Where a ground station goes: the host whose satellites it sees
    /// most, given how much it sees each (`seen`: satellite and, say,
    /// nanoseconds in view over the run; repeats add up). Ties go to the
    /// lowest host; a station that sees nothing goes to host 0.
    pub fn host_seeing_most(&self, seen: impl IntoIterator<Item = (SatId, u64)>) -> HostId {
        let mut per_host = vec![0u64; self.shares.len()];
        for (sat, amount) in seen {
            if let Some(h) = self.host_of(sat) {
                per_host[h.index()] = per_host[h.index()].saturating_add(amount);
            }
        }
        let best = per_host
            .iter()
            .enumerate()
            .max_by_key(|&(i, &v)| (v, std::cmp::Reverse(i)))
            .map_or(0, |(i, _)| i);
        HostId(best as u32)
    }

    /// A fingerprint of the assignment (FNV-1a, 64 bits, over the number
    /// of hosts and every satellite's host), for hosts to compare.
    pub fn digest(&self) -> u64 {
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let words = std::iter::once(self.hosts()).chain(self.host_of.iter().map(|h| h.0));
        for word in words {
            for byte in word.to_le_bytes() {
                h ^= u64::from(byte);
                h = h.wrapping_mul(PRIME);
            }
        }
        h
    }
}

/// The links a placement is judged on (see the module doc), in candidate
/// order, with their state at t = 0.
#[derive(Debug)]
struct Links {
    ends: Vec<(u32, u32)>,
    id: Vec<LinkId>,
    up: Vec<bool>,
    delay: Vec<SimDuration>,
}

/// How long each station sees each satellite above its mask, sampled
/// every [`VIEW_STEP`] over the first [`VIEW_WINDOW`] (about one low orbit,
/// so that every plane passes): by station, (satellite, nanoseconds).
fn time_in_view(world: &World, ground: &crate::ground::GroundSegment) -> Vec<Vec<(SatId, u64)>> {
    let mut seen = vec![Vec::new(); ground.stations().len()];
    let step = VIEW_STEP.as_nanos();
    let mut t = SimTime::ZERO;
    while t < SimTime::ZERO + VIEW_WINDOW {
        let positions = world.positions(t);
        for (g, station) in ground.stations().iter().enumerate() {
            let site = ground.site(g, t).unwrap_or(0);
            for (i, &p) in positions
                .iter()
                .take(world.satellites() as usize)
                .enumerate()
            {
                let admitted = ground
                    .look(g, site, p, t)
                    .is_some_and(|l| station.links.mask.admits(&l));
                if admitted {
                    seen[g].push((SatId(i as u32), step));
                }
            }
        }
        t += VIEW_STEP;
    }
    seen
}

/// The window and step of [`time_in_view`].
const VIEW_WINDOW: SimDuration = SimDuration::from_millis(6_000_000);
const VIEW_STEP: SimDuration = SimDuration::from_millis(60_000);

impl Links {
    /// The links that tie satellites together (with `ground`, the ground
    /// links up at t = 0 too): fixed patterns whatever their state, links
    /// by distance when up at t = 0.
    fn new(world: &World, ground: bool) -> Links {
        let snapshot = world.snapshot(SimTime::ZERO);
        let mut links = Links {
            ends: Vec::new(),
            id: Vec::new(),
            up: Vec::new(),
            delay: Vec::new(),
        };
        // Links of fixed patterns count whatever their state; of patterns
        // that link by distance, those up at t = 0.
        let fixed = |l: &crate::topology::LinkStatus| !world.group_of(l.id).pattern.by_distance();
        let wanted = |l: &&crate::topology::LinkStatus| {
            if world.is_gsl(l.id) {
                ground && l.is_up()
            } else {
                fixed(l) || l.is_up()
            }
        };
        for l in snapshot.links.iter().filter(wanted) {
            links.ends.push((l.a.0, l.b.0));
            links.id.push(l.id);
            links.up.push(l.is_up());
            links.delay.push(l.delay);
        }
        links
    }

    /// A link's cost when cut: one more link cut outweighs every link up
    /// at t = 0, so costs compare lexicographically (count, then up).
    fn weight(&self, i: usize) -> i64 {
        self.ends.len() as i64 + 1 + i64::from(self.up[i])
    }

    /// The cost of assigning satellite `i` to host `part[i]`.
    fn cost(&self, part: &[u32]) -> i64 {
        self.ends
            .iter()
            .enumerate()
            .filter(|&(_, &(a, b))| part[a as usize] != part[b as usize])
            .map(|(i, _)| self.weight(i))
            .sum()
    }
}

/// Host `h` of `hosts` holds this many of `items` (the first ones one more).
fn balanced(items: u32, hosts: u32, h: u32) -> u32 {
    items / hosts + u32::from(h < items % hosts)
}

/// Each plane's host when host 0's block starts at plane 0.
fn plane_blocks(planes: u32, hosts: u32) -> Vec<u32> {
    (0..hosts)
        .flat_map(|h| std::iter::repeat_n(h, balanced(planes, hosts, h) as usize))
        .collect()
}

/// Each host's planes, in order round the shell, from `first_plane`.
fn planes_of_hosts(planes: u32, hosts: u32, first_plane: u32) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); hosts as usize];
    for (k, h) in plane_blocks(planes, hosts).into_iter().enumerate() {
        out[h as usize].push((first_plane + k as u32) % planes);
    }
    out
}

/// Contiguous blocks of whole planes at the cheapest rotation: host 0's
/// first plane and every satellite's host.
fn whole_planes(links: &Links, planes: u32, per_plane: u32, hosts: u32) -> (u32, Vec<u32>) {
    let blocks = plane_blocks(planes, hosts);
    let host = |plane: u32, first: u32| blocks[((plane + planes - first) % planes) as usize];
    let cost = |first: u32| -> i64 {
        links
            .ends
            .iter()
            .enumerate()
            .filter(|&(_, &(a, b))| host(a / per_plane, first) != host(b / per_plane, first))
            .map(|(i, _)| links.weight(i))
            .sum()
    };
    let first = (0..planes.min(MAX_ROTATIONS))
        .min_by_key(|&f| (cost(f), f))
        .unwrap_or(0);
    let part = (0..planes * per_plane)
        .map(|s| host(s / per_plane, first))
        .collect();
    (first, part)
}
