//! `orbnet plan` end to end: the binary on the shipped topologies, checked
//! against figures computed here from textbook formulas.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_orbnet");

fn plan_json(file: &str, extra: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["plan", file, "--format", "json"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn starlink_shell1_has_1584_satellites_and_3168_links_of_the_right_length() {
    let v = plan_json("topologies/starlink-shell1.toml", &["--at", "0"]);
    assert_eq!(v["scenario"], "starlink-shell1");
    assert_eq!(v["satellites"].as_array().map(Vec::len), Some(1584));
    let links = v["steps"][0]["links"].as_array().expect("links");
    assert_eq!(links.len(), 3168);
    // Intra-plane neighbours: chord 2a·sin(π/22), a = 6378.137 + 550 km.
    let a: f64 = 6378.137 + 550.0;
    let chord = 2.0 * a * (std::f64::consts::PI / 22.0).sin();
    let c = 299_792.458;
    let intra = links
        .iter()
        .find(|l| l["a"] == "sat-0" && l["b"] == "sat-1")
        .expect("sat-0–sat-1 is a +Grid link");
    let d = intra["distance_km"].as_f64().expect("number");
    assert!((d - chord).abs() < 0.01, "{d} vs {chord}");
    assert!((d - 1972.0).abs() < 1.0);
    let delay = intra["delay_ms"].as_f64().expect("number");
    assert!((delay - chord / c * 1e3).abs() < 1e-5);
    assert!((delay - 6.58).abs() < 0.005);
    // Inter-plane at the equator (slot 0 is at its node at t = 0): planes
    // 5° apart in node, chord 2a·sin(2.5°) ≈ 604 km.
    let inter = links
        .iter()
        .find(|l| l["a"] == "sat-0" && l["b"] == "sat-22")
        .expect("sat-0–sat-22 is a +Grid link");
    let expect = 2.0 * a * (2.5f64.to_radians()).sin();
    let d = inter["distance_km"].as_f64().expect("number");
    assert!((d - expect).abs() < 0.01, "{d} vs {expect}");
    // Every link is in sight and up at this instant.
    assert!(links.iter().all(|l| l["state"] == "up"));
    assert_eq!(v["steps"][0]["routes"]["unreachable_pairs"], 0);
}

#[test]
fn every_topology_plans() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("topologies/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = Command::new(BIN)
                .arg("plan")
                .arg(&path)
                .output()
                .expect("runs");
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            n += 1;
        }
    }
    assert!(n >= 6, "only {n} topologies");
}

#[test]
fn tle_scenario_distances_match_sgp4() {
    let v = plan_json("topologies/tle-demo.toml", &["--at", "600"]);
    let links = v["steps"][0]["links"].as_array().expect("links");
    let link = links
        .iter()
        .find(|l| l["a"] == "DEMO-1" && l["b"] == "DEMO-2")
        .expect("pair listed");
    // Propagate the same element sets here with the sgp4 crate directly.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/demo-plane.tle"),
    )
    .expect("tle file");
    let sets = sgp4::parse_3les(&text).expect("valid TLEs");
    let at = |i: usize| {
        let c =
            sgp4::Constants::from_elements_afspc_compatibility_mode(&sets[i]).expect("constants");
        // The scenario epoch equals the element epoch (2026 day 1.0): 600 s = 10 min.
        c.propagate_afspc_compatibility_mode(sgp4::MinutesSinceEpoch(10.0))
            .expect("propagates")
            .position
    };
    let (p, q) = (at(0), at(1));
    let d = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt();
    let planned = link["distance_km"].as_f64().expect("number");
    assert!(
        (planned - d).abs() < 0.001,
        "planned {planned} km, SGP4 {d} km"
    );
}

#[test]
fn a_bad_file_exits_2_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("orbnet-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("x.toml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/ring-8.toml"),
    )
    .expect("ring-8")
    .replace("rate_gbps = 10 ", "rate_gbps = -5 ");
    std::fs::write(&file, text).expect("write");
    let out = Command::new(BIN)
        .arg("plan")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "error: {}: links.rate_gbps: must be > 0 (got -5)",
            file.display()
        )),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["plan", "/nonexistent/x.toml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn validate_summarizes_a_good_file_and_refuses_a_bad_one() {
    let topo = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/suncatcher-81.toml");
    let out = Command::new(BIN)
        .arg("validate")
        .arg(&topo)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("suncatcher-81: valid"), "{text}");
    assert!(text.contains("81 satellites (formation)"), "{text}");
    assert!(
        text.contains("collective allreduce (ring), 81 ranks"),
        "{text}"
    );
    let dir = std::env::temp_dir().join(format!("orbnet-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("bad.toml");
    let bad = std::fs::read_to_string(&topo)
        .expect("read")
        .replace("op = \"allreduce\"", "op = \"allsum\"");
    std::fs::write(&file, bad).expect("write");
    let out = Command::new(BIN)
        .arg("validate")
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("workload[0].op: must be one of"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn plan_hosts_splits_starlink_shell1_by_whole_planes() {
    let v = plan_json("topologies/starlink-shell1.toml", &["--hosts", "3"]);
    // 72 planes of 22: 24 planes a host; the +Grid cuts 22 links at each
    // of the three boundaries between blocks, the wrap-around included.
    assert_eq!(v["placement"]["method"], "whole-planes");
    assert_eq!(v["placement"]["links_cut"], 66);
    let hosts = v["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 3);
    let mut total = 0;
    for h in hosts {
        assert_eq!(h["satellites"].as_array().map(Vec::len), Some(24 * 22));
        assert_eq!(h["planes"].as_array().map(Vec::len), Some(24));
        // Two boundaries per host.
        assert_eq!(h["links_cut"], 44);
        assert!(h["shortest_cut_delay_ms"].as_f64().is_some_and(|d| d > 0.0));
        total += h["satellites"].as_array().map_or(0, Vec::len);
    }
    assert_eq!(total, 1584);
    assert_eq!(hosts[0]["ranges"][0][0], "sat-0");
    // Without --hosts, the JSON is as it was.
    let plain = plan_json("topologies/ring-8.toml", &[]);
    assert!(plain.get("hosts").is_none() && plain.get("placement").is_none());
}

#[test]
fn plan_hosts_prints_each_hosts_share_and_refuses_csv() {
    let out = Command::new(BIN)
        .args(["plan", "topologies/tle-demo.toml", "--hosts", "3"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("3 hosts (graph partition): 3 links cut between hosts"),
        "{text}"
    );
    assert!(text.contains("DEMO-1–DEMO-4"), "{text}");
    let out = Command::new(BIN)
        .args([
            "plan",
            "topologies/ring-8.toml",
            "--hosts",
            "2",
            "--format",
            "csv",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
