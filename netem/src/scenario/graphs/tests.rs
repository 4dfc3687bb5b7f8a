//! `trace` and `model` workloads as a scenario holds them: the golden
//! Chakra traces (written by Python's protobuf) read through the
//! scenario's `read`, models placed on a ring, and bad inputs named by
//! file and node or key.

use std::collections::BTreeMap;

use super::*;
use crate::chakra::{Rank, encode_trace};
use crate::scenario::{Scenario, ScenarioError};
use crate::units::Bytes;

/// The golden traces of `netem/tests/data/chakra`, by file name.
fn golden() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    macro_rules! file {
        ($($name:literal),+) => {
            $(out.insert(
                $name.to_owned(),
                include_bytes!(concat!("../../../tests/data/chakra/", $name)).to_vec(),
            );)+
        };
    }
    file!(
        "allreduce.0.et",
        "allreduce.1.et",
        "allreduce.2.et",
        "allreduce.3.et",
        "allreduce.json",
        "sendrecv.0.et",
        "sendrecv.1.et",
        "sendrecv.2.et",
        "sendrecv.3.et"
    );
    out
}

/// Eight satellites in a ring (one plane, links to neighbours).
const RING8: &str = r#"
name = "ring"
[constellation]
kind = "walker"
planes = 1
per_plane = 8
altitude_km = 1000
inclination_deg = 53
[links]
rate_gbps = 10
max_range_km = 6000
"#;

const ACCELERATOR: &str = "[accelerator]\npeak_tflops = 100\nutilization = 0.5\n";

/// Parses `RING8` with `extra` (an accelerator, workloads), files under
/// `traces/` from `files`.
fn parse_with(
    extra: &str,
    files: &BTreeMap<String, Vec<u8>>,
) -> (Result<Scenario, ScenarioError>, Vec<String>) {
    let mut asked = Vec::new();
    let text = format!("{RING8}{extra}");
    let s = Scenario::parse_bytes(&text, "x.toml", &mut |p: &str| {
        asked.push(p.to_owned());
        p.strip_prefix("traces/")
            .and_then(|f| files.get(f).cloned())
            .ok_or_else(|| "No such file or directory".to_owned())
    });
    (s, asked)
}

fn graph_of(s: &Scenario, w: usize) -> &GraphWorkload {
    match &s.workloads[w] {
        Workload::Graph(g) => g,
        other => panic!("not a graph workload: {other:?}"),
    }
}

fn refused(extra: &str, files: &BTreeMap<String, Vec<u8>>) -> String {
    parse_with(extra, files).0.expect_err("refused").to_string()
}

const ALLREDUCE: &str = r#"
[[workload]]
kind = "trace"
chakra = "traces/allreduce"
comm_groups = "traces/allreduce.json"
ranks = 4
"#;

#[test]
fn a_trace_reads_every_rank_through_the_scenario_and_records_its_files() {
    let (s, asked) = parse_with(ALLREDUCE, &golden());
    let s = s.expect("valid");
    let g = graph_of(&s, 0);
    assert_eq!(g.graphs.len(), 4);
    assert_eq!(g.ranks.len(), 4);
    assert_eq!(g.steps, 1);
    assert_eq!(g.dtype, DType::Bf16);
    assert_eq!(g.compute, ComputeModel::Duration { scale: 1.0 });
    // The four ranks in ring order: neighbours in the plane.
    assert_eq!(g.ranks, [SatId(0), SatId(1), SatId(2), SatId(3)]);
    let files = [
        "traces/allreduce.json",
        "traces/allreduce.0.et",
        "traces/allreduce.1.et",
        "traces/allreduce.2.et",
        "traces/allreduce.3.et",
    ];
    assert_eq!(asked, files);
    assert_eq!(s.files, files);
    // Group 1 (all four) and every rank: rings in ring order.
    assert_eq!(g.ring(GroupId(1)), [0, 1, 2, 3]);
    assert_eq!(g.ring(GroupId::ALL).len(), 4);
    // The ring's pairs (all-reduce on group 1, barriers on all).
    let pairs: Vec<(usize, usize)> = g.pairs().into_iter().collect();
    assert_eq!(pairs, [(0, 1), (1, 2), (2, 3), (3, 0)]);
    // 1 MiB all-reduce of 4 ranks: ring parts of 256 KiB and a little.
    assert_eq!(g.largest_message(), (1 << 18) + 64);
    assert_eq!(g.carried(Bytes(1 << 20)), 1 << 20);
    assert_eq!(g.flops_per_step(), Some(4.0 * 150e9));
}

