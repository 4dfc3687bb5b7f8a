//! The `bulk` workload over TCP: smoltcp TCP sockets carrying generated
//! bytes that the receiver checks one by one.
//!
//! The content is a keyed stream: the 8 bytes of block `k` are
//! `splitmix64(key ^ k)`, so the receiver knows every byte it should get
//! without anything being sent ahead, and a single wrong byte fails the
//! transfer. With `streams = N` the bytes are split into N contiguous
//! ranges, one per connection.
//!
//! TCP is tuned for long fat links: windows sized to the path's
//! bandwidth-delay product (smoltcp scales the window for buffers over
//! 64 KiB), Nagle off, delayed ACK off, CUBIC or Reno congestion control.

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;

use orbnet_netem::scenario::{Bulk, Cc};
use orbnet_netem::{SimTime, rng};

use crate::addr;
use crate::stack::Stack;

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The content of stream `key` in 32-byte blocks: block `b` is four
/// little-endian words, `w.rotate_left(16k) ^ K[k]` for k = 0..4, with
/// `w = splitmix(key ^ b)`. One mix per 32 bytes keeps generating and
/// checking the content well below the cost of carrying it; any byte out
/// of place lands in another block or word and differs.
fn block(key: u64, b: u64) -> [u8; BLOCK] {
    const K: [u64; 4] = [
        0,
        0x9e37_79b9_7f4a_7c15,
        0x3c6e_f372_fe94_f82a,
        0xdaa6_6d2c_7ddf_743f,
    ];
    let w = splitmix(key ^ b);
    let mut out = [0u8; BLOCK];
    for (k, c) in out.chunks_exact_mut(8).enumerate() {
        c.copy_from_slice(&(w.rotate_left(16 * k as u32) ^ K[k]).to_le_bytes());
    }
    out
}

/// Bytes per content block.
const BLOCK: usize = 32;

/// Fills `buf` with the content at `offset` of stream `key` (see [`block`]).
pub fn fill(key: u64, offset: u64, buf: &mut [u8]) {
    let size = BLOCK as u64;
    let mut at = offset;
    // Up to the next block boundary.
    let head = (((size - at % size) % size) as usize).min(buf.len());
    let (first, rest) = buf.split_at_mut(head);
    if head > 0 {
        let s = (at % size) as usize;
        first.copy_from_slice(&block(key, at / size)[s..s + head]);
        at += head as u64;
    }
    let mut blocks = rest.chunks_exact_mut(BLOCK);
    for c in &mut blocks {
        c.copy_from_slice(&block(key, at / size));
        at += size;
    }
    let tail = blocks.into_remainder();
    let n = tail.len();
    tail.copy_from_slice(&block(key, at / size)[..n]);
}

/// Index of the first byte of `buf` that differs from the content at `offset`.
pub fn first_mismatch(key: u64, offset: u64, buf: &[u8]) -> Option<u64> {
    let mut expect = [0u8; 4096];
    for (k, chunk) in buf.chunks(expect.len()).enumerate() {
        let at = offset + (k * expect.len()) as u64;
        let e = &mut expect[..chunk.len()];
        fill(key, at, e);
        if chunk != e {
            let i = chunk.iter().zip(e.iter()).position(|(a, b)| a != b)?;
            return Some(at + i as u64);
        }
    }
    None
}

/// The content key of workload `w` under scenario seed `seed`.
pub fn content_key(seed: u64, w: usize) -> u64 {
    rng::stream_seed(seed, rng::Domain::Satellite, 0x42_0000 + w as u64)
}

/// TCP ports of workload `w`'s stream `k`: (listen, client).
fn ports(w: usize, k: u32) -> (u16, u16) {
    let base = (w as u32 * 64 + k) as u16;
    (10_000u16.wrapping_add(base), 30_000u16.wrapping_add(base))
}

/// The byte range of stream `k` of `n` sharing `bytes`.
pub fn range(bytes: u64, n: u32, k: u32) -> (u64, u64) {
    let n = u64::from(n);
    let k = u64::from(k);
    let start = bytes * k / n;
    let end = bytes * (k + 1) / n;
    (start, end - start)
}

fn tcp_socket(buffer: usize, cc: Cc) -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; buffer]),
        tcp::SocketBuffer::new(vec![0; buffer]),
    );
    s.set_nagle_enabled(false);
    s.set_ack_delay(None);
    s.set_congestion_control(match cc {
        Cc::NewReno => tcp::CongestionControl::Reno,
        _ => tcp::CongestionControl::Cubic,
    });
    s
}

#[derive(Debug)]
struct SendStream {
    handle: SocketHandle,
    offset: u64,
    len: u64,
    sent: u64,
    closed: bool,
}

/// The sending end of a bulk transfer.
#[derive(Debug)]
pub struct Sender {
    pub spec: Bulk,
    w: usize,
    key: u64,
    streams: Vec<SendStream>,
    started: bool,
}

impl Sender {
    pub fn new(w: usize, spec: Bulk, seed: u64, buffer: usize, stack: &mut Stack) -> Sender {
        let streams = (0..spec.streams)
            .map(|k| {
                let (offset, len) = range(spec.bytes, spec.streams, k);
                let handle = stack.sockets.add(tcp_socket(buffer, spec.cc));
                SendStream {
                    handle,
                    offset,
                    len,
                    sent: 0,
                    closed: false,
                }
            })
            .collect();
        Sender {
            spec,
            w,
            key: content_key(seed, w),
            streams,
            started: false,
        }
    }

