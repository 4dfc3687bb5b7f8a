//! The satellite's own TCP/IP stack: one smoltcp `Interface` on
//! `Medium::Ip` whose device is a pair of packet queues. Packets the stack
//! sends land in `tx` for the router; packets the router delivers locally
//! go into `rx`. The stack is polled with virtual time as its `Instant`.

use std::collections::VecDeque;

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use orbnet_netem::{SatId, SimTime};

use crate::addr;

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
/// (`None`: no limit). At zero the device refuses to transmit, as a NIC
/// whose queue is full pushes back on its host; TCP then keeps its data
/// in its socket instead of losing it at the first hop (smoltcp neither
/// paces nor recovers well from a burst of drops: BENCHMARKS.md, the
/// long-path rows). Replies to received packets pass regardless.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: VecDeque<Vec<u8>>,
    pub budget: Option<u64>,
    mtu: usize,
    /// Raises pure ACKs left behind by a smoltcp retransmission (see
    /// [`crate::ack_floor`]).
    floor: crate::ack_floor::AckFloor,
}

/// Receives one queued packet.
#[derive(Debug)]
pub(crate) struct Rx(Vec<u8>);

/// Appends one packet to the transmit queue, spending the budget.
#[derive(Debug)]
pub(crate) struct Tx<'a>(&'a mut VecDeque<Vec<u8>>, Option<&'a mut Option<u64>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
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
        self.floor.pass(&mut p);
        Some((Rx(p), Tx(&mut self.tx, None)))
    }

    fn transmit(&mut self, _t: Instant) -> Option<Tx<'_>> {
        if self.budget == Some(0) {
            return None;
        }
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

    /// Runs the stack at virtual time `now`; its output is left in `device.tx`.
    pub(crate) fn poll(&mut self, now: SimTime) {
        self.iface
            .poll(instant(now), &mut self.device, &mut self.sockets);
    }

    /// When the stack next wants to be polled.
    pub(crate) fn poll_at(&mut self, now: SimTime) -> Option<SimTime> {
        self.iface
            .poll_at(instant(now), &self.sockets)
            .map(sim_time)
    }
}
