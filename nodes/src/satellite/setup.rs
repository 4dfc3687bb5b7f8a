//! A satellite's apps from its scenario, and the tasks its driver starts
//! beside it (quinn endpoints, collective ranks, gateway listeners).
//!
//! Sockets are made in a fixed order (pings; then collectives, training and
//! bulk transfers in workload order; then gateways), because smoltcp serves
//! its sockets in the order they were added, and a run must repeat exactly.

use std::net::SocketAddr;
use std::sync::Arc;

use orbnet_netem::scenario::{Gateway, GatewayProtocol};
use orbnet_netem::workload::Transport;
use orbnet_netem::{SatId, Scenario, SimDuration, SimTime, Workload, rng};

use super::Satellite;
use crate::app::{App, Outbox};
use crate::bulk::{Receiver, Sender};
use crate::gateway::Egress;
use crate::ping::Pinger;
use crate::quic::{AppSocket, QuicWatch};
use crate::router::Router;
use crate::stack::{SocketError, Stack};
use crate::stream::TcpStream;
use crate::tcp::TcpPort;

/// What making a satellite needs.
#[derive(Debug)]
pub struct Setup {
    pub scenario: Arc<Scenario>,
    pub me: SatId,
    /// The run token every frame must carry.
    pub token: u64,
    /// A restart after a crash: the satellite rejoins as a router, without
    /// the workloads it lost with its state.
    pub restarted: bool,
    /// The routes every satellite of an in-process run shares; a process
    /// computes its own.
    pub shared: Option<Arc<super::SharedRoutes>>,
}

/// Streams of one TCP collective workload: to send on, to read from.
pub(crate) type TcpStreams = (Vec<(usize, TcpStream)>, Vec<(usize, TcpStream)>);

/// One QUIC port's work, started with the run.
#[derive(Debug)]
pub(crate) enum QuicTask {
    /// Send bulk workload `workload`.
    BulkSend { workload: usize },
    /// Receive it; the satellite's watch gets the byte count and outcome.
    BulkReceive {
        workload: usize,
        received: Arc<std::sync::atomic::AtomicU64>,
        outcome: tokio::sync::oneshot::Sender<crate::bulk::Outcome>,
    },
    /// A rank of collective or training workload `workload`.
    Collective { workload: usize },
    /// This node's roles in offload workload `workload`.
    Offload { workload: usize },
}

/// What the driver starts beside the satellite, in this order, once the
/// run's clock is known.
#[derive(Debug, Default)]
pub struct Tasks {
    /// TCP collective and training ranks, by workload.
    pub tcp_collectives: Vec<(usize, TcpStreams)>,
    /// UDP ingress gateways: the kernel address to listen on, the emulated
    /// address to carry datagrams to.
    pub udp_ingress: Vec<(SocketAddr, SocketAddr)>,
    /// UDP egress gateways: the stack socket, the kernel address to forward to.
    pub udp_egress: Vec<(AppSocket, SocketAddr)>,
    /// TCP ingress gateways: the kernel address to listen on, the far end.
    pub tcp_ingress: Vec<(SocketAddr, SatId, u16)>,
    /// QUIC endpoints: each port's queues, its UDP port, and its work.
    pub(crate) quic: Vec<(crate::quic::Link, u16, QuicTask)>,
    /// Offload workloads over TCP this node takes part in.
    pub(crate) tcp_offloads: Vec<usize>,
}

