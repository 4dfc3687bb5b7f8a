//! `orbnet plan`: the world at chosen instants, without starting a
//! satellite; with `--hosts N`, also how a run splits across N hosts
//! ([`orbnet_netem::placement`]).

mod ground;

use std::fmt::Write as _;

use orbnet_netem::placement::{Placement, Share};
use orbnet_netem::routing::{Routes, summarize};
use orbnet_netem::world::World;
use orbnet_netem::{LinkState, Scenario, SimTime, Snapshot};
use serde::Serialize;

pub(crate) use ground::{Ends, passes_report};

/// Output formats of `orbnet plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    Csv,
}

/// The instants to show.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Steps {
    pub at: f64,
    pub until: Option<f64>,
    pub step: f64,
}

impl Steps {
    /// Instants from `at` to `until` (inclusive) every `step` seconds.
    pub(crate) fn instants(&self) -> Result<Vec<f64>, String> {
        let bad = |what: &str, v: f64| format!("{what} must be ≥ 0 (got {v})");
        if !(self.at.is_finite() && self.at >= 0.0) {
            return Err(bad("--at", self.at));
        }
        let Some(until) = self.until else {
            return Ok(vec![self.at]);
        };
        if !(until.is_finite() && until >= self.at) {
            return Err(format!("--until must be ≥ --at (got {until})"));
        }
        if !(self.step.is_finite() && self.step > 0.0) {
            return Err(format!("--step must be > 0 (got {})", self.step));
        }
        let n = ((until - self.at) / self.step + 1e-9).floor() as u64;
        if n > 100_000 {
            return Err(format!("{} steps is too many; raise --step", n + 1));
        }
        Ok((0..=n).map(|i| self.at + i as f64 * self.step).collect())
    }
}

#[derive(Serialize)]
struct PlanJson<'a> {
    scenario: &'a str,
    epoch: String,
    constellation: &'static str,
    satellites: Vec<SatJson<'a>>,
    /// The ground stations (empty without any).
    ground: Vec<ground::StationJson<'a>>,
    steps: Vec<StepJson<'a>>,
    /// With `--hosts`: the split as a whole, then each host's share.
    #[serde(skip_serializing_if = "Option::is_none")]
    placement: Option<PlacementJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hosts: Option<Vec<HostJson<'a>>>,
}

#[derive(Serialize)]
struct PlacementJson {
    method: &'static str,
    hosts: u32,
    links_cut: usize,
    shortest_cut_delay_ms: Option<f64>,
    /// [`Placement::digest`], in hexadecimal.
    digest: String,
}

#[derive(Serialize)]
struct HostJson<'a> {
    index: u32,
    satellites: Vec<&'a str>,
    /// Runs of consecutive satellites: first and last name of each.
    ranges: Vec<[&'a str; 2]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    planes: Vec<u32>,
    links_cut: usize,
    shortest_cut_delay_ms: Option<f64>,
}

#[derive(Serialize)]
struct SatJson<'a> {
    id: &'a str,
    index: u32,
    /// The satellite's name as its constellation gives it (an element
    /// set's name; `sat-<i>` otherwise).
    label: &'a str,
    /// The constellation it belongs to (its `name`).
    constellation: &'a str,
}

#[derive(Serialize)]
struct StepJson<'a> {
    t_s: f64,
    up: usize,
    acquiring: usize,
    down: usize,
    links: Vec<LinkJson<'a>>,
    routes: RoutesJson,
    /// With `--route A B`: the path from A to B at this instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<ground::RouteJson>,
}

#[derive(Serialize)]
struct LinkJson<'a> {
    a: &'a str,
    b: &'a str,
    /// `isl` between satellites, `gsl` between a satellite and a station.
    kind: &'static str,
    /// A ground link's satellite above the station's horizon, degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    elevation_deg: Option<f64>,
    state: &'static str,
    reason: Option<&'static str>,
    distance_km: f64,
    delay_ms: f64,
    rate_gbps: f64,
    loss: f64,
}

#[derive(Serialize)]
struct RoutesJson {
    diameter_hops: u32,
    max_delay_ms: f64,
    mean_hops: f64,
    unreachable_pairs: u64,
}

