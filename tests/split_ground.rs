//! A run with ground stations split across three hosts on this machine's
//! loopback (`orbnet up --hosts 3 --host-index K --coordinator …`): the
//! stations go with the satellites they see most, an echo between two
//! stations on different hosts crosses hosts over a ground link, and its
//! round trips equal the one-host run's to the microsecond.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::split::{echo_rtts_us, finish_within, free_port, one_host_run, summary};
use common::temp_dir;

/// A 144-satellite shell, Paris and Singapore on the ground, five echoes
/// between them. The route at the start (`orbnet plan --route paris
/// singapore`) is paris → sat-39 → … → sat-42 → singapore, 86.4 ms.
const SCENARIO: &str = r#"
name = "split-ground"
epoch = "2026-03-20T00:00:00Z"
duration_s = 2
[constellation]
kind = "walker"
planes = 12
per_plane = 12
altitude_km = 550
inclination_deg = 53
[links]
rate_gbps = 10
max_range_km = 5000
grazing_km = 80
[ground]
min_elevation_deg = 10
policy = "nearest"
[[ground_station]]
name = "paris"
lat_deg = 48.8566
lon_deg = 2.3522
[[ground_station]]
name = "singapore"
lat_deg = 1.3521
lon_deg = 103.8198
[[workload]]
kind = "ping"
from = "paris"
to = "singapore"
interval_ms = 200
count = 5
"#;

fn host(file: &Path, out: &Path, k: usize, port: u16) -> Child {
    Command::new(common::BIN)
        .arg("up")
        .arg(file)
        .args(["--tdf", common::split::TDF, "--hosts", "3"])
        .args(["--host-index", &k.to_string()])
        .args(["--coordinator", &format!("127.0.0.1:{port}")])
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("orbnet up")
}

#[test]
fn ground_stations_split_across_hosts_answer_like_one_host() {
    let dir = temp_dir("split-ground");
    let file = dir.join("split-ground.toml");
    std::fs::write(&file, SCENARIO).expect("write the scenario");
    let reference = dir.join("one-host");
    one_host_run(&file, &reference);
    let want = echo_rtts_us(&reference);
    assert_eq!(want.len(), 5, "the one-host run's echoes");
    // Paris to Singapore and back over at least two satellites and two
    // ground links: longer than the great circle's 10,700 km both ways
    // at the speed of light (71.4 ms).
    assert!(want.iter().all(|&(_, us)| us > 71_400), "{want:?}");

    let out = dir.join("split");
    let port = free_port();
    let hosts: Vec<Child> = (0..3).map(|k| host(&file, &out, k, port)).collect();
    for (k, c) in hosts.into_iter().enumerate() {
        let o = finish_within(c, Duration::from_secs(120));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "host {k}: {stderr}");
    }
    let s = summary(&out);
    assert_eq!(s["ok"], true, "{s}");
    assert_eq!(
        echo_rtts_us(&out),
        want,
        "RTTs across hosts against one host"
    );
    // The stations are placed with the satellites they see most (`orbnet
    // plan --hosts 3`): Paris on host 0, Singapore on host 2.
    let names: Vec<&str> = s["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| h["names"].as_str().expect("names"))
        .collect();
    assert!(
        names[0].contains("gs-0") || names[0].contains("paris"),
        "{names:?}"
    );
    assert!(
        names[2].contains("gs-1") || names[2].contains("singapore"),
        "{names:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
