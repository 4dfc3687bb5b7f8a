//! smoltcp TCP sockets on a satellite's stack, each joined to a
//! [`TcpStream`] a task reads and writes.

use std::sync::{Arc, Mutex};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::{IpAddress, IpEndpoint};
use tokio::sync::Notify;

use crate::app::{App, Outbox};
use crate::stack::{SocketError, Stack};
use crate::stream::{Pipes, TcpStream};

/// The node loop's side of one [`TcpStream`]: its socket and pipes.
#[derive(Debug)]
pub(crate) struct TcpPort {
    pub handle: SocketHandle,
    pipes: Arc<Mutex<Pipes>>,
    closed: bool,
    opened: bool,
    /// The socket's state at the last turn.
    state: tcp::State,
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
        let (pipes, stream) = TcpStream::pair(buffer, notify);
        let port = TcpPort {
            handle,
            pipes,
            closed: false,
            opened: false,
            state: tcp::State::Closed,
        };
        (port, stream)
    }

    /// A socket listening on `port` for one connection.
    pub(crate) fn listen(
        stack: &mut Stack,
        port: u16,
        buffer: usize,
        notify: Arc<Notify>,
    ) -> Result<(TcpPort, TcpStream), SocketError> {
        let mut s = socket(buffer);
        s.listen(port)
            .map_err(|source| SocketError::Listen { port, source })?;
        let handle = stack.sockets.add(s);
        Ok(Self::new(handle, buffer, notify))
    }

    /// A socket connecting from local port `local` to `to`:`port`.
    pub(crate) fn connect(
        stack: &mut Stack,
        to: std::net::Ipv4Addr,
        port: u16,
        local: u16,
        buffer: usize,
        notify: Arc<Notify>,
    ) -> Result<(TcpPort, TcpStream), SocketError> {
        let mut s = socket(buffer);
        let remote = IpEndpoint::new(IpAddress::Ipv4(to), port);
        s.connect(stack.iface.context(), remote, local)
            .map_err(|source| SocketError::Connect { to, port, source })?;
        let handle = stack.sockets.add(s);
        Ok(Self::new(handle, buffer, notify))
    }

    /// Turns Nagle's algorithm on: for connections that carry streams of
    /// bytes (a gateway's), where a full segment is always at hand, so
    /// that congestion avoidance's few-byte window increments do not send
    /// a runt beside every full segment (see `bulk`).
    pub(crate) fn coalesce(&self, stack: &mut Stack) {
        stack
            .sockets
            .get_mut::<tcp::Socket>(self.handle)
            .set_nagle_enabled(true);
    }

    /// Whether the task has dropped its stream and the socket has closed:
    /// the node can then remove the socket from its stack.
    fn finished(&self, stack: &mut Stack) -> bool {
        Arc::strong_count(&self.pipes) == 1
            && stack.sockets.get_mut::<tcp::Socket>(self.handle).state() == tcp::State::Closed
    }

    /// Whether the connection has been established (it may have closed since).
    pub(crate) fn opened(&self) -> bool {
        self.opened
    }

    /// Moves bytes between the pipes and the socket; returns whether it
    /// queued anything for the stack to send.
    pub(crate) fn pump(&mut self, stack: &mut Stack) -> bool {
        let Ok(mut p) = self.pipes.lock() else {
            return false;
        };
        let s = stack.sockets.get_mut::<tcp::Socket>(self.handle);
        let mut queued = false;
        if p.abort {
            if !self.closed {
                s.abort();
                self.closed = true;
                queued = true;
            }
            return queued;
        }
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
        let state = s.state();
        let was = std::mem::replace(&mut self.state, state);
        let failed = if !self.opened {
            // Refused (a reset for its SYN) or given up.
            state == tcp::State::Closed && !self.closed
        } else {
            // Only a reset (or a timeout) closes from these states: an
            // orderly close passes through LAST-ACK or TIME-WAIT. The
            // task must not take it for the end of the peer's bytes.
            state == tcp::State::Closed && reset_from(was)
        };
        if failed && p.error.is_none() {
            tracing::debug!("socket {} reset in {was}", self.handle);
            let e = if self.opened {
                "the connection was reset"
            } else {
                "the connection was refused or reset"
            };
            p.error = Some(e.into());
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

/// Whether a socket found closed after being in `was` was reset.
fn reset_from(was: tcp::State) -> bool {
    matches!(
        was,
        tcp::State::Established
            | tcp::State::FinWait1
            | tcp::State::FinWait2
            | tcp::State::CloseWait
            | tcp::State::SynReceived
            | tcp::State::SynSent
    )
}

impl App for TcpPort {
    fn poll(&mut self, _now: orbnet_netem::SimTime, stack: &mut Stack, _out: &mut Outbox) -> bool {
        self.pump(stack)
    }

    fn flush(&mut self, _now: orbnet_netem::SimTime, stack: &mut Stack, _out: &mut Outbox) -> bool {
        self.pump(stack)
    }

    /// Connections whose task is done and whose socket has closed (gateway
    /// connections come and go) leave the stack.
    fn retire(&mut self, stack: &mut Stack) -> bool {
        let done = self.finished(stack);
        if done {
            stack.sockets.remove(self.handle);
        }
        done
    }

    fn connections(&self) -> usize {
        1
    }
}
