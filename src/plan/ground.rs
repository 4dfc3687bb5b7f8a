//! `orbnet plan`'s ground views: the stations, a route between two nodes at
//! each instant, and the passes over a station.

use std::fmt::Write as _;

use orbnet_netem::ground::passes;
use orbnet_netem::routing::Routes;
use orbnet_netem::{SatId, Scenario, SimTime, Snapshot};
use serde::Serialize;

use super::round;

/// A ground station as `orbnet plan` lists it (its home site).
#[derive(Serialize)]
pub(super) struct StationJson<'a> {
    id: &'a str,
    index: u32,
    label: &'a str,
    lat_deg: f64,
    lon_deg: f64,
    alt_m: f64,
    /// Further sites (site diversity), each `[lat_deg, lon_deg, alt_m]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sites: Vec<[f64; 3]>,
}

/// Every ground station of `scenario`.
pub(super) fn stations(scenario: &Scenario) -> Vec<StationJson<'_>> {
    let world = &scenario.world;
    let Some(g) = world.ground() else {
        return Vec::new();
    };
    g.stations()
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let node = SatId(world.satellites() + k as u32);
            let home = s.sites[0];
            StationJson {
                id: world.name(node),
                index: node.0,
                label: &s.label,
                lat_deg: home.lat_deg(),
                lon_deg: home.lon_deg(),
                alt_m: home.alt_m(),
                sites: s.sites[1..]
                    .iter()
                    .map(|g| [g.lat_deg(), g.lon_deg(), g.alt_m()])
                    .collect(),
            }
        })
        .collect()
}

/// The path packets from one node to another take at one instant.
#[derive(Serialize)]
pub(super) struct RouteJson {
    from: String,
    to: String,
    /// Node ids from `from` to `to`; empty when there is no route.
    path: Vec<String>,
    /// One-way propagation delay along the path (`null` without a route).
    delay_ms: Option<f64>,
    /// Out and back over the same path.
    rtt_ms: Option<f64>,
}

/// Two nodes named on the command line, by id or label.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ends {
    pub from: SatId,
    pub to: SatId,
}

impl Ends {
    /// `--route A B` against the scenario's nodes.
    pub(crate) fn find(scenario: &Scenario, a: &str, b: &str) -> Result<Ends, String> {
        let find = |n: &str| {
            scenario
                .world
                .find(n)
                .ok_or_else(|| format!("--route: no node named {n:?}"))
        };
        Ok(Ends {
            from: find(a)?,
            to: find(b)?,
        })
    }
}

/// The route between `ends` on the snapshot the nodes route on.
pub(super) fn route(scenario: &Scenario, snapshot: &Snapshot, ends: Ends) -> RouteJson {
    let world = &scenario.world;
    let path = Routes::new(std::sync::Arc::new(snapshot.clone())).path(ends.from, ends.to);
    let mut nodes = Vec::new();
    if let Some(p) = &path {
        nodes.extend(p.senders.iter().map(|&s| world.name(s).to_owned()));
        nodes.push(world.name(ends.to).to_owned());
    }
    RouteJson {
        from: world.name(ends.from).to_owned(),
        to: world.name(ends.to).to_owned(),
        path: nodes,
        delay_ms: path.as_ref().map(|p| round(p.delay.as_millis_f64(), 6)),
        rtt_ms: path.as_ref().map(|p| round(p.rtt().as_millis_f64(), 6)),
    }
}

/// A route as one line of the table.
pub(super) fn route_line(r: &RouteJson) -> String {
    match (r.delay_ms, r.rtt_ms) {
        (Some(d), Some(rtt)) => format!(
            "    route {} → {}: {} ({} hops), {d:.3} ms one-way, {rtt:.3} ms RTT",
            r.from,
            r.to,
            r.path.join(" "),
            r.path.len().saturating_sub(1)
        ),
        _ => format!("    route {} → {}: none", r.from, r.to),
    }
}

#[derive(Serialize)]
struct PassJson<'a> {
    satellite: &'a str,
    rise_s: f64,
    culmination_s: f64,
    max_elevation_deg: f64,
    set_s: f64,
    duration_s: f64,
}

#[derive(Serialize)]
struct PassesJson<'a> {
    scenario: &'a str,
    station: &'a str,
    label: &'a str,
    from_s: f64,
    until_s: f64,
    min_elevation_deg: f64,
    passes: Vec<PassJson<'a>>,
}

/// `--passes STATION`: every pass over the station's home site between
/// `from` and `until` seconds, in order of rising, as JSON or a table.
pub(crate) fn passes_report(
    scenario: &Scenario,
    station: &str,
    from: f64,
    until: f64,
    json: bool,
) -> Result<String, String> {
    let world = &scenario.world;
    let node = world
        .find(station)
        .ok_or_else(|| format!("--passes: no node named {station:?}"))?;
    let (Some(k), Some(g)) = (world.station_of(node), world.ground()) else {
        return Err(format!("--passes: {station} is not a ground station"));
    };
    let site = g
        .station_site(k, 0)
        .ok_or_else(|| format!("--passes: {station} has no site"))?;
    let mask = g.stations()[k].links.mask;
    let (t0, t1) = (SimTime::from_secs_f64(from), SimTime::from_secs_f64(until));
    let mut all = Vec::new();
    for i in 0..world.satellites() {
        let Some(orbit) = world.orbit(SatId(i)) else {
            continue;
        };
        for p in passes(site, orbit, &mask, t0, t1) {
            all.push((SatId(i), p));
        }
    }
    all.sort_by_key(|(s, p)| (p.rise, s.0));
    let report = PassesJson {
        scenario: &scenario.name,
        station: world.name(node),
        label: world.label(node),
        from_s: from,
        until_s: until,
        min_elevation_deg: mask.min_elevation_deg(),
        passes: all
            .iter()
            .map(|(s, p)| PassJson {
                satellite: world.name(*s),
                rise_s: round(p.rise.as_secs_f64(), 3),
                culmination_s: round(p.culmination.as_secs_f64(), 3),
                max_elevation_deg: round(p.max_elevation_deg, 3),
                set_s: round(p.set.as_secs_f64(), 3),
                duration_s: round(p.duration().as_secs_f64(), 3),
            })
            .collect(),
    };
    if json {
        let mut out = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        out.push('\n');
        return Ok(out);
    }
    let mut out = format!(
        "{} ({}): {} passes above {}° between {from} s and {until} s\n{:>12} {:>12} {:>12} {:>9} {:>10}  satellite\n",
        report.station,
        report.label,
        report.passes.len(),
        report.min_elevation_deg,
        "rise s",
        "culm. s",
        "set s",
        "max el°",
        "length s"
    );
    for p in &report.passes {
        let _ = writeln!(
            out,
            "{:>12.3} {:>12.3} {:>12.3} {:>9.3} {:>10.3}  {}",
            p.rise_s, p.culmination_s, p.set_s, p.max_elevation_deg, p.duration_s, p.satellite
        );
    }
    Ok(out)
}
