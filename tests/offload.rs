//! Ground data, space compute, end to end: an offload over a satellite
//! reached only during passes, in-process, over TCP and QUIC. The data
//! goes up over more than one pass, the compute takes the model's time,
//! the results come down at a later pass to another station, and every
//! byte checks out. No packet crosses a ground link while the satellite is
//! below the station's mask, by an elevation computed here from the
//! positions. Bad offloads are refused with exit 2 naming the field.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{BIN, run_up_with, temp_dir};
use orbnet_netem::{SatId, Scenario, SimDuration, SimTime};
use serde_json::Value;

/// The uplink station's rate, Gb/s: 2 Mb/s, so 100 MB take 400 s, more
/// than the longest pass at 325 km over a 10° mask (317 s).
const UP_GBPS: f64 = 0.002;
const MASK_DEG: f64 = 10.0;

/// One satellite at 325 km and 45°, a slow uplink station and a fast
/// downlink one, an H100; `workload` is the offload.
fn scenario(transport: &str) -> String {
    format!(
        r#"name = "offload-test"
epoch = "2025-12-01T00:00:00Z"
seed = 3
duration_s = 172800

[constellation]
kind = "walker"
planes = 1
per_plane = 1
altitude_km = 325
inclination_deg = 45

[links]
rate_gbps = 1
mtu = 9000
acquisition_s = 0

[ground]
min_elevation_deg = {MASK_DEG}
kind = "rf"
rate_gbps = 0.1

[[ground_station]]
name = "oregon"
lat_deg = 45.8
lon_deg = -119.7
rate_gbps = {UP_GBPS}

[[ground_station]]
name = "hawaii"
lat_deg = 21.3
lon_deg = -157.9

[accelerator]
name = "h100"
peak_tflops = 989.4
utilization = 0.4

[[workload]]
kind = "offload"
from = "oregon"
to = "sat-0"
down = "hawaii"
bytes = 100_000_000
flops = 2e17
result_bytes = 5_000_000
transport = "{transport}"
"#
    )
}

fn parse(text: &str) -> Scenario {
    Scenario::parse(text, "offload.toml", &mut |_| Err("no files".into())).expect("parses")
}

