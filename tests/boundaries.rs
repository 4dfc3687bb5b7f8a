//! A satellite process's boundaries, from outside it: the test plays the
//! launcher of one `orbnet node` process and, with plain UDP sockets, its
//! neighbours and a stranger. Genuine frames pass once; replayed, stale,
//! forged and foreign datagrams are dropped and counted by reason; every
//! socket a run opens is on loopback; the results are whole files.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use orbnet_netem::{SatId, Scenario};
use serde_json::{Value, json};

mod common;
use common::{BIN, temp_dir, wait_exit};

const RING8: &str = r#"name = "ring-8-boundaries"
duration_s = 30
[constellation]
kind = "walker"
planes = 1
per_plane = 8
altitude_km = 1000
inclination_deg = 53
[links]
rate_gbps = 10
"#;

/// An `orbnet node` process driven by the test, as the launcher would.
struct Node {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl Node {
    fn spawn(scenario: &std::path::Path, sat: u32, token: u64) -> Node {
        let mut child = Command::new(BIN)
            .args(["node", "--sat", &sat.to_string(), "--token"])
            .arg(format!("{token:016x}"))
            .arg("--scenario")
            .arg(scenario)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns");
        let stdin = child.stdin.take().expect("stdin");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Node {
            child,
            stdin,
            lines,
        }
    }

    /// The next event the node reports.
    fn event(&mut self) -> Value {
        let line = self.lines.next().expect("a line").expect("readable");
        serde_json::from_str(&line).expect("JSON")
    }

    /// The next event named `name`, skipping others.
    fn until(&mut self, name: &str) -> Value {
        loop {
            let e = self.event();
            if e["event"] == name {
                return e;
            }
        }
    }

    fn say(&mut self, msg: &Value) {
        writeln!(self.stdin, "{msg}").expect("write");
        self.stdin.flush().expect("flush");
    }
}

/// A frame as `orbnet_node::wire` lays it out (written independently).
fn frame(token: u64, link: u32, seq: u64, packet: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(b"ORBN");
    f.extend_from_slice(&[1, 0, 0, 0]);
    f.extend_from_slice(&token.to_be_bytes());
    f.extend_from_slice(&link.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&0u64.to_be_bytes()); // sent
    f.extend_from_slice(&0u64.to_be_bytes()); // deliver: at once
    f.extend_from_slice(packet);
    f
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An ICMP echo request from satellite `from` to satellite `to`.
fn echo_request(from: u8, to: u8, seq: u16) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(&[0xab; 32]);
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 1, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[198, 18, 0, from + 1, 198, 18, 0, to + 1]);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(&icmp);
    ip
}

fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s
}

