//! The wire between satellite processes: one frame per UDP datagram.
//!
//! ```text
//!  0               4   5   6       8                               16
//! +---------------+---+---+-------+-------------------------------+
//! | magic "ORBN"  |ver|flg| rsvd  |          run token            |
//! +---------------+---------------+-------------------------------+
//! |    link id    |            sequence           |  sent (ns)  ...
//! +---------------+-------------------------------+---------------+
//! ...  sent (ns)  |          deliver at (ns)      |  IP packet ...
//! +---------------+-------------------------------+---------------+
//! ```
//!
//! All integers are big-endian. `sent` is the virtual time the packet
//! entered the link; `deliver` is when it reaches the far end (after
//! queueing, serialization and propagation), computed by the sender's
//! shaper. The receiver holds the packet until then, so loopback latency
//! and scheduling jitter are hidden behind the emulated delay.
//!
//! A frame is parsed through a checked view ([`Frame::parse`]); anything
//! malformed is an error value, never a panic. `sequence` numbers the
//! frames of each link and direction from 1; the receiver refuses numbers
//! it has seen ([`crate::replay`]).
//!
//! The kernel drops datagrams that find the wire socket's receive buffer
//! full; [`WireIo::kernel_drops`] reads the socket's own count of them
//! (`getsockopt(SO_MEMINFO)`, the `sk_drops` that `SO_RXQ_OVFL` would
//! attach to every read: one call at the end instead of a control message
//! on each read, which quinn-udp's receive path has no room for).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use orbnet_netem::{LinkId, SimTime};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// "ORBN".
pub const MAGIC: u32 = 0x4f52_424e;
pub const VERSION: u8 = 1;
/// Bytes before the IP packet.
pub const HEADER_LEN: usize = 44;
/// The flag of a link's end marker: a header alone, the last frame a
/// satellite sends on a link once its run is over (see [`crate::driver`]).
pub const FLAG_END: u8 = 1;

/// The header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub token: u64,
    pub link: LinkId,
    pub seq: u64,
    pub sent: SimTime,
    pub deliver: SimTime,
}

/// Why a datagram is not a frame of this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("shorter than a header")]
    Truncated,
    #[error("bad magic")]
    BadMagic,
    #[error("unsupported version {0}")]
    Version(u8),
    #[error("reserved header bytes not zero")]
    Reserved,
    #[error("wrong run token")]
    WrongToken,
    #[error("no IP packet")]
    Empty,
}

impl FrameError {
    pub fn as_str(self) -> &'static str {
        match self {
            FrameError::Truncated => "truncated",
            FrameError::BadMagic => "bad-magic",
            FrameError::Version(_) => "bad-version",
            FrameError::Reserved => "reserved",
            FrameError::WrongToken => "wrong-token",
            FrameError::Empty => "empty",
        }
    }
}

/// A checked view of a frame.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub header: Header,
    pub packet: &'a [u8],
    /// An end marker ([`FLAG_END`]), with no packet.
    pub end: bool,
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

impl<'a> Frame<'a> {
    /// Parses `buf`, accepting only frames of run `token`.
    pub fn parse(buf: &'a [u8], token: u64) -> Result<Frame<'a>, FrameError> {
        if buf.len() < HEADER_LEN {
            return Err(FrameError::Truncated);
        }
        if be_u32(buf, 0) != MAGIC {
            return Err(FrameError::BadMagic);
        }
        if buf[4] != VERSION {
            return Err(FrameError::Version(buf[4]));
        }
        // Flags other than FLAG_END and the two bytes after them are zero
        // in version 1 (what `emit` writes): a frame is exactly what its
        // header and packet emit again (found by fuzzing).
        if buf[5] & !FLAG_END != 0 || buf[6..8] != [0, 0] {
            return Err(FrameError::Reserved);
        }
        let end = buf[5] == FLAG_END;
        let header = Header {
            token: be_u64(buf, 8),
            link: LinkId(be_u32(buf, 16)),
            seq: be_u64(buf, 20),
            sent: SimTime::from_nanos(be_u64(buf, 28)),
            deliver: SimTime::from_nanos(be_u64(buf, 36)),
        };
        if header.token != token {
            return Err(FrameError::WrongToken);
        }
        let packet = &buf[HEADER_LEN..];
        match (end, packet.is_empty()) {
            (false, true) => Err(FrameError::Empty),
            (true, false) => Err(FrameError::Reserved),
            _ => Ok(Frame {
                header,
                packet,
                end,
            }),
        }
    }
}

impl Header {
    /// Writes the header into the first [`HEADER_LEN`] bytes of `out`.
    pub fn emit(&self, out: &mut [u8; HEADER_LEN]) {
        out[0..4].copy_from_slice(&MAGIC.to_be_bytes());
        out[4] = VERSION;
        out[5] = 0;
        out[6..8].copy_from_slice(&[0, 0]);
        out[8..16].copy_from_slice(&self.token.to_be_bytes());
        out[16..20].copy_from_slice(&self.link.0.to_be_bytes());
        out[20..28].copy_from_slice(&self.seq.to_be_bytes());
        out[28..36].copy_from_slice(&self.sent.as_nanos().to_be_bytes());
        out[36..44].copy_from_slice(&self.deliver.as_nanos().to_be_bytes());
    }

