//! Checking a scenario's fields: a complaint names the field and the
//! reason; [`crate::scenario::Scenario::parse`] adds the file.

use serde::de::DeserializeOwned;

use crate::names::Named;
use crate::units::{SimDuration, SimTime};

/// A field-level complaint, before the file name is attached.
#[derive(Debug)]
pub(crate) struct Bad {
    pub(crate) field: String,
    pub(crate) reason: String,
}

pub(crate) fn bad(field: impl Into<String>, reason: impl Into<String>) -> Bad {
    Bad {
        field: field.into(),
        reason: reason.into(),
    }
}

pub(crate) type Checked<T> = Result<T, Bad>;

pub(crate) fn positive_duration(seconds: f64) -> Option<SimDuration> {
    (seconds.is_finite() && seconds > 0.0).then(|| SimDuration::from_secs_f64(seconds))
}

/// Deserializes `value` into `T`, naming the field that failed under `prefix`.
pub(crate) fn typed<T: DeserializeOwned>(value: toml::Value, prefix: &str) -> Checked<T> {
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

/// "line L, column C" of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {col}")
}

/// The `kind` of table `field` (a constellation, a workload).
pub(crate) fn kind_of<K: Named>(table: &toml::Table, field: &str) -> Checked<K> {
    let f = format!("{field}.kind");
    match table.get("kind") {
        None => Err(bad(f, format!("missing (one of: {})", K::one_of()))),
        Some(toml::Value::String(k)) => K::from_name(k).ok_or_else(|| bad(f, K::unknown(k))),
        Some(other) => Err(bad(
            f,
            format!("must be one of: {} (got {other})", K::one_of()),
        )),
    }
}

pub(crate) fn check_range(field: &str, v: f64, lo: f64, hi: f64) -> Checked<f64> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(bad(field, format!("must be in [{lo}, {hi}] (got {v})")))
    }
}

pub(crate) fn check_positive(field: &str, v: f64) -> Checked<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(field, format!("must be > 0 (got {v})")))
    }
}

/// `start_s` (default 0) and `timeout_s` (default none) of table `field`.
pub(crate) fn start_and_timeout(
    field: &str,
    start_s: Option<f64>,
    timeout_s: Option<f64>,
) -> Checked<(SimTime, Option<SimDuration>)> {
    let start = check_range(
        &format!("{field}.start_s"),
        start_s.unwrap_or(0.0),
        0.0,
        1e9,
    )?;
    let timeout = match timeout_s {
        None => None,
        Some(t) => Some(SimDuration::from_secs_f64(check_positive(
            &format!("{field}.timeout_s"),
            t,
        )?)),
    };
    Ok((SimTime::from_secs_f64(start), timeout))
}
