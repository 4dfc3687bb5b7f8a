//! QUIC over the constellation: quinn running on top of a smoltcp UDP
//! socket, on virtual time.
//!
//! - [`StackSocket`] is quinn's `AsyncUdpSocket`. Datagrams quinn sends go
//!   into a queue the node loop drains into the smoltcp UDP socket; datagrams
//!   the stack receives are queued for quinn and its task is woken.
//!   `may_fragment()` is false, so quinn's path MTU discovery runs up to the
//!   link MTU.
//! - [`VirtualRuntime`] is quinn's `Runtime`: `now()` is the virtual clock
//!   (as an `Instant` offset from a fixed base) and timers sleep until the
//!   wall instant of their virtual deadline, so QUIC's timers and RTT
//!   estimates live in virtual time under the TDF.
//! - Transport windows and the initial RTT come from the path's
//!   bandwidth-delay product, not from defaults meant for the Internet.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncTimer, AsyncUdpSocket, Runtime, UdpPoller};
use tokio::sync::Notify;

use orbnet_netem::SimTime;
use orbnet_netem::workload::Cc;

use crate::app::{App, Outbox};
use crate::clock::VirtualClock;
use crate::stack::SocketError;

/// The TLS name every satellite's certificate carries.
pub const SERVER_NAME: &str = "orbnet";

/// Datagram queues between the node loop and quinn.
#[derive(Debug, Default)]
pub struct Queues {
    pub outbound: VecDeque<(SocketAddr, Vec<u8>)>,
    pub inbound: VecDeque<(SocketAddr, Vec<u8>)>,
    recv_waker: Option<Waker>,
}

/// The node loop's handle on the queues.
#[derive(Debug, Clone)]
pub struct Link {
    pub queues: Arc<Mutex<Queues>>,
    /// Signalled when quinn queues a datagram.
    pub outbound_ready: Arc<Notify>,
}

impl Link {
    /// Hands a received datagram to quinn.
    pub fn deliver(&self, from: SocketAddr, datagram: Vec<u8>) {
        if let Ok(mut q) = self.queues.lock() {
            q.inbound.push_back((from, datagram));
            if let Some(w) = q.recv_waker.take() {
                w.wake();
            }
        }
    }

    /// Takes the datagrams quinn has queued.
    pub fn take_outbound(&self) -> Vec<(SocketAddr, Vec<u8>)> {
        self.queues
            .lock()
            .map(|mut q| q.outbound.drain(..).collect())
            .unwrap_or_default()
    }
}

/// quinn's socket: the satellite's smoltcp UDP socket, through [`Link`].
#[derive(Debug)]
pub struct StackSocket {
    link: Link,
    local: SocketAddr,
    max_payload: usize,
}

impl StackSocket {
    pub fn new(link: Link, local: SocketAddr, max_payload: usize) -> StackSocket {
        StackSocket {
            link,
            local,
            max_payload,
        }
    }
}

#[derive(Debug)]
struct AlwaysWritable;

impl UdpPoller for AlwaysWritable {
    fn poll_writable(self: Pin<&mut Self>, _cx: &mut Context) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncUdpSocket for StackSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(AlwaysWritable)
    }

    fn try_send(&self, t: &Transmit) -> io::Result<()> {
        let seg = t.segment_size.unwrap_or(t.contents.len()).max(1);
        let mut q = self
            .link
            .queues
            .lock()
            .map_err(|_| io::Error::other("queue poisoned"))?;
        for chunk in t.contents.chunks(seg) {
            if chunk.len() <= self.max_payload {
                q.outbound.push_back((t.destination, chunk.to_vec()));
            } else {
                tracing::warn!(len = chunk.len(), "datagram over the path MTU dropped");
            }
        }
        drop(q);
        self.link.outbound_ready.notify_one();
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut q = self
            .link
            .queues
            .lock()
            .map_err(|_| io::Error::other("queue poisoned"))?;
        let mut n = 0;
        while n < bufs.len().min(meta.len()) {
            let Some((from, d)) = q.inbound.pop_front() else {
                break;
            };
            let len = d.len().min(bufs[n].len());
            bufs[n][..len].copy_from_slice(&d[..len]);
            meta[n] = RecvMeta {
                addr: from,
                len,
                stride: len,
                dst_ip: Some(self.local.ip()),
                ..RecvMeta::default()
            };
            n += 1;
        }
        if n > 0 {
            return Poll::Ready(Ok(n));
        }
        q.recv_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    fn may_fragment(&self) -> bool {
        false
    }
}

