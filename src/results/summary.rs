//! `summary.json`: the run in figures, made from the events the satellites
//! reported and the geometry the scenario implies.

use orbnet_netem::{Bytes, SatId, Scenario, SimTime, Workload};
use orbnet_node::protocol::{Counters, Event};
use serde::Serialize;

use super::Collected;
use super::accounting::Accounting;
use super::collectives::{CollectiveSummary, TrainSummary};
use super::offload::OffloadSummary;
use super::plot::Spread;
use super::training::TrainingSummary;
use crate::geometric::Oracle;

/// The figures of a run.
#[derive(Debug, Serialize)]
pub(crate) struct Summary {
    pub scenario: String,
    pub tdf: f64,
    pub seed: u64,
    pub satellites: u32,
    /// Ground stations and user terminals (nodes after the satellites).
    pub ground_stations: u32,
    pub duration_s: f64,
    /// Every workload succeeded and no satellite failed.
    pub ok: bool,
    pub failure: Option<String>,
    pub ping: Vec<PingSummary>,
    pub transfers: Vec<TransferSummary>,
    pub collectives: Vec<CollectiveSummary>,
    pub train: Vec<TrainSummary>,
    /// Graph workloads (`trace`, `model`); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub training: Vec<TrainingSummary>,
    /// Offloads: data up, compute in orbit, results down.
    pub offload: Vec<OffloadSummary>,
    pub counters: RunCounters,
    /// Every frame and packet of the run accounted for.
    pub accounting: Accounting,
    /// Link changes after the start (the first report of each port is its
    /// initial state).
    pub link_changes: usize,
    pub harness: String,
    /// Wall-clock figures of the host (they differ from run to run).
    pub host: Host,
    /// A run split across hosts: each host's figures (`hosts`) and how
    /// well their clocks were known (`clocks`).
    #[serde(flatten)]
    pub split: Option<Split>,
}

/// Every satellite's counters, summed.
#[derive(Debug, Default, Serialize)]
pub(crate) struct RunCounters {
    pub frames_out: u64,
    pub frames_in: u64,
    pub sent: u64,
    pub forwarded: u64,
    pub delivered_local: u64,
    pub send_errors: u64,
    pub drops: std::collections::BTreeMap<String, u64>,
    pub rejected: std::collections::BTreeMap<String, u64>,
}

impl From<Counters> for RunCounters {
    fn from(c: Counters) -> RunCounters {
        RunCounters {
            frames_out: c.frames_out,
            frames_in: c.frames_in,
            sent: c.sent,
            forwarded: c.forwarded,
            delivered_local: c.delivered_local,
            send_errors: c.send_errors,
            drops: c.drops,
            rejected: c.rejected,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Host {
    pub wall_s: f64,
    /// The latest, in virtual microseconds, any satellite processed a frame.
    pub late_max_us: f64,
}

/// The figures of a run split across hosts.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Split {
    pub hosts: Vec<HostFigures>,
    pub clocks: ClockCheck,
}

/// One host of a split run.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct HostFigures {
    pub host: u32,
    pub satellites: usize,
    /// Its satellites, runs of consecutive ones as `first–last`.
    pub names: String,
    /// The latest, in virtual microseconds, one of its satellites
    /// processed a due frame.
    pub late_max_us: f64,
    /// Host 0's clock minus this host's, as measured at the handshake.
    pub clock_offset_us: Option<f64>,
    /// The offset is known to ± this.
    pub clock_uncertainty_us: Option<f64>,
    /// From its launch to the end of its satellites (`None`: lost).
    pub wall_s: Option<f64>,
}

/// Whether the hosts' clocks were known well enough: a frame between
/// hosts is held until its virtual delivery instant on the receiver's
/// clock, so an offset error below the shortest cut link's delay × TDF
/// only moves when within the link's flight a frame is taken in.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ClockCheck {
    /// The largest offset uncertainty of any host, wall microseconds.
    pub uncertainty_us: f64,
    /// The shortest delay of a link between hosts up at t = 0, × TDF:
    /// wall microseconds.
    pub shortest_cut_wall_us: Option<f64>,
    /// The uncertainty is below that delay.
    pub within: bool,
    /// What it means when it is not.
    pub note: Option<String>,
}

