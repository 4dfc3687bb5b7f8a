//! Host baselines for the data-plane benchmark, measured on loopback in the
//! same run as orbnet's own figures (see `scripts/bench-transport.sh`):
//! (1) UDP datagrams of the emulator's frame size, (2) kernel TCP, (3) quinn
//! over the kernel's UDP; and orbnet's (a): raw IP packets through the
//! emulator's router, shaper and wire with no stack. Each moves `BYTES`
//! from one thread or task to another and prints wall-clock Gb/s.
//!
//! `cargo run --release -p orbnet-node --example baselines`

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The allocator of the `orbnet` binary, so that (a) allocates its frames
/// as a satellite process does; the baselines run on it too.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BYTES: u64 = 2 << 30;
const DATAGRAM: usize = 9044; // a 9000-byte IP packet plus orbnet's 44-byte header

fn gbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 * 8.0 / secs / 1e9
}

/// (1) Blocking UDP sender and receiver threads; counts what arrived.
fn udp() -> std::io::Result<f64> {
    let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let s2 = socket2::Socket::from(rx.try_clone()?);
    let _ = s2.set_recv_buffer_size(16 << 20);
    let to = rx.local_addr()?;
    rx.set_read_timeout(Some(std::time::Duration::from_millis(300)))?;
    let receiver = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        let mut got = 0u64;
        let mut first: Option<Instant> = None;
        let mut last = Instant::now();
        while let Ok(n) = rx.recv(&mut buf) {
            first.get_or_insert_with(Instant::now);
            got += n as u64;
            last = Instant::now();
        }
        (got, first.map_or(0.0, |f| (last - f).as_secs_f64()))
    });
    let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let buf = vec![7u8; DATAGRAM];
    let mut sent = 0u64;
    while sent < BYTES {
        if tx.send_to(&buf, to).is_ok() {
            sent += DATAGRAM as u64;
        }
    }
    let (got, secs) = receiver
        .join()
        .map_err(|_| std::io::Error::other("receiver panicked"))?;
    Ok(gbps(got, secs))
}

/// (2) Kernel TCP over loopback.
async fn tcp() -> std::io::Result<f64> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        loop {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Ok::<u64, std::io::Error>(got);
            }
            got += n as u64;
        }
    });
    let start = Instant::now();
    let mut c = tokio::net::TcpStream::connect(addr).await?;
    let buf = vec![7u8; 1 << 20];
    let mut sent = 0;
    while sent < BYTES {
        c.write_all(&buf).await?;
        sent += buf.len() as u64;
    }
    c.shutdown().await?;
    let got = server.await.map_err(std::io::Error::other)??;
    Ok(gbps(got, start.elapsed().as_secs_f64()))
}

