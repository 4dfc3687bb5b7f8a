//! The world from `[constellation]` (one table, or `[[constellation]]`
//! several: shells, element sets and formations side by side) and
//! `[links]`: each constellation's satellites numbered in file order, its
//! links by its own pattern and model (`[links]` with its
//! `[constellation.links]` overrides), and `[[links.between]]` joining two.

use std::ops::Range;

use chrono::{DateTime, Utc};

use super::ReadFile;
use super::check::{Checked, bad, check_positive, typed};
use super::constellation::{self, Constellation};
use super::links::{self, PatternName};
use super::raw::{RawBetween, RawLinks};
use crate::topology::Pattern;
use crate::units::Meters;
use crate::world::{LinkGroup, World};

/// One constellation of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Shell {
    /// Its `name`, or its kind when the scenario has one constellation
    /// (`constellation-<i>` among several).
    pub name: String,
    pub constellation: Constellation,
    /// Its satellites' indices.
    pub satellites: Range<u32>,
}

/// Most candidate pairs `[[links.between]]` may make (each satellite gets
/// a port per candidate).
const MAX_BETWEEN_PAIRS: usize = 250_000;

/// One constellation as read, before its links.
struct Part {
    at: String,
    shell: Shell,
    names: Vec<String>,
    orbits: Vec<crate::orbit::Body>,
    layout: constellation::Layout,
    links: Option<toml::Table>,
}

/// The constellations and the world they make.
pub(crate) fn build(
    raw: toml::Value,
    mut links: toml::Table,
    epoch: DateTime<Utc>,
    read: ReadFile<'_>,
) -> Checked<(Vec<Shell>, World)> {
    let between = links.remove("between");
    let parts = parts(raw, epoch, read)?;
    let mut groups = Vec::new();
    for p in &parts {
        groups.push(group(p, &links, read)?);
    }
    let mtu = groups[0].model.mtu;
    if let Some((p, g)) = parts.iter().zip(&groups).find(|(_, g)| g.model.mtu != mtu) {
        return Err(bad(
            format!("{}.links.mtu", p.at),
            format!(
                "must equal every constellation's ({} here, {} first): packets cross them",
                g.model.mtu.0, mtu.0
            ),
        ));
    }
    if let Some(b) = between {
        let raw: Vec<RawBetween> = typed(b, "links.between")?;
        let mut links = links;
        links.remove("file");
        let defaults = links::model(
            &typed::<RawLinks>(toml::Value::Table(links), "links")?,
            "links",
        )?;
        for (i, b) in raw.iter().enumerate() {
            groups.push(between_group(b, i, &parts, &defaults)?);
        }
    }
    let mut names = Vec::new();
    let mut orbits = Vec::new();
    let mut shells = Vec::new();
    for p in parts {
        names.extend(p.names);
        orbits.extend(p.orbits);
        shells.push(p.shell);
    }
    Ok((shells, World::new(names, orbits, groups)))
}

/// Every constellation, numbered in file order, names checked unique.
fn parts(raw: toml::Value, epoch: DateTime<Utc>, read: ReadFile<'_>) -> Checked<Vec<Part>> {
    let (tables, several) = match raw {
        toml::Value::Table(t) => (vec![t], false),
        toml::Value::Array(a) => {
            let mut tables = Vec::new();
            for (i, v) in a.into_iter().enumerate() {
                match v {
                    toml::Value::Table(t) => tables.push(t),
                    other => {
                        return Err(bad(
                            format!("constellation[{i}]"),
                            format!("must be a table (got {other})"),
                        ));
                    }
                }
            }
            (tables, true)
        }
        other => {
            return Err(bad(
                "constellation",
                format!("must be a table (got {other})"),
            ));
        }
    };
    if tables.is_empty() {
        return Err(bad("constellation", "names no constellation"));
    }
    let mut parts: Vec<Part> = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    let mut first = 0u32;
    for (i, table) in tables.into_iter().enumerate() {
        let at = if several {
            format!("constellation[{i}]")
        } else {
            "constellation".to_owned()
        };
        let p = part(table, at, i, several, first, epoch, read)?;
        for n in &p.names {
            if let Some(other) = seen.insert(n.clone(), p.at.clone()) {
                return Err(bad(
                    p.at.clone(),
                    format!("satellite name {n:?} is also in {other}"),
                ));
            }
        }
        if parts.iter().any(|q| q.shell.name == p.shell.name) {
            return Err(bad(
                format!("{}.name", p.at),
                format!("{:?} names two constellations", p.shell.name),
            ));
        }
        first = p.shell.satellites.end;
        parts.push(p);
    }
    Ok(parts)
}

