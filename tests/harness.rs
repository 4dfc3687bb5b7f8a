//! The two harnesses: satellites crashed and restarted on the fault
//! schedule (as processes and as tasks), and the in-process harness
//! replaying a run exactly from its seed.

mod common;

use common::{run_up_with, temp_dir};
use serde_json::Value;

/// Eight satellites in one circular orbit at 1000 km, each linked to its
/// neighbours; `body` adds workloads and faults.
fn ring8(tdf: f64, duration: f64, ber: f64, body: &str) -> String {
    format!(
        r#"name = "ring-8-harness"
epoch = "2026-01-01T00:00:00Z"
seed = 1
tdf = {tdf}
duration_s = {duration}

[constellation]
kind = "walker"
planes = 1
per_plane = 8
altitude_km = 1000
inclination_deg = 53

[links]
pattern = "plus-grid"
rate_gbps = 1
mtu = 9000
acquisition_s = 0
ber = {ber}
{body}"#
    )
}

/// One hop of the ring: the chord between neighbours 45° apart,
/// 2a·sin(22.5°), over c, in milliseconds.
fn hop_ms() -> f64 {
    let a_km = 6378.137 + 1000.0; // WGS-84 equatorial radius + altitude
    2.0 * a_km * (22.5f64).to_radians().sin() / 299_792.458 * 1e3
}

