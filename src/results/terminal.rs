//! The human summary `orbnet up` prints at its end (`--json` prints what
//! `summary.json` holds instead): one line per ping in ping's own words,
//! one line per transfer as iperf3 ends its report, a table per collective
//! sweep in nccl-tests' columns with the α–β model's time beside, and each
//! training workload's steps. Every figure is the summary's, rounded for
//! reading; nccl-tests' units are its own (µs, GB/s), the rest orbnet's
//! (ms, Gb/s), all in virtual time.

use std::fmt::Write as _;

use super::Summary;
use super::collectives::{CollectiveSummary, TrainSummary};
use super::offload::OffloadSummary;
use super::summary::{PingSummary, TransferSummary};

/// The summary for people.
pub(crate) fn terminal(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}, {} satellites{}, {} harness, TDF {}, seed {}, {} s virtual, {:.2} s wall",
        s.scenario,
        if s.ok { "ok" } else { "FAILED" },
        s.satellites,
        match s.ground_stations {
            0 => String::new(),
            1 => ", 1 ground station".into(),
            n => format!(", {n} ground stations"),
        },
        s.harness,
        s.tdf,
        s.seed,
        s.duration_s,
        s.host.wall_s
    );
    if let Some(f) = &s.failure {
        let _ = writeln!(out, "  {f}");
    }
    if let Some(split) = &s.split {
        out.push_str(&hosts_lines(split));
    }
    if let Some(p) = s.accounting.problem() {
        let _ = writeln!(out, "  {p}");
    }
    for p in &s.ping {
        out.push_str(&ping_line(p));
    }
    for t in &s.transfers {
        out.push_str(&transfer_line(t));
    }
    let mut rows = s.collectives.as_slice();
    while let Some(first) = rows.first() {
        let n = rows
            .iter()
            .take_while(|r| r.workload == first.workload)
            .count();
        out.push_str(&collective_table(&rows[..n]));
        rows = &rows[n..];
    }
    for t in &s.train {
        out.push_str(&train_table(t));
    }
    for t in &s.training {
        out.push_str(&super::training_table::table(t));
    }
    for o in &s.offload {
        out.push_str(&offload_table(o));
    }
    out
}

/// One line per host of a split run, and the clocks' note if any:
/// `host 1: 4 satellites (sat-4–sat-7), late ≤ 12.0 µs, clock +3.1 ± 40.2 µs, 3.21 s wall`
fn hosts_lines(split: &super::Split) -> String {
    let mut out = String::new();
    for h in &split.hosts {
        let clock = match (h.clock_offset_us, h.clock_uncertainty_us) {
            (Some(o), Some(u)) => format!("clock {o:+.1} ± {u:.1} µs"),
            _ => "clock not measured".to_owned(),
        };
        let wall = h
            .wall_s
            .map_or("lost".to_owned(), |w| format!("{w:.2} s wall"));
        let _ = writeln!(
            out,
            "host {}: {} satellites ({}), late ≤ {:.1} µs, {clock}, {wall}",
            h.host, h.satellites, h.names, h.late_max_us
        );
    }
    if let Some(note) = &split.clocks.note {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}

/// `sat-0 → sat-4: 40 sent, 40 received, 0% loss, rtt min/avg/max = …/…/… ms (geometric …/…/… ms)`
fn ping_line(p: &PingSummary) -> String {
    let loss = if p.sent == 0 {
        0.0
    } else {
        (p.sent - p.received.min(p.sent)) as f64 * 100.0 / p.sent as f64
    };
    let head = format!(
        "ping {} → {}: {} sent, {} received, {} loss",
        p.from,
        p.to,
        p.sent,
        p.received,
        percent(loss)
    );
    if p.received == 0 {
        return format!("{head}, no reply\n");
    }
    let (r, g) = (&p.rtt_ms, &p.geometric_rtt_ms);
    format!(
        "{head}, rtt min/avg/max = {:.3}/{:.3}/{:.3} ms (geometric {:.3}/{:.3}/{:.3} ms)\n",
        r.min, r.mean, r.max, g.min, g.mean, g.max
    )
}

/// A percentage as ping prints it: whole, or to a tenth.
fn percent(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}%")
    } else {
        format!("{r:.1}%")
    }
}

