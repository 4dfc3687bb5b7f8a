//! `trace.json`: every rank's timeline of every graph workload, in
//! Chrome's trace event format ("Trace Event Format", Google, the JSON
//! object form: `{"traceEvents": [...]}`), which Perfetto
//! (ui.perfetto.dev) and chrome://tracing open.
//!
//! One process per rank (`pid`), named with its workload, rank and
//! satellite; one thread (`tid`) for compute, one for memory nodes, one
//! per communication stream: a collective group, or the peer of sends and
//! receives. Spans are complete events (`ph: "X"`) in virtual
//! microseconds (`ts`, `dur`, to the nanosecond); spans of one stream that
//! overlap (two buckets of one group in flight) go on extra threads of
//! that stream, since a thread's slices must nest. A flow arrow (`ph: "s"`
//! at the send's start, `ph: "f"` with `bp: "e"` just inside the
//! receive's end) joins each send to its receive. Each span's `args` hold
//! the node's id, its step, its dependencies' ids and its bytes.

use std::collections::{BTreeMap, HashMap};

use orbnet_netem::chakra::Op;
use orbnet_netem::training::GraphWorkload;
use orbnet_netem::{Scenario, Workload};
use orbnet_node::protocol::{Event, GraphStepReport};
use serde_json::{Value, json};

use super::training::{SendIndex, Stream};

/// A span a rank reported: (start ns, end ns, step, node index), ordered
/// by start.
type RankSpan = (u64, u64, u64, u32);

/// The timeline of every graph workload, `None` when there is none.
pub(super) fn chrome_trace(scenario: &Scenario, events: &[Event]) -> Option<String> {
    let mut out: Vec<Value> = Vec::new();
    let mut any = false;
    let mut flow = 0u64;
    for (w, workload) in scenario.workloads.iter().enumerate() {
        let Workload::Graph(g) = workload else {
            continue;
        };
        any = true;
        let reports: Vec<&GraphStepReport> = events
            .iter()
            .filter_map(|e| match e {
                Event::GraphStep(r) if r.workload == w && r.step.is_some() => Some(r),
                _ => None,
            })
            .collect();
        let tids = workload_events(scenario, w, g, &reports, &mut out);
        flows(w, g, &reports, &tids, &mut flow, &mut out);
    }
    any.then(|| {
        let doc = json!({
            "traceEvents": out,
            "displayTimeUnit": "ns",
            "otherData": {
                "scenario": scenario.name,
                "clock": "virtual time since the scenario's epoch, microseconds",
            },
        });
        doc.to_string()
    })
}

/// The process of rank `rank` of workload `w`.
fn pid(w: usize, rank: usize) -> u64 {
    (w as u64) * 100_000 + rank as u64
}

fn micros(ns: u64) -> f64 {
    ns as f64 / 1e3
}

/// The thread of every span, by (rank, step, node).
type Tids = HashMap<(usize, u64, u32), u64>;

