//! `summary.json`'s `accounting`: every frame and every packet of a run,
//! accounted for from the satellites' last reports.
//!
//! Two balances, over every satellite's counters summed:
//!
//! ```text
//! frames (hop by hop):  sent = received + send errors + kernel drops
//! packets (end to end): offered = delivered + dropped by reason
//!                                 + send errors + kernel drops + in flight
//! ```
//!
//! A frame is one packet on one hop: *sent* when a satellite's router hands
//! it to the wire, *received* when the neighbour's wire takes it (run
//! token, a link of its own from the right peer, a sequence number not seen
//! before). Between the two it may fail to leave (a send error: a full
//! socket, a peer with no address) or be dropped by the kernel (a full
//! receive buffer). The receivers count those frame by frame from the
//! gaps in each link's sequence numbers: a frame whose send failed left a
//! gap too, so the kernel's drops are the gaps less the send errors. (The
//! socket's own count, `socket_drops`, counts a dropped batch of frames
//! that the kernel coalesced (GSO, GRO) as one.) Each satellite's last frame
//! on a link is an end marker, which its neighbour waits for before its
//! last report, so a link's trailing frames are counted too. A packet is *offered*
//! when a stack hands it to its router, and ends *delivered* to the
//! destination's stack, *dropped* by a router on the way for a named
//! reason (queue full, corrupted, burst, link down, acquiring, TTL, no
//! route, malformed), lost on a hop as above, or *in flight*: taken by a
//! satellite and held for its delivery instant when the run stopped (each
//! satellite drains its wire until its neighbours' end markers came, so
//! frames they sent before they stopped are counted there). What remains is
//! `unaccounted`; a run balances when both remainders are zero and every
//! satellite reported.
//!
//! Datagrams the wire refused (wrong run token, a stranger's address, a
//! replayed or stale sequence number, malformed) are counted by reason
//! under `refused`, outside the sums: a frame is sent once, so a copy, a
//! forgery or a stranger's datagram was never a frame of the run. A
//! genuine frame refused would show as a frame sent and never received.
//!
//! A satellite that crashed takes its counters with it: its frames and
//! packets until the crash are in nobody's sums, so a run with a crash is
//! listed as `unreported` and does not balance.

use std::collections::BTreeMap;

use orbnet_netem::{SatId, Scenario};
use orbnet_node::protocol::{Counters, Event};
use serde::Serialize;

use super::Collected;

/// The balances of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Accounting {
    /// Both balances hold and every satellite reported.
    pub balanced: bool,
    pub frames: FrameBalance,
    pub packets: PacketBalance,
    /// Datagrams the wire refused, by reason (outside the balances).
    pub refused: BTreeMap<String, u64>,
    /// Satellites whose counters are missing (crashed, failed, or never
    /// reported), and why.
    pub unreported: Vec<String>,
}

/// Frames, hop by hop.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct FrameBalance {
    pub sent: u64,
    pub received: u64,
    pub send_errors: u64,
    /// Frames lost between the wire sockets (the receivers' sequence gaps
    /// less the send errors, whose numbers were used too).
    pub kernel_drops: u64,
    /// The wire sockets' own count of datagrams their kernel dropped
    /// (`SO_MEMINFO`): a dropped batch of coalesced frames counts once, so
    /// it may be below `kernel_drops`.
    pub socket_drops: u64,
    /// sent − received − send errors − kernel drops.
    pub unaccounted: i64,
}

/// Packets, end to end.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct PacketBalance {
    pub offered: u64,
    pub delivered: u64,
    /// By reason: the routers' drops, `send-error` and `kernel`.
    pub dropped: BTreeMap<String, u64>,
    pub in_flight: u64,
    /// offered − delivered − dropped − in flight.
    pub unaccounted: i64,
}

/// `a − b` as a signed count.
fn diff(a: u64, b: u64) -> i64 {
    i64::try_from(i128::from(a) - i128::from(b)).unwrap_or(i64::MIN)
}

