//! The launcher's view of offload workloads: each part's five reports
//! (uplink sent and received, compute, downlink sent and received) put
//! together into the times of its stages.
//!
//! For part `k`, from the workload's start `t0`: the uplink is done when
//! the satellite checked its last byte (`u`); the compute runs from `u` to
//! `c`; the downlink is done when the station checked its last byte (`d`).
//! The waits are the spans its senders slept for a contact within each
//! leg, so that `uplink + wait + compute + downlink = total = d − t0`:
//! `uplink_s = u − t0 − up_wait`, `downlink_s = d − c − down_wait`.

use orbnet_netem::workload::offload::Offload;
use orbnet_netem::{Scenario, Workload};
use orbnet_node::protocol::{Event, OffloadReport, OffloadRole};
use serde::Serialize;

/// An offload workload in `summary.json`.
#[derive(Debug, Serialize)]
pub(crate) struct OffloadSummary {
    pub workload: usize,
    pub from: String,
    pub to: Vec<String>,
    pub down: String,
    pub transport: &'static str,
    pub cc: &'static str,
    pub bytes: u64,
    pub flops: f64,
    pub result_bytes: u64,
    pub accelerator: Option<String>,
    /// Each part's compute time by the model: its FLOPs over peak × utilisation.
    pub model_compute_s: Option<f64>,
    pub parts: Vec<PartSummary>,
    /// From the start until the last part's results are down (null if
    /// one never came).
    pub total_s: Option<f64>,
    pub verified: bool,
    pub error: Option<String>,
}

/// One part of an offload: one compute satellite's share.
#[derive(Debug, Default, Serialize)]
pub(crate) struct PartSummary {
    pub part: usize,
    pub satellite: String,
    pub bytes: u64,
    pub result_bytes: u64,
    /// Virtual seconds spent sending the data up, waits apart.
    pub uplink_s: Option<f64>,
    /// Virtual seconds the uplink's sender waited for a contact.
    pub uplink_wait_s: Option<f64>,
    /// Connections the uplink's sender opened.
    pub uplink_sessions: u32,
    pub compute_s: Option<f64>,
    pub downlink_s: Option<f64>,
    pub downlink_wait_s: Option<f64>,
    pub downlink_sessions: u32,
    /// Both legs' waits.
    pub wait_s: Option<f64>,
    /// From the start until the results are down: uplink + wait + compute + downlink.
    pub total_s: Option<f64>,
    /// Instants (virtual seconds): the data checked on the satellite, the
    /// compute done, the results checked on the ground.
    pub uplink_done_s: Option<f64>,
    pub compute_done_s: Option<f64>,
    pub downlink_done_s: Option<f64>,
    /// Every byte up and down checked, and the compute done.
    pub verified: bool,
    pub error: Option<String>,
}

/// Every offload workload of a run; `death` is the satellite death that
/// ended the run early, if one did.
pub(super) fn offloads(
    scenario: &Scenario,
    events: &[Event],
    death: Option<&str>,
) -> Vec<OffloadSummary> {
    let world = &scenario.world;
    let mut out = Vec::new();
    for (w, workload) in scenario.workloads.iter().enumerate() {
        let Workload::Offload(o) = workload else {
            continue;
        };
        let reports: Vec<&OffloadReport> = events
            .iter()
            .filter_map(|e| match e {
                Event::Offload(r) if r.workload == w => Some(r),
                _ => None,
            })
            .collect();
        let parts: Vec<PartSummary> = (0..o.parts())
            .map(|k| part(scenario, o, k, &reports))
            .collect();
        let verified = parts.iter().all(|p| p.verified);
        let mut error = parts.iter().find_map(|p| p.error.clone());
        if let (Some(d), false) = (death, verified) {
            error = Some(error.map_or(d.to_owned(), |e| format!("{d}: {e}")));
        }
        let acc = scenario.accelerator.as_ref();
        out.push(OffloadSummary {
            workload: w,
            from: world.name(o.from).to_owned(),
            to: o.to.iter().map(|&s| world.name(s).to_owned()).collect(),
            down: world.name(o.down).to_owned(),
            transport: o.transport.as_str(),
            cc: o.cc.as_str(),
            bytes: o.bytes,
            flops: o.flops,
            result_bytes: o.result_bytes,
            accelerator: acc.map(|a| a.name.clone()),
            model_compute_s: acc.map(|a| o.compute_time(a).as_secs_f64()),
            total_s: parts
                .iter()
                .map(|p| p.total_s)
                .collect::<Option<Vec<f64>>>()
                .and_then(|t| t.into_iter().reduce(f64::max)),
            parts,
            verified,
            error,
        });
    }
    out
}