    /// A link's end marker: this header alone, flagged [`FLAG_END`].
    pub fn end_frame(&self) -> Vec<u8> {
        let mut head = [0u8; HEADER_LEN];
        self.emit(&mut head);
        head[5] = FLAG_END;
        head.to_vec()
    }

    /// A whole frame: this header followed by `packet`.
    pub fn frame(&self, packet: &[u8]) -> Vec<u8> {
        let mut head = [0u8; HEADER_LEN];
        self.emit(&mut head);
        let mut v = Vec::with_capacity(HEADER_LEN + packet.len());
        v.extend_from_slice(&head);
        v.extend_from_slice(packet);
        v
    }
}

/// An IP packet held with room in front for the wire header. The frame a
/// packet leaves in is written around it in place ([`Framed::into_frame`]),
/// and a frame that arrives is held whole as the packet it carries
/// ([`Framed::from_frame`]): no packet is copied to be framed or unframed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Framed(Vec<u8>);

impl Framed {
    /// A zeroed packet of `len` bytes, to be written.
    pub fn zeroed(len: usize) -> Framed {
        Framed(vec![0u8; HEADER_LEN + len])
    }

    /// A copy of `packet`.
    pub fn from_packet(packet: &[u8]) -> Framed {
        let mut v = Vec::with_capacity(HEADER_LEN + packet.len());
        v.extend_from_slice(&[0u8; HEADER_LEN]);
        v.extend_from_slice(packet);
        Framed(v)
    }

    /// The packet `frame` carries (`frame` is a header and a packet, as
    /// [`Frame::parse`] accepted it; a shorter one carries nothing).
    pub fn from_frame(mut frame: Vec<u8>) -> Framed {
        if frame.len() < HEADER_LEN {
            frame.resize(HEADER_LEN, 0);
        }
        Framed(frame)
    }

    pub fn packet(&self) -> &[u8] {
        &self.0[HEADER_LEN..]
    }

    pub fn packet_mut(&mut self) -> &mut [u8] {
        &mut self.0[HEADER_LEN..]
    }

    /// The frame: `header` written in front of the packet.
    pub fn into_frame(mut self, header: &Header) -> Vec<u8> {
        let mut head = [0u8; HEADER_LEN];
        header.emit(&mut head);
        self.0[..HEADER_LEN].copy_from_slice(&head);
        self.0
    }
}

/// A datagram on the in-memory wire: the sender's wire address, the frame.
pub type MemDatagram = (SocketAddr, Vec<u8>);

/// Every satellite's inbox on the in-memory wire, by index. A satellite
/// that crashes loses its inbox; one that restarts gets a new one.
#[derive(Clone, Debug, Default)]
pub struct MemFabric {
    inboxes: Arc<Mutex<Vec<Option<UnboundedSender<MemDatagram>>>>>,
}

impl MemFabric {
    pub fn new(satellites: usize) -> MemFabric {
        MemFabric {
            inboxes: Arc::new(Mutex::new(vec![None; satellites])),
        }
    }

    /// A new inbox for satellite `i` (replacing any old one): its end of the wire.
    pub fn attach(&self, i: usize) -> MemWire {
        let (tx, rx) = unbounded_channel();
        if let Ok(mut v) = self.inboxes.lock()
            && let Some(slot) = v.get_mut(i)
        {
            *slot = Some(tx);
        }
        MemWire {
            me: mem_addr(i),
            rx,
            fabric: self.clone(),
        }
    }

    /// Satellite `i` is gone: frames to it are lost.
    pub fn detach(&self, i: usize) {
        if let Ok(mut v) = self.inboxes.lock()
            && let Some(slot) = v.get_mut(i)
        {
            *slot = None;
        }
    }

