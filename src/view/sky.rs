//! The world of a scenario over time as the web view draws it: its nodes,
//! links and workloads (`/api/scenario`), and at any virtual instant the
//! nodes' positions over the Earth, the links' states and the route of
//! every workload flow (`/api/state`).
//!
//! - Positions: orbits are given in the inertial frame (TEME for TLE sets;
//!   Walker shells and formations in the same frame, with the scenario
//!   epoch as time zero). [`EarthRotation`] turns a position into the
//!   Earth-fixed frame by the Greenwich mean sidereal time of the epoch
//!   plus the virtual time, and [`super::geodetic`] gives its WGS-84
//!   geodetic latitude, longitude and height.
//! - Links and routes: what the satellites route on at `t`, the snapshot of
//!   the routing instant at or before `t`, with acquisition applied by a
//!   [`Timeline`] stepped from time zero as the satellites step theirs;
//!   a route is [`Routes::path`] over it, hop by hop as the satellites
//!   forward. Snapshots are kept by routing instant, so a replay that plays
//!   on or seeks back among recent instants makes each one once.
//! - Utilisation: a link's share of its rate carried by bulk transfers:
//!   each transfer's goodput around `t` ([`Traffic`]) on every link of its
//!   route at `t`. Pings and collectives are not counted. Null when the
//!   view has no events (a scenario shown without a run).
//! - Flows: pings from their start to their last echo's timeout; the
//!   others from their start until the events say they are over (without
//!   events, for good).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use orbnet_netem::collective::pairs;
use orbnet_netem::ground::EarthRotation;
use orbnet_netem::routing::Routes;
use orbnet_netem::scenario::routing_instant;
use orbnet_netem::workload::Op;
use orbnet_netem::{LinkId, LinkState, SatId, Scenario, SimDuration, SimTime, Timeline, Workload};
use serde::Serialize;

use super::traffic::Traffic;

/// Routing instants whose snapshot and routes are kept.
const CACHED: usize = 256;
/// Collectives with more rank pairs than this show no routes (an
/// all-to-all of 81 ranks has 6480).
const MAX_PAIRS: usize = 64;

/// A scenario's world over time, for the view.
#[derive(Debug)]
pub(crate) struct Sky {
    scenario: Scenario,
    earth: EarthRotation,
    flows: Vec<Flow>,
    /// `/api/scenario`, made once.
    scenario_json: String,
    grid: Mutex<Grid>,
}

/// One flow of a workload whose route the view draws.
#[derive(Clone, Copy, Debug)]
struct Flow {
    workload: usize,
    from: SatId,
    to: SatId,
    /// When it starts, and when it is over if that is known in advance.
    start: SimTime,
    end: Option<SimTime>,
    bulk: bool,
}

/// Snapshots and routes by routing instant.
#[derive(Debug)]
struct Grid {
    /// With an acquisition time, link states need their history: the
    /// timeline and the instant it has reached.
    timeline: Option<(Timeline, SimTime)>,
    routes: BTreeMap<u64, Arc<Routes>>,
}

impl Sky {
    pub(crate) fn new(scenario: Scenario, live: bool) -> Sky {
        let acquisition = scenario.world.link_model().acquisition;
        let timeline = (acquisition > SimDuration::ZERO).then(|| {
            let mut tl = scenario.world.timeline(scenario.routing_interval);
            tl.at(SimTime::ZERO);
            (tl, SimTime::ZERO)
        });
        let scenario_json = scenario_json(&scenario, live);
        Sky {
            earth: EarthRotation::new(scenario.epoch),
            flows: flows(&scenario),
            scenario_json,
            grid: Mutex::new(Grid {
                timeline,
                routes: BTreeMap::new(),
            }),
            scenario,
        }
    }

    pub(crate) fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// `/api/scenario`.
    pub(crate) fn scenario_json(&self) -> &str {
        &self.scenario_json
    }

