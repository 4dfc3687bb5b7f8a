//! Ground stations end to end: handovers as the nodes see them against the
//! plan, echoes lost only while a station re-points, `orbnet plan`'s
//! ground views, and bad ground input refused.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{BIN, run_up_with, temp_dir};
use orbnet_netem::{LinkState, SatId, Scenario, SimTime};
use serde_json::Value;

/// Paris and Madrid under a 400-satellite shell, a ping between them
/// every 100 ms for five minutes; handover rule `handover`, 1 s to re-point.
fn scenario(handover: &str) -> String {
    format!(
        r#"
name = "handover"
epoch = "2026-03-20T00:00:00Z"
duration_s = 300
routing_interval_ms = 100
[constellation]
kind = "walker"
planes = 20
per_plane = 20
altitude_km = 550
inclination_deg = 53
[links]
rate_gbps = 10
max_range_km = 5000
grazing_km = 80
[ground]
min_elevation_deg = 25
policy = "nearest"
handover = "{handover}"
handover_s = 1
[[ground_station]]
name = "paris"
lat_deg = 48.8566
lon_deg = 2.3522
[[ground_station]]
name = "madrid"
lat_deg = 40.4168
lon_deg = -3.7038
[[workload]]
kind = "ping"
from = "paris"
to = "madrid"
interval_ms = 100
count = 2950
timeout_s = 0.5
"#
    )
}

/// When each station changed satellite, by the plan's snapshots on the
/// routing grid: (station, instant of the new satellite's choice).
fn planned_handovers(text: &str) -> Vec<(u32, f64)> {
    let s = Scenario::parse(text, "handover.toml", &mut |_| Err("no files".into())).expect("valid");
    let w = &s.world;
    let mut timeline = w.timeline(s.routing_interval);
    let mut last: [BTreeSet<SatId>; 2] = Default::default();
    let mut out = Vec::new();
    for k in 0..=3000u64 {
        let t = SimTime::from_millis(k * 100);
        let snap = timeline.at(t);
        for g in 0..2u32 {
            let node = SatId(w.satellites() + g);
            let chosen: BTreeSet<SatId> = snap
                .links
                .iter()
                .filter(|l| l.b == node && l.state != LinkState::Down)
                .map(|l| l.a)
                .collect();
            if k > 0 && chosen.iter().any(|s| !last[g as usize].contains(s)) {
                out.push((g, t.as_secs_f64()));
            }
            last[g as usize] = chosen;
        }
    }
    out
}

fn events(dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("out/events.jsonl"))
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

