//! The port plan: every port number a run uses on the satellites' stacks,
//! chosen in one place from the scenario, the same on every satellite (so
//! both ends of a connection agree without a word).
//!
//! | range (stack ports) | protocol | use |
//! |---|---|---|
//! | 4433 + w | UDP | QUIC endpoint of workload w |
//! | 10 000 – 49 999 | TCP | workloads over TCP: a block of listening and a block of connecting ports each, in workload order (an offload listens on both) |
//! | 30 000 – 39 999 | UDP | flows of UDP ingress gateways, one per kernel client |
//! | 50 000 – 59 999 | TCP | connections a test or a TCP ingress gateway opens |
//!
//! Gateways that expose a port on a satellite must stay outside the
//! ranges of their protocol; [`PortPlan::new`] refuses a scenario whose
//! workloads need more ports than the ranges hold.

use std::ops::{Range, RangeInclusive};

use crate::traffic::Workload;
use crate::workload::Transport;

/// The UDP port of the QUIC endpoint of workload 0.
pub const QUIC_BASE: u16 = 4433;
/// TCP ports of workloads over TCP.
pub const TCP_WORKLOADS: Range<u16> = 10_000..50_000;
/// UDP ports of the flows of UDP ingress gateways.
pub const UDP_FLOWS: Range<u16> = 30_000..40_000;
/// TCP ports of connections a test or a gateway opens.
pub const LOCAL: RangeInclusive<u16> = 50_000..=59_999;

/// The TCP ports of one workload: it listens on `listen + i` and connects
/// from `connect + j` (i, j a stream or a rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct TcpBlock {
    listen: u16,
    connect: u16,
}

/// Every workload's ports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortPlan {
    tcp: Vec<Option<TcpBlock>>,
}

/// The workloads over TCP need more ports than [`TCP_WORKLOADS`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the TCP workloads up to this one need {needed} ports; {available} are available")]
pub struct PortsExhausted {
    /// The workload that ran out.
    pub workload: usize,
    pub needed: usize,
    pub available: usize,
}

impl PortPlan {
    /// The plan of `workloads`, in order.
    pub fn new(workloads: &[Workload]) -> Result<PortPlan, PortsExhausted> {
        let available = TCP_WORKLOADS.len();
        let mut next = 0usize;
        let mut tcp = Vec::with_capacity(workloads.len());
        for (w, workload) in workloads.iter().enumerate() {
            let n = match workload {
                Workload::Bulk(b) if b.transport == Transport::Tcp => b.streams as usize,
                Workload::Collective(c) if c.transport == Transport::Tcp => c.ranks.len(),
                Workload::Train(t) if t.transport == Transport::Tcp => t.ranks.len(),
                Workload::Graph(g) if g.transport == Transport::Tcp => g.ranks.len(),
                Workload::Offload(o) if o.transport == Transport::Tcp => o.parts(),
                _ => {
                    tcp.push(None);
                    continue;
                }
            };
            if next + 2 * n > available {
                return Err(PortsExhausted {
                    workload: w,
                    needed: next + 2 * n,
                    available,
                });
            }
            let port = |k: usize| TCP_WORKLOADS.start + k as u16;
            tcp.push(Some(TcpBlock {
                listen: port(next),
                connect: port(next + n),
            }));
            next += 2 * n;
        }
        Ok(PortPlan { tcp })
    }

    /// The UDP port of workload `w`'s QUIC endpoint.
    pub fn quic(w: usize) -> u16 {
        QUIC_BASE.wrapping_add(w as u16)
    }

    fn block(&self, w: usize) -> TcpBlock {
        self.tcp.get(w).copied().flatten().unwrap_or_default()
    }

    /// Stream `k` of TCP bulk workload `w`: (the receiver's listening
    /// port, the sender's port).
    pub fn bulk(&self, w: usize, k: u32) -> (u16, u16) {
        let b = self.block(w);
        (b.listen + k as u16, b.connect + k as u16)
    }

