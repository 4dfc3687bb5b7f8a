//! UDP gateways: datagrams between programs on the host's loopback and the
//! constellation. (TCP gateways live in the node loop: each kernel
//! connection is spliced to a smoltcp connection.)
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

use crate::node::Command;
use crate::quic::AppSocket;

/// The stack ports ingress flows use, from the first: one per kernel client.
pub const FLOW_PORTS: std::ops::Range<u16> = 30_000..40_000;

/// Carries datagrams from kernel clients of `kernel` to `to` (an emulated
/// address) and the replies back.
pub async fn udp_ingress(
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
pub async fn udp_egress(socket: AppSocket, forward: SocketAddr) {
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
