//! One satellite's runtime: a current-thread tokio loop that owns the UDP
//! wire socket, the router and its ports, the smoltcp stack and the
//! workloads, and talks to the launcher through stdin/stdout.
//!
//! Events (frames due for delivery, routing updates, workload timers, stack
//! timers) are processed in virtual-time order, each at its own timestamp:
//! a timer that fires late on the host does not make the emulated packet
//! late, so errors do not pile up hop after hop. The wall clock only paces
//! the run. When the host falls behind by more than an emulated delay, the
//! lateness is measured and reported (`late_max_us`): raise the TDF.
//!
//! Protocol with the launcher (JSON lines):
//! 1. node → `{"event":"bound","port":P}` once its UDP socket is open;
//! 2. launcher → `{"ports":[P0, P1, …]}`: every satellite's wire port;
//! 3. node → `{"event":"ready"}`; launcher → `{"start_unix_ns":T}`;
//! 4. node → `link`, `echo`, `stats` and workload events; the launcher may
//!    send `{"stop":true}` once every workload is over;
//! 5. node → `done`, and exits.
//!
//! End of stdin means the launcher is gone: the node exits at once.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use orbnet_netem::scenario::Transport;
use orbnet_netem::{LinkId, SatId, Scenario, SimDuration, SimTime, Workload};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UdpSocket;

use crate::ping::{Echo, Pinger};
use crate::router::{Decision, Router};
use crate::stack::Stack;
use crate::wire::{Frame, FrameError};

/// Why a satellite stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("wire socket: {0}")]
    Socket(#[from] std::io::Error),
    #[error("launcher protocol: {0}")]
    Protocol(String),
    #[error("the launcher went away")]
    Orphaned,
}

/// What a satellite needs to run.
#[derive(Debug)]
pub struct NodeConfig {
    pub scenario: Scenario,
    pub me: SatId,
    pub token: u64,
    /// Capture files to write: every link of this satellite (`None`) or
    /// only those to one peer.
    pub captures: Vec<(std::path::PathBuf, Option<SatId>)>,
    /// The wire port to bind (a restart takes its old port back); any if `None`.
    pub port: Option<u16>,
    /// A restart after a crash (process harness).
    pub restarted: bool,
}

#[derive(Deserialize)]
struct PortsMsg {
    ports: Vec<u16>,
    /// The run's certificate and key (hex DER), when a workload uses QUIC.
    #[serde(default)]
    tls_cert: Option<String>,
    #[serde(default)]
    tls_key: Option<String>,
}

#[derive(Deserialize)]
struct StopMsg {
    stop: bool,
}

#[derive(Deserialize)]
struct StartMsg {
    start_unix_ns: u64,
}

/// Where a satellite's events go: JSON lines on stdout to the launcher
/// (process harness), or a channel to the in-process harness, tagged with
/// the satellite's index.
#[derive(Clone, Debug, Default)]
pub struct Reporter {
    to: Option<(
        usize,
        tokio::sync::mpsc::UnboundedSender<(usize, serde_json::Value)>,
    )>,
    /// Cleared when an in-process satellite crashes: the tasks it spawned
    /// may linger until the run ends, but a dead satellite says nothing.
    alive: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl Reporter {
    /// Events as JSON lines on stdout.
    pub fn stdout() -> Reporter {
        Reporter::default()
    }

    /// Events of satellite `sat` into a channel.
    pub fn channel(
        sat: usize,
        tx: tokio::sync::mpsc::UnboundedSender<(usize, serde_json::Value)>,
    ) -> Reporter {
        Reporter {
            to: Some((sat, tx)),
            alive: Some(Arc::new(std::sync::atomic::AtomicBool::new(true))),
        }
    }

    /// Silences this reporter and every clone of it.
    pub fn silence(&self) {
        if let Some(a) = &self.alive {
            a.store(false, Ordering::Relaxed);
        }
    }

    /// Reports one event.
    pub fn emit(&self, v: serde_json::Value) {
        match &self.to {
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{v}");
                let _ = out.flush();
            }
            Some((sat, tx)) => {
                if self
                    .alive
                    .as_ref()
                    .is_none_or(|a| a.load(Ordering::Relaxed))
                {
                    let _ = tx.send((*sat, v));
                }
            }
        }
    }
}

/// How a satellite meets the rest of its run.
#[derive(Debug)]
pub enum Harness {
    /// An OS process: the UDP wire on loopback, the launcher on stdin and stdout.
    Process,
    /// A task of the in-process harness.
    InProcess(InProcess),
}

/// What the in-process harness hands each satellite.
#[derive(Debug)]
pub struct InProcess {
    pub wire: crate::wire::MemWire,
    /// The run's certificate, when a workload speaks QUIC.
    pub tls: Option<crate::quic::Tls>,
    /// Virtual zero, on the runtime's (paused) clock.
    pub start: tokio::time::Instant,
    /// Becomes true once every workload is over.
    pub stop: tokio::sync::watch::Receiver<bool>,
    pub report: Reporter,
    /// Requests from a test (see the testbed).
    pub commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
    /// A restart after a crash: the satellite rejoins as a router, without
    /// the workloads it lost.
    pub restarted: bool,
}

/// A request from a test to a running satellite.
#[derive(Debug)]
pub enum Command {
    /// Open a UDP socket on the satellite's stack.
    Udp {
        port: u16,
        reply: tokio::sync::oneshot::Sender<Result<crate::quic::AppSocket, String>>,
    },
    /// Connect a TCP stream to `to`:`port`.
    TcpConnect {
        to: SatId,
        port: u16,
        reply: tokio::sync::oneshot::Sender<Result<crate::tcp::TcpStream, String>>,
    },
    /// Listen on `port`; the stream opens when a peer connects.
    TcpListen {
        port: u16,
        reply: tokio::sync::oneshot::Sender<Result<crate::tcp::TcpStream, String>>,
    },
    /// The satellite's counters, as in its `done` report.
    Counters {
        reply: tokio::sync::oneshot::Sender<serde_json::Value>,
    },
    /// A fault from now on (applied at the next routing update).
    Fault(orbnet_netem::fault::Fault),
    /// Satellite `sat` restarted at `at`: its injected crash ends.
    Heal { sat: SatId, at: SimTime },
}