/// quinn's runtime on virtual time.
#[derive(Clone, Copy)]
pub struct VirtualRuntime {
    clock: VirtualClock,
    base: Instant,
}

impl fmt::Debug for VirtualRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualRuntime")
            .field("tdf", &self.clock.tdf())
            .finish()
    }
}

impl VirtualRuntime {
    pub fn new(clock: VirtualClock) -> VirtualRuntime {
        VirtualRuntime {
            clock,
            base: Instant::now(),
        }
    }

    fn virtual_of(&self, i: Instant) -> SimTime {
        SimTime::from_nanos(i.saturating_duration_since(self.base).as_nanos() as u64)
    }

    fn wall_of(&self, i: Instant) -> tokio::time::Instant {
        self.clock.wall(self.virtual_of(i))
    }
}

struct VirtualTimer {
    rt: VirtualRuntime,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl fmt::Debug for VirtualTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualTimer").finish_non_exhaustive()
    }
}

impl AsyncTimer for VirtualTimer {
    fn reset(mut self: Pin<&mut Self>, i: Instant) {
        let wall = self.rt.wall_of(i);
        self.sleep.as_mut().reset(wall);
    }

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context) -> Poll<()> {
        Future::poll(self.sleep.as_mut(), cx)
    }
}

impl Runtime for VirtualRuntime {
    fn new_timer(&self, i: Instant) -> Pin<Box<dyn AsyncTimer>> {
        Box::pin(VirtualTimer {
            rt: *self,
            sleep: Box::pin(tokio::time::sleep_until(self.wall_of(i))),
        })
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) {
        tokio::spawn(future);
    }

    fn wrap_udp_socket(&self, _t: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "orbnet's QUIC runs over the satellite's own stack",
        ))
    }

    fn now(&self) -> Instant {
        self.base + Duration::from_nanos(self.clock.now().as_nanos())
    }
}

