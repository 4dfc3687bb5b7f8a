//! Scenario files (TOML): parsed once into types that cannot hold an invalid
//! state. A rejection names the file, the field and the reason:
//! `topologies/x.toml: links.rate_gbps: must be > 0 (got -5)`.
//!
//! Loading does no I/O of its own: a scenario that refers to another file
//! (a TLE set) gets its text through the `read` callback the caller passes.
//!
//! One module per table: `constellation` (and its `elements`), `links`,
//! `workloads` (and its `graphs`: Chakra traces and models), `gateways`,
//! `faults`; `raw` holds the forms as written and
//! `check` the field checks they share.

mod check;
mod constellation;
mod elements;
mod faults;
mod gateways;
mod graphs;
mod ground;
#[cfg(test)]
mod ground_tests;
mod links;
mod offload;
#[cfg(test)]
mod port_properties;
mod raw;
mod shells;
#[cfg(test)]
mod tests;
mod workloads;

use std::fmt;

use chrono::{DateTime, Utc};

use crate::ports::PortPlan;
use crate::traffic::Workload;
use crate::units::{SimDuration, SimTime, Tdf};
use crate::workload::{Accelerator, Transport};
use crate::world::World;
use check::{Checked, bad, check_positive, check_range, line_col, positive_duration, typed};
use raw::{RawAccelerator, RawScenario};

pub use constellation::{Constellation, ConstellationKind, sun_synchronous_inclination};
pub use elements::{ElementsError, parse_element_sets};
pub use faults::FaultName;
pub use gateways::{Gateway, GatewayProtocol};
pub use links::{PatternName, RateModelName};
pub use shells::Shell;
pub use workloads::{MAX_TCP_RANKS, WorkloadKind};

/// A scenario file rejected: which file, which field, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub field: String,
    pub reason: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.reason)
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub epoch: DateTime<Utc>,
    pub seed: u64,
    pub tdf: Tdf,
    pub duration: SimDuration,
    /// How often every satellite recomputes link states and routes.
    pub routing_interval: SimDuration,
    /// What the first constellation was built from.
    pub constellation: Constellation,
    /// Every constellation, in file order, with its satellites.
    pub shells: Vec<Shell>,
    pub world: World,
    pub workloads: Vec<Workload>,
    /// The accelerator every satellite carries (needed by `train`).
    pub accelerator: Option<Accelerator>,
    pub gateways: Vec<Gateway>,
    /// Every port the workloads use on the satellites' stacks.
    pub ports: PortPlan,
    /// The files the scenario refers to, as written in it (relative to
    /// the scenario file): a run's results keep a copy.
    pub files: Vec<String>,
}

/// Reads a file a scenario refers to (path as written in the scenario).
pub type ReadFile<'a> = &'a mut dyn FnMut(&str) -> Result<String, String>;

/// Reads a file a scenario refers to as bytes (Chakra traces are binary).
pub type ReadBytes<'a> = &'a mut dyn FnMut(&str) -> Result<Vec<u8>, String>;

impl Scenario {
    /// Parses and validates scenario `text`; `file` names it in errors.
    /// The files it refers to are read as text (see [`Scenario::parse_bytes`]).
    pub fn parse(text: &str, file: &str, read: ReadFile<'_>) -> Result<Scenario, ScenarioError> {
        Scenario::parse_bytes(text, file, &mut |p: &str| read(p).map(String::into_bytes))
    }

    /// Parses and validates scenario `text`, reading the files it refers
    /// to as bytes; `file` names it in errors.
    pub fn parse_bytes(
        text: &str,
        file: &str,
        read: ReadBytes<'_>,
    ) -> Result<Scenario, ScenarioError> {
        let mut files = Vec::new();
        let mut recording = |path: &str| {
            files.push(path.to_owned());
            read(path)
        };
        let mut s = parse_checked(text, &mut recording).map_err(|b| ScenarioError {
            file: file.to_owned(),
            field: b.field,
            reason: b.reason,
        })?;
        s.files = files;
        Ok(s)
    }

    /// Replaces the TDF (from the command line).
    pub fn set_tdf(&mut self, tdf: f64) -> Result<(), String> {
        self.tdf = Tdf::new(tdf).ok_or_else(|| format!("must be > 0 (got {tdf})"))?;
        Ok(())
    }

    /// Replaces the seed (from the command line): every random draw follows
    /// it, the ground stations' weather included.
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
        self.world = self.world.clone().reseed_ground(seed);
    }

    /// Replaces the duration (from the command line).
    pub fn set_duration(&mut self, seconds: f64) -> Result<(), String> {
        self.duration =
            positive_duration(seconds).ok_or_else(|| format!("must be > 0 (got {seconds})"))?;
        Ok(())
    }

    /// The name of the constellation satellite `sat` belongs to.
    pub fn shell_of(&self, sat: crate::units::SatId) -> &str {
        if self.world.station_of(sat).is_some() {
            return "ground";
        }
        self.shells
            .iter()
            .find(|s| s.satellites.contains(&sat.0))
            .map_or("?", |s| s.name.as_str())
    }

    /// Whether a workload speaks QUIC (so the run needs a certificate).
    pub fn uses_quic(&self) -> bool {
        self.workloads.iter().any(|w| match w {
            Workload::Bulk(b) => b.transport == Transport::Quic,
            Workload::Collective(c) => c.transport == Transport::Quic,
            Workload::Train(t) => t.transport == Transport::Quic,
            Workload::Graph(g) => g.transport == Transport::Quic,
            Workload::Offload(o) => o.transport == Transport::Quic,
            Workload::Ping(_) => false,
        })
    }
}