    /// `/api/state` at `t`; `traffic` gives link utilisation (None: unknown).
    pub(crate) fn state_json(&self, t: SimTime, traffic: Option<&Traffic>) -> String {
        let routes = self.routes_at(t);
        let snapshot = routes.snapshot();
        let world = &self.scenario.world;
        let mut load: Vec<f64> = vec![0.0; snapshot.links.len()];
        let mut shown = Vec::new();
        let t_s = t.as_secs_f64();
        let over = |w| {
            traffic
                .and_then(|tr| tr.end(w))
                .is_some_and(|end| t_s > end)
        };
        for f in self
            .flows
            .iter()
            .filter(|f| f.active(t) && !over(f.workload))
        {
            let Some(path) = routes.path(f.from, f.to) else {
                continue;
            };
            if f.bulk
                && let Some(gbps) = traffic.and_then(|g| g.gbps(f.workload, f.start_s(), t_s))
            {
                for l in &path.links {
                    if let Some(x) = load.get_mut(l.index()) {
                        *x += gbps;
                    }
                }
            }
            let mut names: Vec<&str> = path.senders.iter().map(|&s| world.name(s)).collect();
            names.push(world.name(f.to));
            shown.push(RouteJson {
                workload: f.workload,
                path: names,
            });
        }
        let links = snapshot
            .links
            .iter()
            .map(|l| {
                let on = l.state != LinkState::Down;
                let rate = l.rate.gbps();
                LinkJson {
                    id: l.id.0,
                    state: l.state.as_str(),
                    reason: l.reason.map(|r| r.as_str()),
                    delay_ms: round(l.delay.as_millis_f64(), 6),
                    rate_gbps: round(rate, 6),
                    utilization: traffic
                        .filter(|_| on && rate > 0.0)
                        .map(|_| round(load.get(l.id.index()).copied().unwrap_or(0.0) / rate, 4)),
                }
            })
            .collect();
        let state = StateJson {
            t_s: t.as_secs_f64(),
            routing_t_s: snapshot.t.as_secs_f64(),
            positions: self.positions(t),
            links,
            routes: shown,
        };
        serde_json::to_string(&state).unwrap_or_default()
    }

    /// Every node's [latitude °, longitude °, height km] at `t`, in node order.
    fn positions(&self, t: SimTime) -> Vec<[f64; 3]> {
        self.scenario
            .world
            .positions(t)
            .into_iter()
            .map(|r| {
                let (lat, lon, h) = super::geodetic::from_ecef(self.earth.to_ecef(r, t));
                [round(lat, 4), round(lon, 4), round(h / 1e3, 3)]
            })
            .collect()
    }

    /// The routes (and snapshot) the satellites use at `t`.
    fn routes_at(&self, t: SimTime) -> Arc<Routes> {
        let at = routing_instant(t, self.scenario.routing_interval);
        let key = at.as_nanos();
        let mut grid = self.grid.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = grid.routes.get(&key) {
            return r.clone();
        }
        let world = &self.scenario.world;
        let snapshot = match &mut grid.timeline {
            None => world.snapshot(at),
            Some((tl, reached)) => {
                if at < *reached {
                    // Back in time: the history starts again from zero.
                    *tl = world.timeline(self.scenario.routing_interval);
                    tl.at(SimTime::ZERO);
                }
                *reached = at;
                tl.at(at)
            }
        };
        let routes = Arc::new(Routes::new(Arc::new(snapshot)));
        grid.routes.insert(key, routes.clone());
        if grid.routes.len() > CACHED {
            // Forget the instant farthest from this one.
            let first = grid.routes.keys().next().copied().unwrap_or(key);
            let last = grid.routes.keys().next_back().copied().unwrap_or(key);
            let far = if key - first > last - key {
                first
            } else {
                last
            };
            grid.routes.remove(&far);
        }
        routes
    }
}

impl Flow {
    fn active(&self, t: SimTime) -> bool {
        t >= self.start && self.end.is_none_or(|e| t <= e)
    }

    fn start_s(&self) -> f64 {
        self.start.as_secs_f64()
    }
}

/// The flows of every workload: pings and transfers from one end to the
/// other; collectives and training between the rank pairs their algorithm
/// sends between (none beyond [`MAX_PAIRS`]).
fn flows(scenario: &Scenario) -> Vec<Flow> {
    let mut out = Vec::new();
    for (w, wl) in scenario.workloads.iter().enumerate() {
        let flow = |from, to, start, end, bulk| Flow {
            workload: w,
            from,
            to,
            start,
            end,
            bulk,
        };
        match wl {
            Workload::Ping(p) => {
                let echoes = SimDuration::from_nanos(
                    p.interval.as_nanos().saturating_mul(u64::from(p.count)),
                );
                out.push(flow(
                    p.from,
                    p.to,
                    p.start,
                    Some(p.start + echoes + p.timeout),
                    false,
                ));
            }
            Workload::Bulk(b) => {
                out.push(flow(
                    b.from,
                    b.to,
                    b.start,
                    b.timeout.map(|d| b.start + d),
                    true,
                ));
            }
            Workload::Collective(c) => {
                let pairs = pairs(c.op, c.algorithm, c.ranks.len());
                if pairs.len() <= MAX_PAIRS {
                    for (a, b) in pairs {
                        out.push(flow(c.ranks[a], c.ranks[b], c.start, None, false));
                    }
                }
            }
            Workload::Offload(o) => {
                let end = o.timeout.map(|d| o.start + d);
                for &sat in &o.to {
                    out.push(flow(o.from, sat, o.start, end, false));
                    out.push(flow(sat, o.down, o.start, end, false));
                }
            }
            Workload::Train(t) => {
                let pairs = pairs(Op::AllReduce, t.algorithm, t.ranks.len());
                if pairs.len() <= MAX_PAIRS {
                    for (a, b) in pairs {
                        out.push(flow(t.ranks[a], t.ranks[b], t.start, None, false));
                    }
                }
            }
            Workload::Graph(g) => {
                let pairs = g.pairs();
                if pairs.len() <= MAX_PAIRS {
                    for (a, b) in pairs {
                        out.push(flow(g.ranks[a], g.ranks[b], g.start, None, false));
                    }
                }
            }
        }
    }
    out
}