/// The run's certificate (DER) and key (PKCS#8 DER), shared by every satellite.
#[derive(Clone, Debug)]
pub struct Tls {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

/// What a connection is tuned for.
#[derive(Clone, Copy, Debug)]
pub struct Tuning {
    /// Bandwidth-delay product of the path, bytes.
    pub bdp: u64,
    pub rtt: Duration,
    pub cc: Cc,
    pub streams: u32,
    /// Largest UDP payload the links carry (MTU − IP and UDP headers).
    pub max_payload: u16,
    /// Virtual time without a packet after which a connection is dead.
    pub idle: Duration,
    /// Seeds the endpoint's random choices (the in-process harness is
    /// deterministic only if they are).
    pub seed: u64,
    /// The largest message the connection carries whole (a ring
    /// collective's part), bytes; 0 for streams of any length.
    pub message: u64,
}

/// A transport configuration for `t`.
pub fn transport_config(t: &Tuning) -> quinn::TransportConfig {
    let mut c = quinn::TransportConfig::default();
    // Flow-control windows: 1.5 × the BDP, at least 16 MiB. On a
    // Suncatcher hop the BDP is a few hundred kB (1.6 Tb/s × ~1 µs), but
    // 1 MiB takes 5 µs to serialize, longer than the round trip, so a
    // window near the BDP gates every message on a window update.
    //
    // A ring collective's windows also hold four of its messages, so that no
    // message waits on a round trip. On a ring with multi-hop steps those
    // round trips are long: a step's acknowledgements queue behind the data
    // of the steps whose links they cross, and a window-limited step falls
    // behind and holds up the ring. (BENCHMARKS.md, the collective rows,
    // has the figures before and after each of these choices.)
    let window = (t.bdp.saturating_mul(3) / 2)
        .max(t.message.saturating_mul(4))
        .clamp(16 << 20, 1 << 30);
    // A stream may use the whole connection window: a collective sends one
    // message per stream, and a smaller stream window stalls each large
    // message on a window update. The connection window caps the total.
    let per_stream = window;
    c.stream_receive_window(quinn::VarInt::from_u64(per_stream).unwrap_or(quinn::VarInt::MAX));
    c.receive_window(quinn::VarInt::from_u64(window).unwrap_or(quinn::VarInt::MAX));
    c.send_window(window);
    c.initial_rtt(t.rtt.max(Duration::from_micros(1)));
    c.max_concurrent_uni_streams(quinn::VarInt::from_u32(t.streams.max(1) + 4));
    c.max_concurrent_bidi_streams(quinn::VarInt::from_u32(4));
    c.initial_mtu(1200);
    c.min_mtu(1200);
    let mut mtud = quinn::MtuDiscoveryConfig::default();
    mtud.upper_bound(t.max_payload.max(1200));
    c.mtu_discovery_config(Some(mtud));
    c.max_idle_timeout(quinn::IdleTimeout::try_from(t.idle).ok());
    // Keep quiet connections (waiting on compute) alive well inside the timeout.
    c.keep_alive_interval(Some(t.idle / 4));
    // The initial window: twice the BDP, or four of a ring collective's
    // messages, at least 16 full packets and at most 256 MiB (the largest
    // default link queue). quinn 0.11 acknowledges a congestion-blocked
    // connection only inside data packets; with the Internet's 14 720
    // bytes a receiver's own MTU probes fill its window, and if the sender
    // is blocked too neither side acknowledges until a probe timeout
    // (≥ 26 ms of virtual time). A collective's connection waits between
    // messages, so its window never grows past this one, and quinn paces
    // at the window over the RTT: a window short of the messages paces
    // each below the link rate.
    let initial = t
        .bdp
        .saturating_mul(2)
        .max(t.message.saturating_mul(4))
        .clamp(16 * u64::from(t.max_payload.max(1200)), 256 << 20);
    match t.cc {
        Cc::Cubic => {
            let mut cc = quinn::congestion::CubicConfig::default();
            cc.initial_window(initial);
            c.congestion_controller_factory(Arc::new(cc))
        }
        Cc::NewReno => {
            let mut cc = quinn::congestion::NewRenoConfig::default();
            cc.initial_window(initial);
            c.congestion_controller_factory(Arc::new(cc))
        }
        Cc::Bbr => {
            let mut cc = quinn::congestion::BbrConfig::default();
            cc.initial_window(initial);
            c.congestion_controller_factory(Arc::new(cc))
        }
    };
    c
}

/// Why an endpoint could not be made.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    #[error("TLS: {0}")]
    Tls(String),
    #[error("endpoint: {0}")]
    Endpoint(#[from] io::Error),
}

/// An endpoint on this satellite's stack, serving and connecting with `tls`.
pub fn endpoint(
    link: Link,
    local: IpAddr,
    tls: &Tls,
    tuning: &Tuning,
    runtime: VirtualRuntime,
) -> Result<quinn::Endpoint, QuicError> {
    use quinn::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = CertificateDer::from(tls.cert.clone());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tls.key.clone()));
    let transport = Arc::new(transport_config(tuning));
    let mut server = quinn::ServerConfig::with_single_cert(vec![cert.clone()], key)
        .map_err(|e| QuicError::Tls(e.to_string()))?;
    server.transport_config(transport.clone());
    let mut roots = quinn::rustls::RootCertStore::empty();
    roots.add(cert).map_err(|e| QuicError::Tls(e.to_string()))?;
    let mut client = quinn::ClientConfig::with_root_certificates(Arc::new(roots))
        .map_err(|e| QuicError::Tls(e.to_string()))?;
    client.transport_config(transport);
    let mut config = quinn::EndpointConfig::default();
    let mut rng_seed = [0u8; 32];
    for (k, c) in rng_seed.chunks_mut(8).enumerate() {
        let k =
            orbnet_netem::rng::stream_seed(tuning.seed, orbnet_netem::rng::Domain::Quic, k as u64);
        c.copy_from_slice(&k.to_le_bytes());
    }
    config.rng_seed(Some(rng_seed));
    config
        .max_udp_payload_size(tuning.max_payload.max(1200))
        .map_err(|e| QuicError::Tls(e.to_string()))?;
    let socket = Arc::new(StackSocket::new(
        link,
        SocketAddr::new(local, orbnet_netem::ports::QUIC_BASE),
        usize::from(tuning.max_payload),
    ));
    let mut ep =
        quinn::Endpoint::new_with_abstract_socket(config, Some(server), socket, Arc::new(runtime))?;
    ep.set_default_client_config(client);
    Ok(ep)
}