/// The launcher's side of the conversation.
enum Control {
    Stdio(tokio::io::Lines<BufReader<tokio::io::Stdin>>),
    Mem(tokio::sync::watch::Receiver<bool>),
}

impl Control {
    /// The launcher's next line (process harness).
    async fn line(&mut self) -> Result<String, NodeError> {
        match self {
            Control::Stdio(lines) => match lines.next_line().await {
                Ok(Some(s)) => Ok(s),
                _ => Err(NodeError::Orphaned),
            },
            Control::Mem(_) => Err(NodeError::Protocol("no launcher lines in process".into())),
        }
    }

    /// Waits for word from the launcher: whether it says to stop.
    async fn next(&mut self) -> Result<bool, NodeError> {
        match self {
            Control::Stdio(_) => {
                let l = self.line().await?;
                Ok(serde_json::from_str::<StopMsg>(&l).is_ok_and(|m| m.stop))
            }
            Control::Mem(rx) => {
                rx.changed().await.map_err(|_| NodeError::Orphaned)?;
                Ok(*rx.borrow())
            }
        }
    }
}

/// Counters of the wire.
#[derive(Debug, Default)]
struct WireStats {
    frames_in: u64,
    bytes_in: u64,
    frames_out: u64,
    send_errors: u64,
    rejected: BTreeMap<&'static str, u64>,
    /// Packet captures on some of this satellite's links.
    captures: Vec<crate::pcap::Capture>,
}

impl WireStats {
    /// Sends the frames queued on `sock`, counting them.
    fn flush(&mut self, sock: &mut crate::wire::WireIo) {
        let (sent, lost) = sock.flush();
        self.frames_out += sent;
        self.send_errors += lost;
    }
}

/// A frame waiting for its delivery time.
type Due = Reverse<(SimTime, u64, LinkId, Vec<u8>)>;

fn wire_socket(port: Option<u16>) -> std::io::Result<UdpSocket> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    // Bursts of jumbo frames overflow the default 208 KiB buffers.
    let _ = s.set_recv_buffer_size(16 << 20);
    let _ = s.set_send_buffer_size(16 << 20);
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port.unwrap_or(0))).into())?;
    UdpSocket::from_std(s.into())
}

/// Runs satellite `cfg.me` to the end of the scenario, as an OS process.
pub async fn run(cfg: NodeConfig) -> Result<(), NodeError> {
    run_in(cfg, Harness::Process).await
}

