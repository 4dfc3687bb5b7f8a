//! A TCP connection over a satellite's stack, as a task sees it: tokio's
//! `AsyncRead` and `AsyncWrite` over a pair of byte pipes. The satellite's
//! side ([`crate::tcp::TcpPort`]) moves bytes between the pipes and its
//! smoltcp socket at each turn and wakes whichever side can make progress.
//! Tasks that write signal the satellite through the shared `Notify`.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(crate) struct Pipes {
    /// Received from the socket, not yet read by the task.
    pub rx: VecDeque<u8>,
    /// Written by the task, not yet taken by the socket.
    pub tx: VecDeque<u8>,
    pub cap: usize,
    pub read_waker: Option<Waker>,
    pub write_waker: Option<Waker>,
    /// The task shut its writing side.
    pub shutdown: bool,
    /// The peer closed: reads end once `rx` is drained.
    pub eof: bool,
    /// The connection failed (reset, or closed before it opened).
    pub error: Option<String>,
    /// The task gave the connection up: reset it, whatever is unsent.
    pub abort: bool,
}

/// A TCP connection over the satellite's stack, for tasks.
#[derive(Debug, Clone)]
pub struct TcpStream {
    pipes: Arc<Mutex<Pipes>>,
    notify: Arc<Notify>,
}

impl TcpStream {
    /// A stream whose pipes hold up to `cap` bytes each way, and the
    /// satellite's handle on them.
    pub(crate) fn pair(cap: usize, notify: Arc<Notify>) -> (Arc<Mutex<Pipes>>, TcpStream) {
        let pipes = Arc::new(Mutex::new(Pipes {
            cap,
            ..Pipes::default()
        }));
        (pipes.clone(), TcpStream { pipes, notify })
    }
}

impl TcpStream {
    /// Gives the connection up at once (a reset, not a close): for a
    /// connection whose path is gone, so that its socket does not
    /// retransmit into it for as long as the path is away.
    pub(crate) fn abort(&self) {
        if let Ok(mut p) = self.pipes.lock() {
            p.abort = true;
            p.error.get_or_insert_with(|| "aborted".into());
            if let Some(w) = p.read_waker.take() {
                w.wake();
            }
            if let Some(w) = p.write_waker.take() {
                w.wake();
            }
        }
        self.notify.notify_one();
    }
}

impl Drop for TcpStream {
    /// The satellite closes the connection once every handle is gone: wake it.
    fn drop(&mut self) {
        self.notify.notify_one();
    }
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
