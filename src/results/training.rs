//! The launcher's view of graph workloads (`trace` and `model`): each
//! step's time and its breakdown, tokens per second, model FLOPs
//! utilisation, and bytes and time per collective kind, from the spans
//! every rank reported.
//!
//! A rank's step runs from the end of its previous step (the first from
//! the barrier after connecting) to the end of its last node. Over it:
//!
//! - compute C: the union of its compute spans;
//! - communication M: the union of its collective and send spans, and of
//!   its receive spans from the moment the matching send began (before
//!   that the rank waits on the pipeline, not on the network);
//! - exposed communication |C ∪ M| − |C|: communication nothing computes under;
//! - bubble: step − |C ∪ M|, the time the rank neither computes nor moves
//!   data (pipeline fill and drain, waiting on a slower rank).
//!
//! A workload's step time is its slowest rank's, and compute, exposed
//! communication and bubble are that rank's, so that they add up to the
//! step. The figures are means over the steps after the first (which pays
//! for connection warm-up), or the one step. Tokens per second is the
//! model's tokens per step over the step time; model FLOPs utilisation is
//! the model's FLOPs per step (6N plus attention per token, Kaplan et al.
//! 2020; a trace's `num_ops` summed) over step time × ranks × peak FLOP/s
//! (the PaLM paper's MFU, Chowdhery et al. 2022, Appendix B). A model's
//! 1F1B or GPipe bubble (p−1)/(m+p−1) (Narayanan et al., SC'21) is given
//! beside the measured one.

use std::collections::{BTreeMap, HashMap};

use orbnet_netem::chakra::{GroupId, Op};
use orbnet_netem::training::{GraphSource, GraphWorkload, bubble_fraction};
use orbnet_netem::{Scenario, Workload};
use orbnet_node::protocol::{Event, GraphSpan, GraphStepReport};
use serde::Serialize;

/// One step of a graph workload: the slowest rank's breakdown.
#[derive(Debug, Serialize)]
pub(crate) struct GraphStepSummary {
    pub step: u64,
    pub step_s: f64,
    pub compute_s: f64,
    pub comm_s: f64,
    pub exposed_comm_s: f64,
    pub bubble_s: f64,
    /// The rank whose step was the longest.
    pub critical_rank: usize,
}

/// Collectives (or sends) of one kind, per step over every rank.
#[derive(Debug, Serialize)]
pub(crate) struct KindSummary {
    pub kind: &'static str,
    pub count: f64,
    /// Bytes the ranks carried (the model's bytes / payload_divisor).
    pub bytes: f64,
    /// Bytes the trace or model names.
    pub modelled_bytes: f64,
    /// Span time summed over the ranks; a send's from its start to its
    /// receive's end.
    pub time_s: f64,
}

/// A graph workload in `summary.json`.
#[derive(Debug, Serialize)]
pub(crate) struct TrainingSummary {
    pub workload: usize,
    pub kind: &'static str,
    /// The trace's prefix, or the model and plan.
    pub source: String,
    pub ranks: usize,
    pub transport: &'static str,
    pub payload_divisor: u64,
    pub accelerator: Option<String>,
    pub steps: Vec<GraphStepSummary>,
    pub step_time_s: Option<f64>,
    pub compute_time_s: Option<f64>,
    pub exposed_comm_s: Option<f64>,
    pub bubble_s: Option<f64>,
    pub bubble_fraction: Option<f64>,
    /// A model's pipeline bubble by the formula, (p−1)/(m+p−1).
    pub schedule_bubble_fraction: Option<f64>,
    /// A model's step with every rank computing at its sustained rate,
    /// stretched by the schedule's bubble, with no communication.
    pub ideal_step_s: Option<f64>,
    pub tokens_per_step: Option<u64>,
    pub tokens_per_s: Option<f64>,
    pub model_flops_per_step: Option<f64>,
    /// Model FLOPs utilisation.
    pub mfu: Option<f64>,
    pub collectives: Vec<KindSummary>,
    pub verified: bool,
    pub error: Option<String>,
}

/// Every graph workload of the run.
pub(super) fn graphs(
    scenario: &Scenario,
    events: &[Event],
    death: Option<&str>,
) -> Vec<TrainingSummary> {
    let mut out = Vec::new();
    for (w, workload) in scenario.workloads.iter().enumerate() {
        let Workload::Graph(g) = workload else {
            continue;
        };
        let reports: Vec<&GraphStepReport> = events
            .iter()
            .filter_map(|e| match e {
                Event::GraphStep(r) if r.workload == w => Some(r),
                _ => None,
            })
            .collect();
        out.push(summarize(w, g, scenario, &reports, death));
    }
    out
}