/// A byte count as iperf3 prints it: KBytes, MBytes, GBytes (powers of
/// 1024) with three significant figures or so.
pub(super) fn iperf_bytes(bytes: u64) -> String {
    let mut v = bytes as f64;
    let mut unit = "Bytes";
    for u in ["KBytes", "MBytes", "GBytes", "TBytes"] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if v < 9.995 {
        format!("{v:.2} {unit}")
    } else if v < 99.95 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// `bulk sat-2 → sat-6 (quic, cubic, 1 stream): 0.000-12.345 sec  256 MBytes  1.740 Gbits/sec  receiver, path capacity 10.000 Gbits/sec, verified`
fn transfer_line(t: &TransferSummary) -> String {
    let streams = if t.streams == 1 { "stream" } else { "streams" };
    let head = format!(
        "bulk {} → {} ({}, {}, {} {streams})",
        t.from, t.to, t.transport, t.cc, t.streams
    );
    let check = match (&t.error, t.verified) {
        (_, true) => "verified".to_owned(),
        (Some(e), false) => format!("NOT verified: {e}"),
        (None, false) => "NOT verified".to_owned(),
    };
    let capacity = t.path_capacity_gbps.map_or(String::new(), |c| {
        format!(", path capacity {c:.3} Gbits/sec")
    });
    match (t.seconds, t.goodput_gbps) {
        (Some(secs), Some(gbps)) => format!(
            "{head}: 0.000-{secs:.3} sec  {}  {gbps:.3} Gbits/sec  receiver{capacity}, {check}\n",
            iperf_bytes(t.bytes)
        ),
        _ => format!(
            "{head}: unfinished, {} of {} received{capacity}, {check}\n",
            iperf_bytes(t.received),
            iperf_bytes(t.bytes)
        ),
    }
}

/// nccl-tests' name of a data type, and its size.
fn nccl_type(dtype: &str) -> (&str, u64) {
    match dtype {
        "f32" => ("float", 4),
        "bf16" => ("bfloat16", 2),
        other => (other, 1),
    }
}

/// nccl-tests' reduction column: `sum` for the reducing operations.
fn redop(op: &str) -> &'static str {
    match op {
        "allreduce" | "reducescatter" => "sum",
        _ => "none",
    }
}

const GBPS_TO_GBYTES: f64 = 1.0 / 8.0;

/// One collective workload's sweep: nccl-tests' out-of-place columns, the
/// model's time and the ratio beside, then the average bus bandwidth.
fn collective_table(rows: &[CollectiveSummary]) -> String {
    let mut out = String::new();
    let Some(c) = rows.first() else {
        return out;
    };
    let link = c
        .link_rate_gbps
        .map_or(String::new(), |l| format!(", link {l} Gb/s"));
    let _ = writeln!(
        out,
        "collective {}: {} {} over {}, {} ranks, {} iterations{link}",
        c.workload, c.op, c.algorithm, c.transport, c.ranks, c.iterations
    );
    let _ = writeln!(
        out,
        "#{:>11} {:>12} {:>9} {:>6} {:>12} {:>11} {:>11} {:>6} {:>12} {:>6}",
        "size",
        "count",
        "type",
        "redop",
        "time(us)",
        "algbw(GB/s)",
        "busbw(GB/s)",
        "#wrong",
        "model(us)",
        "ratio"
    );
    let opt = |v: Option<f64>, k: f64, digits: usize| {
        v.map_or("N/A".to_owned(), |x| format!("{:.digits$}", x * k))
    };
    for r in rows {
        let (ty, size) = nccl_type(r.dtype);
        let wrong = match (r.verified, r.time_s) {
            (true, _) => "0",
            (false, None) => "N/A",
            (false, Some(_)) => ">0",
        };
        let _ = writeln!(
            out,
            " {:>11} {:>12} {:>9} {:>6} {:>12} {:>11} {:>11} {:>6} {:>12} {:>6}",
            r.bytes,
            r.bytes / size,
            ty,
            redop(r.op),
            opt(r.time_s, 1e6, 1),
            opt(r.algbw_gbps, GBPS_TO_GBYTES, 3),
            opt(r.busbw_gbps, GBPS_TO_GBYTES, 3),
            wrong,
            opt(r.model_time_s, 1e6, 1),
            opt(r.model_ratio, 1.0, 2)
        );
    }
    for r in rows {
        if let Some(e) = &r.error {
            let _ = writeln!(out, "# {} bytes: {e}", r.bytes);
        }
    }
    let bus: Vec<f64> = rows.iter().filter_map(|r| r.busbw_gbps).collect();
    if !bus.is_empty() {
        let avg = bus.iter().sum::<f64>() / bus.len() as f64 * GBPS_TO_GBYTES;
        let _ = writeln!(out, "# Avg bus bandwidth    : {avg:.3} GB/s");
    }
    out
}

