//! The `ping` workload: ICMP echo requests from an smoltcp ICMP socket,
//! one every interval, with the virtual send time of each kept by sequence
//! number. The far satellite's stack answers on its own.

use std::collections::BTreeMap;

use smoltcp::iface::SocketHandle;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::icmp;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress};

use orbnet_netem::scenario::Ping;
use orbnet_netem::{SimDuration, SimTime};

use crate::addr;
use crate::stack::Stack;

/// One echo's fate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Echo {
    pub seq: u16,
    pub sent: SimTime,
    pub rtt: Option<SimDuration>,
}

/// A running ping.
#[derive(Debug)]
pub struct Pinger {
    spec: Ping,
    ident: u16,
    handle: SocketHandle,
    next_seq: u32,
    pending: BTreeMap<u16, SimTime>,
}

impl Pinger {
    pub fn new(spec: Ping, ident: u16, stack: &mut Stack) -> Pinger {
        let rx = icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 64 * 1024]);
        let tx = icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 64 * 1024]);
        let mut socket = icmp::Socket::new(rx, tx);
        // A fresh socket always binds to a specified identifier.
        let _ = socket.bind(icmp::Endpoint::Ident(ident));
        let handle = stack.sockets.add(socket);
        Pinger {
            spec,
            ident,
            handle,
            next_seq: 0,
            pending: BTreeMap::new(),
        }
    }

    /// When the next echo request is due, if any remain.
    pub fn next_send(&self) -> Option<SimTime> {
        (self.next_seq < self.spec.count).then(|| {
            self.spec.start
                + SimDuration::from_nanos(self.spec.interval.as_nanos() * u64::from(self.next_seq))
        })
    }

    /// Queues the request due at `now` in the socket.
    pub fn send(&mut self, now: SimTime, stack: &mut Stack) {
        let seq = self.next_seq as u16;
        self.next_seq += 1;
        let data = vec![0xa5u8; self.spec.size as usize];
        let repr = Icmpv4Repr::EchoRequest {
            ident: self.ident,
            seq_no: seq,
            data: &data,
        };
        let socket = stack.sockets.get_mut::<icmp::Socket>(self.handle);
        let dst = IpAddress::Ipv4(addr::address(self.spec.to));
        if let Ok(buf) = socket.send(repr.buffer_len(), dst) {
            repr.emit(
                &mut Icmpv4Packet::new_unchecked(buf),
                &ChecksumCapabilities::default(),
            );
            self.pending.insert(seq, now);
        }
    }

    /// Collects replies that arrived by `now`.
    pub fn receive(&mut self, now: SimTime, stack: &mut Stack) -> Vec<Echo> {
        let socket = stack.sockets.get_mut::<icmp::Socket>(self.handle);
        let mut out = Vec::new();
        while let Ok((payload, _from)) = socket.recv() {
            let Ok(packet) = Icmpv4Packet::new_checked(payload) else {
                continue;
            };
            let Ok(Icmpv4Repr::EchoReply { ident, seq_no, .. }) =
                Icmpv4Repr::parse(&packet, &ChecksumCapabilities::default())
            else {
                continue;
            };
            if ident != self.ident {
                continue;
            }
            if let Some(sent) = self.pending.remove(&seq_no) {
                out.push(Echo {
                    seq: seq_no,
                    sent,
                    rtt: Some(now - sent),
                });
            }
        }
        out
    }

    /// When the oldest request still waiting times out.
    pub fn next_timeout(&self) -> Option<SimTime> {
        self.pending
            .values()
            .min()
            .map(|&sent| sent + self.spec.timeout)
    }

    /// Requests whose echo has not come by `now` within the timeout: lost
    /// (a late echo is ignored).
    pub fn expire(&mut self, now: SimTime) -> Vec<Echo> {
        let timeout = self.spec.timeout;
        let lost: Vec<Echo> = self
            .pending
            .iter()
            .filter(|&(_, &sent)| sent + timeout <= now)
            .map(|(&seq, &sent)| Echo {
                seq,
                sent,
                rtt: None,
            })
            .collect();
        for e in &lost {
            self.pending.remove(&e.seq);
        }
        lost
    }

    /// Echoes still unanswered (reported as lost at the end).
    pub fn unanswered(&self) -> impl Iterator<Item = Echo> + '_ {
        self.pending.iter().map(|(&seq, &sent)| Echo {
            seq,
            sent,
            rtt: None,
        })
    }

    pub fn spec(&self) -> &Ping {
        &self.spec
    }
}