/// Runs satellite `cfg.me` to the end of the scenario in `harness`.
pub async fn run_in(cfg: NodeConfig, harness: Harness) -> Result<(), NodeError> {
    let scenario = &cfg.scenario;
    let world = &scenario.world;
    let me = cfg.me;
    let name = world.name(me).to_owned();
    let n = world.satellites() as usize;
    // Requests from this satellite's own tasks (UDP gateways) to its loop.
    let mut internal = None;
    let (mut sock, mut control, report, peers, tls, mut commands, start_at, restarted) =
        match harness {
            Harness::Process => {
                let report = Reporter::stdout();
                let sock = wire_socket(cfg.port)?;
                let port = sock.local_addr()?.port();
                report.emit(json!({"event": "bound", "sat": name, "port": port}));
                let mut control = Control::Stdio(BufReader::new(tokio::io::stdin()).lines());
                let ports: PortsMsg = serde_json::from_str(&control.line().await?)
                    .map_err(|e| NodeError::Protocol(format!("ports message: {e}")))?;
                if ports.ports.len() != n {
                    return Err(NodeError::Protocol(format!(
                        "{} ports for {n} satellites",
                        ports.ports.len()
                    )));
                }
                let peers: Vec<SocketAddr> = ports
                    .ports
                    .iter()
                    .map(|&p| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, p)))
                    .collect();
                let hex = |h: &Option<String>| h.as_deref().and_then(crate::quic::from_hex);
                let tls = match (hex(&ports.tls_cert), hex(&ports.tls_key)) {
                    (Some(cert), Some(key)) => Some(crate::quic::Tls { cert, key }),
                    _ => None,
                };
                // No test talks to a satellite process; its UDP gateways do.
                let (tx, commands) = tokio::sync::mpsc::unbounded_channel();
                internal = Some(tx);
                let w = crate::wire::WireIo::Udp(crate::wire::UdpWire::new(sock)?);
                (
                    w,
                    control,
                    report,
                    peers,
                    tls,
                    commands,
                    None,
                    cfg.restarted,
                )
            }
            Harness::InProcess(h) => (
                crate::wire::WireIo::Mem(h.wire),
                Control::Mem(h.stop),
                h.report,
                (0..n).map(crate::wire::mem_addr).collect(),
                h.tls,
                h.commands,
                Some(h.start),
                h.restarted,
            ),
        };
    let peer_addr = |s: SatId| peers[s.index()];
    // A restarted satellite lost its workloads with its state.
    let no_workloads = Vec::new();
    let workloads = if restarted {
        &no_workloads
    } else {
        &scenario.workloads
    };

    let model = world.link_model().clone();
    let mut router = Router::new(me, cfg.token, scenario.seed, &model, world.links_of(me));
    let link_peer: BTreeMap<LinkId, SocketAddr> =
        world.links_of(me).map(|(l, p)| (l, peer_addr(p))).collect();
    let stack_seed = orbnet_netem::rng::stream_seed(
        scenario.seed,
        orbnet_netem::rng::Domain::Satellite,
        u64::from(me.0),
    );
    let mut stack = Stack::new(me, model.mtu.0 as usize, stack_seed);
    let mut pingers: Vec<Pinger> = workloads
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Workload::Ping(p) if p.from == me => Some((i, *p)),
            _ => None,
        })
        .map(|(i, p)| Pinger::new(p, 0x4f00 + i as u16, &mut stack))
        .collect();

    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    let quic_notify = Arc::new(tokio::sync::Notify::new());
    let mut quic_ports: Vec<crate::quic::Port> = Vec::new();
    let mut tcp_ports: Vec<crate::tcp::TcpPort> = Vec::new();
    let mut tcp_streams = BTreeMap::new();
    for (i, w) in workloads.iter().enumerate() {
        let (ranks, transport) = match w {
            Workload::Collective(c) => (&c.ranks, c.transport),
            Workload::Train(t) => (&t.ranks, t.transport),
            _ => continue,
        };
        if !ranks.contains(&me) {
            continue;
        }
        if transport == Transport::Quic {
            quic_ports.push(
                crate::quic::Port::new(i, &mut stack, quic_notify.clone())
                    .map_err(NodeError::Protocol)?,
            );
        } else {
            let streams = tcp_collective(scenario, i, w, me, &mut stack, &quic_notify)
                .map_err(NodeError::Protocol)?;
            tcp_ports.extend(streams.0);
            tcp_streams.insert(i, streams.1);
        }
    }
    for (i, w) in workloads.iter().enumerate() {
        let Workload::Bulk(b) = w else { continue };
        if b.from != me && b.to != me {
            continue;
        }
        if b.transport == Transport::Quic {
            quic_ports.push(
                crate::quic::Port::new(i, &mut stack, quic_notify.clone())
                    .map_err(NodeError::Protocol)?,
            );
            continue;
        }
        let buffer = tcp_buffer(world, b);
        if b.from == me {
            senders.push(crate::bulk::Sender::new(
                i,
                *b,
                scenario.seed,
                buffer,
                &mut stack,
            ));
        } else {
            receivers.push(crate::bulk::Receiver::new(
                i,
                *b,
                scenario.seed,
                buffer,
                &mut stack,
            ));
        }
    }

    // Gateways: kernel listeners opened now (a taken port fails the run
    // before it starts), emulated listeners on the stack.
    let (gw_tx, mut gw_rx) = tokio::sync::mpsc::unbounded_channel::<GatewayDial>();
    let mut ingress = Vec::new();
    let mut egress = Vec::new();
    let mut udp_ingress = Vec::new();
    let mut udp_egress = Vec::new();
    for g in &scenario.gateways {
        use orbnet_netem::scenario::GatewayProtocol::{Tcp, Udp};
        match *g {
            orbnet_netem::scenario::Gateway::Ingress {
                satellite,
                listen,
                to,
                port,
                protocol: Udp,
            } if satellite == me => {
                let s = tokio::net::UdpSocket::bind(listen)
                    .await
                    .map_err(|e| NodeError::Protocol(format!("gateway listen {listen}: {e}")))?;
                let to = SocketAddr::new(IpAddr::V4(crate::addr::address(to)), port);
                udp_ingress.push((s, to));
            }
            orbnet_netem::scenario::Gateway::Egress {
                satellite,
                port,
                forward,
                protocol: Udp,
            } if satellite == me => {
                let p = crate::quic::Port::on(port, usize::MAX, &mut stack, quic_notify.clone())
                    .map_err(NodeError::Protocol)?;
                udp_egress.push((p.app_socket(crate::addr::address(me)), forward));
                quic_ports.push(p);
            }
            orbnet_netem::scenario::Gateway::Ingress {
                satellite,
                listen,
                to,
                port,
                protocol: Tcp,
            } if satellite == me => {
                let l = tokio::net::TcpListener::bind(listen)
                    .await
                    .map_err(|e| NodeError::Protocol(format!("gateway listen {listen}: {e}")))?;
                ingress.push((l, to, port));
            }
            orbnet_netem::scenario::Gateway::Egress {
                satellite,
                port,
                forward,
                protocol: Tcp,
            } if satellite == me => {
                egress.push(Egress::new(&mut stack, port, forward, &quic_notify)?);
            }
            _ => {}
        }
    }
    let mut next_local_port = 50_000u16;

    let clock = match start_at {
        Some(start) => crate::clock::VirtualClock::new(start, scenario.tdf),
        None => {
            report.emit(json!({"event": "ready", "sat": name}));
            let start: StartMsg = serde_json::from_str(&control.line().await?)
                .map_err(|e| NodeError::Protocol(format!("start message: {e}")))?;
            crate::clock::VirtualClock::from_unix(start.start_unix_ns, scenario.tdf)
        }
    };
    let (outcome_tx, mut outcome_rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, (to, from)) in tcp_streams {
        if let Some(w) = scenario.workloads.get(i) {
            start_tcp_collective(scenario, me, clock, i, w.clone(), (to, from), &report);
        }
    }
    if let Some(cmds) = &internal {
        for (kernel, to) in udp_ingress {
            tokio::spawn(crate::gateway::udp_ingress(kernel, to, cmds.clone()));
        }
    }
    for (socket, forward) in udp_egress {
        tokio::spawn(crate::gateway::udp_egress(socket, forward));
    }
    for (listener, to, port) in ingress {
        let tx = gw_tx.clone();
        tokio::spawn(async move {
            while let Ok((kernel, _)) = listener.accept().await {
                let (reply, rx) = tokio::sync::oneshot::channel();
                if tx.send(GatewayDial { to, port, reply }).is_err() {
                    return;
                }
                tokio::spawn(async move {
                    if let Ok(stream) = rx.await {
                        splice(kernel, stream).await;
                    }
                });
            }
        });
    }
    let mut quic_receivers = start_quic(&QuicStart {
        scenario,
        me,
        clock,
        ports: &quic_ports,
        tls: tls.as_ref(),
        outcomes: &outcome_tx,
        report: &report,
    })?;

    let mut end = SimTime::ZERO + scenario.duration;
    let interval = scenario.routing_interval;
    let stats_every =
        SimDuration::from_secs_f64((scenario.duration.as_secs_f64() / 50.0).max(1e-3));
    let mut timeline = world.timeline(interval);
    // A restarted satellite picks the routing grid up where it is now.
    let resume = if restarted {
        orbnet_netem::scenario::routing_instant(clock.now(), interval)
    } else {
        SimTime::ZERO
    };
    let mut next_routing = resume;
    let mut next_stats = resume;
    let mut heap: BinaryHeap<Due> = BinaryHeap::new();
    let mut arrivals = 0u64;
    let mut last = resume;
    let mut wire = WireStats::default();
    let epoch_ns = i128::from(scenario.epoch.timestamp_nanos_opt().unwrap_or(0));
    for (path, peer) in &cfg.captures {
        let links = peer.map(|p| {
            world
                .links_of(me)
                .filter(|&(_, q)| q == p)
                .map(|(l, _)| l)
                .collect()
        });
        wire.captures.push(
            crate::pcap::Capture::create(path, links, epoch_ns)
                .map_err(|e| NodeError::Protocol(format!("capture {}: {e}", path.display())))?,
        );
    }
    let mut late_max = SimDuration::ZERO;
    let mut buf = vec![0u8; 65_536];

    // The virtual time of the next thing to do, from the loop's current state.
    macro_rules! next_event {
        () => {
            next_event(
                Timers {
                    heap: &heap,
                    pingers: &pingers,
                    senders: &senders,
                    receivers: &receivers,
                    quic: &quic_receivers,
                    fixed: [next_routing, next_stats, end],
                },
                &mut stack,
                last,
            )
        };
    }

    loop {
        // 1. Process every event due by now, in virtual-time order.
        let now = clock.now();
        let mut finished = false;
        for _ in 0..100_000 {
            let t = next_event!();
            if t > now {
                break;
            }
            let vt = t.max(last);
            last = vt;
            if vt >= end {
                finished = true;
                break;
            }
            if next_routing <= vt {
                let snap = timeline.at(next_routing);
                for c in router.update(&snap) {
                    report.emit(
                        json!({"event": "link", "sat": name, "t_s": c.t.as_secs_f64(),
                        "peer": world.name(c.peer), "link": c.link.0, "state": c.state.as_str()}),
                    );
                }
                next_routing += interval;
            }
            if next_stats <= vt {
                report.emit(
                    json!({"event": "stats", "sat": name, "t_s": vt.as_secs_f64(),
                    "frames_in": wire.frames_in, "frames_out": wire.frames_out,
                    "links_up": router.links_up()}),
                );
                for r in &receivers {
                    report.emit(json!({"event": "bulk-progress", "workload": r.w,
                        "t_s": vt.as_secs_f64(), "bytes": r.received()}));
                }
                for q in &quic_receivers {
                    report.emit(json!({"event": "bulk-progress", "workload": q.w,
                        "t_s": vt.as_secs_f64(), "bytes": q.received.load(Ordering::Relaxed)}));
                }
                next_stats += stats_every;
                // Connections whose task is done and whose socket has closed
                // (gateway connections come and go) leave the stack.
                tcp_ports.retain(|t| {
                    let done = t.finished(&mut stack);
                    if done {
                        stack.sockets.remove(t.handle);
                    }
                    !done
                });
            }
            while heap.peek().is_some_and(|r| r.0.0 <= vt) {
                let Some(Reverse((due, _, link, packet))) = heap.pop() else {
                    break;
                };
                for c in wire.captures.iter_mut() {
                    c.record(link, due, &packet);
                }
                late_max = late_max.max(now - due);
                let d = router.route(vt, packet, true);
                dispatch(d, vt, &mut sock, &link_peer, &mut stack, &mut wire);
            }
            for p in pingers.iter_mut() {
                if p.next_send().is_some_and(|t| t <= vt) {
                    p.send(vt, &mut stack);
                }
            }
            for s in senders.iter_mut() {
                if s.next_timer().is_some_and(|t| t <= vt) {
                    s.start(&mut stack);
                }
                s.pump(&mut stack);
            }
            stack.poll(vt);
            while let Some(packet) = stack.device.tx.pop_front() {
                let d = router.route(vt, packet, false);
                dispatch(d, vt, &mut sock, &link_peer, &mut stack, &mut wire);
            }
            for p in pingers.iter_mut() {
                for echo in p.receive(vt, &mut stack) {
                    report_echo(&report, world, p.spec(), echo);
                }
                for echo in p.expire(vt) {
                    report_echo(&report, world, p.spec(), echo);
                }
            }
            for q in &quic_ports {
                q.deliver_in(&mut stack);
            }
            let mut refill = false;
            for t in tcp_ports.iter_mut() {
                refill |= t.pump(&mut stack);
            }
            for r in receivers.iter_mut() {
                if let Some(o) = r.pump(vt, &mut stack) {
                    report_transfer(&report, world, r.w, &r.spec, &o);
                }
            }
            for q in quic_receivers.iter_mut() {
                if !q.reported && q.deadline().is_some_and(|d| d <= vt) {
                    q.reported = true;
                    let o = q.failed(|got| {
                        format!(
                            "timed out after {:.3} s with {got} of {} bytes",
                            (vt - q.spec.start).as_secs_f64(),
                            q.spec.bytes
                        )
                    });
                    report_transfer(&report, world, q.w, &q.spec, &o);
                }
            }
            for s in senders.iter_mut() {
                refill |= s.pump(&mut stack);
            }
            if refill || !stack.device.rx.is_empty() {
                stack.poll(vt);
                while let Some(packet) = stack.device.tx.pop_front() {
                    let d = router.route(vt, packet, false);
                    dispatch(d, vt, &mut sock, &link_peer, &mut stack, &mut wire);
                }
            }
        }
        if finished {
            wire.flush(&mut sock);
            break;
        }
        // What quinn queued since leaves now, stamped with the current virtual time.
        let mut flushed = false;
        for q in &quic_ports {
            flushed |= q.flush_out(&mut stack);
        }
        for t in tcp_ports.iter_mut() {
            flushed |= t.pump(&mut stack);
        }
        for e in egress.iter_mut() {
            flushed |= e.pump(&mut stack, &quic_notify, &mut tcp_ports);
        }
        if flushed {
            let vt = now.max(last);
            last = vt;
            stack.poll(vt);
            while let Some(packet) = stack.device.tx.pop_front() {
                let d = router.route(vt, packet, false);
                dispatch(d, vt, &mut sock, &link_peer, &mut stack, &mut wire);
            }
        }
        while let Ok((w, o)) = outcome_rx.try_recv() {
            if let Some(q) = quic_receivers.iter_mut().find(|q| q.w == w && !q.reported) {
                q.reported = true;
                report_transfer(&report, world, q.w, &q.spec, &o);
            }
        }

        // Frames queued in this pass leave now, in batches.
        wire.flush(&mut sock);

        // 2. Sleep until the next event, a frame, or word from the launcher.
        let next = next_event!();
        let wake = clock.wall(next);
        // `biased`: branches are polled in order, so a run of the in-process
        // harness makes the same choices every time. The rarely ready ones
        // (gateway dials, commands, the launcher) come first so that a busy
        // wire cannot starve them; whichever wakes the loop, its top
        // processes everything due, so the timer comes last.
        tokio::select! {
            biased;
            Some(d) = gw_rx.recv() => {
                let local = next_local_port;
                next_local_port = if next_local_port >= 59_999 { 50_000 } else { next_local_port + 1 };
                // Both ways of a gateway connection are windowed to the
                // path as it is when the client connects.
                let buffer = path_window(world.path(clock.now(), me, d.to), 1);
                match crate::tcp::TcpPort::connect(&mut stack, crate::addr::address(d.to), d.port, local, buffer, quic_notify.clone()) {
                    Ok((port, stream)) => {
                        tcp_ports.push(port);
                        let _ = d.reply.send(stream);
                    }
                    Err(e) => tracing::warn!("gateway: {e}"),
                }
            }
            Some(c) = commands.recv() => {
                let counters = || json!({
                    "frames_in": wire.frames_in, "frames_out": wire.frames_out,
                    "send_errors": wire.send_errors, "rejected": wire.rejected,
                    "sent": router.sent, "forwarded": router.forwarded,
                    "delivered_local": router.delivered_local,
                    "drops": router.drops.iter().map(|(k, v)| (k.as_str(), *v)).collect::<BTreeMap<&str, u64>>(),
                    "links_up": router.links_up(),
                    "links": router.ports().map(|p| (world.name(p.peer).to_owned(),
                        p.status.map_or("down", |l| l.state.as_str()))).collect::<BTreeMap<String, &str>>(),
                });
                match c {
                    Command::Udp { port, reply } => {
                        let p = crate::quic::Port::on(port, usize::MAX, &mut stack, quic_notify.clone());
                        let _ = reply.send(p.map(|p| {
                            let s = p.app_socket(crate::addr::address(me));
                            quic_ports.push(p);
                            s
                        }));
                    }
                    Command::TcpConnect { to, port, reply } => {
                        let local = next_local_port;
                        next_local_port = if next_local_port >= 59_999 { 50_000 } else { next_local_port + 1 };
                        let _ = reply.send(crate::tcp::TcpPort::connect(&mut stack, crate::addr::address(to), port, local, 4 << 20, quic_notify.clone())
                            .map(|(p, stream)| { tcp_ports.push(p); stream }));
                    }
                    Command::TcpListen { port, reply } => {
                        let _ = reply.send(crate::tcp::TcpPort::listen(&mut stack, port, 4 << 20, quic_notify.clone())
                            .map(|(p, stream)| { tcp_ports.push(p); stream }));
                    }
                    Command::Counters { reply } => {
                        let mut c = counters();
                        c["tcp_connections"] = json!(tcp_ports.len());
                        let _ = reply.send(c);
                    }
                    Command::Fault(f) => timeline.add_fault(f),
                    Command::Heal { sat, at } => timeline.heal(sat, at),
                }
            }
            stop = control.next() => {
                // Every workload is over: end the run now.
                if stop? {
                    end = end.min(clock.now().max(last));
                }
            }
            r = sock.recv_from(&mut buf) => {
                let (n, stride, from) = r?;
                for f in buf[..n].chunks(stride) {
                    accept(f, from, cfg.token, &router, &link_peer, &mut heap, &mut arrivals, &mut wire);
                }
                // Drain what else is waiting without blocking.
                for _ in 0..1024 {
                    let Ok((n, stride, from)) = sock.try_recv_from(&mut buf) else {
                        break;
                    };
                    for f in buf[..n].chunks(stride) {
                        accept(f, from, cfg.token, &router, &link_peer, &mut heap, &mut arrivals, &mut wire);
                    }
                }
            }
            _ = quic_notify.notified() => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
    }

    for r in receivers.iter_mut() {
        if let Some(o) = r.unfinished(last) {
            report_transfer(&report, world, r.w, &r.spec, &o);
        }
    }
    for q in quic_receivers.iter().filter(|q| !q.reported) {
        let o = q.failed(|got| {
            format!(
                "the run ended with {got} of {} bytes received",
                q.spec.bytes
            )
        });
        report_transfer(&report, world, q.w, &q.spec, &o);
    }
    for p in &pingers {
        for echo in p.unanswered() {
            report_echo(&report, world, p.spec(), echo);
        }
    }
    for c in wire.captures.iter_mut() {
        c.finish();
    }
    let drops: BTreeMap<&str, u64> = router.drops.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    report.emit(
        json!({"event": "done", "sat": name, "t_s": last.as_secs_f64(),
        "frames_in": wire.frames_in, "bytes_in": wire.bytes_in, "frames_out": wire.frames_out,
        "send_errors": wire.send_errors, "rejected": wire.rejected,
        "sent": router.sent, "forwarded": router.forwarded, "delivered_local": router.delivered_local,
        "drops": drops, "late_max_us": late_max.as_nanos() as f64 / 1e3}),
    );
    Ok(())
}

