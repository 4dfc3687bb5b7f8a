//! One rank's part of a collective, training or graph workload, started
//! by the satellite's tasks once the rank's connections are up: dispatched
//! to a collective sweep or data-parallel steps ([`crate::collective`]) or
//! to its execution graph ([`crate::graph_exec`]), under the workload's
//! timeout, and the report a rank makes when it fails before it starts.

use orbnet_netem::Workload;
use orbnet_netem::workload::Accelerator;

use crate::clock::VirtualClock;
use crate::collective::{self, Comm};
use crate::graph_exec;
use crate::protocol::{Event, RankReport, StepReport};

/// The report of a rank that failed before its first size or step, or
/// ran out of time.
pub(crate) fn failed_rank(
    w: &Workload,
    index: usize,
    rank: usize,
    sat: &str,
    error: String,
) -> Event {
    if matches!(w, Workload::Graph(_)) {
        return graph_exec::failed(index, rank, sat, error);
    }
    if matches!(w, Workload::Train(_)) {
        Event::TrainStep(StepReport {
            workload: index,
            rank,
            sat: sat.to_owned(),
            verified: false,
            error: Some(error),
            ..StepReport::default()
        })
    } else {
        Event::Collective(RankReport {
            workload: index,
            rank,
            sat: sat.to_owned(),
            verified: false,
            error: Some(error),
            ..RankReport::default()
        })
    }
}

/// Runs this rank's part of workload `w`: a collective sweep, training
/// steps (which need the accelerator model) or its execution graph.
pub(crate) async fn run_workload(
    w: usize,
    workload: Workload,
    acc: Option<Accelerator>,
    comm: Comm,
    clock: VirtualClock,
    emit: crate::report::Reporter,
) {
    let (start, timeout) = match &workload {
        Workload::Collective(c) => (c.start, c.timeout),
        Workload::Train(t) => (t.start, t.timeout),
        Workload::Graph(g) => (g.start, g.timeout),
        _ => return,
    };
    let sat = comm.name().to_owned();
    let timed_out = timeout.map(|t| {
        let why = format!("timed out after {:.6} s", t.as_secs_f64());
        failed_rank(&workload, w, comm.rank, &sat, why)
    });
    let report = emit.clone();
    let run = async move {
        match (workload, acc) {
            (Workload::Collective(c), _) => {
                collective::run_sweep(w, c, comm, clock, report).await;
            }
            (Workload::Train(t), Some(acc)) => {
                collective::run_train(w, t, acc, comm, clock, report).await;
            }
            (Workload::Graph(g), _) => {
                graph_exec::run(w, &g, comm, clock, report).await;
            }
            _ => {}
        }
    };
    let (Some(timeout), Some(report)) = (timeout, timed_out) else {
        return run.await;
    };
    let deadline = clock.wall(start + timeout);
    if tokio::time::timeout_at(deadline, run).await.is_err() {
        emit.emit(report);
    }
}
