//! One rank's work as typed operations with their dependencies: what a
//! Chakra trace means, checked. Node types map as ASTRA-sim's `Workload.cc`
//! issues them: `COMP_NODE` → [`Op::Compute`] for `duration_micros`
//! (`num_ops` kept as its FLOPs), `COMM_COLL_NODE` → [`Op::Collective`] of
//! `comm_size` bytes on communicator group `pg_name` ("" or "0": all
//! ranks; with `is_cpu_op` set, the host side of a collective in a PyTorch
//! trace, [`OtherKind::HostCollective`], which takes its duration),
//! `COMM_SEND_NODE`/`COMM_RECV_NODE` → [`Op::Send`]/[`Op::Recv`]
//! (`comm_dst`/`comm_src`, `comm_size`, `comm_tag`), `METADATA_NODE` → a
//! no-op, `INVALID_NODE`, `MEM_LOAD_NODE` and `MEM_STORE_NODE` →
//! [`Op::Other`] taking their `duration_micros`. Collectives are those
//! ASTRA-sim runs or replays (all-reduce, reduce-scatter, all-gather,
//! all-to-all, broadcast) and barrier; REDUCE, GATHER, SCATTER and
//! REDUCE_SCATTER_BLOCK are refused, as ASTRA-sim does.
//!
//! A [`RankGraph`] holds its nodes in an order where every dependency comes
//! first (see `order`), so it has no cycle and no dangling reference.

use std::collections::HashMap;

use super::et_def::attribute_proto::Value;
use super::et_def::{CollectiveCommType, GlobalMetadata, Node, NodeType};
use super::trace::Trace;
use super::{ChakraError, Problem, attrs, order};
use crate::units::{Bytes, SimDuration};

/// A rank of a job: its index from 0, the `<rank>` of `<prefix>.<rank>.et`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rank(pub u32);

/// A communicator group: a key of the comm-group file, or [`GroupId::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u32);

impl GroupId {
    /// Every rank of the job (`pg_name` "" or "0"; ASTRA-sim reserves id 0).
    pub const ALL: GroupId = GroupId(0);
}

crate::named! {
    /// A collective a rank graph may hold, by its Chakra name.
    pub enum CollectiveKind {
        AllReduce = "ALL_REDUCE",
        ReduceScatter = "REDUCE_SCATTER",
        AllGather = "ALL_GATHER",
        Broadcast = "BROADCAST",
        AllToAll = "ALL_TO_ALL",
        Barrier = "BARRIER",
    }
}

crate::named! {
    /// A node that takes time but is neither compute nor communication.
    pub enum OtherKind {
        /// ASTRA-sim skips these without waiting.
        Invalid = "INVALID_NODE",
        MemLoad = "MEM_LOAD_NODE",
        MemStore = "MEM_STORE_NODE",
        /// The host side of a collective (`is_cpu_op` true):
        /// PyTorch traces hold one (`c10d::allreduce_`) beside the GPU kernel
        /// node that does the communication. ASTRA-sim refuses them.
        HostCollective = "COMM_COLL_NODE (is_cpu_op)",
    }
}

crate::named! {
    /// Whether a node also waits for its `ctrl_deps` (ASTRA-sim's feeder_v3
    /// does) or only for its `data_deps` (Chakra's own feeder does).
    pub enum CtrlDeps {
        Honour = "honour",
        Ignore = "ignore",
    }
}

/// What a node does.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Runs on the accelerator for `duration`; `flops` when the trace says.
    Compute {
        duration: SimDuration,
        flops: Option<u64>,
    },
    /// A collective of `bytes` per rank over `group`.
    Collective {
        kind: CollectiveKind,
        bytes: Bytes,
        group: GroupId,
    },
    /// Sends `bytes` to rank `to`, matched by `tag`.
    Send { to: Rank, bytes: Bytes, tag: u32 },
    /// Receives `bytes` from rank `from`, matched by `tag`.
    Recv { from: Rank, bytes: Bytes, tag: u32 },
    /// Describes the trace; does nothing.
    Metadata,
    /// Takes `duration` (memory transfers; invalid nodes take theirs too).
    Other {
        kind: OtherKind,
        duration: SimDuration,
    },
}

