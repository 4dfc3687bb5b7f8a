//! One session of an offload leg: one connection (TCP, or a QUIC
//! bidirectional stream), opened during one contact, that carries a part's
//! bytes from where the receiver's copy ends. A leg that outlasts its
//! contact goes on in a new session at the next one.
//!
//! ```text
//! sender   → receiver   HELLO  b"ORBNOFL1", workload u32, leg u16, part u16, length u64
//! receiver → sender     HAVE   u64: bytes of the part it holds, checked, from its start
//! sender   → receiver   the part's bytes from HAVE to its end
//! receiver → sender     DONE   u64 = length, once every byte is checked
//! ```
//!
//! Integers are little-endian. The bytes are the leg's keyed content
//! ([`crate::bulk::Content`]) at the part's offset, so the receiver checks
//! each byte as it comes, and a session resumed at HAVE checks out as if the
//! bytes had come in one go.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use orbnet_netem::workload::offload::Leg;

use crate::bulk::Content;

/// The first bytes of a HELLO.
const MAGIC: &[u8; 8] = b"ORBNOFL1";
/// Length of a HELLO.
pub(super) const HELLO_LEN: usize = 24;
/// Bytes handed to the transport at a time.
const CHUNK: usize = 256 << 10;

/// Why a session ended before the receiver held every byte.
#[derive(Debug, thiserror::Error)]
pub(super) enum SessionError {
    /// The connection broke or closed (the path went away, a reset): the
    /// leg goes on in a new session.
    #[error("connection: {0}")]
    Broken(#[from] std::io::Error),
    /// The other end broke the protocol: the leg cannot go on.
    #[error("{0}")]
    Protocol(String),
}

/// What a session is for: the sender's first words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Hello {
    pub workload: u32,
    pub leg: Leg,
    pub part: u16,
    /// Bytes of the part.
    pub len: u64,
}

impl Hello {
    fn encode(&self) -> [u8; HELLO_LEN] {
        let mut b = [0u8; HELLO_LEN];
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&self.workload.to_le_bytes());
        let leg: u16 = match self.leg {
            Leg::Uplink => 0,
            Leg::Downlink => 1,
        };
        b[12..14].copy_from_slice(&leg.to_le_bytes());
        b[14..16].copy_from_slice(&self.part.to_le_bytes());
        b[16..24].copy_from_slice(&self.len.to_le_bytes());
        b
    }

    fn decode(b: &[u8; HELLO_LEN]) -> Result<Hello, SessionError> {
        let bad = |why: &str| SessionError::Protocol(format!("not an offload session: {why}"));
        if &b[..8] != MAGIC {
            return Err(bad("wrong magic"));
        }
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let leg = match u16_at(12) {
            0 => Leg::Uplink,
            1 => Leg::Downlink,
            _ => return Err(bad("unknown leg")),
        };
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[8..12]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&b[16..24]);
        Ok(Hello {
            workload: u32::from_le_bytes(w),
            leg,
            part: u16_at(14),
            len: u64::from_le_bytes(len),
        })
    }
}

/// Reads the HELLO a session opens with.
pub(super) async fn read_hello<S: AsyncRead + Unpin>(s: &mut S) -> Result<Hello, SessionError> {
    let mut b = [0u8; HELLO_LEN];
    s.read_exact(&mut b).await?;
    Hello::decode(&b)
}

/// The part a session carries: its bytes are `content` from `offset`, `len` long.
#[derive(Clone, Debug)]
pub(super) struct Part {
    pub content: Content,
    pub offset: u64,
    pub len: u64,
}

/// The sending end: says HELLO, sends the part from the receiver's HAVE,
/// and returns once the receiver says DONE.
pub(super) async fn push<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    hello: Hello,
    part: &Part,
) -> Result<(), SessionError> {
    s.write_all(&hello.encode()).await?;
    s.flush().await?;
    let have = s.read_u64_le().await?;
    if have > part.len {
        return Err(SessionError::Protocol(format!(
            "the receiver holds {have} bytes of a part of {}",
            part.len
        )));
    }
    let mut buf = vec![0u8; CHUNK.min(part.len as usize)];
    let mut at = have;
    while at < part.len {
        let n = (part.len - at).min(CHUNK as u64) as usize;
        part.content.fill(part.offset + at, &mut buf[..n]);
        s.write_all(&buf[..n]).await?;
        at += n as u64;
    }
    s.flush().await?;
    let done = s.read_u64_le().await?;
    if done == part.len {
        Ok(())
    } else {
        Err(SessionError::Protocol(format!(
            "the receiver says DONE at {done} of {} bytes",
            part.len
        )))
    }
}

/// Where the receiving end keeps a part's bytes between sessions.
pub(super) trait Holder {
    /// Bytes held, checked, from the part's start.
    fn have(&self) -> u64;
    /// `to` bytes are held now, checked.
    fn advance(&self, to: u64);
    /// The part cannot be had: a byte differed, or too many came.
    fn fail(&self, why: String);
}