impl Satellite {
    /// Satellite `setup.me` with the apps its scenario gives it, and the
    /// tasks to start beside it.
    pub fn new(setup: Setup) -> Result<(Satellite, Tasks), SocketError> {
        let Setup {
            scenario,
            me,
            token,
            restarted,
            shared,
        } = setup;
        let world = &scenario.world;
        let model = world.link_model().clone();
        let links = world.links_of(me).map(|(l, p)| (l, p, world.model_of(l)));
        let router = Router::new(me, token, scenario.seed, links);
        let stack_seed = rng::stream_seed(scenario.seed, rng::Domain::Satellite, u64::from(me.0));
        let mut stack = Stack::new(me, model.mtu.0 as usize, stack_seed);
        let notify = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Tasks::default();
        // A restarted satellite lost its workloads with its state.
        let apps = if restarted {
            Vec::new()
        } else {
            Apps::new(&scenario, me, &mut stack, &notify, &mut tasks)?.into_vec()
        };
        let routing = match shared {
            Some(shared) => super::routing::Routing::Shared {
                shared,
                links: world.links_of(me).map(|(l, _)| l).collect(),
            },
            None => super::routing::Routing::Own(Box::new(super::routing::Own::new(
                world.timeline(scenario.routing_interval),
                world.links_of(me).map(|(l, _)| l).collect(),
            ))),
        };
        let mut sat = Satellite {
            wakes_for_routes: routing.wakes_every_instant(),
            egress_ready: None,
            prefetch_at: None,
            prefetched: None,
            routing,
            me,
            name: world.name(me).to_owned(),
            end: SimTime::ZERO + scenario.duration,
            stats_every: SimDuration::from_secs_f64(
                (scenario.duration.as_secs_f64() / 50.0).max(1e-3),
            ),
            router,
            stack,
            apps,
            due: Default::default(),
            arrivals: 0,
            next_routing: SimTime::ZERO,
            next_stats: SimTime::ZERO,
            last: SimTime::ZERO,
            counters: Default::default(),
            late_max: SimDuration::ZERO,
            late_max_at: SimTime::ZERO,
            captures: Vec::new(),
            next_local_port: *orbnet_netem::ports::LOCAL.start(),
            notify,
            transmits: Default::default(),
            out: Outbox::default(),
            finished: false,
            scenario,
        };
        sat.gateways(&mut tasks)?;
        Ok((sat, tasks))
    }

    /// Starts the satellite's clocks at `at`: zero for a run's start; a
    /// restarted satellite picks the routing grid up where it is now, and
    /// numbers its frames above anything its earlier life sent.
    pub fn begin(&mut self, at: SimTime) {
        self.router.number_from(crate::replay::restart_base(at));
        let at = orbnet_netem::scenario::routing_instant(at, self.scenario.routing_interval);
        (self.next_routing, self.next_stats, self.last) = (at, at, at);
    }

    /// Records every packet this satellite sends or receives on the links
    /// `capture` takes.
    pub fn add_capture(&mut self, capture: crate::pcap::Capture) {
        self.captures.push(capture);
    }

    /// The links to `peer` (to restrict a capture to them).
    pub fn links_to(&self, peer: SatId) -> std::collections::BTreeSet<orbnet_netem::LinkId> {
        self.router
            .ports()
            .filter(|p| p.peer == peer)
            .map(|p| p.link)
            .collect()
    }

