//! `orbnet up` end to end: real satellite processes on loopback.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;
use common::{BIN, all_gone, sat_index, temp_dir, wait_exit, wait_for_children};

const C_KM_S: f64 = 299_792.458;
const EARTH_RADIUS_KM: f64 = 6378.137;

fn ring(
    name: &str,
    per_plane: u32,
    altitude_km: f64,
    duration_s: f64,
    to: u32,
    count: u32,
) -> String {
    format!(
        r#"name = "{name}"
epoch = "2026-01-01T00:00:00Z"
seed = 1
tdf = 1
duration_s = {duration_s}
[constellation]
kind = "walker"
planes = 1
per_plane = {per_plane}
altitude_km = {altitude_km}
inclination_deg = 53
[links]
pattern = "plus-grid"
rate_gbps = 10
mtu = 9000
grazing_km = 80
max_range_km = 6000
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-{to}"
interval_ms = 100
count = {count}
"#
    )
}

fn read_summary(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Starts `orbnet up FILE --out OUT` in the background.
fn spawn_up(file: &Path, out: &Path, stderr: Stdio) -> Child {
    Command::new(BIN)
        .arg("up")
        .arg(file)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawns")
}

#[test]
fn ping_across_a_12_satellite_ring_follows_the_geometry() {
    let dir = temp_dir("ring12");
    let file = dir.join("ring-12.toml");
    std::fs::write(&file, ring("ring-12", 12, 800.0, 1.6, 6, 10)).expect("write");
    let out = dir.join("out");
    let status = Command::new(BIN)
        .arg("up")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("runs");
    assert!(status.success());
    let s = read_summary(&out);
    assert_eq!(s["ok"], true);
    assert_eq!(s["satellites"], 12);
    let p = &s["ping"][0];
    assert_eq!(p["sent"], 10);
    assert_eq!(p["received"], 10);
    // Six hops each way, each a chord of 30° at a = R + 800 km:
    // RTT = 12 · 2a·sin(15°) / c ≈ 148.7 ms.
    let a = EARTH_RADIUS_KM + 800.0;
    let expected_ms = 12.0 * 2.0 * a * 15f64.to_radians().sin() / C_KM_S * 1e3;
    assert!((expected_ms - 148.6).abs() < 0.5, "{expected_ms}");
    let rtt = p["rtt_ms"]["p50"].as_f64().expect("p50");
    assert!(
        (rtt / expected_ms - 1.0).abs() < 0.05,
        "measured {rtt} ms, geometry {expected_ms} ms"
    );
    assert!(p["rtt_ms"]["max"].as_f64().expect("max") < expected_ms * 1.05);
    assert!(out.join("rtt.csv").exists() && out.join("rtt.svg").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn up_without_arguments_runs_the_default_and_exits_0() {
    let dir = temp_dir("default");
    let out = Command::new(BIN)
        .arg("up")
        .current_dir(&dir)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<PathBuf> = std::fs::read_dir(dir.join("results"))
        .expect("results/")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(results.len(), 1);
    let s = read_summary(&results[0]);
    assert_eq!(s["scenario"], "demo-24");
    assert_eq!(s["ok"], true);
    assert!(s["ping"][0]["received"].as_u64().expect("received") > 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_killed_satellite_fails_the_run_by_name_and_leaves_nothing() {
    let dir = temp_dir("kill");
    let file = dir.join("ring-8.toml");
    std::fs::write(&file, ring("ring-8", 8, 1000.0, 60.0, 4, 500)).expect("write");
    let mut launcher = spawn_up(&file, &dir.join("out"), Stdio::piped());
    let sats = wait_for_children(&launcher, 8);
    assert_eq!(sats.len(), 8);
    std::thread::sleep(Duration::from_millis(1500));
    let victim = sats[3];
    let index = sat_index(victim);
    Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .expect("kill");
    let status = wait_exit(&mut launcher, Duration::from_secs(10)).expect("launcher exits");
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    std::io::Read::read_to_string(launcher.stderr.as_mut().expect("stderr"), &mut err)
        .expect("read");
    assert!(err.contains(&format!("sat-{index}")), "stderr: {err}");
    assert!(
        all_gone(&sats, Duration::from_secs(3)),
        "satellites left running"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sigterm_and_sigkill_of_the_launcher_stop_every_satellite() {
    let dir = temp_dir("signals");
    let file = dir.join("ring-8.toml");
    std::fs::write(&file, ring("ring-8", 8, 1000.0, 60.0, 4, 500)).expect("write");
    for signal in ["-TERM", "-KILL"] {
        let mut launcher = spawn_up(&file, &dir.join("out"), Stdio::null());
        let sats = wait_for_children(&launcher, 8);
        assert_eq!(sats.len(), 8);
        std::thread::sleep(Duration::from_millis(1000));
        Command::new("kill")
            .args([signal, &launcher.id().to_string()])
            .status()
            .expect("kill");
        let status = wait_exit(&mut launcher, Duration::from_secs(3)).expect("launcher exits");
        assert!(!status.success());
        assert!(
            all_gone(&sats, Duration::from_secs(2)),
            "satellites outlived the launcher after {signal}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ping_follows_a_route_change_when_the_earth_blocks_a_link() {
    // Two planes at 2000 km, nodes 180° apart, inclination 63.23°. The
    // +Grid link between slot 4 of each plane (sat-4, sat-16) runs across
    // the pole region; its chord's midpoint is r·sin(u)·sin(i) from the
    // Earth's centre, so it is blocked once that falls below R + 80 km. At
    // u0 = 120° it is up and about to set; then the ping must go round
    // through the slot-3 pair, two intra-plane hops longer.
    let dir = temp_dir("flip");
    let file = dir.join("flip.toml");
    std::fs::write(
        &file,
        r#"name = "flip"
duration_s = 12
[constellation]
kind = "walker"
planes = 2
per_plane = 12
altitude_km = 2000
inclination_deg = 63.23
[links]
rate_gbps = 10
[[workload]]
kind = "ping"
from = "sat-4"
to = "sat-16"
interval_ms = 200
count = 55
"#,
    )
    .expect("write");
    let out = dir.join("out");
    let status = Command::new(BIN)
        .arg("up")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("runs");
    assert!(status.success());
    let r = EARTH_RADIUS_KM + 2000.0;
    let i = 63.23f64.to_radians();
    let n = (398_600.441_8 / r.powi(3)).sqrt(); // rad/s
    let u_set = std::f64::consts::PI - ((EARTH_RADIUS_KM + 80.0) / (r * i.sin())).asin();
    let t_set = (u_set - 120f64.to_radians()) / n;
    assert!((4.0..9.0).contains(&t_set), "{t_set}");
    let csv = std::fs::read_to_string(out.join("rtt.csv")).expect("rtt.csv");
    let rows: Vec<(f64, Option<f64>)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[3].parse().expect("sent_s"), f[4].parse().ok())
        })
        .collect();
    assert_eq!(rows.len(), 55);
    // Direct: one chord of ≈ 10 630 km; round about: 2 × 4337 km + ≈ 7549 km.
    let direct_ms = 2.0 * 10_630.0 / C_KM_S * 1e3;
    let around_ms =
        2.0 * (2.0 * 2.0 * r * 15f64.to_radians().sin() + 2.0 * r * i.cos()) / C_KM_S * 1e3;
    let mut lost = 0;
    for (t, rtt) in rows {
        let Some(rtt) = rtt else {
            lost += 1;
            continue;
        };
        if t < t_set - 0.3 {
            assert!(
                (rtt / direct_ms - 1.0).abs() < 0.01,
                "t={t}: {rtt} ms vs direct {direct_ms} ms"
            );
        } else if t > t_set + 0.3 {
            assert!(
                (rtt / around_ms - 1.0).abs() < 0.01,
                "t={t}: {rtt} ms vs around {around_ms} ms"
            );
        }
    }
    assert!(lost <= 2, "{lost} echoes lost across one route change");
    std::fs::remove_dir_all(&dir).ok();
}