    fn send(&self, from: SocketAddr, to: SocketAddr, frame: Vec<u8>) -> io::Result<usize> {
        let i = mem_index(to).ok_or_else(|| io::Error::other("not an in-memory address"))?;
        let v = self
            .inboxes
            .lock()
            .map_err(|_| io::Error::other("wire poisoned"))?;
        let len = frame.len();
        match v.get(i) {
            Some(Some(tx)) if tx.send((from, frame)).is_ok() => Ok(len),
            _ => Err(io::Error::from(io::ErrorKind::ConnectionRefused)),
        }
    }
}

/// One satellite's end of the in-memory wire.
#[derive(Debug)]
pub struct MemWire {
    me: SocketAddr,
    rx: UnboundedReceiver<MemDatagram>,
    fabric: MemFabric,
}

/// Satellite `i`'s address on the in-memory wire. It names the satellite
/// inside the harness only; no kernel socket is ever bound to it.
pub fn mem_addr(i: usize) -> SocketAddr {
    let b = (i as u32).to_be_bytes();
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, b[1], b[2], b[3])), 1)
}

fn mem_index(a: SocketAddr) -> Option<usize> {
    match a.ip() {
        IpAddr::V4(ip) if a.port() == 1 => {
            let o = ip.octets();
            Some(u32::from_be_bytes([0, o[1], o[2], o[3]]) as usize)
        }
        _ => None,
    }
}

/// The wire a satellite sends its frames on: UDP on loopback between
/// processes, or channels between the tasks of the in-process harness.
#[derive(Debug)]
pub enum WireIo {
    Udp(UdpWire),
    Mem(MemWire),
}

/// The UDP wire. Frames are queued and sent in batches: consecutive frames
/// to one peer of one size go out in a single `sendmsg` with UDP
/// segmentation offload (GSO), which on loopback costs about an eighth of a
/// datagram sent on its own (the send path was half the CPU of a
/// two-satellite TCP transfer). Receives take coalesced datagrams (GRO):
/// one read may hold several frames of one size, `stride` bytes apart.
#[derive(Debug)]
pub struct UdpWire {
    sock: tokio::net::UdpSocket,
    state: quinn::udp::UdpSocketState,
    out: Vec<(SocketAddr, Vec<u8>)>,
    scratch: Vec<u8>,
    /// Off loopback, the largest datagram each peer's route carries whole
    /// (see [`crate::path_mtu`]); `None` on loopback, which carries any.
    whole: Option<std::collections::HashMap<SocketAddr, usize>>,
}

/// Frames queued before the wire sends them anyway.
const BATCH: usize = 64;
/// The most bytes one GSO send carries (a UDP datagram's limit, with room).
const GSO_BYTES: usize = 65_000;

impl UdpWire {
    pub fn new(sock: tokio::net::UdpSocket) -> io::Result<UdpWire> {
        let state = quinn::udp::UdpSocketState::new((&sock).into())?;
        let local = sock.local_addr()?;
        let whole = if local.ip().is_loopback() {
            None
        } else {
            #[cfg(target_os = "linux")]
            crate::path_mtu::allow_fragments(&sock, local.is_ipv6())?;
            Some(std::collections::HashMap::new())
        };
        Ok(UdpWire {
            sock,
            state,
            out: Vec::new(),
            scratch: Vec::with_capacity(GSO_BYTES),
            whole,
        })
    }

