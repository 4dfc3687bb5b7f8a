//! The driver: runs a [`Satellite`] on a runtime for either harness. It
//! reads the one clock, moves frames between the satellite and its wire,
//! reports its events, and sleeps until the satellite's next timer, a
//! frame, a request, or word from the launcher.
//!
//! At the end it sends an end marker on each of its links, after its last
//! frame, and drains the wire: frames its neighbours sent before they
//! stopped are still arriving, and each is counted as in flight at the
//! stop. The drain lasts until every neighbour whose link is not down has
//! sent its end marker (the wire between two satellites keeps order, so
//! its frames have all come) and then the wire has been quiet for
//! [`DRAIN_QUIET`]; at most [`DRAIN_MAX`] (a neighbour that crashed, a
//! flood from outside, cannot hold a satellite up). Then the satellite
//! makes its last report, with the kernel's drops on its wire socket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use orbnet_netem::SatId;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::clock::VirtualClock;
use crate::command::Command;
use crate::report::Reporter;
use crate::satellite::Satellite;
use crate::wire::{Received, WireIo};

/// How long the wire must be quiet before a satellite that has stopped
/// makes its last report (wall time; paused time in-process).
pub const DRAIN_QUIET: Duration = Duration::from_millis(50);
/// The longest a satellite drains its wire after it stopped.
pub const DRAIN_MAX: Duration = Duration::from_secs(1);