/// A self-signed Ed25519 certificate for a run (made by the launcher), its
/// key drawn from `seed`. Ed25519 signatures have one length (RFC 8032), so
/// every handshake has the same size, as the in-process harness needs.
pub fn generate_tls(seed: [u8; 32]) -> Result<Tls, String> {
    // An Ed25519 private key in PKCS#8 v1 (RFC 8410 §7): a fixed prefix, then the seed.
    let mut key = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    key.extend_from_slice(&seed);
    let pair = rcgen::KeyPair::try_from(key.as_slice()).map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(vec![SERVER_NAME.to_owned()]).map_err(|e| e.to_string())?;
    // A positive serial of 16 bytes from the seed (RFC 5280 §4.1.2.2).
    let mut serial = seed[..16].to_vec();
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    let cert = params.self_signed(&pair).map_err(|e| e.to_string())?;
    Ok(Tls {
        cert: cert.der().to_vec(),
        key,
    })
}

/// Sends workload `spec`'s bytes over QUIC: one unidirectional stream per
/// `streams`, each opening with its index (8 bytes, little-endian) and then
/// its range of the keyed content. Waits until the receiver closes.
pub(crate) async fn send_bulk(
    ep: quinn::Endpoint,
    runtime: VirtualRuntime,
    spec: orbnet_netem::workload::Bulk,
    content: crate::bulk::Content,
    to: SocketAddr,
) -> Result<(), String> {
    tokio::time::sleep_until(
        runtime.wall_of(runtime.base + Duration::from_nanos(spec.start.as_nanos())),
    )
    .await;
    let conn = ep
        .connect(to, SERVER_NAME)
        .map_err(|e| format!("connect: {e}"))?
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let mut tasks = Vec::new();
    for k in 0..spec.streams {
        let (conn, content) = (conn.clone(), content.clone());
        tasks.push(tokio::spawn(async move {
            let (offset, len) = crate::bulk::range(spec.bytes, spec.streams, k);
            let mut s = conn
                .open_uni()
                .await
                .map_err(|e| format!("stream {k}: {e}"))?;
            s.write_all(&u64::from(k).to_le_bytes())
                .await
                .map_err(|e| format!("stream {k}: {e}"))?;
            let mut sent = 0u64;
            while sent < len {
                let n = (len - sent).min(256 << 10) as usize;
                let mut chunk = vec![0u8; n];
                content.fill(offset + sent, &mut chunk);
                s.write_chunk(bytes::Bytes::from(chunk))
                    .await
                    .map_err(|e| format!("stream {k}: {e}"))?;
                sent += n as u64;
            }
            s.finish().map_err(|e| format!("stream {k}: {e}"))?;
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    conn.closed().await;
    Ok(())
}

/// Receives and checks workload `spec`'s bytes; `received` counts them as
/// they arrive. Returns the outcome when every stream has ended.
pub(crate) async fn receive_bulk(
    ep: quinn::Endpoint,
    clock: VirtualClock,
    spec: orbnet_netem::workload::Bulk,
    content: crate::bulk::Content,
    received: Arc<std::sync::atomic::AtomicU64>,
) -> crate::bulk::Outcome {
    let fail = |e: String, received: &std::sync::atomic::AtomicU64| crate::bulk::Outcome {
        received: received.load(std::sync::atomic::Ordering::Relaxed),
        completed: None,
        verified: false,
        error: Some(e),
    };
    let Some(incoming) = ep.accept().await else {
        return fail("endpoint closed".into(), &received);
    };
    let conn = match incoming.await {
        Ok(c) => c,
        Err(e) => return fail(format!("handshake: {e}"), &received),
    };
    let mut tasks = Vec::new();
    for _ in 0..spec.streams {
        let mut s = match conn.accept_uni().await {
            Ok(s) => s,
            Err(e) => return fail(format!("accepting a stream: {e}"), &received),
        };
        let (received, content) = (received.clone(), content.clone());
        tasks.push(tokio::spawn(async move {
            let mut head = [0u8; 8];
            s.read_exact(&mut head)
                .await
                .map_err(|e| format!("stream header: {e}"))?;
            let k = u64::from_le_bytes(head);
            if k >= u64::from(spec.streams) {
                return Err(format!("stream index {k} out of range"));
            }
            let (offset, len) = crate::bulk::range(spec.bytes, spec.streams, k as u32);
            let mut got = 0u64;
            loop {
                match s.read_chunk(1 << 20, true).await {
                    Ok(Some(chunk)) => {
                        let at = chunk.offset.saturating_sub(8);
                        if let Some(bad) = content.first_mismatch(offset + at, &chunk.bytes) {
                            return Err(format!("byte {bad} differs from what was sent"));
                        }
                        got += chunk.bytes.len() as u64;
                        received.fetch_add(
                            chunk.bytes.len() as u64,
                            std::sync::atomic::Ordering::Relaxed,
                        );
                    }
                    Ok(None) => break,
                    Err(e) => return Err(format!("stream {k}: {e}")),
                }
            }
            if got == len {
                Ok(())
            } else {
                Err(format!("stream {k}: {got} of {len} bytes"))
            }
        }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return fail(e, &received),
            Err(e) => return fail(e.to_string(), &received),
        }
    }
    let done = clock.now();
    conn.close(quinn::VarInt::from_u32(0), b"done");
    crate::bulk::Outcome {
        received: received.load(std::sync::atomic::Ordering::Relaxed),
        completed: Some(done),
        verified: true,
        error: None,
    }
}

/// Lower-case hexadecimal, for passing certificates in JSON.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The bytes of a hexadecimal string; `None` if it is not one.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A UDP socket on a satellite's stack and the queues between it and a
/// task (quinn's, or a test's own protocol).
#[derive(Debug)]
pub(crate) struct Port {
    pub port: u16,
    handle: smoltcp::iface::SocketHandle,
    pub link: Link,
}

impl Port {
    /// The UDP socket of QUIC workload `workload` on `stack`.
    pub(crate) fn new(
        workload: usize,
        stack: &mut crate::stack::Stack,
        notify: Arc<Notify>,
    ) -> Result<Port, SocketError> {
        Port::on(orbnet_netem::ports::PortPlan::quic(workload), stack, notify)
    }

    /// A UDP socket on `port` of `stack`.
    pub(crate) fn on(
        port: u16,
        stack: &mut crate::stack::Stack,
        notify: Arc<Notify>,
    ) -> Result<Port, SocketError> {
        use smoltcp::socket::udp;
        // smoltcp lets two sockets bind one port and hands each datagram to
        // the first: refuse the second.
        let taken = stack.sockets.iter().any(
            |(_, s)| matches!(s, smoltcp::socket::Socket::Udp(u) if u.endpoint().port == port),
        );
        if taken {
            return Err(SocketError::UdpTaken(port));
        }
        let buf =
            || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8192], vec![0u8; 32 << 20]);
        let mut socket = udp::Socket::new(buf(), buf());
        socket
            .bind(port)
            .map_err(|source| SocketError::UdpBind { port, source })?;
        let handle = stack.sockets.add(socket);
        Ok(Port {
            port,
            handle,
            link: Link {
                queues: Arc::default(),
                outbound_ready: notify,
            },
        })
    }

    /// The local address quinn sees.
    pub(crate) fn local(&self, me: std::net::Ipv4Addr) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(me), self.port)
    }

    /// A handle for a test's own datagrams on this port.
    pub(crate) fn app_socket(&self, me: std::net::Ipv4Addr) -> AppSocket {
        AppSocket {
            link: self.link.clone(),
            local: self.local(me),
        }
    }

    /// Moves what quinn queued into the UDP socket; returns whether any.
    pub(crate) fn flush_out(&self, stack: &mut crate::stack::Stack) -> bool {
        use smoltcp::socket::udp;
        use smoltcp::wire::{IpAddress, IpEndpoint};
        let out = self.link.take_outbound();
        let any = !out.is_empty();
        let socket = stack.sockets.get_mut::<udp::Socket>(self.handle);
        for (to, d) in out {
            let IpAddr::V4(ip) = to.ip() else { continue };
            // A full socket drops the datagram, as a full NIC queue would; QUIC recovers.
            if let Err(e) = socket.send_slice(&d, IpEndpoint::new(IpAddress::Ipv4(ip), to.port())) {
                tracing::debug!(len = d.len(), "UDP send dropped: {e}");
            }
        }
        any
    }

    /// Hands what the UDP socket received to quinn.
    pub(crate) fn deliver_in(&self, stack: &mut crate::stack::Stack) {
        use smoltcp::socket::udp;
        use smoltcp::wire::IpAddress;
        let socket = stack.sockets.get_mut::<udp::Socket>(self.handle);
        while let Ok((d, meta)) = socket.recv() {
            let IpAddress::Ipv4(ip) = meta.endpoint.addr;
            self.link.deliver(
                SocketAddr::new(IpAddr::V4(ip), meta.endpoint.port),
                d.to_vec(),
            );
        }
    }
}

impl App for Port {
    fn poll(&mut self, _now: SimTime, stack: &mut crate::stack::Stack, _out: &mut Outbox) -> bool {
        self.deliver_in(stack);
        false
    }

    fn flush(&mut self, _now: SimTime, stack: &mut crate::stack::Stack, _out: &mut Outbox) -> bool {
        self.flush_out(stack)
    }

    /// Once nothing else holds the queues (quinn's endpoint, or a test's
    /// or a gateway's socket, has been dropped), the port is over: its
    /// socket leaves the stack, and with it the buffers that a soak run
    /// would otherwise keep for every workload that ever ran.
    fn retire(&mut self, stack: &mut crate::stack::Stack) -> bool {
        let over = Arc::strong_count(&self.link.queues) == 1;
        if over {
            stack.sockets.remove(self.handle);
        }
        over
    }
}

/// The satellite's watch over a QUIC transfer it receives: the transfer
/// runs in a task (quinn's), which counts bytes as they arrive and sends
/// the outcome when done; the watch reports progress, the outcome, or the
/// timeout.
#[derive(Debug)]
pub(crate) struct QuicWatch {
    w: usize,
    spec: orbnet_netem::workload::Bulk,
    names: (String, String),
    received: Arc<std::sync::atomic::AtomicU64>,
    outcome: tokio::sync::oneshot::Receiver<crate::bulk::Outcome>,
    reported: bool,
}

impl QuicWatch {
    /// A watch over workload `w`, and what its receiving task reports to.
    pub(crate) fn new(
        w: usize,
        spec: orbnet_netem::workload::Bulk,
        names: (String, String),
    ) -> (
        QuicWatch,
        Arc<std::sync::atomic::AtomicU64>,
        tokio::sync::oneshot::Sender<crate::bulk::Outcome>,
    ) {
        let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (tx, outcome) = tokio::sync::oneshot::channel();
        let watch = QuicWatch {
            w,
            spec,
            names,
            received: received.clone(),
            outcome,
            reported: false,
        };
        (watch, received, tx)
    }

    fn deadline(&self) -> Option<SimTime> {
        self.spec.timeout.map(|t| self.spec.start + t)
    }

    fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reports `o` once.
    fn report(&mut self, o: &crate::bulk::Outcome, out: &mut Outbox) {
        if !self.reported {
            self.reported = true;
            out.events.push_back(crate::bulk::transfer_event(
                self.w,
                &self.spec,
                &self.names,
                o,
            ));
        }
    }

    /// A failed outcome, its message made from the bytes received so far.
    fn failed(&self, why: impl FnOnce(u64) -> String) -> crate::bulk::Outcome {
        let got = self.received();
        crate::bulk::Outcome {
            received: got,
            completed: None,
            verified: false,
            error: Some(why(got)),
        }
    }
}

impl App for QuicWatch {
    fn next_timer(&self) -> Option<SimTime> {
        self.deadline().filter(|_| !self.reported)
    }

    fn poll(&mut self, now: SimTime, _stack: &mut crate::stack::Stack, out: &mut Outbox) -> bool {
        if !self.reported && self.deadline().is_some_and(|d| d <= now) {
            let start = self.spec.start;
            let bytes = self.spec.bytes;
            let o = self.failed(|got| {
                format!(
                    "timed out after {:.3} s with {got} of {bytes} bytes",
                    (now - start).as_secs_f64(),
                )
            });
            self.report(&o, out);
        }
        false
    }

    fn flush(&mut self, _now: SimTime, _stack: &mut crate::stack::Stack, out: &mut Outbox) -> bool {
        if let Ok(o) = self.outcome.try_recv() {
            self.report(&o, out);
        }
        false
    }

    fn samples(&self) -> bool {
        true
    }

    fn sample(&mut self, now: SimTime, out: &mut Outbox) {
        out.events.push_back(crate::protocol::Event::BulkProgress(
            crate::protocol::Progress {
                workload: self.w,
                t_s: now.as_secs_f64(),
                bytes: self.received(),
            },
        ));
    }

    fn finish(&mut self, _now: SimTime, out: &mut Outbox) {
        let bytes = self.spec.bytes;
        let o = self.failed(|got| format!("the run ended with {got} of {bytes} bytes received"));
        self.report(&o, out);
    }
}

/// A UDP socket on a satellite's stack, for a test's own protocol: what it
/// sends crosses the constellation like any other traffic.
#[derive(Clone, Debug)]
pub struct AppSocket {
    link: Link,
    local: SocketAddr,
}

impl AppSocket {
    /// This socket's emulated address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The queues under this socket (to run quinn on it).
    pub fn link(&self) -> Link {
        self.link.clone()
    }

    /// Queues a datagram for `to`; the satellite sends it at once.
    pub fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<()> {
        let mut q = self
            .link
            .queues
            .lock()
            .map_err(|_| io::Error::other("queue poisoned"))?;
        q.outbound.push_back((to, data.to_vec()));
        drop(q);
        self.link.outbound_ready.notify_one();
        Ok(())
    }

    /// The next datagram, and who sent it.
    pub async fn recv_from(&self) -> io::Result<(Vec<u8>, SocketAddr)> {
        std::future::poll_fn(|cx| {
            let mut q = self
                .link
                .queues
                .lock()
                .map_err(|_| io::Error::other("queue poisoned"))?;
            match q.inbound.pop_front() {
                Some((from, d)) => Poll::Ready(Ok((d, from))),
                None => {
                    q.recv_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}
