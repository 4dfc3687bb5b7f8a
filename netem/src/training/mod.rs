//! A training job as every rank's work: a transformer, a batch and a
//! parallelism plan (data `dp`, tensor `tp`, pipeline `pp`, expert `ep`)
//! become one [`RankGraph`] per rank, the type a Chakra trace reads into, so
//! a generated job can be written as `<prefix>.<rank>.et` files with the
//! [`CommGroups`] JSON beside them, and a simulator takes both alike.
//!
//! Compute (Kaplan et al., "Scaling laws for neural language models", 2020,
//! §2.1, Table 1): per token, forward costs 2 FLOPs per parameter it uses
//! plus 2·seq_len·hidden per layer for attention scores; backward costs
//! twice forward. A layer holds 4·hidden² attention parameters (Q, K, V,
//! output) and 2·hidden·ffn per MLP (or per expert); the output projection
//! holds vocab·hidden, the input embedding (a lookup, no FLOPs) as many
//! again (untied). Every compute is split evenly over the `tp` ranks of a
//! tensor-parallel group and runs at peak × utilization of the accelerator.
//!
//! Communication (Narayanan et al., "Efficient large-scale language model
//! training on GPU clusters using Megatron-LM", SC'21, §2.3 and Shoeybi et
//! al., "Megatron-LM", 2019, §3): tensor parallelism all-reduces the
//! activations, micro_batch·seq_len·hidden·dtype bytes, after attention and
//! after the MLP forward, and the same two gradients backward. Pipeline
//! stages send those activations forward and their gradients backward,
//! in 1F1B order (Narayanan et al., §2.2.1: warm-up forwards, then one
//! forward and one backward, then cool-down backwards) or GPipe order (Huang
//! et al., NeurIPS 2019: every forward, then every backward). Either way the
//! pipeline bubble is (p−1)/(m+p−1) of a step with m micro-batches. Data
//! parallelism all-reduces each layer's gradients (params/tp·dtype bytes)
//! as soon as the last micro-batch's backward has produced them, overlapping
//! the rest of backward (PyTorch DDP's buckets, Li et al., VLDB 2020); with
//! experts, dense gradients over the data-parallel group and expert
//! gradients over the ranks holding the same experts. A mixture-of-experts
//! layer (every layer, when `experts` is given; top_k 1 by default, as in
//! Switch, Fedus et al. 2021) all-to-alls its tokens to the experts and back
//! forward, and again backward (GShard, Lepikhin et al., 2020), over `ep`
//! ranks of the data-parallel dimension that split the experts between them.
//!
//! Ranks are numbered tensor-parallel fastest, then pipeline, then data:
//! `rank = dp_index·(pp·tp) + pp_index·tp + tp_index`, Megatron-Core's
//! order "tp-cp-pp-ep-dp" with cp = 1 (its default, "tp-cp-ep-dp-pp", puts
//! the pipeline outermost instead). Expert groups are `ep` consecutive
//! data-parallel indices.

mod check;
mod flops;
mod generate;
mod layout;
mod placement;
mod schedule;
#[cfg(test)]
mod tests;
mod workload;

use crate::chakra::{CommGroups, Rank, RankGraph};
use crate::units::SimDuration;
use crate::workload::{Accelerator, DType};
pub use layout::Coords;
#[cfg(test)]
pub(crate) use placement::place;
pub use workload::{ComputeModel, GraphSource, GraphWorkload, Placement, op_of};

/// The transformer.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub layers: u32,
    pub hidden: u64,
    pub heads: u32,
    /// Width of the MLP's inner layer (4·hidden in GPT-3).
    pub ffn: u64,
    pub seq_len: u64,
    pub vocab: u64,
    pub dtype: DType,
    /// Experts per layer; every layer is a mixture of experts when given.
    pub experts: Option<u32>,
    /// Experts each token goes to (default 1).
    pub top_k: Option<u32>,
}

/// The samples of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Samples per micro-batch.
    pub micro_batch: u64,
    /// Samples per step over all data-parallel replicas.
    pub global_batch: u64,
}

crate::named! {
    /// The order of a pipeline stage's forwards and backwards.
    pub enum Schedule {
        /// One forward, one backward (PipeDream-Flush, Megatron's default).
        OneFOneB = "1f1b",
        /// All forwards, then all backwards.
        GPipe = "gpipe",
    }
}

/// How the ranks split the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub dp: u32,
    pub tp: u32,
    pub pp: u32,
    /// Expert parallelism, within the data-parallel dimension.
    pub ep: u32,
    pub schedule: Schedule,
}

/// Everything a training job is made from, before it is checked.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec {
    pub model: Model,
    pub batch: Batch,
    pub plan: Plan,
    pub accelerator: Accelerator,
    /// The ranks the job runs on.
    pub ranks: u32,
}