/// The time within `[from, to]` covered by `waits`.
fn waited(waits: &[[f64; 2]], from: f64, to: f64) -> f64 {
    waits
        .iter()
        .map(|[a, b]| (b.min(to) - a.max(from)).max(0.0))
        .sum()
}

/// Part `k` of offload `o` from its reports.
fn part(scenario: &Scenario, o: &Offload, k: usize, reports: &[&OffloadReport]) -> PartSummary {
    let world = &scenario.world;
    let find = |role| {
        reports
            .iter()
            .copied()
            .find(|r| r.part == k && r.role == role)
    };
    let up_send = find(OffloadRole::UplinkSend);
    let up_recv = find(OffloadRole::UplinkReceive);
    let compute = find(OffloadRole::Compute);
    let down_send = find(OffloadRole::DownlinkSend);
    let down_recv = find(OffloadRole::DownlinkReceive);
    let sat = o.to.get(k).map_or("?", |&s| world.name(s)).to_owned();
    let t0 = o.start.as_secs_f64();
    let up_done = up_recv.and_then(|r| r.end_s);
    let up_wait = up_done.map(|u| up_send.map_or(0.0, |r| waited(&r.waits, t0, u)));
    let compute_done = compute.and_then(|r| r.end_s);
    let down_done = down_recv.and_then(|r| r.end_s);
    let down_wait = down_done
        .zip(compute_done)
        .map(|(d, c)| down_send.map_or(0.0, |r| waited(&r.waits, c, d)));
    let (down, station) = (world.name(o.down), world.name(o.from));
    // The first stage that failed, or the first report missing.
    let stages = [
        (up_send, OffloadRole::UplinkSend, station),
        (up_recv, OffloadRole::UplinkReceive, sat.as_str()),
        (compute, OffloadRole::Compute, sat.as_str()),
        (down_send, OffloadRole::DownlinkSend, sat.as_str()),
        (down_recv, OffloadRole::DownlinkReceive, down),
    ];
    let error = stages.iter().find_map(|(r, role, node)| match r {
        Some(r) => r.error.as_ref().map(|e| format!("part {k} {role}: {e}")),
        None => Some(format!("part {k}: {node} never reported its {role}")),
    });
    PartSummary {
        part: k,
        satellite: sat.clone(),
        bytes: o.share(orbnet_netem::workload::offload::Leg::Uplink, k).1,
        result_bytes: o.share(orbnet_netem::workload::offload::Leg::Downlink, k).1,
        uplink_s: up_done.zip(up_wait).map(|(u, w)| u - t0 - w),
        uplink_wait_s: up_wait,
        uplink_sessions: up_send.map_or(0, |r| r.sessions),
        compute_s: compute.and_then(|r| r.end_s.map(|e| e - r.start_s)),
        downlink_s: down_done
            .zip(compute_done)
            .zip(down_wait)
            .map(|((d, c), w)| d - c - w),
        downlink_wait_s: down_wait,
        downlink_sessions: down_send.map_or(0, |r| r.sessions),
        wait_s: up_wait.zip(down_wait).map(|(a, b)| a + b),
        total_s: down_done.map(|d| d - t0),
        uplink_done_s: up_done,
        compute_done_s: compute_done,
        downlink_done_s: down_done,
        verified: error.is_none()
            && [up_recv, compute, down_recv]
                .iter()
                .all(|r| r.is_some_and(|r| r.verified)),
        error,
    }
}

/// Whether every part of offload `w` has reported every stage, or one
/// failed (the launcher may then stop the run).
pub(crate) fn offload_over(o: &Offload, w: usize, events: &[Event]) -> bool {
    let mine = || {
        events.iter().filter_map(move |e| match e {
            Event::Offload(r) if r.workload == w => Some(r),
            _ => None,
        })
    };
    mine().any(|r| r.error.is_some())
        || (0..o.parts()).all(|k| {
            [
                OffloadRole::UplinkSend,
                OffloadRole::UplinkReceive,
                OffloadRole::Compute,
                OffloadRole::DownlinkSend,
                OffloadRole::DownlinkReceive,
            ]
            .iter()
            .all(|&role| mine().any(|r| r.part == k && r.role == role))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_count_only_inside_the_leg() {
        let waits = [[0.0, 100.0], [150.0, 400.0], [900.0, 1000.0]];
        assert_eq!(waited(&waits, 0.0, 500.0), 350.0);
        assert_eq!(waited(&waits, 50.0, 200.0), 100.0);
        assert_eq!(waited(&waits, 500.0, 800.0), 0.0);
        assert_eq!(waited(&[], 0.0, 10.0), 0.0);
    }
}
