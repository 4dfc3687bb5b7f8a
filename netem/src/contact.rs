//! Contacts: when a route joins two nodes. A satellite reached from the
//! ground only during passes is out of touch for hours at a time; a
//! transfer that waits for the next contact must know when it comes,
//! without trying in a loop.
//!
//! Nodes route on the snapshot of each routing instant (the grid of
//! `routing_interval_ms`) until the next one, so contacts begin and end on
//! that grid: a route joins `a` to `b` at `t` exactly when one does at the
//! routing instant in force at `t` ([`crate::scenario::routing_instant`]).
//! The search samples every [`STEP`] (a pass lasts minutes: at 325 km over
//! a 10° mask the longest is 317 s, Wertz & Larson, *Space Mission Analysis
//! and Design*, 3rd ed., §5.2) and bisects the routing instants between a
//! sample without a route and one with it. A contact shorter than a step
//! may be missed; one that is found is found to the instant.
//!
//! A route from a ground station needs a satellite above its mask (its
//! links are down otherwise, [`crate::ground::segment`]): that test, a
//! look at every satellite, comes before the snapshot and its shortest
//! paths, so hours without a pass cost a few looks per step.

use crate::scenario::routing_instant;
use crate::units::{SatId, SimDuration, SimTime};
use crate::world::World;

/// Spacing of the search's samples.
pub const STEP: SimDuration = SimDuration::from_millis(10_000);

/// When routes join pairs of nodes of `world`, whose nodes route on the
/// instants of a grid.
#[derive(Clone, Copy, Debug)]
pub struct Contacts<'a> {
    world: &'a World,
    grid: SimDuration,
}

