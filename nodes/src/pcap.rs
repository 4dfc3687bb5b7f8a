//! Packet capture in the pcap format (nanosecond timestamps, link type
//! RAW: every record is a bare IPv4 packet), stamped in virtual time from
//! the scenario's epoch, so Wireshark and tshark decode the IP, UDP, TCP
//! and QUIC inside and show the constellation's own timeline.
//!
//! Format: <https://www.tcpdump.org/manpages/pcap-savefile.5.txt>; link
//! type 101 (LINKTYPE_RAW): <https://www.tcpdump.org/linktypes.html>.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use orbnet_netem::{LinkId, SimTime};

/// Magic of a pcap file with nanosecond timestamps.
pub(crate) const MAGIC_NS: u32 = 0xa1b2_3c4d;
/// LINKTYPE_RAW: the packet begins with an IPv4 or IPv6 header.
pub(crate) const LINKTYPE_RAW: u32 = 101;
const SNAPLEN: u32 = 65_535;

/// One capture file: the packets a satellite sends and receives on some
/// of its links.
#[derive(Debug)]
pub struct Capture {
    /// Links recorded; all of the satellite's when `None`.
    links: Option<BTreeSet<LinkId>>,
    out: BufWriter<File>,
    /// Unix nanoseconds of virtual time zero.
    epoch_ns: i128,
    failed: bool,
}

impl Capture {
    /// Creates `path` and writes the file header.
    pub fn create(
        path: &Path,
        links: Option<BTreeSet<LinkId>>,
        epoch_unix_ns: i128,
    ) -> std::io::Result<Capture> {
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(&MAGIC_NS.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?; // time zone: UTC
        out.write_all(&0u32.to_le_bytes())?; // timestamp accuracy
        out.write_all(&SNAPLEN.to_le_bytes())?;
        out.write_all(&LINKTYPE_RAW.to_le_bytes())?;
        Ok(Capture {
            links,
            out,
            epoch_ns: epoch_unix_ns,
            failed: false,
        })
    }

    /// Whether packets on `link` are recorded.
    pub fn wants(&self, link: LinkId) -> bool {
        self.links.as_ref().is_none_or(|l| l.contains(&link))
    }

    /// Records `packet`, seen on `link` at virtual time `t`.
    pub fn record(&mut self, link: LinkId, t: SimTime, packet: &[u8]) {
        if self.failed || !self.wants(link) {
            return;
        }
        let ns = self.epoch_ns + i128::from(t.as_nanos());
        let (sec, nsec) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
        let len = packet.len().min(SNAPLEN as usize);
        let r = (|| {
            self.out.write_all(&(sec as u32).to_le_bytes())?;
            self.out.write_all(&(nsec as u32).to_le_bytes())?;
            self.out.write_all(&(len as u32).to_le_bytes())?;
            self.out.write_all(&(packet.len() as u32).to_le_bytes())?;
            self.out.write_all(&packet[..len])
        })();
        if let Err(e) = r {
            tracing::warn!("capture stopped: {e}");
            self.failed = true;
        }
    }

    /// Writes out what is buffered.
    pub fn finish(&mut self) {
        if let Err(e) = self.out.flush() {
            tracing::warn!("capture: {e}");
        }
    }
}