/// A training workload: each step's time, compute, communication and
/// exposed communication, then the means.
fn train_table(t: &TrainSummary) -> String {
    let mut out = String::new();
    let check = match (&t.error, t.verified) {
        (_, true) => "verified".to_owned(),
        (Some(e), false) => format!("NOT verified: {e}"),
        (None, false) => "NOT verified".to_owned(),
    };
    let _ = writeln!(
        out,
        "train {}: {} ranks on {}, {:e} parameters, {} tokens a step, {}",
        t.workload, t.ranks, t.accelerator, t.params, t.tokens_per_step, check
    );
    let _ = writeln!(
        out,
        "  {:>4} {:>12} {:>12} {:>12} {:>12}",
        "step", "step(s)", "compute(s)", "comm(s)", "exposed(s)"
    );
    for s in &t.steps {
        let _ = writeln!(
            out,
            "  {:>4} {:>12.6} {:>12.6} {:>12.6} {:>12.6}",
            s.step, s.step_s, s.compute_s, s.comm_s, s.exposed_comm_s
        );
    }
    if let (Some(step), Some(compute), Some(exposed)) =
        (t.step_time_s, t.compute_time_s, t.exposed_comm_s)
    {
        let extra = match (t.tokens_per_s, t.effective_utilization) {
            (Some(tok), Some(u)) => format!(", {tok:.0} tokens/s, {:.1}% of peak", u * 100.0),
            _ => String::new(),
        };
        let over = if t.steps.len() > 1 {
            "mean after the first step"
        } else {
            "mean"
        };
        let _ = writeln!(
            out,
            "  {over}: {step:.6} s a step (compute {compute:.6} s, \
             exposed communication {exposed:.6} s){extra}"
        );
    }
    out
}

/// An offload: each part's uplink, wait, compute, downlink and total
/// (virtual seconds), and the sessions each leg's sender opened.
fn offload_table(o: &OffloadSummary) -> String {
    let mut out = String::new();
    let check = match (&o.error, o.verified) {
        (_, true) => "verified".to_owned(),
        (Some(e), false) => format!("NOT verified: {e}"),
        (None, false) => "NOT verified".to_owned(),
    };
    let on = o
        .accelerator
        .as_ref()
        .map_or(String::new(), |a| format!(" on {a}"));
    let _ = writeln!(
        out,
        "offload {}: {} → {} → {} over {} ({}), {} up, {:e} FLOPs{on}, {} down, {}",
        o.workload,
        o.from,
        o.to.join(", "),
        o.down,
        o.transport,
        o.cc,
        iperf_bytes(o.bytes),
        o.flops,
        iperf_bytes(o.result_bytes),
        check
    );
    let _ = writeln!(
        out,
        "  {:>4} {:<12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>9}",
        "part",
        "satellite",
        "uplink(s)",
        "wait(s)",
        "compute(s)",
        "downlink(s)",
        "total(s)",
        "sessions"
    );
    let opt = |v: Option<f64>| v.map_or("N/A".to_owned(), |x| format!("{x:.3}"));
    for p in &o.parts {
        let _ = writeln!(
            out,
            "  {:>4} {:<12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>9}",
            p.part,
            p.satellite,
            opt(p.uplink_s),
            opt(p.wait_s),
            opt(p.compute_s),
            opt(p.downlink_s),
            opt(p.total_s),
            format!("{}/{}", p.uplink_sessions, p.downlink_sessions)
        );
    }
    if let Some(total) = o.total_s {
        let _ = writeln!(
            out,
            "  total {total:.3} s ({}) from the start to the last results down",
            clock_time(total)
        );
    }
    out
}

