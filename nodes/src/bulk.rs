//! The `bulk` workload over TCP: smoltcp TCP sockets carrying generated
//! bytes that the receiver checks one by one.
//!
//! The content is a keyed stream ([`Content`]), so the receiver knows
//! every byte it should get without anything being sent ahead, and a
//! single wrong byte fails the transfer. With `streams = N` the bytes are
//! split into N contiguous ranges, one per connection.
//!
//! TCP is tuned for long fat links: windows sized to the path's
//! bandwidth-delay product (smoltcp scales the window for buffers over
//! 64 KiB), Nagle on, delayed ACK off, CUBIC or Reno congestion control;
//! the satellite's egress pushes back on the stack before its first hop's
//! queue overflows (see `stack::Queues`).

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;

use orbnet_netem::ports::PortPlan;
use orbnet_netem::workload::{Bulk, Cc};
use orbnet_netem::{SimTime, rng};

use crate::addr;
use crate::app::{App, Outbox};
use crate::protocol::{self, Event};
use crate::stack::Stack;

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Words in a content table (64 KiB).
const TABLE_WORDS: usize = 8192;

/// The keyed content of a transfer, as little-endian 64-bit words: word
/// `i` is `T[i mod N] ^ m(i div N)`, where the table `T[j] = splitmix(key ^ j)`
/// holds N = 8192 words and `m(q) = q · 0x9e3779b97f4a7c15` marks each
/// 64 KiB period.
///
/// Every word depends on its own index: a word out of place by d words
/// compares `T[j] ^ m(q)` with `T[j'] ^ m(q')`, equal only by a 2⁻⁶⁴
/// chance, even when d is a whole number of periods (the multiplier is odd,
/// so `m` never repeats). Generating and checking cost one xor per word
/// over a table that stays in cache, far below the cost of carrying the
/// bytes: the mix behind it runs once per table entry, not once per word.
#[derive(Clone, Debug)]
pub(crate) struct Content {
    table: std::sync::Arc<[u64]>,
}

impl Content {
    pub(crate) fn new(key: u64) -> Content {
        Content {
            table: (0..TABLE_WORDS as u64).map(|j| splitmix(key ^ j)).collect(),
        }
    }

    /// Word `i` of the content.
    pub(crate) fn word(&self, i: u64) -> u64 {
        self.table[(i % TABLE_WORDS as u64) as usize] ^ period_mark(i / TABLE_WORDS as u64)
    }

    /// Fills `buf` with the content at byte `offset`.
    pub(crate) fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut at = offset;
        let mut rest = buf;
        while !rest.is_empty() {
            let i = at / 8;
            let s = (at % 8) as usize;
            if s != 0 || rest.len() < 8 {
                // A part of one word, at the start or the end.
                let n = (8 - s).min(rest.len());
                let (part, tail) = std::mem::take(&mut rest).split_at_mut(n);
                part.copy_from_slice(&self.word(i).to_le_bytes()[s..s + n]);
                (at, rest) = (at + n as u64, tail);
                continue;
            }
            // Whole words up to the end of this table period.
            let (j, mark) = self.run(i);
            let words = (TABLE_WORDS - j).min(rest.len() / 8);
            let (run, tail) = std::mem::take(&mut rest).split_at_mut(words * 8);
            for (d, &t) in run
                .as_chunks_mut::<8>()
                .0
                .iter_mut()
                .zip(&self.table[j..j + words])
            {
                *d = (t ^ mark).to_le_bytes();
            }
            (at, rest) = (at + (words * 8) as u64, tail);
        }
    }

    /// The offset of the first byte of `buf` that differs from the content
    /// at byte `offset`.
    pub(crate) fn first_mismatch(&self, offset: u64, buf: &[u8]) -> Option<u64> {
        let mut at = offset;
        let mut rest = buf;
        while !rest.is_empty() {
            let i = at / 8;
            let s = (at % 8) as usize;
            let words = if s != 0 || rest.len() < 8 {
                0
            } else {
                (TABLE_WORDS - self.run(i).0).min(rest.len() / 8).min(512)
            };
            if words == 0 {
                let n = (8 - s).min(rest.len());
                let expect = &self.word(i).to_le_bytes()[s..s + n];
                if let Some(k) = rest[..n].iter().zip(expect).position(|(a, b)| a != b) {
                    return Some(at + k as u64);
                }
                (at, rest) = (at + n as u64, &rest[n..]);
                continue;
            }
            // Up to 512 whole words at once; look closer only if one differs.
            let (j, mark) = self.run(i);
            let run = rest[..words * 8]
                .as_chunks::<8>()
                .0
                .iter()
                .zip(&self.table[j..j + words]);
            let diff = run
                .clone()
                .fold(0, |acc, (d, &t)| acc | (u64::from_le_bytes(*d) ^ t ^ mark));
            if diff != 0 {
                // The first differing word, then its first differing byte.
                let (k, b) = run
                    .enumerate()
                    .find_map(|(k, (d, &t))| {
                        let e = (t ^ mark).to_le_bytes();
                        d.iter().zip(&e).position(|(a, b)| a != b).map(|b| (k, b))
                    })
                    .unwrap_or((0, 0));
                return Some(at + (8 * k + b) as u64);
            }
            (at, rest) = (at + (words * 8) as u64, &rest[words * 8..]);
        }
        None
    }

    /// Where word `i` sits in the table, and its period's mark.
    fn run(&self, i: u64) -> (usize, u64) {
        (
            (i % TABLE_WORDS as u64) as usize,
            period_mark(i / TABLE_WORDS as u64),
        )
    }
}

