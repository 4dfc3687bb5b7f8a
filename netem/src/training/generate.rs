//! One rank's step as a [`RankGraph`]. Each pass (a forward or a backward
//! of one micro-batch, in the schedule's order) is a chain of data
//! dependencies: receive, then per layer attention compute, tensor-parallel
//! all-reduce, MLP compute (between expert all-to-alls), all-reduce, then
//! send. A pass starts after the previous pass's chain (a control
//! dependency), and a backward also uses its forward's output (a data
//! dependency). Sends and gradient all-reduces hang off the chain, so the
//! next pass does not wait for them, as with Megatron's asynchronous
//! point-to-point and DDP's gradient buckets: a rendezvous send then cannot
//! deadlock 1F1B. A pipeline message's tag is 2·micro-batch, plus 1 for a
//! gradient.

use crate::chakra::{CollectiveKind, GroupId, Op, Rank, RankGraph};
use crate::units::{Bytes, SimDuration};

use super::Job;
use super::layout::{Coords, RankGroups};
use super::schedule::{self, Pass};

/// Generates `rank`'s graph; `groups` are its communicator groups.
pub(crate) fn rank_graph(job: &Job, rank: Rank, groups: RankGroups) -> RankGraph {
    let cx = Context::new(job, rank, groups);
    let mut g = Gen {
        cx: &cx,
        graph: RankGraph::default(),
        tail: None,
        after: None,
        uses: None,
        forward_out: vec![None; cx.micro_batches as usize],
    };
    let spec = job.spec();
    let passes = schedule::passes(
        spec.plan.schedule,
        spec.plan.pp,
        cx.coords.pp,
        cx.micro_batches,
    );
    for pass in passes {
        match pass {
            Pass::Forward(mb) => g.forward(mb),
            Pass::Backward(mb) => g.backward(mb),
        }
    }
    g.graph
}

/// What every pass of one rank needs, worked out once.
struct Context {
    coords: Coords,
    groups: RankGroups,
    micro_batches: u64,
    /// The stage's layers.
    layers: std::ops::Range<u32>,
    /// Ranks of the previous and next stages (same dp and tp indices).
    prev: Option<Rank>,
    next: Option<Rank>,
    moe: bool,
    /// Bytes of a micro-batch's activations: micro_batch·seq_len·hidden·dtype.
    activation: Bytes,
    /// Bytes each all-to-all moves: the activations top_k times.
    dispatch: Bytes,
    /// Gradient bytes per layer: dense ones (data-parallel group), the
    /// rank's experts' (expert-data group); and of each embedding.
    dense_grads: Bytes,
    expert_grads: Bytes,
    embedding_grads: Bytes,
    /// FLOPs per micro-batch forward on this rank.
    attention: f64,
    mlp: f64,
    head: f64,
    /// FLOP/s sustained.
    rate: f64,
}

impl Context {
    fn new(job: &Job, rank: Rank, groups: RankGroups) -> Context {
        let s = job.spec();
        let (m, p) = (&s.model, &s.plan);
        let coords = job.coords(rank);
        let per_stage = m.layers / p.pp;
        let at = |pp| job.rank(Coords { pp, ..coords });
        let tokens = s.batch.micro_batch as f64 * m.seq_len as f64;
        let tp = f64::from(p.tp);
        let dsize = m.dtype.size() as f64;
        let activation = s.batch.micro_batch.saturating_mul(m.seq_len);
        let activation = activation.saturating_mul(m.hidden);
        let activation = activation.saturating_mul(m.dtype.size() as u64);
        let local_experts = m.expert_count() / f64::from(p.ep);
        let bytes = |params: f64| Bytes((params / tp * dsize).round() as u64);
        let (dense, expert) = if m.experts.is_some() {
            let dense = m.attention_params() + m.router_params();
            (dense, local_experts * m.expert_params())
        } else {
            (m.attention_params() + m.expert_params(), 0.0)
        };
        Context {
            coords,
            groups,
            micro_batches: job.micro_batches(),
            layers: coords.pp * per_stage..(coords.pp + 1) * per_stage,
            prev: (coords.pp > 0).then(|| at(coords.pp - 1)),
            next: (coords.pp + 1 < p.pp).then(|| at(coords.pp + 1)),
            moe: m.experts.is_some(),
            activation: Bytes(activation),
            dispatch: Bytes((activation as f64 * m.active_experts()).round() as u64),
            dense_grads: bytes(dense),
            expert_grads: bytes(expert),
            embedding_grads: bytes(m.embedding_params()),
            attention: tokens * m.attention_forward_flops() / tp,
            mlp: tokens * m.mlp_forward_flops() / tp,
            head: tokens * m.head_forward_flops() / tp,
            rate: s.accelerator.peak_flops * s.accelerator.utilization,
        }
    }

