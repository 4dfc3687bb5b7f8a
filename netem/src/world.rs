//! The world of a scenario: its satellites, their orbits, the candidate
//! links, and the link-state snapshot at any instant.
//!
//! Links come in groups ([`LinkGroup`]): one per constellation (its
//! pattern over its own satellites, its own link model), and any that join
//! two constellations (each satellite of one to its nearest of the other).
//! Terminals are counted per group.

mod gsl;
mod names;

use std::ops::Range;
use std::sync::Arc;

use crate::geometry::{Vec3, distance, line_of_sight};
use crate::ground::segment::{GroundNode, GroundSegment};
use crate::link::{LinkModel, propagation_delay};
use crate::orbit::{Body, Orbit};
use crate::topology::{AcquisitionTracker, DownReason, LinkState, LinkStatus, Pattern, Snapshot};
use crate::units::{LinkId, SatId, SimDuration, SimTime};

/// Links of one kind: a pattern over the satellites `a` (a constellation's
/// own links), or the nearest pairs between `a` and `b` (two constellations
/// joined). Each has its link model, and its own terminals.
#[derive(Clone, Debug)]
pub struct LinkGroup {
    pub pattern: Pattern,
    pub a: Range<u32>,
    pub b: Option<Range<u32>>,
    pub model: LinkModel,
}

impl LinkGroup {
    /// The group's candidate pairs (a < b), in priority order.
    fn candidates(&self) -> Vec<(SatId, SatId)> {
        match &self.b {
            None => self
                .pattern
                .candidates(self.a.len() as u32)
                .into_iter()
                .map(|(x, y)| (SatId(x.0 + self.a.start), SatId(y.0 + self.a.start)))
                .collect(),
            Some(b) => self
                .a
                .clone()
                .flat_map(|x| b.clone().map(move |y| (SatId(x.min(y)), SatId(x.max(y)))))
                .collect(),
        }
    }

    /// The most links of this group one satellite may hold.
    fn cap(&self) -> u32 {
        self.pattern.links_per_satellite(self.model.terminals)
    }
}

/// Satellites, orbits and links: everything needed to plan the network.
#[derive(Clone, Debug)]
pub struct World {
    // Shared by clones: every satellite of an in-process run holds one.
    names: Arc<names::NameTable>,
    orbits: Arc<Vec<Body>>,
    groups: Arc<Vec<LinkGroup>>,
    candidates: Arc<Vec<(SatId, SatId)>>,
    /// The group of each candidate.
    group_of: Arc<Vec<u16>>,
    faults: Vec<crate::fault::Fault>,
    /// Whether a link's state depends on its own ends only: no satellite
    /// has more candidate links of a group than terminals for it, and
    /// terminals are not given by distance. A satellite can then work out
    /// its own links without the rest of the world.
    local_terminals: bool,
    /// Loss probability of an MTU-sized packet, by group.
    mtu_loss: Arc<Vec<f64>>,
    /// The ground stations, numbered after the satellites.
    ground: Option<Arc<GroundSegment>>,
    /// How many nodes are satellites (the rest are ground stations).
    satellites: u32,
    /// Groups below this are links between satellites; one group per
    /// ground station follows.
    isl_groups: usize,
    /// Candidates below this are links between satellites; ground links
    /// follow, station by station.
    first_gsl: usize,
    /// Nodes that never forward (see [`Snapshot::stubs`]).
    stubs: Arc<[bool]>,
}

impl World {
    /// `names` and `orbits` are indexed by satellite; one link group at
    /// least (the first gives the world's MTU and defaults).
    pub fn new<O: Into<Body>>(names: Vec<String>, orbits: Vec<O>, groups: Vec<LinkGroup>) -> World {
        let orbits = orbits.into_iter().map(Into::into).collect();
        World::with_ground(names, orbits, groups, None)
    }