/// A description of `g` for messages and tables.
pub(crate) fn describe(g: &GraphWorkload) -> String {
    match &g.source {
        GraphSource::Trace { prefix, .. } => format!(
            "trace {prefix}, {} ranks, {} steps over {}",
            g.ranks.len(),
            g.steps,
            g.transport.as_str()
        ),
        GraphSource::Model { job, placement } => {
            let s = job.spec();
            let p = &s.plan;
            format!(
                "model of {:.3e} parameters, {} ranks (tp {} × pp {} × dp {}{}), {}, {} micro-batches, {} placement, {} steps over {}",
                job.figures().params,
                g.ranks.len(),
                p.tp,
                p.pp,
                p.dp,
                if p.ep > 1 {
                    format!(", ep {}", p.ep)
                } else {
                    String::new()
                },
                p.schedule.as_str(),
                job.micro_batches(),
                placement.as_str(),
                g.steps,
                g.transport.as_str()
            )
        }
    }
}

fn summarize(
    w: usize,
    g: &GraphWorkload,
    scenario: &Scenario,
    reports: &[&GraphStepReport],
    death: Option<&str>,
) -> TrainingSummary {
    let names: Vec<&str> = g.ranks.iter().map(|&s| scenario.world.name(s)).collect();
    let sends = SendIndex::new(g);
    let mut steps = Vec::new();
    let mut error = None;
    let mut verified = true;
    for step in 0..u64::from(g.steps) {
        let mut at: Vec<Option<&GraphStepReport>> = vec![None; g.ranks.len()];
        for r in reports {
            if let Some(e) = &r.error {
                error.get_or_insert_with(|| e.clone());
            } else if r.step == Some(step)
                && let Some(slot) = at.get_mut(r.rank)
            {
                *slot = Some(r);
            }
        }
        if error.is_some() {
            break;
        }
        let missing: Vec<&str> = (0..at.len())
            .filter(|&r| at[r].is_none())
            .map(|r| names[r])
            .collect();
        if !missing.is_empty() {
            error = Some(format!(
                "no result for step {step} from {}",
                missing.join(", ")
            ));
            break;
        }
        let at: Vec<&GraphStepReport> = at.into_iter().flatten().collect();
        verified &= at.iter().all(|r| r.verified);
        steps.push(step_summary(g, &sends, step, &at));
    }
    let error = error.map(|e| match death {
        Some(d) => format!("{d}: {e}"),
        None => e,
    });
    let complete = error.is_none() && steps.len() == g.steps as usize;
    figures(
        w, g, scenario, steps, reports, &sends, complete, verified, error,
    )
}

/// The figures of a workload from its steps.
#[allow(clippy::too_many_arguments)]
fn figures(
    w: usize,
    g: &GraphWorkload,
    scenario: &Scenario,
    steps: Vec<GraphStepSummary>,
    reports: &[&GraphStepReport],
    sends: &SendIndex,
    complete: bool,
    verified: bool,
    error: Option<String>,
) -> TrainingSummary {
    let steady: &[GraphStepSummary] = if steps.len() > 1 { &steps[1..] } else { &steps };
    let mean = |f: fn(&GraphStepSummary) -> f64| {
        (complete && !steady.is_empty())
            .then(|| steady.iter().map(f).sum::<f64>() / steady.len() as f64)
    };
    let step_time = mean(|s| s.step_s);
    let bubble = mean(|s| s.bubble_s);
    let acc = scenario.accelerator.as_ref();
    let flops = g.flops_per_step();
    let tokens = g.tokens_per_step();
    let (schedule_bubble, ideal) = match &g.source {
        GraphSource::Model { job, .. } => {
            let f = job.figures();
            let b = bubble_fraction(job.spec().plan.pp, job.micro_batches());
            (Some(b), Some(f.pipelined_step.as_secs_f64()))
        }
        GraphSource::Trace { .. } => (None, None),
    };
    let first_steady = u64::from(steps.len() > 1);
    let collectives = if complete {
        kinds(g, reports, sends, first_steady)
    } else {
        Vec::new()
    };
    TrainingSummary {
        workload: w,
        kind: match g.source {
            GraphSource::Trace { .. } => "trace",
            GraphSource::Model { .. } => "model",
        },
        source: describe(g),
        ranks: g.ranks.len(),
        transport: g.transport.as_str(),
        payload_divisor: g.payload_divisor,
        accelerator: acc.map(|a| a.name.clone()),
        compute_time_s: mean(|s| s.compute_s),
        exposed_comm_s: mean(|s| s.exposed_comm_s),
        bubble_s: bubble,
        bubble_fraction: bubble.zip(step_time).map(|(b, s)| b / s),
        schedule_bubble_fraction: schedule_bubble,
        ideal_step_s: ideal,
        tokens_per_step: tokens,
        tokens_per_s: step_time.zip(tokens).map(|(s, t)| t as f64 / s),
        model_flops_per_step: flops,
        mfu: step_time
            .zip(flops)
            .zip(acc)
            .map(|((s, f), a)| f / (s * g.ranks.len() as f64 * a.peak_flops)),
        step_time_s: step_time,
        steps,
        collectives,
        verified: complete && verified,
        error,
    }
}

