//! The satellite's router and its ports.
//!
//! smoltcp is a host stack and drops packets not addressed to it, so
//! forwarding is ours. A packet addressed to this satellite goes to the
//! stack; any other has its TTL decremented (when it came from a link) and
//! leaves on the port of the next hop that netem's routing gives. Each port
//! is one optical terminal: a netem [`Shaper`] for the egress direction and
//! the live state of its link. The router is sans-IO: it takes packets and
//! virtual times and answers with what to do.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use orbnet_netem::link::LinkModel;
use std::sync::Arc;

use orbnet_netem::routing::Routes;
use orbnet_netem::shaper::{Conditions, DropReason, Shaper, Verdict};
use orbnet_netem::{
    Bytes, LinkId, LinkState, LinkStatus, SatId, SimDuration, SimTime, Snapshot, rng,
};

use smoltcp::wire::Ipv4Packet;

use crate::addr;
use crate::replay::{Replay, ReplayWindow};
use crate::wire::{Framed, Header};

/// One optical terminal's link to a neighbour.
#[derive(Debug)]
pub struct Port {
    pub link: LinkId,
    pub peer: SatId,
    pub status: Option<LinkStatus>,
    shaper: Shaper,
    /// The last sequence number sent on the link.
    seq: u64,
    /// The sequence numbers received on it.
    window: ReplayWindow,
    /// The peer's end marker came: it sends nothing more on the link.
    ended: bool,
    /// The lowest and highest sequence numbers taken on the link, and how
    /// many were taken (end marker included): the numbers between that
    /// never came are the frames lost between the two wire sockets.
    first: u64,
    top: u64,
    taken: u64,
    /// Frames missing from the sequence before the peer restarted (its
    /// numbers then jump ahead, see [`crate::replay::restart_base`]), and
    /// the first number of its new life (0 before any restart).
    gaps_before: u64,
    restarted_at: u64,
    /// The link's model, for each packet's loss.
    model: LinkModel,
    /// Loss probability of an MTU-sized packet, and of the last packet
    /// length seen (packets of a flow mostly share one length).
    mtu_loss: f64,
    last_loss: (u64, f64),
}

/// A jump of a link's sequence numbers this large is the peer's restart
/// (it numbers from [`crate::replay::restart_base`], 256 a nanosecond of
/// virtual time), not frames lost: 2²⁴ frames in a row.
const RESTART_JUMP: u64 = 1 << 24;

impl Port {
    /// Numbers missing from the link's current sequence: from 1 (or from
    /// the first of the peer's new life after it restarted, or, when this
    /// satellite joined late, from the lowest taken) to the highest.
    fn gaps(&self, joined_late: bool) -> u64 {
        if self.taken == 0 {
            return 0;
        }
        let from = if self.restarted_at > 0 {
            self.restarted_at
        } else if joined_late {
            self.first
        } else {
            1
        };
        (self.top + 1)
            .saturating_sub(from)
            .saturating_sub(self.taken)
    }

    /// Loss probability of a `len`-byte packet outside bursts.
    fn loss_of(&mut self, len: u64) -> f64 {
        if self.last_loss.0 != len {
            self.last_loss = (len, self.model.packet_loss(Bytes(len)));
        }
        self.last_loss.1
    }
}

/// Why the router dropped a packet (beyond the shaper's reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouterDrop {
    Malformed,
    TtlExpired,
    NoRoute,
    LinkDown,
    Acquiring,
    Shaper(DropReason),
}

impl RouterDrop {
    pub fn as_str(self) -> &'static str {
        match self {
            RouterDrop::Malformed => "malformed",
            RouterDrop::TtlExpired => "ttl-expired",
            RouterDrop::NoRoute => "no-route",
            RouterDrop::LinkDown => "link-down",
            RouterDrop::Acquiring => "acquiring",
            RouterDrop::Shaper(r) => r.as_str(),
        }
    }
}

/// What to do with a packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Hand to the local stack.
    Local(Framed),
    /// Send this frame to the peer at the other end of `link`.
    Send {
        link: LinkId,
        peer: SatId,
        frame: Vec<u8>,
    },
    Drop(RouterDrop),
}

/// A change of a port's link state, for reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkChange {
    pub link: LinkId,
    pub peer: SatId,
    pub state: LinkState,
    pub t: SimTime,
    /// The port's first state (at the start).
    pub first: bool,
}