/// The mark of table period `q` (an odd multiplier: distinct for every q).
fn period_mark(q: u64) -> u64 {
    q.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The content key of workload `w` under scenario seed `seed`.
pub(crate) fn content_key(seed: u64, w: usize) -> u64 {
    rng::stream_seed(seed, rng::Domain::Satellite, 0x42_0000 + w as u64)
}

/// The byte range of stream `k` of `n` sharing `bytes`.
pub(crate) fn range(bytes: u64, n: u32, k: u32) -> (u64, u64) {
    let n = u64::from(n);
    let k = u64::from(k);
    let start = bytes * k / n;
    let end = bytes * (k + 1) / n;
    (start, end - start)
}

/// A bulk transfer's socket. Nagle stays on: a bulk sender always has a
/// full segment's worth to send, and without it smoltcp's congestion
/// avoidance, which grows the window by a few bytes per acknowledgement,
/// sends a runt beside every full segment (some 300 000 packets a second
/// after one loss on a 1 Gb/s path, which a host emulating six hops in
/// real time cannot carry).
fn tcp_socket(buffer: usize, cc: Cc) -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; buffer]),
        tcp::SocketBuffer::new(vec![0; buffer]),
    );
    s.set_ack_delay(None);
    s.set_congestion_control(match cc {
        Cc::NewReno => tcp::CongestionControl::Reno,
        _ => tcp::CongestionControl::Cubic,
    });
    s
}

/// Whether the connection of `handle` is over: closed, or waiting out
/// TIME-WAIT after both FINs.
fn closed(stack: &mut Stack, handle: SocketHandle) -> bool {
    let state = stack.sockets.get_mut::<tcp::Socket>(handle).state();
    matches!(state, tcp::State::Closed | tcp::State::TimeWait)
}

fn remove(stack: &mut Stack, handles: impl Iterator<Item = SocketHandle>) {
    for h in handles {
        stack.sockets.remove(h);
    }
}

#[derive(Debug)]
struct SendStream {
    handle: SocketHandle,
    /// The receiver's port, and ours.
    ports: (u16, u16),
    offset: u64,
    len: u64,
    sent: u64,
    closed: bool,
}

/// The sending end of a bulk transfer.
#[derive(Debug)]
pub(crate) struct Sender {
    spec: Bulk,
    content: Content,
    streams: Vec<SendStream>,
    started: bool,
}