fn report_echo(
    report: &Reporter,
    world: &orbnet_netem::World,
    spec: &orbnet_netem::scenario::Ping,
    e: Echo,
) {
    report.emit(
        json!({"event": "echo", "from": world.name(spec.from), "to": world.name(spec.to),
        "seq": e.seq, "sent_s": e.sent.as_secs_f64(), "size": spec.size,
        "rtt_ms": e.rtt.map(|d| d.as_nanos() as f64 / 1e6)}),
    );
}

/// A QUIC transfer this satellite receives.
#[derive(Debug)]
struct QuicReceiver {
    w: usize,
    spec: orbnet_netem::scenario::Bulk,
    received: Arc<AtomicU64>,
    reported: bool,
}

impl QuicReceiver {
    fn deadline(&self) -> Option<SimTime> {
        self.spec.timeout.map(|t| self.spec.start + t)
    }

    /// A failed outcome, its message made from the bytes received so far.
    fn failed(&self, why: impl FnOnce(u64) -> String) -> crate::bulk::Outcome {
        let got = self.received.load(Ordering::Relaxed);
        crate::bulk::Outcome {
            received: got,
            completed: None,
            verified: false,
            error: Some(why(got)),
        }
    }
}

/// What starting the QUIC workloads needs.
struct QuicStart<'a> {
    scenario: &'a Scenario,
    me: SatId,
    clock: crate::clock::VirtualClock,
    ports: &'a [crate::quic::Port],
    tls: Option<&'a crate::quic::Tls>,
    outcomes: &'a tokio::sync::mpsc::UnboundedSender<(usize, crate::bulk::Outcome)>,
    report: &'a Reporter,
}

