//! Graph workloads end to end, in-process: Chakra traces Python's
//! protobuf wrote (`scripts/chakra/write_traces.py`, checked in under
//! `netem/tests/data/chakra`) run over a constellation with verified
//! collectives and a timeline that honours every dependency; a generated
//! dp 2 × tp 2 × pp 2 job against figures worked out by hand from its
//! plan; `--export-chakra` files that run back into the same schedule;
//! bad inputs refused with exit 2, naming the file and node.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;
use common::{BIN, run_up_with, temp_dir};

/// `count` satellites of a formation 100–200 m apart, each linked to its
/// `k` nearest at `gbps`; TDF 10⁶ (a tokio tick is a virtual nanosecond).
fn formation(name: &str, count: u32, k: u32, gbps: f64, extra: &str) -> String {
    format!(
        r#"name = "{name}"
tdf = 1000000
duration_s = 10
[constellation]
kind = "formation"
count = {count}
altitude_km = 650
spacing_m = 100
radius_m = 1000
[links]
pattern = "nearest"
k = {k}
terminals = {k}
rate_gbps = {gbps}
acquisition_s = 0
{extra}"#
    )
}

/// Copies the golden traces into `dir`.
fn golden_into(dir: &Path) {
    let from: PathBuf = [env!("CARGO_MANIFEST_DIR"), "netem/tests/data/chakra"]
        .iter()
        .collect();
    for e in std::fs::read_dir(&from).expect("golden traces").flatten() {
        std::fs::copy(e.path(), dir.join(e.file_name())).expect("copy");
    }
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn trace_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("out/trace.json")).expect("trace.json");
    serde_json::from_str(&text).expect("trace.json parses")
}

/// A span of trace.json: (pid, step, node id) → (start, end) in µs, and
/// its dependencies' ids and category.
type Spans = HashMap<(u64, u64, u64), (f64, f64, Vec<u64>, String)>;