/// The receiving end, after the HELLO: says HAVE, checks what comes, says
/// DONE once it holds the whole part. Returns when the part is whole or the
/// sender goes away.
pub(super) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    part: &Part,
    holder: &impl Holder,
) -> Result<(), SessionError> {
    let mut at = holder.have();
    s.write_all(&at.to_le_bytes()).await?;
    s.flush().await?;
    let mut buf = vec![0u8; CHUNK];
    while at < part.len {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            // The sender went away (its contact ended): a new session resumes.
            return Ok(());
        }
        let why = if at + n as u64 > part.len {
            Some("more bytes than the part holds".to_owned())
        } else {
            part.content
                .first_mismatch(part.offset + at, &buf[..n])
                .map(|b| format!("byte {b} differs from what was sent"))
        };
        if let Some(why) = why {
            holder.fail(why.clone());
            return Err(SessionError::Protocol(why));
        }
        at += n as u64;
        holder.advance(at);
    }
    s.write_all(&part.len.to_le_bytes()).await?;
    s.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Held {
        have: Mutex<u64>,
        failed: Mutex<Option<String>>,
    }

    impl Holder for Held {
        fn have(&self) -> u64 {
            *self.have.lock().expect("lock")
        }
        fn advance(&self, to: u64) {
            let mut h = self.have.lock().expect("lock");
            *h = (*h).max(to);
        }
        fn fail(&self, why: String) {
            *self.failed.lock().expect("lock") = Some(why);
        }
    }

    fn part(len: u64) -> Part {
        Part {
            content: Content::new(5),
            offset: 1000,
            len,
        }
    }

    #[test]
    fn hello_round_trips_and_a_stranger_is_refused() {
        let h = Hello {
            workload: 3,
            leg: Leg::Downlink,
            part: 7,
            len: 1 << 40,
        };
        assert_eq!(Hello::decode(&h.encode()).expect("decodes"), h);
        let mut b = h.encode();
        b[0] = b'X';
        assert!(Hello::decode(&b).is_err());
        let mut b = h.encode();
        b[12] = 9;
        assert!(Hello::decode(&b).is_err());
    }

    #[tokio::test]
    async fn a_part_cut_short_resumes_where_the_receiver_stopped() {
        let p = part(600_000);
        let held = Held::default();
        let hello = Hello {
            workload: 0,
            leg: Leg::Uplink,
            part: 0,
            len: p.len,
        };
        // First session: the pipe breaks after some 300 kB (a contact ends).
        let (mut a, mut b) = tokio::io::duplex(64 << 10);
        let sender = tokio::spawn({
            let p = p.clone();
            async move { push(&mut a, hello, &p).await }
        });
        let got = read_hello(&mut b).await.expect("hello");
        assert_eq!(got, hello);
        let mut limited = Limited {
            inner: b,
            left: 300_000,
        };
        let r = serve(&mut limited, &p, &held).await;
        assert!(r.is_ok(), "{r:?}");
        drop(limited);
        assert!(
            sender.await.expect("joins").is_err(),
            "the sender saw the break"
        );
        let first = held.have();
        assert!(first > 0 && first <= 300_000, "{first}");
        // Second session: HAVE resumes it; every byte checks out.
        let (mut a, mut b) = tokio::io::duplex(64 << 10);
        let sender = tokio::spawn({
            let p = p.clone();
            async move { push(&mut a, hello, &p).await }
        });
        read_hello(&mut b).await.expect("hello");
        serve(&mut b, &p, &held).await.expect("serves");
        sender.await.expect("joins").expect("DONE");
        assert_eq!(held.have(), p.len);
        assert!(held.failed.lock().expect("lock").is_none());
    }

    #[tokio::test]
    async fn a_wrong_byte_fails_the_part() {
        let p = part(10_000);
        let held = Held::default();
        let (mut a, mut b) = tokio::io::duplex(64 << 10);
        let sender = tokio::spawn(async move {
            // HAVE, then the part with one bit flipped.
            let _ = a.read_u64_le().await;
            let mut bytes = vec![0u8; 10_000];
            Content::new(5).fill(1000, &mut bytes);
            bytes[4321] ^= 1;
            let _ = a.write_all(&bytes).await;
        });
        let r = serve(&mut b, &p, &held).await;
        assert!(matches!(r, Err(SessionError::Protocol(_))), "{r:?}");
        let why = held
            .failed
            .lock()
            .expect("lock")
            .clone()
            .unwrap_or_default();
        assert!(why.contains("byte 5321 differs"), "{why}");
        let _ = sender.await;
    }

    /// A reader that ends (EOF) after `left` bytes: a path that goes away.
    struct Limited<S> {
        inner: S,
        left: usize,
    }

    impl<S: AsyncRead + Unpin> AsyncRead for Limited<S> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.left == 0 {
                return std::task::Poll::Ready(Ok(()));
            }
            let room = buf.remaining().min(self.left);
            let mut inner = tokio::io::ReadBuf::new(buf.initialize_unfilled_to(room));
            let this = &mut *self;
            let r = std::pin::Pin::new(&mut this.inner).poll_read(cx, &mut inner);
            let n = inner.filled().len();
            buf.advance(n);
            this.left -= n;
            r
        }
    }

    impl<S: AsyncWrite + Unpin> AsyncWrite for Limited<S> {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            b: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::pin::Pin::new(&mut self.inner).poll_write(cx, b)
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }
}
