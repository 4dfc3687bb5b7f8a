//! A normaliser in front of the stack for a smoltcp recovery flaw.
//!
//! When smoltcp's retransmission timer fires it rewinds its "last
//! sequence number sent" to the oldest unacknowledged byte, and its pure
//! ACKs then carry that rewound number. The peer, having received beyond
//! it, finds such a segment left of its receive window and, as RFC 9293
//! says of unacceptable segments, answers it without reading its ACK
//! field. If both ends of a connection that carries data both ways time
//! out together (an echo under load: a loss, or a round trip stretched
//! past the 1 s minimum timeout by a busy host), neither reads the
//! other's acknowledgements again: each retransmits its oldest segment,
//! backing off to 60 s, for ever. 1,000 concurrent echoes through a
//! gateway pair left a few connections so (BENCHMARKS.md, Hardening).
//!
//! A pure ACK carries no data, so its sequence number only decides
//! whether its acknowledgement is read. [`AckFloor`] remembers, per
//! connection, the end of the furthest segment delivered to the stack,
//! and raises the sequence number of a pure ACK that falls behind it to
//! that end, where the window accepts it. Keep-alives (one below the
//! end) and segments with data, SYN, FIN or RST pass untouched. Incoming
//! checksums are not verified by the stack ([`crate::stack`]), so the
//! rewritten field needs no checksum update.

use std::collections::HashMap;

/// A connection as its packets arrive: source and destination address
/// and port.
type Tuple = (u32, u32, u16, u16);

/// Connections remembered before idle ones are forgotten.
const MAX_CONNECTIONS: usize = 16_384;
/// Packets after which a connection that received none counts as idle.
const IDLE_PACKETS: u64 = 1 << 20;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;

/// The furthest sequence number delivered on each connection.
#[derive(Debug, Default)]
pub(crate) struct AckFloor {
    /// Per connection: the end, and the packet count when it last received.
    ends: HashMap<Tuple, (u32, u64)>,
    /// TCP packets passed so far.
    packets: u64,
    /// The size at which idle connections are next forgotten.
    limit: usize,
}

/// The TCP fields of an IPv4 packet: its tuple, the offset of its
/// sequence number, the sequence number, flags and payload length.
fn tcp_fields(p: &[u8]) -> Option<(Tuple, usize, u32, u8, usize)> {
    let ihl = usize::from(*p.first()? & 0x0f) * 4;
    if *p.first()? >> 4 != 4 || *p.get(9)? != 6 || ihl < 20 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(p.get(at..at + 4)?.try_into().ok()?))
    };
    let tcp = p.get(ihl..total)?;
    let doff = usize::from(*tcp.get(12)? >> 4) * 4;
    let payload = tcp.len().checked_sub(doff)?;
    let tuple = (
        be32(12)?,
        be32(16)?,
        u16::from_be_bytes([tcp[0], tcp[1]]),
        u16::from_be_bytes([tcp[2], tcp[3]]),
    );
    Some((tuple, ihl + 4, be32(ihl + 4)?, *tcp.get(13)?, payload))
}

impl AckFloor {
    /// Notes `packet`'s furthest sequence number, or raises it to the
    /// connection's floor if it is a pure ACK left behind.
    pub(crate) fn pass(&mut self, packet: &mut [u8]) {
        let Some((tuple, at, seq, flags, payload)) = tcp_fields(packet) else {
            return;
        };
        self.packets += 1;
        if flags & RST != 0 {
            return;
        }
        // SYN and FIN each take a sequence number.
        let len = payload + usize::from(flags & SYN != 0) + usize::from(flags & FIN != 0);
        if len > 0 {
            let end = seq.wrapping_add(len as u32);
            let e = self.ends.entry(tuple).or_insert((end, 0));
            // Sequence numbers wrap: `end` is further if it is less than
            // half the space ahead.
            if (end.wrapping_sub(e.0) as i32) > 0 {
                e.0 = end;
            }
            e.1 = self.packets;
            self.prune();
            return;
        }
        if let Some(e) = self.ends.get_mut(&tuple) {
            e.1 = self.packets;
            if (e.0.wrapping_sub(seq) as i32) > 1 {
                packet[at..at + 4].copy_from_slice(&e.0.to_be_bytes());
            }
        }
    }

    /// Forgets idle connections once too many are remembered.
    fn prune(&mut self) {
        if self.ends.len() > self.limit.max(MAX_CONNECTIONS) {
            let now = self.packets;
            self.ends.retain(|_, e| now - e.1 < IDLE_PACKETS);
            // If most are busy, wait for as many again before the next sweep.
            self.limit = 2 * self.ends.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 TCP packet from 10.0.0.1:5000 to 10.0.0.2:7 with `seq`,
    /// `flags` and `payload` bytes of data.
    fn packet(seq: u32, flags: u8, payload: usize) -> Vec<u8> {
        let total = 40 + payload;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[9] = 6;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p[20..22].copy_from_slice(&5000u16.to_be_bytes());
        p[22..24].copy_from_slice(&7u16.to_be_bytes());
        p[24..28].copy_from_slice(&seq.to_be_bytes());
        p[32] = 5 << 4;
        p[33] = flags;
        p
    }

    fn seq(p: &[u8]) -> u32 {
        u32::from_be_bytes([p[24], p[25], p[26], p[27]])
    }

    const ACK: u8 = 0x10;

    #[test]
    fn a_pure_ack_behind_the_furthest_data_is_raised_to_it() {
        let mut f = AckFloor::default();
        f.pass(&mut packet(1000, ACK, 500));
        let mut behind = packet(1200, ACK, 0);
        f.pass(&mut behind);
        assert_eq!(seq(&behind), 1500);
    }

    #[test]
    fn keep_alives_data_and_resets_pass_untouched() {
        let mut f = AckFloor::default();
        f.pass(&mut packet(1000, ACK, 500));
        let mut keep_alive = packet(1499, ACK, 0);
        let mut old_data = packet(1000, ACK, 500);
        let mut reset = packet(1200, RST | ACK, 0);
        let mut current = packet(1500, ACK, 0);
        for p in [&mut keep_alive, &mut old_data, &mut reset, &mut current] {
            f.pass(p);
        }
        assert_eq!(
            [&keep_alive, &old_data, &reset, &current].map(|p| seq(p)),
            [1499, 1000, 1200, 1500]
        );
    }

    #[test]
    fn the_end_follows_sequence_numbers_across_the_wrap() {
        let mut f = AckFloor::default();
        f.pass(&mut packet(u32::MAX - 99, ACK, 200));
        let mut behind = packet(u32::MAX - 10, ACK, 0);
        f.pass(&mut behind);
        assert_eq!(seq(&behind), 100);
    }

    #[test]
    fn other_connections_and_truncated_packets_are_left_alone() {
        let mut f = AckFloor::default();
        f.pass(&mut packet(1000, ACK, 500));
        let mut other = packet(1200, ACK, 0);
        other[20..22].copy_from_slice(&5001u16.to_be_bytes());
        f.pass(&mut other);
        assert_eq!(seq(&other), 1200);
        let mut short = packet(1200, ACK, 0);
        short.truncate(30);
        f.pass(&mut short);
        assert_eq!(short.len(), 30);
    }
}