#[test]
fn forged_replayed_and_foreign_frames_are_dropped_and_counted() {
    let dir = temp_dir("boundaries");
    let file = dir.join("ring.toml");
    std::fs::write(&file, RING8).expect("write");
    let scenario =
        Scenario::parse(RING8, "ring.toml", &mut |_| Err("no files".into())).expect("valid");
    let link = |peer: u32| {
        let world = &scenario.world;
        world
            .links_of(SatId(0))
            .find(|(_, p)| *p == SatId(peer))
            .map(|(l, _)| l.0)
            .expect("a link")
    };
    let (to_sat1, to_sat7) = (link(1), link(7));
    let token: u64 = 0x5eed_0bad_cafe_f00d;
    let mut node = Node::spawn(&file, 0, token);
    let bound = node.event();
    assert_eq!(bound["event"], "bound");
    let port = u16::try_from(bound["port"].as_u64().expect("port")).expect("a port");
    let wire: SocketAddr = ([127, 0, 0, 1], port).into();
    // The test's sockets stand for sat-1 … sat-7; one more is a stranger.
    let peers: Vec<UdpSocket> = (1..8).map(|_| udp()).collect();
    let stranger = udp();
    let mut addrs = vec![wire.to_string()];
    addrs.extend(
        peers
            .iter()
            .map(|s| s.local_addr().expect("addr").to_string()),
    );
    node.say(&json!({"msg": "peers", "peers": addrs}));
    assert_eq!(node.until("ready")["sat"], "sat-0");
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_nanos() as u64;
    node.say(&json!({"msg": "start", "start_unix_ns": now_ns}));
    let sat1 = &peers[0];
    let genuine = frame(token, to_sat1, 1, &echo_request(1, 0, 1));
    let sends: Vec<(&UdpSocket, Vec<u8>)> = vec![
        // Taken: sat-0 answers the echo on the link to sat-1.
        (sat1, genuine.clone()),
        // The same frame again: a copy.
        (sat1, genuine.clone()),
        // A jump ahead is taken; then number 2, far below it, is stale.
        (sat1, frame(token, to_sat1, 5000, &echo_request(1, 0, 2))),
        (sat1, frame(token, to_sat1, 2, &echo_request(1, 0, 3))),
        // Another run's token; a genuine frame from a stranger; a frame
        // of sat-7's link from sat-1's address.
        (
            sat1,
            frame(token ^ 1, to_sat1, 6000, &echo_request(1, 0, 4)),
        ),
        (
            &stranger,
            frame(token, to_sat1, 7000, &echo_request(1, 0, 5)),
        ),
        (sat1, frame(token, to_sat7, 1, &echo_request(7, 0, 6))),
        // Not frames at all.
        (
            sat1,
            b"GET / HTTP/1.1\r\n\r\n----------------------------------".to_vec(),
        ),
        (sat1, genuine[..20].to_vec()),
        (sat1, genuine[..orbnet_node::wire::HEADER_LEN].to_vec()),
    ];
    for (from, datagram) in &sends {
        from.send_to(datagram, wire).expect("send");
    }
    // The two echoes taken come back to sat-1 as frames of the same link,
    // numbered from 1, with the run's token.
    let mut seqs = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..2 {
        let (n, from) = sat1.recv_from(&mut buf).expect("an echo reply");
        assert_eq!(from, wire);
        let f = orbnet_node::wire::Frame::parse(&buf[..n], token).expect("a frame");
        assert_eq!(f.header.link.0, to_sat1);
        assert_eq!(f.packet[20], 0, "an echo reply");
        seqs.push((
            f.header.seq,
            u16::from_be_bytes([f.packet[26], f.packet[27]]),
        ));
    }
    assert_eq!(seqs, [(1, 1), (2, 2)]);
    node.say(&json!({"msg": "stop"}));
    let done = node.until("done");
    let rejected = &done["rejected"];
    let expected = json!({
        "replayed": 1, "stale": 1, "wrong-token": 1, "unknown-source": 2,
        "bad-magic": 1, "truncated": 1, "empty": 1,
    });
    assert_eq!(rejected, &expected, "{done}");
    assert_eq!(done["frames_in"], 2, "{done}");
    assert_eq!(done["frames_out"], 2, "{done}");
    assert_eq!(done["delivered_local"], 2, "{done}");
    assert_eq!(done["kernel_drops"], 0, "{done}");
    let status = wait_exit(&mut node.child, Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Local addresses of the sockets process `pid` holds, from
/// /proc/PID/fd and the kernel's socket tables: ("udp" | "tcp", address).
fn sockets_of(pid: u32) -> Vec<(String, String)> {
    let mut inodes = std::collections::BTreeSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy().into_owned();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                    inodes.insert(inode.to_owned());
                }
            }
        }
    }
    let mut out = Vec::new();
    for table in ["udp", "udp6", "tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && inodes.contains(cols[9]) {
                out.push((table.trim_end_matches('6').to_owned(), cols[1].to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_socket_of_a_run_is_on_loopback() {
    // Gateways of both kinds, in and out, and a QUIC transfer: every
    // kind of socket a satellite process opens.
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let server_port = server.local_addr().expect("addr").port();
    let gw = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let gw_port = gw.local_addr().expect("addr").port();
    drop(gw);
    let dir = temp_dir("loopback");
    let file = dir.join("ring.toml");
    let text = format!(
        r#"{RING8}
[[workload]]
kind = "bulk"
from = "sat-2"
to = "sat-5"
bytes = 1000000
[[gateway]]
satellite = "sat-0"
listen = "127.0.0.1:{gw_port}"
to = "sat-4:7"
[[gateway]]
satellite = "sat-4"
expose = "7"
forward = "127.0.0.1:{server_port}"
[[gateway]]
satellite = "sat-1"
listen = "127.0.0.1:{gw_port}"
to = "sat-3:9"
protocol = "udp"
[[gateway]]
satellite = "sat-3"
expose = "9"
forward = "127.0.0.1:{server_port}"
protocol = "udp"
"#
    )
    .replace("duration_s = 30", "duration_s = 4");
    std::fs::write(&file, text).expect("write");
    let mut launcher = Command::new(BIN)
        .arg("up")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("out"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let pids = common::wait_for_children(&launcher, 8);
    assert_eq!(pids.len(), 8);
    // Once the run is under way, datagrams through the UDP gateway open
    // the egress side's kernel socket too.
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = udp();
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    let mut carried = false;
    while !carried && Instant::now() < deadline {
        let _ = client.send_to(b"ping", ("127.0.0.1", gw_port));
        server
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        carried = server.recv_from(&mut buf).is_ok();
    }
    assert!(carried, "a datagram through the UDP gateway");
    let mut seen = Vec::new();
    for &pid in &pids {
        seen.extend(sockets_of(pid));
    }
    // The wires (8), the TCP and UDP gateway listeners, the UDP egress flow.
    assert!(seen.len() >= 11, "{seen:?}");
    for (proto, local) in &seen {
        // 0100007F is 127.0.0.1 as the kernel prints it (little-endian hex).
        assert!(local.starts_with("0100007F:"), "{proto} socket on {local}");
    }
    let status = wait_exit(&mut launcher, Duration::from_secs(30)).expect("run ends");
    assert!(status.success(), "{status}");
    // The results are whole files with nothing left half-written.
    let out = dir.join("out");
    let leftovers: Vec<String> = std::fs::read_dir(&out)
        .expect("results")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("read"))
            .expect("whole JSON");
    assert_eq!(summary["accounting"]["balanced"], true, "{summary}");
    std::fs::remove_dir_all(&dir).ok();
}