#[test]
fn a_trace_maps_listed_ranks_as_written_and_scales_its_compute() {
    let extra = r#"
[[workload]]
kind = "trace"
chakra = "traces/sendrecv"
ranks = ["sat-5", "sat-2", "sat-7", "sat-0"]
compute_scale = 2.5
payload_divisor = 1000
steps = 4
"#;
    let (s, _) = parse_with(extra, &golden());
    let s = s.expect("valid");
    let g = graph_of(&s, 0);
    assert_eq!(g.ranks, [SatId(5), SatId(2), SatId(7), SatId(0)]);
    assert_eq!(g.steps, 4);
    let compute = &g.graphs[0].nodes()[0].op;
    assert_eq!(g.compute_time(compute).as_nanos(), 50_000);
    // 64 KiB / 1000, rounded up to whole bf16 elements.
    assert_eq!(g.carried(Bytes(64 << 10)), 66);
    // The send, and the barriers' ring.
    assert!(g.pairs().contains(&(0, 1)));
}

#[test]
fn flops_time_compute_on_the_accelerator() {
    let extra = format!("{ACCELERATOR}{ALLREDUCE}compute = \"flops\"\n");
    let (s, _) = parse_with(&extra, &golden());
    let s = s.expect("valid");
    let g = graph_of(&s, 0);
    // 100 µs of num_ops = 1e11 FLOPs at 50 TFLOP/s: 2 ms.
    let first = &g.graphs[0].nodes()[0].op;
    assert_eq!(g.compute_time(first).as_nanos(), 2_000_000);
    let e = refused(&format!("{ALLREDUCE}compute = \"flops\"\n"), &golden());
    assert_eq!(
        e,
        "x.toml: workload[0].compute: \"flops\" needs an [accelerator] section"
    );
}

#[test]
fn bad_traces_are_refused_naming_the_file_and_node() {
    let mut files = golden();
    files.remove("allreduce.3.et");
    assert_eq!(
        refused(ALLREDUCE, &files),
        "x.toml: workload[0].chakra: traces/allreduce.3.et: cannot read: No such file or directory"
    );
    // A node of unknown type, and one on a cycle, in rank 2's file.
    let mut files = golden();
    let mut t = decode_trace(&files["allreduce.2.et"], "x").expect("decodes");
    t.nodes[2].r#type = 42;
    files.insert("allreduce.2.et".into(), encode_trace(&t));
    assert_eq!(
        refused(ALLREDUCE, &files),
        "x.toml: workload[0].chakra: traces/allreduce.2.et: node 8: unknown node type 42"
    );
    let mut files = golden();
    let mut t = decode_trace(&files["allreduce.1.et"], "x").expect("decodes");
    let last = t.nodes[2].id;
    t.nodes[0].data_deps.push(last);
    files.insert("allreduce.1.et".into(), encode_trace(&t));
    let e = refused(ALLREDUCE, &files);
    assert!(
        e.starts_with("x.toml: workload[0].chakra: traces/allreduce.1.et: node ")
            && e.ends_with(": on a dependency cycle"),
        "{e}"
    );
    let mut files = golden();
    let mut t = decode_trace(&files["allreduce.0.et"], "x").expect("decodes");
    t.nodes[1].data_deps.push(999);
    files.insert("allreduce.0.et".into(), encode_trace(&t));
    assert_eq!(
        refused(ALLREDUCE, &files),
        "x.toml: workload[0].chakra: traces/allreduce.0.et: node 1: data dependency on node 999, \
         which is not in the file"
    );
    // Rank 3 receives from rank 0, which sends only to rank 1.
    let mut files = golden();
    files.insert("sendrecv.3.et".into(), files["sendrecv.1.et"].clone());
    let e = refused(
        "[[workload]]\nkind = \"trace\"\nchakra = \"traces/sendrecv\"\nranks = 4\n",
        &files,
    );
    assert_eq!(
        e,
        "x.toml: workload[0].chakra: traces/sendrecv.3.et: node 2: receive from rank 0 (tag 7) \
         that rank 0 never sends"
    );
    let e = refused(
        "[[workload]]\nkind = \"trace\"\nchakra = \"traces/allreduce\"\nranks = 4\n",
        &golden(),
    );
    assert_eq!(
        e,
        "x.toml: workload[0].chakra: traces/allreduce.0.et: node 1: pg_name 1: no such communicator group"
    );
    let e = refused(
        "[[workload]]\nkind = \"trace\"\nchakra = \"traces/allreduce\"\ncomm_groups = \"traces/none.json\"\n",
        &golden(),
    );
    assert_eq!(
        e,
        "x.toml: workload[0].comm_groups: traces/none.json: cannot read: No such file or directory"
    );
}

