//! Collectives between the satellites of a group, over persistent QUIC
//! connections, and the workloads built on them (size sweeps and
//! data-parallel training steps).
//!
//! [`Comm`] is a rank's view of its group: a connection to every rank it
//! sends to (dialled by the sender, carrying data one way only), a tagged
//! send (each message a unidirectional stream that opens with a
//! [`ChunkHeader`]) and a receive that waits for the message with a given
//! sender and tag. A reader task per accepted connection files arriving
//! chunks in a mailbox, so sends and receives never wait on each other. A
//! connection that dies fails every receive from that peer with an error
//! naming the satellite.
//!
//! Why one connection per direction: quinn 0.11 sends acknowledgements of
//! a congestion-blocked connection only inside data packets, so when both
//! ends of one connection are blocked at once neither acknowledges until a
//! probe timeout (at least 25 ms of virtual time). A connection whose
//! receiver never sends data acknowledges at once.
//!
//! The algorithms run as one executor ([`exec`]) that follows the step
//! schedule netem lists for each operation and algorithm, the one its α–β
//! model walks; they compute reductions on the real bytes, and the
//! workloads check every result against the known sums (see
//! [`crate::tensor`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use orbnet_netem::workload::{Algorithm, Collective, DType, Op, Train};
use orbnet_netem::{SatId, SimTime};
use tokio::sync::Notify;

use crate::clock::VirtualClock;
use crate::protocol::{Event, RankReport, StepReport};
use crate::tensor::{self, ChunkHeader, Sums};

mod exec;

/// A failed collective, naming the rank and satellite at fault where known
/// (`peer` reads "rank 3 (sat-7)").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CommError {
    #[error("connecting to {peer}: {why}")]
    Connect { peer: String, why: String },
    #[error("the endpoint closed while accepting")]
    EndpointClosed,
    #[error("accepting a connection: {0}")]
    Accept(String),
    #[error("a connection from outside the run")]
    Outsider,
    #[error("an unexpected connection from {0}")]
    Unexpected(std::net::Ipv4Addr),
    #[error("handshake with {peer}: {why}")]
    Handshake { peer: String, why: String },
    #[error("sending to {peer}: {why}")]
    Send { peer: String, why: String },
    #[error("no connection to {0}")]
    NoConnection(String),
    #[error("lost the connection to {peer}: {why}")]
    Lost { peer: String, why: String },
    #[error("{peer} sent {got} bytes where {due} were due")]
    Length {
        peer: String,
        got: usize,
        due: usize,
    },
    #[error("a task of the collective failed: {0}")]
    Task(String),
}

#[derive(Debug, Default)]
struct MailState {
    ready: HashMap<(usize, u64, u32), Bytes>,
    lost: BTreeMap<usize, String>,
    malformed: u64,
}

#[derive(Debug, Default)]
struct Mailbox {
    state: Mutex<MailState>,
    notify: Notify,
}

impl Mailbox {
    fn with<T>(&self, f: impl FnOnce(&mut MailState) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut s| f(&mut s))
    }
}

/// Bytes of a message handed to quinn at a time.
const PIECE: usize = 1 << 20;

/// A connection this rank sends on.
#[derive(Clone, Debug)]
enum Out {
    /// Each message on its own unidirectional stream.
    Quic(quinn::Connection),
    /// Messages one after another on the byte stream.
    Tcp(Arc<tokio::sync::Mutex<crate::stream::TcpStream>>),
}

/// One rank's connections to its group.
///
/// A view ([`Comm::view`]) is a sub-communicator: a subset of the ranks,
/// renumbered from 0 in the subset's order, over the same connections and
/// mailbox; `global` maps its ranks back to the connections' indices, so
/// the algorithms run unchanged on a group.
#[derive(Debug)]
pub(crate) struct Comm {
    pub rank: usize,
    /// Satellite of every rank, in rank (ring) order.
    pub ranks: Vec<SatId>,
    names: Vec<String>,
    conns: Vec<Option<Out>>,
    mailbox: Arc<Mailbox>,
    next_id: AtomicU64,
    /// The index in `conns` and in the mailbox of each rank.
    global: Vec<usize>,
}

