//! The sending end of a leg: sessions during contacts, sleep between them.
//!
//! At each turn the sender asks the world whether a route joins it to the
//! receiver now ([`Contacts`]). If none does it sleeps until the next
//! contact begins (in-process, virtual time jumps there); if one does it
//! opens a session and races it against the end of the contact, which it
//! also knows from the geometry: when the contact ends first, the session
//! is dropped (its TCP socket reset, its QUIC connection closed, so neither
//! retransmits into the gap) and the next contact resumes it where the
//! receiver's copy ends.
//!
//! Why not keep one connection across the gap: smoltcp backs its
//! retransmission timeout off to 60 s, and quinn its probe timeout to 2¹⁶
//! round trips, so a connection that outlived an hour without a path would
//! find the next pass minutes late (a pass at 325 km lasts at most about
//! five minutes over a 10° mask), and QUIC's idle timeout would have to
//! outlast the longest gap.

use std::sync::Arc;

use orbnet_netem::contact::Contacts;
use orbnet_netem::workload::offload::{Leg, Offload};
use orbnet_netem::{SatId, Scenario, SimDuration, SimTime};
use tokio::sync::mpsc::UnboundedSender;

use super::session::{Hello, Part, SessionError, push};
use crate::clock::VirtualClock;
use crate::command::Command;
use crate::protocol::{OffloadReport, OffloadRole};
use crate::stream::TcpStream;

/// How far ahead the end of a contact under way is looked for at a time
/// (the search costs a snapshot per step while a route holds).
const HORIZON: SimDuration = SimDuration::from_millis(900_000);
/// How long a sender waits after a session failed within a contact before
/// it tries again (a refused connection, a handshake that broke).
const RETRY: SimDuration = SimDuration::from_millis(1_000);

/// How a node opens connections for its offload workload.
#[derive(Debug)]
pub(super) enum Dialer {
    /// Through its satellite's stack: sockets opened on request.
    Tcp {
        commands: UnboundedSender<Command>,
    },
    Quic(quinn::Endpoint),
}

/// What every task of one node's offload shares.
#[derive(Debug)]
pub(super) struct Cx {
    pub scenario: Arc<Scenario>,
    pub w: usize,
    pub o: Offload,
    pub me: SatId,
    pub clock: VirtualClock,
    pub report: crate::report::Reporter,
    /// When the workload gives up.
    pub deadline: SimTime,
    pub dialer: Dialer,
}

impl Cx {
    pub(super) fn contacts(&self) -> Contacts<'_> {
        Contacts::new(&self.scenario.world, self.scenario.routing_interval)
    }

    pub(super) fn name(&self, node: SatId) -> String {
        self.scenario.world.name(node).to_owned()
    }

    /// Part `k` of leg `leg`: the leg's keyed content at the part's offset.
    pub(super) fn part(&self, leg: Leg, k: usize) -> Part {
        let (offset, len) = self.o.share(leg, k);
        let id = match leg {
            Leg::Uplink => 0,
            Leg::Downlink => 1,
        };
        let key = orbnet_netem::rng::stream_seed(
            self.scenario.seed,
            orbnet_netem::rng::Domain::Satellite,
            0x0FF_0000 + 2 * self.w as u64 + id,
        );
        Part {
            content: crate::bulk::Content::new(key),
            offset,
            len,
        }
    }

    /// The port the receiver of part `k`'s leg `leg` takes sessions on.
    pub(super) fn port(&self, leg: Leg, k: usize) -> u16 {
        match self.dialer {
            Dialer::Tcp { .. } => self.scenario.ports.offload(self.w, leg, k),
            Dialer::Quic(_) => orbnet_netem::ports::PortPlan::quic(self.w),
        }
    }

    /// The path of part `k`'s leg `leg` at its first contact after the
    /// workload's start (within a day), to size windows by.
    pub(super) fn first_path(&self, leg: Leg, k: usize) -> Option<orbnet_netem::routing::Path> {
        let (a, b) = self.o.ends(leg, k)?;
        let day = self.o.start + SimDuration::from_millis(86_400_000);
        let at = self
            .contacts()
            .next(a, b, self.o.start, day.min(self.deadline))?;
        let grid = self.scenario.routing_interval;
        let instant = orbnet_netem::scenario::routing_instant(at, grid);
        self.scenario.world.path(instant, a, b)
    }

    /// A TCP connection's buffers for part `k`'s leg `leg`: its path's
    /// bandwidth-delay product and a quarter more, within [1 MiB, 64 MiB]
    /// (as a bulk transfer's).
    pub(super) fn tcp_buffer(&self, leg: Leg, k: usize) -> usize {
        let bdp = self
            .first_path(leg, k)
            .map_or(0.0, |p| p.bdp_bytes() * 1.25);
        (bdp as usize).clamp(1 << 20, 64 << 20)
    }
}

/// Asks the satellite for a TCP stream (see [`Command::TcpOpen`]).
pub(super) async fn open_tcp(
    commands: &UnboundedSender<Command>,
    to: Option<SatId>,
    port: u16,
    buffer: usize,
) -> Result<TcpStream, String> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    let gone = || "the node is gone".to_owned();
    commands
        .send(Command::TcpOpen {
            to,
            port,
            buffer,
            reply,
        })
        .map_err(|_| gone())?;
    rx.await.map_err(|_| gone())?
}

/// Resets a TCP connection when dropped, unless disarmed.
struct AbortOnDrop(Option<TcpStream>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.abort();
        }
    }
}

/// Closes a QUIC connection when dropped.
struct CloseOnDrop(quinn::Connection);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close(quinn::VarInt::from_u32(0), b"session over");
    }
}

