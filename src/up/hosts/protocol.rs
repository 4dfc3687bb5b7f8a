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
//!  Alive (every 250 ms)                 ◄─►  Alive
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
use std::time::Duration;

use orbnet_node::protocol::{Event, ToNode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

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
#[derive(Debug)]
pub(super) struct Link<O> {
    tx: mpsc::UnboundedSender<O>,
    writer: tokio::task::JoinHandle<()>,
    reader: tokio::task::JoinHandle<()>,
}

impl<O: Serialize + Send + Sync + 'static> Link<O> {
    /// Serves `stream`: what arrives goes to `inbox` as `(tag, …)`.
    pub(super) fn new<I: DeserializeOwned + Send + 'static>(
        stream: TcpStream,
        tag: usize,
        inbox: mpsc::UnboundedSender<(usize, Incoming<I>)>,
    ) -> Link<O> {
        // Clock probes and small messages go out at once.
        let _ = stream.set_nodelay(true);
        let (mut r, mut w) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<O>();
        let writer = tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if write(&mut w, &m).await.is_err() {
                    break;
                }
            }
            let _ = w.shutdown().await;
        });
        let reader = tokio::spawn(async move {
            loop {
                match read::<_, I>(&mut r).await {
                    Ok(m) => {
                        if inbox.send((tag, Incoming::Message(m))).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = inbox.send((tag, Incoming::Closed(e)));
                        return;
                    }
                }
            }
        });
        Link { tx, writer, reader }
    }

    /// Queues `m`; false once the connection is gone.
    pub(super) fn send(&self, m: O) -> bool {
        self.tx.send(m).is_ok()
    }

    /// Sends what is queued (within a second) and closes the connection.
    pub(super) async fn close(self) {
        let Link { tx, writer, reader } = self;
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
        reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_cross_a_connection_in_order_and_its_end_is_seen() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let addr = listener.local_addr().expect("addr");
        let (host_in_tx, mut host_in) = mpsc::unbounded_channel::<(usize, Incoming<ToHost>)>();
        let (coord_in_tx, mut coord_in) =
            mpsc::unbounded_channel::<(usize, Incoming<ToCoordinator>)>();
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let host: Link<ToCoordinator> = Link::new(client, 7, host_in_tx);
        let coord: Link<ToHost> = Link::new(server, 3, coord_in_tx);
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
            match coord_in.recv().await {
                Some((3, Incoming::Message(got))) => assert_eq!(got, want),
                other => panic!("{other:?}"),
            }
        }
        assert!(coord.send(ToHost::Node {
            to: Target::All { except: vec![4] },
            msg: ToNode::Start { start_unix_ns: 9 },
        }));
        assert!(matches!(
            host_in.recv().await,
            Some((7, Incoming::Message(ToHost::Node { .. })))
        ));
        host.close().await;
        assert!(matches!(
            coord_in.recv().await,
            Some((3, Incoming::Closed(LinkError::Closed)))
        ));
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