impl Sender {
    pub(crate) fn new(
        w: usize,
        spec: Bulk,
        plan: &PortPlan,
        seed: u64,
        buffer: usize,
        stack: &mut Stack,
    ) -> Sender {
        let streams = (0..spec.streams)
            .map(|k| {
                let (offset, len) = range(spec.bytes, spec.streams, k);
                let handle = stack.sockets.add(tcp_socket(buffer, spec.cc));
                SendStream {
                    handle,
                    ports: plan.bulk(w, k),
                    offset,
                    len,
                    sent: 0,
                    closed: false,
                }
            })
            .collect();
        Sender {
            spec,
            content: Content::new(content_key(seed, w)),
            streams,
            started: false,
        }
    }

    /// Opens the connections (at the start time).
    fn start(&mut self, stack: &mut Stack) {
        self.started = true;
        let dst = IpAddress::Ipv4(addr::address(self.spec.to));
        for s in &self.streams {
            let (listen, local) = s.ports;
            let socket = stack.sockets.get_mut::<tcp::Socket>(s.handle);
            // Fresh sockets with unused ports: connect cannot fail here.
            let _ = socket.connect(stack.iface.context(), (dst, listen), local);
        }
    }

    /// Fills the send buffers; returns whether anything was queued.
    fn pump(&mut self, stack: &mut Stack) -> bool {
        if !self.started {
            return false;
        }
        let mut any = false;
        for s in &mut self.streams {
            let socket = stack.sockets.get_mut::<tcp::Socket>(s.handle);
            while s.sent < s.len && socket.can_send() {
                let content = &self.content;
                let at = s.offset + s.sent;
                let left = s.len - s.sent;
                let n = socket
                    .send(|buf| {
                        let n = buf.len().min(left as usize);
                        content.fill(at, &mut buf[..n]);
                        (n, n)
                    })
                    .unwrap_or(0);
                if n == 0 {
                    break;
                }
                s.sent += n as u64;
                any = true;
            }
            if s.sent == s.len && !s.closed {
                socket.close();
                s.closed = true;
                any = true;
            }
        }
        any
    }
}

#[derive(Debug)]
struct RecvStream {
    handle: SocketHandle,
    offset: u64,
    len: u64,
    received: u64,
}

/// How a transfer ended, as the receiver saw it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Outcome {
    pub received: u64,
    pub completed: Option<SimTime>,
    pub verified: bool,
    pub error: Option<String>,
}

/// The report of a transfer: workload `w`, `spec`, between `names`.
pub(crate) fn transfer_event(
    w: usize,
    spec: &Bulk,
    names: &(String, String),
    o: &Outcome,
) -> Event {
    Event::Transfer(protocol::Transfer {
        workload: w,
        from: names.0.clone(),
        to: names.1.clone(),
        transport: spec.transport.as_str().to_owned(),
        cc: spec.cc.as_str().to_owned(),
        bytes: spec.bytes,
        streams: spec.streams,
        start_s: spec.start.as_secs_f64(),
        completed_s: o.completed.map(|t| t.as_secs_f64()),
        received: o.received,
        verified: o.verified,
        error: o.error.clone(),
    })
}

/// The receiving end of a bulk transfer.
#[derive(Debug)]
pub(crate) struct Receiver {
    spec: Bulk,
    w: usize,
    /// The names of both ends, for reports.
    names: (String, String),
    content: Content,
    streams: Vec<RecvStream>,
    mismatch: Option<u64>,
    outcome: Option<Outcome>,
}

impl Receiver {
    pub(crate) fn new(
        w: usize,
        spec: Bulk,
        names: (String, String),
        plan: &PortPlan,
        seed: u64,
        buffer: usize,
        stack: &mut Stack,
    ) -> Receiver {
        let streams = (0..spec.streams)
            .map(|k| {
                let (offset, len) = range(spec.bytes, spec.streams, k);
                let mut socket = tcp_socket(buffer, spec.cc);
                // A fresh socket listens on any nonzero port.
                let _ = socket.listen(plan.bulk(w, k).0);
                let handle = stack.sockets.add(socket);
                RecvStream {
                    handle,
                    offset,
                    len,
                    received: 0,
                }
            })
            .collect();
        Receiver {
            spec,
            w,
            names,
            content: Content::new(content_key(seed, w)),
            streams,
            mismatch: None,
            outcome: None,
        }
    }

