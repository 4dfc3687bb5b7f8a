//! Gateways: connections and datagrams between programs on the host's
//! loopback and the constellation.
//!
//! - TCP ingress: a kernel listener on the satellite's process; each
//!   accepted connection asks the satellite ([`Command::Dial`]) for a
//!   smoltcp connection to the far end, and the two are spliced.
//! - TCP egress: a listener on the satellite's stack ([`Egress`]), replaced
//!   as soon as a connection opens on it; each opened one is spliced to a
//!   kernel connection to the forwarded service.
//!
//! - Ingress: a kernel UDP socket on the satellite's process. Each kernel
//!   client gets a UDP port of its own on the satellite's stack (a flow),
//!   so the far side's replies come back to that port and go to that client.
//! - Egress: a UDP port on the satellite's stack. Each emulated sender gets
//!   a kernel UDP socket of its own, connected to the forwarded service, so
//!   the service's replies go back to that sender.
//!
//! Flows last as long as the run. Datagrams larger than the path MTU allows
//! are dropped by the stack, as a router would drop them with DF set.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;

use crate::app::{App, Outbox};
use crate::command::Command;
use crate::quic::AppSocket;
use crate::stack::Stack;
use crate::stream::TcpStream;
use crate::tcp::TcpPort;

/// The stack ports ingress flows use, from the first: one per kernel client.
const FLOW_PORTS: std::ops::Range<u16> = orbnet_netem::ports::UDP_FLOWS;

