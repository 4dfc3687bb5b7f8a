//! Helpers for the tests of runs split across hosts (MPI, network
//! namespaces): the scenario they run, the reference run on one host, and
//! the checks every split run must pass.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::BIN;

/// The time dilation the split tests run at: a satellite starved of CPU
/// for less than a hop's delay × TDF (124 ms here) still answers on time,
/// so the RTTs do not depend on how busy the machine is.
pub(crate) const TDF: &str = "10";

/// `topologies/ring-12.toml` with four echoes instead of forty, and two
/// all-reduces between sat-0, sat-4 and sat-8 (one rank on each host of a
/// three-host split), written into `dir`: one over QUIC, whose packets are
/// under 1,500 bytes, and one over TCP, whose segments fill ring-12's
/// 9,000-byte link MTU (between hosts whose interfaces carry 1,500 they
/// leave as IP fragments). The all-reduces start at 1 s, after the last
/// echo: their chunks would queue ahead of an echo by as much as their
/// ranks' start-up lets them, on one host as on three.
pub(crate) fn scenario(dir: &Path) -> PathBuf {
    let ring = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/ring-12.toml");
    let text = std::fs::read_to_string(ring).expect("topologies/ring-12.toml");
    assert!(text.contains("count = 40"), "ring-12's ping changed");
    let text = text.replace("count = 40", "count = 4")
        + r#"
[[workload]]
kind = "collective"
op = "allreduce"
algorithm = "ring"
ranks = ["sat-0", "sat-4", "sat-8"]
min_bytes = 65536
max_bytes = 65536
iterations = 1
warmup = 0
start_s = 1

[[workload]]
kind = "collective"
op = "allreduce"
algorithm = "ring"
ranks = ["sat-0", "sat-4", "sat-8"]
transport = "tcp"
min_bytes = 262144
max_bytes = 262144
iterations = 1
warmup = 0
start_s = 1
"#;
    let file = dir.join("ring-12-split.toml");
    std::fs::write(&file, text).expect("write the scenario");
    file
}

/// Runs `cmd` to its end within `limit` (killed after), with its output.
pub(crate) fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    finish_within(child, limit)
}

/// Waits for `child` within `limit` (killed after), with its output.
pub(crate) fn finish_within(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "still running after {} s; stderr:\n{}",
                limit.as_secs(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// The reference: the scenario as one `orbnet up` on this host.
pub(crate) fn one_host_run(file: &Path, out: &Path) -> Value {
    let mut cmd = Command::new(BIN);
    cmd.arg("up")
        .arg(file)
        .args(["--tdf", TDF, "--out"])
        .arg(out);
    let o = output_within(cmd, Duration::from_secs(120));
    assert!(
        o.status.success(),
        "one-host run: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    summary(out)
}

pub(crate) fn summary(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("JSON")
}

/// Every echo of a run: sequence number and RTT in whole microseconds.
pub(crate) fn echo_rtts_us(dir: &Path) -> Vec<(u64, i64)> {
    let text = std::fs::read_to_string(dir.join("events.jsonl")).expect("events.jsonl");
    let mut echoes: Vec<(u64, i64)> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("an event"))
        .filter(|e| e["event"] == "echo")
        .map(|e| {
            let seq = e["seq"].as_u64().expect("seq");
            let rtt = e["rtt_ms"].as_f64().expect("an echo answered");
            (seq, (rtt * 1000.0).round() as i64)
        })
        .collect();
    echoes.sort_unstable();
    echoes
}

/// What every three-host run of [`scenario`] must show, against the
/// one-host run in `reference`: the same RTTs to the microsecond, the
/// all-reduce across the three hosts verified, and each host's figures.
pub(crate) fn check_split_run(split: &Path, reference: &Path) {
    let s = summary(split);
    assert_eq!(s["ok"], true, "{s}");
    let want = echo_rtts_us(reference);
    assert_eq!(want.len(), 4, "the one-host run's echoes");
    assert_eq!(
        echo_rtts_us(split),
        want,
        "RTTs across hosts against one host"
    );
    let hosts = s["hosts"].as_array().expect("hosts");
    let names: Vec<&str> = hosts
        .iter()
        .map(|h| h["names"].as_str().expect("names"))
        .collect();
    assert_eq!(names, ["sat-0–sat-3", "sat-4–sat-7", "sat-8–sat-11"]);
    for h in hosts {
        assert_eq!(h["satellites"], 4);
        assert!(h["wall_s"].as_f64().expect("wall time") > 0.0, "{h}");
        let u = h["clock_uncertainty_us"].as_f64().expect("uncertainty");
        assert!(u > 0.0 && u < 100_000.0, "{h}");
    }
    assert_eq!(s["clocks"]["within"], true, "{}", s["clocks"]);
    let c = s["collectives"].as_array().expect("collectives");
    assert_eq!(c.len(), 2, "{c:?}");
    for (e, transport) in c.iter().zip(["quic", "tcp"]) {
        assert_eq!(e["transport"], transport, "{e}");
        assert_eq!(e["ranks"], 3);
        assert_eq!(e["verified"], true, "{e}");
        assert!(e["time_s"].as_f64().expect("time") > 0.0);
    }
}

/// Processes whose command line mentions `needle` (a test's own path).
pub(crate) fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(needle)
            && super::alive(pid)
        {
            out.push(pid);
        }
    }
    out
}

/// A TCP port free on loopback now.
pub(crate) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
