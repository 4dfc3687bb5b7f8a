//! The launcher's view of collective and training workloads: per-size
//! figures gathered from every rank (the slowest rank's time counts), the
//! α–β model beside them, and the training summary.

use orbnet_netem::collective;
use orbnet_netem::workload::{Accelerator, Collective, Train};
use orbnet_netem::{Scenario, SimTime, Workload};
use orbnet_node::protocol::{Event, RankReport, StepReport};
use serde::Serialize;

/// One size of one collective workload in `summary.json`.
#[derive(Debug, Serialize)]
pub(crate) struct CollectiveSummary {
    pub workload: usize,
    pub op: &'static str,
    pub algorithm: &'static str,
    pub transport: &'static str,
    pub dtype: &'static str,
    pub ranks: usize,
    pub bytes: u64,
    pub iterations: u32,
    /// Virtual seconds per call, the slowest rank's.
    pub time_s: Option<f64>,
    pub algbw_gbps: Option<f64>,
    pub busbw_gbps: Option<f64>,
    /// The bottleneck rate among the paths the algorithm uses.
    pub link_rate_gbps: Option<f64>,
    /// The model's B: the slowest pair's share of its bottleneck link (the
    /// link rate unless ring pairs share a link in one direction).
    pub model_rate_gbps: Option<f64>,
    /// The α–β model's time from the link snapshot at the size's start.
    pub model_time_s: Option<f64>,
    /// Measured time over the model's.
    pub model_ratio: Option<f64>,
    pub verified: bool,
    pub error: Option<String>,
}

/// One step of a training workload.
#[derive(Debug, Serialize)]
pub(crate) struct StepSummary {
    pub step: u64,
    pub step_s: f64,
    pub compute_s: f64,
    pub comm_s: f64,
    pub exposed_comm_s: f64,
}

/// A training workload in `summary.json`.
#[derive(Debug, Serialize)]
pub(crate) struct TrainSummary {
    pub workload: usize,
    pub ranks: usize,
    pub params: f64,
    pub tokens_per_step: f64,
    pub bucket_bytes: u64,
    pub accelerator: String,
    pub steps: Vec<StepSummary>,
    /// Means over the steps after the first (which pays for connection
    /// warm-up); over all steps if there is only one.
    pub step_time_s: Option<f64>,
    pub compute_time_s: Option<f64>,
    pub exposed_comm_s: Option<f64>,
    pub tokens_per_s: Option<f64>,
    /// Model FLOPs utilisation: 6·params·tokens per step over the time and
    /// the peak of every rank.
    pub effective_utilization: Option<f64>,
    pub verified: bool,
    pub error: Option<String>,
}

/// A rank's report: its satellite and the error it reported, if any.
trait Report {
    fn sat(&self) -> &str;
    fn error(&self) -> Option<&str>;
}

