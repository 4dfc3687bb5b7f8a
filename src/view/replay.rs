//! What `orbnet view PATH` shows: a results directory written by `orbnet up`
//! (its `scenario/` copy, `events.jsonl` and `summary.json`) replayed, or a
//! scenario file's world over time with no run (no events, no summary).
//!
//! A run's overrides (`--duration`, `--tdf`, `--seed`) are not in the copied
//! scenario file; the summary records them, and they are applied again.

use std::path::Path;

use orbnet_netem::Scenario;
use orbnet_node::protocol::Event;

use super::feed::Feed;
use super::sky::Sky;
use crate::Failure;
use crate::load::Source;

/// The feed `path` gives, and a line saying what it is.
pub(crate) fn load(path: &Path) -> Result<(Feed, String), Failure> {
    if path.is_dir() {
        return results(path);
    }
    let scenario = scenario(path)?;
    let what = format!("{} (scenario, no run)", scenario.name);
    Ok((Feed::replay(Sky::new(scenario, false), None, None), what))
}

fn scenario(file: &Path) -> Result<Scenario, Failure> {
    crate::load::load(&Source::File(file.to_path_buf()))
        .map_err(|e| Failure::BadInput(e.to_string()))
}

fn results(dir: &Path) -> Result<(Feed, String), Failure> {
    let file = dir.join("scenario").join("scenario.toml");
    if !file.is_file() {
        return Err(Failure::BadInput(format!(
            "{}: not a results directory of orbnet up (no scenario/scenario.toml)",
            dir.display()
        )));
    }
    let mut scenario = scenario(&file)?;
    let summary_path = dir.join("summary.json");
    let summary = match std::fs::read_to_string(&summary_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(bad(&summary_path, &e)),
    };
    if let Some(text) = &summary {
        apply_overrides(&mut scenario, text).map_err(|e| bad(&summary_path, &e))?;
    }
    let events_path = dir.join("events.jsonl");
    let text = std::fs::read_to_string(&events_path).map_err(|e| bad(&events_path, &e))?;
    let events = parse_events(&text).map_err(|e| bad(&events_path, &e))?;
    let what = format!(
        "{} (replay of {}, {} events)",
        scenario.name,
        dir.display(),
        events.len()
    );
    let sky = Sky::new(scenario, false);
    Ok((Feed::replay(sky, Some(events), summary), what))
}

fn bad(path: &Path, e: &dyn std::fmt::Display) -> Failure {
    Failure::BadInput(format!("{}: {e}", path.display()))
}

/// The events of `events.jsonl`, one per line.
fn parse_events(text: &str) -> Result<Vec<Event>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// The duration, TDF and seed the run had, from its summary.
fn apply_overrides(scenario: &mut Scenario, summary: &str) -> Result<(), String> {
    let s: serde_json::Value = serde_json::from_str(summary).map_err(|e| e.to_string())?;
    if let Some(d) = s["duration_s"].as_f64() {
        scenario
            .set_duration(d)
            .map_err(|e| format!("duration_s: {e}"))?;
    }
    if let Some(t) = s["tdf"].as_f64() {
        scenario.set_tdf(t).map_err(|e| format!("tdf: {e}"))?;
    }
    if let Some(seed) = s["seed"].as_u64() {
        scenario.set_seed(seed);
    }
    Ok(())
}
