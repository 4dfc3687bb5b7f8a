//! Bulk transfers over real satellite processes: content verified end to
//! end, through loss, across a route change, and a clear failure when the
//! destination cannot be reached.

use serde_json::Value;

mod common;
use common::{run_up, run_up_with, temp_dir};

fn lossy_ring(transport: &str) -> String {
    format!(
        r#"name = "lossy-ring"
duration_s = 8
[constellation]
kind = "walker"
planes = 1
per_plane = 12
altitude_km = 800
inclination_deg = 53
[links]
rate_gbps = 0.1
loss = 0.005
queue_bytes = 4000000
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-3"
bytes = 2000000
transport = "{transport}"
"#
    )
}

#[test]
fn tcp_bulk_across_three_lossy_hops_is_verified() {
    lossy_bulk_is_verified("tcp");
}

#[test]
fn quic_bulk_across_three_lossy_hops_is_verified() {
    lossy_bulk_is_verified("quic");
}

fn lossy_bulk_is_verified(transport: &str) {
    let dir = temp_dir(&format!("lossy-{transport}"));
    let (out, s) = run_up(&dir, &lossy_ring(transport));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = &s["transfers"][0];
    assert_eq!(t["transport"], transport);
    assert_eq!(t["verified"], true, "{t}");
    assert_eq!(t["received"], 2_000_000);
    let goodput = t["goodput_gbps"].as_f64().expect("goodput");
    let capacity = t["path_capacity_gbps"].as_f64().expect("capacity");
    assert_eq!(capacity, 0.1);
    assert!(
        goodput > 0.0 && goodput <= capacity,
        "{goodput} Gb/s over a {capacity} Gb/s path"
    );
    // Loss did happen: the shapers dropped corrupted packets.
    assert!(
        s["counters"]["drops"]["corrupted"].as_u64().unwrap_or(0) > 0,
        "{}",
        s["counters"]
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A TCP sender in slow start overshoots the path by half its window in its
/// last round; the links' default queue must hold that, or a burst of drops
/// costs smoltcp (no selective acknowledgement) seconds. Four 200 Mb/s hops
/// of a 12-satellite ring at 800 km: a round trip of 8 chords of
/// 2a·sin 15°, 99 ms, computed here.
#[test]
fn tcp_slow_start_fits_the_default_queue() {
    let scenario = r#"name = "slow-start"
duration_s = 10
[constellation]
kind = "walker"
planes = 1
per_plane = 12
altitude_km = 800
inclination_deg = 53
[links]
rate_gbps = 0.2
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-4"
bytes = 50000000
transport = "tcp"
"#;
    let dir = temp_dir("slow-start");
    let (out, s) = run_up_with(&dir, scenario, &["--in-process"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = &s["transfers"][0];
    assert_eq!(t["verified"], true, "{t}");
    let chord_km = 2.0 * (6378.137 + 800.0) * 15f64.to_radians().sin();
    let rtt = 8.0 * chord_km / 299_792.458;
    assert!((rtt - 0.099).abs() < 0.001, "{rtt}");
    // The path's bandwidth-delay product, and the half of it that slow start
    // adds to the first link's queue at the end.
    let bdp = 0.2e9 / 8.0 * rtt;
    assert!(bdp / 2.0 < 1.25e6, "50 ms at 200 Mb/s holds {bdp} / 2");
    assert_eq!(
        s["counters"]["drops"]["queue-full"].as_u64().unwrap_or(0),
        0,
        "{}",
        s["counters"]
    );
    // Slow start itself (about ten round trips from two segments) and the
    // last round trip are the only time below the link rate.
    let goodput = t["goodput_gbps"].as_f64().expect("goodput");
    assert!((0.1..=0.2).contains(&goodput), "{goodput} Gb/s of 0.2");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn tcp_bulk_survives_a_route_change() {
    bulk_survives_a_route_change("tcp");
}

#[test]
fn quic_bulk_survives_a_route_change() {
    bulk_survives_a_route_change("quic");
}

fn bulk_survives_a_route_change(transport: &str) {
    // The geometry of tests/up.rs: the sat-4–sat-16 link sets behind the
    // Earth about 6.4 s in; the transfer runs across that instant.
    let dir = temp_dir(&format!("reroute-{transport}"));
    let (out, s) = run_up(
        &dir,
        &format!(
            r#"name = "reroute"
duration_s = 14
[constellation]
kind = "walker"
planes = 2
per_plane = 12
altitude_km = 2000
inclination_deg = 63.23
[links]
rate_gbps = 0.02
queue_bytes = 4000000
[[workload]]
kind = "bulk"
from = "sat-4"
to = "sat-16"
bytes = 4000000
start_s = 5
transport = "{transport}"
"#
        ),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = &s["transfers"][0];
    assert_eq!(t["verified"], true, "{t}");
    let end = 5.0 + t["seconds"].as_f64().expect("seconds");
    assert!(end > 6.6, "finished at {end} s, before the link set");
    assert!(s["link_changes"].as_u64().expect("count") > 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_transfer_to_an_unreachable_satellite_fails_clearly() {
    let dir = temp_dir("unreachable");
    let (out, s) = run_up(
        &dir,
        r#"name = "island"
duration_s = 3
[constellation]
kind = "walker"
planes = 1
per_plane = 8
altitude_km = 1000
inclination_deg = 53
[links]
pattern = "explicit"
pairs = [["sat-0", "sat-1"], ["sat-1", "sat-2"]]
rate_gbps = 1
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-5"
bytes = 100000
timeout_s = 1.5
transport = "tcp"
"#,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no path from sat-0 to sat-5"), "{err}");
    let t = &s["transfers"][0];
    assert_eq!(t["verified"], false);
    assert!(
        t["error"]
            .as_str()
            .expect("error")
            .contains("timed out after 1.500 s"),
        "{t}"
    );
    assert_eq!(s["ok"], false);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn quic_transfer_survives_a_scheduled_link_cut_by_rerouting() {
    // sat-0 → sat-3 runs clockwise over sat-1 and sat-2; the link between
    // them is cut from 0.3 s to 1.3 s, so traffic goes the long way round
    // (nine hops) and back again. 10 MB at 0.1 Gb/s take about 0.8 s.
    let dir = temp_dir("fault-cut");
    let scenario = lossy_ring("quic")
        .replace("loss = 0.005\n", "")
        .replace("bytes = 2000000", "bytes = 10000000")
        + r#"
[[fault]]
at_s = 0.3
kind = "link-down"
a = "sat-1"
b = "sat-2"
for_s = 1.0
"#;
    let (out, s) = run_up(&dir, &scenario);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = &s["transfers"][0];
    assert_eq!(t["verified"], true, "{t}");
    assert_eq!(t["received"], 10_000_000);
    // It finished while the link was still cut: the rest went the long way.
    let done = t["seconds"].as_f64().expect("finished");
    assert!(done < 1.3, "finished at {done} s");
    let events = std::fs::read_to_string(dir.join("out/events.jsonl")).expect("events");
    let cuts = events
        .lines()
        .filter(|l| l.contains("\"state\":\"down\"") && l.contains("\"link\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["t_s"].as_f64().is_some_and(|t| (0.3..0.5).contains(&t)))
        .count();
    // Both ends of the cut link report it.
    assert_eq!(cuts, 2, "link events: {events}");
    std::fs::remove_dir_all(&dir).ok();
}
