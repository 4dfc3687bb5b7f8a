//! `kind = "offload"`: a dataset sent up from a ground station to compute
//! satellites, and the results sent down to a ground station.
//!
//! ```toml
//! [[workload]]
//! kind = "offload"
//! from = "redmond"            # a ground station (its id or its name)
//! to = ["sat-0", "sat-1"]     # one compute satellite or a list (split evenly)
//! down = "hawaii"             # the station the results come down to (default: `from`)
//! bytes = 500_000_000         # dataset
//! flops = 3.7e17              # the whole job, on the [accelerator] model
//! result_bytes = 250_000_000
//! transport = "tcp"           # or "quic" (default), with `cc` as for bulk
//! ```

use serde::Deserialize;

use super::check::{Checked, bad, check_range, start_and_timeout};
use super::workloads::{Context, transport};
use crate::units::SatId;
use crate::workload::offload::{MAX_PARTS, Offload};
use crate::workload::{Cc, Transport};

/// An offload as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOffload {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    from: String,
    /// A satellite's name, or a list of them.
    to: toml::Value,
    down: Option<String>,
    bytes: u64,
    flops: f64,
    result_bytes: u64,
    transport: Option<Transport>,
    cc: Option<Cc>,
    start_s: Option<f64>,
    timeout_s: Option<f64>,
}

/// Largest job, FLOPs: a million H100s for a year is 3e28.
const MAX_FLOPS: f64 = 1e30;

/// Builds the offload of table `field`.
pub(super) fn build(o: RawOffload, field: &str, cx: &Context<'_>) -> Checked<Offload> {
    let from = station(cx, &format!("{field}.from"), &o.from)?;
    let to = satellites(cx, &format!("{field}.to"), &o.to)?;
    let down = match &o.down {
        Some(d) => station(cx, &format!("{field}.down"), d)?,
        None => from,
    };
    let n = to.len() as u64;
    for (key, v) in [("bytes", o.bytes), ("result_bytes", o.result_bytes)] {
        if v < n {
            let why = if n == 1 {
                format!("must be ≥ 1 (got {v})")
            } else {
                format!("must be ≥ 1 for each of the {n} compute satellites (got {v})")
            };
            return Err(bad(format!("{field}.{key}"), why));
        }
    }
    let flops = check_range(&format!("{field}.flops"), o.flops, 1.0, MAX_FLOPS)?;
    let transport = transport(field, o.transport, cx.world)?;
    let cc = o.cc.unwrap_or(Cc::Cubic);
    if cc == Cc::Bbr && transport == Transport::Tcp {
        return Err(bad(
            format!("{field}.cc"),
            "\"bbr\" is for QUIC; TCP offers cubic and newreno",
        ));
    }
    let (start, timeout) = start_and_timeout(field, o.start_s, o.timeout_s)?;
    Ok(Offload {
        from,
        to,
        down,
        bytes: o.bytes,
        flops,
        result_bytes: o.result_bytes,
        transport,
        cc,
        start,
        timeout,
    })
}

/// The ground station named `name` (its id or its name) for field `f`.
fn station(cx: &Context<'_>, f: &str, name: &str) -> Checked<SatId> {
    let world = cx.world;
    match world.find(name) {
        Some(id) if world.station_of(id).is_some() => Ok(id),
        Some(_) => Err(bad(
            f,
            format!(
                "{name:?} is a satellite; data goes up from and comes down to a ground station"
            ),
        )),
        None if world.ground().is_none() => Err(bad(
            f,
            format!(
                "no ground station named {name:?}: the scenario has no [ground] or [[ground_station]]"
            ),
        )),
        None => Err(bad(f, format!("no ground station named {name:?}"))),
    }
}

/// The compute satellites of field `f`: one name, or a list of them.
fn satellites(cx: &Context<'_>, f: &str, value: &toml::Value) -> Checked<Vec<SatId>> {
    let names: Vec<(String, &toml::Value)> = match value {
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{f}[{i}]"), v))
            .collect(),
        v => vec![(f.to_owned(), v)],
    };
    if names.is_empty() {
        return Err(bad(f, "must name at least one satellite"));
    }
    if names.len() > MAX_PARTS {
        return Err(bad(
            f,
            format!(
                "at most {MAX_PARTS} compute satellites (got {})",
                names.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(names.len());
    for (at, v) in names {
        let Some(name) = v.as_str() else {
            return Err(bad(at, format!("must be a satellite name (got {v})")));
        };
        let id = match cx.world.find(name) {
            Some(id) if cx.world.station_of(id).is_none() => id,
            Some(_) => {
                return Err(bad(
                    at,
                    format!("{name:?} is a ground station; compute runs on satellites"),
                ));
            }
            None => return Err(bad(at, format!("no satellite named {name:?}"))),
        };
        if out.contains(&id) {
            return Err(bad(at, format!("{name:?} is listed twice")));
        }
        out.push(id);
    }
    Ok(out)
}