    /// [`World::new`] with ground stations: they become nodes `gs-<k>`
    /// after the satellites, each with a link group to every satellite.
    pub fn with_ground(
        mut names: Vec<String>,
        mut orbits: Vec<Body>,
        mut groups: Vec<LinkGroup>,
        ground: Option<GroundSegment>,
    ) -> World {
        debug_assert_eq!(names.len(), orbits.len());
        let satellites = names.len() as u32;
        let isl_groups = groups.len();
        let ground = ground.map(Arc::new);
        let mut stubs = vec![false; names.len()];
        if let Some(segment) = &ground {
            for (k, station) in segment.stations().iter().enumerate() {
                let id = satellites + k as u32;
                names.push(format!("gs-{k}"));
                orbits.push(Body::Other(Arc::new(GroundNode {
                    segment: segment.clone(),
                    station: k,
                })));
                stubs.push(!station.links.relay);
                groups.push(LinkGroup {
                    pattern: Pattern::All,
                    a: id..id + 1,
                    b: Some(0..satellites),
                    model: station.links.model.clone(),
                });
            }
        }
        let mut candidates = Vec::new();
        let mut group_of = Vec::new();
        let mut local_terminals = true;
        let mut first_gsl = 0;
        for (g, group) in groups.iter().enumerate() {
            let c = group.candidates();
            if g < isl_groups {
                let mut degree = vec![0u32; names.len()];
                for &(a, b) in &c {
                    degree[a.index()] += 1;
                    degree[b.index()] += 1;
                }
                local_terminals &=
                    !group.pattern.by_distance() && degree.iter().all(|&d| d <= group.cap());
                first_gsl += c.len();
            }
            group_of.extend(std::iter::repeat_n(g as u16, c.len()));
            candidates.extend(c);
        }
        World {
            names: Arc::new(names::NameTable::new(&names)),
            orbits: Arc::new(orbits),
            mtu_loss: Arc::new(
                groups
                    .iter()
                    .map(|g| g.model.packet_loss(g.model.mtu))
                    .collect(),
            ),
            groups: Arc::new(groups),
            candidates: Arc::new(candidates),
            group_of: Arc::new(group_of),
            faults: Vec::new(),
            local_terminals,
            ground,
            satellites,
            isl_groups,
            first_gsl,
            stubs: if stubs.contains(&true) {
                stubs.into()
            } else {
                Arc::new([])
            },
        }
    }

    /// This world with `ground`'s stations (replacing any it had).
    pub fn add_ground(self, ground: GroundSegment) -> World {
        let n = self.satellites as usize;
        let mut w = World::with_ground(
            self.names.iter().take(n).map(String::from).collect(),
            self.orbits[..n].to_vec(),
            self.groups[..self.isl_groups].to_vec(),
            Some(ground),
        );
        w.faults = self.faults;
        w
    }

    /// This world with its ground stations' weather drawn under `seed`.
    pub fn reseed_ground(self, seed: u64) -> World {
        match self.ground.as_deref().map(|g| g.reseeded(seed)) {
            Some(g) => self.add_ground(g),
            None => self,
        }
    }

    /// A world of one constellation: `pattern` over every satellite.
    pub fn single(
        names: Vec<String>,
        orbits: Vec<Arc<dyn Orbit>>,
        pattern: Pattern,
        links: LinkModel,
    ) -> World {
        let n = names.len() as u32;
        let group = LinkGroup {
            pattern,
            a: 0..n,
            b: None,
            model: links,
        };
        World::new(names, orbits, vec![group])
    }

    /// The link groups.
    pub fn groups(&self) -> &[LinkGroup] {
        &self.groups
    }

    /// The group of link `link`.
    pub fn group_of(&self, link: LinkId) -> &LinkGroup {
        let g = self.group_of.get(link.index()).copied().unwrap_or(0);
        &self.groups[usize::from(g)]
    }

    /// The model of link `link` (of its group).
    pub fn model_of(&self, link: LinkId) -> &LinkModel {
        &self.group_of(link).model
    }

    /// Schedules faults; every snapshot applies those active at its instant.
    pub fn set_faults(&mut self, faults: Vec<crate::fault::Fault>) {
        self.faults = faults;
    }

    pub fn faults(&self) -> &[crate::fault::Fault] {
        &self.faults
    }

    /// How many satellites (nodes `0..satellites()`).
    pub fn satellites(&self) -> u32 {
        self.satellites
    }

    /// How many nodes: the satellites, then the ground stations.
    pub fn nodes(&self) -> u32 {
        self.names.len() as u32
    }

    /// The ground stations, if any.
    pub fn ground(&self) -> Option<&GroundSegment> {
        self.ground.as_deref()
    }

    /// The ground station node `node` is, if it is one (its index).
    pub fn station_of(&self, node: SatId) -> Option<usize> {
        let k = node.0.checked_sub(self.satellites)? as usize;
        (k < self.ground.as_ref()?.stations().len()).then_some(k)
    }

