//! The satellite's own TCP/IP stack: one smoltcp `Interface` on
//! `Medium::Ip` whose device is a pair of packet queues. Packets the stack
//! sends land in `tx` for the router; packets the router delivers locally
//! go into `rx`. The stack is polled with virtual time as its `Instant`.

use std::collections::VecDeque;

use smoltcp::iface::{Config, Interface, PollIngressSingleResult, PollResult, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use orbnet_netem::{SatId, SimTime};

use crate::addr;
use crate::wire::Framed;

/// Why a socket could not be opened on a satellite's stack.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("UDP port {0} is already in use")]
    UdpTaken(u16),
    #[error("UDP port {port}: {source}")]
    UdpBind {
        port: u16,
        source: smoltcp::socket::udp::BindError,
    },
    #[error("listen on {port}: {source}")]
    Listen {
        port: u16,
        source: smoltcp::socket::tcp::ListenError,
    },
    #[error("connect to {to}:{port}: {source}")]
    Connect {
        to: std::net::Ipv4Addr,
        port: u16,
        source: smoltcp::socket::tcp::ConnectError,
    },
}

/// A packet queue device.
///
/// Its egress has a budget the satellite sets before each poll: the bytes
/// the stack may still send before its links' egress queues fill
/// (`None`: no limit). [`Stack::poll`] lets the sockets send only while
/// some is left, as a NIC whose queue is full pushes back on its host;
/// TCP then keeps its data in its socket instead of losing it at the
/// first hop (smoltcp neither paces nor recovers well from a burst of
/// drops: BENCHMARKS.md, the long-path rows). The device itself never
/// refuses a packet: smoltcp's TCP socket clears a pending fast
/// retransmission before it hands the segment over, so a segment refused
/// there is lost to the socket, with no timer left to send it again.
/// Replies to received packets do not spend the budget.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    pub rx: VecDeque<Framed>,
    pub tx: VecDeque<Framed>,
    pub budget: Option<u64>,
    mtu: usize,
    /// Raises pure ACKs left behind by a smoltcp retransmission (see
    /// [`crate::ack_floor`]).
    floor: crate::ack_floor::AckFloor,
}

/// Receives one queued packet.
#[derive(Debug)]
pub(crate) struct Rx(Framed);

/// Appends one packet to the transmit queue, spending the budget.
#[derive(Debug)]
pub(crate) struct Tx<'a>(&'a mut VecDeque<Framed>, Option<&'a mut Option<u64>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0.packet())
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // With room for the wire header: the router frames it in place.
        let mut buf = Framed::zeroed(len);
        let r = f(buf.packet_mut());
        self.0.push_back(buf);
        if let Some(Some(b)) = self.1 {
            *b = b.saturating_sub(len as u64);
        }
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _t: Instant) -> Option<(Rx, Tx<'_>)> {
        let mut p = self.rx.pop_front()?;
        self.floor.pass(p.packet_mut());
        Some((Rx(p), Tx(&mut self.tx, None)))
    }

    fn transmit(&mut self, _t: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx, Some(&mut self.budget)))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        // Bursts are shaped by the link, not the device.
        caps.max_burst_size = None;
        // Checksums are written, so captures and the far stack see valid
        // packets, but not checked on receipt: the wire never flips a bit
        // (a corrupted packet is a dropped one, decided by the link model)
        // and frames from anywhere else are refused before they get here.
        for c in [
            &mut caps.checksum.ipv4,
            &mut caps.checksum.tcp,
            &mut caps.checksum.udp,
            &mut caps.checksum.icmpv4,
        ] {
            *c = smoltcp::phy::Checksum::Tx;
        }
        caps
    }
}

/// smoltcp's view of virtual time.
pub(crate) fn instant(t: SimTime) -> Instant {
    Instant::from_micros(t.as_micros() as i64)
}

/// The virtual time of a smoltcp instant.
pub(crate) fn sim_time(i: Instant) -> SimTime {
    SimTime::from_micros(i.total_micros().max(0) as u64)
}

/// One satellite's host stack.
pub(crate) struct Stack {
    pub iface: Interface,
    pub device: Queues,
    pub sockets: SocketSet<'static>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").finish_non_exhaustive()
    }
}

