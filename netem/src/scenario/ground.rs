//! `[ground]` and `[[ground_station]]`: ground stations and how they link
//! to satellites. `[ground]` gives the defaults (and `stations`, a file of
//! stations); each `[[ground_station]]` may override any of them.
//!
//! A stations file is either CSV with a header naming `name`, `lat_deg`,
//! `lon_deg` and `alt_m` (any order, `alt_m` optional), or Hypatia's
//! `ground_stations.txt`: `id,name,latitude,longitude,elevation` lines,
//! optionally followed by the Cartesian `x,y,z` Hypatia adds (ignored: the
//! position follows from the geodetic columns), the elevation in metres
//! (Kassing et al., "Exploring the 'Internet from space' with Hypatia",
//! IMC 2020, its `satgen` ground-station format).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::ReadFile;
use super::check::{Checked, bad, check_positive, check_range, typed};
use crate::ground::earth::Geodetic;
use crate::ground::look::Mask;
use crate::ground::segment::{
    GroundSegment, GroundStation, GslKind, Handover, Policy, Rain, StationLinks,
};
use crate::ground::weather::Climate;
use crate::link::{LinkModel, RateModel};
use crate::units::{BitsPerSecond, Bytes, Meters, SimDuration};
use crate::world::World;

/// The keys `[ground]` and a `[[ground_station]]` share.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroundLinks {
    min_elevation_deg: Option<f64>,
    policy: Option<Policy>,
    handover: Option<Handover>,
    handover_s: Option<f64>,
    handover_interval_s: Option<f64>,
    kind: Option<GslKind>,
    rate_gbps: Option<f64>,
    max_range_km: Option<f64>,
    terminals: Option<u32>,
    relay: Option<bool>,
    loss: Option<f64>,
    queue_bytes: Option<u64>,
    cloud_free: Option<f64>,
    cloud_mean_s: Option<f64>,
    rain_free: Option<f64>,
    rain_mean_s: Option<f64>,
    rain_loss: Option<f64>,
}

impl RawGroundLinks {
    /// `self` with `over`'s keys in place of its own.
    fn merged(&self, over: &RawGroundLinks) -> RawGroundLinks {
        macro_rules! pick {
            ($($f:ident),*) => {
                RawGroundLinks { $($f: over.$f.or(self.$f)),* }
            };
        }
        pick!(
            min_elevation_deg,
            policy,
            handover,
            handover_s,
            handover_interval_s,
            kind,
            rate_gbps,
            max_range_km,
            terminals,
            relay,
            loss,
            queue_bytes,
            cloud_free,
            cloud_mean_s,
            rain_free,
            rain_mean_s,
            rain_loss
        )
    }
}

/// `[ground]`'s own keys (the rest are [`RawGroundLinks`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGround {
    stations: Option<String>,
    satellite_terminals: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    lat_deg: f64,
    lon_deg: f64,
    #[serde(default)]
    alt_m: f64,
}

/// A `[[ground_station]]`'s own keys (the rest are [`RawGroundLinks`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    name: String,
    lat_deg: f64,
    lon_deg: f64,
    #[serde(default)]
    alt_m: f64,
    #[serde(default)]
    sites: Vec<RawSite>,
}

/// Table `value` typed in two parts: its keys among `own` as `O`, the rest
/// as the link settings.
fn split<O: serde::de::DeserializeOwned>(
    value: toml::Value,
    at: &str,
    own: &[&str],
) -> Checked<(O, RawGroundLinks)> {
    let toml::Value::Table(mut rest) = value else {
        return Err(bad(at, format!("must be a table (got {value})")));
    };
    let mine: toml::Table = own
        .iter()
        .filter_map(|&k| rest.remove(k).map(|v| (k.to_owned(), v)))
        .collect();
    Ok((
        typed(toml::Value::Table(mine), at)?,
        typed(toml::Value::Table(rest), at)?,
    ))
}

/// What the scenario says of the ground, and what it needs to build it.
pub(crate) struct GroundInput<'a> {
    pub(crate) ground: Option<toml::Value>,
    pub(crate) stations: Vec<toml::Value>,
    pub(crate) epoch: DateTime<Utc>,
    pub(crate) seed: u64,
    pub(crate) read: ReadFile<'a>,
}