/// Accepts kernel connections on `listener` and carries each over the
/// constellation to `to`:`port`.
pub(crate) async fn tcp_ingress(
    listener: tokio::net::TcpListener,
    to: orbnet_netem::SatId,
    port: u16,
    commands: UnboundedSender<Command>,
) {
    loop {
        let kernel = match listener.accept().await {
            Ok((kernel, _)) => kernel,
            Err(e) => {
                // A client gone before its turn, or descriptors or memory
                // short for a moment: the listener itself still stands.
                tracing::warn!("gateway: accepting: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let (reply, rx) = tokio::sync::oneshot::channel();
        if commands.send(Command::Dial { to, port, reply }).is_err() {
            return;
        }
        tokio::spawn(async move {
            match rx.await {
                Ok(stream) => splice(kernel, stream).await,
                // The dial failed (logged): the client sees a reset.
                Err(_) => {
                    let _ = kernel.set_zero_linger();
                }
            }
        });
    }
}

/// Connects to the kernel's `forward` and splices it to `stream`.
pub(crate) async fn tcp_egress(stream: TcpStream, forward: SocketAddr) {
    match tokio::net::TcpStream::connect(forward).await {
        Ok(kernel) => splice(kernel, stream).await,
        Err(e) => {
            tracing::warn!("gateway to {forward}: {e}");
            // The client learns of it as a reset, not as an empty stream.
            stream.abort();
        }
    }
}

/// Copies both ways between a kernel connection and one over the
/// constellation until both sides have finished.
async fn splice(mut kernel: tokio::net::TcpStream, mut stream: TcpStream) {
    match tokio::io::copy_bidirectional(&mut kernel, &mut stream).await {
        Ok((up, down)) => tracing::debug!(
            "gateway connection {:?} closed: {up} B carried in, {down} B out",
            kernel.peer_addr()
        ),
        Err(e) => {
            tracing::debug!("gateway connection {:?} ended: {e}", kernel.peer_addr());
            // A reset on one side is passed on as a reset of the other: a
            // close would pass a cut stream off as a whole one.
            let _ = kernel.set_zero_linger();
            stream.abort();
        }
    }
}

/// The buffers of an egress gateway's connections, each way.
const EGRESS_BUFFER: usize = 64 << 20;

/// How many of an egress gateway's listeners wait at once: a SYN that
/// finds none is answered with a reset, so connections that arrive
/// together (1,000 clients connecting at once reach the far end within a
/// millisecond) each need a listener of their own. Their buffers are only
/// touched as data passes.
const EGRESS_BACKLOG: usize = 1024;

/// An egress gateway: listeners on the stack, each replaced as soon as a
/// connection opens on it; each opened one goes to the driver to splice
/// to the kernel's `forward`, and its socket joins the satellite's apps.
#[derive(Debug)]
pub(crate) struct Egress {
    port: u16,
    forward: SocketAddr,
    waiting: Vec<(TcpPort, TcpStream)>,
    notify: Arc<tokio::sync::Notify>,
}

/// One listener on `port`.
fn egress_listener(
    stack: &mut Stack,
    port: u16,
    notify: &Arc<tokio::sync::Notify>,
) -> Result<(TcpPort, TcpStream), crate::stack::SocketError> {
    // The egress cannot know the path of a connection before it comes, so
    // its window is the largest an ingress may use (the ingress windows
    // each connection to its path's bandwidth-delay product): a smaller
    // one would cap long paths (4 MiB held iperf3 to 214 Mb/s on a 148 ms,
    // 1 Gb/s path).
    let (waiting, stream) = TcpPort::listen(stack, port, EGRESS_BUFFER, notify.clone())?;
    waiting.coalesce(stack);
    Ok((waiting, stream))
}

impl Egress {
    pub(crate) fn new(
        stack: &mut Stack,
        port: u16,
        forward: SocketAddr,
        notify: Arc<tokio::sync::Notify>,
    ) -> Result<Egress, crate::stack::SocketError> {
        let waiting = (0..EGRESS_BACKLOG)
            .map(|_| egress_listener(stack, port, &notify))
            .collect::<Result<_, _>>()?;
        Ok(Egress {
            port,
            forward,
            waiting,
            notify,
        })
    }
}

impl App for Egress {
    fn poll(&mut self, _now: orbnet_netem::SimTime, _stack: &mut Stack, _out: &mut Outbox) -> bool {
        false
    }

    /// Pumps the listeners; each that has opened a connection is handed
    /// over and replaced by a new one.
    fn flush(&mut self, _now: orbnet_netem::SimTime, stack: &mut Stack, out: &mut Outbox) -> bool {
        let mut queued = false;
        for slot in &mut self.waiting {
            queued |= slot.0.pump(stack);
            if !slot.0.opened() {
                continue;
            }
            let Ok(next) = egress_listener(stack, self.port, &self.notify) else {
                continue;
            };
            let (waiting, stream) = std::mem::replace(slot, next);
            out.apps.push(Box::new(waiting));
            out.splices.push((stream, self.forward));
            queued = true;
        }
        queued
    }
}

/// Carries datagrams from kernel clients of `kernel` to `to` (an emulated
/// address) and the replies back.
pub(crate) async fn udp_ingress(
    kernel: tokio::net::UdpSocket,
    to: SocketAddr,
    commands: UnboundedSender<Command>,
) {
    let kernel = Arc::new(kernel);
    let mut flows: BTreeMap<SocketAddr, AppSocket> = BTreeMap::new();
    let mut next = FLOW_PORTS.start;
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, client)) = kernel.recv_from(&mut buf).await else {
            return;
        };
        let flow = match flows.get(&client) {
            Some(f) => f.clone(),
            None => {
                let port = next;
                next = if next + 1 >= FLOW_PORTS.end {
                    FLOW_PORTS.start
                } else {
                    next + 1
                };
                let (reply, rx) = tokio::sync::oneshot::channel();
                if commands.send(Command::Udp { port, reply }).is_err() {
                    return;
                }
                let flow = match rx.await {
                    Ok(Ok(f)) => f,
                    Ok(Err(e)) => {
                        tracing::warn!("UDP gateway: {e}");
                        continue;
                    }
                    Err(_) => return,
                };
                let (k, back) = (kernel.clone(), flow.clone());
                tokio::spawn(async move {
                    while let Ok((d, _)) = back.recv_from().await {
                        let _ = k.send_to(&d, client).await;
                    }
                });
                flows.insert(client, flow.clone());
                flow
            }
        };
        let _ = flow.send_to(&buf[..n], to);
    }
}

/// Carries datagrams arriving on `socket` to the kernel's `forward` and
/// the service's replies back to each sender.
pub(crate) async fn udp_egress(socket: AppSocket, forward: SocketAddr) {
    let mut flows: BTreeMap<SocketAddr, Arc<tokio::net::UdpSocket>> = BTreeMap::new();
    loop {
        let Ok((d, from)) = socket.recv_from().await else {
            return;
        };
        let kernel = match flows.get(&from) {
            Some(k) => k.clone(),
            None => {
                let k = match tokio::net::UdpSocket::bind("127.0.0.1:0").await {
                    Ok(k) => k,
                    Err(e) => {
                        tracing::warn!("UDP gateway to {forward}: {e}");
                        continue;
                    }
                };
                if let Err(e) = k.connect(forward).await {
                    tracing::warn!("UDP gateway to {forward}: {e}");
                    continue;
                }
                let k = Arc::new(k);
                let (kk, back) = (k.clone(), socket.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65_536];
                    while let Ok(n) = kk.recv(&mut buf).await {
                        let _ = back.send_to(&buf[..n], from);
                    }
                });
                flows.insert(from, k.clone());
                k
            }
        };
        let _ = kernel.send(&d).await;
    }
}