/// A node of a [`RankGraph`].
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    /// The node's id in its trace.
    pub id: u64,
    pub name: String,
    pub op: Op,
    /// Indices (into [`RankGraph::nodes`], all below this node's) of the
    /// nodes whose results this one uses.
    pub data_deps: Vec<usize>,
    /// Indices of the nodes this one runs after without using their results.
    pub ctrl_deps: Vec<usize>,
}

impl GraphNode {
    /// Data then control dependencies.
    pub fn deps(&self) -> impl Iterator<Item = usize> + '_ {
        self.data_deps.iter().chain(&self.ctrl_deps).copied()
    }
}

/// One rank's operations, each after all it depends on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RankGraph {
    nodes: Vec<GraphNode>,
}

impl RankGraph {
    /// Reads a decoded trace, honouring its control dependencies; `file`
    /// names it in errors.
    pub fn from_trace(trace: &Trace, file: &str) -> Result<RankGraph, ChakraError> {
        RankGraph::from_trace_with(trace, file, CtrlDeps::Honour)
    }

    /// Reads a decoded trace, with its control dependencies or without.
    pub fn from_trace_with(
        trace: &Trace,
        file: &str,
        ctrl: CtrlDeps,
    ) -> Result<RankGraph, ChakraError> {
        let fail = |problem| ChakraError::new(file, problem);
        let index = index_ids(&trace.nodes).map_err(fail)?;
        let mut read = Vec::with_capacity(trace.nodes.len());
        for node in &trace.nodes {
            let mut n = read_node(node, &index).map_err(fail)?;
            if ctrl == CtrlDeps::Ignore {
                n.ctrl_deps.clear();
            }
            read.push(n);
        }
        let order = dependency_order(&read).map_err(fail)?;
        let mut position = vec![0; read.len()];
        for (to, &from) in order.iter().enumerate() {
            position[from] = to;
        }
        let mut slots: Vec<Option<GraphNode>> = read.into_iter().map(Some).collect();
        let nodes = order
            .iter()
            .filter_map(|&i| slots[i].take())
            .map(|mut n| {
                for d in n.data_deps.iter_mut().chain(&mut n.ctrl_deps) {
                    *d = position[*d];
                }
                n
            })
            .collect();
        Ok(RankGraph { nodes })
    }

    /// The trace of this graph, in the attribute types Chakra's feeder reads.
    pub fn to_trace(&self) -> Trace {
        let ids = |deps: &[usize]| deps.iter().map(|&d| self.nodes[d].id).collect();
        let nodes = self
            .nodes
            .iter()
            .map(|n| {
                let mut node = write_op(&n.op);
                node.id = n.id;
                node.name.clone_from(&n.name);
                node.data_deps = ids(&n.data_deps);
                node.ctrl_deps = ids(&n.ctrl_deps);
                node
            })
            .collect();
        Trace {
            metadata: GlobalMetadata {
                version: "0.0.4".into(),
                attr: Vec::new(),
            },
            nodes,
        }
    }

    /// The nodes, each after every node it depends on.
    pub fn nodes(&self) -> &[GraphNode] {
        &self.nodes
    }

    /// Appends a node with id = its index; dependencies must be earlier
    /// nodes. Returns its index.
    pub(crate) fn push(
        &mut self,
        name: String,
        op: Op,
        data_deps: Vec<usize>,
        ctrl_deps: Vec<usize>,
    ) -> usize {
        let at = self.nodes.len();
        debug_assert!(data_deps.iter().chain(&ctrl_deps).all(|&d| d < at));
        self.nodes.push(GraphNode {
            id: at as u64,
            name,
            op,
            data_deps,
            ctrl_deps,
        });
        at
    }
}

/// An order of `nodes` (with deps as file positions) in which each comes
/// after its dependencies; a cycle is refused, saying whether it goes
/// through control dependencies only.
fn dependency_order(nodes: &[GraphNode]) -> Result<Vec<usize>, Problem> {
    let deps: Vec<Vec<usize>> = nodes.iter().map(|n| n.deps().collect()).collect();
    order::topological(&deps).map_err(|at| {
        let data: Vec<Vec<usize>> = nodes.iter().map(|n| n.data_deps.clone()).collect();
        match order::topological(&data) {
            Ok(_) => Problem::CtrlCycle { node: nodes[at].id },
            Err(at) => Problem::Cycle { node: nodes[at].id },
        }
    })
}