fn routes_json(snapshot: &Snapshot) -> RoutesJson {
    let s = summarize(&Routes::new(std::sync::Arc::new(snapshot.clone())));
    RoutesJson {
        diameter_hops: s.diameter_hops,
        max_delay_ms: round(s.max_delay.as_millis_f64(), 6),
        mean_hops: round(s.mean_hops, 3),
        unreachable_pairs: s.unreachable_pairs,
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (v * k).round() / k
}

/// Snapshots of `scenario` at each instant, with acquisition applied.
pub(crate) fn snapshots(scenario: &Scenario, instants: &[f64]) -> Vec<Snapshot> {
    let mut timeline = scenario.world.timeline(scenario.routing_interval);
    instants
        .iter()
        .map(|&t| timeline.at(SimTime::from_secs_f64(t)))
        .collect()
}

/// Renders the plan in `format`, with the split across hosts when given
/// (CSV, one row per link, has no place for it: the caller refuses that).
pub(crate) fn render(
    scenario: &Scenario,
    instants: &[f64],
    format: Format,
    placement: Option<&Placement>,
    route: Option<Ends>,
) -> String {
    let snaps = snapshots(scenario, instants);
    match format {
        Format::Json => json(scenario, &snaps, placement, route),
        Format::Csv => csv(scenario, &snaps),
        Format::Table => {
            let mut out = table(scenario, &snaps, route);
            if let Some(p) = placement {
                out.push_str(&hosts_table(&scenario.world, p));
            }
            out
        }
    }
}

fn json(
    scenario: &Scenario,
    snaps: &[Snapshot],
    placement: Option<&Placement>,
    route: Option<Ends>,
) -> String {
    let world = &scenario.world;
    let plan = PlanJson {
        placement: placement.map(|p| PlacementJson {
            method: p.method().as_str(),
            hosts: p.hosts(),
            links_cut: p.cut().len(),
            shortest_cut_delay_ms: p.shortest_cut_delay().map(|d| round(d.as_millis_f64(), 6)),
            digest: format!("{:016x}", p.digest()),
        }),
        hosts: placement.map(|p| hosts_json(world, p)),
        scenario: &scenario.name,
        epoch: scenario.epoch.to_rfc3339(),
        constellation: scenario.constellation.kind(),
        satellites: world.names()[..world.satellites() as usize]
            .iter()
            .enumerate()
            .map(|(i, n)| SatJson {
                id: n,
                index: i as u32,
                label: n,
                constellation: scenario.shell_of(orbnet_netem::SatId(i as u32)),
            })
            .collect(),
        ground: ground::stations(scenario),
        steps: snaps
            .iter()
            .map(|s| StepJson {
                t_s: s.t.as_secs_f64(),
                up: s.count(LinkState::Up),
                acquiring: s.count(LinkState::Acquiring),
                down: s.count(LinkState::Down),
                links: s
                    .links
                    .iter()
                    .map(|l| LinkJson {
                        a: world.name(l.a),
                        b: world.name(l.b),
                        kind: link_kind(world, l.id),
                        elevation_deg: world.elevation_deg(l.id, s.t).map(|e| round(e, 3)),
                        state: l.state.as_str(),
                        reason: l.reason.map(|r| r.as_str()),
                        distance_km: round(l.distance.km(), 3),
                        delay_ms: round(l.delay.as_millis_f64(), 6),
                        rate_gbps: round(l.rate.gbps(), 6),
                        loss: l.loss,
                    })
                    .collect(),
                routes: routes_json(s),
                route: route.map(|r| ground::route(scenario, s, r)),
            })
            .collect(),
    };
    let mut out =
        serde_json::to_string_pretty(&plan).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    out.push('\n');
    out
}

/// `isl` or `gsl`.
fn link_kind(world: &World, link: orbnet_netem::LinkId) -> &'static str {
    if world.is_gsl(link) { "gsl" } else { "isl" }
}