    /// A node's label: a station's name, a satellite's name.
    pub fn label(&self, node: SatId) -> &str {
        match (self.station_of(node), &self.ground) {
            (Some(k), Some(g)) => &g.stations()[k].label,
            _ => self.name(node),
        }
    }

    /// Whether link `link` joins a ground station to a satellite.
    pub fn is_gsl(&self, link: LinkId) -> bool {
        link.index() >= self.first_gsl && link.index() < self.candidates.len()
    }

    pub fn name(&self, sat: SatId) -> &str {
        self.names.get(sat.index()).unwrap_or("?")
    }

    /// Every node's name, by index.
    pub fn names(&self) -> Vec<&str> {
        self.names.iter().collect()
    }

    /// The satellite named `name`, or `sat-<i>` for satellite i whatever
    /// its name (satellites of element sets keep theirs).
    pub fn find(&self, name: &str) -> Option<SatId> {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return Some(SatId(i as u32));
        }
        if let Some(g) = &self.ground
            && let Some(k) = g.stations().iter().position(|s| s.label == name)
        {
            return Some(SatId(self.satellites + k as u32));
        }
        let i: u32 = name.strip_prefix("sat-")?.parse().ok()?;
        (i < self.satellites).then_some(SatId(i))
    }

    /// The link model of the first group: the world's MTU, acquisition
    /// time and defaults.
    pub fn link_model(&self) -> &LinkModel {
        &self.groups[0].model
    }

    /// The candidate pairs, indexed by [`LinkId`].
    pub fn candidates(&self) -> &[(SatId, SatId)] {
        &self.candidates
    }

    /// Candidate links with `sat` at one end.
    pub fn links_of(&self, sat: SatId) -> impl Iterator<Item = (LinkId, SatId)> + '_ {
        self.candidates
            .iter()
            .enumerate()
            .filter_map(move |(i, &(a, b))| {
                let id = LinkId(i as u32);
                if a == sat {
                    Some((id, b))
                } else if b == sat {
                    Some((id, a))
                } else {
                    None
                }
            })
    }

    pub fn orbit(&self, sat: SatId) -> Option<&dyn Orbit> {
        self.orbits.get(sat.index()).map(|o| o as &dyn Orbit)
    }

    /// Every satellite's position at `t`.
    pub fn positions(&self, t: SimTime) -> Vec<Vec3> {
        self.orbits.iter().map(|o| o.position(t)).collect()
    }

    /// Link states from geometry and terminals alone (no acquisition history).
    pub fn snapshot(&self, t: SimTime) -> Snapshot {
        self.snapshot_with(t, &[])
    }

    /// [`World::snapshot`] with `extra` faults besides the scenario's.
    pub fn snapshot_with(&self, t: SimTime, extra: &[crate::fault::Fault]) -> Snapshot {
        let mut links = self.isl_statuses(t, extra);
        let mut gsl = self.gsl_statuses(t, self.first_gsl..self.candidates.len());
        self.apply_faults(t, extra, &mut gsl);
        links.append(&mut gsl);
        self.snapshot_of(t, links)
    }

    fn snapshot_of(&self, t: SimTime, links: Vec<LinkStatus>) -> Snapshot {
        Snapshot {
            t,
            satellites: self.nodes(),
            links,
            stubs: self.stubs.clone(),
        }
    }

    /// Every link between satellites at `t`, faults and terminals applied.
    fn isl_statuses(&self, t: SimTime, extra: &[crate::fault::Fault]) -> Vec<LinkStatus> {
        let positions: Vec<Vec3> = self.orbits[..self.satellites as usize]
            .iter()
            .map(|o| o.position(t))
            .collect();
        let mut links: Vec<LinkStatus> = self.candidates[..self.first_gsl]
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| self.status(i, positions[a.index()], positions[b.index()]))
            .collect();
        self.apply_faults(t, extra, &mut links);
        self.assign_terminals(&mut links);
        links
    }

    /// The states of `links` alone at `t` (a partial snapshot holding only
    /// them), from the positions of their ends. Where terminals are
    /// assigned by the whole world (see `local_terminals`), from a full
    /// snapshot.
    pub fn links_at(
        &self,
        t: SimTime,
        links: &[LinkId],
        extra: &[crate::fault::Fault],
    ) -> Snapshot {
        let (isl, gsl): (Vec<LinkId>, Vec<LinkId>) = links
            .iter()
            .filter(|id| id.index() < self.candidates.len())
            .partition(|id| id.index() < self.first_gsl);
        let mut out: Vec<LinkStatus> = if self.local_terminals {
            let mut out = Vec::with_capacity(links.len());
            for id in isl {
                let (a, b) = self.candidates[id.index()];
                let (pa, pb) = (
                    self.orbits[a.index()].position(t),
                    self.orbits[b.index()].position(t),
                );
                out.push(self.status(id.index(), pa, pb));
            }
            self.apply_faults(t, extra, &mut out);
            out
        } else if isl.is_empty() {
            Vec::new()
        } else {
            let full = self.isl_statuses(t, extra);
            isl.iter()
                .filter_map(|id| full.get(id.index()).copied())
                .collect()
        };
        let mut ground = self.gsl_statuses(t, gsl.iter().map(|id| id.index()));
        self.apply_faults(t, extra, &mut ground);
        out.append(&mut ground);
        out.sort_by_key(|l| l.id);
        self.snapshot_of(t, out)
    }

    /// Candidate link `i` between ends at `pa` and `pb`, before faults and
    /// terminals.
    fn status(&self, i: usize, pa: Vec3, pb: Vec3) -> LinkStatus {
        let g = usize::from(self.group_of[i]);
        let model = &self.groups[g].model;
        let (a, b) = self.candidates[i];
        let d = distance(pa, pb);
        let reason = if !line_of_sight(pa, pb, model.grazing) {
            Some(DownReason::Occluded)
        } else if d.0 > model.max_range.0 {
            Some(DownReason::OutOfRange)
        } else {
            None
        };
        LinkStatus {
            id: LinkId(i as u32),
            a,
            b,
            state: if reason.is_some() {
                LinkState::Down
            } else {
                LinkState::Up
            },
            reason,
            distance: d,
            delay: propagation_delay(d),
            rate: model.rate_model.rate(model.terminal_rate, d),
            loss: self.mtu_loss[g],
        }
    }

    /// Applies the faults active at `t`.
    fn apply_faults(&self, t: SimTime, extra: &[crate::fault::Fault], links: &mut [LinkStatus]) {
        for f in self.faults.iter().chain(extra).filter(|f| f.active(t)) {
            for l in links.iter_mut() {
                f.apply(l);
            }
        }
    }

    /// The path packets from `from` to `to` take at `t`, judged from geometry
    /// alone (no acquisition history).
    pub fn path(&self, t: SimTime, from: SatId, to: SatId) -> Option<crate::routing::Path> {
        crate::routing::Routes::new(Arc::new(self.snapshot(t))).path(from, to)
    }

    /// Feasible links take terminals in priority order, group by group;
    /// the rest wait.
    fn assign_terminals(&self, links: &mut [LinkStatus]) {
        let mut start = 0;
        for (g, group) in self.groups[..self.isl_groups].iter().enumerate() {
            let len = self.group_of[start..]
                .iter()
                .take_while(|&&x| usize::from(x) == g)
                .count();
            self.assign_group(group, &mut links[start..start + len]);
            start += len;
        }
    }

    /// [`World::assign_terminals`] for the links of one group.
    fn assign_group(&self, group: &LinkGroup, links: &mut [LinkStatus]) {
        let cap = group.cap();
        let mut order: Vec<usize> = (0..links.len()).filter(|&i| links[i].is_up()).collect();
        if group.pattern.by_distance() {
            order.sort_by(|&x, &y| {
                links[x]
                    .distance
                    .0
                    .total_cmp(&links[y].distance.0)
                    .then(x.cmp(&y))
            });
        }
        // `nearest`: a pair qualifies only if one end counts the other among its
        // k nearest feasible neighbours, so leftover terminals never reach far.
        let kth = match group.pattern {
            Pattern::Nearest { k } => Some(self.kth_nearest(links, k as usize)),
            _ => None,
        };
        let mut used = vec![0u32; self.names.len()];
        for i in order {
            if let Some(kth) = &kth {
                let d = links[i].distance.0;
                if d > kth[links[i].a.index()] && d > kth[links[i].b.index()] {
                    links[i].state = LinkState::Down;
                    links[i].reason = Some(DownReason::NoTerminal);
                    continue;
                }
            }
            let (a, b) = (links[i].a.index(), links[i].b.index());
            if used[a] < cap && used[b] < cap {
                used[a] += 1;
                used[b] += 1;
            } else {
                links[i].state = LinkState::Down;
                links[i].reason = Some(DownReason::NoTerminal);
            }
        }
    }

    /// Each satellite's distance to its k-th nearest feasible neighbour
    /// among `links` (infinite when it has fewer than k).
    fn kth_nearest(&self, links: &[LinkStatus], k: usize) -> Vec<f64> {
        let mut near: Vec<Vec<f64>> = vec![Vec::new(); self.names.len()];
        for l in links.iter().filter(|l| l.is_up()) {
            near[l.a.index()].push(l.distance.0);
            near[l.b.index()].push(l.distance.0);
        }
        near.into_iter()
            .map(|mut d| {
                if d.len() < k || k == 0 {
                    return f64::INFINITY;
                }
                d.select_nth_unstable_by(k - 1, f64::total_cmp);
                d[k - 1]
            })
            .collect()
    }

    /// A timeline that applies acquisition, sampling the world every `interval`.
    pub fn timeline(&self, interval: SimDuration) -> Timeline {
        Timeline {
            world: self.clone(),
            tracker: AcquisitionTracker::new(self.link_model().acquisition, self.candidates.len())
                .untracked_from(self.first_gsl),
            interval: SimDuration::from_nanos(interval.as_nanos().max(1)),
            last: None,
            extra: Vec::new(),
        }
    }
}

