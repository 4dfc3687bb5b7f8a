//! Requests to a running satellite from outside its turn: a test's (see
//! [`crate::testbed`]), a gateway's, or the launcher's.

use orbnet_netem::fault::Fault;
use orbnet_netem::{SatId, SimTime};
use tokio::sync::oneshot;

use crate::quic::AppSocket;
use crate::stream::TcpStream;

/// A request to a running satellite. Replies go back on the oneshot
/// channel each request carries.
#[derive(Debug)]
pub enum Command {
    /// Open a UDP socket on the satellite's stack.
    Udp {
        port: u16,
        reply: oneshot::Sender<Result<AppSocket, String>>,
    },
    /// Connect a TCP stream to `to`:`port`.
    TcpConnect {
        to: SatId,
        port: u16,
        reply: oneshot::Sender<Result<TcpStream, String>>,
    },
    /// Listen on `port`; the stream opens when a peer connects.
    TcpListen {
        port: u16,
        reply: oneshot::Sender<Result<TcpStream, String>>,
    },
    /// A workload task's TCP stream, Nagle on, `buffer` bytes each way:
    /// connected to `to`:`port` from a fresh local port, or (`to` = `None`)
    /// listening on `port` for one connection.
    TcpOpen {
        to: Option<SatId>,
        port: u16,
        buffer: usize,
        reply: oneshot::Sender<Result<TcpStream, String>>,
    },
    /// The satellite's counters and link states (as JSON, for tests).
    Counters {
        reply: oneshot::Sender<serde_json::Value>,
    },
    /// A fault from now on (applied at the next routing update).
    Fault(Fault),
    /// Satellite `sat` restarted at `at`: its injected crash ends.
    Heal { sat: SatId, at: SimTime },
    /// A kernel client reached an ingress gateway: connect over the
    /// constellation to `to`:`port`, windowed to the path as it is now.
    Dial {
        to: SatId,
        port: u16,
        reply: oneshot::Sender<TcpStream>,
    },
    /// Every workload is over: end the run now.
    Stop,
}
