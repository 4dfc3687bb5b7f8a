//! One rank's execution of its graph ([`RankGraph`]) over the emulated
//! network, step after step: a node starts as soon as every node it
//! depends on is done, so independent nodes run at once (a data-parallel
//! all-reduce beside the backward compute it overlaps, as PyTorch DDP's
//! buckets do), the way ASTRA-sim's workload layer issues a Chakra graph
//! (`Workload::issue_dep_free_nodes`).
//!
//! - Compute takes [`GraphWorkload::compute_time`] on the rank's one
//!   accelerator: compute nodes run one at a time, the ready one first in
//!   the graph's order (its dependency order, which for a generated job is
//!   the schedule's), so a rank's compute spans never overlap.
//! - A collective runs on its group's sub-communicator ([`Comm::view`]:
//!   the group's ranks in ring order over the workload's connections) with
//!   the algorithms of [`crate::collective`], on real bytes of the
//!   integer-valued test input, every result checked against the exact sums
//!   ([`crate::tensor`]). Memory-only node types (`MEM_LOAD`, `MEM_STORE`,
//!   invalid nodes) take their duration beside compute; metadata nodes none.
//! - A send is one tagged message to the peer; a receive waits for it and
//!   checks its length and content.
//!
//! Messages of the graph are told apart by an id: collective k of a group
//! (its place among the group's collectives in graph order, the same on
//! every member, see `chakra::check_partners`) in step s is
//! `0b10 << 62 | s << 48 | group << 28 | k << 5`, plus the algorithm's call
//! within it; the sends to one peer with one tag in step s share
//! `0b11 << 62 | s << 48 | tag << 16` and are told apart by their order.
//! The workload's own barriers (before the first step and after the last,
//! around the ring of every rank) use ids 0 and 1, below both.
//!
//! Each step is reported ([`GraphStepReport`]) with every node's span in
//! virtual nanoseconds; the launcher works the step's breakdown, the
//! timeline and the figures out of them.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;

use futures_util::stream::{FuturesUnordered, StreamExt};
use orbnet_netem::chakra::{CollectiveKind, GroupId, Op, Rank, RankGraph};
use orbnet_netem::training::{GraphWorkload, op_of};
use orbnet_netem::workload::Algorithm;
use orbnet_netem::{SimDuration, SimTime};

use crate::clock::VirtualClock;
use crate::collective::{Comm, CommError};
use crate::protocol::{Event, GraphSpan, GraphStepReport};
use crate::report::Reporter;
use crate::tensor::{self, Sums};

/// The ranks rank `rank` sends to and receives from in workload `g`.
pub(crate) fn peers(g: &GraphWorkload, rank: usize) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let pairs = g.pairs();
    let to = pairs
        .iter()
        .filter(|(a, _)| *a == rank)
        .map(|(_, b)| *b)
        .collect();
    let from = pairs
        .iter()
        .filter(|(_, b)| *b == rank)
        .map(|(a, _)| *a)
        .collect();
    (to, from)
}

/// The report of a rank that failed before its first step.
pub(crate) fn failed(workload: usize, rank: usize, sat: &str, error: String) -> Event {
    Event::GraphStep(GraphStepReport {
        workload,
        rank,
        sat: sat.to_owned(),
        verified: false,
        error: Some(error),
        ..GraphStepReport::default()
    })
}

/// Runs this rank's graph of workload `w` for every step, then closes its
/// connections.
pub(crate) async fn run(
    w: usize,
    g: &GraphWorkload,
    comm: Comm,
    clock: VirtualClock,
    emit: Reporter,
) {
    let rank = comm.rank;
    let sat = comm.name().to_owned();
    let Some(graph) = g.graphs.get(rank) else {
        return;
    };
    if let Err(e) = barrier(g, &comm, 0).await {
        emit.emit(failed(w, rank, &sat, e.to_string()));
        return;
    }
    let plan = Plan::new(g, graph);
    let mut start = clock.now();
    for step in 0..g.steps {
        let exec = Exec {
            g,
            graph,
            plan: &plan,
            comm: &comm,
            clock,
            step,
        };
        let out = exec.run().await;
        let end = clock.now();
        let failed = out.error.is_some();
        emit.emit(Event::GraphStep(GraphStepReport {
            workload: w,
            rank,
            sat: sat.clone(),
            step: Some(u64::from(step)),
            start_s: Some(start.as_secs_f64()),
            end_s: Some(end.as_secs_f64()),
            spans: out.spans,
            verified: out.verified && !failed,
            error: out.error,
        }));
        if failed {
            return;
        }
        start = end;
    }
    barrier(g, &comm, 1).await.ok();
    comm.close().await;
}

