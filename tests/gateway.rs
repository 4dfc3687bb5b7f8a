//! Gateways: a kernel TCP client reaches a kernel TCP server behind a far
//! satellite, with the constellation's delay in between.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{BIN, temp_dir, wait_exit};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `orbnet up` on twelve satellites at 800 km, each linked to the
/// next, with `protocol` gateways from sat-0's loopback port `gw_port` to
/// the service on `server_port` behind sat-4.
fn launch_ring12(tag: &str, gw_port: u16, server_port: u16, protocol: &str) -> (PathBuf, Child) {
    let dir = temp_dir(tag);
    let file = dir.join("ring.toml");
    std::fs::write(
        &file,
        format!(
            r#"name = "ring-12-gateway"
duration_s = 3
[constellation]
kind = "walker"
planes = 1
per_plane = 12
altitude_km = 800
inclination_deg = 53
[links]
rate_gbps = 10
[[gateway]]
satellite = "sat-0"
listen = "127.0.0.1:{gw_port}"
to = "sat-4:7"
protocol = "{protocol}"
[[gateway]]
satellite = "sat-4"
expose = "7"
forward = "127.0.0.1:{server_port}"
protocol = "{protocol}"
"#
        ),
    )
    .expect("write");
    let launcher = Command::new(BIN)
        .arg("up")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    (dir, launcher)
}

/// A client of the gateway on `gw_port`, once it listens (within 20 s),
/// whose reads give up after 5 s.
fn connect_to_gateway(gw_port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        if let Ok(c) = TcpStream::connect(("127.0.0.1", gw_port)) {
            break c;
        }
        assert!(Instant::now() < deadline, "the gateway never listened");
        std::thread::sleep(Duration::from_millis(20));
    };
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    client
}

/// sat-0 → sat-4 and back: 8 hops of 2a·sin(15°) over c, a = 6378.137 + 800 km.
fn ring12_rtt() -> f64 {
    let hop_km = 2.0 * (6378.137 + 800.0) * 15f64.to_radians().sin();
    8.0 * hop_km / 299_792.458
}

/// Round trips measured on the wall clock through twelve satellite
/// processes. None can beat the light time; the host adds its own delays
/// (scheduling, four kernel socket hops), so the fastest echo is held to
/// the geometry within 5 % and every echo within 30 %.
fn check_rtts(rtts: &[f64], rtt: f64) {
    for r in rtts {
        assert!(
            *r > 0.99 * rtt && *r < 1.3 * rtt,
            "RTT {r} s, geometry {rtt} s: {rtts:?}"
        );
    }
    let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        (min - rtt) / rtt < 0.05,
        "fastest RTT {min} s, geometry {rtt} s: {rtts:?}"
    );
}

/// Both tests run twelve satellites in real time; on two cores they keep
/// the light times only one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn tcp_echo_through_a_gateway_across_four_hops_follows_the_geometry() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The echo server, plain std on the kernel's loopback.
    let server = TcpListener::bind("127.0.0.1:0").expect("bind");
    let server_port = server.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for c in server.incoming() {
            let Ok(mut c) = c else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || c.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let gw_port = free_port();
    let (dir, mut launcher) = launch_ring12("gateway", gw_port, server_port, "tcp");
    let mut client = connect_to_gateway(gw_port);
    let mut rtts = Vec::new();
    for i in 0..5u8 {
        let msg = [i; 100];
        let t = Instant::now();
        client.write_all(&msg).expect("write");
        let mut got = [0u8; 100];
        client.read_exact(&mut got).expect("echo");
        rtts.push(t.elapsed().as_secs_f64());
        assert_eq!(got, msg);
    }
    drop(client);
    let status = wait_exit(&mut launcher, Duration::from_secs(20)).expect("run ends");
    assert!(status.success(), "{status}");
    let rtt = ring12_rtt();
    // The first echo also pays for the handshake; the rest are one round trip.
    check_rtts(&rtts[1..], rtt);
    assert!(rtts[0] > 1.9 * rtt, "first echo {} s", rtts[0]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn udp_echo_through_a_gateway_across_four_hops_follows_the_geometry() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The echo server, plain std on the kernel's loopback.
    let server = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let server_port = server.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65_536];
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            let _ = server.send_to(&buf[..n], from);
        }
    });
    let gw_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let (dir, mut launcher) = launch_ring12("gateway-udp", gw_port, server_port, "udp");
    let client = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    // Until the run starts, datagrams wait in the gateway's socket or are
    // not answered in time: send until one comes back.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 2048];
    loop {
        client
            .send_to(b"hello", ("127.0.0.1", gw_port))
            .expect("send");
        if client.recv_from(&mut buf).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "no echo through the gateway");
    }
    // Drain late echoes of the probes.
    while client.recv_from(&mut buf).is_ok() {}
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut rtts = Vec::new();
    for i in 0..5u8 {
        let msg = [i; 1000];
        let t = Instant::now();
        client.send_to(&msg, ("127.0.0.1", gw_port)).expect("send");
        let (n, _) = client.recv_from(&mut buf).expect("echo");
        rtts.push(t.elapsed().as_secs_f64());
        assert_eq!(&buf[..n], &msg[..]);
    }
    let status = wait_exit(&mut launcher, Duration::from_secs(20)).expect("run ends");
    assert!(status.success(), "{status}");
    check_rtts(&rtts, ring12_rtt());
    std::fs::remove_dir_all(&dir).ok();
}

/// A gateway whose service refuses the connection resets its client's
/// connection: the client reads a reset, not an empty stream that would
/// pass for a whole answer.
#[test]
fn a_refused_service_reaches_the_client_as_a_reset() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Nothing listens on the service's port.
    let server_port = free_port();
    let gw_port = free_port();
    let (dir, mut launcher) = launch_ring12("gateway-refused", gw_port, server_port, "tcp");
    let mut client = connect_to_gateway(gw_port);
    client.write_all(b"hello").expect("write");
    let mut got = Vec::new();
    let read = client.read_to_end(&mut got).map_err(|e| e.kind());
    assert_eq!(
        (read, got.len()),
        (Err(std::io::ErrorKind::ConnectionReset), 0)
    );
    drop(client);
    let status = wait_exit(&mut launcher, Duration::from_secs(20)).expect("run ends");
    assert!(status.success(), "{status}");
    std::fs::remove_dir_all(&dir).ok();
}
