//! The Chakra reader against traces Python's protobuf wrote
//! (`scripts/chakra/write_traces.py`, checked in under `tests/data/chakra`;
//! `scripts/chakra/check-traces.sh` checks they are what the script writes).

use std::path::PathBuf;

use orbnet_netem::chakra::{
    CollectiveKind, CommGroups, GroupId, Op, Rank, RankGraph, decode_trace, encode_trace,
    trace_file_name,
};
use orbnet_netem::{Bytes, SimDuration};

const RANKS: u32 = 4;

fn data(name: &str) -> (Vec<u8>, String) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/data/chakra", name]
        .iter()
        .collect();
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (bytes, name.to_owned())
}

/// Every rank's graph of workload `prefix`, checking that prost writes
/// each file back byte for byte as Python wrote it.
fn graphs(prefix: &str, groups: &CommGroups) -> Vec<RankGraph> {
    (0..RANKS)
        .map(|r| {
            let (bytes, file) = data(&trace_file_name(prefix, r));
            let trace = decode_trace(&bytes, &file).expect("decodes");
            assert_eq!(trace.metadata.version, "0.0.4", "{file}");
            assert_eq!(encode_trace(&trace), bytes, "{file} re-encoded");
            let graph = RankGraph::from_trace(&trace, &file).expect("reads");
            groups.check(&graph, &file).expect("groups and ranks exist");
            graph
        })
        .collect()
}

fn ops(g: &RankGraph) -> Vec<&Op> {
    g.nodes().iter().map(|n| &n.op).collect()
}

fn compute(micros: u64) -> Op {
    Op::Compute {
        duration: SimDuration::from_micros(micros),
        flops: Some(micros * 1_000_000_000),
    }
}

#[test]
fn compute_all_reduce_compute_on_four_ranks() {
    let (json, file) = data("allreduce.json");
    let json = String::from_utf8(json).expect("utf-8");
    let groups = CommGroups::parse(&json, &file, RANKS).expect("parses");
    let all: Vec<Rank> = (0..RANKS).map(Rank).collect();
    assert_eq!(groups.members(GroupId(1)), Some(all.as_slice()));
    for (r, g) in graphs("allreduce", &groups).iter().enumerate() {
        let ar = Op::Collective {
            kind: CollectiveKind::AllReduce,
            bytes: Bytes(1 << 20),
            group: GroupId(1),
        };
        assert_eq!(ops(g), [&compute(100), &ar, &compute(50)], "rank {r}");
        // Ids run on across ranks, as Chakra's converters number them.
        let first = 3 * r as u64;
        let ids: Vec<u64> = g.nodes().iter().map(|n| n.id).collect();
        assert_eq!(ids, [first, first + 1, first + 2]);
        assert_eq!(g.nodes()[1].data_deps, [0]);
        assert_eq!(
            (&g.nodes()[2].data_deps, &g.nodes()[2].ctrl_deps),
            (&vec![1], &vec![0])
        );
    }
}

#[test]
fn a_send_and_its_receive_between_ranks_zero_and_one() {
    let g = graphs("sendrecv", &CommGroups::all(RANKS));
    let bytes = Bytes(64 << 10);
    let send = Op::Send {
        to: Rank(1),
        bytes,
        tag: 7,
    };
    let recv = Op::Recv {
        from: Rank(0),
        bytes,
        tag: 7,
    };
    assert_eq!(ops(&g[0]), [&compute(20), &send]);
    assert_eq!(ops(&g[1]), [&recv, &compute(20)]);
    assert_eq!(g[1].nodes()[1].data_deps, [0]);
    for other in &g[2..] {
        assert_eq!(ops(other), [&compute(20)]);
    }
}