/// Snapshots in time order with acquisition applied. Between requested
/// instants the world is sampled on the grid of multiples of `interval`, the
/// same grid every satellite uses, so every satellite and `orbnet plan` see a
/// link come up at the same instant.
#[derive(Debug)]
pub struct Timeline {
    world: World,
    tracker: AcquisitionTracker,
    interval: SimDuration,
    last: Option<SimTime>,
    /// Faults injected while running, besides the scenario's.
    extra: Vec<crate::fault::Fault>,
}

impl Timeline {
    /// Adds a fault injected while running (from a test).
    pub fn add_fault(&mut self, f: crate::fault::Fault) {
        self.extra.push(f);
    }

    /// Ends the injected crash of `sat` at `at` (it restarted).
    pub fn heal(&mut self, sat: SatId, at: SimTime) {
        for f in &mut self.extra {
            if f.kind == (crate::fault::FaultKind::Crash { sat }) && f.until.is_none() {
                f.until = Some(at);
            }
        }
    }

    /// The snapshot at `t`; `t` must not go backwards (earlier times are clamped).
    pub fn at(&mut self, t: SimTime) -> Snapshot {
        self.step(t, None)
    }

    /// The states of `links` alone at `t` (see [`World::links_at`]), with
    /// acquisition applied; `t` must not go backwards. A timeline serves
    /// either this or [`Timeline::at`], not both.
    pub fn links(&mut self, t: SimTime, links: &[LinkId]) -> Snapshot {
        self.step(t, Some(links))
    }