/// The routing instant in force at `t`: the last multiple of `grid` (the
/// satellites recompute their routes from the snapshot at each).
pub fn routing_instant(t: SimTime, grid: SimDuration) -> SimTime {
    let step = grid.as_nanos().max(1);
    SimTime::from_nanos(t.as_nanos() / step * step)
}

/// The scenario's own keys: name, epoch, seed, time.
struct Header {
    name: String,
    epoch: DateTime<Utc>,
    tdf: Tdf,
    duration: SimDuration,
    routing_interval: SimDuration,
}

fn header(raw: &RawScenario) -> Checked<Header> {
    let name = raw.name.trim().to_owned();
    if name.is_empty() {
        return Err(bad("name", "must not be empty"));
    }
    let epoch =
        DateTime::parse_from_rfc3339(raw.epoch.as_deref().unwrap_or("2026-01-01T00:00:00Z"))
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| {
                bad(
                    "epoch",
                    format!("must be an RFC 3339 UTC instant like 2026-01-01T00:00:00Z ({e})"),
                )
            })?;
    let tdf = raw.tdf.unwrap_or(1.0);
    let tdf = Tdf::new(tdf).ok_or_else(|| bad("tdf", format!("must be > 0 (got {tdf})")))?;
    let duration_s = raw.duration_s.unwrap_or(30.0);
    let duration = positive_duration(duration_s)
        .ok_or_else(|| bad("duration_s", format!("must be > 0 (got {duration_s})")))?;
    let interval_ms = raw.routing_interval_ms.unwrap_or(100.0);
    let routing_interval = positive_duration(interval_ms / 1e3)
        .filter(|d| d.as_nanos() >= 1_000)
        .ok_or_else(|| {
            bad(
                "routing_interval_ms",
                format!("must be ≥ 0.001 (got {interval_ms})"),
            )
        })?;
    Ok(Header {
        name,
        epoch,
        tdf,
        duration,
        routing_interval,
    })
}

fn accelerator(a: Option<RawAccelerator>) -> Checked<Option<Accelerator>> {
    let Some(a) = a else { return Ok(None) };
    Ok(Some(Accelerator {
        name: a.name.unwrap_or_else(|| "accelerator".into()),
        peak_flops: check_positive("accelerator.peak_tflops", a.peak_tflops)? * 1e12,
        utilization: check_range(
            "accelerator.utilization",
            a.utilization.unwrap_or(0.4),
            1e-6,
            1.0,
        )?,
    }))
}

fn parse_checked(text: &str, read: ReadBytes<'_>) -> Checked<Scenario> {
    let value: toml::Value = toml::from_str::<toml::Table>(text)
        .map(toml::Value::Table)
        .map_err(|e| {
            let at = e
                .span()
                .map(|s| line_col(text, s.start))
                .unwrap_or_default();
            bad(at, format!("not valid TOML: {}", e.message()))
        })?;
    let raw: RawScenario = typed(value, "")?;
    let h = header(&raw)?;
    let seed = raw.seed.unwrap_or(1);
    let mut read_text = |p: &str| {
        read(p).and_then(|b| String::from_utf8(b).map_err(|e| format!("not UTF-8 text: {e}")))
    };
    let (shells, world) = shells::build(raw.constellation, raw.links, h.epoch, &mut read_text)?;
    let mut world = ground::build(
        ground::GroundInput {
            ground: raw.ground,
            stations: raw.ground_station,
            epoch: h.epoch,
            seed,
            read: &mut read_text,
        },
        world,
    )?;
    world.set_faults(faults::build_all(raw.fault, &world)?);
    let gateways = raw
        .gateway
        .into_iter()
        .enumerate()
        .map(|(i, g)| gateways::build(g, i, &world))
        .collect::<Checked<Vec<_>>>()?;
    let accelerator = accelerator(raw.accelerator)?;
    let cx = workloads::Context {
        world: &world,
        grid: h.routing_interval,
        accelerator: accelerator.as_ref(),
        read: std::cell::RefCell::new(read),
    };
    let workloads = raw
        .workload
        .into_iter()
        .enumerate()
        .map(|(i, w)| workloads::build(w, i, &cx))
        .collect::<Checked<Vec<_>>>()?;
    let ports = PortPlan::new(&workloads)
        .map_err(|e| bad(format!("workload[{}]", e.workload), e.to_string()))?;
    gateways::outside_the_plan(&gateways, &ports, workloads.len())?;
    gateways::distinct(&gateways)?;
    if accelerator.is_none()
        && let Some((i, kind)) = workloads.iter().enumerate().find_map(|(i, w)| match w {
            Workload::Train(_) => Some((i, "a `train`")),
            Workload::Offload(_) => Some((i, "an `offload`")),
            _ => None,
        })
    {
        return Err(bad(
            format!("workload[{i}]"),
            format!("{kind} workload needs an [accelerator] section"),
        ));
    }
    Ok(Scenario {
        name: h.name,
        epoch: h.epoch,
        seed,
        tdf: h.tdf,
        duration: h.duration,
        routing_interval: h.routing_interval,
        constellation: shells[0].constellation.clone(),
        shells,
        world,
        workloads,
        accelerator,
        gateways,
        ports,
        files: Vec::new(),
    })
}