/// Node id → position in the file; refuses a repeated id.
fn index_ids(nodes: &[Node]) -> Result<HashMap<u64, usize>, Problem> {
    let mut index = HashMap::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        if index.insert(n.id, i).is_some() {
            return Err(Problem::DuplicateNode { node: n.id });
        }
    }
    Ok(index)
}

/// A node with its dependencies as file positions; control dependencies
/// on absent nodes are dropped, repeated ones kept once.
fn read_node(node: &Node, index: &HashMap<u64, usize>) -> Result<GraphNode, Problem> {
    let mut data_deps = Vec::with_capacity(node.data_deps.len());
    for &dep in &node.data_deps {
        let &at = index
            .get(&dep)
            .ok_or(Problem::MissingDependency { node: node.id, dep })?;
        if !data_deps.contains(&at) {
            data_deps.push(at);
        }
    }
    let mut ctrl_deps = Vec::new();
    for at in node.ctrl_deps.iter().filter_map(|d| index.get(d).copied()) {
        if !ctrl_deps.contains(&at) && !data_deps.contains(&at) {
            ctrl_deps.push(at);
        }
    }
    Ok(GraphNode {
        id: node.id,
        name: node.name.clone(),
        op: read_op(node)?,
        data_deps,
        ctrl_deps,
    })
}

/// The operation of a node, from its type and attributes.
fn read_op(node: &Node) -> Result<Op, Problem> {
    let ty = NodeType::try_from(node.r#type).map_err(|_| Problem::UnknownNodeType {
        node: node.id,
        value: node.r#type,
    })?;
    let duration = SimDuration::from_micros(node.duration_micros);
    let bytes = || attrs::required(node, "comm_size").map(Bytes);
    let tag = || attrs::required_u32(node, "comm_tag");
    Ok(match ty {
        NodeType::CompNode => Op::Compute {
            duration,
            flops: attrs::integer(node, "num_ops")?,
        },
        NodeType::CommCollNode if is_cpu_op(node)? => other(OtherKind::HostCollective, duration),
        NodeType::CommCollNode => Op::Collective {
            kind: collective_kind(node)?,
            bytes: bytes()?,
            group: group(node)?,
        },
        NodeType::CommSendNode => Op::Send {
            to: Rank(attrs::required_u32(node, "comm_dst")?),
            bytes: bytes()?,
            tag: tag()?,
        },
        NodeType::CommRecvNode => Op::Recv {
            from: Rank(attrs::required_u32(node, "comm_src")?),
            bytes: bytes()?,
            tag: tag()?,
        },
        NodeType::MetadataNode => Op::Metadata,
        NodeType::InvalidNode => other(OtherKind::Invalid, duration),
        NodeType::MemLoadNode => other(OtherKind::MemLoad, duration),
        NodeType::MemStoreNode => other(OtherKind::MemStore, duration),
    })
}

fn other(kind: OtherKind, duration: SimDuration) -> Op {
    Op::Other { kind, duration }
}

/// Whether `is_cpu_op` is set (a bool, or an integer as some writers use).
fn is_cpu_op(node: &Node) -> Result<bool, Problem> {
    Ok(attrs::integer(node, "is_cpu_op")?.is_some_and(|v| v != 0))
}

/// The `comm_type` of a collective node, refused by name if unsupported.
fn collective_kind(node: &Node) -> Result<CollectiveKind, Problem> {
    use CollectiveCommType as C;
    let value = attrs::required(node, "comm_type")?;
    let ty = i32::try_from(value)
        .ok()
        .and_then(|v| C::try_from(v).ok())
        .ok_or(Problem::UnknownCollective {
            node: node.id,
            value,
        })?;
    let unsupported = |name| Problem::UnsupportedCollective {
        node: node.id,
        name,
    };
    Ok(match ty {
        C::AllReduce => CollectiveKind::AllReduce,
        C::ReduceScatter => CollectiveKind::ReduceScatter,
        C::AllGather => CollectiveKind::AllGather,
        C::Broadcast => CollectiveKind::Broadcast,
        C::AllToAll => CollectiveKind::AllToAll,
        C::Barrier => CollectiveKind::Barrier,
        C::Reduce => return Err(unsupported("REDUCE")),
        C::Gather => return Err(unsupported("GATHER")),
        C::Scatter => return Err(unsupported("SCATTER")),
        C::ReduceScatterBlock => return Err(unsupported("REDUCE_SCATTER_BLOCK")),
    })
}