/// Seconds as hours, minutes and seconds: `3 h 07 min 28 s`.
fn clock_time(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s")
    } else {
        format!("{m} min {s:02} s")
    }
}

#[cfg(test)]
mod tests {
    use orbnet_node::protocol::Counters;
    use serde_json::Value;

    use super::super::accounting::Accounting;
    use super::super::collectives::StepSummary;
    use super::super::plot::Spread;
    use super::super::summary::{Host, RunCounters};
    use super::*;

    fn spread(min: f64, mean: f64, max: f64) -> Spread {
        Spread {
            min,
            p50: mean,
            p99: max,
            max,
            mean,
        }
    }

    fn collective(bytes: u64, time_s: f64, model_time_s: f64, verified: bool) -> CollectiveSummary {
        let algbw = bytes as f64 * 8.0 / time_s / 1e9;
        CollectiveSummary {
            workload: 2,
            op: "allreduce",
            algorithm: "ring",
            transport: "quic",
            dtype: "f32",
            ranks: 4,
            bytes,
            iterations: 5,
            time_s: Some(time_s),
            algbw_gbps: Some(algbw),
            busbw_gbps: Some(algbw * 1.5),
            link_rate_gbps: Some(10.0),
            model_rate_gbps: Some(10.0),
            model_time_s: Some(model_time_s),
            model_ratio: Some(time_s / model_time_s),
            verified,
            error: (!verified).then(|| "rank 2 (sat-4): element 7 is 3, not 4".to_owned()),
        }
    }

    fn step(step: u64, step_s: f64, compute_s: f64, comm_s: f64) -> StepSummary {
        StepSummary {
            step,
            step_s,
            compute_s,
            comm_s,
            exposed_comm_s: step_s - compute_s,
        }
    }

    /// A summary like the view's ring-8 fixture: a ping, a transfer, a
    /// sweep of three sizes (the last wrong), a training run.
    fn sample() -> Summary {
        Summary {
            scenario: "ring-8".into(),
            tdf: 1.0,
            seed: 1,
            satellites: 8,
            ground_stations: 0,
            duration_s: 600.0,
            ok: false,
            failure: None,
            ping: vec![PingSummary {
                from: "sat-0".into(),
                to: "sat-4".into(),
                sent: 120,
                received: 117,
                rtt_ms: spread(150.741, 150.987_654, 151.315),
                geometric_rtt_ms: spread(150.69, 150.690_4, 150.691),
                error_ms: spread(0.051, 0.297, 0.625),
            }],
            transfers: vec![TransferSummary {
                from: "sat-2".into(),
                to: "sat-6".into(),
                transport: "tcp",
                cc: "cubic",
                streams: 1,
                bytes: 268_435_456,
                received: 268_435_456,
                seconds: Some(0.401_234_5),
                goodput_gbps: Some(268_435_456.0 * 8.0 / 0.401_234_5 / 1e9),
                path_capacity_gbps: Some(10.0),
                verified: true,
                error: None,
            }],
            collectives: vec![
                collective(1_048_576, 0.041_368, 0.038_258, true),
                collective(16_777_216, 0.061_883_3, 0.057_133, true),
                collective(268_435_456, 0.390_133, 0.359_123, false),
            ],
            train: vec![TrainSummary {
                workload: 3,
                ranks: 4,
                params: 1.2e9,
                tokens_per_step: 524_288.0,
                bucket_bytes: 26_214_400,
                accelerator: "h100".into(),
                steps: vec![step(0, 1.3, 0.8, 0.9), step(1, 1.012_345_6, 0.8, 0.6)],
                step_time_s: Some(1.012_345_6),
                compute_time_s: Some(0.8),
                exposed_comm_s: Some(0.212_345_6),
                tokens_per_s: Some(524_288.0 / 1.012_345_6),
                effective_utilization: Some(0.4123),
                verified: true,
                error: None,
            }],
            training: Vec::new(),
            offload: Vec::new(),
            counters: RunCounters::default(),
            accounting: Accounting::of(&Counters::default(), Vec::new()),
            link_changes: 4,
            harness: "in-process".into(),
            host: Host {
                wall_s: 1.25,
                late_max_us: 0.0,
            },
            split: None,
        }
    }