/// A barrier of every rank around the ring of all ranks, call `id`.
async fn barrier(g: &GraphWorkload, comm: &Comm, id: u64) -> Result<(), CommError> {
    let everyone: Vec<usize> = g.ring(GroupId::ALL).iter().map(|&r| r as usize).collect();
    match comm.view(&everyone, id) {
        Some(v) if everyone.len() > 1 => v.barrier().await,
        _ => Ok(()),
    }
}

/// What the nodes of one rank's graph need, worked out once.
struct Plan {
    /// How many nodes each node waits for.
    waits: Vec<usize>,
    /// The nodes waiting for each node.
    dependents: Vec<Vec<usize>>,
    /// A collective's place among its group's collectives; a send's (or
    /// receive's) among those to (from) the same peer with the same tag.
    seq: Vec<u32>,
    /// Each group's index among the workload's (for message ids).
    group_index: HashMap<GroupId, u64>,
}

impl Plan {
    fn new(g: &GraphWorkload, graph: &RankGraph) -> Plan {
        let nodes = graph.nodes();
        let mut dependents = vec![Vec::new(); nodes.len()];
        let mut waits = Vec::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            waits.push(n.deps().count());
            for d in n.deps() {
                dependents[d].push(i);
            }
        }
        let mut counts: HashMap<(u8, u32, u32), u32> = HashMap::new();
        let seq = nodes
            .iter()
            .map(|n| {
                let key = match n.op {
                    Op::Collective { group, .. } => (0, group.0, 0),
                    Op::Send { to, tag, .. } => (1, to.0, tag),
                    Op::Recv { from, tag, .. } => (2, from.0, tag),
                    _ => return 0,
                };
                let c = counts.entry(key).or_default();
                *c += 1;
                *c - 1
            })
            .collect();
        let group_index = g
            .rings
            .keys()
            .enumerate()
            .map(|(i, &k)| (k, i as u64))
            .collect();
        Plan {
            waits,
            dependents,
            seq,
            group_index,
        }
    }
}

/// What one step gave.
struct Outcome {
    spans: Vec<GraphSpan>,
    verified: bool,
    error: Option<String>,
}

/// A node running: its index, then whether its data checked out.
type Running<'a> = Pin<Box<dyn Future<Output = (usize, Result<bool, CommError>)> + Send + 'a>>;

/// One step of one rank's graph.
struct Exec<'a> {
    g: &'a GraphWorkload,
    graph: &'a RankGraph,
    plan: &'a Plan,
    comm: &'a Comm,
    clock: VirtualClock,
    step: u32,
}

impl<'a> Exec<'a> {
    /// Runs every node of the graph once, each after its dependencies.
    async fn run(&self) -> Outcome {
        let nodes = self.graph.nodes();
        let mut waits = self.plan.waits.clone();
        let mut started = vec![SimTime::ZERO; nodes.len()];
        let mut compute_ready: BTreeSet<usize> = BTreeSet::new();
        let mut computing = false;
        let mut running: FuturesUnordered<Running<'_>> = FuturesUnordered::new();
        let mut out = Outcome {
            spans: Vec::with_capacity(nodes.len()),
            verified: true,
            error: None,
        };
        let mut ready: Vec<usize> = (0..nodes.len()).filter(|&i| waits[i] == 0).collect();
        loop {
            for i in ready.drain(..) {
                if matches!(nodes[i].op, Op::Compute { .. }) {
                    compute_ready.insert(i);
                } else {
                    started[i] = self.clock.now();
                    running.push(self.node(i, started[i]));
                }
            }
            if !computing && let Some(i) = compute_ready.pop_first() {
                started[i] = self.clock.now();
                running.push(self.node(i, started[i]));
                computing = true;
            }
            let Some((i, result)) = running.next().await else {
                break;
            };
            let end = self.clock.now();
            let n = &nodes[i];
            computing &= !matches!(n.op, Op::Compute { .. });
            if n.op != Op::Metadata {
                out.spans.push(GraphSpan {
                    node: i as u32,
                    start_ns: started[i].as_nanos(),
                    end_ns: end.as_nanos(),
                });
            }
            match result {
                Ok(ok) => out.verified &= ok,
                Err(e) => {
                    out.error = Some(format!("node {} ({}): {e}", n.id, n.name));
                    return out;
                }
            }
            for &d in &self.plan.dependents[i] {
                waits[d] -= 1;
                if waits[d] == 0 {
                    ready.push(d);
                }
            }
        }
        if let Some(i) = waits.iter().position(|&w| w > 0) {
            let n = &nodes[i];
            out.error = Some(format!("node {} ({}): never became ready", n.id, n.name));
        }
        out
    }