impl Comm {
    /// Connects rank `rank` to its group: it dials every rank in `to` (at
    /// UDP port `port` of their satellites) and accepts one connection from
    /// every rank in `from`.
    pub(crate) async fn connect(
        ep: &quinn::Endpoint,
        rank: usize,
        ranks: Vec<SatId>,
        names: Vec<String>,
        (to, from): &(BTreeSet<usize>, BTreeSet<usize>),
        port: u16,
    ) -> Result<Comm, CommError> {
        let label = |r: usize| format!("rank {r} ({})", names.get(r).map_or("?", String::as_str));
        let mut conns: Vec<Option<Out>> = vec![None; ranks.len()];
        let mut dials = Vec::new();
        for &peer in to {
            let addr = SocketAddr::new(IpAddr::V4(crate::addr::address(ranks[peer])), port);
            let connecting =
                ep.connect(addr, crate::quic::SERVER_NAME)
                    .map_err(|e| CommError::Connect {
                        peer: label(peer),
                        why: e.to_string(),
                    })?;
            dials.push((peer, tokio::spawn(connecting)));
        }
        let mailbox = Arc::new(Mailbox::default());
        let mut accepted = BTreeSet::new();
        while accepted.len() < from.len() {
            let Some(incoming) = ep.accept().await else {
                return Err(CommError::EndpointClosed);
            };
            let conn = incoming
                .await
                .map_err(|e| CommError::Accept(e.to_string()))?;
            let IpAddr::V4(ip) = conn.remote_address().ip() else {
                return Err(CommError::Outsider);
            };
            let peer = crate::addr::satellite(ip)
                .and_then(|s| ranks.iter().position(|&r| r == s))
                .filter(|p| from.contains(p) && !accepted.contains(p))
                .ok_or(CommError::Unexpected(ip))?;
            accepted.insert(peer);
            tokio::spawn(read_chunks(conn, peer, mailbox.clone()));
        }
        for (peer, dial) in dials {
            let conn = dial
                .await
                .map_err(|e| CommError::Task(e.to_string()))?
                .map_err(|e| CommError::Handshake {
                    peer: label(peer),
                    why: e.to_string(),
                })?;
            conns[peer] = Some(Out::Quic(conn));
        }
        Ok(Comm::new(rank, ranks, names, conns, mailbox))
    }

    fn new(
        rank: usize,
        ranks: Vec<SatId>,
        names: Vec<String>,
        conns: Vec<Option<Out>>,
        mailbox: Arc<Mailbox>,
    ) -> Comm {
        Comm {
            rank,
            global: (0..ranks.len()).collect(),
            ranks,
            names,
            conns,
            mailbox,
            next_id: AtomicU64::new(0),
        }
    }

    /// The sub-communicator of `members` (ranks of this communicator, in
    /// the order the view numbers them), which must include this rank; its
    /// calls are numbered from `first_id`, which no other call on these
    /// connections may use.
    pub(crate) fn view(&self, members: &[usize], first_id: u64) -> Option<Comm> {
        let rank = members.iter().position(|&m| m == self.rank)?;
        let pick = |v: &[usize]| members.iter().map(|&m| v.get(m).copied()).collect();
        let global: Option<Vec<usize>> = pick(&self.global);
        Some(Comm {
            rank,
            ranks: members
                .iter()
                .filter_map(|&m| self.ranks.get(m).copied())
                .collect(),
            names: members
                .iter()
                .filter_map(|&m| self.names.get(m).cloned())
                .collect(),
            conns: self.conns.clone(),
            mailbox: self.mailbox.clone(),
            next_id: AtomicU64::new(first_id),
            global: global?,
        })
    }

