//! Chakra execution traces (MLCommons Chakra, the input format of ASTRA-sim):
//! one file `<prefix>.<rank>.et` per rank, each a stream of protobuf records
//! framed by a base-128 varint of their length, one `GlobalMetadata` then
//! `Node`s to the end of the file (Chakra `src/third_party/utils/protolib.py`
//! `encodeMessage`/`decodeMessage`; the schema is `netem/proto/et_def.proto`,
//! from mlcommons/chakra `schema/protobuf/et_def.proto`, Apache-2.0).
//!
//! ```text
//! bytes ─decode_trace─► Trace ─RankGraph::from_trace─► RankGraph ─to_trace─► Trace ─encode_trace─► bytes
//!                      (messages as written)         (typed ops, checked deps)
//! comm-group JSON ─CommGroups::parse─► CommGroups (pg_name → ranks)
//! ```
//!
//! A [`RankGraph`] reads the attributes ASTRA-sim's feeder reads (`comm_type`,
//! `comm_size`, `comm_src`, `comm_dst`, `comm_tag`, `pg_name`, `num_ops`), and
//! like its newer feeder (astra-sim/chakra `src/feeder_v3`, which converts
//! any integer case of the oneof) it takes a number from any integer variant
//! of an attribute, since writers disagree (int64 in Chakra's converters,
//! uint32/uint64 in symbolic_tensor_graph, int32 in the MSCCL traces). A node
//! waits for its `data_deps` and, unless read with [`CtrlDeps::Ignore`], its
//! `ctrl_deps`; a data dependency on a node the file lacks is refused, a
//! control dependency on one is dropped, because PyTorch-converted traces
//! point their `ctrl_deps` at host ops they leave out (1277 of them in
//! Chakra's `tests/data/chakra.0.et`). That trace also has control
//! dependencies that close cycles (a host op waits for the GPU kernel that
//! uses its output), so it reads only with [`CtrlDeps::Ignore`], as Chakra's
//! own feeder (`src/feeder/et_feeder.cpp`) reads every trace.
//!
//! Every error names the file (the caller's label) and the node id, or the
//! JSON key of a communicator-group file; [`check_partners`] checks that
//! the ranks' graphs agree (every collective and send finds its partners).
//! Nothing here reads a file.

mod attrs;
pub mod et_def;
mod graph;
mod groups;
mod order;
mod partners;
mod trace;

pub use graph::{CollectiveKind, CtrlDeps, GraphNode, GroupId, Op, OtherKind, Rank, RankGraph};
pub use groups::CommGroups;
pub use partners::check_partners;
pub use trace::{Trace, decode_trace, encode_trace, trace_file_name};

/// A Chakra trace or communicator-group file refused: which file, and what
/// in it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ChakraError {
    pub file: String,
    pub problem: Problem,
}

impl ChakraError {
    pub(crate) fn new(file: &str, problem: Problem) -> ChakraError {
        ChakraError {
            file: file.to_owned(),
            problem,
        }
    }
}

/// What is wrong in a Chakra file; node ids are the file's own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("empty: a trace starts with a GlobalMetadata record")]
    Empty,
    #[error("gzip-compressed: decompress it first (ASTRA-sim reads plain .et files too)")]
    Gzip,
    /// Record 0 is the GlobalMetadata, record k the k-th node.
    #[error("record {record} (byte {offset}): {reason}")]
    Record {
        record: usize,
        offset: usize,
        reason: String,
    },
    #[error("node {node}: the id of an earlier node too")]
    DuplicateNode { node: u64 },
    #[error("node {node}: unknown node type {value}")]
    UnknownNodeType { node: u64, value: i32 },
    #[error("node {node}: unknown collective type {value}")]
    UnknownCollective { node: u64, value: u64 },
    #[error(
        "node {node}: collective {name} is not supported (one of: {})",
        <CollectiveKind as crate::names::Named>::one_of()
    )]
    UnsupportedCollective { node: u64, name: &'static str },
    #[error("node {node}: attribute {attr} is missing")]
    MissingAttribute { node: u64, attr: &'static str },
    #[error("node {node}: attribute {attr}: {reason}")]
    BadAttribute {
        node: u64,
        attr: &'static str,
        reason: String,
    },
    #[error("node {node}: data dependency on node {dep}, which is not in the file")]
    MissingDependency { node: u64, dep: u64 },
    #[error("node {node}: on a dependency cycle")]
    Cycle { node: u64 },
    #[error(
        "node {node}: on a dependency cycle through ctrl_deps (read the trace with \
         control dependencies ignored, as Chakra's own feeder does)"
    )]
    CtrlCycle { node: u64 },
    #[error("node {node}: pg_name {group}: no such communicator group")]
    UnknownGroup { node: u64, group: u32 },
    #[error("node {node}: rank {rank} is not in the job ({ranks} ranks)")]
    UnknownRank { node: u64, rank: u32, ranks: u32 },
    #[error("{key}: {reason}")]
    Group { key: String, reason: String },
    /// A communication node whose partner on another rank is missing or
    /// differs (see `check_partners`).
    #[error("node {node}: {reason}")]
    Partner { node: u64, reason: String },
}