    /// When the transfer starts, if it has not yet.
    pub fn next_timer(&self) -> Option<SimTime> {
        (!self.started).then_some(self.spec.start)
    }

    /// Opens the connections (at the start time).
    pub fn start(&mut self, stack: &mut Stack) {
        self.started = true;
        let dst = IpAddress::Ipv4(addr::address(self.spec.to));
        for (k, s) in self.streams.iter().enumerate() {
            let (listen, local) = ports(self.w, k as u32);
            let socket = stack.sockets.get_mut::<tcp::Socket>(s.handle);
            // Fresh sockets with unused ports: connect cannot fail here.
            let _ = socket.connect(stack.iface.context(), (dst, listen), local);
        }
    }

    /// Fills the send buffers; returns whether anything was queued.
    pub fn pump(&mut self, stack: &mut Stack) -> bool {
        if !self.started {
            return false;
        }
        let mut any = false;
        for s in &mut self.streams {
            let socket = stack.sockets.get_mut::<tcp::Socket>(s.handle);
            while s.sent < s.len && socket.can_send() {
                let key = self.key;
                let at = s.offset + s.sent;
                let left = s.len - s.sent;
                let n = socket
                    .send(|buf| {
                        let n = buf.len().min(left as usize);
                        fill(key, at, &mut buf[..n]);
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
pub struct Outcome {
    pub received: u64,
    pub completed: Option<SimTime>,
    pub verified: bool,
    pub error: Option<String>,
}

/// The receiving end of a bulk transfer.
#[derive(Debug)]
pub struct Receiver {
    pub spec: Bulk,
    pub w: usize,
    key: u64,
    streams: Vec<RecvStream>,
    mismatch: Option<u64>,
    outcome: Option<Outcome>,
}

impl Receiver {
    pub fn new(w: usize, spec: Bulk, seed: u64, buffer: usize, stack: &mut Stack) -> Receiver {
        let streams = (0..spec.streams)
            .map(|k| {
                let (offset, len) = range(spec.bytes, spec.streams, k);
                let mut socket = tcp_socket(buffer, spec.cc);
                // A fresh socket listens on any nonzero port.
                let _ = socket.listen(ports(w, k).0);
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
            key: content_key(seed, w),
            streams,
            mismatch: None,
            outcome: None,
        }
    }

    pub fn received(&self) -> u64 {
        self.streams.iter().map(|s| s.received).sum()
    }

    /// When the transfer times out, if it is still running.
    pub fn deadline(&self) -> Option<SimTime> {
        match (self.outcome.is_none(), self.spec.timeout) {
            (true, Some(t)) => Some(self.spec.start + t),
            _ => None,
        }
    }

    /// Reads and checks what arrived; returns the outcome once, when done.
    pub fn pump(&mut self, now: SimTime, stack: &mut Stack) -> Option<Outcome> {
        if self.outcome.is_some() {
            return None;
        }
        for s in &mut self.streams {
            let socket = stack.sockets.get_mut::<tcp::Socket>(s.handle);
            while socket.can_recv() {
                let key = self.key;
                let at = s.offset + s.received;
                let mut bad = None;
                let n = socket
                    .recv(|buf| {
                        bad = first_mismatch(key, at, buf);
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
    pub fn unfinished(&mut self, now: SimTime) -> Option<Outcome> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_checks_out_and_a_flipped_byte_is_caught() {
        let mut buf = vec![0u8; 1000];
        fill(7, 13, &mut buf);
        assert_eq!(first_mismatch(7, 13, &buf), None);
        assert!(first_mismatch(8, 13, &buf).is_some());
        buf[500] ^= 1;
        assert_eq!(first_mismatch(7, 13, &buf), Some(513));
        // Split anywhere, the halves check out at their offsets.
        let mut whole = vec![0u8; 64];
        fill(3, 0, &mut whole);
        assert_eq!(first_mismatch(3, 37, &whole[37..]), None);
    }

    #[test]
    fn content_is_the_bytes_of_its_blocks() {
        // The definition, a byte at a time, against the block-at-a-time
        // fill at every alignment and length around a block.
        for offset in 0..70u64 {
            for len in 0..100usize {
                let mut buf = vec![0u8; len];
                fill(11, offset, &mut buf);
                for (i, &b) in buf.iter().enumerate() {
                    let at = offset + i as u64;
                    assert_eq!(b, block(11, at / 32)[(at % 32) as usize]);
                }
            }
        }
        // Each word of a block differs from the others.
        let b = block(3, 9);
        let words: std::collections::BTreeSet<&[u8]> = b.chunks(8).collect();
        assert_eq!(words.len(), 4);
        let mut big = vec![0u8; 10_000];
        fill(5, 3, &mut big);
        big[9_999] ^= 0x80;
        assert_eq!(first_mismatch(5, 3, &big), Some(10_002));
        // A block moved to another offset is caught.
        let mut moved = vec![0u8; 64];
        fill(5, 0, &mut moved[..32]);
        fill(5, 0, &mut moved[32..]);
        assert_eq!(first_mismatch(5, 0, &moved), Some(32));
    }

    #[test]
    fn ranges_cover_the_bytes_exactly() {
        let total: u64 = (0..7).map(|k| range(1_000_003, 7, k).1).sum();
        assert_eq!(total, 1_000_003);
        assert_eq!(range(10, 3, 0), (0, 3));
        assert_eq!(range(10, 3, 2), (6, 4));
    }
}