fn csv(scenario: &Scenario, snaps: &[Snapshot]) -> String {
    let world = &scenario.world;
    let mut out = String::from(
        "t_s,a,b,state,reason,distance_km,delay_ms,rate_gbps,loss,kind,elevation_deg\n",
    );
    for s in snaps {
        for l in &s.links {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{:.3},{:.6},{:.6},{:e},{},{}",
                s.t.as_secs_f64(),
                world.name(l.a),
                world.name(l.b),
                l.state.as_str(),
                l.reason.map_or("", |r| r.as_str()),
                l.distance.km(),
                l.delay.as_millis_f64(),
                l.rate.gbps(),
                l.loss,
                link_kind(world, l.id),
                world
                    .elevation_deg(l.id, s.t)
                    .map_or(String::new(), |e| format!("{e:.3}")),
            );
        }
    }
    out
}

/// min, median, max of `v` (sorted in place); zeros when empty.
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn table(scenario: &Scenario, snaps: &[Snapshot], route: Option<Ends>) -> String {
    let world = &scenario.world;
    let model = world.link_model();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} satellites ({}), {} candidate links, {} Gb/s terminals, epoch {}",
        scenario.name,
        world.satellites(),
        scenario.constellation.kind(),
        world.candidates().len(),
        model.terminal_rate.gbps(),
        scenario.epoch.to_rfc3339(),
    );
    let _ = writeln!(
        out,
        "{:>10} {:>5} {:>5} {:>5}  {:>28}  {:>28}  {:>5} {:>10} {:>6}",
        "t (s)",
        "up",
        "acq",
        "down",
        "length km (min/med/max)",
        "delay ms (min/med/max)",
        "diam",
        "max ms",
        "hops"
    );
    for s in snaps {
        let up: Vec<_> = s.links.iter().filter(|l| l.is_up()).collect();
        let (d0, d1, d2) = spread(&mut up.iter().map(|l| l.distance.km()).collect::<Vec<_>>());
        let (t0, t1, t2) = spread(
            &mut up
                .iter()
                .map(|l| l.delay.as_millis_f64())
                .collect::<Vec<_>>(),
        );
        let r = routes_json(s);
        let _ = writeln!(
            out,
            "{:>10.3} {:>5} {:>5} {:>5}  {:>28}  {:>28}  {:>5} {:>10.3} {:>6.2}{}",
            s.t.as_secs_f64(),
            up.len(),
            s.count(LinkState::Acquiring),
            s.count(LinkState::Down),
            format!("{d0:.3} / {d1:.3} / {d2:.3}"),
            format!("{t0:.6} / {t1:.6} / {t2:.6}"),
            r.diameter_hops,
            r.max_delay_ms,
            r.mean_hops,
            if r.unreachable_pairs > 0 {
                format!("  ({} pairs unreachable)", r.unreachable_pairs)
            } else {
                String::new()
            },
        );
        if let Some(ends) = route {
            let _ = writeln!(
                out,
                "{}",
                ground::route_line(&ground::route(scenario, s, ends))
            );
        }
    }
    out
}

fn hosts_json<'a>(world: &'a World, p: &Placement) -> Vec<HostJson<'a>> {
    p.shares()
        .iter()
        .enumerate()
        .map(|(i, share)| HostJson {
            index: i as u32,
            satellites: share.satellites.iter().map(|&s| world.name(s)).collect(),
            ranges: share
                .runs()
                .into_iter()
                .map(|(a, b)| [world.name(a), world.name(b)])
                .collect(),
            planes: share.planes.clone(),
            links_cut: share.links_cut,
            shortest_cut_delay_ms: share
                .shortest_cut_delay
                .map(|d| round(d.as_millis_f64(), 6)),
        })
        .collect()
}

/// A host's satellites by name, runs of consecutive ones as `first–last`.
pub(crate) fn name_ranges(world: &World, share: &Share) -> String {
    let runs: Vec<String> = share
        .runs()
        .into_iter()
        .map(|(a, b)| {
            if a == b {
                world.name(a).to_owned()
            } else {
                format!("{}–{}", world.name(a), world.name(b))
            }
        })
        .collect();
    runs.join(", ")
}