/// `world` with the scenario's ground stations (unchanged without any).
pub(crate) fn build(input: GroundInput<'_>, world: World) -> Checked<World> {
    let ground: Option<(RawGround, RawGroundLinks)> = input
        .ground
        .map(|g| split(g, "ground", &["stations", "satellite_terminals"]))
        .transpose()?;
    let mut stations = Vec::new();
    let defaults = ground
        .as_ref()
        .map(|(_, links)| links.clone())
        .unwrap_or_default();
    let ground = ground.map(|(g, _)| g);
    if ground.is_some() {
        // The defaults on their own, so that a fault in them is named there.
        links(&defaults, "ground", world.link_model())?;
    }
    if let Some(file) = ground.as_ref().and_then(|g| g.stations.as_deref()) {
        let text = (input.read)(file).map_err(|e| bad("ground.stations", e))?;
        for (line, name, site) in parse_stations(&text, file)? {
            let at = format!("ground.stations: {file} line {line}");
            stations.push(station(name, vec![site], &defaults, &at, &world)?);
        }
    }
    for (i, value) in input.stations.into_iter().enumerate() {
        let at = format!("ground_station[{i}]");
        let (raw, over): (RawStation, RawGroundLinks) = split(
            value,
            &at,
            &["name", "lat_deg", "lon_deg", "alt_m", "sites"],
        )?;
        let mut sites = vec![geodetic(raw.lat_deg, raw.lon_deg, raw.alt_m, &at)?];
        for (j, s) in raw.sites.iter().enumerate() {
            let at = format!("{at}.sites[{j}]");
            sites.push(geodetic(s.lat_deg, s.lon_deg, s.alt_m, &at)?);
        }
        let links = defaults.merged(&over);
        stations.push(station(raw.name, sites, &links, &at, &world)?);
    }
    if stations.is_empty() {
        if ground.is_some() {
            return Err(bad(
                "ground",
                "names no station (give `stations` or [[ground_station]] entries)",
            ));
        }
        return Ok(world);
    }
    unique_labels(&stations)?;
    let satellite_terminals = ground
        .as_ref()
        .and_then(|g| g.satellite_terminals)
        .unwrap_or(1);
    if satellite_terminals == 0 {
        return Err(bad("ground.satellite_terminals", "must be ≥ 1 (got 0)"));
    }
    let segment = GroundSegment::new(stations, satellite_terminals, input.epoch, input.seed);
    Ok(world.add_ground(segment))
}

fn geodetic(lat: f64, lon: f64, alt: f64, at: &str) -> Checked<Geodetic> {
    Geodetic::new(lat, lon, alt).map_err(|e| bad(at, e.to_string()))
}

/// One station, its name checked against the satellites'.
fn station(
    label: String,
    sites: Vec<Geodetic>,
    raw: &RawGroundLinks,
    at: &str,
    world: &World,
) -> Checked<GroundStation> {
    let label = label.trim().to_owned();
    if label.is_empty() {
        return Err(bad(format!("{at}.name"), "must not be empty"));
    }
    if world.find(&label).is_some() || label.starts_with("gs-") {
        return Err(bad(
            format!("{at}.name"),
            format!("{label:?} is a satellite's name or a node id (gs-<k> are the stations' ids)"),
        ));
    }
    Ok(GroundStation {
        label,
        sites,
        links: links(raw, at, world.link_model())?,
    })
}

/// Two stations may not share a name.
fn unique_labels(stations: &[GroundStation]) -> Checked<()> {
    let mut seen = std::collections::BTreeSet::new();
    for s in stations {
        if !seen.insert(s.label.as_str()) {
            return Err(bad(
                "ground_station",
                format!("two stations are named {:?}", s.label),
            ));
        }
    }
    Ok(())
}

/// A station's link settings from its keys (`at` names it in errors).
fn links(raw: &RawGroundLinks, at: &str, isl: &LinkModel) -> Checked<StationLinks> {
    let f = |k: &str| format!("{at}.{k}");
    let elevation = check_range(
        &f("min_elevation_deg"),
        raw.min_elevation_deg.unwrap_or(25.0),
        -90.0,
        90.0,
    )?;
    let range = raw
        .max_range_km
        .map(|r| check_positive(&f("max_range_km"), r).map(Meters::from_km))
        .transpose()?;
    let mask =
        Mask::new(elevation, range).map_err(|e| bad(f("min_elevation_deg"), e.to_string()))?;
    let handover_s = check_range(&f("handover_s"), raw.handover_s.unwrap_or(0.0), 0.0, 3600.0)?;
    let schedule = raw
        .handover_interval_s
        .map(|s| check_positive(&f("handover_interval_s"), s).map(SimDuration::from_secs_f64))
        .transpose()?;
    let terminals = raw.terminals.unwrap_or(1);
    if terminals == 0 {
        return Err(bad(f("terminals"), "must be ≥ 1 (got 0)"));
    }
    let kind = raw.kind.unwrap_or(GslKind::Rf);
    let rate = check_positive(&f("rate_gbps"), raw.rate_gbps.unwrap_or(10.0))?;
    let terminal_rate = BitsPerSecond::from_gbps(rate);
    let model = LinkModel {
        terminal_rate,
        rate_model: RateModel::Fixed,
        mtu: isl.mtu,
        ber: 0.0,
        loss: check_range(&f("loss"), raw.loss.unwrap_or(0.0), 0.0, 1.0)?,
        burst: None,
        grazing: Meters(0.0),
        max_range: range.unwrap_or(Meters(f64::INFINITY)),
        acquisition: SimDuration::ZERO,
        terminals,
        queue: Bytes(
            raw.queue_bytes
                .unwrap_or_else(|| (terminal_rate.0 / 8 / 20).clamp(1 << 20, 256 << 20)),
        ),
    };
    if model.queue.0 < isl.mtu.0 {
        return Err(bad(f("queue_bytes"), "must hold one MTU"));
    }
    Ok(StationLinks {
        mask,
        policy: raw.policy.unwrap_or(Policy::Nearest),
        handover: raw.handover.unwrap_or(Handover::BreakBeforeMake),
        handover_time: SimDuration::from_secs_f64(handover_s),
        schedule,
        kind,
        terminals,
        relay: raw.relay.unwrap_or(false),
        clouds: weather(raw.cloud_free, raw.cloud_mean_s, "cloud", at)?,
        rain: rain(raw, at)?,
        model,
    })
}

