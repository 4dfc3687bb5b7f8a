//! A workload of per-rank execution graphs, as a scenario holds it: every
//! rank's [`RankGraph`] (read from Chakra traces, or generated from a model
//! and a plan), the communicator groups, the satellite each rank runs on,
//! and how its nodes take time.
//!
//! Each rank runs its graph `steps` times back to back; a node starts when
//! its dependencies are done. A compute node takes `duration_micros` ×
//! `compute_scale` ([`ComputeModel::Duration`]) or its FLOPs over the
//! accelerator's sustained rate, peak × utilization
//! ([`ComputeModel::Flops`]); collectives and sends move
//! ⌈bytes / `payload_divisor`⌉ real bytes, rounded up to whole elements.
//! A divisor k over links k times slower takes the same transfer time,
//! n/R = (n/k)/(R/k) (only per-packet terms, one MTU's serialization per
//! hop, grow k-fold): it lets a large model's gradients cross a
//! constellation in-process without holding them in memory.
//!
//! A collective of group g runs around the ring of g's members in the
//! order [`crate::collective::ring_order`] gives their satellites at the
//! workload's start, so that ring steps follow physical neighbours; its
//! rank 0 (a broadcast's root) is the first of that ring.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::chakra::{CollectiveKind, CommGroups, GroupId, Op, RankGraph};
use crate::units::{Bytes, SatId, SimDuration, SimTime};
use crate::workload::{Algorithm, DType, Transport};

use super::Job;

/// Where a graph workload's graphs came from.
#[derive(Clone, Debug, PartialEq)]
pub enum GraphSource {
    /// Chakra traces `<prefix>.<rank>.et`, the prefix as the scenario
    /// writes it (relative to the scenario file).
    Trace {
        prefix: String,
        comm_groups: Option<String>,
    },
    /// A generated training job.
    Model { job: Job, placement: Placement },
}

crate::named! {
    /// How a model's ranks are put on satellites.
    pub enum Placement {
        /// Tensor-parallel groups on the nearest satellites, pipeline
        /// stages along short paths.
        Compact = "compact",
        /// Each tensor-parallel group spread around the ring of satellites.
        Spread = "spread",
    }
}

/// How a compute node takes time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ComputeModel {
    /// `duration_micros` × `scale`.
    Duration { scale: f64 },
    /// FLOPs (`num_ops`) over this many FLOP/s.
    Flops { rate: f64 },
}

/// Per-rank graphs run over the constellation.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphWorkload {
    pub source: GraphSource,
    /// Every rank's graph, by rank (shared: each satellite holds the workload).
    pub graphs: Arc<[RankGraph]>,
    pub groups: CommGroups,
    /// The satellite of each rank.
    pub ranks: Vec<SatId>,
    pub compute: ComputeModel,
    pub payload_divisor: u64,
    /// Element type of the tensors collectives and sends carry.
    pub dtype: DType,
    /// How all-reduces (and broadcasts) move their data.
    pub algorithm: Algorithm,
    pub steps: u32,
    pub transport: Transport,
    pub start: SimTime,
    pub timeout: Option<SimDuration>,
    /// Each group's ranks in ring order, every group a graph names
    /// ([`GroupId::ALL`] included).
    pub rings: BTreeMap<GroupId, Vec<u32>>,
}

impl GraphWorkload {
    /// The time compute op `op` takes (zero for a node that is not one).
    pub fn compute_time(&self, op: &Op) -> SimDuration {
        match (op, self.compute) {
            (Op::Compute { duration, .. }, ComputeModel::Duration { scale }) => {
                SimDuration::from_secs_f64(duration.as_secs_f64() * scale)
            }
            (Op::Compute { flops, .. }, ComputeModel::Flops { rate }) => {
                SimDuration::from_secs_f64(flops.unwrap_or(0) as f64 / rate)
            }
            (Op::Other { duration, .. }, _) => *duration,
            _ => SimDuration::ZERO,
        }
    }