    fn received(&self) -> u64 {
        self.streams.iter().map(|s| s.received).sum()
    }

    /// When the transfer times out, if it is still running.
    fn deadline(&self) -> Option<SimTime> {
        match (self.outcome.is_none(), self.spec.timeout) {
            (true, Some(t)) => Some(self.spec.start + t),
            _ => None,
        }
    }

    /// Reads and checks what arrived; returns the outcome once, when done.
    fn pump(&mut self, now: SimTime, stack: &mut Stack) -> Option<Outcome> {
        if self.outcome.is_some() {
            return None;
        }
        for s in &mut self.streams {
            let socket = stack.sockets.get_mut::<tcp::Socket>(s.handle);
            while socket.can_recv() {
                let content = &self.content;
                let at = s.offset + s.received;
                let mut bad = None;
                let n = socket
                    .recv(|buf| {
                        bad = content.first_mismatch(at, buf);
                        (buf.len(), buf.len())
                    })
                    .unwrap_or(0);
                if n == 0 {
                    break;
                }
                s.received += n as u64;
                if self.mismatch.is_none() {
                    self.mismatch = bad;
                }
            }
            if s.received >= s.len && socket.may_send() && socket.state() == tcp::State::CloseWait {
                socket.close();
            }
        }
        let over = self.streams.iter().any(|s| s.received > s.len);
        if self.mismatch.is_some() || over {
            let error = match self.mismatch {
                Some(at) => format!("byte {at} differs from what was sent"),
                None => "more bytes than were sent".to_owned(),
            };
            return self.finish(now, false, Some(error));
        }
        if self.streams.iter().all(|s| s.received == s.len) {
            return self.finish(now, true, None);
        }
        if self.deadline().is_some_and(|d| now >= d) {
            let error = format!(
                "timed out after {:.3} s with {} of {} bytes",
                (now - self.spec.start).as_secs_f64(),
                self.received(),
                self.spec.bytes
            );
            return self.finish(now, false, Some(error));
        }
        None
    }

    /// The outcome at the end of the run, if the transfer never finished.
    fn unfinished(&mut self, now: SimTime) -> Option<Outcome> {
        if self.outcome.is_some() {
            return None;
        }
        let error = format!(
            "the run ended with {} of {} bytes received",
            self.received(),
            self.spec.bytes
        );
        self.finish(now, false, Some(error))
    }

    fn finish(&mut self, now: SimTime, verified: bool, error: Option<String>) -> Option<Outcome> {
        let o = Outcome {
            received: self.received(),
            completed: verified.then_some(now),
            verified,
            error,
        };
        self.outcome = Some(o.clone());
        Some(o)
    }
}

impl App for Sender {
    fn next_timer(&self) -> Option<SimTime> {
        (!self.started).then_some(self.spec.start)
    }

    fn prepare(&mut self, now: SimTime, stack: &mut Stack) {
        if !self.started && self.spec.start <= now {
            self.start(stack);
        }
        self.pump(stack);
    }

    fn poll(&mut self, _now: SimTime, stack: &mut Stack, _out: &mut Outbox) -> bool {
        self.pump(stack)
    }

    /// Every connection closed and its FIN acknowledged: the sockets
    /// leave the stack with their buffers.
    fn retire(&mut self, stack: &mut Stack) -> bool {
        let done = self
            .streams
            .iter()
            .all(|s| s.closed && closed(stack, s.handle));
        if done {
            remove(stack, self.streams.iter().map(|s| s.handle));
        }
        done
    }
}

impl App for Receiver {
    fn next_timer(&self) -> Option<SimTime> {
        self.deadline()
    }

    fn poll(&mut self, now: SimTime, stack: &mut Stack, out: &mut Outbox) -> bool {
        if let Some(o) = self.pump(now, stack) {
            out.events
                .push_back(transfer_event(self.w, &self.spec, &self.names, &o));
        }
        false
    }

    fn samples(&self) -> bool {
        true
    }

    fn sample(&mut self, now: SimTime, out: &mut Outbox) {
        out.events
            .push_back(Event::BulkProgress(protocol::Progress {
                workload: self.w,
                t_s: now.as_secs_f64(),
                bytes: self.received(),
            }));
    }

