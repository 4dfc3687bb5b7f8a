//! Scenario files (TOML): parsed once into types that cannot hold an invalid
//! state. A rejection names the file, the field and the reason:
//! `topologies/x.toml: links.rate_gbps: must be > 0 (got -5)`.
//!
//! Loading does no I/O of its own: a scenario that refers to another file
//! (a TLE set) gets its text through the `read` callback the caller passes.

use std::f64::consts::TAU;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::formation::{Lattice, formation};
use crate::geometry::EARTH_RADIUS_M;
use crate::link::{GilbertElliott, LinkModel, RateModel};
use crate::orbit::{CircularOrbit, J2, MU_EARTH, Orbit, TleOrbit, WalkerShell, walker_shell};
use crate::topology::Pattern;
use crate::units::{BitsPerSecond, Bytes, Meters, SatId, SimDuration, SimTime, Tdf};
use crate::world::World;

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

/// A field-level complaint, before the file name is attached.
#[derive(Debug)]
struct Bad {
    field: String,
    reason: String,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> Bad {
    Bad {
        field: field.into(),
        reason: reason.into(),
    }
}

type Checked<T> = Result<T, Bad>;

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
    pub constellation: Constellation,
    pub world: World,
    pub workloads: Vec<Workload>,
}

/// What the constellation was built from (for reports).
#[derive(Clone, Debug, PartialEq)]
pub enum Constellation {
    Walker(WalkerShell),
    Tle {
        file: String,
        satellites: usize,
    },
    Formation {
        altitude_m: f64,
        inclination: f64,
        lattice: Lattice,
    },
}

impl Constellation {
    pub fn kind(&self) -> &'static str {
        match self {
            Constellation::Walker(_) => "walker",
            Constellation::Tle { .. } => "tle",
            Constellation::Formation { .. } => "formation",
        }
    }
}

/// Traffic a scenario runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    Ping(Ping),
}

/// ICMP echo from one satellite to another.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ping {
    pub from: SatId,
    pub to: SatId,
    pub interval: SimDuration,
    pub count: u32,
    /// ICMP payload bytes.
    pub size: u32,
    pub start: SimTime,
}