fn round(v: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (v * k).round() / k
}

#[derive(Serialize)]
struct StateJson<'a> {
    t_s: f64,
    /// The routing instant whose snapshot gave the links and routes.
    routing_t_s: f64,
    positions: Vec<[f64; 3]>,
    links: Vec<LinkJson>,
    routes: Vec<RouteJson<'a>>,
}

#[derive(Serialize)]
struct LinkJson {
    id: u32,
    state: &'static str,
    reason: Option<&'static str>,
    delay_ms: f64,
    rate_gbps: f64,
    utilization: Option<f64>,
}

#[derive(Serialize)]
struct RouteJson<'a> {
    workload: usize,
    path: Vec<&'a str>,
}

#[derive(Serialize)]
struct ScenarioJson<'a> {
    name: &'a str,
    epoch: String,
    duration_s: f64,
    tdf: f64,
    seed: u64,
    routing_interval_s: f64,
    constellation: &'static str,
    live: bool,
    nodes: Vec<NodeJson<'a>>,
    links: Vec<LinkDefJson<'a>>,
    workloads: Vec<WorkloadJson<'a>>,
}

#[derive(Serialize)]
struct NodeJson<'a> {
    id: &'a str,
    label: &'a str,
    /// `satellite`, or `ground` for a ground station.
    kind: &'static str,
    constellation: &'static str,
}

#[derive(Serialize)]
struct LinkDefJson<'a> {
    id: u32,
    a: &'a str,
    b: &'a str,
    /// `isl` between satellites, `gsl` to a ground station.
    kind: &'static str,
}

#[derive(Serialize)]
struct WorkloadJson<'a> {
    index: usize,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ranks: Option<Vec<&'a str>>,
}

/// `/api/scenario`: the nodes (satellites in index order, then ground
/// stations with kind `ground` and their names as labels), the candidate
/// links (index = link id; `gsl` to a station) and the workloads.
fn scenario_json(s: &Scenario, live: bool) -> String {
    let world = &s.world;
    let constellation = s.constellation.kind();
    let nodes = world
        .names()
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let id = SatId(i as u32);
            let ground = world.station_of(id).is_some();
            NodeJson {
                id: n,
                label: world.label(id),
                kind: if ground { "ground" } else { "satellite" },
                constellation: if ground { "ground" } else { constellation },
            }
        })
        .collect();
    let links = world
        .candidates()
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| LinkDefJson {
            id: i as u32,
            a: world.name(a),
            b: world.name(b),
            kind: if world.is_gsl(LinkId(i as u32)) {
                "gsl"
            } else {
                "isl"
            },
        })
        .collect();
    let names = |r: &[SatId]| Some(r.iter().map(|&x| world.name(x)).collect());
    let workloads = s
        .workloads
        .iter()
        .enumerate()
        .map(|(index, w)| {
            let (kind, from, to, ranks) = match w {
                Workload::Ping(p) => ("ping", Some(p.from), Some(p.to), None),
                Workload::Bulk(b) => ("bulk", Some(b.from), Some(b.to), None),
                Workload::Collective(c) => ("collective", None, None, names(&c.ranks)),
                Workload::Train(t) => ("train", None, None, names(&t.ranks)),
                Workload::Graph(g) => (graph_kind(g), None, None, names(&g.ranks)),
                Workload::Offload(o) => ("offload", Some(o.from), Some(o.down), names(&o.to)),
            };
            WorkloadJson {
                index,
                kind,
                from: from.map(|x| world.name(x)),
                to: to.map(|x| world.name(x)),
                ranks,
            }
        })
        .collect();
    let json = ScenarioJson {
        name: &s.name,
        epoch: s.epoch.to_rfc3339(),
        duration_s: s.duration.as_secs_f64(),
        tdf: s.tdf.factor(),
        seed: s.seed,
        routing_interval_s: s.routing_interval.as_secs_f64(),
        constellation,
        live,
        nodes,
        links,
        workloads,
    };
    serde_json::to_string(&json).unwrap_or_default()
}

/// The scenario kind of a graph workload: `trace` or `model`.
fn graph_kind(g: &orbnet_netem::training::GraphWorkload) -> &'static str {
    match g.source {
        orbnet_netem::training::GraphSource::Trace { .. } => "trace",
        orbnet_netem::training::GraphSource::Model { .. } => "model",
    }
}
