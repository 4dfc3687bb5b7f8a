//! The scale goal, guarded: a Walker shell of 400 satellites as 400
//! processes answers a ping across it, each process holding under 3 MB of
//! private memory, and nothing is left behind.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, children, temp_dir};

/// Private (dirty) kilobytes of process `pid`, from /proc.
fn private_kb(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Private_Dirty:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn four_hundred_satellite_processes_answer_a_ping_across_in_little_memory() {
    let dir = temp_dir("scale");
    // 20 planes of 20 at 550 km: sat-0 (plane 0, slot 0) to sat-210
    // (plane 10, slot 10) is across the shell.
    let scenario = r#"
name = "shell-400"
tdf = 10
duration_s = 1
[constellation]
kind = "walker"
planes = 20
per_plane = 20
altitude_km = 550
inclination_deg = 53
[links]
rate_gbps = 100
max_range_km = 5400
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-210"
interval_ms = 200
count = 4
"#;
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).expect("write");
    let out = dir.join("out");
    let started = Instant::now();
    let mut launcher = Command::new(BIN)
        .arg("up")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("launches");
    // Every satellite's private memory, sampled while the run goes on.
    let (mut most, mut seen) = (0u64, std::collections::BTreeSet::new());
    let mut all = Vec::new();
    let status = loop {
        if let Ok(Some(s)) = launcher.try_wait() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(85),
            "the run took too long"
        );
        for pid in children(launcher.id()) {
            if let Some(kb) = private_kb(pid) {
                most = most.max(kb);
                seen.insert(pid);
            }
            all.push(pid);
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(status.success(), "{status}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
            .expect("JSON");
    assert_eq!(summary["satellites"], 400);
    assert_eq!(summary["ping"][0]["received"], 4, "{}", summary["ping"]);
    assert!(seen.len() >= 400, "sampled {} processes", seen.len());
    assert!(
        most > 0 && most < 3 * 1024,
        "a process held {most} kB private"
    );
    // Nothing left behind.
    all.sort_unstable();
    all.dedup();
    assert!(common::all_gone(&all, Duration::from_secs(5)));
}