/// Spans of one rank's step by node index.
fn by_node(r: &GraphStepReport) -> HashMap<u32, GraphSpan> {
    r.spans.iter().map(|s| (s.node, *s)).collect()
}

/// Where each receive's send is: (sender, node) by (receiver, node).
pub(super) struct SendIndex {
    of_recv: HashMap<(usize, usize), (usize, usize)>,
}

impl SendIndex {
    pub(super) fn new(g: &GraphWorkload) -> SendIndex {
        // The k-th send from a to b with a tag meets the k-th receive.
        let mut sends: HashMap<(usize, usize, u32), Vec<usize>> = HashMap::new();
        let mut recvs: Vec<((usize, usize, u32), Vec<usize>)> = Vec::new();
        let mut recv_at: HashMap<(usize, usize, u32), usize> = HashMap::new();
        for (r, graph) in g.graphs.iter().enumerate() {
            for (i, n) in graph.nodes().iter().enumerate() {
                match n.op {
                    Op::Send { to, tag, .. } => {
                        sends.entry((r, to.0 as usize, tag)).or_default().push(i);
                    }
                    Op::Recv { from, tag, .. } => {
                        let key = (from.0 as usize, r, tag);
                        let at = *recv_at.entry(key).or_insert_with(|| {
                            recvs.push((key, Vec::new()));
                            recvs.len() - 1
                        });
                        recvs[at].1.push(i);
                    }
                    _ => {}
                }
            }
        }
        let mut of_recv = HashMap::new();
        for ((from, to, tag), list) in recvs {
            let theirs = sends.get(&(from, to, tag)).map_or(&[][..], Vec::as_slice);
            for (&recv, &send) in list.iter().zip(theirs) {
                of_recv.insert((to, recv), (from, send));
            }
        }
        SendIndex { of_recv }
    }

    /// The send (rank, node) that receive `node` of rank `rank` waits for.
    pub(super) fn send_of(&self, rank: usize, node: usize) -> Option<(usize, usize)> {
        self.of_recv.get(&(rank, node)).copied()
    }
}

