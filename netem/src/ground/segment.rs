//! The ground segment of a world: ground stations as nodes beside the
//! satellites, and which satellites each one links to at an instant.
//!
//! A station is node `gs-<k>`, numbered after the satellites. It may use
//! a satellite while the satellite passes its [`Mask`] (elevation and
//! slant range); of those, its policy picks up to `terminals`, in station
//! order, each satellite serving at most `satellite_terminals` stations:
//! - `nearest`: the shortest slant range;
//! - `highest-elevation`: the highest in the sky;
//! - `longest-visible`: the one that stays above the mask longest.
//!
//! The choice is recomputed from geometry at every instant asked (it holds
//! no history), or, with a schedule of `handover_interval_s`, once per
//! interval among the satellites visible from its start to its end: the
//! global 15 s reconfiguration Starlink's scheduler runs (Tanveer et al.,
//! "Making Sense of Constellations: Methodologies for Understanding Starlink's
//! Scheduling Algorithms", CoNEXT 2023, found reassignments at seconds 12,
//! 27, 42 and 57 of every minute).
//!
//! Handover, with `h` the re-pointing time (`handover_s`): a link chosen at
//! `t` carries traffic only if it was chosen at `t − h` too, otherwise it is
//! `acquiring`. Under break-before-make a link not chosen at `t` is down;
//! under make-before-break a link chosen at `t − h` stays up while the
//! satellite is still visible, so the old link carries traffic until the
//! new one is up.
//!
//! Weather ([`super::weather`]): an optical station's links are down with
//! reason `cloud` while cloud covers its site. A station with several sites
//! (site diversity) uses the clear site that has been clear longest, so it
//! stays on a site until that site clouds over; for `h` after it changes
//! site its links are down with reason `handover`. An RF station's links
//! ignore cloud and lose `rain.loss` of their packets besides while it rains
//! at its site.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use super::earth::{EARTH_ROTATION_RATE, EarthRotation, Geodetic};
use super::look::{Look, Mask, look_ecef};
use super::station::Station;
use super::weather::{Climate, Obscurant, Sky};
use crate::geometry::Vec3;
use crate::link::LinkModel;
use crate::orbit::{Orbit, State};
use crate::units::{SimDuration, SimTime};

crate::named! {
    /// Which of the visible satellites a station links to.
    pub enum Policy {
        Nearest = "nearest",
        HighestElevation = "highest-elevation",
        LongestVisible = "longest-visible",
    }
}

crate::named! {
    /// How a station moves from one satellite to the next.
    pub enum Handover {
        BreakBeforeMake = "break-before-make",
        MakeBeforeBreak = "make-before-break",
    }
}

crate::named! {
    /// A ground link's kind: radio, or a laser that clouds block.
    pub enum GslKind {
        Rf = "rf",
        Optical = "optical",
    }
}

/// Rain on an RF link: packets lost besides, while it rains at the site.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rain {
    pub climate: Climate,
    pub loss: f64,
}

/// How one station links to satellites.
#[derive(Clone, Debug, PartialEq)]
pub struct StationLinks {
    pub mask: Mask,
    pub policy: Policy,
    pub handover: Handover,
    /// Re-pointing time at each handover.
    pub handover_time: SimDuration,
    /// Reassign only at multiples of this interval (Starlink's 15 s).
    pub schedule: Option<SimDuration>,
    pub kind: GslKind,
    /// Satellites the station links to at once.
    pub terminals: u32,
    /// Whether routes may pass through the station (bent pipe).
    pub relay: bool,
    /// Cloud over each site (optical links only).
    pub clouds: Option<Climate>,
    /// Rain over each site (RF links only).
    pub rain: Option<Rain>,
    /// Rate, loss and queues of the station's links.
    pub model: LinkModel,
}

/// A ground station as the scenario gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroundStation {
    /// Its `name` in the scenario (its id is `gs-<k>`).
    pub label: String,
    /// Its sites: one, or several for site diversity (the first is its home).
    pub sites: Vec<Geodetic>,
    pub links: StationLinks,
}