/// Routing state of one satellite.
#[derive(Debug)]
pub struct Router {
    me: SatId,
    token: u64,
    ports: BTreeMap<LinkId, Port>,
    /// The ports whose link is up, as of the last update: what
    /// [`Router::egress_budget`] reads at every stack poll, without
    /// walking every candidate port (80 on suncatcher-81, where every pair
    /// is a candidate and about four are up).
    up: Vec<LinkId>,
    routes: Option<Arc<Routes>>,
    pub drops: BTreeMap<RouterDrop, u64>,
    /// Packets the local stack handed to the router.
    pub offered: u64,
    pub forwarded: u64,
    pub delivered_local: u64,
    pub sent: u64,
    /// This satellite restarted: its links' sequences were under way.
    joined_late: bool,
}

/// The destination and TTL of an IPv4 packet, through smoltcp's checked
/// view; `None` if it is not one.
fn parse_ipv4(p: &[u8]) -> Option<(Ipv4Addr, u8)> {
    let ip = Ipv4Packet::new_checked(p).ok()?;
    (ip.version() == 4).then(|| (ip.dst_addr(), ip.hop_limit()))
}

/// Decrements the TTL of a packet [`parse_ipv4`] accepted, and rewrites
/// its header checksum.
fn decrement_ttl(p: &mut [u8]) {
    let mut ip = Ipv4Packet::new_unchecked(p);
    ip.set_hop_limit(ip.hop_limit().saturating_sub(1));
    ip.fill_checksum();
}

impl Router {
    /// A router for satellite `me` with one port per candidate link: its
    /// id, the peer at its far end, its model.
    pub fn new<'m>(
        me: SatId,
        token: u64,
        seed: u64,
        links: impl Iterator<Item = (LinkId, SatId, &'m LinkModel)>,
    ) -> Router {
        let ports = links
            .map(|(link, peer, model)| {
                // One stream per direction: (link, 0) is a→b, (link, 1) is b→a.
                let dir = u64::from(me > peer);
                let rng = rng::stream(seed, rng::Domain::LinkLoss, u64::from(link.0) * 2 + dir);
                (
                    link,
                    Port {
                        link,
                        peer,
                        status: None,
                        shaper: Shaper::new(model.queue, model.burst, rng),
                        seq: 0,
                        window: ReplayWindow::new(),
                        ended: false,
                        first: 0,
                        top: 0,
                        taken: 0,
                        gaps_before: 0,
                        restarted_at: 0,
                        model: model.clone(),
                        mtu_loss: model.packet_loss(model.mtu),
                        last_loss: (model.mtu.0, model.packet_loss(model.mtu)),
                    },
                )
            })
            .collect();
        Router {
            me,
            token,
            ports,
            up: Vec::new(),
            routes: None,
            drops: BTreeMap::new(),
            offered: 0,
            forwarded: 0,
            delivered_local: 0,
            sent: 0,
            joined_late: false,
        }
    }