/// Makes an endpoint per QUIC workload of ours and spawns its sender or
/// receiver task.
fn start_quic(q: &QuicStart<'_>) -> Result<Vec<QuicReceiver>, NodeError> {
    let mut receivers = Vec::new();
    if q.ports.is_empty() {
        return Ok(receivers);
    }
    // Ports of no workload (UDP gateways) need no certificate.
    let workloads = || {
        q.ports
            .iter()
            .filter(|p| p.workload < q.scenario.workloads.len())
    };
    let Some(tls) = q.tls else {
        if workloads().next().is_none() {
            return Ok(receivers);
        }
        return Err(NodeError::Protocol(
            "a QUIC workload but no TLS certificate from the launcher".into(),
        ));
    };
    let world = &q.scenario.world;
    let runtime = crate::quic::VirtualRuntime::new(q.clock);
    let me_ip = crate::addr::address(q.me);
    for port in q.ports {
        let b = match q.scenario.workloads.get(port.workload) {
            Some(Workload::Bulk(b)) => b,
            Some(w @ (Workload::Collective(_) | Workload::Train(_))) => {
                start_collective(q, tls, runtime, port, w)?;
                continue;
            }
            _ => continue,
        };
        let b = *b;
        let path = world.path(b.start, b.from, b.to);
        let tuning = crate::quic::Tuning {
            bdp: path.as_ref().map_or(1 << 20, |p| p.bdp_bytes() as u64),
            rtt: path.as_ref().map_or(Duration::from_millis(100), |p| {
                Duration::from_nanos(p.rtt().as_nanos())
            }),
            cc: b.cc,
            streams: b.streams,
            max_payload: world.link_model().mtu.0.saturating_sub(28).min(65_507) as u16,
            idle: Duration::from_secs(60),
            seed: quic_seed(q.scenario.seed, q.me, port.port),
            message: 0,
        };
        let ep = crate::quic::endpoint(port.link.clone(), IpAddr::V4(me_ip), tls, &tuning, runtime)
            .map_err(|e| NodeError::Protocol(e.to_string()))?;
        let content =
            crate::bulk::Content::new(crate::bulk::content_key(q.scenario.seed, port.workload));
        let w = port.workload;
        if b.from == q.me {
            let to = SocketAddr::new(
                IpAddr::V4(crate::addr::address(b.to)),
                port.local(me_ip).port(),
            );
            tokio::spawn(async move {
                if let Err(e) = crate::quic::send_bulk(ep, runtime, b, content, to).await {
                    tracing::warn!(workload = w, "QUIC sender: {e}");
                }
            });
        } else {
            let received = Arc::new(AtomicU64::new(0));
            let tx = q.outcomes.clone();
            let (clock, r) = (q.clock, received.clone());
            tokio::spawn(async move {
                let o = crate::quic::receive_bulk(ep, clock, b, content, r).await;
                let _ = tx.send((w, o));
            });
            receivers.push(QuicReceiver {
                w,
                spec: b,
                received,
                reported: false,
            });
        }
    }
    Ok(receivers)
}

