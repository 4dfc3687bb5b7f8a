//! The `offload` workload on a node: ground data, space compute.
//!
//! ```text
//! from (station)          to[k] (satellite)                down (station)
//! uplink sender  ──part k──► uplink slot ─► compute ─► downlink sender ──► downlink slot
//!   waits for contacts        flops/n on the            waits for contacts
//!                              accelerator model
//! ```
//!
//! Every node of the workload runs its roles as tasks beside its
//! satellite: the station `from` sends each part up ([`leg`]); each
//! compute satellite receives its part ([`inbox`]), computes for
//! `flops / n / (peak × utilization)` of virtual time once its last byte is
//! in, then sends its share of the results down; the station `down`
//! receives them. Each leg runs in sessions, one a contact, resumed where
//! the receiver's copy ends ([`session`]). Each role reports what it did
//! ([`crate::protocol::OffloadReport`]): the launcher puts the five reports
//! of each part together.

mod inbox;
mod leg;
mod session;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use orbnet_netem::workload::offload::Leg;
use orbnet_netem::{SimTime, Workload};

use crate::protocol::{Event, OffloadReport, OffloadRole};
use crate::quic::{Link, Tls, Tuning, VirtualRuntime};
use crate::tasks::{Start, StartError};
use inbox::{Inbox, Slot};
use leg::{Cx, Dialer, send_leg};

/// A QUIC port of the node and what runs quinn on it.
#[derive(Debug)]
pub(crate) struct QuicPort<'a> {
    pub link: Link,
    pub port: u16,
    pub tls: &'a Tls,
    pub runtime: VirtualRuntime,
}

/// Starts this node's roles in offload workload `w`: over QUIC on `quic`,
/// or over TCP sockets the satellite opens on request.
pub(crate) fn start(s: &Start<'_>, w: usize, quic: Option<QuicPort<'_>>) -> Result<(), StartError> {
    let Some(Workload::Offload(o)) = s.scenario.workloads.get(w) else {
        return Ok(());
    };
    let me = s.me;
    let computes: Vec<usize> = (0..o.parts()).filter(|&k| o.to[k] == me).collect();
    if me != o.from && me != o.down && computes.is_empty() {
        return Ok(());
    }
    let mut cx = Cx {
        scenario: s.scenario.clone(),
        w,
        o: o.clone(),
        me,
        clock: s.clock,
        report: s.report.clone(),
        deadline: o.deadline(SimTime::ZERO + s.scenario.duration),
        dialer: Dialer::Tcp {
            commands: s.commands.clone(),
        },
    };
    if let Some(q) = quic {
        let tuning = tuning(&cx, q.port);
        let ip = IpAddr::V4(crate::addr::address(me));
        let ep = crate::quic::endpoint(q.link, ip, q.tls, &tuning, q.runtime)?;
        cx.dialer = Dialer::Quic(ep);
    }
    let cx = Arc::new(cx);
    let mut slots: Vec<Arc<Slot>> = computes
        .iter()
        .map(|&k| Arc::new(Slot::new(Leg::Uplink, k, cx.part(Leg::Uplink, k), s.clock)))
        .collect();
    if me == o.down {
        slots.extend((0..o.parts()).map(|k| {
            let part = cx.part(Leg::Downlink, k);
            Arc::new(Slot::new(Leg::Downlink, k, part, s.clock))
        }));
    }
    listen(&cx, &slots);
    if me == o.from {
        for k in 0..o.parts() {
            let cx = cx.clone();
            tokio::spawn(async move {
                let r = send_leg(&cx, Leg::Uplink, k, cx.o.start).await;
                cx.report.emit(Event::Offload(r));
            });
        }
    }
    for slot in slots {
        let cx = cx.clone();
        match slot.leg {
            Leg::Uplink => tokio::spawn(async move { compute_part(&cx, &slot).await }),
            Leg::Downlink => tokio::spawn(async move {
                let f = slot.finished(cx.deadline).await;
                cx.report.emit(Event::Offload(received(&cx, &slot, &f)));
            }),
        };
    }
    Ok(())
}