    /// The world's faults and those injected since.
    pub fn faults(&self) -> &[crate::fault::Fault] {
        &self.extra
    }

    /// The world the timeline samples.
    pub fn world(&self) -> &World {
        &self.world
    }

    fn sample(&self, t: SimTime, links: Option<&[LinkId]>) -> Snapshot {
        match links {
            None => self.world.snapshot_with(t, &self.extra),
            Some(ids) => self.world.links_at(t, ids, &self.extra),
        }
    }

    fn step(&mut self, t: SimTime, links: Option<&[LinkId]>) -> Snapshot {
        let t = self.last.map_or(t, |last| t.max(last));
        let acquisition = self.world.link_model().acquisition;
        if acquisition > SimDuration::ZERO {
            let step = self.interval.as_nanos();
            let from = match self.last {
                Some(last) => last.as_nanos() / step + 1,
                // Start one acquisition time early so that links found then are settled.
                None => t.saturating_sub(acquisition).as_nanos().div_ceil(step),
            };
            let to = t.as_nanos() / step;
            for k in from..=to {
                let at = SimTime::from_nanos(k * step);
                if at < t {
                    let mut s = self.sample(at, links);
                    self.tracker.apply(&mut s);
                }
            }
        }
        self.last = Some(t);
        let mut s = self.sample(t, links);
        self.tracker.apply(&mut s);
        s
    }
}
