//! Load: a satellite receiving from every neighbour at line rate at once,
//! in process (simulated time, so the host's speed cannot lower the
//! figures).

mod common;

use common::{run_up_with, temp_dir};

/// Sixteen satellites in one circular orbit at 1000 km; sat-0 is linked to
/// its four nearest (sat-1, sat-15 at 22.5°, sat-2, sat-14 at 45°: that
/// chord passes a·cos 22.5° − R = 438 km above the Earth, clear of the
/// grazing margin) by 1 Gb/s links, and each of them sends sat-0
/// `bytes` over `transport` at once, one hop each.
fn fan_in(transport: &str, bytes: u64) -> String {
    let mut t = String::from(
        r#"name = "fan-in-16"
epoch = "2026-01-01T00:00:00Z"
seed = 1
duration_s = 30

[constellation]
kind = "walker"
planes = 1
per_plane = 16
altitude_km = 1000
inclination_deg = 53

[links]
pattern = "explicit"
pairs = [["sat-0", "sat-1"], ["sat-0", "sat-15"], ["sat-0", "sat-2"], ["sat-0", "sat-14"]]
rate_gbps = 1
terminals = 4
acquisition_s = 0
ber = 0
"#,
    );
    for from in [1, 15, 2, 14] {
        t += &format!(
            "\n[[workload]]\nkind = \"bulk\"\nfrom = \"sat-{from}\"\nto = \"sat-0\"\n\
             bytes = {bytes}\ntransport = \"{transport}\"\n"
        );
    }
    t
}

/// Every transfer verified at `each` of its link's rate or better while
/// the other three fill sat-0's other terminals, `all` of the four links'
/// rate in all; every frame accounted for. (The run is seeded: QUIC
/// measures 3.86 Gb/s of 4, TCP 3.38 with nothing dropped: where one
/// smoltcp TCP stream loses the rest is not yet known.)
fn receives_from_every_neighbour_at_line_rate(transport: &str, each: f64, all: f64) {
    let dir = temp_dir(&format!("fan-in-{transport}"));
    let (out, summary) = run_up_with(&dir, &fan_in(transport, 200_000_000), &["--in-process"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let transfers = summary["transfers"].as_array().expect("transfers");
    assert_eq!(transfers.len(), 4);
    let mut total = 0.0;
    for t in transfers {
        assert_eq!(t["verified"], true, "{t}");
        assert_eq!(t["path_capacity_gbps"].as_f64(), Some(1.0), "{t}");
        let goodput = t["goodput_gbps"].as_f64().expect("goodput");
        assert!(goodput >= each, "{t}");
        total += goodput;
    }
    assert!(total >= 4.0 * all, "{total} Gb/s: {transfers:?}");
    let acc = &summary["accounting"];
    assert_eq!(acc["balanced"], true, "{acc:#}");
    eprintln!(
        "fan-in {transport}: sat-0 received {total:.2} Gb/s from 4 neighbours (4 × 1 Gb/s \
         links); dropped {}",
        acc["packets"]["dropped"]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_satellite_receives_from_every_neighbour_at_line_rate_over_quic() {
    receives_from_every_neighbour_at_line_rate("quic", 0.9, 0.95);
}

#[test]
fn a_satellite_receives_from_every_neighbour_at_line_rate_over_tcp() {
    receives_from_every_neighbour_at_line_rate("tcp", 0.75, 0.8);
}