impl<'a> Contacts<'a> {
    /// Contacts in `world`, whose nodes take routes every `grid`.
    pub fn new(world: &'a World, grid: SimDuration) -> Contacts<'a> {
        Contacts {
            world,
            grid: SimDuration::from_nanos(grid.as_nanos().max(1)),
        }
    }

    /// Whether nodes route from `a` to `b` at `t` (on the routing instant
    /// in force then), judged from geometry and terminals.
    pub fn connected(&self, a: SatId, b: SatId, t: SimTime) -> bool {
        let at = routing_instant(t, self.grid);
        self.may_link(a, at) && self.may_link(b, at) && self.world.path(at, a, b).is_some()
    }

    /// The first instant at or after `from` at which a route joins `a` to
    /// `b`: `from` itself if one does then, otherwise a routing instant no
    /// later than `until` (`None` if there is none by then).
    pub fn next(&self, a: SatId, b: SatId, from: SimTime, until: SimTime) -> Option<SimTime> {
        if self.connected(a, b, from) {
            return Some(from);
        }
        self.first_after(from, until, |t| self.connected(a, b, t))
    }

    /// The first routing instant after `from` at which no route joins `a`
    /// to `b`, if there is one by `until` (the end of a contact under way).
    pub fn end(&self, a: SatId, b: SatId, from: SimTime, until: SimTime) -> Option<SimTime> {
        self.first_after(from, until, |t| !self.connected(a, b, t))
    }

    /// Whether node `node` may have a link at `t`: a satellite may; a
    /// ground station only while a satellite passes its mask from one of
    /// its sites.
    fn may_link(&self, node: SatId, t: SimTime) -> bool {
        let (Some(g), Some(segment)) = (self.world.station_of(node), self.world.ground()) else {
            return true;
        };
        let Some(station) = segment.stations().get(g) else {
            return true;
        };
        let mask = &station.links.mask;
        (0..station.sites.len()).any(|site| {
            (0..self.world.satellites()).any(|s| {
                let Some(orbit) = self.world.orbit(SatId(s)) else {
                    return false;
                };
                segment
                    .look(g, site, orbit.position(t), t)
                    .is_some_and(|l| mask.admits(&l))
            })
        })
    }

    /// The first routing instant after the one in force at `from`, and no
    /// later than `until`, at which `holds` (false at `from`'s instant):
    /// sampled every [`STEP`], then bisected between the last sample where
    /// it did not hold and the first where it did.
    fn first_after(
        &self,
        from: SimTime,
        until: SimTime,
        holds: impl Fn(SimTime) -> bool,
    ) -> Option<SimTime> {
        let g = self.grid.as_nanos();
        let at = |k: u64| SimTime::from_nanos(k.saturating_mul(g));
        let last = until.as_nanos() / g;
        let stride = (STEP.as_nanos() / g).max(1);
        let mut lo = from.as_nanos() / g;
        while lo < last {
            let mut hi = lo.saturating_add(stride).min(last);
            if holds(at(hi)) {
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if holds(at(mid)) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                return Some(at(hi));
            }
            lo = hi;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;
    use crate::ground::{Mask, passes};

    /// One satellite at 325 km and 45°, and a station at 40° N under a 10°
    /// mask; routes taken every second.
    fn scenario() -> Scenario {
        let text = r#"
name = "c"
epoch = "2026-01-01T00:00:00Z"
routing_interval_ms = 1000
[constellation]
kind = "walker"
planes = 1
per_plane = 1
altitude_km = 325
inclination_deg = 45
[links]
rate_gbps = 1
[ground]
min_elevation_deg = 10
rate_gbps = 0.1
[[ground_station]]
name = "mid"
lat_deg = 40
lon_deg = -100
"#;
        match Scenario::parse(text, "c.toml", &mut |_| Err("no files".into())) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn contacts_open_and_close_with_the_passes_over_the_mask() {
        let s = scenario();
        let world = &s.world;
        let (sat, gs) = (SatId(0), SatId(1));
        let grid = SimDuration::from_millis(1000);
        let contacts = Contacts::new(world, grid);
        let day = SimTime::from_secs_f64(86_400.0);
        let mut found = Vec::new();
        let mut t = SimTime::ZERO;
        while let Some(open) = contacts.next(gs, sat, t, day) {
            let close = contacts.end(gs, sat, open, day).unwrap_or(day);
            assert!(close > open);
            found.push((open, close));
            t = close;
        }
        // The passes, found independently from the mask margin.
        let segment = world.ground().expect("ground");
        let station = segment.station_site(0, 0).expect("site");
        let mask = Mask::new(10.0, None).expect("mask");
        let orbit = world.orbit(sat).expect("orbit");
        let all = passes(station, orbit, &mask, SimTime::ZERO, day);
        let long: Vec<_> = all.iter().filter(|p| p.duration() > STEP + STEP).collect();
        assert!(long.len() >= 3, "a few passes a day: {all:?}");
        let slack = SimDuration::from_millis(1001);
        for p in &long {
            // The contact opens on the first instant the satellite is up
            // and closes on the first it is down again.
            let c = found
                .iter()
                .find(|c| c.0 < p.set && c.1 > p.rise)
                .unwrap_or_else(|| panic!("no contact for {p:?} in {found:?}"));
            assert!(c.0 + SimDuration::from_millis(1) >= p.rise && c.0 <= p.rise + slack);
            assert!(c.1 > p.set && c.1 <= p.set + slack, "{c:?} vs {p:?}");
        }
        // Every contact lies within a pass: no route without the satellite
        // above the mask.
        for c in &found {
            assert!(
                all.iter()
                    .any(|p| c.0 + SimDuration::from_millis(1) >= p.rise && c.1 <= p.set + slack)
            );
        }
    }

    #[test]
    fn a_contact_under_way_starts_now_and_none_comes_after_the_end() {
        let s = scenario();
        let contacts = Contacts::new(&s.world, SimDuration::from_millis(1000));
        let (sat, gs) = (SatId(0), SatId(1));
        let day = SimTime::from_secs_f64(86_400.0);
        let open = contacts.next(gs, sat, SimTime::ZERO, day).expect("a pass");
        let mid = open + SimDuration::from_millis(2500);
        assert!(contacts.connected(sat, gs, mid), "both ways");
        assert_eq!(contacts.next(gs, sat, mid, day), Some(mid));
        // Before the first contact, nothing by then.
        assert_eq!(
            contacts.next(gs, sat, SimTime::ZERO, open.saturating_sub(grid_s())),
            None
        );
    }

    fn grid_s() -> SimDuration {
        SimDuration::from_millis(1000)
    }
}