    /// The outcome reported and every connection closed: the sockets
    /// leave the stack with their buffers (a soak run would otherwise keep
    /// those of every transfer that ever ran).
    fn retire(&mut self, stack: &mut Stack) -> bool {
        let done = self.outcome.is_some() && self.streams.iter().all(|s| closed(stack, s.handle));
        if done {
            remove(stack, self.streams.iter().map(|s| s.handle));
        }
        done
    }

    fn finish(&mut self, now: SimTime, out: &mut Outbox) {
        if let Some(o) = self.unfinished(now) {
            out.events
                .push_back(transfer_event(self.w, &self.spec, &self.names, &o));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_checks_out_and_a_flipped_byte_is_caught() {
        let (c7, c8) = (Content::new(7), Content::new(8));
        let mut buf = vec![0u8; 1000];
        c7.fill(13, &mut buf);
        assert_eq!(c7.first_mismatch(13, &buf), None);
        assert!(c8.first_mismatch(13, &buf).is_some());
        buf[500] ^= 1;
        assert_eq!(c7.first_mismatch(13, &buf), Some(513));
        // Split anywhere, the halves check out at their offsets.
        let mut whole = vec![0u8; 64];
        c7.fill(0, &mut whole);
        assert_eq!(c7.first_mismatch(37, &whole[37..]), None);
    }

    #[test]
    fn content_is_the_bytes_of_its_words() {
        // The definition, a byte at a time from splitmix itself, against
        // the fill at every alignment and length around a word, at the
        // start and across the first table period's end.
        let c = Content::new(11);
        let byte = |at: u64| {
            let (i, n) = (at / 8, TABLE_WORDS as u64);
            let w = splitmix(11 ^ (i % n)) ^ (i / n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            w.to_le_bytes()[(at % 8) as usize]
        };
        let edge = 8 * TABLE_WORDS as u64;
        for base in [0, edge - 40] {
            for offset in base..base + 70 {
                for len in 0..100usize {
                    let mut buf = vec![0u8; len];
                    c.fill(offset, &mut buf);
                    for (i, &b) in buf.iter().enumerate() {
                        assert_eq!(b, byte(offset + i as u64), "offset {offset} + {i}");
                    }
                    assert_eq!(c.first_mismatch(offset, &buf), None);
                }
            }
        }
        let c5 = Content::new(5);
        let mut big = vec![0u8; 10_000];
        c5.fill(3, &mut big);
        big[9_999] ^= 0x80;
        assert_eq!(c5.first_mismatch(3, &big), Some(10_002));
        // A word moved to another offset is caught.
        let mut moved = vec![0u8; 64];
        c5.fill(0, &mut moved[..32]);
        c5.fill(0, &mut moved[32..]);
        assert_eq!(c5.first_mismatch(0, &moved), Some(32));
    }

    #[test]
    fn content_repeated_a_whole_table_later_is_caught() {
        // The table repeats every 64 KiB; the period's mark does not, so a
        // period sent twice (or one skipped) is caught at its first byte.
        let c = Content::new(9);
        let period = 8 * TABLE_WORDS;
        let mut twice = vec![0u8; 2 * period];
        c.fill(0, &mut twice[..period]);
        c.fill(0, &mut twice[period..]);
        assert_eq!(c.first_mismatch(0, &twice), Some(period as u64));
        // The whole of a long stream checks out, and one flipped bit deep
        // inside is found where it is.
        let mut long = vec![0u8; 5 * period + 5];
        c.fill(77, &mut long);
        assert_eq!(c.first_mismatch(77, &long), None);
        long[3 * period + 1234] ^= 4;
        assert_eq!(
            c.first_mismatch(77, &long),
            Some(77 + 3 * period as u64 + 1234)
        );
    }

    #[test]
    fn ranges_cover_the_bytes_exactly() {
        let total: u64 = (0..7).map(|k| range(1_000_003, 7, k).1).sum();
        assert_eq!(total, 1_000_003);
        assert_eq!(range(10, 3, 0), (0, 3));
        assert_eq!(range(10, 3, 2), (6, 4));
    }
}