// ---------------------------------------------------------------- raw forms

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    epoch: Option<String>,
    seed: Option<u64>,
    tdf: Option<f64>,
    duration_s: Option<f64>,
    routing_interval_ms: Option<f64>,
    constellation: toml::Table,
    links: RawLinks,
    #[serde(default)]
    workload: Vec<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWalker {
    #[allow(dead_code)]
    kind: String,
    planes: u32,
    per_plane: u32,
    altitude_km: f64,
    inclination_deg: f64,
    #[serde(default)]
    phasing: u32,
    raan_spread_deg: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTle {
    #[allow(dead_code)]
    kind: String,
    file: String,
    /// Take only the first `count` element sets.
    count: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormation {
    #[allow(dead_code)]
    kind: String,
    count: u32,
    altitude_km: f64,
    /// Default: sun-synchronous for the altitude.
    inclination_deg: Option<f64>,
    #[serde(default)]
    raan_deg: f64,
    spacing_m: Option<f64>,
    radius_m: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinks {
    pattern: Option<String>,
    rate_gbps: f64,
    mtu: Option<u32>,
    grazing_km: Option<f64>,
    max_range_km: Option<f64>,
    acquisition_s: Option<f64>,
    ber: Option<f64>,
    loss: Option<f64>,
    terminals: Option<u32>,
    k: Option<u32>,
    pairs: Option<Vec<(String, String)>>,
    queue_bytes: Option<u64>,
    rate_model: Option<String>,
    aperture_cm: Option<f64>,
    wavelength_nm: Option<f64>,
    full_rate_km: Option<f64>,
    burst: Option<RawBurst>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBurst {
    p_good_bad: f64,
    p_bad_good: f64,
    #[serde(default)]
    loss_good: f64,
    loss_bad: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPing {
    #[allow(dead_code)]
    kind: String,
    from: String,
    to: String,
    interval_ms: Option<f64>,
    count: Option<u32>,
    size: Option<u32>,
    start_s: Option<f64>,
}

// ---------------------------------------------------------------- loading

/// Reads a file a scenario refers to (path as written in the scenario).
pub type ReadFile<'a> = &'a mut dyn FnMut(&str) -> Result<String, String>;

impl Scenario {
    /// Parses and validates scenario `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &str, read: ReadFile<'_>) -> Result<Scenario, ScenarioError> {
        parse_checked(text, read).map_err(|b| ScenarioError {
            file: file.to_owned(),
            field: b.field,
            reason: b.reason,
        })
    }

    /// Replaces the TDF (from the command line); `None` if not positive.
    pub fn set_tdf(&mut self, tdf: f64) -> Result<(), String> {
        self.tdf = Tdf::new(tdf).ok_or_else(|| format!("must be > 0 (got {tdf})"))?;
        Ok(())
    }

    pub fn set_duration(&mut self, seconds: f64) -> Result<(), String> {
        self.duration =
            positive_duration(seconds).ok_or_else(|| format!("must be > 0 (got {seconds})"))?;
        Ok(())
    }
}

fn positive_duration(seconds: f64) -> Option<SimDuration> {
    (seconds.is_finite() && seconds > 0.0).then(|| SimDuration::from_secs_f64(seconds))
}

/// Deserializes `value` into `T`, naming the field that failed under `prefix`.
fn typed<T: DeserializeOwned>(value: toml::Value, prefix: &str) -> Checked<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = match (prefix.is_empty(), path.as_str()) {
            (_, ".") => prefix.to_owned(),
            (true, p) => p.to_owned(),
            (false, p) => format!("{prefix}.{p}"),
        };
        bad(field, e.into_inner().message().to_owned())
    })
}

fn parse_checked(text: &str, read: ReadFile<'_>) -> Checked<Scenario> {
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

    let name = raw.name.trim().to_owned();
    if name.is_empty() {
        return Err(bad("name", "must not be empty"));
    }
    let epoch = match raw.epoch.as_deref() {
        None => DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").map(|d| d.with_timezone(&Utc)),
        Some(s) => DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)),
    }
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

    let (constellation, names, orbits, layout) =
        build_constellation(raw.constellation, epoch, read)?;
    let (pattern, links) = build_links(raw.links, &names, layout)?;
    let world = World::new(names, orbits, pattern, links);

    let workloads = raw
        .workload
        .into_iter()
        .enumerate()
        .map(|(i, w)| build_workload(w, i, &world))
        .collect::<Checked<Vec<_>>>()?;

    Ok(Scenario {
        name,
        epoch,
        seed: raw.seed.unwrap_or(1),
        tdf,
        duration,
        routing_interval,
        constellation,
        world,
        workloads,
    })
}

/// "line L, column C" of a byte offset.
fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {col}")
}

fn kind_of(table: &toml::Table, field: &str, kinds: &[&str]) -> Checked<String> {
    match table.get("kind") {
        None => Err(bad(
            format!("{field}.kind"),
            format!("missing (one of: {})", kinds.join(", ")),
        )),
        Some(toml::Value::String(k)) if kinds.contains(&k.as_str()) => Ok(k.clone()),
        Some(other) => Err(bad(
            format!("{field}.kind"),
            format!("must be one of: {} (got {other})", kinds.join(", ")),
        )),
    }
}

fn check_range(field: &str, v: f64, lo: f64, hi: f64) -> Checked<f64> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(bad(field, format!("must be in [{lo}, {hi}] (got {v})")))
    }
}

fn check_positive(field: &str, v: f64) -> Checked<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(field, format!("must be > 0 (got {v})")))
    }
}

