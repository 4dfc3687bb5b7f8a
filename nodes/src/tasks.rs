//! The tasks a satellite's driver starts beside it once the run's clock is
//! known: quinn endpoints for QUIC transfers and collective ranks, TCP
//! collective ranks, and gateway listeners on the host's loopback. They
//! reach the satellite only through the queues of its apps.

mod offload;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use orbnet_netem::{SatId, Scenario, Workload};
use tokio::sync::mpsc::UnboundedSender;

use crate::clock::VirtualClock;
use crate::command::Command;
use crate::quic::{Link, Tls, Tuning, VirtualRuntime};
use crate::report::Reporter;
use crate::satellite::{QuicTask, Tasks, TcpStreams};

/// Why a satellite's tasks could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("a QUIC workload but no TLS certificate from the launcher")]
    NoTls,
    #[error("QUIC endpoint: {0}")]
    Quic(#[from] crate::quic::QuicError),
    #[error("gateway listen {listen}: {source}")]
    Gateway {
        listen: SocketAddr,
        source: std::io::Error,
    },
}

/// Kernel sockets of a satellite's gateways, bound before the run starts
/// (so that a taken port fails it before it begins).
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    udp: Vec<(tokio::net::UdpSocket, SocketAddr)>,
    tcp: Vec<(tokio::net::TcpListener, SatId, u16)>,
}

/// Binds the kernel listeners `tasks` asks for.
pub(crate) async fn bind_gateways(tasks: &Tasks) -> Result<Listeners, StartError> {
    let mut l = Listeners::default();
    let fail = |listen: SocketAddr| move |source| StartError::Gateway { listen, source };
    for &(listen, to) in &tasks.udp_ingress {
        let s = tokio::net::UdpSocket::bind(listen)
            .await
            .map_err(fail(listen))?;
        l.udp.push((s, to));
    }
    for &(listen, to, port) in &tasks.tcp_ingress {
        let s = tcp_listener(listen).map_err(fail(listen))?;
        l.tcp.push((s, to, port));
    }
    Ok(l)
}

/// How many connections a TCP gateway's kernel listener holds for it to
/// accept (the kernel caps it at `net.core.somaxconn`, 4096 by default).
/// tokio's `TcpListener::bind` asks for 128, as the standard library
/// does: 1,000 clients connecting at once then overflowed it while the
/// satellite was busy, and the kernel answered some with SYN cookies and
/// then resets (`TcpExtListenOverflows`, `TcpExtSyncookiesFailed`).
const GATEWAY_BACKLOG: u32 = 4096;

/// A kernel TCP listener on `addr` with [`GATEWAY_BACKLOG`].
fn tcp_listener(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let s = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    s.listen(GATEWAY_BACKLOG)
}

/// What starting the tasks needs.
#[derive(Debug)]
pub(crate) struct Start<'a> {
    pub scenario: &'a Arc<Scenario>,
    pub me: SatId,
    pub clock: VirtualClock,
    pub tls: Option<&'a Tls>,
    pub report: &'a Reporter,
    /// The satellite's requests, for gateway listeners.
    pub commands: &'a UnboundedSender<Command>,
}

/// Starts every task, in a fixed order (the in-process harness repeats a
/// run exactly only if tasks are spawned in the same order every time).
pub(crate) fn start(s: &Start<'_>, tasks: Tasks, listeners: Listeners) -> Result<(), StartError> {
    for (w, streams) in tasks.tcp_collectives {
        if let Some(workload) = s.scenario.workloads.get(w) {
            start_tcp_collective(s, w, workload.clone(), streams);
        }
    }
    for (kernel, to) in listeners.udp {
        tokio::spawn(crate::gateway::udp_ingress(kernel, to, s.commands.clone()));
    }
    for (socket, forward) in tasks.udp_egress {
        tokio::spawn(crate::gateway::udp_egress(socket, forward));
    }
    for (listener, to, port) in listeners.tcp {
        let commands = s.commands.clone();
        tokio::spawn(crate::gateway::tcp_ingress(listener, to, port, commands));
    }
    for w in tasks.tcp_offloads {
        offload::start(s, w, None)?;
    }
    if tasks.quic.is_empty() {
        return Ok(());
    }
    let tls = s.tls.ok_or(StartError::NoTls)?;
    let runtime = VirtualRuntime::new(s.clock);
    for (link, port, task) in tasks.quic {
        match task {
            QuicTask::Collective { workload } => {
                start_collective(s, tls, runtime, link, port, workload)?;
            }
            QuicTask::BulkSend { workload } | QuicTask::BulkReceive { workload, .. } => {
                start_bulk(s, tls, runtime, link, port, task_of(workload, task))?;
            }
            QuicTask::Offload { workload } => {
                let q = offload::QuicPort {
                    link,
                    port,
                    tls,
                    runtime,
                };
                offload::start(s, workload, Some(q))?;
            }
        }
    }
    Ok(())
}