fn spans(trace: &Value) -> Spans {
    let mut out = Spans::new();
    for e in trace["traceEvents"].as_array().expect("events") {
        if e["ph"] != "X" {
            continue;
        }
        let a = &e["args"];
        let key = (
            e["pid"].as_u64().expect("pid"),
            a["step"].as_u64().expect("step"),
            a["node"].as_u64().expect("node"),
        );
        let ts = e["ts"].as_f64().expect("ts");
        let deps = a["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        let cat = e["cat"].as_str().expect("cat").to_owned();
        out.insert(key, (ts, ts + e["dur"].as_f64().expect("dur"), deps, cat));
    }
    out
}

/// No span starts before the spans it depends on end, and a rank's
/// compute spans never overlap.
fn assert_timeline_consistent(spans: &Spans) {
    // Timestamps are microseconds to the nanosecond.
    const EPS: f64 = 1e-6;
    for ((pid, step, node), (start, _, deps, _)) in spans {
        for d in deps {
            let (_, dep_end, _, _) = spans
                .get(&(*pid, *step, *d))
                .unwrap_or_else(|| panic!("rank {pid} step {step}: node {d} never ran"));
            assert!(
                *start + EPS >= *dep_end,
                "rank {pid} step {step}: node {node} starts at {start} µs, before node {d} ends at {dep_end} µs"
            );
        }
    }
    let mut compute: HashMap<u64, Vec<(f64, f64)>> = HashMap::new();
    for ((pid, _, _), (s, e, _, cat)) in spans {
        if cat == "compute" {
            compute.entry(*pid).or_default().push((*s, *e));
        }
    }
    for (pid, mut c) in compute {
        c.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in c.windows(2) {
            assert!(w[0].1 <= w[1].0 + EPS, "rank {pid}: compute {w:?} overlap");
        }
    }
}

const TRACES: &str = r#"
[[workload]]
kind = "trace"
chakra = "allreduce"
comm_groups = "allreduce.json"
[[workload]]
kind = "trace"
chakra = "sendrecv"
"#;

#[test]
fn python_written_traces_run_with_a_verified_all_reduce_and_a_consistent_timeline() {
    let dir = temp_dir("chakra-run");
    golden_into(&dir);
    let text = formation("traces", 4, 3, 100.0, TRACES);
    let (out, s) = run_up_with(&dir, &text, &["--in-process"]);
    assert_ok(&out);
    let t = &s["training"];
    assert_eq!(t.as_array().map(Vec::len), Some(2), "{s}");
    for w in t.as_array().expect("list") {
        assert_eq!(w["verified"], true, "{w}");
        assert_eq!(w["kind"], "trace");
    }
    let trace = trace_json(&dir);
    let spans = spans(&trace);
    assert_timeline_consistent(&spans);
    // compute (100 µs) → all-reduce → compute (50 µs): the slowest rank's
    // step is its compute and its all-reduce, as trace.json measured them.
    let ar = &t[0];
    let rank = ar["steps"][0]["critical_rank"].as_u64().expect("rank");
    let (s0, e0, _, _) = &spans[&(rank, 0, 3 * rank + 1)];
    let collective_us = e0 - s0;
    let step_us = ar["step_time_s"].as_f64().expect("step") * 1e6;
    assert!(
        (step_us - (150.0 + collective_us)).abs() < 0.01,
        "step {step_us} µs, compute 150 µs + all-reduce {collective_us} µs"
    );
    assert!((ar["compute_time_s"].as_f64().expect("compute") - 150e-6).abs() < 1e-9);
    // A 1 MiB ring all-reduce of 4 ranks moves 2·3/4 MiB through each
    // 100 Gb/s link: at least 125.8 µs.
    let bound = 2.0 * 0.75 * 1_048_576.0 * 8.0 / 100e9 * 1e6;
    assert!(
        collective_us > bound && collective_us < 1.3 * bound,
        "{collective_us} µs"
    );
    assert_eq!(ar["collectives"][0]["kind"], "ALL_REDUCE");
    assert_eq!(ar["collectives"][0]["bytes"], 4.0 * 1_048_576.0);
    // The send/receive pair: an arrow from rank 0's send to rank 1's receive.
    let events = trace["traceEvents"].as_array().expect("events");
    let flow = |ph: &str| {
        events
            .iter()
            .find(|e| e["ph"] == ph && e["pid"].as_u64().is_some_and(|p| p >= 100_000))
            .cloned()
            .unwrap_or_else(|| panic!("no flow event {ph}"))
    };
    let (start, end) = (flow("s"), flow("f"));
    assert_eq!(
        (start["pid"].as_u64(), end["pid"].as_u64()),
        (Some(100_000), Some(100_001))
    );
    assert_eq!(start["id"], end["id"]);
    assert_eq!(end["bp"], "e");
    std::fs::remove_dir_all(&dir).ok();
}

/// dp 2 × tp 2 × pp 2, four layers of width 256 and 64-token sequences,
/// 4 micro-batches of one sample per pipeline, on an accelerator of
/// 10¹¹ FLOP/s, over links of 100 Tb/s.
const MODEL: &str = r#"
[accelerator]
name = "slow"
peak_tflops = 0.1
utilization = 1
[[workload]]
kind = "model"
layers = 4
hidden = 256
heads = 8
seq_len = 64
vocab = 8
micro_batch = 1
global_batch = 8
dp = 2
tp = 2
pp = 2
steps = 3
"#;

#[test]
fn a_dp2_tp2_pp2_model_trains_at_the_rate_its_plan_gives() {
    let dir = temp_dir("model-8");
    let text = formation("model-8", 8, 4, 100_000.0, MODEL);
    let (out, s) = run_up_with(&dir, &text, &["--in-process"]);
    assert_ok(&out);
    let m = &s["training"][0];
    assert_eq!(m["verified"], true, "{m}");
    // By hand, per token and layer: attention 2·4·256² + 2·64·256 =
    // 557 056 FLOPs, MLP 2·2·256·1024 = 1 048 576; a stage holds 2 layers
    // split over tp = 2, so a micro-batch of 64 tokens costs
    // 64 · 2 · 1 605 632 / 2 = 102 760 448 FLOPs forward, 1.0276 ms at
    // 10¹¹ FLOP/s, and twice that backward (the last stage's output
    // projection, 2·8·256 per token, is 0.1 % more). With m = 4
    // micro-batches over p = 2 stages, 1F1B takes m + p − 1 = 5 slots of a
    // forward and a backward: 5 · 3.0828 ms = 15.414 ms for 8 · 64 = 512
    // tokens, 33 217 tokens/s.
    let slot = 3.0 * 102_760_448.0 / 1e11;
    let step = 5.0 * slot;
    let tokens_per_s = 512.0 / step;
    let got = m["tokens_per_s"].as_f64().expect("tokens/s");
    assert!(
        (got / tokens_per_s - 1.0).abs() < 0.01,
        "{got} tokens/s, by hand {tokens_per_s}"
    );
    assert_eq!(m["tokens_per_step"], 512);
    // On a network this fast the bubble is the schedule's: (p−1)/(m+p−1) = 1/5.
    assert!((m["schedule_bubble_fraction"].as_f64().expect("b") - 0.2).abs() < 1e-12);
    let bubble = m["bubble_fraction"].as_f64().expect("bubble");
    assert!((bubble - 0.2).abs() < 0.005, "bubble {bubble}");
    // Compute fills the rest: 4 slots of the critical rank's 5.
    let compute = m["compute_time_s"].as_f64().expect("compute");
    assert!((compute / (4.0 * slot) - 1.0).abs() < 0.005, "{compute} s");
    // MFU: 6N + attention per token over 8 ranks at 10¹¹ FLOP/s.
    let flops = m["model_flops_per_step"].as_f64().expect("flops");
    let mfu = m["mfu"].as_f64().expect("mfu");
    assert!((mfu - flops / (m["step_time_s"].as_f64().expect("s") * 8.0 * 1e11)).abs() < 1e-9);
    assert!(mfu > 0.75 && mfu < 0.81, "{mfu}");
    assert_timeline_consistent(&spans(&trace_json(&dir)));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn exported_chakra_files_run_back_into_the_same_schedule() {
    let dir = temp_dir("export");
    let text = formation("model-8", 8, 4, 100_000.0, MODEL);
    let exported = dir.join("chakra");
    let exported_arg = exported.display().to_string();
    let (out, _) = run_up_with(
        &dir,
        &text,
        &["--in-process", "--export-chakra", &exported_arg],
    );
    assert_ok(&out);
    let generated = spans(&trace_json(&dir));
    // The same constellation with the exported files as a trace workload.
    let table = std::fs::read_to_string(exported.join("model-8-w0.toml")).expect("table");
    assert!(table.contains("kind = \"trace\""), "{table}");
    let head = text.split("[[workload]]").next().expect("head");
    let again = temp_dir("export-again");
    for e in std::fs::read_dir(&exported).expect("exported").flatten() {
        std::fs::copy(e.path(), again.join(e.file_name())).expect("copy");
    }
    let (out, s) = run_up_with(&again, &format!("{head}{table}"), &["--in-process"]);
    assert_ok(&out);
    assert_eq!(s["training"][0]["kind"], "trace");
    assert_eq!(s["training"][0]["verified"], true);
    let replayed = spans(&trace_json(&again));
    assert_eq!(generated.len(), replayed.len());
    for (key, (s0, e0, deps, _)) in &generated {
        let (s1, e1, d1, _) = &replayed[key];
        assert_eq!(deps, d1, "{key:?}");
        assert!(
            (s0 - s1).abs() < 1e-3 && (e0 - e1).abs() < 1e-3,
            "{key:?}: {s0}–{e0} vs {s1}–{e1} µs"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&again).ok();
}

/// Runs `orbnet up --in-process` on `scenario` in `dir`; returns the exit
/// code and stderr.
fn refused(dir: &Path, scenario: &str) -> (Option<i32>, String) {
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).expect("write");
    let out = Command::new(BIN)
        .args(["up", "--in-process", "--out"])
        .arg(dir.join("out"))
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_traces_and_plans_exit_2_naming_the_file_and_node() {
    use orbnet_netem::chakra::{decode_trace, encode_trace};
    let dir = temp_dir("chakra-bad");
    golden_into(&dir);
    let text = formation("bad", 4, 3, 100.0, TRACES);
    // A cycle in rank 2's file: its first node waits for its last.
    let path = dir.join("allreduce.2.et");
    let good = std::fs::read(&path).expect("rank 2");
    let mut t = decode_trace(&good, "allreduce.2.et").expect("decodes");
    let last = t.nodes[2].id;
    t.nodes[0].data_deps.push(last);
    std::fs::write(&path, encode_trace(&t)).expect("write");
    let (code, err) = refused(&dir, &text);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("workload[0].chakra: allreduce.2.et: node ")
            && err.contains("on a dependency cycle"),
        "{err}"
    );
    // A dependency on a node the file does not hold.
    let mut t = decode_trace(&good, "allreduce.2.et").expect("decodes");
    t.nodes[2].data_deps.push(999);
    std::fs::write(&path, encode_trace(&t)).expect("write");
    let (code, err) = refused(&dir, &text);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "allreduce.2.et: node 8: data dependency on node 999, which is not in the file"
        ),
        "{err}"
    );
    // A node type orbnet does not know.
    let mut t = decode_trace(&good, "allreduce.2.et").expect("decodes");
    t.nodes[1].r#type = 99;
    std::fs::write(&path, encode_trace(&t)).expect("write");
    let (code, err) = refused(&dir, &text);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("allreduce.2.et: node 7: unknown node type 99"),
        "{err}"
    );
    // A missing rank file.
    std::fs::remove_file(&path).expect("remove");
    let (code, err) = refused(&dir, &text);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("workload[0].chakra: allreduce.2.et: cannot read"),
        "{err}"
    );
    // A plan that does not fit the ranks.
    let plan = formation("bad", 8, 4, 100.0, &MODEL.replace("steps = 3", "ranks = 6"));
    let (code, err) = refused(&dir, &plan);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("workload[0].ranks: must equal dp·tp·pp = 2·2·2 = 8 (got 6)"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
