//! The `ping` workload: ICMP echo requests from an smoltcp ICMP socket,
//! one every interval, with the virtual send time of each kept by sequence
//! number. The far satellite's stack answers on its own.

use std::collections::BTreeMap;

use smoltcp::iface::SocketHandle;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::icmp;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress};

use orbnet_netem::workload::Ping;
use orbnet_netem::{SimDuration, SimTime};

use crate::addr;
use crate::app::{App, Outbox};
use crate::protocol::{self, Event};
use crate::stack::Stack;

/// One echo's fate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Echo {
    pub seq: u16,
    pub sent: SimTime,
    pub rtt: Option<SimDuration>,
}

/// A running ping.
#[derive(Debug)]
pub(crate) struct Pinger {
    spec: Ping,
    /// The names of both ends, for reports.
    names: (String, String),
    ident: u16,
    handle: SocketHandle,
    next_seq: u32,
    pending: BTreeMap<u16, SimTime>,
}

impl Pinger {
    pub(crate) fn new(
        spec: Ping,
        names: (String, String),
        ident: u16,
        stack: &mut Stack,
    ) -> Pinger {
        let rx = icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 64 * 1024]);
        let tx = icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 64 * 1024]);
        let mut socket = icmp::Socket::new(rx, tx);
        // A fresh socket always binds to a specified identifier.
        let _ = socket.bind(icmp::Endpoint::Ident(ident));
        let handle = stack.sockets.add(socket);
        Pinger {
            spec,
            names,
            ident,
            handle,
            next_seq: 0,
            pending: BTreeMap::new(),
        }
    }

    /// When the next echo request is due, if any remain.
    fn next_send(&self) -> Option<SimTime> {
        (self.next_seq < self.spec.count).then(|| {
            self.spec.start
                + SimDuration::from_nanos(self.spec.interval.as_nanos() * u64::from(self.next_seq))
        })
    }

    /// Queues the request due at `now` in the socket.
    fn send(&mut self, now: SimTime, stack: &mut Stack) {
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
    fn receive(&mut self, now: SimTime, stack: &mut Stack) -> Vec<Echo> {
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
    fn next_timeout(&self) -> Option<SimTime> {
        self.pending
            .values()
            .min()
            .map(|&sent| sent + self.spec.timeout)
    }

    /// Requests whose echo has not come by `now` within the timeout: lost
    /// (a late echo is ignored).
    fn expire(&mut self, now: SimTime) -> Vec<Echo> {
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
    fn unanswered(&self) -> impl Iterator<Item = Echo> + '_ {
        self.pending.iter().map(|(&seq, &sent)| Echo {
            seq,
            sent,
            rtt: None,
        })
    }

    fn report(&self, e: Echo) -> Event {
        Event::Echo(protocol::Echo {
            from: self.names.0.clone(),
            to: self.names.1.clone(),
            seq: e.seq,
            sent_s: e.sent.as_secs_f64(),
            size: self.spec.size,
            rtt_ms: e.rtt.map(|d| d.as_nanos() as f64 / 1e6),
        })
    }
}

impl App for Pinger {
    fn next_timer(&self) -> Option<SimTime> {
        [self.next_send(), self.next_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn prepare(&mut self, now: SimTime, stack: &mut Stack) {
        if self.next_send().is_some_and(|t| t <= now) {
            self.send(now, stack);
        }
    }

    fn poll(&mut self, now: SimTime, stack: &mut Stack, out: &mut Outbox) -> bool {
        for e in self.receive(now, stack) {
            out.events.push_back(self.report(e));
        }
        for e in self.expire(now) {
            out.events.push_back(self.report(e));
        }
        false
    }

    fn finish(&mut self, _now: SimTime, out: &mut Outbox) {
        let lost: Vec<Echo> = self.unanswered().collect();
        for e in lost {
            out.events.push_back(self.report(e));
        }
    }
}