    /// One offload of one part: 500 MB up over two passes, an H100's
    /// compute, 250 MB down at a later pass.
    fn offload() -> OffloadSummary {
        let part = super::super::offload::PartSummary {
            part: 0,
            satellite: "sat-0".into(),
            bytes: 500_000_000,
            result_bytes: 250_000_000,
            uplink_s: Some(410.5),
            uplink_wait_s: Some(6000.25),
            uplink_sessions: 2,
            compute_s: Some(940.125),
            downlink_s: Some(21.0),
            downlink_wait_s: Some(3876.75),
            downlink_sessions: 1,
            wait_s: Some(9877.0),
            total_s: Some(11248.625),
            uplink_done_s: Some(6410.75),
            compute_done_s: Some(7350.875),
            downlink_done_s: Some(11248.625),
            verified: true,
            error: None,
        };
        OffloadSummary {
            workload: 4,
            from: "gs-0".into(),
            to: vec!["sat-0".into()],
            down: "gs-1".into(),
            transport: "tcp",
            cc: "cubic",
            bytes: 500_000_000,
            flops: 3.72e17,
            result_bytes: 250_000_000,
            accelerator: Some("h100".into()),
            model_compute_s: Some(940.125),
            parts: vec![part],
            total_s: Some(11248.625),
            verified: true,
            error: None,
        }
    }