/// The communicator group of `pg_name`: a decimal number, "" or "0" for all.
fn group(node: &Node) -> Result<GroupId, Problem> {
    let name = attrs::string(node, "pg_name")?.unwrap_or("");
    if name.is_empty() {
        return Ok(GroupId::ALL);
    }
    name.parse()
        .map(GroupId)
        .map_err(|_| Problem::BadAttribute {
            node: node.id,
            attr: "pg_name",
            reason: format!("must be a decimal group number (got {name:?})"),
        })
}

/// A node of `op`'s type with its attributes (id, name and deps unset).
fn write_op(op: &Op) -> Node {
    let (ty, duration, attr) = match *op {
        Op::Compute { duration, flops } => (
            NodeType::CompNode,
            duration,
            flops
                .map(|f| attrs::int64("num_ops", f))
                .into_iter()
                .collect(),
        ),
        Op::Collective { kind, bytes, group } => (NodeType::CommCollNode, SimDuration::ZERO, {
            let mut a = vec![
                attrs::attr("is_cpu_op", Value::BoolVal(false)),
                attrs::int64("comm_type", comm_type(kind) as u64),
                attrs::int64("comm_size", bytes.0),
            ];
            if group != GroupId::ALL {
                a.push(attrs::attr(
                    "pg_name",
                    Value::StringVal(group.0.to_string()),
                ));
            }
            a
        }),
        Op::Send { to, bytes, tag } => (
            NodeType::CommSendNode,
            SimDuration::ZERO,
            p2p("comm_dst", to, bytes, tag),
        ),
        Op::Recv { from, bytes, tag } => (
            NodeType::CommRecvNode,
            SimDuration::ZERO,
            p2p("comm_src", from, bytes, tag),
        ),
        Op::Metadata => (NodeType::MetadataNode, SimDuration::ZERO, Vec::new()),
        Op::Other { kind, duration } => (other_type(kind), duration, {
            let host = kind == OtherKind::HostCollective;
            let cpu = host.then(|| attrs::attr("is_cpu_op", Value::BoolVal(true)));
            cpu.into_iter().collect()
        }),
    };
    Node {
        r#type: ty as i32,
        duration_micros: duration.as_nanos().saturating_add(500) / 1_000,
        attr,
        ..Node::default()
    }
}

fn p2p(peer_attr: &str, peer: Rank, bytes: Bytes, tag: u32) -> Vec<super::et_def::AttributeProto> {
    vec![
        attrs::attr("is_cpu_op", Value::BoolVal(false)),
        attrs::int32(peer_attr, peer.0),
        attrs::int64("comm_size", bytes.0),
        attrs::int32("comm_tag", tag),
    ]
}

fn comm_type(kind: CollectiveKind) -> CollectiveCommType {
    match kind {
        CollectiveKind::AllReduce => CollectiveCommType::AllReduce,
        CollectiveKind::ReduceScatter => CollectiveCommType::ReduceScatter,
        CollectiveKind::AllGather => CollectiveCommType::AllGather,
        CollectiveKind::Broadcast => CollectiveCommType::Broadcast,
        CollectiveKind::AllToAll => CollectiveCommType::AllToAll,
        CollectiveKind::Barrier => CollectiveCommType::Barrier,
    }
}

fn other_type(kind: OtherKind) -> NodeType {
    match kind {
        OtherKind::Invalid => NodeType::InvalidNode,
        OtherKind::MemLoad => NodeType::MemLoadNode,
        OtherKind::MemStore => NodeType::MemStoreNode,
        OtherKind::HostCollective => NodeType::CommCollNode,
    }
}

