//! Satellites stepped by hand, in the manner of quinn-proto's `Pair`: no
//! runtime, no sockets, no clock; frames move between them through a
//! queue at explicit virtual times.

use std::sync::Arc;

use orbnet_netem::{SatId, Scenario, SimTime};

use super::{Satellite, Setup};
use crate::protocol::{Counters, Done, Event};

/// Every satellite of a scenario, joined by an in-memory queue.
struct Constellation {
    sats: Vec<Satellite>,
    events: Vec<Event>,
}

impl Constellation {
    fn new(toml: &str) -> Constellation {
        let scenario = Scenario::parse(toml, "test.toml", &mut |_| Err("no files".into()))
            .expect("a valid scenario");
        let scenario = Arc::new(scenario);
        let sats = (0..scenario.world.nodes())
            .map(|i| {
                let (mut sat, _tasks) = Satellite::new(Setup {
                    scenario: scenario.clone(),
                    me: SatId(i),
                    token: 7,
                    restarted: false,
                    shared: None,
                })
                .expect("a satellite");
                sat.begin(SimTime::ZERO);
                sat
            })
            .collect();
        Constellation {
            sats,
            events: Vec::new(),
        }
    }

    /// Runs every satellite to the end: each step goes to the earliest
    /// instant any satellite has work, and frames sent then are handed to
    /// their receivers (they carry a later delivery instant).
    fn run(&mut self) {
        for _ in 0..10_000_000 {
            if self.sats.iter().all(Satellite::is_finished) {
                // Nothing is left on this wire: it hands frames over at once.
                for s in self.sats.iter_mut() {
                    s.close(0);
                    while let Some(e) = s.poll_event() {
                        self.events.push(e);
                    }
                }
                return;
            }
            let t = self
                .sats
                .iter_mut()
                .filter(|s| !s.is_finished())
                .map(Satellite::poll_timeout)
                .min()
                .expect("a satellite still running");
            let mut frames = Vec::new();
            for s in self.sats.iter_mut() {
                s.handle_timeout(t);
                while let Some(tx) = s.poll_transmit() {
                    frames.push((s.id(), tx));
                }
                while let Some(e) = s.poll_event() {
                    self.events.push(e);
                }
            }
            for (from, tx) in frames {
                self.sats[tx.to.index()].handle_frame(t, Some(from), &tx.frame);
            }
        }
        panic!("the run did not end");
    }

    fn done(&self, sat: &str) -> &Done {
        self.events
            .iter()
            .find_map(|e| match e {
                Event::Done(d) if d.sat == sat => Some(d),
                _ => None,
            })
            .expect("a done report")
    }
}

/// Eight satellites in one circular orbit at 1000 km, each linked to the
/// next (as topologies/ring-8.toml), with `workloads` appended.
fn ring8(workloads: &str) -> String {
    format!(
        r#"
name = "ring-8"
duration_s = 10
[constellation]
kind = "walker"
planes = 1
per_plane = 8
altitude_km = 1000
inclination_deg = 53
[links]
pattern = "plus-grid"
rate_gbps = 10
{workloads}
"#
    )
}

/// The chord between neighbours 45° apart on a circle of radius a, over c
/// (an independent formula: 2a·sin(π/8) / c), in nanoseconds.
fn neighbour_delay_ns() -> f64 {
    let a = 6_378_137.0 + 1_000_000.0;
    2.0 * a * (std::f64::consts::PI / 8.0).sin() / 299_792_458.0 * 1e9
}

#[test]
fn an_echo_returns_after_exactly_the_geometric_round_trip() {
    let mut c = Constellation::new(&ring8(
        r#"
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-2"
interval_ms = 100
count = 5
"#,
    ));
    c.run();
    let rtts: Vec<f64> = c
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Echo(x) => x.rtt_ms,
            _ => None,
        })
        .collect();
    assert_eq!(rtts.len(), 5, "every echo answered");
    // Two hops each way; each hop also serializes the 84-byte packet
    // (20 IP + 8 ICMP + 56 payload) at 10 Gb/s: 67.2 ns.
    let expected_ns = 4.0 * (neighbour_delay_ns() + 84.0 * 8.0 / 10.0);
    for rtt in rtts {
        let err = (rtt * 1e6 - expected_ns).abs();
        assert!(err <= 4.0, "RTT {rtt} ms, geometry {expected_ns} ns");
    }
    assert_eq!(c.done("sat-1").counters.forwarded, 10);
}