impl Report for RankReport {
    fn sat(&self) -> &str {
        &self.sat
    }
    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

impl Report for StepReport {
    fn sat(&self) -> &str {
        &self.sat
    }
    fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

/// Every rank's report of collective workload `w`.
fn rank_reports(events: &[Event], w: usize) -> impl Iterator<Item = &RankReport> {
    events.iter().filter_map(move |e| match e {
        Event::Collective(r) if r.workload == w => Some(r),
        _ => None,
    })
}

/// Every rank's report of training workload `w`.
fn step_reports(events: &[Event], w: usize) -> impl Iterator<Item = &StepReport> {
    events.iter().filter_map(move |e| match e {
        Event::TrainStep(r) if r.workload == w => Some(r),
        _ => None,
    })
}

/// The first error any rank reported, or the ranks that never reported;
/// led by the death of a satellite if one ended the run.
fn first_error<R: Report>(
    reports: &[&R],
    c_ranks: &[String],
    what: &str,
    death: Option<&str>,
) -> Option<String> {
    let e = rank_error(reports, c_ranks, what)?;
    Some(match death {
        Some(d) => format!("{d}: {e}"),
        None => e,
    })
}

fn rank_error<R: Report>(reports: &[&R], c_ranks: &[String], what: &str) -> Option<String> {
    if let Some(e) = reports.iter().find_map(|r| r.error()) {
        return Some(e.to_owned());
    }
    let missing: Vec<&str> = c_ranks
        .iter()
        .filter(|n| !reports.iter().any(|r| r.sat() == n.as_str()))
        .map(String::as_str)
        .collect();
    (!missing.is_empty()).then(|| format!("no result for {what} from {}", missing.join(", ")))
}

pub(super) fn collectives(
    scenario: &Scenario,
    events: &[Event],
    death: Option<&str>,
) -> Vec<CollectiveSummary> {
    let world = &scenario.world;
    let mut out = Vec::new();
    for (w, workload) in scenario.workloads.iter().enumerate() {
        let Workload::Collective(c) = workload else {
            continue;
        };
        let names: Vec<String> = c.ranks.iter().map(|&s| world.name(s).to_owned()).collect();
        for &bytes in &c.sizes {
            let reports: Vec<&RankReport> = rank_reports(events, w)
                // A rank that failed to connect reports once, with no size.
                .filter(|r| r.bytes.is_none_or(|b| b == bytes))
                .collect();
            out.push(summarize(w, c, bytes, &reports, &names, scenario, death));
        }
    }
    out
}

fn summarize(
    w: usize,
    c: &Collective,
    bytes: u64,
    reports: &[&RankReport],
    names: &[String],
    scenario: &Scenario,
    death: Option<&str>,
) -> CollectiveSummary {
    let p = c.ranks.len();
    let error = first_error(reports, names, &format!("{bytes} bytes"), death);
    let complete = error.is_none() && reports.len() == p;
    let time = complete
        .then(|| reports.iter().filter_map(|r| r.time_s).fold(0.0, f64::max))
        .filter(|t| *t > 0.0);
    let start = reports
        .iter()
        .filter_map(|r| r.start_s)
        .fold(None, |a: Option<f64>, t| Some(a.map_or(t, |a| a.min(t))))
        .map_or(c.start, SimTime::from_secs_f64);
    // The snapshot the satellites were routing on when the size started.
    let snap = scenario
        .world
        .snapshot(orbnet_netem::scenario::routing_instant(
            start,
            scenario.routing_interval,
        ));
    let ab = collective::alpha_beta(&snap, &c.ranks, c.op, c.algorithm);
    let model =
        ab.map(|m| collective::model_time(c.op, c.algorithm, p, bytes as f64, m.alpha, m.b));
    let algbw = time.map(|t| bytes as f64 * 8.0 / t / 1e9);
    CollectiveSummary {
        workload: w,
        op: c.op.as_str(),
        algorithm: c.algorithm.as_str(),
        transport: c.transport.as_str(),
        dtype: c.dtype.as_str(),
        ranks: p,
        bytes,
        iterations: c.iterations,
        time_s: time,
        algbw_gbps: algbw,
        busbw_gbps: algbw.map(|a| a * c.op.bus_factor(p)),
        link_rate_gbps: ab.map(|m| m.link_b * 8.0 / 1e9),
        model_rate_gbps: ab.map(|m| m.b * 8.0 / 1e9),
        model_time_s: model,
        model_ratio: time
            .zip(model)
            .filter(|(_, m)| *m > 0.0)
            .map(|(t, m)| t / m),
        verified: complete && reports.iter().all(|r| r.verified),
        error,
    }
}

pub(super) fn trains(
    scenario: &Scenario,
    events: &[Event],
    death: Option<&str>,
) -> Vec<TrainSummary> {
    let world = &scenario.world;
    let mut out = Vec::new();
    for (w, workload) in scenario.workloads.iter().enumerate() {
        let Workload::Train(t) = workload else {
            continue;
        };
        let Some(acc) = &scenario.accelerator else {
            continue;
        };
        let names: Vec<String> = t.ranks.iter().map(|&s| world.name(s).to_owned()).collect();
        out.push(train(w, t, acc, events, &names, death));
    }
    out
}

fn train(
    w: usize,
    t: &Train,
    acc: &Accelerator,
    events: &[Event],
    names: &[String],
    death: Option<&str>,
) -> TrainSummary {
    let p = t.ranks.len();
    let mut steps = Vec::new();
    let mut error = None;
    let mut verified = true;
    for step in 0..u64::from(t.steps) {
        let reports: Vec<&StepReport> = step_reports(events, w)
            .filter(|r| r.step == Some(step))
            .collect();
        if let Some(e) = first_error(&reports, names, &format!("step {step}"), death) {
            error = Some(e);
            verified = false;
            break;
        }
        verified &= reports.iter().all(|r| r.verified);
        let max = |k: fn(&StepReport) -> Option<f64>| {
            reports.iter().filter_map(|r| k(r)).fold(0.0, f64::max)
        };
        let (step_s, compute_s) = (max(|r| r.step_s), max(|r| r.compute_s));
        steps.push(StepSummary {
            step,
            step_s,
            compute_s,
            comm_s: max(|r| r.comm_s),
            exposed_comm_s: (step_s - compute_s).max(0.0),
        });
    }
    let complete = error.is_none() && steps.len() == t.steps as usize;
    let steady: &[StepSummary] = if steps.len() > 1 { &steps[1..] } else { &steps };
    let mean = |f: fn(&StepSummary) -> f64| {
        (complete && !steady.is_empty())
            .then(|| steady.iter().map(f).sum::<f64>() / steady.len() as f64)
    };
    let step_time = mean(|s| s.step_s);
    TrainSummary {
        workload: w,
        ranks: p,
        params: t.params,
        tokens_per_step: t.tokens_per_step,
        bucket_bytes: t.bucket_bytes,
        accelerator: acc.name.clone(),
        compute_time_s: mean(|s| s.compute_s),
        exposed_comm_s: mean(|s| s.exposed_comm_s),
        tokens_per_s: step_time.map(|s| t.tokens_per_step / s),
        effective_utilization: step_time
            .map(|s| 6.0 * t.params * t.tokens_per_step / (s * p as f64 * acc.peak_flops)),
        step_time_s: step_time,
        steps,
        verified: complete && verified,
        error,
    }
}

/// `collectives.csv`: one row per size of every collective workload.
pub(super) fn rows(rows: &[CollectiveSummary]) -> super::Table {
    let header = vec![
        "workload",
        "op",
        "algorithm",
        "transport",
        "dtype",
        "ranks",
        "bytes",
        "time_s",
        "algbw_gbps",
        "busbw_gbps",
        "link_rate_gbps",
        "model_time_s",
        "model_ratio",
        "verified",
    ];
    let f = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.9}"));
    let rows = rows
        .iter()
        .map(|r| {
            vec![
                r.workload.to_string(),
                r.op.to_owned(),
                r.algorithm.to_owned(),
                r.transport.to_owned(),
                r.dtype.to_owned(),
                r.ranks.to_string(),
                r.bytes.to_string(),
                f(r.time_s),
                f(r.algbw_gbps),
                f(r.busbw_gbps),
                f(r.link_rate_gbps),
                f(r.model_time_s),
                f(r.model_ratio),
                r.verified.to_string(),
            ]
        })
        .collect();
    (header, rows)
}

/// Plot series: bus bandwidth by size of each workload, and its link rate.
pub(super) fn series(rows: &[CollectiveSummary]) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for r in rows {
        let label = format!(
            "w{} {} {} ({}, {} ranks)",
            r.workload, r.op, r.algorithm, r.transport, r.ranks
        );
        let n = series.len();
        if n < 2 || series[n - 2].0 != label {
            series.push((label.clone(), Vec::new()));
            series.push((format!("w{}: link rate", r.workload), Vec::new()));
        }
        let x = (r.bytes as f64).log2();
        let n = series.len();
        if let Some(b) = r.busbw_gbps {
            series[n - 2].1.push((x, b));
        }
        if let Some(l) = r.link_rate_gbps {
            series[n - 1].1.push((x, l));
        }
    }
    series
}
