//! `orbnet up --capture`: pcap files of a satellite's ports and of one
//! link, read back here with a small reader of the format.

use std::process::{Command, Stdio};

mod common;
use common::{BIN, temp_dir};

/// (seconds, nanoseconds, packet) of every record; checks the header.
fn read_pcap(bytes: &[u8]) -> Vec<(u32, u32, Vec<u8>)> {
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    assert!(bytes.len() >= 24, "no file header");
    assert_eq!(u32_at(bytes, 0), 0xa1b2_3c4d, "nanosecond pcap magic");
    assert_eq!(u32_at(bytes, 20), 101, "LINKTYPE_RAW");
    let mut out = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        assert!(at + 16 <= bytes.len(), "truncated record header");
        let (sec, nsec) = (u32_at(bytes, at), u32_at(bytes, at + 4));
        let (incl, orig) = (
            u32_at(bytes, at + 8) as usize,
            u32_at(bytes, at + 12) as usize,
        );
        assert_eq!(incl, orig);
        assert!(nsec < 1_000_000_000);
        at += 16;
        out.push((sec, nsec, bytes[at..at + incl].to_vec()));
        at += incl;
    }
    out
}

/// The IPv4 header checksum (RFC 791) of `h` sums to zero when valid.
fn ipv4_checksum_ok(h: &[u8]) -> bool {
    let mut sum = 0u32;
    for w in h.chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

#[test]
fn captures_of_a_ping_run_hold_valid_ip_in_time_order() {
    let dir = temp_dir("capture");
    let file = dir.join("ring.toml");
    std::fs::write(
        &file,
        r#"name = "ring-8"
epoch = "2026-01-01T00:00:00Z"
duration_s = 3
[constellation]
kind = "walker"
planes = 1
per_plane = 8
altitude_km = 1000
inclination_deg = 53
[links]
rate_gbps = 10
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-2"
interval_ms = 100
count = 10
"#,
    )
    .expect("write");
    let out_dir = dir.join("out");
    let out = Command::new(BIN)
        .arg("up")
        .arg(&file)
        .args(["--out"])
        .arg(&out_dir)
        .args(["--capture", "sat-1", "--capture", "sat-0:sat-1"])
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 2026-01-01T00:00:00Z, the scenario epoch, in Unix seconds.
    let epoch = 1_767_225_600u32;
    for name in ["sat-1.pcap", "sat-0_sat-1.pcap"] {
        let bytes = std::fs::read(out_dir.join("capture").join(name)).expect("pcap written");
        let records = read_pcap(&bytes);
        // sat-1 forwards every echo and reply: 10 each way, on two ports.
        let want = if name == "sat-1.pcap" { 40 } else { 20 };
        assert_eq!(records.len(), want, "{name}");
        let mut last = (0, 0);
        for (sec, nsec, p) in &records {
            assert!((*sec, *nsec) >= last, "{name}: time goes back");
            last = (*sec, *nsec);
            assert!(*sec >= epoch && *sec < epoch + 4, "{name}: {sec}");
            assert_eq!(p[0] >> 4, 4, "IPv4");
            let ihl = usize::from(p[0] & 0xf) * 4;
            assert!(ipv4_checksum_ok(&p[..ihl]), "{name}: bad IP checksum");
            assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
            assert_eq!(p[9], 1, "ICMP");
        }
    }
    // A capture of a link that does not exist is refused before anything runs.
    let out = Command::new(BIN)
        .arg("up")
        .arg(&file)
        .args(["--capture", "sat-0:sat-3"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no link"));
    std::fs::remove_dir_all(&dir).ok();
}