    /// Node `i`, started at `start`.
    fn node(&self, i: usize, start: SimTime) -> Running<'a> {
        let n = &self.graph.nodes()[i];
        let this = Exec { ..*self };
        Box::pin(async move {
            let result = match n.op {
                Op::Compute { .. } | Op::Other { .. } => {
                    this.sleep(start, this.g.compute_time(&n.op)).await;
                    Ok(true)
                }
                Op::Metadata => Ok(true),
                Op::Collective { kind, bytes, group } => {
                    this.collective(i, kind, this.g.carried(bytes), group).await
                }
                Op::Send { to, bytes, tag } => this.send(i, to, this.g.carried(bytes), tag).await,
                Op::Recv { from, bytes, tag } => {
                    this.recv(i, from, this.g.carried(bytes), tag).await
                }
            };
            (i, result)
        })
    }

    async fn sleep(&self, start: SimTime, d: SimDuration) {
        if d > SimDuration::ZERO {
            tokio::time::sleep_until(self.clock.wall(start + d)).await;
        }
    }

    /// Collective `i` over `group`'s ring, on `bytes` per rank.
    async fn collective(
        &self,
        i: usize,
        kind: CollectiveKind,
        bytes: u64,
        group: GroupId,
    ) -> Result<bool, CommError> {
        let members: Vec<usize> = self.g.ring(group).iter().map(|&r| r as usize).collect();
        if members.len() < 2 {
            return Ok(true);
        }
        let index = self.plan.group_index.get(&group).copied().unwrap_or(0);
        let id = 0b10 << 62
            | u64::from(self.step) << 48
            | index << 28
            | u64::from(self.plan.seq[i]) << 5;
        let view = self.comm.view(&members, id).ok_or_else(|| {
            CommError::Task(format!(
                "rank {} is not in group {}",
                self.comm.rank, group.0
            ))
        })?;
        if kind == CollectiveKind::Barrier {
            view.barrier().await?;
            return Ok(true);
        }
        let op = op_of(kind);
        let algorithm = match kind {
            CollectiveKind::AllReduce | CollectiveKind::Broadcast => self.g.algorithm,
            _ => Algorithm::Ring,
        };
        let sums = Sums::new(self.g.dtype, members.len());
        view.run_op(op, algorithm, self.g.dtype, bytes, &sums).await
    }

    /// The id of the messages of `tag` in this step.
    fn p2p_id(&self, tag: u32) -> u64 {
        0b11 << 62 | u64::from(self.step) << 48 | u64::from(tag) << 16
    }

    /// The first element of a message: its tag and its place among the
    /// messages with that tag, so that a message taken for another fails
    /// the check.
    fn first_element(&self, i: usize, tag: u32) -> u64 {
        u64::from(tag) + u64::from(self.plan.seq[i])
    }

    async fn send(&self, i: usize, to: Rank, bytes: u64, tag: u32) -> Result<bool, CommError> {
        let dtype = self.g.dtype;
        let n = (bytes / dtype.size() as u64) as usize;
        let data = tensor::input(dtype, 2, 0, self.first_element(i, tag), n).freeze();
        let sent = self
            .comm
            .send(to.0 as usize, self.p2p_id(tag), self.plan.seq[i], 0, data);
        Comm::join(vec![sent]).await?;
        Ok(true)
    }

    async fn recv(&self, i: usize, from: Rank, bytes: u64, tag: u32) -> Result<bool, CommError> {
        let dtype = self.g.dtype;
        let from = from.0 as usize;
        let got = self
            .comm
            .recv(from, self.p2p_id(tag), self.plan.seq[i])
            .await?;
        let n = bytes / dtype.size() as u64;
        self.comm
            .expect_len(&got, n as usize * dtype.size(), from)?;
        let first = self.first_element(i, tag);
        let wrong = tensor::first_mismatch(dtype, &got, first, |k| tensor::value(dtype, 2, 0, k));
        Ok(wrong.is_none())
    }
}

#[cfg(test)]
mod tests;