/// A job refused: the key at fault and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct PlanError {
    pub key: &'static str,
    pub reason: String,
}

/// A checked training job.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    spec: JobSpec,
    micro_batches: u64,
}

/// The analytic figures of a job, to hand-check a run against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figures {
    /// Parameters of the model (all experts, embedding and output).
    pub params: f64,
    /// Forward and backward FLOPs per token (Kaplan et al.'s 6N + 6·layers·seq_len·hidden).
    pub flops_per_token: f64,
    pub tokens_per_step: u64,
    /// Micro-batches per pipeline per step (m).
    pub micro_batches: u64,
    /// (p−1)/(m+p−1): the share of a step a stage waits in the pipeline.
    pub bubble_fraction: f64,
    /// Tokens/s with every rank computing at its sustained rate and nothing else.
    pub ideal_tokens_per_sec: f64,
    /// A step's compute spread over every rank, with no bubble and no communication.
    pub ideal_step: SimDuration,
    /// `ideal_step` / (1 − bubble): the step with the pipeline's bubble.
    pub pipelined_step: SimDuration,
}

impl Job {
    /// Checks `spec`; the error names the key at fault.
    pub fn new(spec: JobSpec) -> Result<Job, PlanError> {
        let micro_batches = check::check(&spec)?;
        Ok(Job {
            spec,
            micro_batches,
        })
    }

    pub fn spec(&self) -> &JobSpec {
        &self.spec
    }

    /// Micro-batches per pipeline per step: global_batch / (dp·micro_batch).
    pub fn micro_batches(&self) -> u64 {
        self.micro_batches
    }

    /// The rank at `coords`.
    pub fn rank(&self, coords: Coords) -> Rank {
        self.layout().rank(coords)
    }

    /// Where `rank` sits in the plan.
    pub fn coords(&self, rank: Rank) -> Coords {
        self.layout().coords(rank)
    }

    /// The tensor-parallel, data-parallel and expert groups, numbered from 1
    /// (groups of one rank are left out).
    pub fn comm_groups(&self) -> CommGroups {
        self.layout().groups().0
    }

    /// The work of `rank` for one step; `None` past the last rank.
    pub fn rank_graph(&self, rank: Rank) -> Option<RankGraph> {
        let (_, of) = self.layout().groups();
        let groups = of.get(rank.0 as usize).copied()?;
        Some(generate::rank_graph(self, rank, groups))
    }

    /// The work of every rank for one step, by rank.
    pub fn rank_graphs(&self) -> Vec<RankGraph> {
        let (_, of) = self.layout().groups();
        (0..self.spec.ranks)
            .zip(of)
            .map(|(r, g)| generate::rank_graph(self, Rank(r), g))
            .collect()
    }

    /// The analytic figures of the job.
    pub fn figures(&self) -> Figures {
        let s = &self.spec;
        let flops_per_token = s.model.training_flops_per_token();
        let tokens_per_step = s.batch.global_batch.saturating_mul(s.model.seq_len);
        let rate = f64::from(s.ranks) * s.accelerator.peak_flops * s.accelerator.utilization;
        let bubble = bubble_fraction(s.plan.pp, self.micro_batches);
        let ideal = flops_per_token * tokens_per_step as f64 / rate;
        Figures {
            params: s.model.params(),
            flops_per_token,
            tokens_per_step,
            micro_batches: self.micro_batches,
            bubble_fraction: bubble,
            ideal_tokens_per_sec: rate / flops_per_token,
            ideal_step: SimDuration::from_secs_f64(ideal),
            pipelined_step: SimDuration::from_secs_f64(ideal / (1.0 - bubble)),
        }
    }

    /// The satellite of every rank: `candidates` (one per rank, in ring
    /// order at the start) arranged by `placement` over `snapshot`.
    pub fn place(
        &self,
        placement: Placement,
        snapshot: &crate::topology::Snapshot,
        candidates: &[crate::units::SatId],
    ) -> Vec<crate::units::SatId> {
        placement::place(placement, &self.spec.plan, snapshot, candidates)
    }

    fn layout(&self) -> layout::Layout {
        layout::Layout::new(&self.spec.plan, self.spec.model.experts.is_some())
    }
}

/// The pipeline bubble of `stages` stages and `micro_batches` micro-batches
/// as a share of the step: (p−1)/(m+p−1) (Narayanan et al., SC'21, §2.2.1:
/// (p−1)/m of the ideal time, for 1F1B and GPipe alike).
pub fn bubble_fraction(stages: u32, micro_batches: u64) -> f64 {
    let p = f64::from(stages.max(1));
    let m = micro_batches.max(1) as f64;
    (p - 1.0) / (m + p - 1.0)
}