impl ClockCheck {
    pub(crate) fn new(uncertainty_us: f64, shortest_cut_wall_us: Option<f64>) -> ClockCheck {
        let within = shortest_cut_wall_us.is_none_or(|cut| uncertainty_us <= cut);
        let note = match shortest_cut_wall_us {
            Some(cut) if !within => Some(format!(
                "the hosts' clock offsets are known to ±{uncertainty_us:.1} µs, more than the \
                 shortest link between hosts takes ({cut:.1} µs of wall time: its delay × TDF); \
                 frames between hosts may be taken in up to that much late or early (raise \
                 the TDF, or synchronise the hosts' network better)"
            )),
            _ => None,
        };
        ClockCheck {
            uncertainty_us,
            shortest_cut_wall_us,
            within,
            note,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct PingSummary {
    pub from: String,
    pub to: String,
    pub sent: usize,
    pub received: usize,
    pub rtt_ms: Spread,
    pub geometric_rtt_ms: Spread,
    pub error_ms: Spread,
}

/// One bulk transfer.
#[derive(Debug, Serialize)]
pub(crate) struct TransferSummary {
    pub from: String,
    pub to: String,
    pub transport: &'static str,
    pub cc: &'static str,
    pub streams: u32,
    pub bytes: u64,
    pub received: u64,
    /// Virtual seconds from the start to the last byte; null if unfinished.
    pub seconds: Option<f64>,
    pub goodput_gbps: Option<f64>,
    /// The slowest link on the path at the start.
    pub path_capacity_gbps: Option<f64>,
    pub verified: bool,
    pub error: Option<String>,
}

impl Summary {
    /// The summary as pretty JSON, keys sorted at every level (JSON
    /// objects have no order of their own; sorted, two runs diff cleanly).
    pub(crate) fn json(&self) -> String {
        serde_json::to_value(self)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_default()
    }

    /// What failed, one line each (empty when the run is `ok`).
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut why = Vec::new();
        for p in self.ping.iter().filter(|p| p.received == 0) {
            why.push(format!("ping {} → {}: no reply", p.from, p.to));
        }
        for c in self.collectives.iter().filter(|c| !c.verified) {
            why.push(format!(
                "{} {} of {} bytes: {}",
                c.op,
                c.algorithm,
                c.bytes,
                c.error.as_deref().unwrap_or("not verified")
            ));
        }
        for t in self.train.iter().filter(|t| !t.verified) {
            why.push(format!(
                "training: {}",
                t.error.as_deref().unwrap_or("not verified")
            ));
        }
        for t in self.training.iter().filter(|t| !t.verified) {
            why.push(format!(
                "{} workload {}: {}",
                t.kind,
                t.workload,
                t.error.as_deref().unwrap_or("not verified")
            ));
        }
        for o in self.offload.iter().filter(|o| !o.verified) {
            why.push(format!(
                "offload {} → {} → {}: {}",
                o.from,
                o.to.join(", "),
                o.down,
                o.error.as_deref().unwrap_or("not verified")
            ));
        }
        if let Some(f) = &self.failure {
            why.push(f.clone());
        }
        for t in self.transfers.iter().filter(|t| !t.verified) {
            why.push(format!(
                "{} transfer {} → {}: {}",
                t.transport,
                t.from,
                t.to,
                t.error.as_deref().unwrap_or("not verified")
            ));
        }
        why
    }
}

/// One echo as the results show it: seq, send time, measured and geometric RTT.
pub(super) type EchoRow = (u16, f64, Option<f64>, Option<f64>);

/// The pings of a run: their summaries and every echo, per workload.
pub(super) fn pings(scenario: &Scenario, c: &Collected) -> Vec<(PingSummary, Vec<EchoRow>)> {
    let world = &scenario.world;
    let mut oracle = Oracle::new(scenario);
    let mut out = Vec::new();
    for w in &scenario.workloads {
        let Workload::Ping(p) = w else { continue };
        let (from, to) = (world.name(p.from).to_owned(), world.name(p.to).to_owned());
        let mut echoes: Vec<(u16, f64, Option<f64>)> = c
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Echo(x) if x.from == from && x.to == to => Some((x.seq, x.sent_s, x.rtt_ms)),
                _ => None,
            })
            .collect();
        echoes.sort_by(|a, b| a.1.total_cmp(&b.1));
        let bytes = Bytes(20 + 8 + u64::from(p.size));
        let rows: Vec<EchoRow> = echoes
            .iter()
            .map(|&(seq, sent, rtt)| {
                let geo = geometric_rtt(&mut oracle, p.from, p.to, sent, bytes);
                (seq, sent, rtt, geo)
            })
            .collect();
        let rtts: Vec<f64> = rows.iter().filter_map(|r| r.2).collect();
        let geos: Vec<f64> = rows.iter().filter_map(|r| r.3).collect();
        let abs_errs: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.2.zip(r.3).map(|(m, g)| (m - g).abs()))
            .collect();
        let summary = PingSummary {
            from,
            to,
            sent: echoes.len(),
            received: rtts.len(),
            rtt_ms: Spread::of(&rtts),
            geometric_rtt_ms: Spread::of(&geos),
            error_ms: Spread::of(&abs_errs),
        };
        out.push((summary, rows));
    }
    out
}