/// (3) quinn over the kernel's loopback UDP, one stream.
async fn quinn_kernel() -> Result<f64, Box<dyn std::error::Error>> {
    let tls = orbnet_node::quic::generate_tls([7; 32])?;
    use quinn::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = CertificateDer::from(tls.cert.clone());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tls.key.clone()));
    let server_cfg = quinn::ServerConfig::with_single_cert(vec![cert.clone()], key)?;
    let server = quinn::Endpoint::server(server_cfg, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let addr = server.local_addr()?;
    let mut roots = quinn::rustls::RootCertStore::empty();
    roots.add(cert)?;
    let client_cfg = quinn::ClientConfig::with_root_certificates(Arc::new(roots))?;
    let mut client = quinn::Endpoint::client(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    client.set_default_client_config(client_cfg);
    let srv = tokio::spawn(async move {
        let conn = server.accept().await.ok_or("no connection")?.await?;
        let mut s = conn.accept_uni().await?;
        let mut got = 0u64;
        while let Some(c) = s.read_chunk(1 << 20, true).await? {
            got += c.bytes.len() as u64;
        }
        Ok::<u64, Box<dyn std::error::Error + Send + Sync>>(got)
    });
    let start = Instant::now();
    let conn = client
        .connect(addr, orbnet_node::quic::SERVER_NAME)?
        .await?;
    let mut s = conn.open_uni().await?;
    let chunk = bytes::Bytes::from(vec![7u8; 1 << 20]);
    let mut sent = 0;
    while sent < BYTES {
        s.write_chunk(chunk.clone()).await?;
        sent += chunk.len() as u64;
    }
    s.finish()?;
    let got = srv.await?.map_err(|e| e.to_string())?;
    Ok(gbps(got, start.elapsed().as_secs_f64()))
}

/// (a) Raw frames: a 9000-byte IPv4/UDP packet from sat-0 to sat-1 of a
/// two-satellite formation (one lossless 400 Gb/s link, so the link is not
/// the limit), routed and shaped by sat-0's router (TDF 1: virtual time is
/// wall time), framed and sent in a UDP datagram, parsed and routed again
/// by sat-1's router to its local stack. Counts the IP bytes delivered.
fn raw_frames() -> Result<f64, Box<dyn std::error::Error>> {
    use orbnet_netem::{SatId, Scenario, SimTime};
    use orbnet_node::router::{Decision, Router};
    let scenario = Scenario::parse(
        "name = \"pair\"\n[constellation]\nkind = \"formation\"\ncount = 2\naltitude_km = 650\n\
         [links]\npattern = \"nearest\"\nk = 1\nrate_gbps = 400\nqueue_bytes = 268435456\nber = 0\n",
        "inline",
        &mut |p: &str| Err(p.to_owned()),
    )?;
    let world = &scenario.world;
    let _model = world.link_model().clone();
    let token = 0x0b5e_55ed;
    let router = |me: u32| {
        let links = world
            .links_of(SatId(me))
            .map(|(l, p)| (l, p, world.model_of(l)));
        let mut r = Router::new(SatId(me), token, 1, links);
        let snap = std::sync::Arc::new(world.snapshot(SimTime::ZERO));
        let routes = orbnet_netem::routing::Routes::new(snap.clone());
        r.update(&snap, Some(std::sync::Arc::new(routes)));
        r
    };
    let (mut r0, mut r1) = (router(0), router(1));
    // Both ends on orbnet's UDP wire (batched sends, coalesced receives),
    // each on its own thread and current-thread runtime, as in a satellite.
    let wire = || -> std::io::Result<orbnet_node::wire::WireIo> {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
        let _ = s.set_recv_buffer_size(16 << 20);
        let _ = s.set_send_buffer_size(16 << 20);
        s.set_nonblocking(true)?;
        s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
        let sock = tokio::net::UdpSocket::from_std(s.into())?;
        Ok(orbnet_node::wire::WireIo::Udp(
            orbnet_node::wire::UdpWire::new(sock)?,
        ))
    };
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let start = Instant::now();
    let now = move || SimTime::from_nanos(start.elapsed().as_nanos() as u64);
    let (to_tx, to_rx) = std::sync::mpsc::channel();
    let receiver = std::thread::spawn(move || -> std::io::Result<(u64, f64)> {
        let rt = runtime()?;
        rt.block_on(async move {
            let mut rx = wire()?;
            let orbnet_node::wire::WireIo::Udp(u) = &rx else {
                return Err(std::io::Error::other("not a UDP wire"));
            };
            let _ = to_tx.send(u.local_addr()?);
            let mut buf = vec![0u8; 65_536];
            let (mut got, mut first, mut last) = (0u64, None::<Instant>, Instant::now());
            let limit = std::time::Duration::from_millis(300);
            while let Ok(Ok(orbnet_node::wire::Received::Batch { bytes, stride, .. })) =
                tokio::time::timeout(limit, rx.recv_from(&mut buf)).await
            {
                first.get_or_insert_with(Instant::now);
                for f in buf[..bytes].chunks(stride) {
                    if orbnet_node::wire::Frame::parse(f, token).is_err() {
                        continue;
                    }
                    // Held whole, as a satellite holds what it takes in.
                    let held = orbnet_node::wire::Framed::from_frame(f.to_vec());
                    if let Decision::Local(p) = r1.route(now(), held, true) {
                        got += p.packet().len() as u64;
                    }
                }
                last = Instant::now();
            }
            Ok((got, first.map_or(0.0, |f| (last - f).as_secs_f64())))
        })
    });
    let to = to_rx.recv()?;
    let rt = runtime()?;
    let _guard = rt.enter();
    let mut tx = wire()?;
    // An IPv4 header (checksum left zero: the router does not check it) and UDP.
    let (src, dst) = (
        orbnet_node::addr::address(SatId(0)).octets(),
        orbnet_node::addr::address(SatId(1)).octets(),
    );
    let mut packet = vec![7u8; 9000];
    packet[..20].copy_from_slice(&[
        0x45, 0, 0x23, 0x28, 0, 0, 0x40, 0, 64, 17, 0, 0, src[0], src[1], src[2], src[3], dst[0],
        dst[1], dst[2], dst[3],
    ]);
    let mut sent = 0u64;
    while sent < BYTES {
        let framed = orbnet_node::wire::Framed::from_packet(&packet);
        if let Decision::Send { frame, .. } = r0.route(now(), framed, false) {
            tx.send_to(frame, to);
            sent += packet.len() as u64;
        }
    }
    tx.flush();
    let (got, secs) = receiver
        .join()
        .map_err(|_| std::io::Error::other("receiver panicked"))??;
    Ok(gbps(got, secs))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("udp_gbps {:.3}", udp()?);
    println!("raw_frames_gbps {:.3}", raw_frames()?);
    println!("tcp_gbps {:.3}", rt.block_on(tcp())?);
    println!("quinn_gbps {:.3}", rt.block_on(quinn_kernel())?);
    Ok(())
}