    /// Gateways: emulated listeners on the stack; kernel ones for the driver.
    fn gateways(&mut self, tasks: &mut Tasks) -> Result<(), SocketError> {
        let me = self.me;
        let scenario = self.scenario.clone();
        for g in &scenario.gateways {
            match *g {
                Gateway::Ingress {
                    satellite,
                    listen,
                    to,
                    port,
                    protocol,
                } if satellite == me => {
                    let to_addr = crate::addr::socket(to, port);
                    match protocol {
                        GatewayProtocol::Udp => tasks.udp_ingress.push((listen, to_addr)),
                        GatewayProtocol::Tcp => tasks.tcp_ingress.push((listen, to, port)),
                    }
                }
                Gateway::Egress {
                    satellite,
                    port,
                    forward,
                    protocol: GatewayProtocol::Udp,
                } if satellite == me => {
                    let p = crate::quic::Port::on(port, &mut self.stack, self.notify.clone())?;
                    tasks
                        .udp_egress
                        .push((p.app_socket(crate::addr::address(me)), forward));
                    self.apps.push(Box::new(p));
                }
                Gateway::Egress {
                    satellite,
                    port,
                    forward,
                    protocol: GatewayProtocol::Tcp,
                } if satellite == me => {
                    let e = Egress::new(&mut self.stack, port, forward, self.notify.clone())?;
                    self.apps.push(Box::new(e));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A satellite's workload apps, by kind, in the order they are polled.
#[derive(Default)]
struct Apps {
    pingers: Vec<Pinger>,
    quic: Vec<crate::quic::Port>,
    tcp: Vec<TcpPort>,
    receivers: Vec<Receiver>,
    watches: Vec<QuicWatch>,
    senders: Vec<Sender>,
}

impl Apps {
    fn new(
        scenario: &Scenario,
        me: SatId,
        stack: &mut Stack,
        notify: &Arc<tokio::sync::Notify>,
        tasks: &mut Tasks,
    ) -> Result<Apps, SocketError> {
        let world = &scenario.world;
        let names = |a: SatId, b: SatId| (world.name(a).to_owned(), world.name(b).to_owned());
        let mut apps = Apps::default();
        for (i, w) in scenario.workloads.iter().enumerate() {
            if let Workload::Ping(p) = w
                && p.from == me
            {
                let ident = 0x4f00 + i as u16;
                apps.pingers
                    .push(Pinger::new(*p, names(p.from, p.to), ident, stack));
            }
        }
        for (i, w) in scenario.workloads.iter().enumerate() {
            let (ranks, transport) = match w {
                Workload::Collective(c) => (&c.ranks, c.transport),
                Workload::Train(t) => (&t.ranks, t.transport),
                Workload::Graph(g) => (&g.ranks, g.transport),
                _ => continue,
            };
            if !ranks.contains(&me) {
                continue;
            }
            if transport == Transport::Quic {
                let port = crate::quic::Port::new(i, stack, notify.clone())?;
                let task = QuicTask::Collective { workload: i };
                tasks.quic.push((port.link.clone(), port.port, task));
                apps.quic.push(port);
            } else {
                let (ports, streams) = tcp_collective(scenario, i, w, me, stack, notify)?;
                apps.tcp.extend(ports);
                tasks.tcp_collectives.push((i, streams));
            }
        }
        for (i, w) in scenario.workloads.iter().enumerate() {
            let Workload::Bulk(b) = w else { continue };
            if b.from != me && b.to != me {
                continue;
            }
            if b.transport == Transport::Quic {
                let port = crate::quic::Port::new(i, stack, notify.clone())?;
                let task = if b.from == me {
                    QuicTask::BulkSend { workload: i }
                } else {
                    let (watch, received, outcome) = QuicWatch::new(i, *b, names(b.from, b.to));
                    apps.watches.push(watch);
                    QuicTask::BulkReceive {
                        workload: i,
                        received,
                        outcome,
                    }
                };
                tasks.quic.push((port.link.clone(), port.port, task));
                apps.quic.push(port);
                continue;
            }
            let buffer = tcp_buffer(world, b);
            if b.from == me {
                let plan = &scenario.ports;
                apps.senders
                    .push(Sender::new(i, *b, plan, scenario.seed, buffer, stack));
            } else {
                let n = names(b.from, b.to);
                let plan = &scenario.ports;
                apps.receivers
                    .push(Receiver::new(i, *b, n, plan, scenario.seed, buffer, stack));
            }
        }
        apps.offloads(scenario, me, stack, notify, tasks)?;
        Ok(apps)
    }

    /// Offload workloads: a QUIC port for each this node takes part in
    /// over QUIC (its TCP sockets are opened as its sessions come).
    fn offloads(
        &mut self,
        scenario: &Scenario,
        me: SatId,
        stack: &mut Stack,
        notify: &Arc<tokio::sync::Notify>,
        tasks: &mut Tasks,
    ) -> Result<(), SocketError> {
        for (i, w) in scenario.workloads.iter().enumerate() {
            let Workload::Offload(o) = w else { continue };
            if o.from != me && o.down != me && !o.to.contains(&me) {
                continue;
            }
            if o.transport == Transport::Tcp {
                tasks.tcp_offloads.push(i);
                continue;
            }
            let port = crate::quic::Port::new(i, stack, notify.clone())?;
            let task = QuicTask::Offload { workload: i };
            tasks.quic.push((port.link.clone(), port.port, task));
            self.quic.push(port);
        }
        Ok(())
    }

    fn into_vec(self) -> Vec<Box<dyn App>> {
        fn boxed<A: App + 'static>(v: Vec<A>) -> impl Iterator<Item = Box<dyn App>> {
            v.into_iter().map(|a| Box::new(a) as Box<dyn App>)
        }
        boxed(self.pingers)
            .chain(boxed(self.quic))
            .chain(boxed(self.tcp))
            .chain(boxed(self.receivers))
            .chain(boxed(self.watches))
            .chain(boxed(self.senders))
            .collect()
    }
}

/// Opens this rank's TCP sockets for a collective or training workload:
/// a listener for every rank that sends to it and a connection to every
/// rank it sends to.
fn tcp_collective(
    scenario: &Scenario,
    w: usize,
    workload: &Workload,
    me: SatId,
    stack: &mut Stack,
    notify: &Arc<tokio::sync::Notify>,
) -> Result<(Vec<TcpPort>, TcpStreams), SocketError> {
    use orbnet_netem::workload::Op;
    let (ranks, op, algorithm, start) = match workload {
        Workload::Collective(c) => (&c.ranks, c.op, c.algorithm, c.start),
        Workload::Train(t) => (&t.ranks, Op::AllReduce, t.algorithm, t.start),
        Workload::Graph(g) => (&g.ranks, Op::SendRecv, g.algorithm, g.start),
        _ => return Ok((Vec::new(), (Vec::new(), Vec::new()))),
    };
    let Some(rank) = ranks.iter().position(|&r| r == me) else {
        return Ok((Vec::new(), (Vec::new(), Vec::new())));
    };
    let (to, from) = match workload {
        Workload::Graph(g) => crate::graph_exec::peers(g, rank),
        _ => crate::collective::peers(op, algorithm, ranks.len(), rank),
    };
    let world = &scenario.world;
    // Per connection: the path's bandwidth-delay product and a quarter
    // more, within [256 KiB, 16 MiB] (a rank may hold many connections).
    let buffer = |peer: usize| {
        world
            .path(start, me, ranks[peer])
            .map_or(0.0, |p| p.bdp_bytes() * 1.25)
            .clamp(f64::from(256u32 << 10), f64::from(16u32 << 20)) as usize
    };
    let mut ports = Vec::new();
    let mut streams: TcpStreams = (Vec::new(), Vec::new());
    for s in from {
        let (listen, _) = scenario.ports.collective(w, s, rank);
        let (port, stream) = TcpPort::listen(stack, listen, buffer(s), notify.clone())?;
        ports.push(port);
        streams.1.push((s, stream));
    }
    for d in to {
        let (listen, local) = scenario.ports.collective(w, rank, d);
        let ip = crate::addr::address(ranks[d]);
        let (port, stream) = TcpPort::connect(stack, ip, listen, local, buffer(d), notify.clone())?;
        ports.push(port);
        streams.0.push((d, stream));
    }
    Ok((ports, streams))
}

/// TCP buffer per connection: the path's bandwidth-delay product at the
/// transfer's start (with a quarter more for slack), within [1 MiB, 64 MiB].
///
/// The floor covers the host, not the path: each segment's round trip also
/// waits for a pass of both satellites' loops, which the geometric BDP of a
/// short link does not hold (BENCHMARKS.md, the data-plane rows).
fn tcp_buffer(world: &orbnet_netem::World, b: &orbnet_netem::workload::Bulk) -> usize {
    path_window(world.path(b.start, b.from, b.to), b.streams)
}

/// The buffer [`tcp_buffer`] gives each of `streams` connections on `path`.
/// It also caps what one connection has in flight: a window much over the
/// BDP only fills the links' queues until they drop, and smoltcp, without
/// selective acknowledgements, recovers from a burst of drops slowly.
pub(super) fn path_window(path: Option<orbnet_netem::routing::Path>, streams: u32) -> usize {
    let bdp = path.map_or(0.0, |p| p.bdp_bytes() * 1.25 / f64::from(streams));
    (bdp as usize).clamp(1 << 20, 64 << 20)
}