    /// The satellite name of this rank.
    pub(crate) fn name(&self) -> &str {
        self.names.get(self.rank).map_or("?", String::as_str)
    }

    /// A rank's view of its group over TCP streams already set up by the
    /// node loop: `to` to send on, `from` to read from.
    pub(crate) fn over_tcp(
        rank: usize,
        ranks: Vec<SatId>,
        names: Vec<String>,
        to: Vec<(usize, crate::stream::TcpStream)>,
        from: Vec<(usize, crate::stream::TcpStream)>,
    ) -> Comm {
        let mailbox = Arc::new(Mailbox::default());
        for (peer, stream) in from {
            tokio::spawn(read_tcp_chunks(stream, peer, mailbox.clone()));
        }
        let mut conns: Vec<Option<Out>> = vec![None; ranks.len()];
        for (peer, stream) in to {
            if let Some(c) = conns.get_mut(peer) {
                *c = Some(Out::Tcp(Arc::new(tokio::sync::Mutex::new(stream))));
            }
        }
        Comm::new(rank, ranks, names, conns, mailbox)
    }

    pub(crate) fn size(&self) -> usize {
        self.ranks.len()
    }

    pub(crate) fn label(&self, r: usize) -> String {
        format!(
            "rank {r} ({})",
            self.names.get(r).map_or("?", String::as_str)
        )
    }

    /// Chunks refused as malformed so far.
    pub(crate) fn malformed(&self) -> u64 {
        self.mailbox.with(|s| s.malformed).unwrap_or(0)
    }