/// Planes and slots of a Walker shell, for `plus-grid`.
type Layout = Option<(u32, u32)>;

type Built = (Constellation, Vec<String>, Vec<Arc<dyn Orbit>>, Layout);

/// Most satellites one scenario may hold.
const MAX_SATELLITES: u64 = 100_000;

fn build_constellation(
    table: toml::Table,
    epoch: DateTime<Utc>,
    read: ReadFile<'_>,
) -> Checked<Built> {
    let kind = kind_of(&table, "constellation", &["walker", "tle", "formation"])?;
    let value = toml::Value::Table(table);
    match kind.as_str() {
        "walker" => {
            let w: RawWalker = typed(value, "constellation")?;
            if w.planes == 0 {
                return Err(bad("constellation.planes", "must be ≥ 1 (got 0)"));
            }
            if w.per_plane == 0 {
                return Err(bad("constellation.per_plane", "must be ≥ 1 (got 0)"));
            }
            let total = u64::from(w.planes) * u64::from(w.per_plane);
            if total > MAX_SATELLITES {
                return Err(bad(
                    "constellation",
                    format!("{total} satellites; at most {MAX_SATELLITES}"),
                ));
            }
            if w.phasing >= w.planes {
                return Err(bad(
                    "constellation.phasing",
                    format!("must be < planes ({}) (got {})", w.planes, w.phasing),
                ));
            }
            let alt = check_range("constellation.altitude_km", w.altitude_km, 100.0, 100_000.0)?;
            let inc = check_range(
                "constellation.inclination_deg",
                w.inclination_deg,
                0.0,
                180.0,
            )?;
            let spread = check_range(
                "constellation.raan_spread_deg",
                w.raan_spread_deg.unwrap_or(360.0),
                0.0,
                360.0,
            )?;
            let shell = WalkerShell {
                planes: w.planes,
                per_plane: w.per_plane,
                phasing: w.phasing,
                altitude_m: alt * 1e3,
                inclination: inc.to_radians(),
                raan_spread: spread.to_radians(),
            };
            let orbits = walker_shell(&shell)
                .into_iter()
                .map(|o| Arc::new(o) as Arc<dyn Orbit>)
                .collect();
            let names = (0..total).map(|i| format!("sat-{i}")).collect();
            Ok((
                Constellation::Walker(shell),
                names,
                orbits,
                Some((w.planes, w.per_plane)),
            ))
        }
        "tle" => {
            let t: RawTle = typed(value, "constellation")?;
            let text = read(&t.file)
                .map_err(|e| bad("constellation.file", format!("cannot read {}: {e}", t.file)))?;
            let mut sets = parse_element_sets(&text)
                .map_err(|e| bad("constellation.file", format!("{}: {e}", t.file)))?;
            if let Some(count) = t.count {
                if count == 0 || count as usize > sets.len() {
                    return Err(bad(
                        "constellation.count",
                        format!("must be in [1, {}] (got {count})", sets.len()),
                    ));
                }
                sets.truncate(count as usize);
            }
            if sets.is_empty() {
                return Err(bad(
                    "constellation.file",
                    format!("{}: no element sets", t.file),
                ));
            }
            let mut names = Vec::with_capacity(sets.len());
            let mut orbits: Vec<Arc<dyn Orbit>> = Vec::with_capacity(sets.len());
            for (name, elements) in &sets {
                if names.contains(name) {
                    return Err(bad(
                        "constellation.file",
                        format!("{}: satellite name {name:?} appears twice", t.file),
                    ));
                }
                let orbit = TleOrbit::new(elements, epoch)
                    .map_err(|e| bad("constellation.file", format!("{}: {name}: {e}", t.file)))?;
                names.push(name.clone());
                orbits.push(Arc::new(orbit));
            }
            let n = names.len();
            Ok((
                Constellation::Tle {
                    file: t.file,
                    satellites: n,
                },
                names,
                orbits,
                None,
            ))
        }
        _ => {
            let f: RawFormation = typed(value, "constellation")?;
            if f.count == 0 {
                return Err(bad("constellation.count", "must be ≥ 1 (got 0)"));
            }
            let alt = check_range("constellation.altitude_km", f.altitude_km, 100.0, 100_000.0)?;
            let inc = match f.inclination_deg {
                Some(i) => check_range("constellation.inclination_deg", i, 0.0, 180.0)?,
                None => sun_synchronous_inclination(alt * 1e3).ok_or_else(|| {
                    bad(
                        "constellation.inclination_deg",
                        format!("no sun-synchronous orbit at {alt} km: give one"),
                    )
                })?,
            };
            let raan = check_range("constellation.raan_deg", f.raan_deg, -360.0, 360.0)?;
            let spacing = check_positive("constellation.spacing_m", f.spacing_m.unwrap_or(100.0))?;
            let radius = check_positive("constellation.radius_m", f.radius_m.unwrap_or(1000.0))?;
            let lattice = Lattice {
                count: f.count,
                spacing_m: spacing,
                radius_m: radius,
            };
            if (radius / spacing).powi(2) > 4.0 * MAX_SATELLITES as f64 {
                return Err(bad("constellation.spacing_m", "too small for the radius"));
            }
            let reference = CircularOrbit::new(alt * 1e3, inc.to_radians(), raan.to_radians(), 0.0);
            let orbits = formation(reference, &lattice)
                .map_err(|e| bad("constellation.count", e.to_string()))?
                .into_iter()
                .map(|o| Arc::new(o) as Arc<dyn Orbit>)
                .collect();
            let names = (0..f.count).map(|i| format!("sat-{i}")).collect();
            let c = Constellation::Formation {
                altitude_m: alt * 1e3,
                inclination: inc.to_radians(),
                lattice,
            };
            Ok((c, names, orbits, None))
        }
    }
}