    fn is_first_stage(&self) -> bool {
        self.prev.is_none()
    }

    fn is_last_stage(&self) -> bool {
        self.next.is_none()
    }

    fn is_last_micro_batch(&self, mb: u64) -> bool {
        mb + 1 == self.micro_batches
    }
}

/// The graph as it is built.
struct Gen<'a> {
    cx: &'a Context,
    graph: RankGraph,
    /// The last node of the current pass's chain.
    tail: Option<usize>,
    /// The previous pass's last node: the next pass's first node runs after it.
    after: Option<usize>,
    /// A node the next pass's first node uses (its forward's output).
    uses: Option<usize>,
    /// The last node of each micro-batch's forward.
    forward_out: Vec<Option<usize>>,
}

impl Gen<'_> {
    /// Starts a pass that uses node `uses` (if any).
    fn begin(&mut self, uses: Option<usize>) {
        if let Some(t) = self.tail.take() {
            self.after = Some(t);
        }
        self.uses = uses;
    }

    /// Appends `op` to the pass's chain.
    fn chain(&mut self, name: String, op: Op) -> usize {
        let (data, ctrl) = match self.tail {
            Some(t) => (vec![t], Vec::new()),
            None => {
                let data: Vec<usize> = self.uses.take().into_iter().collect();
                let ctrl = self.after.take().filter(|a| !data.contains(a));
                (data, ctrl.into_iter().collect())
            }
        };
        let at = self.graph.push(name, op, data, ctrl);
        self.tail = Some(at);
        at
    }

    /// Appends `op` after node `after`, off the chain.
    fn side(&mut self, name: String, op: Op, after: Option<usize>) {
        self.graph
            .push(name, op, after.into_iter().collect(), Vec::new());
    }

    fn compute(&mut self, name: String, flops: f64) -> usize {
        let op = Op::Compute {
            duration: SimDuration::from_secs_f64(flops / self.cx.rate),
            flops: Some(flops.round() as u64),
        };
        self.chain(name, op)
    }

    /// A collective on the chain, unless `group` is `None` (one rank).
    fn collective(
        &mut self,
        name: String,
        kind: CollectiveKind,
        bytes: Bytes,
        group: Option<GroupId>,
    ) {
        if let Some(group) = group {
            self.chain(name, Op::Collective { kind, bytes, group });
        }
    }

    /// The gradient all-reduce of `bytes` over `group`, after node `after`.
    fn gradients(&mut self, name: String, bytes: Bytes, group: Option<GroupId>, after: usize) {
        if let Some(group) = group {
            let op = Op::Collective {
                kind: CollectiveKind::AllReduce,
                bytes,
                group,
            };
            self.side(name, op, Some(after));
        }
    }

    fn forward(&mut self, mb: u64) {
        let cx = self.cx;
        self.begin(None);
        if let Some(from) = cx.prev {
            let bytes = cx.activation;
            let tag = tag(mb, false);
            self.chain(format!("mb{mb}.fwd.recv"), Op::Recv { from, bytes, tag });
        }
        for layer in cx.layers.clone() {
            self.layer_forward(mb, layer);
        }
        if cx.is_last_stage() {
            self.compute(format!("mb{mb}.fwd.head"), cx.head);
        }
        self.forward_out[mb as usize] = self.tail;
        if let Some(to) = cx.next {
            let op = Op::Send {
                to,
                bytes: cx.activation,
                tag: tag(mb, false),
            };
            self.side(format!("mb{mb}.fwd.send"), op, self.tail);
        }
    }

    fn layer_forward(&mut self, mb: u64, layer: u32) {
        let cx = self.cx;
        let at = format!("mb{mb}.fwd.layer{layer}");
        let ar = CollectiveKind::AllReduce;
        self.compute(format!("{at}.attention"), cx.attention);
        self.collective(
            format!("{at}.tp-allreduce1"),
            ar,
            cx.activation,
            cx.groups.tp,
        );
        self.all_to_all(format!("{at}.ep-dispatch"));
        self.compute(format!("{at}.mlp"), cx.mlp);
        self.all_to_all(format!("{at}.ep-combine"));
        self.collective(
            format!("{at}.tp-allreduce2"),
            ar,
            cx.activation,
            cx.groups.tp,
        );
    }

    fn all_to_all(&mut self, name: String) {
        if self.cx.moe {
            let (bytes, group) = (self.cx.dispatch, self.cx.groups.ep);
            self.collective(name, CollectiveKind::AllToAll, bytes, group);
        }
    }

    fn backward(&mut self, mb: u64) {
        let cx = self.cx;
        let forward = self.forward_out.get(mb as usize).copied().flatten();
        self.begin(forward);
        if let Some(from) = cx.next {
            let bytes = cx.activation;
            let tag = tag(mb, true);
            self.chain(format!("mb{mb}.bwd.recv"), Op::Recv { from, bytes, tag });
        }
        let last = cx.is_last_micro_batch(mb);
        if cx.is_last_stage() {
            let head = self.compute(format!("mb{mb}.bwd.head"), 2.0 * cx.head);
            if last {
                let g = cx.groups.dp;
                self.gradients("dp-allreduce.head".into(), cx.embedding_grads, g, head);
            }
        }
        for layer in cx.layers.clone().rev() {
            self.layer_backward(mb, layer, last);
        }
        if let (true, Some(tail)) = (last && cx.is_first_stage(), self.tail) {
            let (bytes, g) = (cx.embedding_grads, cx.groups.dp);
            self.gradients("dp-allreduce.embedding".into(), bytes, g, tail);
        }
        if let Some(to) = cx.prev {
            let op = Op::Send {
                to,
                bytes: cx.activation,
                tag: tag(mb, true),
            };
            self.side(format!("mb{mb}.bwd.send"), op, self.tail);
        }
    }

    /// Backward of `layer`; after the step's last micro-batch (`last`),
    /// its gradients go to the data-parallel all-reduces.
    fn layer_backward(&mut self, mb: u64, layer: u32, last: bool) {
        let cx = self.cx;
        let at = format!("mb{mb}.bwd.layer{layer}");
        let ar = CollectiveKind::AllReduce;
        self.all_to_all(format!("{at}.ep-combine"));
        let mlp = self.compute(format!("{at}.mlp"), 2.0 * cx.mlp);
        self.all_to_all(format!("{at}.ep-dispatch"));
        self.collective(
            format!("{at}.tp-allreduce2"),
            ar,
            cx.activation,
            cx.groups.tp,
        );
        let attention = self.compute(format!("{at}.attention"), 2.0 * cx.attention);
        self.collective(
            format!("{at}.tp-allreduce1"),
            ar,
            cx.activation,
            cx.groups.tp,
        );
        if last {
            if cx.moe {
                let name = format!("edp-allreduce.layer{layer}.experts");
                self.gradients(name, cx.expert_grads, cx.groups.edp, mlp);
            }
            let name = format!("dp-allreduce.layer{layer}");
            self.gradients(name, cx.dense_grads, cx.groups.dp, attention);
        }
    }
}

/// The tag of micro-batch `mb`'s activations (or, `gradient`, their gradients).
fn tag(mb: u64, gradient: bool) -> u32 {
    u32::try_from(2 * mb + u64::from(gradient)).unwrap_or(u32::MAX)
}