#[test]
fn a_tcp_transfer_completes_and_checks_out() {
    let mut c = Constellation::new(&ring8(
        r#"
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-3"
bytes = 2000000
transport = "tcp"
"#,
    ));
    c.run();
    let t = c
        .events
        .iter()
        .find_map(|e| match e {
            Event::Transfer(t) => Some(t),
            _ => None,
        })
        .expect("a transfer report");
    assert!(t.verified, "{t:?}");
    assert_eq!(t.received, 2_000_000);
    // Three hops of 18.8 ms: the transfer takes more than the handshake
    // and one round trip, and well within the run.
    let took = t.completed_s.expect("completed") - t.start_s;
    assert!(took > 2.0 * 6.0 * neighbour_delay_ns() / 1e9, "{took}");
    assert!(took < 5.0, "{took}");
}

#[test]
fn a_link_cut_mid_transfer_reroutes_the_other_way_round() {
    let mut c = Constellation::new(&ring8(
        r#"
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-2"
bytes = 4000000
transport = "tcp"

[[fault]]
at_s = 0.5
kind = "link-down"
a = "sat-0"
b = "sat-1"
"#,
    ));
    c.run();
    let t = c
        .events
        .iter()
        .find_map(|e| match e {
            Event::Transfer(t) => Some(t),
            _ => None,
        })
        .expect("a transfer report");
    assert!(t.verified, "{t:?}");
    assert!(
        t.completed_s.expect("completed") > 0.5,
        "the transfer spans the cut"
    );
    // Before the cut the short way (sat-1); after it the long way round
    // (sat-7 … sat-3) carried the data.
    assert!(c.done("sat-1").counters.forwarded > 30);
    assert!(c.done("sat-7").counters.forwarded > 100);
    assert!(c.done("sat-4").counters.forwarded > 100);
    let down = c.events.iter().any(|e| {
        matches!(e, Event::Link(l) if l.sat == "sat-0" && l.peer == "sat-1" && l.state == "down")
    });
    assert!(down, "sat-0 saw its link to sat-1 go down");
}

impl Constellation {
    /// Every satellite's counters, summed.
    fn totals(&self) -> Counters {
        let mut c = Counters::default();
        for e in &self.events {
            if let Event::Done(d) = e {
                c.add(&d.counters);
            }
        }
        c
    }
}

#[test]
fn every_frame_and_every_packet_is_accounted_for() {
    // A ring with queues shorter than two jumbo frames; two transfers
    // that meet on sat-0's and sat-1's links and overflow their queues,
    // and a burst of loss on one of their links; a ping to sat-1, which
    // is cut off for a while (its two links down): packets are lost to
    // corruption, full queues and the missing route, and the run stops
    // with the ping's last packets on their way.
    let mut c = Constellation::new(
        &ring8(
            r#"
[[workload]]
kind = "bulk"
from = "sat-0"
to = "sat-2"
bytes = 20000000
transport = "tcp"
[[workload]]
kind = "bulk"
from = "sat-7"
to = "sat-2"
bytes = 20000000
transport = "tcp"
[[workload]]
kind = "ping"
from = "sat-5"
to = "sat-1"
interval_ms = 10
count = 1000
[[fault]]
at_s = 0.3
kind = "link-down"
a = "sat-0"
b = "sat-1"
for_s = 0.2
[[fault]]
at_s = 0.3
kind = "link-down"
a = "sat-1"
b = "sat-2"
for_s = 0.2
[[fault]]
at_s = 0.6
kind = "loss-burst"
a = "sat-7"
b = "sat-0"
loss = 0.05
for_s = 0.2
"#,
        )
        .replace("rate_gbps = 10", "rate_gbps = 1\nqueue_bytes = 12000"),
    );
    c.run();
    let t = c.totals();
    for why in ["corrupted", "queue-full", "no-route"] {
        assert!(t.drops.get(why).is_some_and(|n| *n > 0), "{why}: {t:?}");
    }
    assert!(t.in_flight > 0, "the ping's last packets were on their way");
    assert!(t.rejected.is_empty(), "{t:?}");
    // Hop by hop: every frame sent was taken by its neighbour.
    assert_eq!(t.frames_out, t.frames_in + t.send_errors + t.kernel_drops);
    // End to end: every packet a stack offered was delivered, dropped by
    // a named reason, or still held at the stop.
    let dropped: u64 = t.drops.values().sum();
    assert_eq!(
        t.offered,
        t.delivered_local + dropped + t.send_errors + t.kernel_drops + t.in_flight,
        "{t:?}"
    );
}