/// The table's section for `--hosts`.
fn hosts_table(world: &World, p: &Placement) -> String {
    let mut out = String::new();
    let method = match p.method() {
        orbnet_netem::placement::Method::WholePlanes { .. } => "whole planes",
        orbnet_netem::placement::Method::Partition => "graph partition",
    };
    let _ = writeln!(
        out,
        "\n{} hosts ({method}): {} links cut between hosts; shortest cut link {} at t = 0",
        p.hosts(),
        p.cut().len(),
        delay_ms(p.shortest_cut_delay()),
    );
    let _ = writeln!(
        out,
        "{:>5} {:>10} {:>9} {:>12}  satellites",
        "host", "satellites", "links cut", "shortest ms"
    );
    for (i, share) in p.shares().iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>5} {:>10} {:>9} {:>12}  {}",
            i,
            share.satellites.len(),
            share.links_cut,
            share
                .shortest_cut_delay
                .map_or("-".to_owned(), |d| format!("{:.6}", d.as_millis_f64())),
            name_ranges(world, share),
        );
    }
    out
}

fn delay_ms(d: Option<orbnet_netem::SimDuration>) -> String {
    d.map_or("none (no cut link is up)".to_owned(), |d| {
        format!("{:.6} ms", d.as_millis_f64())
    })
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use orbnet_netem::SatId;
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    // What `orbnet plan --format json` prints, read back: written apart
    // from the types that print it, strict about unknown fields.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PlanBack {
        scenario: String,
        epoch: String,
        constellation: String,
        satellites: Vec<SatBack>,
        ground: Vec<serde_json::Value>,
        steps: Vec<StepBack>,
        placement: Option<PlacementBack>,
        hosts: Option<Vec<HostBack>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SatBack {
        id: String,
        index: u32,
        label: String,
        constellation: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct StepBack {
        t_s: f64,
        up: usize,
        acquiring: usize,
        down: usize,
        links: Vec<LinkBack>,
        routes: RoutesBack,
        #[serde(default)]
        route: Option<serde_json::Value>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct LinkBack {
        a: String,
        b: String,
        kind: String,
        #[serde(default)]
        elevation_deg: Option<f64>,
        state: String,
        reason: Option<String>,
        distance_km: f64,
        delay_ms: f64,
        rate_gbps: f64,
        loss: f64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct RoutesBack {
        diameter_hops: u32,
        max_delay_ms: f64,
        mean_hops: f64,
        unreachable_pairs: u64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PlacementBack {
        method: String,
        hosts: u32,
        links_cut: usize,
        shortest_cut_delay_ms: Option<f64>,
        digest: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct HostBack {
        index: u32,
        satellites: Vec<String>,
        ranges: Vec<[String; 2]>,
        #[serde(default)]
        planes: Vec<u32>,
        links_cut: usize,
        shortest_cut_delay_ms: Option<f64>,
    }

    /// `s` as a TOML basic string.
    fn toml_string(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{:04X}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// A Walker shell of random size, height and tilt, under a name of any
    /// characters (quotes, backslashes, control characters, emoji).
    fn scenario() -> impl Strategy<Value = Scenario> {
        (
            ".{1,24}",
            1u32..5,
            2u32..13,
            300.0f64..3000.0,
            0.0f64..180.0,
            0.1f64..400.0,
            prop::sample::select(vec!["plus-grid", "nearest", "all"]),
        )
            .prop_filter_map(
                "a valid scenario",
                |(name, p, s, alt, inc, rate, pattern)| {
                    let text = format!(
                        "name = {}\nduration_s = 600\n[constellation]\nkind = \"walker\"\n\
                     planes = {p}\nper_plane = {s}\naltitude_km = {alt}\ninclination_deg = {inc}\n\
                     [links]\npattern = \"{pattern}\"\nrate_gbps = {rate}\nacquisition_s = 30\n",
                        toml_string(&name)
                    );
                    Scenario::parse(&text, "plan.toml", &mut |_| Err("no files".into())).ok()
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// `orbnet plan --format json` parses back to exactly the values it
        /// was made from: names whatever their characters, every link's
        /// figures (rounded as documented, and finite), the route figures
        /// and the placement.
        #[test]
        fn plan_json_round_trips(
            s in scenario(),
            at in prop::collection::vec(0.0f64..6000.0, 1..4),
            hosts in prop::option::of(1u32..4),
        ) {
            let placement = hosts.and_then(|h| Placement::new(&s.world, &s.constellation, h).ok());
            let text = render(&s, &at, Format::Json, placement.as_ref(), None);
            let back: PlanBack = serde_json::from_str(&text).map_err(|e| {
                TestCaseError::fail(format!("{e}\n{text}"))
            })?;
            let world = &s.world;
            prop_assert_eq!(&back.scenario, &s.name);
            prop_assert_eq!(&back.epoch, &s.epoch.to_rfc3339());
            prop_assert_eq!(back.constellation.as_str(), s.constellation.kind());
            prop_assert_eq!(back.satellites.len(), world.satellites() as usize);
            prop_assert!(back.ground.is_empty(), "no station in a shell: {:?}", back.ground);
            for (i, sat) in back.satellites.iter().enumerate() {
                let id = SatId(i as u32);
                prop_assert_eq!(sat.index, i as u32);
                prop_assert_eq!(sat.id.as_str(), world.name(id));
                prop_assert_eq!(sat.label.as_str(), world.name(id));
                prop_assert_eq!(sat.constellation.as_str(), s.shell_of(id));
            }
            let snaps = snapshots(&s, &at);
            prop_assert_eq!(back.steps.len(), snaps.len());
            for (step, snap) in back.steps.iter().zip(&snaps) {
                prop_assert_eq!(step.t_s, snap.t.as_secs_f64());
                prop_assert_eq!(step.up + step.acquiring + step.down, snap.links.len());
                prop_assert_eq!(step.up, snap.count(LinkState::Up));
                prop_assert!(step.route.is_none(), "a route without --route");
                prop_assert_eq!(step.acquiring, snap.count(LinkState::Acquiring));
                let links: Vec<LinkBack> = snap
                    .links
                    .iter()
                    .map(|l| LinkBack {
                        a: world.name(l.a).to_owned(),
                        b: world.name(l.b).to_owned(),
                        kind: "isl".to_owned(),
                        elevation_deg: None,
                        state: l.state.as_str().to_owned(),
                        reason: l.reason.map(|r| r.as_str().to_owned()),
                        distance_km: round(l.distance.km(), 3),
                        delay_ms: round(l.delay.as_millis_f64(), 6),
                        rate_gbps: round(l.rate.gbps(), 6),
                        loss: l.loss,
                    })
                    .collect();
                prop_assert_eq!(&step.links, &links);
                let r = summarize(&Routes::new(std::sync::Arc::new(snap.clone())));
                prop_assert_eq!(&step.routes, &RoutesBack {
                    diameter_hops: r.diameter_hops,
                    max_delay_ms: round(r.max_delay.as_millis_f64(), 6),
                    mean_hops: round(r.mean_hops, 3),
                    unreachable_pairs: r.unreachable_pairs,
                });
            }
            match (&placement, &back.placement, &back.hosts) {
                (None, None, None) => {}
                (Some(p), Some(pb), Some(hb)) => {
                    prop_assert_eq!(pb.method.as_str(), p.method().as_str());
                    prop_assert_eq!(pb.hosts, p.hosts());
                    prop_assert_eq!(pb.links_cut, p.cut().len());
                    prop_assert_eq!(
                        pb.shortest_cut_delay_ms,
                        p.shortest_cut_delay().map(|d| round(d.as_millis_f64(), 6))
                    );
                    prop_assert_eq!(&pb.digest, &format!("{:016x}", p.digest()));
                    prop_assert_eq!(hb.len(), p.shares().len());
                    for (h, share) in hb.iter().zip(p.shares()) {
                        let names: Vec<&str> = share.satellites.iter().map(|&x| world.name(x)).collect();
                        prop_assert_eq!(&h.satellites, &names);
                        prop_assert_eq!(h.ranges.len(), share.runs().len());
                        prop_assert_eq!(&h.planes, &share.planes);
                        prop_assert_eq!(h.links_cut, share.links_cut);
                        prop_assert!(h.index < p.hosts());
                        prop_assert_eq!(
                            h.shortest_cut_delay_ms,
                            share.shortest_cut_delay.map(|d| round(d.as_millis_f64(), 6))
                        );
                    }
                }
                other => prop_assert!(false, "placement printed as {other:?}"),
            }
        }
    }
}