impl Stack {
    /// A stack for satellite `me` with MTU `mtu`, seeded with `seed`.
    pub(crate) fn new(me: SatId, mtu: usize, seed: u64) -> Stack {
        let mut device = Queues {
            mtu,
            ..Queues::default()
        };
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut device, instant(SimTime::ZERO));
        let ip = addr::address(me);
        iface.update_ip_addrs(|addrs| {
            // Capacity is at least one address: this cannot fail.
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(ip), addr::PREFIX_LEN));
        });
        Stack {
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    /// Runs the stack at virtual time `now`; its output is left in
    /// `device.tx`. Every received packet is taken in; the sockets then
    /// send, a segment each per pass: a first pass if any budget is left,
    /// and more while the budget holds a whole pass, `burst` bytes
    /// ([`Stack::burst`], which the caller has worked out for its budget).
    pub(crate) fn poll(&mut self, now: SimTime, burst: u64) {
        let t = instant(now);
        self.iface.poll_maintenance(t);
        while self
            .iface
            .poll_ingress_single(t, &mut self.device, &mut self.sockets)
            != PollIngressSingleResult::None
        {}
        let mut need = 1;
        while self.device.budget.is_none_or(|b| b >= need)
            && self
                .iface
                .poll_egress(t, &mut self.device, &mut self.sockets)
                != PollResult::None
        {
            need = burst;
        }
    }

    /// The most one pass over the sockets may send: a full segment each.
    pub(crate) fn burst(&self) -> u64 {
        (self.sockets.iter().count() * self.device.mtu) as u64
    }

    /// When the stack next wants to be polled.
    pub(crate) fn poll_at(&mut self, now: SimTime) -> Option<SimTime> {
        self.iface
            .poll_at(instant(now), &self.sockets)
            .map(sim_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::socket::tcp;

    const PORT: u16 = 9000;

    fn socket(buffer: usize) -> tcp::Socket<'static> {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; buffer]),
            tcp::SocketBuffer::new(vec![0; buffer]),
        );
        s.set_ack_delay(None);
        // No congestion window: the test sends a whole burst at once.
        s.set_congestion_control(tcp::CongestionControl::None);
        s
    }

    fn poll(s: &mut Stack, now: SimTime) {
        let burst = s.burst();
        s.poll(now, burst);
    }

    /// Moves what `from` sent into `to`, but for the packets `keep` refuses.
    fn carry(from: &mut Stack, to: &mut Stack, mut keep: impl FnMut(&[u8]) -> bool) {
        while let Some(p) = from.device.tx.pop_front() {
            if keep(p.packet()) {
                to.device.rx.push_back(p);
            }
        }
    }

    /// A TCP packet's sequence number and payload length (IPv4, no options).
    fn seq_and_len(p: &[u8]) -> (u32, usize) {
        let ihl = usize::from(p[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
        let tcp = &p[ihl..];
        let offset = usize::from(tcp[12] >> 4) * 4;
        let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
        (seq, total - ihl - offset)
    }

    /// A fast retransmission that comes due while the egress has no budget
    /// is sent once the budget returns, long before any timeout (smoltcp
    /// forgets it when the device refuses the segment: the hole then stays
    /// open for good, since the duplicate ACKs that follow no longer count).
    #[test]
    fn a_fast_retransmission_due_without_budget_waits_for_it() {
        let mut a = Stack::new(SatId(0), 1500, 1);
        let mut b = Stack::new(SatId(1), 1500, 2);
        let mut server = socket(1 << 20);
        server.listen(PORT).expect("listen");
        let hb = b.sockets.add(server);
        let client = socket(1 << 20);
        let ha = a.sockets.add(client);
        let to = (IpAddress::Ipv4(addr::address(SatId(1))), PORT);
        let cx = a.iface.context();
        a.sockets
            .get_mut::<tcp::Socket>(ha)
            .connect(cx, to, 49152)
            .expect("connect");
        let mut now = SimTime::ZERO;
        for _ in 0..4 {
            poll(&mut a, now);
            carry(&mut a, &mut b, |_| true);
            poll(&mut b, now);
            carry(&mut b, &mut a, |_| true);
            now += orbnet_netem::SimDuration::from_millis(1);
        }
        assert!(b.sockets.get::<tcp::Socket>(hb).is_active());
        let sent = a
            .sockets
            .get_mut::<tcp::Socket>(ha)
            .send_slice(&[7u8; 20 * 1460])
            .expect("send");
        assert_eq!(sent, 20 * 1460);

        // Twenty segments leave; the second is lost on the way.
        poll(&mut a, now);
        let mut data = 0;
        let mut hole = None;
        carry(&mut a, &mut b, |p| {
            let (seq, len) = seq_and_len(p);
            if len > 0 {
                data += 1;
                if data == 2 {
                    hole = Some(seq);
                    return false;
                }
            }
            true
        });
        let hole = hole.expect("a second data segment");
        assert!(data >= 5, "only {data} data segments sent");
        poll(&mut b, now);

        // The duplicate ACKs arrive while the links' queues are full.
        now += orbnet_netem::SimDuration::from_millis(1);
        carry(&mut b, &mut a, |_| true);
        a.device.budget = Some(0);
        poll(&mut a, now);
        assert!(a.device.tx.iter().all(|p| seq_and_len(p.packet()).1 == 0));
        a.device.tx.clear();

        // The queues drain: the lost segment goes first, well inside the
        // retransmission timeout (at least 1 s in smoltcp).
        now += orbnet_netem::SimDuration::from_millis(5);
        a.device.budget = None;
        poll(&mut a, now);
        let resent: Vec<_> = a
            .device
            .tx
            .iter()
            .map(|p| seq_and_len(p.packet()))
            .collect();
        assert!(
            resent.iter().any(|&(seq, len)| seq == hole && len > 0),
            "hole at {hole} not retransmitted: {resent:?}"
        );
    }
}