/// One constellation, its satellites numbered from `first`.
fn part(
    mut table: toml::Table,
    at: String,
    i: usize,
    several: bool,
    first: u32,
    epoch: DateTime<Utc>,
    read: ReadFile<'_>,
) -> Checked<Part> {
    let name = match table.remove("name") {
        None => None,
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(other) => {
            return Err(bad(
                format!("{at}.name"),
                format!("must be a name (got {other})"),
            ));
        }
    };
    let links = match table.remove("links") {
        None => None,
        Some(toml::Value::Table(t)) => Some(t),
        Some(other) => {
            return Err(bad(
                format!("{at}.links"),
                format!("must be a table (got {other})"),
            ));
        }
    };
    let (constellation, names, orbits, layout) =
        constellation::build(table, &at, first, epoch, read)?;
    let end = first
        .checked_add(names.len() as u32)
        .ok_or_else(|| bad(at.clone(), "too many satellites"))?;
    let name = name.unwrap_or_else(|| {
        if several {
            format!("constellation-{i}")
        } else {
            constellation.kind().to_owned()
        }
    });
    Ok(Part {
        shell: Shell {
            name,
            constellation,
            satellites: first..end,
        },
        at,
        names,
        orbits,
        layout,
        links,
    })
}

/// A constellation's own links: `[links]` with its overrides.
fn group(p: &Part, defaults: &toml::Table, read: ReadFile<'_>) -> Checked<LinkGroup> {
    let (mut table, at) = match &p.links {
        None => (defaults.clone(), "links".to_owned()),
        Some(over) => {
            let mut t = defaults.clone();
            t.extend(over.clone());
            (t, format!("{}.links", p.at))
        }
    };
    if let Some(file) = table.remove("file") {
        let pairs = pairs_file(file, &at, &p.names, read)?;
        if table.contains_key("pairs") {
            return Err(bad(
                format!("{at}.file"),
                "give `pairs` or `file`, not both",
            ));
        }
        if table.get("pattern").and_then(toml::Value::as_str) != Some("explicit") {
            return Err(bad(format!("{at}.file"), "only for pattern = \"explicit\""));
        }
        table.insert("pairs".into(), pairs);
    }
    let raw: RawLinks = typed(toml::Value::Table(table), &at)?;
    let (pattern, model) = links::build(&raw, &at, &p.names, p.layout)?;
    Ok(LinkGroup {
        pattern,
        a: p.shell.satellites.clone(),
        b: None,
        model,
    })
}

/// `file = "isls.txt"`: pairs of satellite indices (counted from 0 in
/// this constellation), one pair a line, as Hypatia writes them; as the
/// `pairs` of names they stand for.
fn pairs_file(
    file: toml::Value,
    at: &str,
    names: &[String],
    read: ReadFile<'_>,
) -> Checked<toml::Value> {
    let field = format!("{at}.file");
    let toml::Value::String(path) = file else {
        return Err(bad(field, format!("must be a file name (got {file})")));
    };
    let text = read(&path).map_err(|e| bad(&field, e))?;
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let index = |s: &str| s.parse::<usize>().ok().filter(|&i| i < names.len());
        let (Some(a), Some(b), 2) = (
            fields.first().and_then(|s| index(s)),
            fields.get(1).and_then(|s| index(s)),
            fields.len(),
        ) else {
            return Err(bad(
                field,
                format!(
                    "{path} line {}: must be two satellite indices in [0, {}) (got {line:?})",
                    n + 1,
                    names.len()
                ),
            ));
        };
        pairs.push(toml::Value::Array(vec![
            toml::Value::String(names[a].clone()),
            toml::Value::String(names[b].clone()),
        ]));
    }
    Ok(toml::Value::Array(pairs))
}

/// `[[links.between]]` number `i`.
fn between_group(
    b: &RawBetween,
    i: usize,
    parts: &[Part],
    defaults: &crate::link::LinkModel,
) -> Checked<LinkGroup> {
    let at = format!("links.between[{i}]");
    let find = |key: &str, name: &str| {
        parts
            .iter()
            .find(|p| p.shell.name == name)
            .map(|p| p.shell.satellites.clone())
            .ok_or_else(|| {
                bad(
                    format!("{at}.{key}"),
                    format!("no constellation named {name:?}"),
                )
            })
    };
    let (ra, rb) = (find("a", &b.a)?, find("b", &b.b)?);
    if ra == rb {
        return Err(bad(format!("{at}.b"), "must differ from `a`"));
    }
    if b.pattern.is_some_and(|p| p != PatternName::Nearest) {
        return Err(bad(
            format!("{at}.pattern"),
            "only \"nearest\" joins two constellations",
        ));
    }
    let pairs = ra.len() * rb.len();
    if pairs > MAX_BETWEEN_PAIRS {
        return Err(bad(
            at,
            format!(
                "{pairs} candidate pairs; at most {MAX_BETWEEN_PAIRS} (join smaller constellations)"
            ),
        ));
    }
    let k = b.k.unwrap_or(1);
    if k == 0 {
        return Err(bad(format!("{at}.k"), "must be ≥ 1 (got 0)"));
    }
    let mut model = defaults.clone();
    model.terminals = k;
    if let Some(r) = b.max_range_km {
        model.max_range = Meters::from_km(check_positive(&format!("{at}.max_range_km"), r)?);
    }
    Ok(LinkGroup {
        pattern: Pattern::Nearest { k },
        a: ra,
        b: Some(rb),
        model,
    })
}