/// The seed of satellite `me`'s QUIC endpoint on `port`.
pub fn quic_seed(seed: u64, me: SatId, port: u16) -> u64 {
    seed ^ (u64::from(me.0) << 16 | u64::from(port))
}

/// Connects this satellite's rank of a collective or training workload to
/// its peers at the workload's start, and runs it.
fn start_collective(
    q: &QuicStart<'_>,
    tls: &crate::quic::Tls,
    runtime: crate::quic::VirtualRuntime,
    port: &crate::quic::Port,
    w: &Workload,
) -> Result<(), NodeError> {
    use orbnet_netem::collective::Op;
    let world = &q.scenario.world;
    // The largest buffer one call works on: a sweep's largest size, or a
    // gradient bucket.
    let (ranks, op, algorithm, start, largest) = match w {
        Workload::Collective(c) => (
            c.ranks.clone(),
            c.op,
            c.algorithm,
            c.start,
            c.sizes.iter().copied().max().unwrap_or(0),
        ),
        Workload::Train(t) => (
            t.ranks.clone(),
            Op::AllReduce,
            t.algorithm,
            t.start,
            t.buckets().into_iter().max().unwrap_or(0),
        ),
        _ => return Ok(()),
    };
    let Some(rank) = ranks.iter().position(|&r| r == q.me) else {
        return Ok(());
    };
    let p = ranks.len();
    let peers = crate::collective::peers(op, algorithm, p, rank);
    // Windows for the longest path to a peer; a dead peer is declared after
    // ten of its round trips or two wall seconds, whichever is longer, and
    // never under a millisecond.
    let paths: Vec<_> = peers
        .0
        .iter()
        .chain(&peers.1)
        .filter_map(|&r| world.path(start, q.me, ranks[r]))
        .collect();
    let bdp = paths
        .iter()
        .map(|p| p.bdp_bytes() as u64)
        .max()
        .unwrap_or(1 << 20);
    let rtt = paths
        .iter()
        .map(|p| Duration::from_nanos(p.rtt().as_nanos()))
        .max()
        .unwrap_or(Duration::from_millis(100));
    let wall_floor = Duration::from_secs_f64(2.0 / q.scenario.tdf.factor());
    let tuning = crate::quic::Tuning {
        bdp,
        rtt,
        cc: orbnet_netem::scenario::Cc::Cubic,
        streams: 1024,
        max_payload: world.link_model().mtu.0.saturating_sub(28).min(65_507) as u16,
        // QUIC carries the idle timeout in whole milliseconds (RFC 9000 §18.2).
        idle: (rtt * 10).max(wall_floor).max(Duration::from_millis(1)),
        seed: quic_seed(q.scenario.seed, q.me, port.port),
        // Only ring steps: the pairs of a tree's or halving–doubling's step
        // share links, and starting each at its whole message made them
        // slower (8 Suncatcher ranks, 4 MiB: tree 200 → 153 Gb/s of bus
        // bandwidth, halving–doubling 353 → 256).
        message: orbnet_netem::collective::ring_message(op, algorithm, p, largest).unwrap_or(0),
    };
    let me_ip = crate::addr::address(q.me);
    let ep = crate::quic::endpoint(port.link.clone(), IpAddr::V4(me_ip), tls, &tuning, runtime)
        .map_err(|e| NodeError::Protocol(e.to_string()))?;
    let names: Vec<String> = ranks.iter().map(|&s| world.name(s).to_owned()).collect();
    let wport = port.local(me_ip).port();
    let clock = q.clock;
    let index = port.workload;
    let w = w.clone();
    let acc = q.scenario.accelerator.clone();
    let report = q.report.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(clock.wall(start)).await;
        let comm =
            match crate::collective::Comm::connect(&ep, rank, ranks, names.clone(), &peers, wport)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    let kind = if matches!(w, Workload::Train(_)) {
                        "train-step"
                    } else {
                        "collective"
                    };
                    report.emit(
                        json!({"event": kind, "workload": index, "rank": rank, "sat": names[rank],
                    "verified": false, "error": e.0}),
                    );
                    return;
                }
            };
        crate::collective::run_workload(index, w, acc, comm, clock, report).await;
        // Let the last frames (closes, acknowledgements) leave.
        ep.wait_idle().await;
    });
    Ok(())
}

