//! `[[fault]]`: link cuts, partitions, loss bursts, and satellites that
//! crash and restart, on a schedule.

use super::check::{Checked, bad, check_positive, check_range};
use super::raw::RawFault;
use crate::fault::{Fault, FaultKind};
use crate::units::{SatId, SimTime};
use crate::world::World;

crate::named! {
    /// The kinds of fault `[[fault]]` names.
    pub enum FaultName {
        LinkDown = "link-down",
        Partition = "partition",
        LossBurst = "loss-burst",
        SatelliteCrash = "satellite-crash",
        SatelliteRestart = "satellite-restart",
    }
}

/// Every `[[fault]]`, restarts folded into the crashes they end.
pub(crate) fn build_all(raw: Vec<RawFault>, world: &World) -> Checked<Vec<Fault>> {
    let mut faults = Vec::new();
    // Which [[fault]] each fault came from, for errors.
    let mut origin = Vec::new();
    for (i, f) in raw.into_iter().enumerate() {
        match build(f, i, world)? {
            Built::Fault(f) => {
                faults.push(f);
                origin.push(i);
            }
            Built::Restart { sat, at } => restart(&mut faults, sat, at, i, world)?,
        }
    }
    no_overlapping_crashes(&faults, &origin, world)?;
    Ok(faults)
}

/// A `[[fault]]` as built: a fault, or the restart that ends a crash.
enum Built {
    Fault(Fault),
    Restart { sat: SatId, at: SimTime },
}

/// Ends the crash of `sat` that is under way at `at` (fault `i` restarts it).
fn restart(faults: &mut [Fault], sat: SatId, at: SimTime, i: usize, world: &World) -> Checked<()> {
    let crash = faults
        .iter_mut()
        .filter(|f| f.kind == FaultKind::Crash { sat } && f.at < at)
        .filter(|f| f.until.is_none_or(|u| u > at))
        .max_by_key(|f| f.at);
    match crash {
        Some(c) => {
            c.until = Some(at);
            Ok(())
        }
        None => Err(bad(
            format!("fault[{i}].a"),
            format!(
                "{} has no crash under way at {} s to restart from (list the crash first)",
                world.name(sat),
                at.as_secs_f64()
            ),
        )),
    }
}

/// A satellite cannot crash again while it is down.
fn no_overlapping_crashes(faults: &[Fault], origin: &[usize], world: &World) -> Checked<()> {
    let mut crashes: Vec<(SatId, SimTime, Option<SimTime>, usize)> = faults
        .iter()
        .zip(origin)
        .filter_map(|(f, &i)| match f.kind {
            FaultKind::Crash { sat } => Some((sat, f.at, f.until, i)),
            _ => None,
        })
        .collect();
    crashes.sort_by_key(|c| (c.0, c.1));
    for w in crashes.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a.0 == b.0 && a.2.is_none_or(|until| until > b.1) {
            return Err(bad(
                format!("fault[{}].at_s", b.3),
                format!(
                    "{} is still down from the crash at {} s (fault[{}])",
                    world.name(b.0),
                    a.1.as_secs_f64(),
                    a.3
                ),
            ));
        }
    }
    Ok(())
}

/// The satellites a fault's `a` or `b` names.
struct Names<'a> {
    field: String,
    world: &'a World,
}

impl Names<'_> {
    /// A satellite name or a list of them.
    fn group(&self, key: &str, v: &Option<toml::Value>) -> Checked<Vec<SatId>> {
        let f = format!("{}.{key}", self.field);
        let names: Vec<&str> = match v {
            None => return Err(bad(f, "missing")),
            Some(toml::Value::String(s)) => vec![s.as_str()],
            Some(toml::Value::Array(a)) => a.iter().filter_map(|x| x.as_str()).collect(),
            Some(other) => {
                return Err(bad(
                    f,
                    format!("must be a satellite name or a list of them (got {other})"),
                ));
            }
        };
        if names.is_empty() {
            return Err(bad(f, "names no satellite"));
        }
        names
            .into_iter()
            .map(|n| {
                self.world
                    .find(n)
                    .ok_or_else(|| bad(f.clone(), format!("no satellite named {n:?}")))
            })
            .collect()
    }

    /// Exactly one satellite.
    fn one(&self, key: &str, v: &Option<toml::Value>) -> Checked<SatId> {
        match self.group(key, v)?.as_slice() {
            [s] => Ok(*s),
            _ => Err(bad(
                format!("{}.{key}", self.field),
                "must name one satellite",
            )),
        }
    }
}

/// One `[[fault]]`.
fn build(f: RawFault, i: usize, world: &World) -> Checked<Built> {
    let field = format!("fault[{i}]");
    let at = check_range(&format!("{field}.at_s"), f.at_s, 0.0, 1e9)?;
    let until = match f.for_s {
        None => None,
        Some(d) => Some(at + check_positive(&format!("{field}.for_s"), d)?),
    };
    let n = Names {
        field: field.clone(),
        world,
    };
    let kind = match f.kind {
        FaultName::LinkDown => FaultKind::LinkDown {
            a: n.one("a", &f.a)?,
            b: n.one("b", &f.b)?,
        },
        FaultName::Partition => FaultKind::Partition {
            a: n.group("a", &f.a)?,
            b: n.group("b", &f.b)?,
        },
        FaultName::LossBurst => FaultKind::LossBurst {
            a: n.one("a", &f.a)?,
            b: n.one("b", &f.b)?,
            loss: check_range(&format!("{field}.loss"), f.loss.unwrap_or(1.0), 0.0, 1.0)?,
        },
        FaultName::SatelliteCrash => FaultKind::Crash {
            sat: n.one("a", &f.a)?,
        },
        FaultName::SatelliteRestart => {
            if f.for_s.is_some() {
                return Err(bad(
                    format!("{field}.for_s"),
                    "a restart is an instant (give the crash a for_s instead)",
                ));
            }
            return Ok(Built::Restart {
                sat: n.one("a", &f.a)?,
                at: SimTime::from_secs_f64(at),
            });
        }
    };
    Ok(Built::Fault(Fault {
        at: SimTime::from_secs_f64(at),
        until: until.map(SimTime::from_secs_f64),
        kind,
    }))
}