#[cfg(test)]
mod tests {
    use super::super::et_def::AttributeProto;
    use super::super::trace::{decode_trace, encode_trace};
    use super::*;

    fn node(id: u64, ty: NodeType, data_deps: &[u64], attr: Vec<AttributeProto>) -> Node {
        Node {
            id,
            name: format!("n{id}"),
            r#type: ty as i32,
            data_deps: data_deps.to_vec(),
            duration_micros: 5,
            attr,
            ..Node::default()
        }
    }

    fn coll(id: u64, comm_type: u64, deps: &[u64]) -> Node {
        let attr = vec![
            attrs::int64("comm_type", comm_type),
            attrs::int64("comm_size", 1 << 20),
        ];
        node(id, NodeType::CommCollNode, deps, attr)
    }

    fn trace(nodes: Vec<Node>) -> Trace {
        Trace {
            metadata: GlobalMetadata::default(),
            nodes,
        }
    }

    fn refused(nodes: Vec<Node>) -> String {
        RankGraph::from_trace(&trace(nodes), "t.0.et")
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn reads_compute_collective_and_point_to_point_with_their_dependencies() {
        let mut send = node(9, NodeType::CommSendNode, &[7], Vec::new());
        send.attr = vec![
            attrs::attr("comm_dst", Value::Uint32Val(1)),
            attrs::attr("comm_size", Value::Uint64Val(64)),
            attrs::int32("comm_tag", 3),
        ];
        let mut ar = coll(7, 0, &[5]);
        ar.attr
            .push(attrs::attr("pg_name", Value::StringVal("2".into())));
        let mut last = node(11, NodeType::CompNode, &[7], Vec::new());
        // A control dependency on a node the file lacks is dropped.
        last.ctrl_deps = vec![5, 1234];
        let t = trace(vec![
            node(5, NodeType::CompNode, &[], Vec::new()),
            ar,
            send,
            last,
        ]);
        let g = RankGraph::from_trace(&t, "t.0.et").expect("reads");
        let ops: Vec<&Op> = g.nodes().iter().map(|n| &n.op).collect();
        assert_eq!(
            ops,
            [
                &Op::Compute {
                    duration: SimDuration::from_micros(5),
                    flops: None
                },
                &Op::Collective {
                    kind: CollectiveKind::AllReduce,
                    bytes: Bytes(1 << 20),
                    group: GroupId(2)
                },
                &Op::Send {
                    to: Rank(1),
                    bytes: Bytes(64),
                    tag: 3
                },
                &Op::Compute {
                    duration: SimDuration::from_micros(5),
                    flops: None
                },
            ]
        );
        assert_eq!(g.nodes()[3].data_deps, [1]);
        assert_eq!(g.nodes()[3].ctrl_deps, [0]);
    }

    #[test]
    fn orders_forward_references_and_keeps_ids() {
        let t = trace(vec![
            node(3, NodeType::CompNode, &[1], Vec::new()),
            node(1, NodeType::MetadataNode, &[], Vec::new()),
        ]);
        let g = RankGraph::from_trace(&t, "t").expect("reads");
        let ids: Vec<u64> = g.nodes().iter().map(|n| n.id).collect();
        assert_eq!(ids, [1, 3]);
        assert_eq!(g.nodes()[1].data_deps, [0]);
        assert_eq!(g.nodes()[0].op, Op::Metadata);
    }

    #[test]
    fn refuses_a_cycle_naming_a_node_on_it() {
        let e = refused(vec![
            node(1, NodeType::CompNode, &[], Vec::new()),
            node(2, NodeType::CompNode, &[1, 4], Vec::new()),
            node(3, NodeType::CompNode, &[2], Vec::new()),
            node(4, NodeType::CompNode, &[3], Vec::new()),
        ]);
        assert!(
            ["2", "3", "4"]
                .iter()
                .any(|n| e == format!("t.0.et: node {n}: on a dependency cycle")),
            "{e}"
        );
        let own = node(8, NodeType::CompNode, &[8], Vec::new());
        assert_eq!(refused(vec![own]), "t.0.et: node 8: on a dependency cycle");
    }

    #[test]
    fn a_cycle_through_control_dependencies_reads_when_they_are_ignored() {
        // As in PyTorch traces: the host op waits (ctrl) for the kernel
        // that uses (data) its output.
        let mut host = node(1, NodeType::CompNode, &[], Vec::new());
        host.ctrl_deps = vec![2];
        let t = trace(vec![host, node(2, NodeType::CompNode, &[1], Vec::new())]);
        let e = RankGraph::from_trace(&t, "t.0.et").expect_err("cycle");
        assert!(
            matches!(e.problem, Problem::CtrlCycle { node: 1 | 2 }),
            "{e}"
        );
        assert!(e.to_string().contains("through ctrl_deps"), "{e}");
        let g = RankGraph::from_trace_with(&t, "t.0.et", CtrlDeps::Ignore).expect("reads");
        assert_eq!(g.nodes()[1].data_deps, [0]);
        assert!(g.nodes().iter().all(|n| n.ctrl_deps.is_empty()));
    }

    #[test]
    fn refuses_a_missing_data_dependency_naming_both_nodes() {
        let e = refused(vec![node(1, NodeType::CompNode, &[99], Vec::new())]);
        assert_eq!(
            e,
            "t.0.et: node 1: data dependency on node 99, which is not in the file"
        );
    }

    #[test]
    fn refuses_unknown_node_types_and_unsupported_collectives_by_name() {
        let mut n = node(6, NodeType::CompNode, &[], Vec::new());
        n.r#type = 42;
        assert_eq!(refused(vec![n]), "t.0.et: node 6: unknown node type 42");
        assert_eq!(
            refused(vec![coll(7, 3, &[])]),
            "t.0.et: node 7: collective GATHER is not supported (one of: ALL_REDUCE, \
             REDUCE_SCATTER, ALL_GATHER, BROADCAST, ALL_TO_ALL, BARRIER)"
        );
        assert_eq!(
            refused(vec![coll(8, 77, &[])]),
            "t.0.et: node 8: unknown collective type 77"
        );
        let mut bad_group = coll(9, 0, &[]);
        bad_group
            .attr
            .push(attrs::attr("pg_name", Value::StringVal("tp".into())));
        assert_eq!(
            refused(vec![bad_group]),
            "t.0.et: node 9: attribute pg_name: must be a decimal group number (got \"tp\")"
        );
        let recv = node(
            10,
            NodeType::CommRecvNode,
            &[],
            vec![attrs::int64("comm_size", 8)],
        );
        assert_eq!(
            refused(vec![recv]),
            "t.0.et: node 10: attribute comm_src is missing"
        );
        assert_eq!(
            refused(vec![coll(4, 0, &[]), coll(4, 0, &[])]),
            "t.0.et: node 4: the id of an earlier node too"
        );
    }

    #[test]
    fn a_graph_survives_the_trip_through_chakra_bytes() {
        let mut g = RankGraph::default();
        let load = Op::Other {
            kind: OtherKind::MemLoad,
            duration: SimDuration::from_micros(2),
        };
        let a = g.push("load".into(), load, vec![], vec![]);
        let compute = Op::Compute {
            duration: SimDuration::from_micros(30),
            flops: Some(1 << 40),
        };
        let b = g.push("compute".into(), compute, vec![a], vec![]);
        let ar = Op::Collective {
            kind: CollectiveKind::ReduceScatter,
            bytes: Bytes(4096),
            group: GroupId(3),
        };
        let c = g.push("rs".into(), ar, vec![b], vec![a]);
        let recv = Op::Recv {
            from: Rank(2),
            bytes: Bytes(10),
            tag: 5,
        };
        g.push("recv".into(), recv, vec![], vec![c]);
        g.push("meta".into(), Op::Metadata, vec![], vec![]);
        let host = Op::Other {
            kind: OtherKind::HostCollective,
            duration: SimDuration::from_micros(85),
        };
        g.push("c10d::broadcast_".into(), host, vec![], vec![]);
        let bytes = encode_trace(&g.to_trace());
        let back = RankGraph::from_trace(&decode_trace(&bytes, "x").expect("decodes"), "x");
        assert_eq!(back.expect("reads"), g);
    }
}