impl Accounting {
    /// The balances of counters `c` (every satellite's, summed), with the
    /// satellites whose counters are missing.
    pub(crate) fn of(c: &Counters, unreported: Vec<String>) -> Accounting {
        let kernel = c.seq_gaps.saturating_sub(c.send_errors);
        let frames = FrameBalance {
            sent: c.frames_out,
            received: c.frames_in,
            send_errors: c.send_errors,
            kernel_drops: kernel,
            socket_drops: c.kernel_drops,
            unaccounted: diff(c.frames_out, c.frames_in + c.send_errors + kernel),
        };
        let mut dropped = c.drops.clone();
        for (why, n) in [("send-error", c.send_errors), ("kernel", kernel)] {
            if n > 0 {
                *dropped.entry(why.to_owned()).or_default() += n;
            }
        }
        let lost: u64 = dropped.values().sum();
        let packets = PacketBalance {
            offered: c.offered,
            delivered: c.delivered_local,
            unaccounted: diff(c.offered, c.delivered_local + lost + c.in_flight),
            dropped,
            in_flight: c.in_flight,
        };
        Accounting {
            balanced: frames.unaccounted == 0 && packets.unaccounted == 0 && unreported.is_empty(),
            frames,
            packets,
            refused: c.rejected.clone(),
            unreported,
        }
    }

    /// What is wrong, in a line, when the run does not balance.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.balanced {
            return None;
        }
        let mut why = vec![format!(
            "{} frames and {} packets unaccounted for",
            self.frames.unaccounted, self.packets.unaccounted
        )];
        why.extend(self.unreported.iter().cloned());
        Some(format!("accounting does not balance: {}", why.join("; ")))
    }
}

/// The satellites of a run whose counters are missing from `c`, and why.
pub(crate) fn unreported(scenario: &Scenario, c: &Collected) -> Vec<String> {
    let world = &scenario.world;
    let mut out = Vec::new();
    for e in &c.events {
        if let Event::Crash { sat, t_s } = e {
            out.push(format!(
                "{sat} crashed at {t_s:.3} s: its counters until then died with it"
            ));
        }
    }
    for i in 0..world.satellites() {
        if !c.done.contains_key(&(i as usize)) {
            out.push(format!("{} made no last report", world.name(SatId(i))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters() -> Counters {
        let mut c = Counters {
            frames_out: 100,
            frames_in: 90,
            send_errors: 4,
            // Ten numbers missing: the four that failed to send, and six
            // frames the kernel dropped in three batches.
            seq_gaps: 10,
            kernel_drops: 3,
            offered: 50,
            delivered_local: 30,
            in_flight: 5,
            ..Counters::default()
        };
        c.drops.insert("queue-full".into(), 3);
        c.drops.insert("corrupted".into(), 2);
        c.rejected.insert("wrong-token".into(), 7);
        c
    }

    #[test]
    fn balanced_counters_balance_and_refusals_stay_outside() {
        let a = Accounting::of(&counters(), Vec::new());
        assert!(a.balanced, "{a:?}");
        assert_eq!(a.frames.unaccounted, 0);
        assert_eq!(a.packets.unaccounted, 0);
        assert_eq!(a.packets.dropped.get("send-error"), Some(&4));
        assert_eq!(a.packets.dropped.get("kernel"), Some(&6));
        assert_eq!((a.frames.kernel_drops, a.frames.socket_drops), (6, 3));
        assert_eq!(a.refused.get("wrong-token"), Some(&7));
        assert_eq!(a.problem(), None);
    }

    #[test]
    fn a_frame_missing_or_a_satellite_unreported_is_said() {
        let mut c = counters();
        c.frames_in -= 1;
        let a = Accounting::of(&c, Vec::new());
        assert!(!a.balanced);
        assert_eq!(a.frames.unaccounted, 1);
        // The frame never received was never routed on: the packets do not
        // see it unless it was counted as in flight or delivered.
        assert!(a.problem().is_some_and(|p| p.contains("1 frames")));
        let b = Accounting::of(&counters(), vec!["sat-3 crashed".into()]);
        assert!(!b.balanced);
        assert!(b.problem().is_some_and(|p| p.contains("sat-3 crashed")));
        // More received than sent is unaccounted too (negative).
        let mut d = counters();
        d.frames_in += 2;
        d.in_flight += 2;
        let d = Accounting::of(&d, Vec::new());
        assert_eq!((d.frames.unaccounted, d.packets.unaccounted), (-2, -2));
    }
}
