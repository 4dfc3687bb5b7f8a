//! `kind = "trace"` and `kind = "model"`: workloads of per-rank execution
//! graphs ([`GraphWorkload`]).
//!
//! A trace reads `<chakra>.<rank>.et` for every rank (paths relative to
//! the scenario file, through the scenario's `read`, so that loading stays
//! free of I/O and the run's results keep a copy), and the communicator
//! groups of `comm_groups` in ASTRA-sim's JSON format (default: every rank
//! in one group). `ranks` maps trace ranks to satellites: a list is taken
//! as written (rank r on the r-th name); a count (the first N satellites)
//! or nothing (every satellite) is put in the collective ring order.
//!
//! A model is a transformer, a batch and a plan (`training::Job`): its
//! ranks are `dp·tp·pp` satellites — those `ranks` lists, the first N
//! (or every satellite of a count N), or the N nearest `around` one by
//! path delay — arranged by `placement`. It needs the `[accelerator]`.
//!
//! Both are checked before the run: a missing rank file, an unknown node
//! type, a cycle, a dependency on a missing node, a group or rank not in
//! the job, and collectives or sends whose partners do not match, each
//! named by file and node id; a plan that does not fit its ranks, by key.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;

use super::check::{Checked, bad, check_positive, start_and_timeout};
use super::workloads::{Context, named_ranks, ranks, tcp_ranks, transport};
use crate::chakra::{CommGroups, CtrlDeps, GroupId, Op, RankGraph, decode_trace, trace_file_name};
use crate::routing::Routes;
use crate::traffic::Workload;
use crate::training::{
    Batch, ComputeModel, GraphSource, GraphWorkload, Job, JobSpec, Model, Placement, Plan, Schedule,
};
use crate::units::{SatId, SimTime};
use crate::workload::{Algorithm, DType, Transport};

crate::named! {
    /// What a trace's compute nodes take.
    pub(crate) enum ComputeFrom {
        /// `duration_micros` × `compute_scale`.
        Duration = "duration",
        /// `num_ops` over the accelerator's peak × utilization.
        Flops = "flops",
    }
}

/// Most nodes a rank's graph may hold: collectives are told apart by
/// their place among their group's in 23 bits (see the node's executor).
const MAX_NODES: usize = 1 << 23;

/// Most communicator groups a workload may name (20 bits).
const MAX_GROUPS: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrace {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    chakra: String,
    comm_groups: Option<String>,
    ranks: Option<toml::Value>,
    compute: Option<ComputeFrom>,
    compute_scale: Option<f64>,
    ctrl_deps: Option<CtrlDeps>,
    dtype: Option<DType>,
    algorithm: Option<Algorithm>,
    payload_divisor: Option<u64>,
    steps: Option<u32>,
    transport: Option<Transport>,
    start_s: Option<f64>,
    timeout_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    /// Read before this form is chosen.
    #[serde(rename = "kind")]
    _kind: serde::de::IgnoredAny,
    layers: u32,
    hidden: u64,
    heads: u32,
    ffn: Option<u64>,
    seq_len: u64,
    vocab: u64,
    experts: Option<u32>,
    top_k: Option<u32>,
    micro_batch: u64,
    global_batch: u64,
    dp: Option<u32>,
    tp: Option<u32>,
    pp: Option<u32>,
    ep: Option<u32>,
    schedule: Option<Schedule>,
    placement: Option<Placement>,
    ranks: Option<toml::Value>,
    around: Option<String>,
    dtype: Option<DType>,
    algorithm: Option<Algorithm>,
    payload_divisor: Option<u64>,
    steps: Option<u32>,
    transport: Option<Transport>,
    start_s: Option<f64>,
    timeout_s: Option<f64>,
}

/// The keys both kinds share: how the graphs run.
struct RawRun {
    dtype: Option<DType>,
    algorithm: Option<Algorithm>,
    payload_divisor: Option<u64>,
    steps: Option<u32>,
    transport: Option<Transport>,
    start_s: Option<f64>,
    timeout_s: Option<f64>,
}

