//! The geometric reference for measured RTTs: where netem says a packet
//! should take, computed here from the orbits alone.
//!
//! A packet leaving `from` at `t` follows the next hops every satellite
//! computes from the snapshot in force when the packet is there (the
//! routing grid), and on each hop spends the serialization time at the
//! link's rate plus the light time over the link's length at that instant.

use std::collections::BTreeMap;

use orbnet_netem::geometry::distance;
use orbnet_netem::link::propagation_delay;
use std::sync::Arc;

use orbnet_netem::routing::Routes;
use orbnet_netem::{Bytes, SatId, Scenario, SimDuration, SimTime, Timeline};

/// Snapshots on the routing grid, computed once each.
#[derive(Debug)]
pub(crate) struct Oracle<'s> {
    scenario: &'s Scenario,
    timeline: Timeline,
    grid: BTreeMap<u64, Routes>,
    reached: u64,
}

impl<'s> Oracle<'s> {
    pub(crate) fn new(scenario: &'s Scenario) -> Oracle<'s> {
        Oracle {
            scenario,
            timeline: scenario.world.timeline(scenario.routing_interval),
            grid: BTreeMap::new(),
            reached: 0,
        }
    }

    /// Makes sure grid point `k` is cached. Without acquisition a snapshot
    /// needs no history; with it, the timeline steps through every point.
    fn fill(&mut self, k: u64) {
        if self.grid.contains_key(&k) {
            return;
        }
        let step = self.scenario.routing_interval.as_nanos();
        if self.scenario.world.link_model().acquisition == SimDuration::ZERO {
            let s = self.scenario.world.snapshot(SimTime::from_nanos(k * step));
            self.grid.insert(k, Routes::new(Arc::new(s)));
            return;
        }
        while self.reached <= k {
            let s = self.timeline.at(SimTime::from_nanos(self.reached * step));
            self.grid.insert(self.reached, Routes::new(Arc::new(s)));
            self.reached += 1;
        }
    }

    /// One-way time for a `bytes`-byte IP packet from `from` to `to` leaving
    /// at `t`, or `None` if the routes break on the way.
    pub(crate) fn one_way(
        &mut self,
        from: SatId,
        to: SatId,
        t: SimTime,
        bytes: Bytes,
    ) -> Option<SimDuration> {
        let step = self.scenario.routing_interval.as_nanos();
        let scenario: &'s Scenario = self.scenario;
        let world = &scenario.world;
        let mut at = from;
        let mut tau = t;
        for _ in 0..world.nodes() {
            if at == to {
                return Some(tau - t);
            }
            let k = tau.as_nanos() / step;
            self.fill(k);
            let routes = self.grid.get(&k)?;
            let route = routes.route(at, to)?;
            let rate = routes.snapshot().link(route.link)?.rate;
            let (pa, pb) = (
                world.orbit(at)?.position(tau),
                world.orbit(route.next_hop)?.position(tau),
            );
            let ser = rate.serialization(bytes)?;
            tau = tau + ser + propagation_delay(distance(pa, pb));
            at = route.next_hop;
        }
        None
    }
}
