//! The receiving end of a node's offload legs: a slot per part it
//! receives, which keeps the part's checked bytes from one session to the
//! next, and the listeners that take sessions in (a TCP listener per slot,
//! listening anew as each connection opens; or the QUIC endpoint's accept
//! loop). A new session for a slot ends the one before it, whose path is
//! gone.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use orbnet_netem::SimTime;
use orbnet_netem::workload::offload::Leg;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;

use super::leg::open_tcp;
use super::session::{Hello, Holder, Part, SessionError, read_hello, serve};
use crate::clock::VirtualClock;
use crate::command::Command;
use crate::stream::TcpStream;

/// How a session in progress is ended from outside.
#[derive(Debug)]
pub(super) enum Ender {
    Tcp(TcpStream),
    Quic(quinn::Connection),
}

impl Ender {
    fn end(self) {
        match self {
            Ender::Tcp(s) => s.abort(),
            Ender::Quic(c) => c.close(quinn::VarInt::from_u32(1), b"superseded"),
        }
    }
}

/// How a part's receiving ended: when its last byte was checked, or why
/// it never will be.
pub(super) type Finish = Result<SimTime, String>;

/// One part a node receives.
#[derive(Debug)]
pub(super) struct Slot {
    pub leg: Leg,
    pub k: usize,
    pub part: Part,
    clock: VirtualClock,
    state: Mutex<SlotState>,
    finish: watch::Sender<Option<Finish>>,
}

#[derive(Debug, Default)]
struct SlotState {
    have: u64,
    sessions: u32,
    /// When the first session began.
    first: Option<SimTime>,
    current: Option<Ender>,
}

impl Slot {
    pub(super) fn new(leg: Leg, k: usize, part: Part, clock: VirtualClock) -> Slot {
        Slot {
            leg,
            k,
            part,
            clock,
            state: Mutex::default(),
            finish: watch::Sender::new(None),
        }
    }

    fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A session begins: the one before it, if any, is ended.
    fn begin(&self, ender: Ender) {
        let old = {
            let mut s = self.state();
            s.sessions += 1;
            s.first.get_or_insert(self.clock.now());
            s.current.replace(ender)
        };
        if let Some(old) = old {
            old.end();
        }
    }

    /// Sessions so far, and when the first began.
    pub(super) fn sessions(&self) -> (u32, Option<SimTime>) {
        let s = self.state();
        (s.sessions, s.first)
    }

    /// Waits until the part is whole or failed, or `deadline` passes.
    pub(super) async fn finished(&self, deadline: SimTime) -> Finish {
        let mut rx = self.finish.subscribe();
        let wait = rx.wait_for(Option::is_some);
        match tokio::time::timeout_at(self.clock.wall(deadline), wait).await {
            Ok(Ok(v)) => v.clone().unwrap_or_else(|| Err("no outcome".into())),
            Ok(Err(_)) => Err("the slot is gone".into()),
            Err(_) => Err(format!(
                "timed out at {:.3} s with {} of {} bytes",
                deadline.as_secs_f64(),
                self.have(),
                self.part.len
            )),
        }
    }

    /// Sets the outcome, once.
    fn settle(&self, f: Finish) {
        self.finish.send_if_modified(|v| {
            if v.is_some() {
                return false;
            }
            *v = Some(f);
            true
        });
    }
}

impl Holder for Slot {
    fn have(&self) -> u64 {
        self.state().have
    }

    fn advance(&self, to: u64) {
        let whole = {
            let mut s = self.state();
            s.have = s.have.max(to);
            s.have == self.part.len
        };
        if whole {
            self.settle(Ok(self.clock.now()));
        }
    }

    fn fail(&self, why: String) {
        self.settle(Err(why));
    }
}

/// The slots of one node for one offload workload.
#[derive(Debug)]
pub(super) struct Inbox {
    pub workload: usize,
    pub slots: Vec<Arc<Slot>>,
}

impl Inbox {
    /// The slot a HELLO is for.
    fn slot(&self, hello: &Hello) -> Result<Arc<Slot>, SessionError> {
        let found = self.slots.iter().find(|s| {
            hello.workload as usize == self.workload
                && s.leg == hello.leg
                && s.k == usize::from(hello.part)
        });
        match found {
            Some(s) if s.part.len == hello.len => Ok(s.clone()),
            Some(s) => Err(SessionError::Protocol(format!(
                "part {} of the {} is {} bytes, not {}",
                s.k, s.leg, s.part.len, hello.len
            ))),
            None => Err(SessionError::Protocol(format!(
                "no {} part {} of workload {} here",
                hello.leg, hello.part, hello.workload
            ))),
        }
    }

    /// Serves one session whose HELLO was `hello`.
    async fn session<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        s: &mut S,
        hello: Hello,
        ender: Ender,
    ) -> Result<(), SessionError> {
        let slot = self.slot(&hello)?;
        slot.begin(ender);
        serve(s, &slot.part, &*slot).await
    }
}

/// Takes sessions for `slot` on TCP `port`, one connection after another,
/// listening anew as soon as one opens.
pub(super) async fn listen_tcp(
    inbox: Arc<Inbox>,
    port: u16,
    buffer: usize,
    commands: UnboundedSender<Command>,
) {
    loop {
        let mut stream = match open_tcp(&commands, None, port, buffer).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(workload = inbox.workload, port, "offload listener: {e}");
                return;
            }
        };
        // A connection opens when its HELLO comes.
        let hello = match read_hello(&mut stream).await {
            Ok(h) => h,
            Err(e) => {
                tracing::debug!(workload = inbox.workload, port, "offload connection: {e}");
                stream.abort();
                continue;
            }
        };
        let inbox = inbox.clone();
        tokio::spawn(async move {
            let ender = Ender::Tcp(stream.clone());
            if let Err(SessionError::Protocol(e)) = inbox.session(&mut stream, hello, ender).await {
                tracing::warn!(workload = inbox.workload, "offload session refused: {e}");
                stream.abort();
            }
        });
    }
}

/// Takes sessions on a QUIC endpoint: a bidirectional stream a connection.
pub(super) async fn accept_quic(inbox: Arc<Inbox>, ep: quinn::Endpoint) {
    while let Some(incoming) = ep.accept().await {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            let Ok(conn) = incoming.await else { return };
            let Ok((send, recv)) = conn.accept_bi().await else {
                return;
            };
            let mut s = tokio::io::join(recv, send);
            let r = match read_hello(&mut s).await {
                Ok(hello) => {
                    inbox
                        .session(&mut s, hello, Ender::Quic(conn.clone()))
                        .await
                }
                Err(e) => Err(e),
            };
            match r {
                // The sender closes once it has DONE (or the path goes).
                Ok(()) => {
                    conn.closed().await;
                }
                Err(e) => {
                    tracing::debug!(workload = inbox.workload, "offload session: {e}");
                    conn.close(quinn::VarInt::from_u32(2), b"refused");
                }
            }
        });
    }
}