/// A bulk transfer's end: sending, or receiving with its counters.
enum BulkEnd {
    Send,
    Receive(
        Arc<std::sync::atomic::AtomicU64>,
        tokio::sync::oneshot::Sender<crate::bulk::Outcome>,
    ),
}

fn task_of(w: usize, task: QuicTask) -> (usize, BulkEnd) {
    match task {
        QuicTask::BulkReceive {
            received, outcome, ..
        } => (w, BulkEnd::Receive(received, outcome)),
        _ => (w, BulkEnd::Send),
    }
}

/// The seed of satellite `me`'s QUIC endpoint on `port`.
pub(crate) fn quic_seed(seed: u64, me: SatId, port: u16) -> u64 {
    seed ^ (u64::from(me.0) << 16 | u64::from(port))
}

/// Largest UDP payload the links carry (MTU − IP and UDP headers).
fn max_payload(scenario: &Scenario) -> u16 {
    scenario
        .world
        .link_model()
        .mtu
        .0
        .saturating_sub(28)
        .min(65_507) as u16
}

/// Makes the endpoint of one QUIC transfer and spawns its sender or receiver.
fn start_bulk(
    s: &Start<'_>,
    tls: &Tls,
    runtime: VirtualRuntime,
    link: Link,
    port: u16,
    (w, end): (usize, BulkEnd),
) -> Result<(), StartError> {
    let Some(Workload::Bulk(b)) = s.scenario.workloads.get(w) else {
        return Ok(());
    };
    let b = *b;
    let path = s.scenario.world.path(b.start, b.from, b.to);
    let tuning = Tuning {
        bdp: path.as_ref().map_or(1 << 20, |p| p.bdp_bytes() as u64),
        rtt: path.as_ref().map_or(Duration::from_millis(100), |p| {
            Duration::from_nanos(p.rtt().as_nanos())
        }),
        cc: b.cc,
        streams: b.streams,
        max_payload: max_payload(s.scenario),
        idle: Duration::from_secs(60),
        seed: quic_seed(s.scenario.seed, s.me, port),
        message: 0,
    };
    let me_ip = crate::addr::address(s.me);
    let ep = crate::quic::endpoint(link, IpAddr::V4(me_ip), tls, &tuning, runtime)?;
    let content = crate::bulk::Content::new(crate::bulk::content_key(s.scenario.seed, w));
    match end {
        BulkEnd::Send => {
            let to = crate::addr::socket(b.to, port);
            tokio::spawn(async move {
                if let Err(e) = crate::quic::send_bulk(ep, runtime, b, content, to).await {
                    tracing::warn!(workload = w, "QUIC sender: {e}");
                }
            });
        }
        BulkEnd::Receive(received, outcome) => {
            let clock = s.clock;
            tokio::spawn(async move {
                let o = crate::quic::receive_bulk(ep, clock, b, content, received).await;
                let _ = outcome.send(o);
            });
        }
    }
    Ok(())
}

/// What one rank of a collective or training workload needs to know.
struct Rank {
    ranks: Vec<SatId>,
    rank: usize,
    start: orbnet_netem::SimTime,
    peers: (
        std::collections::BTreeSet<usize>,
        std::collections::BTreeSet<usize>,
    ),
    tuning: Tuning,
}

/// This satellite's rank of workload `w` and its connections' tuning, if
/// it takes part.
fn rank_of(s: &Start<'_>, w: &Workload, port: u16) -> Option<Rank> {
    use orbnet_netem::workload::Op;
    if let Workload::Graph(g) = w {
        let rank = g.ranks.iter().position(|&r| r == s.me)?;
        let peers = crate::graph_exec::peers(g, rank);
        let message = g.largest_message();
        return Some(rank_tuned(
            s,
            g.ranks.clone(),
            rank,
            g.start,
            peers,
            port,
            message,
        ));
    }
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
        _ => return None,
    };
    let rank = ranks.iter().position(|&r| r == s.me)?;
    let p = ranks.len();
    let peers = crate::collective::peers(op, algorithm, p, rank);
    // Only ring steps: the pairs of a tree's or halving–doubling's step
    // share links, and starting each at its whole message made them
    // slower (BENCHMARKS.md, the algorithm table).
    let message = orbnet_netem::collective::ring_message(op, algorithm, p, largest).unwrap_or(0);
    Some(rank_tuned(s, ranks, rank, start, peers, port, message))
}