    #[test]
    fn the_terminal_summary_shows_each_offload_part_as_summary_json_holds_it() {
        let mut s = sample();
        s.offload = vec![offload()];
        let text = terminal(&s);
        let j: Value = serde_json::from_str(&s.json()).expect("JSON");
        let o = &j["offload"][0];
        assert!(
            text.contains(
                "offload 4: gs-0 → sat-0 → gs-1 over tcp (cubic), 477 MBytes up, 3.72e17 FLOPs \
                 on h100, 238 MBytes down, verified\n"
            ),
            "{text}"
        );
        let p = &o["parts"][0];
        let row: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("     0 sat-0 "))
            .expect("the part's row")
            .split_whitespace()
            .collect();
        let want = [
            "0".to_owned(),
            "sat-0".into(),
            f(&p["uplink_s"], 3),
            f(&p["wait_s"], 3),
            f(&p["compute_s"], 3),
            f(&p["downlink_s"], 3),
            f(&p["total_s"], 3),
            "2/1".into(),
        ];
        assert_eq!(row, want);
        assert!(text.contains("  total 11248.625 s (3 h 07 min 29 s) from the start"));
    }

    fn f(v: &Value, digits: usize) -> String {
        format!("{:.digits$}", v.as_f64().expect("a number"))
    }

    #[test]
    fn the_terminal_summary_shows_the_numbers_of_summary_json() {
        let s = sample();
        let text = terminal(&s);
        // The figures as summary.json holds them.
        let j: Value = serde_json::from_str(&s.json()).expect("JSON");
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no line {prefix:?} in\n{text}"))
        };
        assert!(line("ring-8: FAILED, 8 satellites, in-process harness").contains("seed 1"));

        let p = &j["ping"][0];
        let (r, g) = (&p["rtt_ms"], &p["geometric_rtt_ms"]);
        assert_eq!(
            line("ping "),
            format!(
                "ping sat-0 → sat-4: {} sent, {} received, 2.5% loss, rtt min/avg/max = {}/{}/{} ms \
                 (geometric {}/{}/{} ms)",
                p["sent"],
                p["received"],
                f(&r["min"], 3),
                f(&r["mean"], 3),
                f(&r["max"], 3),
                f(&g["min"], 3),
                f(&g["mean"], 3),
                f(&g["max"], 3)
            )
        );

        let t = &j["transfers"][0];
        let gib = t["bytes"].as_f64().expect("bytes") / 1024.0 / 1024.0;
        assert_eq!(
            line("bulk "),
            format!(
                "bulk sat-2 → sat-6 (tcp, cubic, 1 stream): 0.000-{} sec  {gib:.0} MBytes  {} Gbits/sec  \
                 receiver, path capacity {} Gbits/sec, verified",
                f(&t["seconds"], 3),
                f(&t["goodput_gbps"], 3),
                f(&t["path_capacity_gbps"], 3)
            )
        );

        // nccl-tests' columns: time in µs, bandwidths in GB/s.
        let gbytes = |v: &Value| format!("{:.3}", v.as_f64().expect("a number") / 8.0);
        let micros = |v: &Value| format!("{:.1}", v.as_f64().expect("a number") * 1e6);
        let mut busbw = Vec::new();
        for c in j["collectives"].as_array().expect("collectives") {
            let bytes = c["bytes"].as_u64().expect("bytes");
            let row: Vec<&str> = line(&format!(" {bytes:>11} ")).split_whitespace().collect();
            let want = [
                bytes.to_string(),
                (bytes / 4).to_string(),
                "float".into(),
                "sum".into(),
                micros(&c["time_s"]),
                gbytes(&c["algbw_gbps"]),
                gbytes(&c["busbw_gbps"]),
                if c["verified"] == true { "0" } else { ">0" }.into(),
                micros(&c["model_time_s"]),
                f(&c["model_ratio"], 2),
            ];
            assert_eq!(row, want);
            busbw.push(c["busbw_gbps"].as_f64().expect("busbw"));
        }
        let avg = busbw.iter().sum::<f64>() / busbw.len() as f64 / 8.0;
        assert_eq!(
            line("# Avg bus bandwidth"),
            format!("# Avg bus bandwidth    : {avg:.3} GB/s")
        );
        assert!(line("# 268435456 bytes: ").contains("element 7 is 3"));

        let train = &j["train"][0];
        for st in train["steps"].as_array().expect("steps") {
            let n = st["step"].as_u64().expect("step");
            let row: Vec<&str> = line(&format!("  {n:>4} ")).split_whitespace().collect();
            let want = [
                st["step"].to_string(),
                f(&st["step_s"], 6),
                f(&st["compute_s"], 6),
                f(&st["comm_s"], 6),
                f(&st["exposed_comm_s"], 6),
            ];
            assert_eq!(row, want);
        }
        assert_eq!(
            line("  mean"),
            format!(
                "  mean after the first step: {} s a step (compute {} s, exposed communication {} s), \
                 {} tokens/s, 41.2% of peak",
                f(&train["step_time_s"], 6),
                f(&train["compute_time_s"], 6),
                f(&train["exposed_comm_s"], 6),
                f(&train["tokens_per_s"], 0)
            )
        );
    }

    #[test]
    fn byte_counts_read_as_iperf3_prints_them() {
        assert_eq!(iperf_bytes(56), "56.0 Bytes");
        assert_eq!(iperf_bytes(1024), "1.00 KBytes");
        assert_eq!(iperf_bytes(268_435_456), "256 MBytes");
        assert_eq!(iperf_bytes(1_181_116_006), "1.10 GBytes");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(2.5), "2.5%");
    }
}