/// The checked shared keys.
struct Run {
    dtype: DType,
    algorithm: Algorithm,
    payload_divisor: u64,
    steps: u32,
    transport: Transport,
    start: SimTime,
    timeout: Option<crate::units::SimDuration>,
}

fn run_keys(r: RawRun, field: &str, cx: &Context<'_>, steps: u32) -> Checked<Run> {
    let steps = r.steps.unwrap_or(steps);
    if !(1..=10_000).contains(&steps) {
        return Err(bad(
            format!("{field}.steps"),
            format!("must be in [1, 10000] (got {steps})"),
        ));
    }
    let payload_divisor = r.payload_divisor.unwrap_or(1);
    if payload_divisor == 0 {
        return Err(bad(
            format!("{field}.payload_divisor"),
            "must be ≥ 1 (got 0)",
        ));
    }
    let (start, timeout) = start_and_timeout(field, r.start_s, r.timeout_s)?;
    Ok(Run {
        dtype: r.dtype.unwrap_or(DType::Bf16),
        algorithm: r.algorithm.unwrap_or(Algorithm::Ring),
        payload_divisor,
        steps,
        transport: transport(field, r.transport, cx.world)?,
        start,
        timeout,
    })
}

/// Reads file `path` through the scenario's `read`.
fn read(cx: &Context<'_>, key: &str, path: &str) -> Checked<Vec<u8>> {
    let mut r = cx.read.borrow_mut();
    (*r)(path).map_err(|e| bad(key, format!("{path}: cannot read: {e}")))
}

/// Builds a `trace` workload.
pub(crate) fn trace(t: RawTrace, field: &str, cx: &Context<'_>) -> Checked<Workload> {
    let raw = RawRun {
        dtype: t.dtype,
        algorithm: t.algorithm,
        payload_divisor: t.payload_divisor,
        steps: t.steps,
        transport: t.transport,
        start_s: t.start_s,
        timeout_s: t.timeout_s,
    };
    let run = run_keys(raw, field, cx, 1)?;
    let at = super::routing_instant(run.start, cx.grid);
    let sats = match &t.ranks {
        Some(toml::Value::Array(a)) => named_ranks(&format!("{field}.ranks"), a, cx.world)?,
        other => ranks(field, other.as_ref(), cx.world, at)?,
    };
    tcp_ranks(field, run.transport, sats.len())?;
    let n = sats.len() as u32;
    let groups_key = format!("{field}.comm_groups");
    let groups = match &t.comm_groups {
        None => CommGroups::all(n),
        Some(path) => {
            let bytes = read(cx, &groups_key, path)?;
            let text = String::from_utf8(bytes)
                .map_err(|e| bad(&groups_key, format!("{path}: not UTF-8 text: {e}")))?;
            CommGroups::parse(&text, path, n).map_err(|e| bad(&groups_key, e.to_string()))?
        }
    };
    let key = format!("{field}.chakra");
    let ctrl = t.ctrl_deps.unwrap_or(CtrlDeps::Honour);
    let mut graphs = Vec::with_capacity(sats.len());
    for r in 0..n {
        let file = trace_file_name(&t.chakra, r);
        let bytes = read(cx, &key, &file)?;
        let fail = |e: crate::chakra::ChakraError| bad(&key, e.to_string());
        let trace = decode_trace(&bytes, &file).map_err(fail)?;
        let graph = RankGraph::from_trace_with(&trace, &file, ctrl).map_err(fail)?;
        groups.check(&graph, &file).map_err(fail)?;
        if graph.nodes().len() > MAX_NODES {
            return Err(bad(
                &key,
                format!("{file}: {} nodes, over {MAX_NODES}", graph.nodes().len()),
            ));
        }
        graphs.push(graph);
    }
    let compute = trace_compute(&t, field, cx, &graphs)?;
    let file_of = |r: usize| trace_file_name(&t.chakra, r as u32);
    crate::chakra::check_partners(&graphs, &groups, &file_of)
        .map_err(|e| bad(&key, e.to_string()))?;
    let source = GraphSource::Trace {
        prefix: t.chakra,
        comm_groups: t.comm_groups,
    };
    finish(source, graphs, groups, sats, compute, run, cx, field)
}

