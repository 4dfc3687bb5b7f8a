//! A graph workload as `orbnet up` prints it: a line naming it, a row per
//! step (the slowest rank's step and its breakdown), the means with tokens
//! per second, model FLOPs utilisation and the pipeline bubble beside the
//! schedule's, and a row per collective kind. Figures are the summary's.

use std::fmt::Write as _;

use super::training::TrainingSummary;

/// The table of one graph workload.
pub(super) fn table(t: &TrainingSummary) -> String {
    let mut out = String::new();
    let check = match (&t.error, t.verified) {
        (_, true) => "verified".to_owned(),
        (Some(e), false) => format!("NOT verified: {e}"),
        (None, false) => "NOT verified".to_owned(),
    };
    let on = t
        .accelerator
        .as_deref()
        .map_or(String::new(), |a| format!(" on {a}"));
    let _ = writeln!(out, "{} {}{on}: {}, {check}", t.kind, t.workload, t.source);
    let _ = writeln!(
        out,
        "  {:>4} {:>12} {:>12} {:>12} {:>12} {:>5}",
        "step", "step(s)", "compute(s)", "exposed(s)", "bubble(s)", "rank"
    );
    for s in &t.steps {
        let _ = writeln!(
            out,
            "  {:>4} {:>12.6} {:>12.6} {:>12.6} {:>12.6} {:>5}",
            s.step, s.step_s, s.compute_s, s.exposed_comm_s, s.bubble_s, s.critical_rank
        );
    }
    if let (Some(step), Some(compute), Some(exposed), Some(bubble)) = (
        t.step_time_s,
        t.compute_time_s,
        t.exposed_comm_s,
        t.bubble_s,
    ) {
        let over = if t.steps.len() > 1 {
            "mean after the first step"
        } else {
            "mean"
        };
        let schedule = t.schedule_bubble_fraction.map_or(String::new(), |b| {
            format!(", the schedule's {:.1} %", b * 100.0)
        });
        let _ = write!(
            out,
            "  {over}: {step:.6} s a step (compute {compute:.6} s, exposed communication \
             {exposed:.6} s, bubble {bubble:.6} s = {:.1} %{schedule})",
            bubble / step * 100.0
        );
        if let Some(tok) = t.tokens_per_s {
            let _ = write!(out, ", {tok:.0} tokens/s");
        }
        if let Some(m) = t.mfu {
            let _ = write!(out, ", MFU {:.1} %", m * 100.0);
        }
        out.push('\n');
    }
    if !t.collectives.is_empty() {
        let _ = writeln!(
            out,
            "  {:<16} {:>10} {:>16} {:>14}",
            "per step", "count", "bytes", "time(s)"
        );
        for k in &t.collectives {
            let _ = writeln!(
                out,
                "  {:<16} {:>10.0} {:>16.0} {:>14.6}",
                k.kind, k.count, k.bytes, k.time_s
            );
        }
    }
    out
}