/// A two-state weather process from its long-run clear fraction and mean
/// blocked spell (`<what>_free`, `<what>_mean_s`); none when it is always
/// clear.
fn weather(
    free: Option<f64>,
    mean_s: Option<f64>,
    what: &str,
    at: &str,
) -> Checked<Option<Climate>> {
    let free_key = format!("{at}.{what}_free");
    let p = check_range(&free_key, free.unwrap_or(1.0), 0.0, 1.0)?;
    if p >= 1.0 {
        return Ok(None);
    }
    let mean_key = format!("{at}.{what}_mean_s");
    let mean = mean_s.ok_or_else(|| {
        bad(
            &mean_key,
            format!("required with {what}_free < 1 (the mean length of a spell, seconds)"),
        )
    })?;
    let mean = check_positive(&mean_key, mean)?;
    Climate::new(p, mean)
        .map(Some)
        .map_err(|e| bad(free_key, e.to_string()))
}

fn rain(raw: &RawGroundLinks, at: &str) -> Checked<Option<Rain>> {
    let Some(loss) = raw.rain_loss else {
        return Ok(None);
    };
    let loss = check_range(&format!("{at}.rain_loss"), loss, 0.0, 1.0)?;
    if raw.rain_free.is_none() {
        return Err(bad(
            format!("{at}.rain_free"),
            "required with rain_loss (the long-run fraction of time without rain)",
        ));
    }
    Ok(weather(raw.rain_free, raw.rain_mean_s, "rain", at)?.map(|climate| Rain { climate, loss }))
}

/// The stations of a file: (line, name, site) each.
fn parse_stations(text: &str, file: &str) -> Checked<Vec<(usize, String, Geodetic)>> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let Some(&(_, first)) = lines.first() else {
        return Err(bad("ground.stations", format!("{file}: holds no station")));
    };
    let header: Vec<&str> = first.split(',').map(str::trim).collect();
    if header.contains(&"name") {
        csv_stations(&header, &lines[1..], file)
    } else {
        lines
            .iter()
            .map(|&(n, l)| hypatia_station(n, l, file))
            .collect()
    }
}

fn line_error(file: &str, line: usize, reason: impl std::fmt::Display) -> super::check::Bad {
    bad("ground.stations", format!("{file} line {line}: {reason}"))
}

fn number(file: &str, line: usize, column: &str, v: &str) -> Checked<f64> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| line_error(file, line, format!("{column} must be a number (got {v:?})")))
}

/// CSV with a header naming the columns.
fn csv_stations(
    header: &[&str],
    lines: &[(usize, &str)],
    file: &str,
) -> Checked<Vec<(usize, String, Geodetic)>> {
    let column = |name: &str| header.iter().position(|h| *h == name);
    let (Some(name), Some(lat), Some(lon)) = (column("name"), column("lat_deg"), column("lon_deg"))
    else {
        return Err(line_error(
            file,
            1,
            "the header must name the columns name, lat_deg, lon_deg (and alt_m)",
        ));
    };
    let alt = column("alt_m");
    let mut out = Vec::new();
    for &(n, l) in lines {
        let fields: Vec<&str> = l.split(',').map(str::trim).collect();
        if fields.len() != header.len() {
            return Err(line_error(
                file,
                n,
                format!("{} fields, the header has {}", fields.len(), header.len()),
            ));
        }
        let site = Geodetic::new(
            number(file, n, "lat_deg", fields[lat])?,
            number(file, n, "lon_deg", fields[lon])?,
            alt.map_or(Ok(0.0), |a| number(file, n, "alt_m", fields[a]))?,
        )
        .map_err(|e| line_error(file, n, e))?;
        out.push((n, fields[name].to_owned(), site));
    }
    Ok(out)
}

/// A line of Hypatia's `ground_stations.txt`.
fn hypatia_station(n: usize, line: &str, file: &str) -> Checked<(usize, String, Geodetic)> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != 5 && fields.len() != 8 {
        return Err(line_error(
            file,
            n,
            format!(
                "{} fields; Hypatia's format has 5 (id,name,latitude,longitude,elevation) or 8 (with x,y,z)",
                fields.len()
            ),
        ));
    }
    let site = Geodetic::new(
        number(file, n, "latitude", fields[2])?,
        number(file, n, "longitude", fields[3])?,
        number(file, n, "elevation", fields[4])?,
    )
    .map_err(|e| line_error(file, n, e))?;
    Ok((n, fields[1].to_owned(), site))
}