/// How a trace's compute nodes take time; with FLOPs every one needs them.
fn trace_compute(
    t: &RawTrace,
    field: &str,
    cx: &Context<'_>,
    graphs: &[RankGraph],
) -> Checked<ComputeModel> {
    let scale_key = format!("{field}.compute_scale");
    match t.compute.unwrap_or(ComputeFrom::Duration) {
        ComputeFrom::Duration => Ok(ComputeModel::Duration {
            scale: check_positive(&scale_key, t.compute_scale.unwrap_or(1.0))?,
        }),
        ComputeFrom::Flops => {
            if t.compute_scale.is_some() {
                return Err(bad(scale_key, "applies to compute = \"duration\" only"));
            }
            let Some(acc) = cx.accelerator else {
                return Err(bad(
                    format!("{field}.compute"),
                    "\"flops\" needs an [accelerator] section",
                ));
            };
            for (r, g) in graphs.iter().enumerate() {
                let lacking = g
                    .nodes()
                    .iter()
                    .find(|n| matches!(n.op, Op::Compute { flops: None, .. }));
                if let Some(n) = lacking {
                    return Err(bad(
                        format!("{field}.compute"),
                        format!(
                            "{}: node {}: no num_ops to time it by",
                            trace_file_name(&t.chakra, r as u32),
                            n.id
                        ),
                    ));
                }
            }
            Ok(ComputeModel::Flops {
                rate: acc.peak_flops * acc.utilization,
            })
        }
    }
}

/// Builds a `model` workload.
pub(crate) fn model(m: RawModel, field: &str, cx: &Context<'_>) -> Checked<Workload> {
    let raw = RawRun {
        dtype: m.dtype,
        algorithm: m.algorithm,
        payload_divisor: m.payload_divisor,
        steps: m.steps,
        transport: m.transport,
        start_s: m.start_s,
        timeout_s: m.timeout_s,
    };
    let run = run_keys(raw, field, cx, 3)?;
    let Some(acc) = cx.accelerator else {
        return Err(bad(
            field,
            "a `model` workload needs an [accelerator] section",
        ));
    };
    let plan = Plan {
        dp: m.dp.unwrap_or(1),
        tp: m.tp.unwrap_or(1),
        pp: m.pp.unwrap_or(1),
        ep: m.ep.unwrap_or(1),
        schedule: m.schedule.unwrap_or(Schedule::OneFOneB),
    };
    let at = super::routing_instant(run.start, cx.grid);
    let want = u64::from(plan.dp) * u64::from(plan.tp) * u64::from(plan.pp);
    let candidates = candidates(field, &m.ranks, m.around.as_deref(), want, cx, at)?;
    tcp_ranks(field, run.transport, candidates.len())?;
    let spec = JobSpec {
        model: Model {
            layers: m.layers,
            hidden: m.hidden,
            heads: m.heads,
            ffn: m.ffn.unwrap_or(m.hidden.saturating_mul(4)),
            seq_len: m.seq_len,
            vocab: m.vocab,
            dtype: run.dtype,
            experts: m.experts,
            top_k: m.top_k,
        },
        batch: Batch {
            micro_batch: m.micro_batch,
            global_batch: m.global_batch,
        },
        plan,
        accelerator: acc.clone(),
        ranks: candidates.len() as u32,
    };
    let job = Job::new(spec).map_err(|e| {
        let key = match e.key {
            k if k.starts_with("accelerator.") => k.to_owned(),
            k => format!("{field}.{k}"),
        };
        bad(key, e.reason)
    })?;
    let placement = m.placement.unwrap_or(Placement::Compact);
    let snapshot = cx.world.snapshot(at);
    let sats = job.place(placement, &snapshot, &candidates);
    let graphs = job.rank_graphs();
    let groups = job.comm_groups();
    let source = GraphSource::Model { job, placement };
    let compute = ComputeModel::Duration { scale: 1.0 };
    finish(source, graphs, groups, sats, compute, run, cx, field)
}