    /// The largest frame that goes to `to` in one datagram of a GSO batch:
    /// off loopback, the route's MTU less the headers. The first frame found
    /// larger is reported once per peer: it leaves as IP fragments, which
    /// cost the far kernel a reassembly and are lost whole if one is.
    fn whole_to(&mut self, to: SocketAddr, frame: usize) -> usize {
        let Some(known) = &mut self.whole else {
            return usize::MAX;
        };
        if let Some(&n) = known.get(&to) {
            return n;
        }
        #[cfg(target_os = "linux")]
        let n = self
            .sock
            .local_addr()
            .and_then(|l| crate::path_mtu::route_payload(l.ip(), to))
            .unwrap_or(usize::MAX);
        #[cfg(not(target_os = "linux"))]
        let n = usize::MAX;
        if frame > n {
            tracing::warn!(
                "frames of {frame} bytes to {to} leave as IP fragments: its route carries \
                 {n}-byte datagrams whole (an interface MTU of {} would carry them whole)",
                frame + if to.is_ipv4() { 28 } else { 48 }
            );
        }
        known.insert(to, n);
        n
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// One read, without waiting: (bytes, stride, sender).
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<(usize, usize, SocketAddr)> {
        let mut meta = [quinn::udp::RecvMeta::default()];
        let mut iov = [io::IoSliceMut::new(buf)];
        self.sock.try_io(tokio::io::Interest::READABLE, || {
            self.state.recv((&self.sock).into(), &mut iov, &mut meta)
        })?;
        let m = meta[0];
        Ok((m.len, m.stride.max(1), m.addr))
    }

    /// Sends everything queued; returns (frames sent, frames lost to a full
    /// or failing socket).
    fn flush(&mut self) -> (u64, u64) {
        let (mut sent, mut lost) = (0, 0);
        let max = self.state.max_gso_segments().max(1);
        let out = std::mem::take(&mut self.out);
        let mut i = 0;
        while i < out.len() {
            let (to, first) = (&out[i].0, &out[i].1);
            let seg = first.len();
            // Consecutive frames to the same peer, all but the last of the
            // first's size, none larger than the route carries whole.
            let batch = seg <= self.whole_to(*to, seg);
            let mut j = i + 1;
            let mut bytes = seg;
            while batch
                && j < out.len()
                && j - i < max
                && out[j].0 == *to
                && out[j - 1].1.len() == seg
                && out[j].1.len() <= seg
                && bytes + out[j].1.len() <= GSO_BYTES
            {
                bytes += out[j].1.len();
                j += 1;
            }
            let contents: &[u8] = if j - i == 1 {
                first
            } else {
                self.scratch.clear();
                for (_, f) in &out[i..j] {
                    self.scratch.extend_from_slice(f);
                }
                &self.scratch
            };
            let t = quinn::udp::Transmit {
                destination: *to,
                ecn: None,
                contents,
                segment_size: (j - i > 1).then_some(seg),
                src_ip: None,
            };
            let n = (j - i) as u64;
            match self.state.try_send((&self.sock).into(), &t) {
                Ok(()) => sent += n,
                Err(_) => lost += n,
            }
            i = j;
        }
        self.out = out;
        self.out.clear();
        (sent, lost)
    }
}

impl WireIo {
    /// Queues a frame for `to` (the in-memory wire delivers it at once).
    /// Returns frames sent and frames lost so far by this call, counting a
    /// batch the call sent.
    pub fn send_to(&mut self, frame: Vec<u8>, to: SocketAddr) -> (u64, u64) {
        match self {
            WireIo::Udp(u) => {
                u.out.push((to, frame));
                if u.out.len() >= BATCH {
                    u.flush()
                } else {
                    (0, 0)
                }
            }
            WireIo::Mem(m) => match m.fabric.send(m.me, to, frame) {
                Ok(_) => (1, 0),
                Err(_) => (0, 1),
            },
        }
    }

    /// Sends whatever is queued.
    pub fn flush(&mut self) -> (u64, u64) {
        match self {
            WireIo::Udp(u) => u.flush(),
            WireIo::Mem(_) => (0, 0),
        }
    }

    /// Waits for the next frames (give `buf` 64 KiB: the UDP wire reads
    /// into it).
    pub async fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        match self {
            WireIo::Udp(u) => loop {
                u.sock.readable().await?;
                match u.try_recv(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    r => return r.map(Received::batch),
                }
            },
            WireIo::Mem(m) => match m.rx.recv().await {
                Some((from, d)) => Ok(Received::Owned(from, d)),
                None => std::future::pending().await,
            },
        }
    }

    /// The next frames if some are waiting, as [`WireIo::recv_from`].
    pub fn try_recv_from(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        match self {
            WireIo::Udp(u) => u.try_recv(buf).map(Received::batch),
            WireIo::Mem(m) => match m.rx.try_recv() {
                Ok((from, d)) => Ok(Received::Owned(from, d)),
                Err(_) => Err(io::Error::from(io::ErrorKind::WouldBlock)),
            },
        }
    }
}

/// What a read of the wire gave.
#[derive(Debug)]
pub enum Received {
    /// The read buffer's first `bytes` hold frames `stride` bytes apart
    /// (the last may be shorter), all from `from`.
    Batch {
        bytes: usize,
        stride: usize,
        from: SocketAddr,
    },
    /// One frame from `from`, handed over whole (the in-memory wire).
    Owned(SocketAddr, Vec<u8>),
}

impl Received {
    fn batch((bytes, stride, from): (usize, usize, SocketAddr)) -> Received {
        Received::Batch {
            bytes,
            stride,
            from,
        }
    }
}

impl WireIo {
    /// Datagrams the kernel dropped at this satellite's wire socket since
    /// it was opened (none on the in-memory wire, whose queues are unbounded).
    pub fn kernel_drops(&self) -> u64 {
        match self {
            WireIo::Udp(u) => socket_drops(&u.sock).unwrap_or(0),
            WireIo::Mem(_) => 0,
        }
    }
}

