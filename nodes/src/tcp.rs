//! smoltcp TCP sockets behind tokio's `AsyncRead` and `AsyncWrite`.
//!
//! The node loop owns the stack, so a task cannot touch a socket directly.
//! A [`TcpStream`] talks to its socket through a pair of byte pipes; the
//! node loop's [`TcpPort::pump`] moves bytes between the pipes and the
//! socket at each turn and wakes whichever side can make progress. Tasks
//! that write signal the loop through the shared `Notify`, as quinn's
//! socket does.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::{IpAddress, IpEndpoint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::stack::Stack;

#[derive(Debug, Default)]
struct Pipes {
    /// Received from the socket, not yet read by the task.
    rx: VecDeque<u8>,
    /// Written by the task, not yet taken by the socket.
    tx: VecDeque<u8>,
    cap: usize,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
    /// The task shut its writing side.
    shutdown: bool,
    /// The peer closed: reads end once `rx` is drained.
    eof: bool,
    /// The connection failed (reset, or closed before it opened).
    error: Option<String>,
}

/// A TCP connection over the satellite's stack, for tasks.
#[derive(Debug, Clone)]
pub struct TcpStream {
    pipes: Arc<Mutex<Pipes>>,
    notify: Arc<Notify>,
}

fn broken() -> io::Error {
    io::Error::other("the node loop's pipe is poisoned")
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Ok(mut p) = self.pipes.lock() else {
            return Poll::Ready(Err(broken()));
        };
        if !p.rx.is_empty() {
            let n = buf.remaining().min(p.rx.len());
            let (a, b) = p.rx.as_slices();
            let from_a = n.min(a.len());
            buf.put_slice(&a[..from_a]);
            buf.put_slice(&b[..n - from_a]);
            p.rx.drain(..n);
            // Room in the pipe: the loop may take more from the socket.
            self.notify.notify_one();
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = &p.error {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                e.clone(),
            )));
        }
        if p.eof {
            return Poll::Ready(Ok(()));
        }
        p.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let Ok(mut p) = self.pipes.lock() else {
            return Poll::Ready(Err(broken()));
        };
        if let Some(e) = &p.error {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                e.clone(),
            )));
        }
        if p.shutdown {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "written after shutdown",
            )));
        }
        let room = p.cap.saturating_sub(p.tx.len());
        if room == 0 {
            p.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        p.tx.extend(&buf[..n]);
        self.notify.notify_one();
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Bytes in the pipe are as good as handed to the stack.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Ok(mut p) = self.pipes.lock() {
            p.shutdown = true;
        }
        self.notify.notify_one();
        Poll::Ready(Ok(()))
    }
}

/// The node loop's side of one [`TcpStream`]: its socket and pipes.
#[derive(Debug)]
pub struct TcpPort {
    pub handle: SocketHandle,
    pipes: Arc<Mutex<Pipes>>,
    closed: bool,
    opened: bool,
}

/// Socket options shared by every connection: window scaling comes with
/// buffers over 64 KiB; no Nagle, no delayed ACK (they cost round trips of
/// tens of milliseconds on these paths).
fn socket(buffer: usize) -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; buffer]),
        tcp::SocketBuffer::new(vec![0u8; buffer]),
    );
    s.set_nagle_enabled(false);
    s.set_ack_delay(None);
    s.set_congestion_control(tcp::CongestionControl::Cubic);
    s
}

impl TcpPort {
    fn new(handle: SocketHandle, buffer: usize, notify: Arc<Notify>) -> (TcpPort, TcpStream) {
        let pipes = Arc::new(Mutex::new(Pipes {
            cap: buffer,
            ..Pipes::default()
        }));
        (
            TcpPort {
                handle,
                pipes: pipes.clone(),
                closed: false,
                opened: false,
            },
            TcpStream { pipes, notify },
        )
    }

    /// A socket listening on `port` for one connection.
    pub fn listen(
        stack: &mut Stack,
        port: u16,
        buffer: usize,
        notify: Arc<Notify>,
    ) -> Result<(TcpPort, TcpStream), String> {
        let mut s = socket(buffer);
        s.listen(port)
            .map_err(|e| format!("listen on {port}: {e}"))?;
        let handle = stack.sockets.add(s);
        Ok(Self::new(handle, buffer, notify))
    }

    /// A socket connecting from local port `local` to `to`:`port`.
    pub fn connect(
        stack: &mut Stack,
        to: std::net::Ipv4Addr,
        port: u16,
        local: u16,
        buffer: usize,
        notify: Arc<Notify>,
    ) -> Result<(TcpPort, TcpStream), String> {
        let mut s = socket(buffer);
        let remote = IpEndpoint::new(IpAddress::Ipv4(to), port);
        s.connect(stack.iface.context(), remote, local)
            .map_err(|e| format!("connect to {to}:{port}: {e}"))?;
        let handle = stack.sockets.add(s);
        Ok(Self::new(handle, buffer, notify))
    }

    /// Whether the task has dropped its stream and the socket has closed:
    /// the node can then remove the socket from its stack.
    pub fn finished(&self, stack: &mut Stack) -> bool {
        Arc::strong_count(&self.pipes) == 1
            && stack.sockets.get_mut::<tcp::Socket>(self.handle).state() == tcp::State::Closed
    }

    /// Whether the connection has been established (it may have closed since).
    pub fn opened(&self) -> bool {
        self.opened
    }

    /// Moves bytes between the pipes and the socket; returns whether it
    /// queued anything for the stack to send.
    pub fn pump(&mut self, stack: &mut Stack) -> bool {
        let Ok(mut p) = self.pipes.lock() else {
            return false;
        };
        let s = stack.sockets.get_mut::<tcp::Socket>(self.handle);
        let mut queued = false;
        if s.is_active() && s.state() != tcp::State::SynSent && s.state() != tcp::State::SynReceived
        {
            self.opened = true;
        }
        // Task → socket.
        while s.can_send() && !p.tx.is_empty() {
            let (a, _) = p.tx.as_slices();
            match s.send_slice(a) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    p.tx.drain(..n);
                    queued = true;
                }
            }
        }
        if queued && let Some(w) = p.write_waker.take() {
            w.wake();
        }
        // The task dropped its stream: nothing more will be written.
        let orphaned = Arc::strong_count(&self.pipes) == 1;
        if (p.shutdown || orphaned) && p.tx.is_empty() && !self.closed {
            s.close();
            self.closed = true;
            queued = true;
        }
        // Socket → task.
        let mut got = false;
        while s.can_recv() && p.rx.len() < p.cap {
            let room = p.cap - p.rx.len();
            let r = s.recv(|b| {
                let n = b.len().min(room);
                (n, b[..n].to_vec())
            });
            match r {
                Ok(v) if !v.is_empty() => {
                    p.rx.extend(v);
                    got = true;
                }
                _ => break,
            }
        }
        if !s.may_recv() && !s.can_recv() && self.opened && !p.eof {
            p.eof = true;
            got = true;
        }
        if s.state() == tcp::State::Closed && !self.opened && p.error.is_none() && !self.closed {
            p.error = Some("the connection was refused or reset".into());
            got = true;
            if let Some(w) = p.write_waker.take() {
                w.wake();
            }
        }
        if got && let Some(w) = p.read_waker.take() {
            w.wake();
        }
        queued
    }
}