impl Dialer {
    /// One session to `to`:`port`, from HELLO to DONE.
    async fn session(
        &self,
        to: SatId,
        port: u16,
        buffer: usize,
        hello: Hello,
        part: &Part,
    ) -> Result<(), SessionError> {
        match self {
            Dialer::Tcp { commands } => {
                let stream = open_tcp(commands, Some(to), port, buffer)
                    .await
                    .map_err(SessionError::Protocol)?;
                let mut guard = AbortOnDrop(Some(stream.clone()));
                let mut s = stream;
                let r = push(&mut s, hello, part).await;
                if r.is_ok() {
                    // Done: close it the usual way.
                    guard.0 = None;
                }
                r
            }
            Dialer::Quic(ep) => {
                let addr = crate::addr::socket(to, port);
                let connecting = ep
                    .connect(addr, crate::quic::SERVER_NAME)
                    .map_err(|e| SessionError::Protocol(format!("connect: {e}")))?;
                let conn = connecting
                    .await
                    .map_err(|e| SessionError::Broken(std::io::Error::other(e)))?;
                let _close = CloseOnDrop(conn.clone());
                let (send, recv) = conn
                    .open_bi()
                    .await
                    .map_err(|e| SessionError::Broken(std::io::Error::other(e)))?;
                let mut s = tokio::io::join(recv, send);
                push(&mut s, hello, part).await
            }
        }
    }
}

/// How a leg ended, as its sender saw it.
struct Sent {
    end: Option<SimTime>,
    waits: Vec<[f64; 2]>,
    sessions: u32,
    error: Option<String>,
}

/// Sends part `k` of leg `leg`, from `start`, session after session, until
/// the receiver holds all of it; reports how it went.
pub(super) async fn send_leg(cx: &Cx, leg: Leg, k: usize, start: SimTime) -> OffloadReport {
    tokio::time::sleep_until(cx.clock.wall(start)).await;
    let part = cx.part(leg, k);
    let sent = match cx.o.ends(leg, k) {
        Some((me, peer)) => run(cx, leg, k, (me, peer), &part).await,
        None => Sent {
            end: None,
            waits: Vec::new(),
            sessions: 0,
            error: Some(format!("no part {k}")),
        },
    };
    OffloadReport {
        workload: cx.w,
        part: k,
        node: cx.name(cx.me),
        role: match leg {
            Leg::Uplink => OffloadRole::UplinkSend,
            Leg::Downlink => OffloadRole::DownlinkSend,
        },
        start_s: start.as_secs_f64(),
        end_s: sent.end.map(SimTime::as_secs_f64),
        bytes: part.len,
        received: 0,
        waits: sent.waits,
        sessions: sent.sessions,
        verified: sent.error.is_none(),
        error: sent.error,
    }
}

/// The sender's loop: wait for a contact, run a session until it ends or
/// the contact does, again until done or out of time.
async fn run(cx: &Cx, leg: Leg, k: usize, (me, peer): (SatId, SatId), part: &Part) -> Sent {
    let contacts = cx.contacts();
    let hello = Hello {
        workload: cx.w as u32,
        leg,
        part: k as u16,
        len: part.len,
    };
    let (port, buffer) = (cx.port(leg, k), cx.tcp_buffer(leg, k));
    let mut out = Sent {
        end: None,
        waits: Vec::new(),
        sessions: 0,
        error: None,
    };
    loop {
        let now = cx.clock.now();
        if now >= cx.deadline {
            let (a, b) = (cx.name(me), cx.name(peer));
            out.error = Some(format!(
                "{leg} {a} → {b} timed out at {:.3} s after {} sessions",
                now.as_secs_f64(),
                out.sessions
            ));
            return out;
        }
        if !contacts.connected(me, peer, now) {
            let Some(next) = contacts.next(me, peer, now, cx.deadline) else {
                out.error = Some(format!(
                    "no route from {} to {} between {:.3} s and the deadline at {:.3} s",
                    cx.name(me),
                    cx.name(peer),
                    now.as_secs_f64(),
                    cx.deadline.as_secs_f64()
                ));
                return out;
            };
            out.waits.push([now.as_secs_f64(), next.as_secs_f64()]);
            tokio::time::sleep_until(cx.clock.wall(next)).await;
            continue;
        }
        out.sessions += 1;
        let session = cx.dialer.session(peer, port, buffer, hello, part);
        let lost = contact_lost(cx, (me, peer));
        tokio::select! {
            biased;
            r = session => match r {
                Ok(()) => {
                    out.end = Some(cx.clock.now());
                    return out;
                }
                Err(SessionError::Protocol(e)) => {
                    out.error = Some(e);
                    return out;
                }
                Err(SessionError::Broken(e)) => {
                    tracing::debug!(workload = cx.w, part = k, "{leg} session broke: {e}");
                    let again = cx.clock.now() + RETRY;
                    tokio::time::sleep_until(cx.clock.wall(again.min(cx.deadline))).await;
                }
            },
            () = lost => {}
        }
    }
}

/// Returns when the contact under way between `a` and `b` ends (or the
/// workload's deadline comes).
async fn contact_lost(cx: &Cx, (a, b): (SatId, SatId)) {
    let contacts = cx.contacts();
    loop {
        let now = cx.clock.now();
        let horizon = (now + HORIZON).min(cx.deadline);
        let until = match contacts.end(a, b, now, horizon) {
            Some(end) => end,
            None if horizon >= cx.deadline => cx.deadline,
            None => {
                tokio::time::sleep_until(cx.clock.wall(horizon)).await;
                continue;
            }
        };
        tokio::time::sleep_until(cx.clock.wall(until)).await;
        return;
    }
}