/// Runs the scenario in-process; checks the offload's figures against the
/// model and the passes; returns the summary.
fn offload_runs(transport: &str, tag: &str, extra: &[&str]) -> (Value, std::path::PathBuf) {
    let text = scenario(transport);
    let dir = temp_dir(tag);
    let mut args = vec!["--in-process"];
    args.extend_from_slice(extra);
    let (out, summary) = run_up_with(&dir, &text, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let o = &summary["offload"][0];
    assert_eq!(o["verified"], true, "{o:#}");
    let p = &o["parts"][0];
    let f = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k} in {p:#}"));
    // 100 MB at 2 Mb/s: 400 s of sending at least, over two passes at least.
    assert!(f("uplink_s") >= 400.0, "{p:#}");
    assert!(
        p["uplink_sessions"].as_u64().expect("sessions") >= 2,
        "{p:#}"
    );
    assert!(f("uplink_wait_s") > 0.0 && f("downlink_wait_s") >= 0.0);
    // A session opens as its contact does: the receiver hears from the
    // sender within a second (a few round trips of at most 2 × 1233 km /
    // c = 8 ms, and the handshake) of the sender's first wait ending, not
    // after its SYN backed off through the hours it waited.
    let ev = events(&dir);
    for (send, recv) in [
        ("uplink-send", "uplink-receive"),
        ("downlink-send", "downlink-receive"),
    ] {
        let role = |r: &str| {
            ev.iter()
                .find(|e| e["event"] == "offload" && e["role"] == r)
                .unwrap_or_else(|| panic!("no {r} report"))
                .clone()
        };
        let (s, r) = (role(send), role(recv));
        let opened = s["waits"][0][1]
            .as_f64()
            .unwrap_or(s["start_s"].as_f64().expect("start"));
        let heard = r["start_s"].as_f64().expect("start");
        assert!(
            heard >= opened && heard <= opened + 1.0,
            "{send}: contact at {opened} s, first session heard at {heard} s"
        );
    }
    // The compute is the model's: 2e17 / (989.4e12 × 0.4) = 505.357 s.
    let model = 2e17 / (989.4e12 * 0.4);
    assert!((f("compute_s") - model).abs() < 1e-3, "{p:#}");
    let sum = f("uplink_s") + f("wait_s") + f("compute_s") + f("downlink_s");
    assert!((sum - f("total_s")).abs() < 1e-6, "{p:#}");
    assert!((f("downlink_done_s") - f("total_s")).abs() < 1e-6);
    // Each wait ends as a pass over its station begins.
    let s = parse(&text);
    let waits: Vec<(String, f64)> = ev
        .iter()
        .filter(|e| {
            e["event"] == "offload" && e["role"].as_str().is_some_and(|r| r.ends_with("-send"))
        })
        .flat_map(|e| {
            let station = if e["role"] == "uplink-send" {
                "oregon"
            } else {
                "hawaii"
            };
            e["waits"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |w| (station.to_owned(), w[1].as_f64().expect("until")))
        })
        .collect();
    assert!(!waits.is_empty());
    for (station, until) in waits {
        let rises = rises(&s, &station, until + 7200.0);
        assert!(
            rises
                .iter()
                .any(|r| until >= r - 1e-3 && until <= r + 0.101),
            "a wait ended at {until} s, not as a pass over {station} began ({rises:?})"
        );
    }
    assert!(
        stdout.contains("offload 0: gs-0 → sat-0 → gs-1"),
        "{stdout}"
    );
    (summary, dir)
}

/// When the passes of sat-0 over `station` begin, until `until`.
fn rises(s: &Scenario, station: &str, until: f64) -> Vec<f64> {
    let world = &s.world;
    let node = world.find(station).expect("station");
    let k = world.station_of(node).expect("a station");
    let g = world.ground().expect("ground");
    let mask = orbnet_netem::ground::Mask::new(MASK_DEG, None).expect("mask");
    let site = g.station_site(k, 0).expect("site");
    let orbit = world.orbit(SatId(0)).expect("orbit");
    orbnet_netem::ground::passes(
        site,
        orbit,
        &mask,
        SimTime::ZERO,
        SimTime::from_secs_f64(until),
    )
    .iter()
    .map(|p| p.rise.as_secs_f64())
    .collect()
}

fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("out/events.jsonl"))
        .expect("events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

#[test]
fn an_offload_over_tcp_goes_up_over_two_passes_and_checks_out() {
    let (summary, dir) = offload_runs("tcp", "offload-tcp", &["--capture", "oregon"]);
    no_packet_below_the_mask(&summary, &dir.join("out/capture/oregon.pcap"));
}

#[test]
fn an_offload_over_quic_survives_the_gaps_between_passes() {
    offload_runs("quic", "offload-quic", &[]);
}

/// The elevation of `sat` seen from ground node `gs` at `t`, degrees:
/// the angle between the line of sight and the station's geodetic up,
/// which at geodetic latitude φ and at the angle α of the station's
/// inertial position about the pole is (cos φ cos α, cos φ sin α, sin φ).
fn elevation_deg(s: &Scenario, gs: SatId, sat: SatId, lat_deg: f64, t: SimTime) -> f64 {
    let world = &s.world;
    let p = world.orbit(gs).expect("station").position(t);
    let q = world.orbit(sat).expect("satellite").position(t);
    let (phi, alpha) = (lat_deg.to_radians(), p.y.atan2(p.x));
    let up = [phi.cos() * alpha.cos(), phi.cos() * alpha.sin(), phi.sin()];
    let d = [q.x - p.x, q.y - p.y, q.z - p.z];
    let range = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    let dot = up[0] * d[0] + up[1] * d[1] + up[2] * d[2];
    (dot / range).asin().to_degrees()
}

/// Every packet the uplink station sent or received (its capture) crossed
/// while the satellite was above its mask. Link states hold from one
/// routing instant (100 ms) to the next, over which the elevation changes
/// by at most the satellite's angular rate seen from the station, v/h ≈
/// 7.7 km/s / 325 km = 1.4°/s overhead and 0.36°/s at the mask's 1233 km:
/// a packet may cross up to 0.05° under the mask, not more.
fn no_packet_below_the_mask(summary: &Value, pcap: &Path) {
    let s = parse(&scenario("tcp"));
    let epoch_ns = s.epoch.timestamp_nanos_opt().expect("epoch") as i128;
    let bytes = std::fs::read(pcap).expect("capture");
    assert!(bytes.len() > 24, "an empty capture");
    let (gs, sat) = (SatId(1), SatId(0));
    let mut at = 24;
    let (mut packets, mut lowest) = (0usize, f64::MAX);
    let mut times = Vec::new();
    while at + 16 <= bytes.len() {
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let ns = i128::from(word(at)) * 1_000_000_000 + i128::from(word(at + 4));
        let caplen = word(at + 8) as usize;
        let t = SimTime::from_nanos((ns - epoch_ns) as u64);
        let e = elevation_deg(&s, gs, sat, 45.8, t);
        lowest = lowest.min(e);
        assert!(
            e >= MASK_DEG - 0.05,
            "a packet crossed at {:.3} s with the satellite {e:.3}° up",
            t.as_secs_f64()
        );
        times.push(t);
        packets += 1;
        at += 16 + caplen;
    }
    assert!(packets > 10_000, "{packets} packets");
    assert!(
        lowest < MASK_DEG + 1.0,
        "the passes' edges were used: {lowest}"
    );
    // The capture spans gaps of hours with the satellite below the mask.
    let gaps = times
        .windows(2)
        .filter(|w| w[1] - w[0] > SimDuration::from_millis(3_600_000))
        .count();
    let up = summary["offload"][0]["parts"][0]["uplink_sessions"].as_u64();
    assert!(gaps >= 1 || up >= Some(2), "gaps {gaps}");
    let mid = |w: &[SimTime]| w[0] + SimDuration::from_nanos((w[1] - w[0]).as_nanos() / 2);
    for w in times
        .windows(2)
        .filter(|w| w[1] - w[0] > SimDuration::from_millis(600_000))
    {
        let e = elevation_deg(&s, gs, sat, 45.8, mid(w));
        assert!(e < MASK_DEG, "silent while the satellite was {e}° up");
    }
}

/// `orbnet validate` on the scenario with its workload replaced by `body`.
fn validate(tag: &str, body: &str, accelerator: bool) -> (Option<i32>, String) {
    let mut text = scenario("tcp");
    let cut = text.find("[[workload]]").expect("a workload");
    text.truncate(cut);
    if !accelerator {
        text = text.replace(
            "[accelerator]\nname = \"h100\"\npeak_tflops = 989.4\nutilization = 0.4\n",
            "",
        );
    }
    text.push_str(body);
    let dir = temp_dir(tag);
    let file = dir.join("bad.toml");
    std::fs::write(&file, text).expect("write");
    let out = Command::new(BIN)
        .arg("validate")
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
fn a_bad_offload_exits_2_naming_the_field() {
    let w = |fields: &str| {
        format!(
            "[[workload]]\nkind = \"offload\"\nbytes = 1000\nflops = 1e12\nresult_bytes = 10\n{fields}\n"
        )
    };
    let cases = [
        (w("from = \"nowhere\"\nto = \"sat-0\""), true, "workload[0].from: no ground station named \"nowhere\""),
        (w("from = \"sat-0\"\nto = \"sat-0\""), true, "workload[0].from: \"sat-0\" is a satellite"),
        (w("from = \"oregon\"\nto = \"hawaii\""), true, "workload[0].to: \"hawaii\" is a ground station"),
        (w("from = \"oregon\"\nto = [\"sat-0\", \"sat-0\"]"), true, "workload[0].to[1]: \"sat-0\" is listed twice"),
        (w("from = \"oregon\"\nto = \"sat-0\"\ndown = \"sat-9\""), true, "workload[0].down: no ground station named \"sat-9\""),
        (w("from = \"oregon\"\nto = \"sat-0\""), false, "workload[0]: an `offload` workload needs an [accelerator] section"),
        (w("from = \"oregon\"\nto = \"sat-0\"\ncc = \"bbr\"\ntransport = \"tcp\""), true, "workload[0].cc"),
        (
            "[[workload]]\nkind = \"offload\"\nfrom = \"oregon\"\nto = \"sat-0\"\nbytes = 0\nflops = 1e12\nresult_bytes = 10\n".to_owned(),
            true,
            "workload[0].bytes: must be ≥ 1 (got 0)",
        ),
        (
            "[[workload]]\nkind = \"offload\"\nfrom = \"oregon\"\nto = \"sat-0\"\nbytes = 10\nflops = 0\nresult_bytes = 10\n".to_owned(),
            true,
            "workload[0].flops: must be in [1, ",
        ),
        (
            "[[workload]]\nkind = \"offload\"\nfrom = \"oregon\"\nto = \"sat-0\"\nbytes = 10\nflops = 1e9\n".to_owned(),
            true,
            "workload[0]: missing field `result_bytes`",
        ),
    ];
    for (i, (body, acc, want)) in cases.iter().enumerate() {
        let (code, stderr) = validate(&format!("offload-bad-{i}"), body, *acc);
        assert_eq!(code, Some(2), "case {i}: {stderr}");
        assert!(stderr.contains(want), "case {i}: want {want:?} in {stderr}");
        assert!(stderr.contains("bad.toml"), "names the file: {stderr}");
    }
}
