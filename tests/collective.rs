//! Collectives over real satellite processes: every rank checks its result
//! against the exact sum of the integer-valued inputs.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::{
    BIN, all_gone, run_up, run_up_with, sat_index, temp_dir, wait_exit, wait_for_children,
};

/// Eight satellites in one plane at 1000 km, each linked to the next
/// (5647 km, 18.8 ms hops), 10 Gb/s links; `extra` adds keys to [links].
fn ring8(tdf: f64, extra: &str, workloads: &str) -> String {
    format!(
        r#"name = "ring-8-collective"
seed = 3
tdf = {tdf}
duration_s = 30
[constellation]
kind = "walker"
planes = 1
per_plane = 8
altitude_km = 1000
inclination_deg = 53
[links]
pattern = "plus-grid"
rate_gbps = 10
max_range_km = 6000
{extra}
{workloads}"#
    )
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every collective entry is verified and no bandwidth beats the links.
fn assert_verified(s: &Value, entries: usize) {
    let c = s["collectives"].as_array().expect("collectives");
    assert_eq!(c.len(), entries, "{c:?}");
    for e in c {
        assert_eq!(e["verified"], true, "{e}");
        let busbw = e["busbw_gbps"].as_f64().expect("busbw");
        let rate = e["link_rate_gbps"].as_f64().expect("link rate");
        assert!(busbw > 0.0 && busbw <= rate, "{e}");
    }
}

const ALLREDUCE_4MIB: &str = r#"
[[workload]]
kind = "collective"
op = "allreduce"
algorithm = "ring"
dtype = "f32"
min_bytes = 4194304
max_bytes = 4194304
iterations = 1
warmup = 0
"#;

#[test]
fn ring_allreduce_of_4_mib_over_quic_is_verified_on_8_ranks() {
    let dir = temp_dir("allreduce8");
    let (out, s) = run_up(&dir, &ring8(4.0, "", ALLREDUCE_4MIB));
    assert_ok(&out);
    assert_verified(&s, 1);
    let e = &s["collectives"][0];
    assert_eq!(e["ranks"], 8);
    assert_eq!(e["transport"], "quic");
    // Latency-bound here: 14 steps of one 18.8 ms hop, which no run can beat.
    let hop = 2.0 * 7378.137 * (22.5f64).to_radians().sin() / 299_792.458;
    let t = e["time_s"].as_f64().expect("time");
    assert!(t >= 14.0 * hop, "{t} s < 14 hops of {hop} s");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ring_allreduce_survives_one_percent_loss() {
    let dir = temp_dir("allreduce-lossy");
    let (out, s) = run_up(&dir, &ring8(4.0, "loss = 0.01", ALLREDUCE_4MIB));
    assert_ok(&out);
    assert_verified(&s, 1);
    let dropped = s["counters"]["drops"]["corrupted"].as_u64().unwrap_or(0);
    assert!(dropped > 0, "the links lost nothing: {}", s["counters"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ring_tree_and_halving_doubling_agree() {
    // All are checked element by element against the same exact sums, so
    // all verified means all results are identical.
    let dir = temp_dir("ring-tree");
    let w = r#"
[[workload]]
kind = "collective"
op = "allreduce"
algorithm = "ring"
dtype = "bf16"
min_bytes = 65536
max_bytes = 262144
factor = 4
iterations = 1
warmup = 0
[[workload]]
kind = "collective"
op = "allreduce"
algorithm = "tree"
dtype = "bf16"
min_bytes = 65536
max_bytes = 262144
factor = 4
iterations = 1
warmup = 0
[[workload]]
kind = "collective"
op = "allreduce"
algorithm = "halving-doubling"
dtype = "bf16"
min_bytes = 65536
max_bytes = 262144
factor = 4
iterations = 1
warmup = 0
[[workload]]
kind = "collective"
op = "allreduce"
algorithm = "halving-doubling"
dtype = "f32"
ranks = 6
min_bytes = 65540
max_bytes = 65540
iterations = 1
warmup = 0
"#;
    let (out, s) = run_up(&dir, &ring8(2.0, "", w));
    assert_ok(&out);
    assert_verified(&s, 7);
    let algos: Vec<&str> = s["collectives"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["algorithm"].as_str().expect("algorithm"))
        .collect();
    assert_eq!(
        algos,
        [
            "ring",
            "ring",
            "tree",
            "tree",
            "halving-doubling",
            "halving-doubling",
            "halving-doubling"
        ]
    );
    assert_eq!(s["collectives"][2]["dtype"], "bf16");
    // Six ranks (four exchange halves, two fold in) and 16 385 elements,
    // which halve unevenly.
    assert_eq!(s["collectives"][6]["ranks"], 6);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gather_scatter_broadcast_alltoall_and_sendrecv_are_verified() {
    let dir = temp_dir("ops");
    let mut w = String::new();
    for (op, algorithm) in [
        ("allgather", "ring"),
        ("reducescatter", "ring"),
        ("broadcast", "tree"),
        ("broadcast", "ring"),
        ("alltoall", "ring"),
        ("sendrecv", "ring"),
    ] {
        w.push_str(&format!(
            r#"
[[workload]]
kind = "collective"
op = "{op}"
algorithm = "{algorithm}"
ranks = ["sat-0", "sat-1", "sat-2", "sat-3", "sat-4"]
min_bytes = 100000
iterations = 1
warmup = 0
"#
        ));
    }
    let (out, s) = run_up(&dir, &ring8(2.0, "", &w));
    assert_ok(&out);
    assert_verified(&s, 6);
    for e in s["collectives"].as_array().expect("list") {
        assert_eq!(e["ranks"], 5);
        // 100000 bytes of f32 is 25000 elements, uneven over 5 ranks: fine.
        assert_eq!(e["bytes"], 100_000);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_rank_that_dies_fails_the_collective_by_name() {
    let dir = temp_dir("rank-dies");
    let file = dir.join("scenario.toml");
    // Long enough that the kill lands mid-sweep.
    let w = r#"
[[workload]]
kind = "collective"
op = "allreduce"
min_bytes = 65536
iterations = 2000
warmup = 0
"#;
    std::fs::write(
        &file,
        ring8(1.0, "", w).replace("duration_s = 30", "duration_s = 600"),
    )
    .expect("write");
    let out_dir = dir.join("out");
    let mut launcher = Command::new(BIN)
        .arg("up")
        .arg(&file)
        .arg("--out")
        .arg(&out_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let sats = wait_for_children(&launcher, 8);
    assert_eq!(sats.len(), 8);
    std::thread::sleep(Duration::from_secs(3));
    let victim = sats[5];
    let index = sat_index(victim);
    let name = format!("sat-{index}");
    Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .expect("kill");
    let status = wait_exit(&mut launcher, Duration::from_secs(20)).expect("launcher exits");
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    std::io::Read::read_to_string(launcher.stderr.as_mut().expect("stderr"), &mut err)
        .expect("read");
    assert!(err.contains(&name), "stderr: {err}");
    assert!(
        all_gone(&sats, Duration::from_secs(3)),
        "satellites left running"
    );
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
    assert_eq!(s["ok"], false);
    let e = &s["collectives"][0];
    assert_eq!(e["verified"], false);
    let why = e["error"].as_str().expect("an error");
    assert!(why.contains(&name), "{why}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn training_steps_overlap_compute_and_verified_all_reduce() {
    let dir = temp_dir("train");
    // A TPU v6e-class accelerator (918 TFLOP/s bf16 peak) at 40 %; 4 M
    // parameters give 8 MB of bf16 gradients in four 2 MiB buckets.
    let w = r#"
[accelerator]
name = "tpu-v6e"
peak_tflops = 918
utilization = 0.4
[[workload]]
kind = "train"
params = 4e6
tokens_per_step = 2e8
bucket_bytes = 2097152
steps = 2
"#;
    let (out, s) = run_up(&dir, &ring8(4.0, "", w));
    assert_ok(&out);
    let t = &s["train"][0];
    assert_eq!(t["verified"], true, "{t}");
    assert_eq!(t["ranks"], 8);
    // Compute per rank and step: 6 · params · tokens / ranks / (peak · utilisation).
    let compute = 6.0 * 4e6 * 2e8 / 8.0 / (918e12 * 0.4);
    let measured = t["compute_time_s"].as_f64().expect("compute");
    assert!(
        (measured - compute).abs() / compute < 1e-6,
        "{measured} vs {compute}"
    );
    let step = t["step_time_s"].as_f64().expect("step");
    let exposed = t["exposed_comm_s"].as_f64().expect("exposed");
    assert!(step >= compute, "{step} < {compute}");
    assert!((step - compute - exposed).abs() < 1e-9);
    let tps = t["tokens_per_s"].as_f64().expect("tokens/s");
    assert!((tps - 2e8 / step).abs() / tps < 1e-9);
    let mfu = t["effective_utilization"].as_f64().expect("utilisation");
    assert!(mfu > 0.0 && mfu <= 0.4 + 1e-9, "{mfu}");
    assert_eq!(t["steps"].as_array().expect("steps").len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn collectives_over_tcp_are_verified() {
    let dir = temp_dir("tcp-collectives");
    let mut w = String::new();
    for (op, algorithm) in [
        ("allreduce", "ring"),
        ("allreduce", "tree"),
        ("alltoall", "ring"),
    ] {
        w.push_str(&format!(
            r#"
[[workload]]
kind = "collective"
op = "{op}"
algorithm = "{algorithm}"
transport = "tcp"
ranks = 6
min_bytes = 262144
iterations = 2
warmup = 1
"#
        ));
    }
    let (out, s) = run_up(&dir, &ring8(2.0, "loss = 0.002", &w));
    assert_ok(&out);
    assert_verified(&s, 3);
    for e in s["collectives"].as_array().expect("list") {
        assert_eq!(e["transport"], "tcp");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn allreduce_completes_verified_through_a_loss_burst() {
    // Half the packets between sat-1 and sat-2 are lost for 0.5 s while the
    // ring all-reduce runs (its 14 steps take about 0.3 s).
    let dir = temp_dir("burst");
    let w = r#"
[[workload]]
kind = "collective"
op = "allreduce"
min_bytes = 1048576
iterations = 1
warmup = 1
[[fault]]
at_s = 0.0
kind = "loss-burst"
a = "sat-1"
b = "sat-2"
loss = 0.5
for_s = 0.5
"#;
    // The same run as processes and in one process on simulated time; the
    // in-process run twice, to the byte.
    let mut in_process = Vec::new();
    for args in [&[][..], &["--in-process"], &["--in-process"]] {
        let (out, mut s) = run_up_with(&dir, &ring8(2.0, "", w), args);
        assert_ok(&out);
        assert_verified(&s, 1);
        let lost = s["counters"]["drops"]["corrupted"].as_u64().unwrap_or(0);
        assert!(lost > 0, "the burst lost nothing: {}", s["counters"]);
        if !args.is_empty() {
            s["host"].take();
            in_process.push(s);
        }
    }
    assert_eq!(in_process[0], in_process[1]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_collective_that_cannot_reach_a_rank_fails_at_its_timeout() {
    // sat-4 is cut off from the start: the connection never opens.
    let dir = temp_dir("cut-off");
    let w = r#"
[[workload]]
kind = "collective"
op = "allreduce"
ranks = ["sat-0", "sat-1", "sat-4"]
min_bytes = 65536
timeout_s = 1.0
[[fault]]
at_s = 0
kind = "partition"
a = "sat-4"
b = ["sat-0", "sat-1", "sat-2", "sat-3", "sat-5", "sat-6", "sat-7"]
"#;
    let started = std::time::Instant::now();
    let (out, s) = run_up(&dir, &ring8(2.0, "", w));
    assert_eq!(out.status.code(), Some(1));
    let e = &s["collectives"][0];
    assert_eq!(e["verified"], false);
    let why = e["error"].as_str().expect("an error");
    // Either QUIC's handshake gives up first (naming the rank) or the
    // workload's own timeout does.
    assert!(
        why.contains("handshake with rank 2 (sat-4): timed out")
            || why.contains("timed out after 1"),
        "{why}"
    );
    // One virtual second at TDF 2, plus start-up: far from the 30 s run.
    assert!(started.elapsed() < Duration::from_secs(15));
    std::fs::remove_dir_all(&dir).ok();
}