/// Why a satellite stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("wire socket: {0}")]
    Socket(#[from] std::io::Error),
    #[error("launcher protocol: {0}")]
    Protocol(#[from] crate::protocol::HandshakeError),
    #[error("{0}")]
    Setup(#[from] crate::stack::SocketError),
    #[error("{0}")]
    Start(#[from] crate::tasks::StartError),
    #[error("capture {path}: {source}")]
    Capture {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the launcher went away")]
    Orphaned,
}

/// The wire addresses of a satellite's neighbours (the far ends of its
/// candidate links: the only nodes it sends frames to or takes them
/// from), both ways. Every node's would be two tables of the whole world
/// in every satellite process (some 400 kB for 4,408 satellites).
#[derive(Debug)]
pub struct Peers {
    addrs: HashMap<SatId, SocketAddr>,
    by_addr: HashMap<SocketAddr, SatId>,
}

impl Peers {
    /// The neighbours' addresses.
    pub fn new(neighbours: impl IntoIterator<Item = (SatId, SocketAddr)>) -> Peers {
        let addrs: HashMap<SatId, SocketAddr> = neighbours.into_iter().collect();
        let by_addr = addrs.iter().map(|(&s, &a)| (a, s)).collect();
        Peers { addrs, by_addr }
    }

    fn addr(&self, sat: SatId) -> Option<SocketAddr> {
        self.addrs.get(&sat).copied()
    }

    fn sat(&self, addr: SocketAddr) -> Option<SatId> {
        self.by_addr.get(&addr).copied()
    }
}

/// The launcher's lines on stdin (process harness).
pub type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>;

/// The launcher's next message.
pub(crate) async fn next(lines: &mut Lines) -> Result<crate::protocol::ToNode, NodeError> {
    match lines.next_line().await {
        Ok(Some(l)) => {
            let m = serde_json::from_str(&l).map_err(crate::protocol::HandshakeError::from)?;
            Ok(m)
        }
        _ => Err(NodeError::Orphaned),
    }
}

/// The launcher's side of the conversation, as the driver hears it.
#[derive(Debug)]
pub enum Control {
    /// JSON lines on stdin (process harness).
    Stdio(Lines),
    /// Becomes true once every workload is over (in-process harness).
    Mem(tokio::sync::watch::Receiver<bool>),
}

impl Control {
    /// Waits for word from the launcher: whether it says to stop.
    async fn next(&mut self) -> Result<bool, NodeError> {
        match self {
            Control::Stdio(lines) => Ok(next(lines).await? == crate::protocol::ToNode::Stop),
            Control::Mem(rx) => {
                rx.changed().await.map_err(|_| NodeError::Orphaned)?;
                Ok(*rx.borrow())
            }
        }
    }
}

/// Everything a satellite meets: its wire, its launcher, the clock.
#[derive(Debug)]
pub struct NodeIo {
    pub wire: WireIo,
    pub control: Control,
    pub report: Reporter,
    pub peers: Peers,
    pub clock: VirtualClock,
    pub commands: UnboundedReceiver<Command>,
}

impl NodeIo {
    /// Sends the satellite's frames, reports its events, splices the
    /// connections its egress gateways opened.
    fn exchange(&mut self, sat: &mut Satellite) {
        let mut lost = 0;
        while let Some(t) = sat.poll_transmit() {
            match self.peers.addr(t.to) {
                Some(addr) => lost += self.wire.send_to(t.frame, addr).1,
                None => lost += 1,
            }
        }
        lost += self.wire.flush().1;
        sat.count_send_errors(lost);
        while let Some(e) = sat.poll_event() {
            self.report.emit(e);
        }
        while let Some((stream, forward)) = sat.poll_splice() {
            tokio::spawn(crate::gateway::tcp_egress(stream, forward));
        }
    }

    /// Hands every frame waiting on the wire to the satellite.
    fn receive(&mut self, sat: &mut Satellite, first: Received, buf: &mut [u8]) {
        let mut next = Some(first);
        // The first read, and up to 1024 more of what is waiting, without blocking.
        for _ in 0..=1024 {
            let Some(got) = next else { break };
            let now = self.clock.now();
            match got {
                Received::Batch {
                    bytes,
                    stride,
                    from,
                } => {
                    let from_sat = self.peers.sat(from);
                    for f in buf[..bytes].chunks(stride) {
                        sat.handle_frame(now, from_sat, f);
                    }
                }
                Received::Owned(from, frame) => {
                    sat.handle_owned_frame(now, self.peers.sat(from), frame);
                }
            }
            next = self.wire.try_recv_from(buf).ok();
        }
    }

    /// Sends the end markers, then takes what arrives on the wire until
    /// every awaited end marker has come and the wire has been quiet for
    /// [`DRAIN_QUIET`], for at most [`DRAIN_MAX`]. The markers are no
    /// frames of the run: one that fails to leave is not counted.
    async fn drain(&mut self, sat: &mut Satellite, buf: &mut [u8]) {
        for t in sat.end_frames() {
            if let Some(addr) = self.peers.addr(t.to) {
                self.wire.send_to(t.frame, addr);
            }
        }
        self.wire.flush();
        let deadline = tokio::time::Instant::now() + DRAIN_MAX;
        loop {
            let quiet = if sat.awaits_ends() {
                deadline
            } else {
                (tokio::time::Instant::now() + DRAIN_QUIET).min(deadline)
            };
            match tokio::time::timeout_at(quiet, self.wire.recv_from(buf)).await {
                Ok(Ok(first)) => self.receive(sat, first, buf),
                Ok(Err(_)) | Err(_) => return,
            }
        }
    }
}

/// Opens the capture files asked for: every link of `sat` (`None`) or
/// only those to one peer.
pub fn add_captures(
    sat: &mut Satellite,
    epoch: chrono::DateTime<chrono::Utc>,
    captures: Vec<(std::path::PathBuf, Option<SatId>)>,
) -> Result<(), NodeError> {
    let epoch_ns = i128::from(epoch.timestamp_nanos_opt().unwrap_or(0));
    for (path, peer) in captures {
        let links = peer.map(|p| sat.links_to(p));
        match crate::pcap::Capture::create(&path, links, epoch_ns) {
            Ok(c) => sat.add_capture(c),
            Err(source) => return Err(NodeError::Capture { path, source }),
        }
    }
    Ok(())
}

/// Runs `sat` to the end of its run.
pub async fn drive(mut sat: Satellite, mut io: NodeIo) -> Result<(), NodeError> {
    let notify = sat.notify();
    let mut buf = vec![0u8; 65_536];
    loop {
        sat.handle_timeout(io.clock.now());
        io.exchange(&mut sat);
        if sat.is_finished() {
            io.drain(&mut sat, &mut buf).await;
            sat.close(io.wire.kernel_drops());
            io.exchange(&mut sat);
            return Ok(());
        }
        let wake = io.clock.wall(sat.poll_timeout());
        // `biased`: branches are polled in order, so a run of the in-process
        // harness makes the same choices every time. The rarely ready ones
        // come first so that a busy wire cannot starve them; whichever wakes
        // the loop, the next turn processes everything due, so the timer
        // comes last.
        tokio::select! {
            biased;
            Some(c) = io.commands.recv() => sat.handle_command(io.clock.now(), c),
            stop = io.control.next() => {
                if stop? {
                    sat.handle_command(io.clock.now(), Command::Stop);
                }
            }
            r = io.wire.recv_from(&mut buf) => io.receive(&mut sat, r?, &mut buf),
            _ = notify.notified() => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}