/// Metadata and spans of workload `w`; returns each span's thread.
fn workload_events(
    scenario: &Scenario,
    w: usize,
    g: &GraphWorkload,
    reports: &[&GraphStepReport],
    out: &mut Vec<Value>,
) -> Tids {
    let mut tids = Tids::new();
    for (rank, &sat) in g.ranks.iter().enumerate() {
        let pid = pid(w, rank);
        let name = format!("w{w} rank {rank} ({})", scenario.world.name(sat));
        out.push(json!({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": name}}));
        out.push(json!({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}}));
        let nodes = g.graphs[rank].nodes();
        let mut mine: Vec<RankSpan> = reports
            .iter()
            .filter(|r| r.rank == rank)
            .flat_map(|r| {
                let step = r.step.unwrap_or(0);
                r.spans
                    .iter()
                    .map(move |s| (s.start_ns, s.end_ns, step, s.node))
            })
            .collect();
        mine.sort_unstable();
        // Lanes of each stream: the end of each lane's last span.
        let mut lanes: BTreeMap<Stream, Vec<u64>> = BTreeMap::new();
        let mut placed: Vec<(Stream, usize, RankSpan)> = Vec::new();
        for span in mine {
            let Some(stream) = Stream::of(&nodes[span.3 as usize].op) else {
                continue;
            };
            let ends = lanes.entry(stream).or_default();
            let lane = match ends.iter().position(|&e| e <= span.0) {
                Some(l) => l,
                None => {
                    ends.push(0);
                    ends.len() - 1
                }
            };
            ends[lane] = span.1;
            placed.push((stream, lane, span));
        }
        let mut tid_of: BTreeMap<(Stream, usize), u64> = BTreeMap::new();
        for (stream, ends) in &lanes {
            for lane in 0..ends.len() {
                let tid = tid_of.len() as u64;
                tid_of.insert((*stream, lane), tid);
                let name = match lane {
                    0 => stream.name(),
                    l => format!("{} #{}", stream.name(), l + 1),
                };
                out.push(json!({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}}));
                out.push(json!({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid, "args": {"sort_index": tid}}));
            }
        }
        for (stream, lane, (start, end, step, node)) in placed {
            let tid = tid_of.get(&(stream, lane)).copied().unwrap_or(0);
            tids.insert((rank, step, node), tid);
            out.push(span_event(g, rank, pid, tid, (start, end, step, node)));
        }
    }
    tids
}

/// The complete event of one span.
fn span_event(
    g: &GraphWorkload,
    rank: usize,
    pid: u64,
    tid: u64,
    (start, end, step, node): RankSpan,
) -> Value {
    let nodes = g.graphs[rank].nodes();
    let n = &nodes[node as usize];
    let deps: Vec<u64> = n.deps().map(|d| nodes[d].id).collect();
    let mut args = json!({"node": n.id, "step": step, "deps": deps});
    let cat = match n.op {
        Op::Compute { flops, .. } => {
            if let Some(f) = flops {
                args["flops"] = json!(f);
            }
            "compute"
        }
        Op::Other { kind, .. } => {
            args["type"] = json!(kind.as_str());
            "memory"
        }
        Op::Collective { kind, bytes, group } => {
            args["type"] = json!(kind.as_str());
            args["group"] = json!(group.0);
            args["bytes"] = json!(g.carried(bytes));
            "collective"
        }
        Op::Send { to, bytes, tag } => {
            args["to"] = json!(to.0);
            args["tag"] = json!(tag);
            args["bytes"] = json!(g.carried(bytes));
            "send"
        }
        Op::Recv { from, bytes, tag } => {
            args["from"] = json!(from.0);
            args["tag"] = json!(tag);
            args["bytes"] = json!(g.carried(bytes));
            "recv"
        }
        Op::Metadata => "metadata",
    };
    json!({
        "name": n.name,
        "cat": cat,
        "ph": "X",
        "ts": micros(start),
        "dur": micros(end - start),
        "pid": pid,
        "tid": tid,
        "args": args,
    })
}

/// An arrow from each send to its receive.
fn flows(
    w: usize,
    g: &GraphWorkload,
    reports: &[&GraphStepReport],
    tids: &Tids,
    next: &mut u64,
    out: &mut Vec<Value>,
) {
    let sends = SendIndex::new(g);
    let spans: HashMap<(usize, u64, u32), (u64, u64)> = reports
        .iter()
        .flat_map(|r| {
            let (rank, step) = (r.rank, r.step.unwrap_or(0));
            r.spans
                .iter()
                .map(move |s| ((rank, step, s.node), (s.start_ns, s.end_ns)))
        })
        .collect();
    let mut recvs: Vec<(usize, u64, u32)> = spans
        .keys()
        .copied()
        .filter(|&(rank, _, node)| {
            matches!(g.graphs[rank].nodes()[node as usize].op, Op::Recv { .. })
        })
        .collect();
    recvs.sort_unstable();
    for (rank, step, node) in recvs {
        let Some((peer, send)) = sends.send_of(rank, node as usize) else {
            continue;
        };
        let (Some(&(s0, _)), Some(&(r0, r1))) = (
            spans.get(&(peer, step, send as u32)),
            spans.get(&(rank, step, node)),
        ) else {
            continue;
        };
        let (Some(&st), Some(&rt)) = (
            tids.get(&(peer, step, send as u32)),
            tids.get(&(rank, step, node)),
        ) else {
            continue;
        };
        let id = *next;
        *next += 1;
        let at = if r1 > r0 { r1 - 1 } else { r1 };
        out.push(json!({"name": "send", "cat": "p2p", "ph": "s", "id": id, "pid": pid(w, peer), "tid": st, "ts": micros(s0)}));
        out.push(json!({"name": "send", "cat": "p2p", "ph": "f", "bp": "e", "id": id, "pid": pid(w, rank), "tid": rt, "ts": micros(at)}));
    }
}
