//! What a run's events tell the view about its traffic: each bulk
//! transfer's goodput over time, from its receiver's progress reports, and
//! when each workload was over.
//!
//! Goodput around `t` is the bytes between the reports on either side of
//! `t` over the time between them (the first from the transfer's start at
//! zero bytes). A workload is over at a transfer's completion, at the end
//! of a collective sweep's last size on its slowest rank (the size's start
//! plus its warm-up and timed calls at the time per call the rank
//! reported), or at the end of a training workload's last step.

use std::collections::BTreeMap;

use orbnet_netem::{Scenario, Workload};
use orbnet_node::protocol::Event;

/// Bulk progress and workload ends, gathered from events.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    /// For each bulk workload: (virtual second, bytes received so far) in time order.
    progress: BTreeMap<usize, Vec<(f64, u64)>>,
    /// When each workload was over, in virtual seconds.
    ends: BTreeMap<usize, f64>,
}

impl Traffic {
    /// Takes what `e` tells (events of workloads `scenario` lacks are ignored).
    pub(crate) fn record(&mut self, e: &Event, scenario: &Scenario) {
        match e {
            Event::BulkProgress(p) => {
                let v = self.progress.entry(p.workload).or_default();
                v.push((p.t_s, p.bytes));
                if v.len() > 1 && v[v.len() - 2].0 > p.t_s {
                    v.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
            }
            Event::Transfer(t) => {
                if let Some(done) = t.completed_s {
                    self.ended(t.workload, done);
                }
            }
            Event::Collective(r) => {
                if let (Some(Workload::Collective(c)), Some(bytes), Some(start), Some(each)) = (
                    scenario.workloads.get(r.workload),
                    r.bytes,
                    r.start_s,
                    r.time_s,
                ) && c.sizes.last() == Some(&bytes)
                {
                    let calls = f64::from(c.warmup + c.iterations);
                    self.ended(r.workload, start + each * calls);
                }
            }
            Event::TrainStep(r) => {
                if let (Some(Workload::Train(t)), Some(step), Some(start), Some(took)) = (
                    scenario.workloads.get(r.workload),
                    r.step,
                    r.start_s,
                    r.step_s,
                ) && step + 1 == u64::from(t.steps)
                {
                    self.ended(r.workload, start + took);
                }
            }
            Event::GraphStep(r) => {
                if let (Some(Workload::Graph(g)), Some(step), Some(end)) =
                    (scenario.workloads.get(r.workload), r.step, r.end_s)
                    && step + 1 == u64::from(g.steps)
                {
                    self.ended(r.workload, end);
                }
            }
            _ => {}
        }
    }

    fn ended(&mut self, w: usize, t_s: f64) {
        let end = self.ends.entry(w).or_insert(t_s);
        *end = end.max(t_s);
    }

    /// When workload `w` was over, if the events say.
    pub(crate) fn end(&self, w: usize) -> Option<f64> {
        self.ends.get(&w).copied()
    }

    /// Workload `w`'s goodput around `t_s` in Gb/s (it started at
    /// `start_s`); past the last report, that report's rate for as long
    /// again (a live run between two reports), then none.
    pub(crate) fn gbps(&self, w: usize, start_s: f64, t_s: f64) -> Option<f64> {
        let v = self.progress.get(&w)?;
        if t_s < start_s {
            return None;
        }
        let i = v.partition_point(|s| s.0 < t_s);
        let rate = |k: usize| {
            let (t1, b1) = v[k];
            let (t0, b0) = if k == 0 { (start_s, 0) } else { v[k - 1] };
            (t1 > t0).then(|| b1.saturating_sub(b0) as f64 * 8.0 / (t1 - t0) / 1e9)
        };
        if i < v.len() {
            return rate(i);
        }
        let last = v.len().checked_sub(1)?;
        let before = if last == 0 { start_s } else { v[last - 1].0 };
        (t_s - v[last].0 <= v[last].0 - before).then(|| rate(last))?
    }
}

#[cfg(test)]
mod tests {
    use orbnet_node::protocol::{Progress, Transfer};

    use super::*;

    #[test]
    fn goodput_is_taken_between_the_reports_around_an_instant() {
        let scenario = crate::load::load(&crate::load::Source::BuiltIn).expect("default");
        let mut tr = Traffic::default();
        for (t_s, bytes) in [(1.0, 250_000_000), (2.0, 1_250_000_000)] {
            let p = Progress {
                workload: 5,
                t_s,
                bytes,
            };
            tr.record(&Event::BulkProgress(p), &scenario);
        }
        // Started at 0.5 s: 2 Gb in the first half second, then 8 Gb/s.
        assert_eq!(tr.gbps(5, 0.5, 0.4), None);
        assert_eq!(tr.gbps(5, 0.5, 0.7), Some(4.0));
        assert_eq!(tr.gbps(5, 0.5, 1.5), Some(8.0));
        assert_eq!(tr.gbps(5, 0.5, 2.9), Some(8.0));
        assert_eq!(tr.gbps(5, 0.5, 3.1), None);
        assert_eq!(tr.gbps(4, 0.5, 1.5), None);
        assert_eq!(tr.end(5), None);
        let done = Transfer {
            workload: 5,
            from: "sat-0".into(),
            to: "sat-12".into(),
            transport: "quic".into(),
            cc: "cubic".into(),
            bytes: 1_250_000_000,
            streams: 1,
            start_s: 0.5,
            completed_s: Some(2.0),
            received: 1_250_000_000,
            verified: true,
            error: None,
        };
        tr.record(&Event::Transfer(done), &scenario);
        assert_eq!(tr.end(5), Some(2.0));
    }
}