/// Rank `rank` of `ranks` with its connections' tuning: windows for the
/// paths to its `peers` and for messages of `message` bytes.
fn rank_tuned(
    s: &Start<'_>,
    ranks: Vec<SatId>,
    rank: usize,
    start: orbnet_netem::SimTime,
    peers: (
        std::collections::BTreeSet<usize>,
        std::collections::BTreeSet<usize>,
    ),
    port: u16,
    message: u64,
) -> Rank {
    let world = &s.scenario.world;
    // Windows for the longest path to a peer; a dead peer is declared after
    // ten of its round trips or two wall seconds, whichever is longer, and
    // never under a millisecond.
    let paths: Vec<_> = peers
        .0
        .iter()
        .chain(&peers.1)
        .filter_map(|&r| world.path(start, s.me, ranks[r]))
        .collect();
    let bdp = paths.iter().map(|p| p.bdp_bytes() as u64).max();
    let rtt = paths
        .iter()
        .map(|p| Duration::from_nanos(p.rtt().as_nanos()))
        .max()
        .unwrap_or(Duration::from_millis(100));
    let wall_floor = Duration::from_secs_f64(2.0 / s.scenario.tdf.factor());
    let tuning = Tuning {
        bdp: bdp.unwrap_or(1 << 20),
        rtt,
        cc: orbnet_netem::workload::Cc::Cubic,
        streams: 1024,
        max_payload: max_payload(s.scenario),
        // QUIC carries the idle timeout in whole milliseconds (RFC 9000 §18.2).
        idle: (rtt * 10).max(wall_floor).max(Duration::from_millis(1)),
        seed: quic_seed(s.scenario.seed, s.me, port),
        message,
    };
    Rank {
        ranks,
        rank,
        start,
        peers,
        tuning,
    }
}

/// Connects this satellite's rank of a collective or training workload to
/// its peers at the workload's start, and runs it.
fn start_collective(
    s: &Start<'_>,
    tls: &Tls,
    runtime: VirtualRuntime,
    link: Link,
    port: u16,
    index: usize,
) -> Result<(), StartError> {
    let Some(w) = s.scenario.workloads.get(index) else {
        return Ok(());
    };
    let Some(r) = rank_of(s, w, port) else {
        return Ok(());
    };
    let me_ip = crate::addr::address(s.me);
    let ep = crate::quic::endpoint(link, IpAddr::V4(me_ip), tls, &r.tuning, runtime)?;
    let world = &s.scenario.world;
    let names: Vec<String> = r.ranks.iter().map(|&x| world.name(x).to_owned()).collect();
    let clock = s.clock;
    let w = w.clone();
    let acc = s.scenario.accelerator.clone();
    let report = s.report.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(clock.wall(r.start)).await;
        let rank = r.rank;
        let connected =
            crate::collective::Comm::connect(&ep, rank, r.ranks, names.clone(), &r.peers, port)
                .await;
        let comm = match connected {
            Ok(c) => c,
            Err(e) => {
                let sat = &names[rank];
                report.emit(crate::rank_work::failed_rank(
                    &w,
                    index,
                    rank,
                    sat,
                    e.to_string(),
                ));
                return;
            }
        };
        crate::rank_work::run_workload(index, w, acc, comm, clock, report).await;
        // Let the last frames (closes, acknowledgements) leave.
        ep.wait_idle().await;
    });
    Ok(())
}

/// Runs this rank of a TCP collective or training workload from its start.
fn start_tcp_collective(s: &Start<'_>, index: usize, w: Workload, (to, from): TcpStreams) {
    let (ranks, start) = match &w {
        Workload::Collective(c) => (c.ranks.clone(), c.start),
        Workload::Train(t) => (t.ranks.clone(), t.start),
        Workload::Graph(g) => (g.ranks.clone(), g.start),
        _ => return,
    };
    let Some(rank) = ranks.iter().position(|&r| r == s.me) else {
        return;
    };
    let names: Vec<String> = ranks
        .iter()
        .map(|&r| s.scenario.world.name(r).to_owned())
        .collect();
    let acc = s.scenario.accelerator.clone();
    let (clock, report) = (s.clock, s.report.clone());
    tokio::spawn(async move {
        tokio::time::sleep_until(clock.wall(start)).await;
        let comm = crate::collective::Comm::over_tcp(rank, ranks, names, to, from);
        crate::rank_work::run_workload(index, w, acc, comm, clock, report).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gateway's kernel listener holds hundreds of connections that its
    /// satellite has not accepted yet: clients arriving together all
    /// finish their handshakes at once. (With tokio's own `bind`, the
    /// 129th found the queue full, its SYN dropped, and waited a second
    /// to try again.)
    #[tokio::test]
    async fn a_gateway_listener_holds_hundreds_of_connections_unaccepted() {
        let listener =
            tcp_listener(SocketAddr::from(([127, 0, 0, 1], 0))).expect("listens on loopback");
        let addr = listener.local_addr().expect("its address");
        let mut clients = Vec::new();
        for i in 0..500 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                Ok(c) => clients.push(c),
                Err(e) => panic!("client {i}: {e}"),
            }
        }
        assert_eq!(clients.len(), 500);
    }
}