    /// The connection from rank `sender` to rank `receiver` of TCP
    /// collective or training workload `w`: (the port `receiver` listens on
    /// for `sender`, the port `sender` connects from).
    pub fn collective(&self, w: usize, sender: usize, receiver: usize) -> (u16, u16) {
        let b = self.block(w);
        (b.listen + sender as u16, b.connect + receiver as u16)
    }

    /// The port part `k` of TCP offload workload `w` receives leg `leg` on:
    /// the uplink on its compute satellite at the listening block's `k`,
    /// the results on the ground station at the other block's `k` (both
    /// senders connect from [`LOCAL`], a new connection for each contact).
    pub fn offload(&self, w: usize, leg: crate::workload::offload::Leg, k: usize) -> u16 {
        let b = self.block(w);
        match leg {
            crate::workload::offload::Leg::Uplink => b.listen + k as u16,
            crate::workload::offload::Leg::Downlink => b.connect + k as u16,
        }
    }

    /// Every TCP port the plan hands out, with its workload.
    pub fn tcp_ports(&self) -> impl Iterator<Item = (usize, u16)> + '_ {
        self.tcp.iter().enumerate().flat_map(|(w, b)| {
            let n = b.map_or(0, |b| b.connect - b.listen);
            b.iter()
                .flat_map(move |b| (b.listen..b.listen + 2 * n).map(move |p| (w, p)))
        })
    }

    /// Whether `port` of `protocol` is one the plan may hand out (a
    /// gateway must not expose it).
    pub fn reserved(&self, port: u16, udp: bool, workloads: usize) -> bool {
        if udp {
            let quic = QUIC_BASE..QUIC_BASE.saturating_add(workloads as u16);
            quic.contains(&port) || UDP_FLOWS.contains(&port)
        } else {
            LOCAL.contains(&port) || self.tcp_ports().any(|(_, p)| p == port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{SatId, SimTime};
    use crate::workload::{Algorithm, Collective, DType, Op};

    fn tcp_collective(ranks: u32) -> Workload {
        Workload::Collective(Collective {
            op: Op::AllReduce,
            algorithm: Algorithm::Ring,
            dtype: DType::F32,
            sizes: vec![4096],
            iterations: 1,
            warmup: 0,
            transport: Transport::Tcp,
            ranks: (0..ranks).map(SatId).collect(),
            start: SimTime::ZERO,
            timeout: None,
        })
    }

    #[test]
    fn twelve_tcp_collectives_get_ports_of_their_own() {
        let workloads: Vec<Workload> = (0..12).map(|_| tcp_collective(8)).collect();
        let plan = PortPlan::new(&workloads).expect("fits");
        // On every satellite, every (workload, peer) connection listens on
        // and connects from ports no other connection uses.
        let mut seen = std::collections::BTreeSet::new();
        for w in 0..12 {
            for s in 0..8 {
                for r in (0..8).filter(|&r| r != s) {
                    let (listen, local) = plan.collective(w, s, r);
                    assert!(
                        seen.insert((r, listen)),
                        "listen {listen} twice on rank {r}"
                    );
                    assert!(seen.insert((s, local)), "local {local} twice on rank {s}");
                }
            }
        }
        let all: Vec<u16> = plan.tcp_ports().map(|p| p.1).collect();
        let distinct: std::collections::BTreeSet<u16> = all.iter().copied().collect();
        assert_eq!(all.len(), 12 * 16);
        assert_eq!(distinct.len(), all.len());
        assert!(all.iter().all(|p| TCP_WORKLOADS.contains(p)));
    }

    #[test]
    fn too_many_tcp_ports_are_refused_naming_the_workload() {
        let workloads: Vec<Workload> = (0..60).map(|_| tcp_collective(500)).collect();
        let e = PortPlan::new(&workloads).expect_err("too many");
        assert_eq!(e.workload, 40);
        assert!(e.needed > e.available);
    }
}
