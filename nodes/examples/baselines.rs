//! Host baselines for the data-plane benchmark, measured on loopback in the
//! same run as orbnet's own figures (see `scripts/bench-transport.sh`):
//! (1) UDP datagrams of the emulator's frame size, (2) kernel TCP, (3) quinn
//! over the kernel's UDP. Each moves `BYTES` from one task to another and
//! prints wall-clock Gb/s.
//!
//! `cargo run --release -p orbnet-node --example baselines`

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("udp_gbps {:.3}", udp()?);
    println!("tcp_gbps {:.3}", rt.block_on(tcp())?);
    println!("quinn_gbps {:.3}", rt.block_on(quinn_kernel())?);
    Ok(())
}