fn events(dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("out/events.jsonl"))
        .expect("events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

/// sat-0 pings sat-3 (three hops one way round, five the other) while
/// sat-2 is down from 1 s to 3 s: the echoes go the long way round while it
/// is down and the short way before and after.
fn crash_and_restart(args: &[&str], tag: &str) {
    let scenario = ring8(
        1.0,
        6.0,
        1e-12,
        r#"
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-3"
interval_ms = 250
count = 20

[[fault]]
at_s = 1
kind = "satellite-crash"
a = "sat-2"

[[fault]]
at_s = 3
kind = "satellite-restart"
a = "sat-2"
"#,
    );
    let dir = temp_dir(tag);
    let (out, summary) = run_up_with(&dir, &scenario, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary["failure"], Value::Null);
    let ev = events(&dir);
    let at = |kind: &str| {
        ev.iter()
            .find(|e| e["event"] == kind && e["sat"] == "sat-2")
            .and_then(|e| e["t_s"].as_f64())
    };
    assert_eq!(at("crash"), Some(1.0));
    assert_eq!(at("restart"), Some(3.0));
    let hop = hop_ms();
    let mut seen = [0usize; 2];
    for e in ev.iter().filter(|e| e["event"] == "echo") {
        let sent = e["sent_s"].as_f64().expect("sent_s");
        // Echoes sent within a routing interval of a change may take either
        // way, or be lost: in a satellite as it crashes, or (as processes)
        // reaching one whose new process is still starting.
        if (sent - 1.0).abs() < 0.15 || (sent - 3.0).abs() < 0.15 {
            continue;
        }
        let rtt = e["rtt_ms"].as_f64().expect("every other echo answered");
        let hops = if (1.0..3.0).contains(&sent) { 5.0 } else { 3.0 };
        let want = 2.0 * hops * hop;
        assert!(
            (rtt - want).abs() < 0.01 * want,
            "echo sent at {sent} s: RTT {rtt} ms, want {want} ms ({hops} hops each way)"
        );
        seen[usize::from(hops == 5.0)] += 1;
    }
    assert!(seen[0] >= 8 && seen[1] >= 6, "echoes short/long: {seen:?}");
}

#[test]
fn a_crashed_satellite_process_is_routed_around_and_rejoins_on_restart() {
    crash_and_restart(&[], "crash-process");
}

#[test]
fn a_crashed_satellite_task_is_routed_around_and_rejoins_on_restart() {
    crash_and_restart(&["--in-process"], "crash-task");
}

/// Ping, a QUIC transfer, a TCP transfer and a QUIC all-reduce over links
/// that corrupt about 0.7 % of jumbo frames.
fn busy_ring() -> String {
    ring8(
        20.0,
        10.0,
        1e-7,
        r#"
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-4"
interval_ms = 100
count = 20

[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-3"
bytes = 8000000
transport = "quic"

[[workload]]
kind = "bulk"
from = "sat-1"
to = "sat-5"
bytes = 4000000
transport = "tcp"

[[workload]]
kind = "collective"
op = "allreduce"
min_bytes = 65536
max_bytes = 262144
factor = 4
iterations = 2
ranks = 8
"#,
    )
}

/// A run's summary without its wall-clock section, as text, and its event log.
fn replay(dir: &std::path::Path, seed: &str) -> (String, String, Value) {
    let (out, mut summary) = run_up_with(dir, &busy_ring(), &["--in-process", "--seed", seed]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let host = summary["host"].take();
    assert!(host["wall_s"].as_f64().is_some_and(|w| w > 0.0));
    let events = std::fs::read_to_string(dir.join("out/events.jsonl")).expect("events");
    (
        serde_json::to_string_pretty(&summary).expect("JSON"),
        events,
        summary,
    )
}

#[test]
fn the_in_process_harness_replays_a_seed_exactly() {
    let dir = temp_dir("replay");
    let (a, events_a, summary) = replay(&dir, "7");
    let (b, events_b, _) = replay(&dir, "7");
    assert_eq!(a, b, "same seed, different summaries");
    assert_eq!(events_a, events_b, "same seed, different event logs");
    // The run did real work, and all of it verified.
    assert_eq!(summary["ok"], true);
    let corrupted = |s: &Value| s["counters"]["drops"]["corrupted"].as_u64().unwrap_or(0);
    assert!(corrupted(&summary) > 0, "no frame was lost: {summary}");
    assert_eq!(summary["transfers"].as_array().map(Vec::len), Some(2));
    assert_eq!(summary["collectives"].as_array().map(Vec::len), Some(2));

    // Another seed draws another loss pattern.
    let (c, events_c, other) = replay(&dir, "8");
    assert_ne!(a, c);
    assert_ne!(events_a, events_c);
    assert_eq!(other["ok"], true);
    assert_ne!(
        (corrupted(&summary), &summary["counters"]["frames_out"]),
        (corrupted(&other), &other["counters"]["frames_out"])
    );
}

/// A satellite that crashes for good: the run still ends normally, with
/// its results, in both harnesses.
#[test]
fn a_satellite_that_stays_down_does_not_fail_the_run() {
    let scenario = ring8(
        1.0,
        3.0,
        1e-12,
        r#"
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-3"
interval_ms = 250
count = 10

[[fault]]
at_s = 1
kind = "satellite-crash"
a = "sat-2"
"#,
    );
    for (args, tag) in [
        (&[][..], "down-process"),
        (&["--in-process"][..], "down-task"),
    ] {
        let dir = temp_dir(tag);
        let (out, summary) = run_up_with(&dir, &scenario, args);
        assert!(
            out.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(summary["failure"], Value::Null, "{tag}");
        assert_eq!(summary["ping"][0]["received"], 10, "{tag}");
        let ev = events(&dir);
        assert!(
            ev.iter()
                .any(|e| e["event"] == "crash" && e["sat"] == "sat-2")
        );
        assert!(!ev.iter().any(|e| e["event"] == "restart"));
    }
}

/// Echoes lost while the far satellite is down count as lost once their
/// timeout passes, so the run stops when the last one has, long before
/// its 100 s duration.
#[test]
fn lost_echoes_time_out_and_the_run_stops_early() {
    let scenario = ring8(
        1.0,
        100.0,
        1e-12,
        r#"
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-3"
interval_ms = 250
count = 6
timeout_s = 0.5

[[fault]]
at_s = 0.4
kind = "satellite-crash"
a = "sat-3"
for_s = 0.5
"#,
    );
    let dir = temp_dir("lost-echoes");
    let (out, summary) = run_up_with(&dir, &scenario, &["--in-process"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A request reaches sat-3 after 3 hops (56.5 ms): those sent at 0.5 s
    // and 0.75 s find it down (0.4 s to 0.9 s).
    assert_eq!(summary["ping"][0]["sent"], 6);
    assert_eq!(summary["ping"][0]["received"], 4);
    let ev = events(&dir);
    let lost: Vec<f64> = ev
        .iter()
        .filter(|e| e["event"] == "echo" && e["rtt_ms"].is_null())
        .filter_map(|e| e["sent_s"].as_f64())
        .collect();
    assert_eq!(lost, [0.5, 0.75]);
    // The last request (1.25 s) is answered 113 ms later, after the lost
    // ones timed out (1.0 s and 1.25 s); the run ends then, not at 100 s.
    for d in ev.iter().filter(|e| e["event"] == "done") {
        let t = d["t_s"].as_f64().unwrap_or(f64::MAX);
        assert!(t < 1.4, "{} ran to {t} s", d["sat"]);
    }
}