#[test]
fn handovers_match_the_plan_and_lose_echoes_only_while_re_pointing() {
    for handover in ["break-before-make", "make-before-break"] {
        let text = scenario(handover);
        let planned = planned_handovers(&text);
        assert!(planned.len() >= 4, "{handover}: {planned:?}");
        let dir = temp_dir(&format!("ground-{handover}"));
        let (out, _) = run_up_with(&dir, &text, &["--in-process"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ev = events(&dir);
        // A station reports each new satellite's link as it starts acquiring.
        let seen: Vec<(u32, f64)> = ev
            .iter()
            .filter(|e| e["event"] == "link" && e["state"] == "acquiring")
            .filter_map(|e| {
                let g = e["sat"].as_str()?.strip_prefix("gs-")?.parse().ok()?;
                Some((g, e["t_s"].as_f64()?))
            })
            .collect();
        let mut a: Vec<_> = seen
            .iter()
            .map(|&(g, t)| (g, (t * 10.0).round() as i64))
            .collect();
        let mut b: Vec<_> = planned
            .iter()
            .map(|&(g, t)| (g, (t * 10.0).round() as i64))
            .collect();
        a.sort();
        b.sort();
        assert_eq!(
            a, b,
            "{handover}: handovers seen by the stations vs the plan"
        );
        let lost: Vec<f64> = ev
            .iter()
            .filter(|e| e["event"] == "echo" && e["rtt_ms"].is_null())
            .filter_map(|e| e["sent_s"].as_f64())
            .collect();
        let echoes = ev.iter().filter(|e| e["event"] == "echo").count();
        assert!(echoes >= 2900, "{handover}: {echoes} echoes");
        if handover == "make-before-break" {
            assert!(lost.is_empty(), "make-before-break lost {lost:?}");
        } else {
            // A request, or its echo up to 0.5 s later, met a station
            // re-pointing: [t, t + 1 s) after a handover, widened by one
            // routing interval on each side.
            for t in &lost {
                let near = planned
                    .iter()
                    .any(|&(_, h)| *t + 0.5 >= h - 0.1 && *t <= h + 1.1);
                assert!(
                    near,
                    "{handover}: echo sent at {t} s lost outside a handover"
                );
            }
            assert!(
                !lost.is_empty(),
                "break-before-make loses the echoes in flight"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn plan(args: &[&str]) -> (std::process::Output, String) {
    let out = Command::new(BIN)
        .arg("plan")
        .args(args)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

#[test]
fn plan_shows_the_ground_a_route_and_passes() {
    let dir = temp_dir("ground-plan");
    let file = dir.join("s.toml");
    std::fs::write(&file, scenario("break-before-make")).expect("write");
    let f = file.to_str().expect("path");
    let (out, text) = plan(&[f, "--format", "json", "--route", "paris", "gs-1"]);
    assert!(out.status.success());
    let p: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(p["ground"][1]["id"], "gs-1");
    assert_eq!(p["ground"][1]["label"], "madrid");
    assert_eq!(p["ground"][0]["lat_deg"], 48.8566);
    assert_eq!(p["satellites"].as_array().map(Vec::len), Some(400));
    let step = &p["steps"][0];
    let gsl: Vec<&Value> = step["links"]
        .as_array()
        .expect("links")
        .iter()
        .filter(|l| l["kind"] == "gsl" && l["state"] == "up")
        .collect();
    assert_eq!(gsl.len(), 2, "one link per station");
    for l in &gsl {
        assert!(l["elevation_deg"].as_f64().expect("elevation") >= 25.0);
    }
    let route = &step["route"];
    assert_eq!(route["from"], "gs-0");
    let path: Vec<&str> = route["path"]
        .as_array()
        .expect("path")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(path.first(), Some(&"gs-0"));
    assert_eq!(path.last(), Some(&"gs-1"));
    assert!(
        path[1..path.len() - 1]
            .iter()
            .all(|n| n.starts_with("sat-"))
    );
    // Propagation only: the hops' lengths over c, out and back.
    let links = step["links"].as_array().expect("links");
    let mut delay = 0.0;
    for hop in path.windows(2) {
        let l = links
            .iter()
            .find(|l| {
                (l["a"] == hop[0] && l["b"] == hop[1]) || (l["a"] == hop[1] && l["b"] == hop[0])
            })
            .expect("a link per hop");
        delay += l["distance_km"].as_f64().expect("km") / 299_792.458 * 1e3;
    }
    let got = route["delay_ms"].as_f64().expect("delay");
    assert!((got - delay).abs() < 1e-3, "{got} vs {delay}");
    assert!((route["rtt_ms"].as_f64().expect("rtt") - 2.0 * got).abs() < 1e-6);

    let (out, text) = plan(&[f, "--passes", "gs-0", "--until", "3600", "--format", "json"]);
    assert!(out.status.success());
    let p: Value = serde_json::from_str(&text).expect("JSON");
    let passes = p["passes"].as_array().expect("passes");
    assert!(passes.len() > 20, "{}", passes.len());
    for pass in passes {
        let (rise, culm, set) = (
            pass["rise_s"].as_f64().expect("rise"),
            pass["culmination_s"].as_f64().expect("culmination"),
            pass["set_s"].as_f64().expect("set"),
        );
        assert!(rise <= culm && culm <= set, "{pass}");
        assert!(pass["max_elevation_deg"].as_f64().expect("max") >= 25.0);
        // A 550 km pass above 25° lasts at most 2λ/ω ≈ 290 s (λ = 8.45°).
        assert!(set - rise <= 300.0, "{pass}");
    }
    let (out, _) = plan(&[f, "--passes", "sat-3"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_ground_input_exits_2_naming_the_field() {
    let dir = temp_dir("ground-bad");
    let file = dir.join("bad.toml");
    let text = scenario("break-before-make").replace("lat_deg = 48.8566", "lat_deg = 91");
    std::fs::write(&file, text).expect("write");
    let out = Command::new(BIN)
        .args(["validate", file.to_str().expect("path")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml: ground_station[0]: latitude 91"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