/// A kernel connection accepted by an ingress gateway, asking the node
/// loop for a connection over the constellation.
struct GatewayDial {
    to: SatId,
    port: u16,
    reply: tokio::sync::oneshot::Sender<crate::tcp::TcpStream>,
}

/// An egress gateway: a listener on the stack, replaced as soon as a
/// connection opens on it; each opened one is spliced to the kernel's
/// `forward`.
struct Egress {
    port: u16,
    forward: SocketAddr,
    waiting: crate::tcp::TcpPort,
    stream: crate::tcp::TcpStream,
}

impl Egress {
    fn new(
        stack: &mut Stack,
        port: u16,
        forward: SocketAddr,
        notify: &Arc<tokio::sync::Notify>,
    ) -> Result<Egress, NodeError> {
        let (waiting, stream) = crate::tcp::TcpPort::listen(stack, port, 4 << 20, notify.clone())
            .map_err(NodeError::Protocol)?;
        Ok(Egress {
            port,
            forward,
            waiting,
            stream,
        })
    }

    /// Pumps the listener; once a connection opens, hands it to a splice
    /// task and its socket to the node's TCP ports, and listens anew.
    fn pump(
        &mut self,
        stack: &mut Stack,
        notify: &Arc<tokio::sync::Notify>,
        ports: &mut Vec<crate::tcp::TcpPort>,
    ) -> bool {
        let queued = self.waiting.pump(stack);
        if !self.waiting.opened() {
            return queued;
        }
        let Ok(next) = Egress::new(stack, self.port, self.forward, notify) else {
            return queued;
        };
        let done = std::mem::replace(self, next);
        ports.push(done.waiting);
        let (stream, forward) = (done.stream, done.forward);
        tokio::spawn(async move {
            match tokio::net::TcpStream::connect(forward).await {
                Ok(kernel) => splice(kernel, stream).await,
                Err(e) => tracing::warn!("gateway to {forward}: {e}"),
            }
        });
        true
    }
}

/// Copies both ways between a kernel connection and one over the
/// constellation until both sides have finished.
async fn splice(mut kernel: tokio::net::TcpStream, mut stream: crate::tcp::TcpStream) {
    if let Err(e) = tokio::io::copy_bidirectional(&mut kernel, &mut stream).await {
        tracing::debug!("gateway connection ended: {e}");
    }
}

/// Streams of one TCP collective workload: to send on, to read from.
type TcpStreams = (
    Vec<(usize, crate::tcp::TcpStream)>,
    Vec<(usize, crate::tcp::TcpStream)>,
);

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
) -> Result<(Vec<crate::tcp::TcpPort>, TcpStreams), String> {
    use orbnet_netem::collective::Op;
    let (ranks, op, algorithm, start) = match workload {
        Workload::Collective(c) => (&c.ranks, c.op, c.algorithm, c.start),
        Workload::Train(t) => (&t.ranks, Op::AllReduce, t.algorithm, t.start),
        _ => return Ok((Vec::new(), (Vec::new(), Vec::new()))),
    };
    let Some(rank) = ranks.iter().position(|&r| r == me) else {
        return Ok((Vec::new(), (Vec::new(), Vec::new())));
    };
    let (to, from) = crate::collective::peers(op, algorithm, ranks.len(), rank);
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
        let (listen, _) = crate::collective::tcp_ports(w, s, rank);
        let (port, stream) = crate::tcp::TcpPort::listen(stack, listen, buffer(s), notify.clone())?;
        ports.push(port);
        streams.1.push((s, stream));
    }
    for d in to {
        let (listen, local) = crate::collective::tcp_ports(w, rank, d);
        let ip = crate::addr::address(ranks[d]);
        let (port, stream) =
            crate::tcp::TcpPort::connect(stack, ip, listen, local, buffer(d), notify.clone())?;
        ports.push(port);
        streams.0.push((d, stream));
    }
    Ok((ports, streams))
}

