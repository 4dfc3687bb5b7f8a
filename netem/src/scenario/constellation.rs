//! `[constellation]`: a Walker shell, a set of element sets (TLE or OMM),
//! or a formation, made into satellite names and orbits.

use std::f64::consts::TAU;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ReadFile;
use super::check::{Checked, bad, check_positive, check_range, kind_of, typed};
use super::elements::parse_element_sets;
use super::raw::{RawFormation, RawTle, RawWalker};
use crate::formation::{Lattice, formation};
use crate::geometry::EARTH_RADIUS_M;
use crate::orbit::{Body, CircularOrbit, J2, MU_EARTH, TleOrbit, WalkerShell, walker_shell};

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

crate::named! {
    /// The kinds of constellation a scenario may hold.
    pub enum ConstellationKind {
        Walker = "walker",
        Tle = "tle",
        Formation = "formation",
    }
}

impl Constellation {
    pub fn kind(&self) -> &'static str {
        match self {
            Constellation::Walker(_) => ConstellationKind::Walker.as_str(),
            Constellation::Tle { .. } => ConstellationKind::Tle.as_str(),
            Constellation::Formation { .. } => ConstellationKind::Formation.as_str(),
        }
    }
}

/// Planes and slots of a Walker shell, for `plus-grid`.
pub(crate) type Layout = Option<(u32, u32)>;

/// A constellation as built: what it was, names, orbits, layout.
pub(crate) type Built = (Constellation, Vec<String>, Vec<Body>, Layout);

/// Most satellites one scenario may hold.
const MAX_SATELLITES: u64 = 100_000;

/// One `[constellation]` table, written at `at` (`constellation`, or
/// `constellation[i]` when there are several), its satellites numbered
/// from `first` (walker and formation satellites are `sat-<first + i>`).
pub(crate) fn build(
    table: toml::Table,
    at: &str,
    first: u32,
    epoch: DateTime<Utc>,
    read: ReadFile<'_>,
) -> Checked<Built> {
    let kind = kind_of::<ConstellationKind>(&table, at)?;
    let value = toml::Value::Table(table);
    match kind {
        ConstellationKind::Walker => walker(typed(value, at)?, at, first),
        ConstellationKind::Tle => tle(typed(value, at)?, at, epoch, read),
        ConstellationKind::Formation => formation_of(typed(value, at)?, at, first),
    }
}

