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
use super::summary::{PingSummary, TransferSummary};

/// The summary for people.
pub(crate) fn terminal(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}, {} satellites, {} harness, TDF {}, seed {}, {} s virtual, {:.1} s wall",
        s.scenario,
        if s.ok { "ok" } else { "FAILED" },
        s.satellites,
        s.harness,
        s.tdf,
        s.seed,
        s.duration_s,
        s.host.wall_s
    );
    if let Some(f) = &s.failure {
        let _ = writeln!(out, "  {f}");
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
        let _ = writeln!(
            out,
            "  mean after the first step: {step:.6} s a step (compute {compute:.6} s, exposed communication {exposed:.6} s){extra}"
        );
    }
    out
}