/// Out and back, the way back leaving when the request arrives.
fn geometric_rtt(
    oracle: &mut Oracle<'_>,
    from: SatId,
    to: SatId,
    sent_s: f64,
    bytes: Bytes,
) -> Option<f64> {
    let t = SimTime::from_secs_f64(sent_s);
    let out = oracle.one_way(from, to, t, bytes)?;
    let back = oracle.one_way(to, from, t + out, bytes)?;
    Some((out + back).as_nanos() as f64 / 1e6)
}

/// Goodput samples of one transfer: (virtual second, bytes so far, Gb/s since the last).
pub(super) type GoodputRow = (f64, u64, f64);

/// The bulk transfers of a run: their summaries and goodput over time.
pub(super) fn transfers(
    scenario: &Scenario,
    c: &Collected,
) -> Vec<(usize, TransferSummary, Vec<GoodputRow>)> {
    let world = &scenario.world;
    let mut out = Vec::new();
    for (w, workload) in scenario.workloads.iter().enumerate() {
        let Workload::Bulk(b) = workload else {
            continue;
        };
        let (from, to) = (world.name(b.from).to_owned(), world.name(b.to).to_owned());
        let path = world.path(b.start, b.from, b.to);
        let report = c.events.iter().find_map(|e| match e {
            Event::Transfer(t) if t.workload == w => Some(t),
            _ => None,
        });
        let seconds = report
            .and_then(|r| r.completed_s)
            .map(|t| t - b.start.as_secs_f64());
        let mut error = match report {
            Some(r) => r.error.clone(),
            None => Some(format!("{to} never reported on the transfer")),
        };
        if path.is_none() {
            let why = format!(
                "no path from {from} to {to} at {:.3} s",
                b.start.as_secs_f64()
            );
            error = Some(error.map_or(why.clone(), |e| format!("{e}: {why}")));
        }
        let mut samples: Vec<(f64, u64)> = c
            .events
            .iter()
            .filter_map(|e| match e {
                Event::BulkProgress(p) if p.workload == w => Some((p.t_s, p.bytes)),
                _ => None,
            })
            .collect();
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut rows = Vec::new();
        let mut prev = (b.start.as_secs_f64(), 0u64);
        for (t, bytes) in samples {
            if t <= prev.0 {
                continue;
            }
            let gbps = (bytes.saturating_sub(prev.1)) as f64 * 8.0 / (t - prev.0) / 1e9;
            rows.push((t, bytes, gbps));
            prev = (t, bytes);
        }
        let summary = TransferSummary {
            transport: b.transport.as_str(),
            cc: b.cc.as_str(),
            streams: b.streams,
            bytes: b.bytes,
            received: report.map_or(0, |r| r.received),
            goodput_gbps: seconds
                .filter(|s| *s > 0.0)
                .map(|s| b.bytes as f64 * 8.0 / s / 1e9),
            seconds,
            path_capacity_gbps: path.map(|p| p.bottleneck.gbps()),
            verified: report.is_some_and(|r| r.verified),
            error,
            from,
            to,
        };
        out.push((w, summary, rows));
    }
    out
}