fn walker(w: RawWalker, at: &str, first: u32) -> Checked<Built> {
    if w.planes == 0 {
        return Err(bad(format!("{at}.planes"), "must be ≥ 1 (got 0)"));
    }
    if w.per_plane == 0 {
        return Err(bad(format!("{at}.per_plane"), "must be ≥ 1 (got 0)"));
    }
    let total = u64::from(w.planes) * u64::from(w.per_plane);
    if total > MAX_SATELLITES {
        return Err(bad(
            at,
            format!("{total} satellites; at most {MAX_SATELLITES}"),
        ));
    }
    if w.phasing >= w.planes {
        return Err(bad(
            format!("{at}.phasing"),
            format!("must be < planes ({}) (got {})", w.planes, w.phasing),
        ));
    }
    let alt = check_range(
        &format!("{at}.altitude_km"),
        w.altitude_km,
        100.0,
        100_000.0,
    )?;
    let inc = check_range(
        &format!("{at}.inclination_deg"),
        w.inclination_deg,
        0.0,
        180.0,
    )?;
    let spread = check_range(
        &format!("{at}.raan_spread_deg"),
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
        .map(Body::Circular)
        .collect();
    let names = (0..total)
        .map(|i| format!("sat-{}", u64::from(first) + i))
        .collect();
    Ok((
        Constellation::Walker(shell),
        names,
        orbits,
        Some((w.planes, w.per_plane)),
    ))
}

fn tle(t: RawTle, at: &str, epoch: DateTime<Utc>, read: ReadFile<'_>) -> Checked<Built> {
    let text = read(&t.file)
        .map_err(|e| bad(format!("{at}.file"), format!("cannot read {}: {e}", t.file)))?;
    let mut sets = parse_element_sets(&text)
        .map_err(|e| bad(format!("{at}.file"), format!("{}: {e}", t.file)))?;
    if let Some(p) = &t.names {
        let pattern = glob::Pattern::new(p)
            .map_err(|e| bad(format!("{at}.names"), format!("not a name pattern: {e}")))?;
        sets.retain(|(name, _)| pattern.matches(name));
        if sets.is_empty() {
            return Err(bad(
                format!("{at}.names"),
                format!("no satellite in {} matches {p:?}", t.file),
            ));
        }
    }
    if let Some(count) = t.count {
        if count == 0 || count as usize > sets.len() {
            return Err(bad(
                format!("{at}.count"),
                format!("must be in [1, {}] (got {count})", sets.len()),
            ));
        }
        sets.truncate(count as usize);
    }
    if sets.is_empty() {
        return Err(bad(
            format!("{at}.file"),
            format!("{}: no element sets", t.file),
        ));
    }
    let mut names = Vec::with_capacity(sets.len());
    let mut orbits: Vec<Body> = Vec::with_capacity(sets.len());
    let mut seen = std::collections::BTreeSet::new();
    for (name, elements) in &sets {
        if !seen.insert(name.clone()) {
            return Err(bad(
                format!("{at}.file"),
                format!("{}: satellite name {name:?} appears twice", t.file),
            ));
        }
        let orbit = TleOrbit::new(elements, epoch)
            .map_err(|e| bad(format!("{at}.file"), format!("{}: {name}: {e}", t.file)))?;
        names.push(name.clone());
        orbits.push(Body::Other(Arc::new(orbit)));
    }
    let n = names.len();
    let c = Constellation::Tle {
        file: t.file,
        satellites: n,
    };
    Ok((c, names, orbits, None))
}

fn formation_of(f: RawFormation, at: &str, first: u32) -> Checked<Built> {
    if f.count == 0 {
        return Err(bad(format!("{at}.count"), "must be ≥ 1 (got 0)"));
    }
    let alt = check_range(
        &format!("{at}.altitude_km"),
        f.altitude_km,
        100.0,
        100_000.0,
    )?;
    let inc = match f.inclination_deg {
        Some(i) => check_range(&format!("{at}.inclination_deg"), i, 0.0, 180.0)?,
        None => sun_synchronous_inclination(alt * 1e3).ok_or_else(|| {
            bad(
                format!("{at}.inclination_deg"),
                format!("no sun-synchronous orbit at {alt} km: give one"),
            )
        })?,
    };
    let raan = check_range(&format!("{at}.raan_deg"), f.raan_deg, -360.0, 360.0)?;
    let spacing = check_positive(&format!("{at}.spacing_m"), f.spacing_m.unwrap_or(100.0))?;
    let radius = check_positive(&format!("{at}.radius_m"), f.radius_m.unwrap_or(1000.0))?;
    let lattice = Lattice {
        count: f.count,
        spacing_m: spacing,
        radius_m: radius,
    };
    if (radius / spacing).powi(2) > 4.0 * MAX_SATELLITES as f64 {
        return Err(bad(format!("{at}.spacing_m"), "too small for the radius"));
    }
    let reference = CircularOrbit::new(alt * 1e3, inc.to_radians(), raan.to_radians(), 0.0);
    let orbits = formation(reference, &lattice)
        .map_err(|e| bad(format!("{at}.count"), e.to_string()))?
        .into_iter()
        .map(|o| Body::Other(Arc::new(o)))
        .collect();
    let names = (0..f.count).map(|i| format!("sat-{}", first + i)).collect();
    let c = Constellation::Formation {
        altitude_m: alt * 1e3,
        inclination: inc.to_radians(),
        lattice,
    };
    Ok((c, names, orbits, None))
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
