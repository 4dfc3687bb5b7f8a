//! Soak, in process: `scripts/soak.sh`'s mix (a 12-satellite ring with a
//! ping for the whole run, a bulk transfer and an all-reduce every period,
//! a link going down for a third of each period, round the ring) on
//! simulated time, as many virtual seconds as fit in about a minute of
//! wall time on a CI machine. Every transfer and collective verifies, the
//! ping is answered through every fault, the accounting balances, and the
//! process's resident memory stays flat after the warm-up. (It did not
//! until finished transfers' sockets left the stack: every TCP transfer
//! kept its buffers, about 80 MB each, for the rest of the run.)

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, temp_dir};

/// Virtual seconds of the run and of one period of the mix.
const DURATION_S: u32 = 300;
const PERIOD_S: u32 = 20;

/// The soak scenario of `scripts/soak.sh`, for `duration` virtual seconds.
fn soak_ring(duration: u32, period: u32) -> String {
    let mut t = format!(
        r#"name = "soak-ring-12"
epoch = "2026-01-01T00:00:00Z"
seed = 1
tdf = 1
duration_s = {duration}

[constellation]
kind = "walker"
planes = 1
per_plane = 12
altitude_km = 800
inclination_deg = 53

[links]
pattern = "plus-grid"
rate_gbps = 1
mtu = 9000
max_range_km = 6000
acquisition_s = 0
ber = 1e-12

[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-6"
interval_ms = 500
count = {}
timeout_s = 2
"#,
        duration * 2 - 4
    );
    for k in 0..(duration / period - 1) {
        let start = k * period + 1;
        let transport = if k % 2 == 0 { "quic" } else { "tcp" };
        t += &format!(
            r#"
[[workload]]
kind = "bulk"
from = "sat-{}"
to = "sat-{}"
bytes = 20000000
transport = "{transport}"
start_s = {start}
timeout_s = {}

[[workload]]
kind = "collective"
op = "allreduce"
min_bytes = 65536
max_bytes = 1048576
factor = 4
iterations = 2
ranks = 12
start_s = {start}
timeout_s = {}

[[fault]]
at_s = {}
kind = "link-down"
a = "sat-{}"
b = "sat-{}"
for_s = {}
"#,
            k % 12,
            (k + 5) % 12,
            period - 2,
            period - 2,
            start + 2,
            (k + 2) % 12,
            (k + 3) % 12,
            period / 3
        );
    }
    t
}

/// The resident memory of `pid` in KiB (None once it has exited).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_ring_under_load_and_faults_verifies_everything_balances_and_stays_flat() {
    let dir = temp_dir("soak");
    let file = dir.join("soak.toml");
    std::fs::write(&file, soak_ring(DURATION_S, PERIOD_S)).expect("write");
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(["up", "--in-process", "--out"])
        .arg(dir.join("out"))
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut samples = Vec::new();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if let Some(kib) = rss_kib(child.id()) {
            samples.push((started.elapsed(), kib));
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the soak hung"
        );
        // Often enough to catch each period's peak: a 20 s period of the
        // mix takes about a second of wall time here.
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = started.elapsed();
    let stderr = std::io::read_to_string(child.stderr.take().expect("stderr")).unwrap_or_default();
    assert!(status.success(), "{status}: {stderr}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/summary.json")).expect("summary.json"),
    )
    .expect("JSON");

    let rounds = (DURATION_S / PERIOD_S - 1) as usize;
    let transfers = summary["transfers"].as_array().expect("transfers");
    let collectives = summary["collectives"].as_array().expect("collectives");
    assert_eq!(transfers.len(), rounds);
    assert!(collectives.len() >= rounds, "{collectives:?}");
    for w in transfers.iter().chain(collectives) {
        assert_eq!(w["verified"], true, "{w}");
    }
    let ping = &summary["ping"][0];
    let (sent, received) = (ping["sent"].as_u64(), ping["received"].as_u64());
    assert_eq!(sent, Some(u64::from(DURATION_S * 2 - 4)));
    // The route changes at each fault (and back) lose at most a few echoes.
    assert!(received >= sent.map(|s| s - 2 * rounds as u64), "{ping}");
    assert!(summary["link_changes"].as_u64() >= Some(2 * rounds as u64));
    let acc = &summary["accounting"];
    assert_eq!(acc["balanced"], true, "{acc:#}");
    assert!(
        acc["packets"]["delivered"].as_u64() > Some(10_000),
        "{acc:#}"
    );

    // Memory after the warm-up (the first fifth of the run): the peak
    // from 20 % to 50 % of the wall time against the peak from 50 % to
    // 80 % (each period of the mix rises and falls; its peaks must not
    // climb).
    let at = |f: f64| wall.mul_f64(f);
    let peak = |from: f64, to: f64| -> Option<u64> {
        samples
            .iter()
            .filter(|(t, _)| *t >= at(from) && *t < at(to))
            .map(|s| s.1)
            .max()
    };
    // The last fifth is left out: it holds the end of the run, when the
    // launcher gathers every event and writes the results (plots, CSV),
    // memory that is the run's end, not growth. (Measured to the end, a
    // loaded machine once gave +10.5 %, against +2.5 % otherwise; that
    // phase is the likely cause, not proven.)
    let (Some(warm), Some(last)) = (peak(0.2, 0.5), peak(0.5, 0.8)) else {
        panic!("too few samples: {samples:?}");
    };
    let growth = (last as f64 - warm as f64) / warm as f64;
    eprintln!(
        "soak: {DURATION_S} virtual s in {:.1} wall s, peak RSS {:.1} → {:.1} MiB ({:+.2} %), \
         packets delivered {}",
        wall.as_secs_f64(),
        warm as f64 / 1024.0,
        last as f64 / 1024.0,
        growth * 100.0,
        acc["packets"]["delivered"]
    );
    assert!(growth <= 0.05, "memory grew {:.1} %", growth * 100.0);
    let _ = std::fs::remove_dir_all(&dir);
}