/// Which satellites each station uses at one instant.
#[derive(Debug)]
pub(crate) struct Assignment {
    /// By station: the satellites chosen, by index.
    pub(crate) chosen: Vec<Vec<u32>>,
}

impl Assignment {
    pub(crate) fn has(&self, station: usize, sat: u32) -> bool {
        self.chosen.get(station).is_some_and(|c| c.contains(&sat))
    }
}

/// Every satellite's position at an instant (inertial), as the world gives it.
pub(crate) type Positions<'a> = &'a dyn Fn(SimTime) -> Arc<Vec<Vec3>>;

/// The stations of a world, their sites and weather.
#[derive(Debug)]
pub struct GroundSegment {
    stations: Vec<GroundStation>,
    /// By station, its sites' horizon frames.
    sites: Vec<Vec<Station>>,
    /// By station, its sites' skies (a cursor each, hence the lock).
    skies: Vec<Mutex<Skies>>,
    satellite_terminals: u32,
    epoch: DateTime<Utc>,
    earth: EarthRotation,
    /// Recent assignments by instant: every satellite of an in-process
    /// run asks for the same instants, and one that slept through several
    /// takes them in turn, so the cache spans many instants and drops the
    /// earliest (keeping only the last few, satellites cycling over more
    /// instants than it holds would each compute them all again).
    recent: Mutex<BTreeMap<SimTime, Arc<Assignment>>>,
}

#[derive(Debug)]
struct Skies {
    clouds: Vec<Sky>,
    rain: Vec<Sky>,
}

