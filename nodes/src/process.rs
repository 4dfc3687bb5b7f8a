//! The process harness, a satellite's side: `orbnet node` binds a UDP wire
//! socket (on loopback, or on its host's address when a run is split
//! across hosts), tells the launcher its port, learns every peer's,
//! sets up, says it is ready, waits for the start instant, and runs (see
//! [`crate::protocol`] for the conversation). End of stdin means the
//! launcher is gone: the node exits at once.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use orbnet_netem::{SatId, Scenario, SimTime};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::driver::{Control, Lines, NodeError, NodeIo, Peers, next};
use crate::protocol::{Event, HandshakeError, ToNode};
use crate::quic::Tls;
use crate::report::Reporter;
use crate::satellite::{Satellite, Setup};

/// What a satellite process needs to run.
#[derive(Debug)]
pub struct NodeConfig {
    pub scenario: Scenario,
    pub me: SatId,
    pub token: u64,
    /// Capture files to write: every link of this satellite (`None`) or
    /// only those to one peer.
    pub captures: Vec<(PathBuf, Option<SatId>)>,
    /// The address to bind the wire to: loopback on one host, the host's
    /// own address when the run is split across hosts.
    pub bind: IpAddr,
    /// The wire port to bind (a restart takes its old port back); any if `None`.
    pub port: Option<u16>,
    /// A restart after a crash.
    pub restarted: bool,
    /// Called once the satellite is set up, before the run: the binary
    /// hands the memory freed by set-up back to the system (a satellite
    /// process that then sleeps would otherwise keep it).
    pub settle: Option<fn()>,
}

/// The wire socket's buffers where the process may exceed the kernel's
/// `rmem_max` (root or `CAP_NET_ADMIN`): a link's egress may have 20 ms
/// of its rate queued (25 MB at 10 Gb/s) and sends it at once, and a
/// receiver descheduled meanwhile on a busy host must hold it all. Within
/// `rmem_max` (4 MiB here, so 8 MiB of buffer) a thousand connections
/// through one gateway pair lost frames to the kernel, and smoltcp
/// connections whose both directions timed out then never recovered
/// (BENCHMARKS.md, Hardening).
const WIRE_BUFFER_FORCED: libc::c_int = 128 << 20;

/// Raises both of `s`'s buffers to `bytes` past the kernel's limits, if
/// the process is allowed to; otherwise leaves them as they are.
fn force_buffers(s: &socket2::Socket, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
        // SAFETY: the descriptor is the live socket `s` owns, and the
        // option value is a c_int whose size is passed with it.
        let _ = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                std::ptr::from_ref(&bytes).cast(),
                std::mem::size_of_val(&bytes) as libc::socklen_t,
            )
        };
    }
}

fn wire_socket(bind: IpAddr, port: Option<u16>) -> std::io::Result<tokio::net::UdpSocket> {
    let addr = SocketAddr::new(bind, port.unwrap_or(0));
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        None,
    )?;
    // Bursts of jumbo frames overflow the default 208 KiB buffers.
    let _ = s.set_recv_buffer_size(16 << 20);
    let _ = s.set_send_buffer_size(16 << 20);
    force_buffers(&s, WIRE_BUFFER_FORCED);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(s.into())
}

/// The peers' addresses and the run's certificate.
async fn peers(lines: &mut Lines, n: usize) -> Result<(Vec<SocketAddr>, Option<Tls>), NodeError> {
    match next(lines).await? {
        ToNode::Peers {
            peers,
            tls_cert,
            tls_key,
        } => {
            if peers.len() != n {
                let e = HandshakeError::PeerCount {
                    got: peers.len(),
                    want: n,
                };
                return Err(e.into());
            }
            let hex = |h: &Option<String>| h.as_deref().and_then(crate::quic::from_hex);
            let tls = match (hex(&tls_cert), hex(&tls_key)) {
                (Some(cert), Some(key)) => Some(Tls { cert, key }),
                _ => None,
            };
            Ok((peers, tls))
        }
        got => Err(HandshakeError::Unexpected { want: "peers", got }.into()),
    }
}

/// Runs satellite `cfg.me` to the end of the scenario, as an OS process.
pub async fn run(cfg: NodeConfig) -> Result<(), NodeError> {
    let scenario = Arc::new(cfg.scenario);
    let name = scenario.world.name(cfg.me).to_owned();
    let report = Reporter::stdout();
    let sock = wire_socket(cfg.bind, cfg.port)?;
    let port = sock.local_addr()?.port();
    report.emit(Event::Bound {
        sat: name.clone(),
        port,
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let n = scenario.world.nodes() as usize;
    let (addrs, tls) = peers(&mut lines, n).await?;
    // Only the neighbours' addresses are kept (before the memory freed by
    // set-up goes back to the system).
    let neighbours = scenario.world.links_of(cfg.me).map(|(_, p)| p);
    let peers = Peers::new(neighbours.filter_map(|p| Some((p, *addrs.get(p.index())?))));
    drop(addrs);
    let wire = crate::wire::WireIo::Udp(crate::wire::UdpWire::new(sock)?);
    let (mut sat, tasks) = Satellite::new(Setup {
        scenario: scenario.clone(),
        me: cfg.me,
        token: cfg.token,
        restarted: cfg.restarted,
        shared: None,
    })?;
    let listeners = crate::tasks::bind_gateways(&tasks).await?;
    if let Some(settle) = cfg.settle {
        settle();
    }
    report.emit(Event::Ready { sat: name });
    let start = match next(&mut lines).await? {
        ToNode::Start { start_unix_ns } => start_unix_ns,
        got => return Err(HandshakeError::Unexpected { want: "start", got }.into()),
    };
    let clock = crate::clock::VirtualClock::from_unix(start, scenario.tdf);
    // No test talks to a satellite process; its gateways do.
    let (commands_tx, commands) = tokio::sync::mpsc::unbounded_channel();
    let s = crate::tasks::Start {
        scenario: &scenario,
        me: cfg.me,
        clock,
        tls: tls.as_ref(),
        report: &report,
        commands: &commands_tx,
    };
    crate::tasks::start(&s, tasks, listeners)?;
    sat.begin(if cfg.restarted {
        clock.now()
    } else {
        SimTime::ZERO
    });
    crate::driver::add_captures(&mut sat, scenario.epoch, cfg.captures)?;
    let io = NodeIo {
        wire,
        control: Control::Stdio(lines),
        report,
        peers,
        clock,
        commands,
    };
    crate::driver::drive(sat, io).await
}