    /// A fresh id for the next collective call (the same on every rank,
    /// which all make the same calls in the same order).
    fn call(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts sending `data` to rank `to`, tagged (`id`, `step`).
    pub(crate) fn send(
        &self,
        to: usize,
        id: u64,
        step: u32,
        offset: u64,
        data: Bytes,
    ) -> tokio::task::JoinHandle<Result<(), CommError>> {
        let at = self.global.get(to).copied().unwrap_or(usize::MAX);
        let conn = self.conns.get(at).cloned().flatten();
        let label = self.label(to);
        tokio::spawn(async move {
            let fail = |e: String| CommError::Send {
                peer: label.clone(),
                why: e,
            };
            let h = ChunkHeader {
                collective: id,
                step,
                offset,
                len: data.len() as u64,
            };
            match conn {
                None => Err(CommError::NoConnection(label)),
                Some(Out::Quic(conn)) => {
                    let mut s = conn.open_uni().await.map_err(|e| fail(e.to_string()))?;
                    s.write_all(&h.encode())
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    // In pieces: quinn frees send-window space a written
                    // chunk at a time, once all of it is acknowledged, so a
                    // message larger than the window written whole would
                    // advance in window-sized bursts with a round trip of
                    // silence between them.
                    let mut pieces: Vec<Bytes> = (0..data.len())
                        .step_by(PIECE)
                        .map(|a| data.slice(a..(a + PIECE).min(data.len())))
                        .collect();
                    s.write_all_chunks(&mut pieces)
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    s.finish().map_err(|e| fail(e.to_string()))?;
                    Ok(())
                }
                Some(Out::Tcp(stream)) => {
                    use tokio::io::AsyncWriteExt;
                    // One whole message at a time on the byte stream.
                    let mut s = stream.lock().await;
                    s.write_all(&h.encode())
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    s.write_all(&data).await.map_err(|e| fail(e.to_string()))?;
                    Ok(())
                }
            }
        })
    }

    /// Waits for the message from rank `from` tagged (`id`, `step`).
    pub(crate) async fn recv(&self, from: usize, id: u64, step: u32) -> Result<Bytes, CommError> {
        tracing::trace!(rank = self.rank, from, id, step, "waiting");
        let at = self.global.get(from).copied().unwrap_or(usize::MAX);
        loop {
            let notified = self.mailbox.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let found = self
                .mailbox
                .with(|s| match s.ready.remove(&(at, id, step)) {
                    Some(b) => Some(Ok(b)),
                    None => s.lost.get(&at).map(|e| Err(e.clone())),
                })
                .flatten();
            match found {
                Some(Ok(b)) => return Ok(b),
                Some(Err(why)) => {
                    return Err(CommError::Lost {
                        peer: self.label(from),
                        why,
                    });
                }
                None => notified.await,
            }
        }
    }

    pub(crate) async fn join(
        sends: Vec<tokio::task::JoinHandle<Result<(), CommError>>>,
    ) -> Result<(), CommError> {
        for s in sends {
            s.await.map_err(|e| CommError::Task(e.to_string()))??;
        }
        Ok(())
    }

    /// Waits until every rank has called it (a token twice around the ring).
    pub(crate) async fn barrier(&self) -> Result<(), CommError> {
        let p = self.size();
        let id = self.call();
        let (next, prev) = ((self.rank + 1) % p, (self.rank + p - 1) % p);
        for round in 0..2 {
            if self.rank == 0 {
                Self::join(vec![self.send(next, id, round, 0, Bytes::new())]).await?;
                self.recv(prev, id, round).await?;
            } else {
                self.recv(prev, id, round).await?;
                Self::join(vec![self.send(next, id, round, 0, Bytes::new())]).await?;
            }
        }
        Ok(())
    }

    pub(crate) fn expect_len(
        &self,
        got: &Bytes,
        want: usize,
        from: usize,
    ) -> Result<(), CommError> {
        if got.len() == want {
            Ok(())
        } else {
            Err(CommError::Length {
                peer: self.label(from),
                got: got.len(),
                due: want,
            })
        }
    }

    /// Closes every connection (the work is done).
    pub(crate) async fn close(&self) {
        for c in self.conns.iter().flatten() {
            match c {
                Out::Quic(c) => c.close(quinn::VarInt::from_u32(0), b"done"),
                Out::Tcp(s) => {
                    use tokio::io::AsyncWriteExt;
                    let _ = s.lock().await.shutdown().await;
                }
            }
        }
    }
}

/// Files every chunk `peer` sends in the mailbox; records the connection's
/// end so that receives from `peer` fail instead of waiting forever.
async fn read_chunks(conn: quinn::Connection, peer: usize, mailbox: Arc<Mailbox>) {
    loop {
        match conn.accept_uni().await {
            Ok(mut s) => {
                let mailbox = mailbox.clone();
                tokio::spawn(async move {
                    let mut head = [0u8; ChunkHeader::LEN];
                    if s.read_exact(&mut head).await.is_err() {
                        mailbox.with(|m| m.malformed += 1);
                        return;
                    }
                    let h = match ChunkHeader::decode(&head) {
                        Ok(h) => h,
                        Err(e) => {
                            tracing::warn!(peer, "refused a chunk: {e}");
                            mailbox.with(|m| m.malformed += 1);
                            return;
                        }
                    };
                    let body = match read_body(&mut s, h.len as usize).await {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::debug!(peer, "chunk cut short: {e}");
                            mailbox.with(|m| m.malformed += 1);
                            mailbox.notify.notify_waiters();
                            return;
                        }
                    };
                    // Read up to the stream's end, so that dropping it does
                    // not ask the sender to stop (a frame that would need
                    // acknowledging on an otherwise receive-only connection).
                    if !matches!(s.read_chunk(1, true).await, Ok(None)) {
                        mailbox.with(|m| m.malformed += 1);
                        return;
                    }
                    mailbox.with(|m| m.ready.insert((peer, h.collective, h.step), body));
                    mailbox.notify.notify_waiters();
                });
            }
            Err(e) => {
                mailbox.with(|m| m.lost.insert(peer, e.to_string()));
                mailbox.notify.notify_waiters();
                return;
            }
        }
    }
}