/// Inclination (degrees) whose J2 node drift matches the mean Sun's
/// 360°/365.2422 days, for a circular orbit at `altitude_m`.
pub fn sun_synchronous_inclination(altitude_m: f64) -> Option<f64> {
    let a = EARTH_RADIUS_M + altitude_m;
    let n = (MU_EARTH / a.powi(3)).sqrt();
    let rate = TAU / (365.2422 * 86_400.0);
    let cos_i = -rate / (1.5 * n * J2 * (EARTH_RADIUS_M / a).powi(2));
    (-1.0..=1.0)
        .contains(&cos_i)
        .then(|| cos_i.acos().to_degrees())
}

/// Element sets from CelesTrak-style text: 3-line (name, line 1, line 2) or
/// 2-line sets (named `norad-<catalog number>`), or OMM JSON (a list).
pub fn parse_element_sets(text: &str) -> Result<Vec<(String, sgp4::Elements)>, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let list: Vec<sgp4::Elements> = if trimmed.starts_with('[') {
            serde_json::from_str(trimmed).map_err(|e| format!("not valid OMM JSON: {e}"))?
        } else {
            vec![serde_json::from_str(trimmed).map_err(|e| format!("not valid OMM JSON: {e}"))?]
        };
        return Ok(list
            .into_iter()
            .map(|e| {
                let name = e
                    .object_name
                    .clone()
                    .unwrap_or_else(|| format!("norad-{}", e.norad_id));
                (name, e)
            })
            .collect());
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let is_line =
            |l: &str, n: char| l.len() >= 69 && l.starts_with(n) && l[1..].starts_with(' ');
        let (name, l1, l2) = if is_line(lines[i], '1') {
            (None, lines[i], lines.get(i + 1).copied())
        } else {
            let name = lines[i].trim();
            let name = name.strip_prefix("0 ").unwrap_or(name).trim().to_owned();
            (
                Some(name),
                lines.get(i + 1).copied().unwrap_or(""),
                lines.get(i + 2).copied(),
            )
        };
        let l2 = l2.ok_or_else(|| format!("line {}: element set cut short", i + 1))?;
        let at = if name.is_some() { i + 2 } else { i + 1 };
        let elements = sgp4::Elements::from_tle(name.clone(), l1.as_bytes(), l2.as_bytes())
            .map_err(|e| format!("element set at line {at}: {e}"))?;
        let name = name.unwrap_or_else(|| format!("norad-{}", elements.norad_id));
        out.push((name, elements));
        i = at + 1;
    }
    Ok(out)
}

