//! The protocol between the hosts of a split run and host 0, which
//! coordinates: typed messages, one JSON document each, behind a 4-byte
//! big-endian length, over one TCP connection per host.
//!
//! ```text
//! host                                   coordinator (host 0)
//!  Hello {versions, index, hosts, hashes} ─►   every host joined, all agree
//!                                       ◄──  Welcome {token} | Refused
//!  Clock {t1} ×8                         ──►
//!                                       ◄──  Clock {t1, t2, t3}
//!  Offset {θ, ±}                         ──►   every host measured
//!                                       ◄──  Launch
//!  Bound {sat, addr}, Event {sat, e}     ──►   the satellites' handshake,
//!                                       ◄──  Node {to, msg}      relayed
//!                                       ◄──  Crash | Restart {sat}
//!  Alive (every 250 ms, both ways)     ◄─►  Alive
//!  Failed {why}                          ──►   a satellite died, a signal
//!                                       ◄──  Finish {failure}
//!  Finished {wall}                       ──►
//! ```
//!
//! It is not a scheduler: which host runs which satellite is the
//! placement, computed by every host alike; starting, restarting and
//! addressing hosts is the engine's (Kubernetes, Slurm, MPI). The run's
//! certificate for QUIC between emulated satellites travels in the clear
//! (relayed with the peers' addresses): it is made for the run and
//! protects nothing outside it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use orbnet_node::protocol::{Event, ToNode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

use super::clock::Offset;

/// Bumped whenever a message changes.
pub(super) const VERSION: u32 = 1;
/// The longest message accepted (the peers list of 100 000 satellites
/// fits in a few megabytes).
const MAX_MESSAGE: u32 = 64 << 20;
/// How often each side says it is alive.
pub(super) const ALIVE_EVERY: Duration = Duration::from_millis(250);

/// Who a host is and what it runs: every host must agree with host 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Hello {
    /// [`VERSION`].
    pub protocol: u32,
    /// orbnet's version: every host must run the same build.
    pub orbnet: String,
    pub index: u32,
    pub hosts: u32,
    /// The scenario with its files and overrides ([`super::scenario_digest`]).
    pub scenario: u64,
    /// [`orbnet_netem::placement::Placement::digest`].
    pub placement: u64,
}

/// What a host tells the coordinator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(super) enum ToCoordinator {
    Hello(Hello),
    /// A clock probe sent at `t1` (host clock, Unix ns).
    Clock {
        t1: u64,
    },
    /// The host's clock against the coordinator's.
    Offset(Offset),
    /// Satellite `sat` bound its wire to `addr`.
    Bound {
        sat: u32,
        addr: SocketAddr,
    },
    /// Satellite `sat` reported `event`.
    Event {
        sat: u32,
        event: Event,
    },
    /// The run fails: a satellite died, a signal came.
    Failed {
        why: String,
    },
    Alive,
    /// Every satellite of the host has stopped, `wall_s` after it started.
    Finished {
        wall_s: f64,
    },
}

/// What the coordinator tells a host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub(super) enum ToHost {
    /// Every host joined and agrees: the run's token (the certificate for
    /// QUIC comes to the satellites with their peers' addresses).
    Welcome {
        token: u64,
    },
    /// The hosts disagree: every host stops (exit 2).
    Refused {
        why: String,
    },
    /// The answer to a probe: received at `t2`, sent at `t3` (coordinator
    /// clock, Unix ns).
    Clock {
        t1: u64,
        t2: u64,
        t3: u64,
    },
    /// Every host has measured its clock: start the satellites.
    Launch,
    /// A message for satellites of this host.
    Node {
        to: Target,
        msg: ToNode,
    },
    /// Kill satellite `sat` (a crash on the fault schedule).
    Crash {
        sat: u32,
    },
    /// Start it again.
    Restart {
        sat: u32,
    },
    Alive,
    /// The run is over (failed if `failure` says why): stop everything.
    Finish {
        failure: Option<String>,
    },
}