/// How many assignments [`GroundSegment`] keeps: at the default 100 ms
/// routing grid, the last 25.6 s (each some kilobytes).
const RECENT: usize = 256;
/// Steps of the search for the end of a pass (`longest-visible`).
const VISIBLE_STEP: SimDuration = SimDuration::from_millis(10_000);
const VISIBLE_HORIZON: SimDuration = SimDuration::from_millis(3_600_000);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl GroundSegment {
    /// The stations of a scenario starting at `epoch` under `seed` (their
    /// weather streams), each satellite serving `satellite_terminals`.
    pub fn new(
        stations: Vec<GroundStation>,
        satellite_terminals: u32,
        epoch: DateTime<Utc>,
        seed: u64,
    ) -> GroundSegment {
        let mut site_id = 0u32;
        let mut skies = Vec::new();
        for s in &stations {
            let mut clouds = Vec::new();
            let mut rain = Vec::new();
            for _ in &s.sites {
                if let Some(c) = s.links.clouds {
                    clouds.push(Sky::new(c, seed, site_id, Obscurant::Cloud));
                }
                if let Some(r) = s.links.rain {
                    rain.push(Sky::new(r.climate, seed, site_id, Obscurant::Rain));
                }
                site_id += 1;
            }
            skies.push(Mutex::new(Skies { clouds, rain }));
        }
        GroundSegment {
            sites: stations
                .iter()
                .map(|s| s.sites.iter().map(|&g| Station::new(g, epoch)).collect())
                .collect(),
            stations,
            skies,
            satellite_terminals,
            epoch,
            earth: EarthRotation::new(epoch),
            recent: Mutex::new(BTreeMap::new()),
        }
    }

    /// The same stations under another `seed`: their weather drawn anew.
    pub fn reseeded(&self, seed: u64) -> GroundSegment {
        GroundSegment::new(
            self.stations.clone(),
            self.satellite_terminals,
            self.epoch,
            seed,
        )
    }

    pub fn stations(&self) -> &[GroundStation] {
        &self.stations
    }

    pub fn satellite_terminals(&self) -> u32 {
        self.satellite_terminals
    }

    /// The site station `g` uses at `t`: the clear one that has been clear
    /// longest (`None` while cloud covers every site of an optical station).
    pub fn site(&self, g: usize, t: SimTime) -> Option<usize> {
        let Some(skies) = self.skies.get(g) else {
            return Some(0);
        };
        let mut skies = lock(skies);
        if skies.clouds.is_empty() {
            return Some(0);
        }
        let mut best: Option<(SimTime, usize)> = None;
        for (i, sky) in skies.clouds.iter_mut().enumerate() {
            let spell = sky.spell(t);
            if spell.clear && best.is_none_or(|(start, _)| spell.start < start) {
                best = Some((spell.start, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// Whether it rains at station `g`'s site `site` at `t`.
    pub fn raining(&self, g: usize, site: usize, t: SimTime) -> bool {
        self.skies.get(g).is_some_and(|s| {
            lock(s)
                .rain
                .get_mut(site)
                .is_some_and(|sky| !sky.is_clear(t))
        })
    }

    /// Station `g`'s site `site` (its horizon frame).
    pub fn station_site(&self, g: usize, site: usize) -> Option<&Station> {
        self.sites.get(g).and_then(|s| s.get(site))
    }

    /// Where station `g` is at `t` (inertial): the site it uses, or its home
    /// site while every site is clouded over.
    pub fn position(&self, g: usize, t: SimTime) -> Vec3 {
        let site = self.site(g, t).unwrap_or(0);
        self.station_site(g, site)
            .map_or(Vec3::new(0.0, 0.0, 0.0), |s| s.position(t))
    }

    /// A satellite at inertial `sat` seen from station `g`'s site in use at `t`.
    pub fn look(&self, g: usize, site: usize, sat: Vec3, t: SimTime) -> Option<Look> {
        let station = self.station_site(g, site)?;
        Some(look_ecef(station, self.earth.to_ecef(sat, t)))
    }

    /// [`GroundSegment::look`] where the satellite may be above station
    /// `g`'s elevation mask; `None` also where it is clearly below it (no
    /// angles worked out).
    pub(crate) fn look_if_near(
        &self,
        g: usize,
        site: usize,
        sat: Vec3,
        t: SimTime,
    ) -> Option<Look> {
        let station = self.station_site(g, site)?;
        let ecef = self.earth.to_ecef(sat, t);
        let mask = &self.stations.get(g)?.links.mask;
        (!mask.clearly_below(station, ecef)).then(|| look_ecef(station, ecef))
    }

    /// Which satellites every station uses at `t`: at the start of `t`'s
    /// slot for stations on a schedule. `positions` gives every satellite's
    /// position at an instant; `orbits` serve `longest-visible`.
    pub(crate) fn assign(
        &self,
        t: SimTime,
        positions: Positions<'_>,
        orbits: &[crate::orbit::Body],
    ) -> Arc<Assignment> {
        if let Some(a) = lock(&self.recent).get(&t) {
            return a.clone();
        }
        let a = Arc::new(self.compute(t, positions, orbits));
        let mut recent = lock(&self.recent);
        if recent.len() >= RECENT {
            recent.pop_first();
        }
        recent.insert(t, a.clone());
        a
    }

    fn compute(
        &self,
        t: SimTime,
        positions: Positions<'_>,
        orbits: &[crate::orbit::Body],
    ) -> Assignment {
        let mut ecef = EcefCache {
            earth: self.earth,
            positions,
            known: Vec::new(),
        };
        let mut used = vec![0u32; ecef.at(t).len()];
        let mut chosen = Vec::with_capacity(self.stations.len());
        for (g, station) in self.stations.iter().enumerate() {
            let links = &station.links;
            let site = self.site(g, t);
            let usable = match site {
                Some(s) => Some(s),
                None if links.kind == GslKind::Rf => Some(0),
                None => None,
            };
            let Some(site) = usable else {
                chosen.push(Vec::new());
                continue;
            };
            let mut candidates = self.candidates(g, site, t, &mut ecef, orbits);
            candidates.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
            let mut mine = Vec::new();
            for (sat, _) in candidates {
                if mine.len() as u32 >= links.terminals {
                    break;
                }
                let u = &mut used[sat as usize];
                if *u < self.satellite_terminals {
                    *u += 1;
                    mine.push(sat);
                }
            }
            chosen.push(mine);
        }
        Assignment { chosen }
    }

    /// The satellites station `g` may choose at `t` from site `site`, each
    /// with its policy's key (smaller is better).
    fn candidates(
        &self,
        g: usize,
        site: usize,
        t: SimTime,
        ecef: &mut EcefCache<'_>,
        orbits: &[crate::orbit::Body],
    ) -> Vec<(u32, f64)> {
        let links = &self.stations[g].links;
        let (from, to) = match links.schedule {
            Some(every) => {
                let step = every.as_nanos().max(1);
                let start = SimTime::from_nanos(t.as_nanos() / step * step);
                (start, Some(start + every))
            }
            None => (t, None),
        };
        let Some(station) = self.station_site(g, site) else {
            return Vec::new();
        };
        let at_start = ecef.at(from);
        let at_end = to.map(|to| ecef.at(to));
        let mut out = Vec::new();
        for (i, &p) in at_start.iter().enumerate() {
            if links.mask.clearly_below(station, p) {
                continue;
            }
            let look = look_ecef(station, p);
            if !links.mask.admits(&look) {
                continue;
            }
            if let Some(end) = &at_end
                && !links.mask.admits(&look_ecef(station, end[i]))
            {
                continue;
            }
            let key = match links.policy {
                Policy::Nearest => look.range.0,
                Policy::HighestElevation => -look.elevation_deg,
                Policy::LongestVisible => orbits
                    .get(i)
                    .map_or(0.0, |o| -self.visible_for(g, site, o, from).as_secs_f64()),
            };
            out.push((i as u32, key));
        }
        out
    }

    /// How long a satellite on `orbit`, visible at `t`, stays above station
    /// `g`'s mask (stepping, then bisecting to a millisecond; at most an hour).
    pub fn visible_for(&self, g: usize, site: usize, orbit: &dyn Orbit, t: SimTime) -> SimDuration {
        let mask = self.stations[g].links.mask;
        let sees = |at: SimTime| {
            self.look(g, site, orbit.position(at), at)
                .is_some_and(|l| mask.admits(&l))
        };
        let mut lo = t;
        let mut hi = None;
        while lo - t < VISIBLE_HORIZON {
            let next = lo + VISIBLE_STEP;
            if !sees(next) {
                hi = Some(next);
                break;
            }
            lo = next;
        }
        let Some(mut hi) = hi else {
            return VISIBLE_HORIZON;
        };
        while hi - lo > SimDuration::from_millis(1) {
            let mid = lo + SimDuration::from_nanos((hi - lo).as_nanos() / 2);
            if sees(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo - t
    }
}

/// Every satellite's Earth-fixed position at the instants one assignment
/// looks at (one rotation per instant, not one per station).
struct EcefCache<'a> {
    earth: EarthRotation,
    positions: Positions<'a>,
    known: Vec<(SimTime, Arc<Vec<Vec3>>)>,
}

impl EcefCache<'_> {
    fn at(&mut self, t: SimTime) -> Arc<Vec<Vec3>> {
        if let Some((_, p)) = self.known.iter().find(|(at, _)| *at == t) {
            return p.clone();
        }
        let (sin, cos) = (-self.earth.gmst(t)).sin_cos();
        let p: Arc<Vec<Vec3>> = Arc::new(
            (self.positions)(t)
                .iter()
                .map(|r| Vec3::new(cos * r.x - sin * r.y, sin * r.x + cos * r.y, r.z))
                .collect(),
        );
        self.known.push((t, p.clone()));
        p
    }
}

/// A ground station as a node on the rotating Earth: where it is at an
/// instant (the site it uses).
#[derive(Debug)]
pub struct GroundNode {
    pub segment: Arc<GroundSegment>,
    pub station: usize,
}

impl Orbit for GroundNode {
    fn state(&self, t: SimTime) -> State {
        let position = self.segment.position(self.station, t);
        // Carried round the Earth's axis: v = ω ẑ × r.
        let velocity = Vec3::new(
            -EARTH_ROTATION_RATE * position.y,
            EARTH_ROTATION_RATE * position.x,
            0.0,
        );
        State { position, velocity }
    }

    fn position(&self, t: SimTime) -> Vec3 {
        self.segment.position(self.station, t)
    }
}