    /// The run token frames on this router's links carry.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// Adds the router's counters (packets offered, sent, forwarded,
    /// delivered, dropped by reason) into `c`.
    pub fn count_into(&self, c: &mut crate::protocol::Counters) {
        c.offered += self.offered;
        c.sent += self.sent;
        c.forwarded += self.forwarded;
        c.delivered_local += self.delivered_local;
        for (k, v) in &self.drops {
            *c.drops.entry(k.as_str().to_owned()).or_default() += v;
        }
    }

    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.values()
    }

    /// The peer at the far end of `link`, if it is one of ours.
    pub fn peer(&self, link: LinkId) -> Option<SatId> {
        self.ports.get(&link).map(|p| p.peer)
    }

    /// Numbers the frames of every link from `base` up (see
    /// [`crate::replay::restart_base`]).
    pub fn number_from(&mut self, base: u64) {
        self.joined_late = base > 0;
        for p in self.ports.values_mut() {
            p.seq = base;
        }
    }

    /// Takes sequence number `seq` of a frame that arrived on `link`
    /// (from the link's peer, with the run's token) if it is new; `None`
    /// for a link that is not ours.
    pub fn accept(&mut self, link: LinkId, seq: u64) -> Option<Result<(), Replay>> {
        self.ports.get_mut(&link).map(|p| {
            let r = p.window.check(seq);
            if r.is_ok() {
                // The peer restarted (its numbers jump ahead; or the first
                // frame taken is already of a later life): its earlier
                // life's gaps are closed.
                let jump = if p.taken > 0 { p.top } else { 0 };
                if seq > jump.saturating_add(RESTART_JUMP) {
                    p.gaps_before += p.gaps(self.joined_late);
                    (p.first, p.top, p.taken, p.restarted_at) = (seq, seq, 0, seq);
                }
                p.taken += 1;
                p.top = p.top.max(seq);
                if p.first == 0 || seq < p.first {
                    p.first = seq;
                }
            }
            r
        })
    }

    /// Frames missing from the sequences of this router's links: numbered
    /// and sent by the peer, never taken here. A link's frames are numbered
    /// from 1, so every number up to the highest taken counts, unless this
    /// satellite restarted and joined its links' sequences part way (then
    /// from the lowest taken). A frame whose send failed is among them (its
    /// number was used); the kernel's losses are the rest, frame by frame,
    /// where the socket counts a dropped batch of coalesced frames once.
    pub fn seq_gaps(&self) -> u64 {
        self.ports
            .values()
            .map(|p| p.gaps_before + p.gaps(self.joined_late))
            .sum()
    }

    /// The peer of `link` has sent its end marker.
    pub fn take_end(&mut self, link: LinkId) {
        if let Some(p) = self.ports.get_mut(&link) {
            p.ended = true;
        }
    }

    /// End markers for every link, numbered after the link's last frame,
    /// sent `now` (see [`crate::driver`]).
    pub fn end_frames(&mut self, now: SimTime) -> Vec<(SatId, Vec<u8>)> {
        let token = self.token;
        self.ports
            .values_mut()
            .map(|p| {
                p.seq += 1;
                let header = Header {
                    token,
                    link: p.link,
                    seq: p.seq,
                    sent: now,
                    deliver: now,
                };
                (p.peer, header.end_frame())
            })
            .collect()
    }

    /// Whether a peer whose link is not down at the end has not sent its
    /// end marker yet. (A down link carries nothing; a crashed peer's
    /// links are down, and it sends no marker.)
    pub fn awaits_ends(&self) -> bool {
        self.ports
            .values()
            .any(|p| !p.ended && p.status.is_some_and(|s| s.state != LinkState::Down))
    }

    /// Links of ours that are up.
    pub fn links_up(&self) -> usize {
        self.up.len()
    }

    /// Takes a new routing instant: port states from `links` (a snapshot
    /// holding at least this satellite's links) and `routes` (kept as they
    /// were if `None`). Returns the ports whose state changed.
    pub fn update(&mut self, links: &Snapshot, routes: Option<Arc<Routes>>) -> Vec<LinkChange> {
        let snapshot = links;
        let mut changes = Vec::new();
        for port in self.ports.values_mut() {
            let Some(new) = snapshot.link(port.link).copied() else {
                continue;
            };
            let old = port.status.map(|s| s.state);
            if old != Some(new.state) {
                changes.push(LinkChange {
                    link: port.link,
                    peer: port.peer,
                    state: new.state,
                    t: snapshot.t,
                    first: old.is_none(),
                });
            }
            port.status = Some(new);
        }
        self.index_up();
        if routes.is_some() {
            self.routes = routes;
        }
        changes
    }

    /// Lists the ports whose link is up.
    fn index_up(&mut self) {
        self.up.clear();
        let up = self
            .ports
            .values()
            .filter(|p| p.status.is_some_and(|s| s.is_up()));
        self.up.extend(up.map(|p| p.link));
    }

    /// How many bytes the local stack may still send before an up port's
    /// egress queue passes its threshold (`None`: no port is up), and
    /// when every port will have room again if one has not. A port's
    /// threshold is half its queue, or 20 ms at its rate if less; it has
    /// room while `burst` bytes are left below it (half the threshold if
    /// `burst` is more). `burst` is what the stack may send in one pass
    /// over its sockets, a segment each: a pass started with room passes
    /// the threshold by little, and the next waits for the queue to drain
    /// rather than going through at every frame's departure (which let
    /// the queue climb by a pass less a frame each time, to overflowing).
    pub(crate) fn egress_budget(
        &mut self,
        now: SimTime,
        burst: u64,
    ) -> (Option<u64>, Option<SimTime>) {
        let mut budget: Option<u64> = None;
        let mut ready: Option<SimTime> = None;
        for link in &self.up {
            let Some(p) = self.ports.get_mut(link) else {
                continue;
            };
            let Some(status) = p.status.filter(|s| s.is_up()) else {
                continue;
            };
            let rate = status.rate.0 as f64 / 8.0;
            let threshold = ((p.model.queue.0 / 2) as f64).min(rate * 0.020) as u64;
            let backlog = p.shaper.backlog(now).0;
            let need = burst.min(threshold / 2).max(1);
            let left = threshold.saturating_sub(backlog);
            let left = if left < need { 0 } else { left };
            budget = Some(budget.map_or(left, |b| b.min(left)));
            if left == 0 && rate > 0.0 {
                // Until `need` below the threshold, and never now: time
                // must pass for the queue to drain.
                let excess = (backlog + need).saturating_sub(threshold);
                let drain = SimDuration::from_secs_f64(excess as f64 / rate)
                    .max(SimDuration::from_nanos(1_000));
                ready = Some(ready.map_or(now + drain, |r| r.max(now + drain)));
            }
        }
        (budget, ready)
    }

    /// Whether the current routes were used: this satellite's table was built.
    pub(crate) fn routed(&self) -> bool {
        self.routes.as_ref().is_some_and(|r| r.has_table(self.me))
    }

    fn drop(&mut self, why: RouterDrop) -> Decision {
        *self.drops.entry(why).or_default() += 1;
        Decision::Drop(why)
    }

    /// Routes `packet` at virtual time `now`. `from_link` is true for
    /// packets that arrived from a neighbour (their TTL is decremented).
    pub fn route(&mut self, now: SimTime, mut packet: Framed, from_link: bool) -> Decision {
        if !from_link {
            self.offered += 1;
        }
        let Some((dst, ttl)) = parse_ipv4(packet.packet()) else {
            return self.drop(RouterDrop::Malformed);
        };
        if addr::satellite(dst) == Some(self.me) {
            self.delivered_local += 1;
            return Decision::Local(packet);
        }
        if from_link {
            if ttl <= 1 {
                return self.drop(RouterDrop::TtlExpired);
            }
            decrement_ttl(packet.packet_mut());
        }
        let Some(dest) = addr::satellite(dst) else {
            return self.drop(RouterDrop::NoRoute);
        };
        let me = self.me;
        let Some(route) = self.routes.as_ref().and_then(|r| r.route(me, dest)) else {
            return self.drop(RouterDrop::NoRoute);
        };
        let token = self.token;
        let Some(port) = self.ports.get_mut(&route.link) else {
            return self.drop(RouterDrop::NoRoute);
        };
        let Some(status) = port.status else {
            return self.drop(RouterDrop::LinkDown);
        };
        match status.state {
            LinkState::Up => {}
            LinkState::Acquiring => return self.drop(RouterDrop::Acquiring),
            LinkState::Down => return self.drop(RouterDrop::LinkDown),
        }
        let conditions = Conditions {
            rate: status.rate,
            delay: status.delay,
            // A loss burst raises the snapshot's loss above the model's;
            // otherwise the loss follows the packet's own size.
            loss: if status.loss > port.mtu_loss {
                status.loss
            } else {
                port.loss_of(packet.packet().len() as u64)
            },
        };
        match port
            .shaper
            .enqueue(now, Bytes(packet.packet().len() as u64), conditions)
        {
            Verdict::Deliver(at) => {
                port.seq += 1;
                let header = Header {
                    token,
                    link: port.link,
                    seq: port.seq,
                    sent: now,
                    deliver: at,
                };
                let (link, peer) = (port.link, port.peer);
                if from_link {
                    self.forwarded += 1;
                } else {
                    self.sent += 1;
                }
                Decision::Send {
                    link,
                    peer,
                    frame: packet.into_frame(&header),
                }
            }
            Verdict::Drop(reason) => self.drop(RouterDrop::Shaper(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
        let mut p = vec![0u8; 28];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&28u16.to_be_bytes());
        p[8] = ttl;
        p[9] = 1;
        p[12..16].copy_from_slice(&[198, 18, 0, 1]);
        p[16..20].copy_from_slice(&dst.octets());
        let sum = checksum(&p[..20]);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p
    }

    fn checksum(h: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for (i, pair) in h.chunks(2).enumerate() {
            if i == 5 {
                continue;
            }
            s += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn ttl_decrement_keeps_the_checksum_valid() {
        let mut p = ipv4(Ipv4Addr::new(198, 18, 0, 9), 64);
        decrement_ttl(&mut p);
        assert_eq!(p[8], 63);
        assert_eq!(u16::from_be_bytes([p[10], p[11]]), checksum(&p[..20]));
    }

    /// A lossless 10 Gb/s link.
    fn model() -> orbnet_netem::link::LinkModel {
        orbnet_netem::link::LinkModel {
            terminal_rate: orbnet_netem::BitsPerSecond::from_gbps(10.0),
            rate_model: orbnet_netem::link::RateModel::Fixed,
            mtu: Bytes(9000),
            ber: 0.0,
            loss: 0.0,
            burst: None,
            grazing: orbnet_netem::Meters(80e3),
            max_range: orbnet_netem::Meters(f64::INFINITY),
            acquisition: orbnet_netem::SimDuration::ZERO,
            terminals: 4,
            queue: Bytes(1 << 20),
        }
    }

    #[test]
    fn local_packets_go_up_and_malformed_are_counted() {
        let model = model();
        let mut r = Router::new(SatId(0), 1, 1, std::iter::empty());
        let _ = &model;
        let p = ipv4(addr::address(SatId(0)), 64);
        let framed = Framed::from_packet(&p);
        assert_eq!(
            r.route(SimTime::ZERO, framed.clone(), true),
            Decision::Local(framed)
        );
        assert_eq!(
            r.route(SimTime::ZERO, Framed::from_packet(&[0x45, 0, 0]), true),
            Decision::Drop(RouterDrop::Malformed)
        );
        let far = Framed::from_packet(&ipv4(addr::address(SatId(5)), 1));
        assert_eq!(
            r.route(SimTime::ZERO, far, true),
            Decision::Drop(RouterDrop::TtlExpired)
        );
        assert_eq!(r.drops.get(&RouterDrop::Malformed), Some(&1));
    }

    /// Marks `link`'s port up at `rate` with no loss.
    fn up(r: &mut Router, link: LinkId, rate: orbnet_netem::BitsPerSecond) {
        let port = r.ports.get_mut(&link).expect("the port exists");
        port.status = Some(LinkStatus {
            id: link,
            a: r.me,
            b: port.peer,
            state: LinkState::Up,
            reason: None,
            distance: orbnet_netem::Meters(1000e3),
            delay: SimDuration::from_millis(3),
            rate,
            loss: 0.0,
        });
        r.index_up();
    }

    /// Puts `frames` frames of 9000 bytes on `link`'s queue at `now`.
    fn fill(r: &mut Router, link: LinkId, now: SimTime, frames: usize) {
        let port = r.ports.get_mut(&link).expect("the port exists");
        let status = port.status.expect("the port is up");
        let conditions = Conditions {
            rate: status.rate,
            delay: status.delay,
            loss: 0.0,
        };
        for _ in 0..frames {
            let v = port.shaper.enqueue(now, Bytes(9000), conditions);
            assert!(matches!(v, Verdict::Deliver(_)), "{v:?}");
        }
    }

    #[test]
    fn egress_budget_keeps_room_for_a_pass_and_waits_for_the_queue_to_drain() {
        let gbps = orbnet_netem::BitsPerSecond::from_gbps;
        let model = model(); // 1 MiB queues
        let links = [(LinkId(1), SatId(1), &model), (LinkId(2), SatId(2), &model)];
        let mut r = Router::new(SatId(0), 1, 1, links.into_iter());
        let t0 = SimTime::from_millis(1);
        let burst = 90_000; // ten 9000-byte segments
        // No port up: nothing to budget and nothing to wait for.
        assert_eq!(r.egress_budget(t0, burst), (None, None));
        // 10 Gb/s: the threshold is half the queue (524,288 B), as 20 ms
        // at the rate (25 MB) is more.
        up(&mut r, LinkId(1), gbps(10.0));
        assert_eq!(r.egress_budget(t0, burst), (Some(524_288), None));
        // 50 frames (450,000 B) leave 74,288 B below it: less than a pass,
        // so none, and not before the queue has drained 15,712 B
        // (12.57 µs at 1.25 GB/s).
        fill(&mut r, LinkId(1), t0, 50);
        let (budget, ready) = r.egress_budget(t0, burst);
        assert_eq!(budget, Some(0));
        let ready = ready.expect("a time when there is room");
        assert_eq!(ready - t0, SimDuration::from_nanos(12_570));
        // One frame's departure (7.2 µs) is not room: the stack waits for
        // a pass's worth rather than filling the queue a frame at a time.
        let frame = gbps(10.0).serialization(Bytes(9000)).expect("a rate");
        assert_eq!(r.egress_budget(t0 + frame, burst).0, Some(0));
        // Once the queue is a pass below the threshold there is room
        // again, within a frame of `ready` (the queue drains by frames).
        let (budget, ready_again) = r.egress_budget(ready + frame, burst);
        assert_eq!(budget, Some(524_288 - 9000 * 48));
        assert!(budget.is_some_and(|b| b >= burst));
        assert_eq!(ready_again, None);
        // A pass larger than half the threshold needs half of it
        // (262,144 B): 169,856 B more to drain, 135.885 µs.
        let big = r.egress_budget(ready + frame, 1 << 30);
        assert_eq!(big.0, Some(0));
        assert_eq!(
            big.1.map(|t| t - (ready + frame)),
            Some(SimDuration::from_nanos(135_885))
        );

        // A second port at 100 Mb/s: its threshold is 20 ms at its rate
        // (250,000 B); the budget is the least of the ports', and room
        // comes when every full port has drained.
        up(&mut r, LinkId(2), orbnet_netem::BitsPerSecond(100_000_000));
        let t1 = SimTime::from_millis(10);
        assert_eq!(r.egress_budget(t1, burst), (Some(250_000), None));
        fill(&mut r, LinkId(1), t1, 50);
        fill(&mut r, LinkId(2), t1, 20); // 180,000 B: 70,000 left < 90,000
        let (budget, ready) = r.egress_budget(t1, burst);
        assert_eq!(budget, Some(0));
        // Port 2 must drain 20,000 B at 12.5 MB/s: 1.6 ms, the later.
        assert_eq!(ready.map(|t| t - t1), Some(SimDuration::from_micros(1600)));
        // A port that goes down no longer holds the stack back.
        r.ports.get_mut(&LinkId(2)).expect("port 2").status = None;
        r.index_up();
        assert_eq!(r.egress_budget(t1, burst).0, Some(0));
        let (_, ready) = r.egress_budget(t1, burst);
        assert_eq!(ready.map(|t| t - t1), Some(SimDuration::from_nanos(12_570)));
    }

    #[test]
    fn frames_missing_from_a_links_sequence_are_counted_one_by_one() {
        let model = model();
        let links = [(LinkId(3), SatId(1), &model), (LinkId(4), SatId(2), &model)];
        let mut r = Router::new(SatId(0), 1, 1, links.into_iter());
        r.number_from(0);
        // Link 3: 1–10 sent, 4, 5 and 9 lost, 7 late; link 4: nothing.
        for seq in [1, 2, 3, 6, 8, 7, 10] {
            assert_eq!(r.accept(LinkId(3), seq), Some(Ok(())));
        }
        assert!(r.accept(LinkId(3), 8).is_some_and(|a| a.is_err()));
        assert_eq!(r.seq_gaps(), 3);
        // The peer sends 11, restarts and numbers from its base: the second
        // frame of its new life is lost.
        let base = crate::replay::restart_base(SimTime::from_millis(5));
        for seq in [11, base + 1, base + 3] {
            assert_eq!(r.accept(LinkId(3), seq), Some(Ok(())));
        }
        assert_eq!(r.seq_gaps(), 3 + 1);
        // A satellite that restarted itself joins the sequences part way.
        let mut late = Router::new(SatId(0), 1, 1, links.into_iter());
        late.number_from(base);
        for seq in [500, 502] {
            assert_eq!(late.accept(LinkId(4), seq), Some(Ok(())));
        }
        assert_eq!(late.seq_gaps(), 1);
        // A peer heard first in a later life counts from that life's start.
        assert_eq!(late.accept(LinkId(3), base + 7), Some(Ok(())));
        assert_eq!(late.accept(LinkId(3), base + 9), Some(Ok(())));
        assert_eq!(late.seq_gaps(), 2);
    }
}