/// Intervals merged into disjoint ones, in order.
fn union(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn length(v: &[(u64, u64)]) -> u64 {
    v.iter().map(|(a, b)| b - a).sum()
}

/// The breakdown of every rank's step; the slowest rank's as the step's.
fn step_summary(
    g: &GraphWorkload,
    sends: &SendIndex,
    step: u64,
    at: &[&GraphStepReport],
) -> GraphStepSummary {
    let spans: Vec<HashMap<u32, GraphSpan>> = at.iter().map(|r| by_node(r)).collect();
    let mut worst: Option<GraphStepSummary> = None;
    for (rank, r) in at.iter().enumerate() {
        let nodes = g.graphs[rank].nodes();
        let (mut compute, mut comm) = (Vec::new(), Vec::new());
        for s in &r.spans {
            let iv = (s.start_ns, s.end_ns);
            match nodes[s.node as usize].op {
                Op::Compute { .. } => compute.push(iv),
                Op::Collective { .. } | Op::Send { .. } => comm.push(iv),
                Op::Recv { .. } => {
                    let sent = sends
                        .send_of(rank, s.node as usize)
                        .and_then(|(p, n)| spans.get(p)?.get(&(n as u32)))
                        .map_or(s.start_ns, |x| x.start_ns);
                    comm.push((sent.clamp(s.start_ns, s.end_ns), s.end_ns));
                }
                Op::Metadata | Op::Other { .. } => {}
            }
        }
        let c = union(compute);
        let m = union(comm);
        let busy = length(&union(c.iter().chain(&m).copied().collect()));
        let step_s = r.end_s.unwrap_or(0.0) - r.start_s.unwrap_or(0.0);
        let (c, m) = (length(&c) as f64 / 1e9, length(&m) as f64 / 1e9);
        let exposed = busy as f64 / 1e9 - c;
        let this = GraphStepSummary {
            step,
            step_s,
            compute_s: c,
            comm_s: m,
            exposed_comm_s: exposed,
            bubble_s: (step_s - busy as f64 / 1e9).max(0.0),
            critical_rank: rank,
        };
        if worst.as_ref().is_none_or(|w| this.step_s > w.step_s) {
            worst = Some(this);
        }
    }
    worst.unwrap_or(GraphStepSummary {
        step,
        step_s: 0.0,
        compute_s: 0.0,
        comm_s: 0.0,
        exposed_comm_s: 0.0,
        bubble_s: 0.0,
        critical_rank: 0,
    })
}

/// Bytes and time per collective kind (and of sends), per step, over
/// the steps from `first`.
fn kinds(
    g: &GraphWorkload,
    reports: &[&GraphStepReport],
    sends: &SendIndex,
    first: u64,
) -> Vec<KindSummary> {
    let counted: Vec<&GraphStepReport> = reports
        .iter()
        .copied()
        .filter(|r| r.step.is_some_and(|s| s >= first))
        .collect();
    let steps = (u64::from(g.steps) - first).max(1) as f64;
    let spans: HashMap<(u64, usize), HashMap<u32, GraphSpan>> = counted
        .iter()
        .filter_map(|r| Some(((r.step?, r.rank), by_node(r))))
        .collect();
    // kind → (count, carried, modelled, time)
    let mut acc: BTreeMap<&'static str, (f64, f64, f64, f64)> = BTreeMap::new();
    for r in &counted {
        let nodes = g.graphs[r.rank].nodes();
        for s in &r.spans {
            let (kind, bytes, time) = match nodes[s.node as usize].op {
                Op::Collective { kind, bytes, .. } => (kind.as_str(), bytes, s.end_ns - s.start_ns),
                Op::Recv { bytes, .. } => {
                    let sent = sends
                        .send_of(r.rank, s.node as usize)
                        .and_then(|(p, n)| spans.get(&(r.step.unwrap_or(0), p))?.get(&(n as u32)))
                        .map_or(s.start_ns, |x| x.start_ns);
                    (
                        "SEND_RECV",
                        bytes,
                        s.end_ns - sent.clamp(s.start_ns, s.end_ns),
                    )
                }
                _ => continue,
            };
            let e = acc.entry(kind).or_default();
            e.0 += 1.0;
            e.1 += g.carried(bytes) as f64;
            e.2 += bytes.0 as f64;
            e.3 += time as f64 / 1e9;
        }
    }
    acc.into_iter()
        .map(|(kind, (count, bytes, modelled, time))| KindSummary {
            kind,
            count: count / steps,
            bytes: bytes / steps,
            modelled_bytes: modelled / steps,
            time_s: time / steps,
        })
        .collect()
}

/// The stream a node's span goes on in the timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Stream {
    Compute,
    Memory,
    Group(GroupId),
    Peer(u32),
}

impl Stream {
    pub(super) fn of(op: &Op) -> Option<Stream> {
        Some(match *op {
            Op::Compute { .. } => Stream::Compute,
            Op::Other { .. } => Stream::Memory,
            Op::Collective { group, .. } => Stream::Group(group),
            Op::Send { to: p, .. } | Op::Recv { from: p, .. } => Stream::Peer(p.0),
            Op::Metadata => return None,
        })
    }

    pub(super) fn name(self) -> String {
        match self {
            Stream::Compute => "compute".into(),
            Stream::Memory => "memory".into(),
            Stream::Group(g) if g == GroupId::ALL => "comm: every rank".into(),
            Stream::Group(g) => format!("comm: group {}", g.0),
            Stream::Peer(p) => format!("p2p: rank {p}"),
        }
    }
}