fn build_links(raw: RawLinks, names: &[String], layout: Layout) -> Checked<(Pattern, LinkModel)> {
    let rate = check_positive("links.rate_gbps", raw.rate_gbps)?;
    if rate > 1e6 {
        return Err(bad(
            "links.rate_gbps",
            format!("must be ≤ 1e6 (got {rate})"),
        ));
    }
    let mtu = raw.mtu.unwrap_or(9000);
    if !(576..=65_535).contains(&mtu) {
        return Err(bad(
            "links.mtu",
            format!("must be in [576, 65535] (got {mtu})"),
        ));
    }
    let grazing = check_range(
        "links.grazing_km",
        raw.grazing_km.unwrap_or(80.0),
        0.0,
        10_000.0,
    )?;
    let max_range = match raw.max_range_km {
        None => f64::INFINITY,
        Some(r) => check_positive("links.max_range_km", r)?,
    };
    let acquisition = check_range(
        "links.acquisition_s",
        raw.acquisition_s.unwrap_or(0.0),
        0.0,
        86_400.0,
    )?;
    let ber = raw.ber.unwrap_or(0.0);
    if !(0.0..1.0).contains(&ber) {
        return Err(bad("links.ber", format!("must be in [0, 1) (got {ber})")));
    }
    let loss = raw.loss.unwrap_or(0.0);
    if !(0.0..1.0).contains(&loss) {
        return Err(bad("links.loss", format!("must be in [0, 1) (got {loss})")));
    }
    let terminals = raw.terminals.unwrap_or(4);
    if terminals == 0 {
        return Err(bad("links.terminals", "must be ≥ 1 (got 0)"));
    }
    let terminal_rate = BitsPerSecond::from_gbps(rate);
    // Default queue: 5 ms at the link rate, within [256 KiB, 64 MiB].
    let queue = raw
        .queue_bytes
        .unwrap_or_else(|| (terminal_rate.0 / 8 / 200).clamp(256 << 10, 64 << 20));
    if queue < u64::from(mtu) {
        return Err(bad(
            "links.queue_bytes",
            format!("must hold one MTU ({mtu}) (got {queue})"),
        ));
    }

    let default_pattern = if layout.is_some() {
        "plus-grid"
    } else {
        "nearest"
    };
    let pattern_name = raw.pattern.as_deref().unwrap_or(default_pattern);
    let only = |field: &str, present: bool, for_pattern: &str| -> Checked<()> {
        if present && pattern_name != for_pattern {
            Err(bad(
                format!("links.{field}"),
                format!("only for pattern = \"{for_pattern}\""),
            ))
        } else {
            Ok(())
        }
    };
    only("k", raw.k.is_some(), "nearest")?;
    only("pairs", raw.pairs.is_some(), "explicit")?;
    let pattern = match pattern_name {
        "plus-grid" => {
            let (planes, per_plane) = layout
                .ok_or_else(|| bad("links.pattern", "plus-grid needs a walker constellation"))?;
            Pattern::PlusGrid { planes, per_plane }
        }
        "nearest" => {
            let k = raw.k.unwrap_or(terminals);
            if k == 0 || k > terminals {
                return Err(bad(
                    "links.k",
                    format!("must be in [1, terminals = {terminals}] (got {k})"),
                ));
            }
            Pattern::Nearest { k }
        }
        "all" => {
            if names.len() > 5_000 {
                return Err(bad(
                    "links.pattern",
                    format!("\"all\" on {} satellites is too many pairs", names.len()),
                ));
            }
            Pattern::All
        }
        "explicit" => {
            let pairs = raw
                .pairs
                .ok_or_else(|| bad("links.pairs", "required for pattern = \"explicit\""))?;
            let find = |i: usize, n: &str| -> Checked<SatId> {
                names
                    .iter()
                    .position(|x| x == n)
                    .map(|p| SatId(p as u32))
                    .ok_or_else(|| {
                        bad(
                            format!("links.pairs[{i}]"),
                            format!("no satellite named {n:?}"),
                        )
                    })
            };
            let mut out = Vec::new();
            for (i, (a, b)) in pairs.iter().enumerate() {
                let (a, b) = (find(i, a)?, find(i, b)?);
                if a == b {
                    return Err(bad(
                        format!("links.pairs[{i}]"),
                        "a satellite cannot link to itself",
                    ));
                }
                out.push((a, b));
            }
            Pattern::Explicit(out)
        }
        other => {
            return Err(bad(
                "links.pattern",
                format!("must be one of: plus-grid, nearest, all, explicit (got {other:?})"),
            ));
        }
    };

    let model = raw.rate_model.as_deref().unwrap_or("fixed");
    let beam_fields =
        raw.aperture_cm.is_some() || raw.wavelength_nm.is_some() || raw.full_rate_km.is_some();
    let rate_model = match model {
        "fixed" => {
            if beam_fields {
                return Err(bad(
                    "links.rate_model",
                    "aperture_cm, wavelength_nm and full_rate_km need rate_model = \"gaussian\"",
                ));
            }
            RateModel::Fixed
        }
        "gaussian" => {
            let aperture =
                check_positive("links.aperture_cm", raw.aperture_cm.unwrap_or(10.0))? / 100.0;
            let wavelength =
                check_positive("links.wavelength_nm", raw.wavelength_nm.unwrap_or(1550.0))? * 1e-9;
            let w0 = aperture / 2.0;
            let zr = std::f64::consts::PI * w0 * w0 / wavelength;
            let full = match raw.full_rate_km {
                Some(km) => check_positive("links.full_rate_km", km)? * 1e3,
                None => zr,
            };
            RateModel::GaussianBeam {
                aperture: Meters(aperture),
                wavelength: Meters(wavelength),
                full_rate_range: Meters(full),
            }
        }
        other => {
            return Err(bad(
                "links.rate_model",
                format!("must be \"fixed\" or \"gaussian\" (got {other:?})"),
            ));
        }
    };

    let burst = match raw.burst {
        None => None,
        Some(b) => {
            let p = |f: &str, v: f64| check_range(&format!("links.burst.{f}"), v, 0.0, 1.0);
            Some(GilbertElliott {
                p_good_bad: p("p_good_bad", b.p_good_bad)?,
                p_bad_good: p("p_bad_good", b.p_bad_good)?,
                loss_good: p("loss_good", b.loss_good)?,
                loss_bad: p("loss_bad", b.loss_bad.unwrap_or(1.0))?,
            })
        }
    };

    let links = LinkModel {
        terminal_rate,
        rate_model,
        mtu: Bytes(u64::from(mtu)),
        ber,
        loss,
        burst,
        grazing: Meters::from_km(grazing),
        max_range: Meters::from_km(max_range),
        acquisition: SimDuration::from_secs_f64(acquisition),
        terminals,
        queue: Bytes(queue),
    };
    Ok((pattern, links))
}