/// Runs this rank of a TCP collective or training workload from its start.
fn start_tcp_collective(
    scenario: &Scenario,
    me: SatId,
    clock: crate::clock::VirtualClock,
    index: usize,
    w: Workload,
    (to, from): TcpStreams,
    report: &Reporter,
) {
    let (ranks, start) = match &w {
        Workload::Collective(c) => (c.ranks.clone(), c.start),
        Workload::Train(t) => (t.ranks.clone(), t.start),
        _ => return,
    };
    let Some(rank) = ranks.iter().position(|&r| r == me) else {
        return;
    };
    let names: Vec<String> = ranks
        .iter()
        .map(|&s| scenario.world.name(s).to_owned())
        .collect();
    let acc = scenario.accelerator.clone();
    let report = report.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(clock.wall(start)).await;
        let comm = crate::collective::Comm::over_tcp(rank, ranks, names, to, from);
        crate::collective::run_workload(index, w, acc, comm, clock, report).await;
    });
}

/// Everything that schedules work in the node loop.
struct Timers<'a> {
    heap: &'a BinaryHeap<Due>,
    pingers: &'a [Pinger],
    senders: &'a [crate::bulk::Sender],
    receivers: &'a [crate::bulk::Receiver],
    quic: &'a [QuicReceiver],
    /// Routing update, stats sample, end of run.
    fixed: [SimTime; 3],
}

/// The virtual time of the next thing the loop must do.
fn next_event(t: Timers<'_>, stack: &mut Stack, last: SimTime) -> SimTime {
    let quic = t
        .quic
        .iter()
        .filter(|q| !q.reported)
        .filter_map(QuicReceiver::deadline)
        .min();
    [
        t.heap.peek().map(|r| r.0.0),
        t.pingers.iter().filter_map(Pinger::next_send).min(),
        t.pingers.iter().filter_map(Pinger::next_timeout).min(),
        stack.poll_at(last),
        bulk_timer(t.senders, t.receivers),
        quic,
    ]
    .into_iter()
    .flatten()
    .chain(t.fixed)
    .min()
    .unwrap_or(t.fixed[2])
}

/// The earliest timer of the bulk transfers.
fn bulk_timer(
    senders: &[crate::bulk::Sender],
    receivers: &[crate::bulk::Receiver],
) -> Option<SimTime> {
    let s = senders.iter().filter_map(crate::bulk::Sender::next_timer);
    let r = receivers.iter().filter_map(crate::bulk::Receiver::deadline);
    s.chain(r).min()
}

/// TCP buffer per connection: the path's bandwidth-delay product at the
/// transfer's start (with a quarter more for slack), within [1 MiB, 64 MiB].
///
/// The floor covers the host, not the path: each segment's round trip also
/// waits for a pass of both satellites' loops, which the geometric BDP of a
/// short link does not hold. On two satellites 100 m apart
/// (`scripts/bench-transport.sh`) a 256 KiB floor held TCP to 7 Gb/s,
/// 1 MiB reached 13–18, and 2 or 4 MiB fell back to 11–14 as the buffers
/// outgrew the caches.
fn tcp_buffer(world: &orbnet_netem::World, b: &orbnet_netem::scenario::Bulk) -> usize {
    path_window(world.path(b.start, b.from, b.to), b.streams)
}

/// The buffer [`tcp_buffer`] gives each of `streams` connections on `path`.
/// It also caps what one connection has in flight: a window much over the
/// BDP only fills the links' queues until they drop, and smoltcp, without
/// selective acknowledgements, recovers from a burst of drops slowly.
fn path_window(path: Option<orbnet_netem::routing::Path>, streams: u32) -> usize {
    let bdp = path.map_or(0.0, |p| p.bdp_bytes() * 1.25 / f64::from(streams));
    (bdp as usize).clamp(1 << 20, 64 << 20)
}

fn report_transfer(
    report: &Reporter,
    world: &orbnet_netem::World,
    w: usize,
    b: &orbnet_netem::scenario::Bulk,
    o: &crate::bulk::Outcome,
) {
    report.emit(
        json!({"event": "transfer", "workload": w, "from": world.name(b.from), "to": world.name(b.to),
        "transport": b.transport.as_str(), "cc": b.cc.as_str(), "bytes": b.bytes, "streams": b.streams,
        "start_s": b.start.as_secs_f64(), "completed_s": o.completed.map(|t| t.as_secs_f64()),
        "received": o.received, "verified": o.verified, "error": o.error}),
    );
}

/// Validates a datagram and queues its packet for delivery.
#[allow(clippy::too_many_arguments)]
fn accept(
    buf: &[u8],
    from: SocketAddr,
    token: u64,
    router: &Router,
    link_peer: &BTreeMap<LinkId, SocketAddr>,
    heap: &mut BinaryHeap<Due>,
    arrivals: &mut u64,
    wire: &mut WireStats,
) {
    let frame = match Frame::parse(buf, token) {
        Ok(f) => f,
        Err(e) => {
            *wire.rejected.entry(FrameError::as_str(e)).or_default() += 1;
            return;
        }
    };
    if router.peer(frame.header.link).is_none() || link_peer.get(&frame.header.link) != Some(&from)
    {
        *wire.rejected.entry("unknown-source").or_default() += 1;
        return;
    }
    wire.frames_in += 1;
    wire.bytes_in += buf.len() as u64;
    *arrivals += 1;
    heap.push(Reverse((
        frame.header.deliver,
        *arrivals,
        frame.header.link,
        frame.packet.to_vec(),
    )));
}

fn dispatch(
    d: Decision,
    now: SimTime,
    sock: &mut crate::wire::WireIo,
    link_peer: &BTreeMap<LinkId, SocketAddr>,
    stack: &mut Stack,
    wire: &mut WireStats,
) {
    match d {
        Decision::Local(p) => stack.device.rx.push_back(p),
        Decision::Send { link, frame, .. } => {
            let Some(addr) = link_peer.get(&link) else {
                return;
            };
            for c in wire.captures.iter_mut() {
                c.record(
                    link,
                    now,
                    frame.get(crate::wire::HEADER_LEN..).unwrap_or(&[]),
                );
            }
            let (sent, lost) = sock.send_to(frame, *addr);
            wire.frames_out += sent;
            wire.send_errors += lost;
        }
        Decision::Drop(_) => {}
    }
}