/// Which satellites a relayed message goes to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Target {
    /// Every satellite of the host but these (restarting ones).
    All {
        except: Vec<u32>,
    },
    One(u32),
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub(super) enum LinkError {
    #[error("connection closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("a message of {0} bytes (at most {MAX_MESSAGE})")]
    TooLong(u32),
    #[error("not a message: {0}")]
    Malformed(#[from] serde_json::Error),
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Reads one message.
pub(super) async fn read<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
) -> Result<T, LinkError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(LinkError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_MESSAGE {
        return Err(LinkError::TooLong(len));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

/// Writes one message.
pub(super) async fn write<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    m: &T,
) -> Result<(), LinkError> {
    let body = serde_json::to_vec(m)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|l| *l <= MAX_MESSAGE)
        .ok_or(LinkError::TooLong(u32::MAX))?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    w.write_all(&frame).await?;
    Ok(())
}

/// What a connection delivers: a message, or its end.
#[derive(Debug)]
pub(super) enum Incoming<T> {
    Message(T),
    Closed(LinkError),
}

/// One end of a connection: messages out through a writer task, messages
/// in through a reader task into a shared inbox, tagged with `tag`.
///
/// The tasks, not the caller, keep the connection alive: the writer sends
/// the `alive` message every [`ALIVE_EVERY`], and the reader notes when
/// anything last came in ([`Link::silent_for`]). Both run on a thread of
/// their own, so a launcher whose loop is busy (a message relayed to a
/// thousand satellites' pipes, a burst of their events) still speaks and
/// still hears, and a message that waits in the inbox behind others
/// counts from its arrival. A thread that sleeps between heartbeats is
/// also what the kernel schedules promptly beside thousands of busy
/// satellite processes (see [`super::SATELLITE_NICE`]); a task on the
/// launcher's own busy thread is not.
#[derive(Debug)]
pub(super) struct Link<O> {
    tx: mpsc::UnboundedSender<O>,
    /// Fires when the writer has sent what was queued and stopped.
    written: Option<oneshot::Receiver<()>>,
    /// Stops the reader (and the thread) when sent or dropped.
    stop: Option<oneshot::Sender<()>>,
    /// When the link was made.
    born: Instant,
    /// When the last message came in, in milliseconds after `born`.
    heard_ms: Arc<AtomicU64>,
}

impl<O: Serialize + Clone + Send + Sync + 'static> Link<O> {
    /// Serves `stream` from a thread of its own: what arrives goes to
    /// `inbox` as `(tag, …)`, and `alive` goes out whenever
    /// [`ALIVE_EVERY`] passes. Fails only when no thread can be made.
    pub(super) fn new<I: DeserializeOwned + Send + 'static>(
        stream: TcpStream,
        tag: usize,
        inbox: mpsc::UnboundedSender<(usize, Incoming<I>)>,
        alive: O,
    ) -> std::io::Result<Link<O>> {
        // Clock probes and small messages go out at once.
        let _ = stream.set_nodelay(true);
        let stream = stream.into_std()?;
        let (tx, rx) = mpsc::unbounded_channel::<O>();
        let (written_tx, written) = oneshot::channel();
        let (stop, stopped) = oneshot::channel();
        let born = Instant::now();
        let heard_ms = Arc::new(AtomicU64::new(0));
        let heard = Arc::clone(&heard_ms);
        std::thread::Builder::new()
            .name(format!("link-{tag}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let e = LinkError::Io(e);
                        let _ = inbox.send((tag, Incoming::Closed(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    let stream = match TcpStream::from_std(stream) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = inbox.send((tag, Incoming::Closed(LinkError::Io(e))));
                            return;
                        }
                    };
                    let (r, w) = stream.into_split();
                    tokio::spawn(async move {
                        speak(w, rx, alive).await;
                        let _ = written_tx.send(());
                    });
                    tokio::select! {
                        _ = hear(r, tag, inbox, born, heard) => {}
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(Link {
            tx,
            written: Some(written),
            stop: Some(stop),
            born,
            heard_ms,
        })
    }

    /// How long since anything came in (or since the link was made).
    pub(super) fn silent_for(&self) -> Duration {
        let heard = Duration::from_millis(self.heard_ms.load(Ordering::Relaxed));
        self.born.elapsed().saturating_sub(heard)
    }

    /// Queues `m`; false once the connection is gone.
    pub(super) fn send(&self, m: O) -> bool {
        self.tx.send(m).is_ok()
    }

    /// Sends what is queued (within a second) and closes the connection.
    pub(super) async fn close(mut self) {
        let (tx, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(written) = self.written.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), written).await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The writer: what `rx` brings, and `alive` whenever [`ALIVE_EVERY`]
/// passes without it; shuts the connection when `rx` ends or a write fails.
async fn speak<O: Serialize + Clone>(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<O>,
    alive: O,
) {
    let first = tokio::time::Instant::now() + ALIVE_EVERY;
    let mut tick = tokio::time::interval_at(first, ALIVE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let m = tokio::select! {
            m = rx.recv() => match m {
                Some(m) => m,
                None => break,
            },
            _ = tick.tick() => alive.clone(),
        };
        if write(&mut w, &m).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
}

/// The reader: every message into `inbox`, its arrival into `heard`
/// (milliseconds after `born`), and the connection's end.
async fn hear<I: DeserializeOwned>(
    mut r: OwnedReadHalf,
    tag: usize,
    inbox: mpsc::UnboundedSender<(usize, Incoming<I>)>,
    born: Instant,
    heard: Arc<AtomicU64>,
) {
    loop {
        let m = read::<_, I>(&mut r).await;
        heard.store(millis(born.elapsed()), Ordering::Relaxed);
        let m = match m {
            Ok(m) => Incoming::Message(m),
            Err(e) => {
                let _ = inbox.send((tag, Incoming::Closed(e)));
                return;
            }
        };
        if inbox.send((tag, m)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_cross_a_connection_in_order_and_its_end_is_seen() {
        let (listener, _) = listen().await;
        let (host, mut host_in, coord, mut coord_in) = pair(&listener, 7, 3).await;
        let sent = [
            ToCoordinator::Clock { t1: 5 },
            ToCoordinator::Event {
                sat: 2,
                event: Event::Ready {
                    sat: "sat-2".into(),
                },
            },
            ToCoordinator::Bound {
                sat: 1,
                addr: "10.0.0.2:4000".parse().expect("addr"),
            },
        ];
        for m in sent.clone() {
            assert!(host.send(m));
        }
        for want in sent {
            match next_but_alive(&mut coord_in).await {
                Some((3, Incoming::Message(got))) => assert_eq!(got, want),
                other => panic!("{other:?}"),
            }
        }
        assert!(coord.send(ToHost::Node {
            to: Target::All { except: vec![4] },
            msg: ToNode::Start { start_unix_ns: 9 },
        }));
        assert!(matches!(
            next_but_alive(&mut host_in).await,
            Some((7, Incoming::Message(ToHost::Node { .. })))
        ));
        host.close().await;
        assert!(matches!(
            next_but_alive(&mut coord_in).await,
            Some((3, Incoming::Closed(LinkError::Closed)))
        ));
    }

    async fn listen() -> (tokio::net::TcpListener, std::net::SocketAddr) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let addr = listener.local_addr().expect("addr");
        (listener, addr)
    }

    type Inbox<T> = mpsc::UnboundedReceiver<(usize, Incoming<T>)>;

    /// A host's end (tagged `host_tag`) and the coordinator's (`coord_tag`)
    /// of one connection through `listener`, with their inboxes.
    async fn pair(
        listener: &tokio::net::TcpListener,
        host_tag: usize,
        coord_tag: usize,
    ) -> (
        Link<ToCoordinator>,
        Inbox<ToHost>,
        Link<ToHost>,
        Inbox<ToCoordinator>,
    ) {
        let addr = listener.local_addr().expect("addr");
        let (host_in_tx, host_in) = mpsc::unbounded_channel();
        let (coord_in_tx, coord_in) = mpsc::unbounded_channel();
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let host = Link::new(client, host_tag, host_in_tx, ToCoordinator::Alive).expect("link");
        let coord = Link::new(server, coord_tag, coord_in_tx, ToHost::Alive).expect("link");
        (host, host_in, coord, coord_in)
    }

    /// The next delivery that is not a heartbeat.
    async fn next_but_alive<T>(
        inbox: &mut mpsc::UnboundedReceiver<(usize, Incoming<T>)>,
    ) -> Option<(usize, Incoming<T>)>
    where
        Incoming<T>: IsAlive,
    {
        loop {
            let m = inbox.recv().await;
            if !m.as_ref().is_some_and(|(_, m)| m.is_alive()) {
                return m;
            }
        }
    }

    trait IsAlive {
        fn is_alive(&self) -> bool;
    }
    impl IsAlive for Incoming<ToHost> {
        fn is_alive(&self) -> bool {
            matches!(self, Incoming::Message(ToHost::Alive))
        }
    }
    impl IsAlive for Incoming<ToCoordinator> {
        fn is_alive(&self) -> bool {
            matches!(self, Incoming::Message(ToCoordinator::Alive))
        }
    }

    /// Each end says it is alive on its own, with nothing else to send and
    /// whatever its owner does, and each notes when it last heard the
    /// other; an end that hears nothing counts its silence.
    #[tokio::test]
    async fn links_keep_themselves_alive_and_count_silence() {
        let (listener, addr) = listen().await;
        let (host, _host_in, coord, mut coord_in) = pair(&listener, 1, 2).await;
        tokio::time::sleep(ALIVE_EVERY * 4).await;
        assert!(
            coord.silent_for() < ALIVE_EVERY * 3,
            "{:?}",
            coord.silent_for()
        );
        assert!(
            host.silent_for() < ALIVE_EVERY * 3,
            "{:?}",
            host.silent_for()
        );
        assert!(matches!(
            coord_in.recv().await,
            Some((2, Incoming::Message(ToCoordinator::Alive)))
        ));

        // A peer that never speaks: the silence grows from the start.
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let (tx, _rx) = mpsc::unbounded_channel::<(usize, Incoming<ToCoordinator>)>();
        let mute: Link<ToHost> = Link::new(server, 3, tx, ToHost::Alive).expect("link");
        tokio::time::sleep(ALIVE_EVERY * 2).await;
        assert!(
            mute.silent_for() >= ALIVE_EVERY * 2,
            "{:?}",
            mute.silent_for()
        );
        drop(client);
    }

    #[tokio::test]
    async fn oversized_and_malformed_messages_are_errors() {
        let mut long: &[u8] = &(MAX_MESSAGE + 1).to_be_bytes();
        assert!(matches!(
            read::<_, ToHost>(&mut long).await,
            Err(LinkError::TooLong(_))
        ));
        let mut junk = Vec::from(3u32.to_be_bytes());
        junk.extend_from_slice(b"{x}");
        assert!(matches!(
            read::<_, ToHost>(&mut junk.as_slice()).await,
            Err(LinkError::Malformed(_))
        ));
        let mut cut: &[u8] = &[0, 0];
        assert!(matches!(
            read::<_, ToHost>(&mut cut).await,
            Err(LinkError::Closed)
        ));
    }
}