fn build_workload(table: toml::Table, i: usize, world: &World) -> Checked<Workload> {
    let field = format!("workload[{i}]");
    // Only `ping` so far; `kind_of` has checked it.
    kind_of(&table, &field, &["ping"])?;
    let value = toml::Value::Table(table);
    let sat = |key: &str, name: &str| -> Checked<SatId> {
        world.find(name).ok_or_else(|| {
            bad(
                format!("{field}.{key}"),
                format!("no satellite named {name:?}"),
            )
        })
    };
    {
        {
            let p: RawPing = typed(value, &field)?;
            let from = sat("from", &p.from)?;
            let to = sat("to", &p.to)?;
            if from == to {
                return Err(bad(format!("{field}.to"), "must differ from `from`"));
            }
            let interval_ms = check_positive(
                &format!("{field}.interval_ms"),
                p.interval_ms.unwrap_or(1000.0),
            )?;
            let count = p.count.unwrap_or(10);
            if count == 0 {
                return Err(bad(format!("{field}.count"), "must be ≥ 1 (got 0)"));
            }
            let size = p.size.unwrap_or(56);
            if size > 60_000 {
                return Err(bad(
                    format!("{field}.size"),
                    format!("must be ≤ 60000 (got {size})"),
                ));
            }
            let start = check_range(
                &format!("{field}.start_s"),
                p.start_s.unwrap_or(0.0),
                0.0,
                1e9,
            )?;
            Ok(Workload::Ping(Ping {
                from,
                to,
                interval: SimDuration::from_secs_f64(interval_ms / 1e3),
                count,
                size,
                start: SimTime::from_secs_f64(start),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RING: &str = r#"
name = "ring-12"
epoch = "2026-01-01T00:00:00Z"
seed = 1
tdf = 1
duration_s = 30
[constellation]
kind = "walker"
planes = 1
per_plane = 12
altitude_km = 800
inclination_deg = 53
[links]
pattern = "plus-grid"
rate_gbps = 10
mtu = 9000
grazing_km = 80
max_range_km = 6000
acquisition_s = 0
ber = 1e-12
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-6"
interval_ms = 100
count = 50
"#;

    fn no_files(path: &str) -> Result<String, String> {
        Err(format!("no file {path}"))
    }

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, "x.toml", &mut no_files)
    }

    fn rejects(text: &str, field: &str, reason_part: &str) {
        match parse(text) {
            Ok(_) => panic!("accepted; expected {field}: {reason_part}"),
            Err(e) => {
                assert_eq!(e.file, "x.toml");
                assert_eq!(e.field, field, "{e}");
                assert!(e.reason.contains(reason_part), "{e}");
            }
        }
    }

    #[test]
    fn the_issue_example_parses() {
        let s = parse(RING).expect("valid");
        assert_eq!(s.name, "ring-12");
        assert_eq!(s.world.satellites(), 12);
        assert_eq!(s.world.candidates().len(), 12);
        assert_eq!(s.world.name(SatId(6)), "sat-6");
        assert_eq!(s.workloads.len(), 1);
    }

    #[test]
    fn negative_rate_names_the_field() {
        let e = parse(&RING.replace("rate_gbps = 10", "rate_gbps = -5")).expect_err("bad");
        assert_eq!(
            e.to_string(),
            "x.toml: links.rate_gbps: must be > 0 (got -5)"
        );
    }

    #[test]
    fn each_kind_of_bad_file_is_rejected() {
        rejects("name = ", "line 1, column 8", "not valid TOML");
        rejects(
            &RING.replace("mtu = 9000", "mtu = 9000\ncolour = 3"),
            "links.colour",
            "unknown field `colour`",
        );
        rejects(
            &RING.replace("seed = 1", "seed = \"one\""),
            "seed",
            "invalid type",
        );
        rejects(
            &RING.replace("kind = \"walker\"", "kind = \"spiral\""),
            "constellation.kind",
            "must be one of",
        );
        rejects(
            &RING.replace("per_plane = 12", "per_plane = 0"),
            "constellation.per_plane",
            "≥ 1",
        );
        rejects(
            &RING.replace("per_plane = 12\n", ""),
            "constellation",
            "missing field `per_plane`",
        );
        rejects(
            &RING.replace("inclination_deg = 53", "inclination_deg = 200"),
            "constellation.inclination_deg",
            "[0, 180]",
        );
        rejects(
            &RING.replace("altitude_km = 800", "altitude_km = -1"),
            "constellation.altitude_km",
            "",
        );
        rejects(&RING.replace("tdf = 1", "tdf = 0"), "tdf", "> 0");
        rejects(
            &RING.replace("duration_s = 30", "duration_s = -3"),
            "duration_s",
            "> 0",
        );
        rejects(
            &RING.replace("2026-01-01T00:00:00Z", "yesterday"),
            "epoch",
            "RFC 3339",
        );
        rejects(
            &RING.replace("mtu = 9000", "mtu = 100"),
            "links.mtu",
            "[576, 65535]",
        );
        rejects(
            &RING.replace("ber = 1e-12", "ber = 2"),
            "links.ber",
            "[0, 1)",
        );
        rejects(
            &RING.replace("\"plus-grid\"", "\"mesh\""),
            "links.pattern",
            "must be one of",
        );
        rejects(
            &RING.replace("to = \"sat-6\"", "to = \"sat-60\""),
            "workload[0].to",
            "no satellite named \"sat-60\"",
        );
        rejects(
            &RING.replace("count = 50", "count = 50\nfoo = 1"),
            "workload[0].foo",
            "unknown field `foo`",
        );
        rejects(
            &RING.replace("kind = \"ping\"", "kind = \"pong\""),
            "workload[0].kind",
            "must be one of",
        );
        rejects(
            &RING.replace("max_range_km = 6000", "max_range_km = 0"),
            "links.max_range_km",
            "> 0",
        );
        rejects(
            &RING.replace("pattern = \"plus-grid\"", "pattern = \"plus-grid\"\nk = 2"),
            "links.k",
            "only for",
        );
        rejects(
            &RING.replace("kind = \"walker\"", "kind = \"tle\"\nfile = \"none.tle\""),
            "constellation.altitude_km",
            "unknown field",
        );
        rejects(
            &RING.replace(
                "[links]",
                "[links]\nburst = { p_good_bad = 2, p_bad_good = 0.5 }",
            ),
            "links.burst.p_good_bad",
            "[0, 1]",
        );
        rejects(
            &RING.replace("name = \"ring-12\"", "name = \"\""),
            "name",
            "empty",
        );
        rejects(
            &RING.replace("name = \"ring-12\"\n", ""),
            "",
            "missing field `name`",
        );
    }

    #[test]
    fn a_missing_tle_file_names_the_field() {
        let text = RING.replace(
            "kind = \"walker\"\nplanes = 1\nper_plane = 12\naltitude_km = 800\ninclination_deg = 53",
            "kind = \"tle\"\nfile = \"gone.tle\"",
        ).replace("pattern = \"plus-grid\"", "pattern = \"all\"").replace("sat-0", "A").replace("sat-6", "B");
        rejects(&text, "constellation.file", "cannot read gone.tle");
    }

    #[test]
    fn garbage_never_panics() {
        // Every prefix of a valid file, and a few byte-level mutations of it.
        for end in 0..RING.len() {
            if RING.is_char_boundary(end) {
                let _ = parse(&RING[..end]);
            }
        }
        let bytes = RING.as_bytes();
        for i in (0..bytes.len()).step_by(3) {
            for b in [b'"', b'=', b'[', b'\n', b'-', b'9'] {
                let mut m = bytes.to_vec();
                m[i] = b;
                if let Ok(s) = std::str::from_utf8(&m) {
                    let _ = parse(s);
                }
            }
        }
    }

    #[test]
    fn sun_synchronous_inclination_at_650_km() {
        // About 97.98° for a circular orbit at 650 km.
        let i = sun_synchronous_inclination(650e3).expect("exists");
        assert!((i - 97.98).abs() < 0.05, "{i}");
    }
}