const MODEL: &str = r#"
[[workload]]
kind = "model"
layers = 4
hidden = 256
heads = 8
seq_len = 128
vocab = 1000
micro_batch = 2
global_batch = 16
dp = 2
tp = 2
pp = 2
"#;

#[test]
fn a_model_is_generated_and_placed_on_its_ranks() {
    let (s, asked) = parse_with(&format!("{ACCELERATOR}{MODEL}"), &BTreeMap::new());
    let s = s.expect("valid");
    assert!(asked.is_empty());
    let g = graph_of(&s, 0);
    assert_eq!(g.graphs.len(), 8);
    assert_eq!(g.steps, 3);
    let mut sats = g.ranks.clone();
    sats.sort_unstable();
    assert_eq!(sats, (0..8).map(SatId).collect::<Vec<_>>());
    let GraphSource::Model { job, placement } = &g.source else {
        panic!("a model");
    };
    assert_eq!(*placement, Placement::Compact);
    assert_eq!(job.micro_batches(), 4);
    // Compact on a ring: each tensor-parallel pair is two neighbours.
    let snap = s.world.snapshot(SimTime::ZERO);
    let linked = |a: SatId, b: SatId| {
        snap.links
            .iter()
            .any(|l| l.is_up() && ((l.a, l.b) == (a, b) || (l.a, l.b) == (b, a)))
    };
    for pair in g.ranks.chunks(2) {
        assert!(linked(pair[0], pair[1]), "{pair:?}");
    }
    assert_eq!(g.tokens_per_step(), Some(16 * 128));
    // Groups of two: both directions of each pair.
    let tp = job.comm_groups();
    let first = tp.members(GroupId(1)).expect("group 1");
    assert_eq!(first, [Rank(0), Rank(1)]);
    assert!(g.pairs().contains(&(0, 1)) && g.pairs().contains(&(1, 0)));
}

#[test]
fn a_model_around_a_satellite_takes_the_nearest() {
    let extra = format!(
        "{ACCELERATOR}{}",
        MODEL
            .replace("dp = 2", "dp = 1")
            .replace("global_batch = 16", "global_batch = 8")
            + "around = \"sat-6\"\nplacement = \"spread\"\n"
    );
    let (s, _) = parse_with(&extra, &BTreeMap::new());
    let s = s.expect("valid");
    let mut sats = graph_of(&s, 0).ranks.clone();
    sats.sort_unstable();
    assert_eq!(sats, [SatId(0), SatId(5), SatId(6), SatId(7)]);
}

#[test]
fn bad_models_are_refused_naming_the_key() {
    let none = BTreeMap::new();
    assert_eq!(
        refused(MODEL, &none),
        "x.toml: workload[0]: a `model` workload needs an [accelerator] section"
    );
    let e = refused(&format!("{ACCELERATOR}{MODEL}ranks = 6\n"), &none);
    assert_eq!(
        e,
        "x.toml: workload[0].ranks: must equal dp·tp·pp = 2·2·2 = 8 (got 6)"
    );
    let e = refused(
        &format!("{ACCELERATOR}{}", MODEL.replace("tp = 2", "tp = 3")),
        &none,
    );
    assert_eq!(
        e,
        "x.toml: workload[0].ranks: the plan's dp·tp·pp = 12 ranks are more than the 8 satellites"
    );
    let e = refused(
        &format!("{ACCELERATOR}{}", MODEL.replace("heads = 8", "heads = 6")),
        &none,
    );
    assert_eq!(
        e,
        "x.toml: workload[0].heads: must divide hidden = 256 (got 6)"
    );
    let e = refused(
        &format!("{ACCELERATOR}{MODEL}placement = \"tight\"\n"),
        &none,
    );
    assert!(
        e.starts_with("x.toml: workload[0].placement: must be \"compact\" or \"spread\""),
        "{e}"
    );
    let bad_acc = "[accelerator]\npeak_tflops = 100\nutilization = 0.5\n";
    let e = refused(&format!("{bad_acc}{MODEL}around = \"sat-9\"\n"), &none);
    assert_eq!(
        e,
        "x.toml: workload[0].around: no satellite named \"sat-9\""
    );
}