/// The satellites a model runs on, in ring order: `ranks` as a list, or
/// a count of them (default `want`) from the first or nearest `around`.
fn candidates(
    field: &str,
    ranks_key: &Option<toml::Value>,
    around: Option<&str>,
    want: u64,
    cx: &Context<'_>,
    at: SimTime,
) -> Checked<Vec<SatId>> {
    let f = format!("{field}.ranks");
    let n = cx.world.satellites();
    let count = match ranks_key {
        Some(toml::Value::Array(a)) => {
            if around.is_some() {
                return Err(bad(format!("{field}.around"), "needs `ranks` as a count"));
            }
            let listed = named_ranks(&f, a, cx.world)?;
            return Ok(crate::collective::ring_order(
                &cx.world.snapshot(at),
                &listed,
            ));
        }
        Some(toml::Value::Integer(k)) if *k >= 1 && *k <= i64::from(n) => *k as u32,
        Some(other) => {
            return Err(bad(
                f,
                format!("must be a count in [1, {n}] or a list of satellite names (got {other})"),
            ));
        }
        None if want > u64::from(n) => {
            return Err(bad(
                f,
                format!("the plan's dp·tp·pp = {want} ranks are more than the {n} satellites"),
            ));
        }
        None => want as u32,
    };
    let snapshot = cx.world.snapshot(at);
    let chosen: Vec<SatId> = match around {
        None => (0..count).map(SatId).collect(),
        Some(name) => {
            let centre = cx.sat(field, "around", name)?;
            let routes = Routes::new(Arc::new(snapshot.clone()));
            let delay = |s: SatId| match s == centre {
                true => 0,
                false => routes
                    .route(centre, s)
                    .map_or(u64::MAX, |r| r.delay.as_nanos()),
            };
            let mut all: Vec<SatId> = (0..n).map(SatId).collect();
            all.sort_by_key(|&s| (delay(s), s));
            all.truncate(count as usize);
            all.sort_unstable();
            all
        }
    };
    Ok(crate::collective::ring_order(&snapshot, &chosen))
}

/// The workload, with each group's ring at the start.
#[allow(clippy::too_many_arguments)]
fn finish(
    source: GraphSource,
    graphs: Vec<RankGraph>,
    groups: CommGroups,
    sats: Vec<SatId>,
    compute: ComputeModel,
    run: Run,
    cx: &Context<'_>,
    field: &str,
) -> Checked<Workload> {
    let named = named_groups(&graphs);
    if named.len() > MAX_GROUPS {
        return Err(bad(
            field,
            format!("collectives on {} groups, over {MAX_GROUPS}", named.len()),
        ));
    }
    let snapshot = cx
        .world
        .snapshot(super::routing_instant(run.start, cx.grid));
    let mut rings = BTreeMap::new();
    for g in named {
        let members: Vec<SatId> = groups
            .members(g)
            .unwrap_or(&[])
            .iter()
            .map(|r| sats[r.0 as usize])
            .collect();
        let ring = crate::collective::ring_order(&snapshot, &members);
        let rank_of: HashMap<SatId, u32> = members
            .iter()
            .zip(groups.members(g).unwrap_or(&[]))
            .map(|(&s, r)| (s, r.0))
            .collect();
        rings.insert(
            g,
            ring.iter()
                .filter_map(|s| rank_of.get(s).copied())
                .collect(),
        );
    }
    Ok(Workload::Graph(Box::new(GraphWorkload {
        source,
        graphs: graphs.into(),
        groups,
        ranks: sats,
        compute,
        payload_divisor: run.payload_divisor,
        dtype: run.dtype,
        algorithm: run.algorithm,
        steps: run.steps,
        transport: run.transport,
        start: run.start,
        timeout: run.timeout,
        rings,
    })))
}

/// Every group a graph's collectives name, and the group of every rank.
fn named_groups(graphs: &[RankGraph]) -> std::collections::BTreeSet<GroupId> {
    let mut out: std::collections::BTreeSet<GroupId> = graphs
        .iter()
        .flat_map(|g| g.nodes())
        .filter_map(|n| match n.op {
            Op::Collective { group, .. } => Some(group),
            _ => None,
        })
        .collect();
    out.insert(GroupId::ALL);
    out
}

#[cfg(test)]
mod placement_tests;
#[cfg(test)]
mod tests;