/// Takes sessions in for `slots`: the QUIC endpoint's accept loop, or a
/// TCP listener on each slot's port.
fn listen(cx: &Arc<Cx>, slots: &[Arc<Slot>]) {
    if slots.is_empty() {
        return;
    }
    let inbox = Arc::new(Inbox {
        workload: cx.w,
        slots: slots.to_vec(),
    });
    match &cx.dialer {
        Dialer::Quic(ep) => {
            tokio::spawn(inbox::accept_quic(inbox, ep.clone()));
        }
        Dialer::Tcp { commands } => {
            for slot in slots {
                let only = Arc::new(Inbox {
                    workload: cx.w,
                    slots: vec![slot.clone()],
                });
                let port = cx.port(slot.leg, slot.k);
                let buffer = cx.tcp_buffer(slot.leg, slot.k);
                tokio::spawn(inbox::listen_tcp(only, port, buffer, commands.clone()));
            }
        }
    }
}

/// A compute satellite's part: its data in, the compute, its results out.
async fn compute_part(cx: &Cx, slot: &Slot) {
    let k = slot.k;
    let up = slot.finished(cx.deadline).await;
    cx.report.emit(Event::Offload(received(cx, slot, &up)));
    let Ok(arrived) = up else { return };
    let compute = match &cx.scenario.accelerator {
        Some(acc) => Ok(cx.o.compute_time(acc)),
        None => Err("no [accelerator] to compute on".to_owned()),
    };
    let end = compute.map(|d| arrived + d).and_then(|end| {
        if end <= cx.deadline {
            Ok(end)
        } else {
            Err(format!(
                "the compute would end at {:.3} s, after the deadline at {:.3} s",
                end.as_secs_f64(),
                cx.deadline.as_secs_f64()
            ))
        }
    });
    if let Ok(end) = end {
        tokio::time::sleep_until(cx.clock.wall(end)).await;
    }
    cx.report.emit(Event::Offload(OffloadReport {
        workload: cx.w,
        part: k,
        node: cx.name(cx.me),
        role: OffloadRole::Compute,
        start_s: arrived.as_secs_f64(),
        end_s: end.as_ref().ok().map(|t| t.as_secs_f64()),
        bytes: 0,
        received: 0,
        waits: Vec::new(),
        sessions: 0,
        verified: end.is_ok(),
        error: end.as_ref().err().cloned(),
    }));
    if let Ok(end) = end {
        let r = send_leg(cx, Leg::Downlink, k, end).await;
        cx.report.emit(Event::Offload(r));
    }
}

/// The report of a receiving slot that finished as `f`.
fn received(cx: &Cx, slot: &Slot, f: &inbox::Finish) -> OffloadReport {
    use session::Holder;
    let (sessions, first) = slot.sessions();
    OffloadReport {
        workload: cx.w,
        part: slot.k,
        node: cx.name(cx.me),
        role: match slot.leg {
            Leg::Uplink => OffloadRole::UplinkReceive,
            Leg::Downlink => OffloadRole::DownlinkReceive,
        },
        start_s: first.unwrap_or(cx.o.start).as_secs_f64(),
        end_s: f.as_ref().ok().map(|t| t.as_secs_f64()),
        bytes: slot.part.len,
        received: slot.have(),
        waits: Vec::new(),
        sessions,
        verified: f.is_ok(),
        error: f.as_ref().err().cloned(),
    }
}

/// The QUIC connections' tuning on port `port`: windows for the largest
/// bandwidth-delay product of the node's legs at their first contacts. A
/// connection lasts one contact; one idle for 30 virtual seconds (its
/// path gone) is dead.
fn tuning(cx: &Cx, port: u16) -> Tuning {
    let me = cx.me;
    let paths: Vec<_> = [Leg::Uplink, Leg::Downlink]
        .into_iter()
        .flat_map(|leg| (0..cx.o.parts()).map(move |k| (leg, k)))
        .filter(|&(leg, k)| cx.o.ends(leg, k).is_some_and(|(a, b)| a == me || b == me))
        .filter_map(|(leg, k)| cx.first_path(leg, k))
        .collect();
    let bdp = paths.iter().map(|p| p.bdp_bytes() as u64).max();
    let rtt = paths
        .iter()
        .map(|p| Duration::from_nanos(p.rtt().as_nanos()))
        .max()
        .unwrap_or(Duration::from_millis(100));
    let mtu = cx.scenario.world.link_model().mtu.0;
    Tuning {
        bdp: bdp.unwrap_or(1 << 20),
        rtt,
        cc: cx.o.cc,
        streams: 4,
        max_payload: mtu.saturating_sub(28).min(65_507) as u16,
        idle: (rtt * 10).max(Duration::from_secs(30)),
        seed: crate::tasks::quic_seed(cx.scenario.seed, me, port),
        message: 0,
    }
}