/// The `sk_drops` of a socket: datagrams the kernel dropped because its
/// receive buffer was full (or a filter refused them).
#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64"
    )
))]
pub fn socket_drops(sock: &impl std::os::fd::AsRawFd) -> io::Result<u64> {
    // From asm-generic/socket.h and linux/sock_diag.h (libc does not export them).
    const SO_MEMINFO: libc::c_int = 55;
    const SK_MEMINFO_DROPS: usize = 8;
    let mut info = [0u32; 16];
    let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes, and the kernel writes at
    // most `len` bytes and stores the length it wrote in `len`.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    if (len as usize) < (SK_MEMINFO_DROPS + 1) * 4 {
        return Err(io::Error::other("SO_MEMINFO without a drop count"));
    }
    Ok(u64::from(info[SK_MEMINFO_DROPS]))
}

/// The kernel's drops are not read on this platform.
#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64"
    )
)))]
pub fn socket_drops(_sock: &impl std::os::fd::AsRawFd) -> io::Result<u64> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            token: 0xdead_beef_0bad_f00d,
            link: LinkId(7),
            seq: 42,
            sent: SimTime::from_nanos(123_456_789),
            deliver: SimTime::from_nanos(223_456_789),
        }
    }

    #[test]
    fn round_trip() {
        let f = header().frame(b"\x45ip");
        let parsed = Frame::parse(&f, header().token).expect("valid");
        assert_eq!(parsed.header, header());
        assert_eq!(parsed.packet, b"\x45ip");
    }

    /// A packet framed in place is the frame `Header::frame` builds, and
    /// the frame held whole gives back the packet.
    #[test]
    fn framing_in_place_matches_framing_by_copy() {
        let packet = b"\x45 a packet of some bytes";
        let framed = Framed::from_packet(packet);
        assert_eq!(framed.packet(), packet);
        let frame = framed.into_frame(&header());
        assert_eq!(frame, header().frame(packet));
        let held = Framed::from_frame(frame);
        assert_eq!(held.packet(), packet);
        let mut z = Framed::zeroed(3);
        z.packet_mut().copy_from_slice(b"abc");
        assert_eq!(z.into_frame(&header()), header().frame(b"abc"));
        assert!(Framed::from_frame(vec![1, 2]).packet().is_empty());
    }

    #[test]
    fn wrong_token_truncated_and_garbage_are_errors() {
        let f = header().frame(b"\x45ip");
        assert_eq!(Frame::parse(&f, 1).map(|_| ()), Err(FrameError::WrongToken));
        for cut in 0..HEADER_LEN {
            assert_eq!(
                Frame::parse(&f[..cut], header().token).map(|_| ()),
                Err(FrameError::Truncated)
            );
        }
        assert_eq!(
            Frame::parse(&f[..HEADER_LEN], header().token).map(|_| ()),
            Err(FrameError::Empty)
        );
        let mut bad = f.clone();
        bad[0] ^= 1;
        assert_eq!(
            Frame::parse(&bad, header().token).map(|_| ()),
            Err(FrameError::BadMagic)
        );
        let mut v2 = f;
        v2[4] = 2;
        assert_eq!(
            Frame::parse(&v2, header().token).map(|_| ()),
            Err(FrameError::Version(2))
        );
    }

    #[test]
    fn end_markers_round_trip_and_carry_no_packet() {
        let e = header().end_frame();
        assert_eq!(e.len(), HEADER_LEN);
        let parsed = Frame::parse(&e, header().token).expect("an end marker");
        assert!(parsed.end && parsed.packet.is_empty());
        assert_eq!(parsed.header, header());
        assert!(
            !Frame::parse(&header().frame(b"\x45ip"), header().token)
                .expect("a frame")
                .end
        );
        // With a packet, or with another flag, it is no frame of version 1.
        let mut with_packet = e.clone();
        with_packet.push(0x45);
        assert_eq!(
            Frame::parse(&with_packet, header().token).map(|_| ()),
            Err(FrameError::Reserved)
        );
        let mut other = e;
        other[5] = 2;
        assert_eq!(
            Frame::parse(&other, header().token).map(|_| ()),
            Err(FrameError::Reserved)
        );
    }

    #[test]
    fn memory_addresses_name_satellites() {
        for i in [0usize, 1, 255, 256, 65_535, 1 << 20] {
            assert_eq!(mem_index(mem_addr(i)), Some(i));
        }
        assert_eq!(mem_index("127.0.0.1:4000".parse().expect("addr")), None);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A deterministic sweep of pseudo-random datagrams of every length up to 128.
        let mut x: u64 = 0x1234_5678;
        for len in 0..128 {
            for _ in 0..64 {
                let buf: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let _ = Frame::parse(&buf, 99);
            }
        }
    }
}