    /// The bytes a message of `bytes` carries: divided by the payload
    /// divisor, rounded up to whole elements.
    pub fn carried(&self, bytes: Bytes) -> u64 {
        let elem = self.dtype.size() as u64;
        bytes.0.div_ceil(self.payload_divisor.max(1)).div_ceil(elem) * elem
    }

    /// The ring of `group`'s ranks (empty for a group no graph names).
    pub fn ring(&self, group: GroupId) -> &[u32] {
        self.rings.get(&group).map_or(&[], Vec::as_slice)
    }

    /// Every directed pair of ranks (sender, receiver) that exchange a
    /// message: the rings of the groups for their collectives' algorithms,
    /// sends, and the ring of all ranks (barriers at the start and end).
    pub fn pairs(&self) -> BTreeSet<(usize, usize)> {
        let mut out = BTreeSet::new();
        let mut used: BTreeSet<(GroupId, crate::workload::Op)> = BTreeSet::new();
        used.insert((GroupId::ALL, crate::workload::Op::SendRecv));
        for (r, g) in self.graphs.iter().enumerate() {
            for n in g.nodes() {
                match n.op {
                    Op::Collective { kind, group, .. } => {
                        used.insert((group, op_of(kind)));
                    }
                    Op::Send { to, .. } => {
                        out.insert((r, to.0 as usize));
                    }
                    _ => {}
                }
            }
        }
        for (group, op) in used {
            let ring = self.ring(group);
            let algorithm = match op {
                crate::workload::Op::AllReduce | crate::workload::Op::Broadcast => self.algorithm,
                _ => Algorithm::Ring,
            };
            for (a, b) in crate::collective::pairs(op, algorithm, ring.len()) {
                if let (Some(&a), Some(&b)) = (ring.get(a), ring.get(b)) {
                    out.insert((a as usize, b as usize));
                }
            }
        }
        out.retain(|(a, b)| a != b);
        out
    }

    /// The largest message a rank sends whole: a ring step's part of a
    /// collective, or a send (for the transport's windows).
    pub fn largest_message(&self) -> u64 {
        let mut largest = 0;
        for n in self.graphs.iter().flat_map(|g| g.nodes()) {
            let m = match n.op {
                Op::Collective { kind, bytes, group } => {
                    let p = self.ring(group).len();
                    let carried = self.carried(bytes);
                    crate::collective::ring_message(op_of(kind), self.algorithm, p, carried)
                        .unwrap_or(carried)
                }
                Op::Send { bytes, .. } => self.carried(bytes),
                _ => 0,
            };
            largest = largest.max(m);
        }
        largest
    }

    /// Tokens a step trains on (model workloads only).
    pub fn tokens_per_step(&self) -> Option<u64> {
        match &self.source {
            GraphSource::Model { job, .. } => Some(job.figures().tokens_per_step),
            GraphSource::Trace { .. } => None,
        }
    }

    /// The model FLOPs of a step over every rank: the model's
    /// (Kaplan et al.'s 6N plus attention, per token), or the trace's
    /// compute nodes' `num_ops` summed when every one has them.
    pub fn flops_per_step(&self) -> Option<f64> {
        if let GraphSource::Model { job, .. } = &self.source {
            let f = job.figures();
            return Some(f.flops_per_token * f.tokens_per_step as f64);
        }
        let mut total = 0.0;
        for n in self.graphs.iter().flat_map(|g| g.nodes()) {
            if let Op::Compute { flops, .. } = n.op {
                total += flops? as f64;
            }
        }
        (total > 0.0).then_some(total)
    }
}

/// The collective workload operation a Chakra collective runs as.
pub fn op_of(kind: CollectiveKind) -> crate::workload::Op {
    use crate::workload::Op as W;
    match kind {
        CollectiveKind::AllReduce => W::AllReduce,
        CollectiveKind::ReduceScatter => W::ReduceScatter,
        CollectiveKind::AllGather => W::AllGather,
        CollectiveKind::Broadcast => W::Broadcast,
        CollectiveKind::AllToAll => W::AllToAll,
        // A token twice around the ring.
        CollectiveKind::Barrier => W::SendRecv,
    }
}