/// Reads a chunk's `len` bytes of body as quinn hands them over: a body
/// that arrives in one piece is taken as it is; otherwise the pieces are
/// copied once into the body (no zero fill first).
async fn read_body(s: &mut quinn::RecvStream, len: usize) -> Result<Bytes, String> {
    let mut body = BytesMut::new();
    while body.len() < len {
        match s.read_chunk(len - body.len(), true).await {
            Ok(Some(c)) if body.is_empty() && c.bytes.len() == len => return Ok(c.bytes),
            Ok(Some(c)) => {
                if body.capacity() == 0 {
                    body.reserve(len);
                }
                body.extend_from_slice(&c.bytes);
            }
            Ok(None) => return Err(format!("stream ended after {} of {len} bytes", body.len())),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(body.freeze())
}

/// Files every message `peer` sends on a TCP stream in the mailbox; a
/// malformed header ends the stream (its framing is lost), counted.
async fn read_tcp_chunks(mut stream: crate::stream::TcpStream, peer: usize, mailbox: Arc<Mailbox>) {
    use tokio::io::AsyncReadExt;
    let end = |why: String| {
        mailbox.with(|m| m.lost.insert(peer, why));
        mailbox.notify.notify_waiters();
    };
    loop {
        let mut head = [0u8; ChunkHeader::LEN];
        if let Err(e) = stream.read_exact(&mut head).await {
            return end(e.to_string());
        }
        let h = match ChunkHeader::decode(&head) {
            Ok(h) => h,
            Err(e) => {
                mailbox.with(|m| m.malformed += 1);
                return end(format!("malformed stream: {e}"));
            }
        };
        // Read into spare capacity, not a zero-filled buffer.
        let len = h.len as usize;
        let mut body = BytesMut::with_capacity(len);
        while body.len() < len {
            let want = (len - body.len()) as u64;
            match (&mut stream).take(want).read_buf(&mut body).await {
                Ok(0) => return end(format!("stream ended inside a {len}-byte chunk")),
                Ok(_) => {}
                Err(e) => return end(e.to_string()),
            }
        }
        mailbox.with(|m| m.ready.insert((peer, h.collective, h.step), body.freeze()));
        mailbox.notify.notify_waiters();
    }
}

/// The ranks `rank` sends to and receives from in a workload: its
/// algorithm's pairs and the ring (for the barrier).
pub(crate) fn peers(
    op: Op,
    algorithm: Algorithm,
    p: usize,
    rank: usize,
) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let mut pairs = orbnet_netem::collective::pairs(op, algorithm, p);
    pairs.extend(orbnet_netem::collective::pairs(
        Op::SendRecv,
        Algorithm::Ring,
        p,
    ));
    let to = pairs
        .iter()
        .filter(|(a, _)| *a == rank)
        .map(|(_, b)| *b)
        .collect();
    let from = pairs
        .iter()
        .filter(|(_, b)| *b == rank)
        .map(|(a, _)| *a)
        .collect();
    (to, from)
}

/// Runs this rank's part of collective workload `w`: for every size,
/// `warmup` untimed calls, a barrier, then `iterations` timed calls. Emits
/// one `collective` event per size.
pub(crate) async fn run_sweep(
    w: usize,
    spec: Collective,
    comm: Comm,
    clock: VirtualClock,
    emit: crate::report::Reporter,
) {
    let p = comm.size();
    let sums = Sums::new(spec.dtype, p);
    let sat = comm.names.get(comm.rank).cloned().unwrap_or_default();
    for &bytes in &spec.sizes {
        let mut t0 = clock.now();
        let result = sweep_size(&comm, &spec, bytes, &sums, clock, &mut t0).await;
        let t1 = clock.now();
        let time = (t1 - t0).as_secs_f64() / f64::from(spec.iterations);
        let (verified, error) = match &result {
            Ok(ok) => (
                *ok,
                (!ok).then(|| "a result differs from the sum".to_owned()),
            ),
            Err(e) => (false, Some(e.to_string())),
        };
        emit.emit(Event::Collective(RankReport {
            workload: w,
            rank: comm.rank,
            sat: sat.clone(),
            bytes: Some(bytes),
            start_s: Some(t0.as_secs_f64()),
            time_s: Some(time),
            verified,
            error,
            malformed: Some(comm.malformed()),
        }));
        if result.is_err() {
            return;
        }
    }
    comm.barrier().await.ok();
    comm.close().await;
}

/// One size of a sweep: warm-up calls, a barrier, then the timed calls
/// (their start goes to `t0`). Returns whether every result was right.
async fn sweep_size(
    comm: &Comm,
    spec: &Collective,
    bytes: u64,
    sums: &Sums,
    clock: VirtualClock,
    t0: &mut SimTime,
) -> Result<bool, CommError> {
    let mut ok = true;
    for _ in 0..spec.warmup {
        ok &= comm
            .run_op(spec.op, spec.algorithm, spec.dtype, bytes, sums)
            .await?;
    }
    tracing::debug!(rank = comm.rank, bytes, "warm-up done");
    comm.barrier().await?;
    tracing::debug!(rank = comm.rank, bytes, "barrier passed");
    *t0 = clock.now();
    for _ in 0..spec.iterations {
        ok &= comm
            .run_op(spec.op, spec.algorithm, spec.dtype, bytes, sums)
            .await?;
    }
    Ok(ok)
}

/// Runs this rank's part of training workload `w`.
pub(crate) async fn run_train(
    w: usize,
    spec: Train,
    acc: orbnet_netem::workload::Accelerator,
    comm: Comm,
    clock: VirtualClock,
    emit: crate::report::Reporter,
) {
    let p = comm.size();
    let dtype = DType::Bf16;
    let sums = Sums::new(dtype, p);
    let sat = comm.names.get(comm.rank).cloned().unwrap_or_default();
    let (fwd, bwd) = spec.compute(&acc);
    let buckets = spec.buckets();
    let sleep_until = |t: SimTime| tokio::time::sleep_until(clock.wall(t));
    if let Err(e) = comm.barrier().await {
        emit.emit(Event::TrainStep(StepReport {
            workload: w,
            rank: comm.rank,
            sat,
            step: Some(0),
            verified: false,
            error: Some(e.to_string()),
            ..StepReport::default()
        }));
        return;
    }
    for step in 0..spec.steps {
        let t0 = clock.now();
        let backward_start = t0 + fwd;
        let compute_end = backward_start + bwd;
        let mut comm_time = 0.0;
        let mut verified = true;
        let mut error = None;
        let nb = buckets.len() as f64;
        let mut offset = 0u64;
        for (k, &bytes) in buckets.iter().enumerate() {
            // Backward produces the gradients bucket by bucket, evenly in time.
            let ready = backward_start
                + orbnet_netem::SimDuration::from_secs_f64(
                    bwd.as_secs_f64() * (k as f64 + 1.0) / nb,
                );
            sleep_until(ready).await;
            let started = clock.now();
            let n = bytes / 2;
            let first = offset / 2;
            let mut data = tensor::input(dtype, p, comm.rank, first, n as usize);
            offset += bytes;
            match comm.allreduce(spec.algorithm, dtype, &mut data).await {
                Ok(()) => {
                    verified &= sums.first_mismatch(dtype, &data, first).is_none();
                }
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
            comm_time += (clock.now() - started).as_secs_f64();
        }
        sleep_until(compute_end).await;
        let t1 = clock.now();
        let failed = error.is_some();
        emit.emit(Event::TrainStep(StepReport {
            workload: w,
            rank: comm.rank,
            sat: sat.clone(),
            step: Some(u64::from(step)),
            start_s: Some(t0.as_secs_f64()),
            step_s: Some((t1 - t0).as_secs_f64()),
            compute_s: Some((fwd + bwd).as_secs_f64()),
            comm_s: Some(comm_time),
            verified: verified && !failed,
            error,
        }));
        if failed {
            return;
        }
    }
    comm.barrier().await.ok();
    comm.close().await;
}
