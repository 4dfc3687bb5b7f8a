//! One orbnet satellite: the runtime the launcher starts as `orbnet node`,
//! or as a task of the in-process harness.
//!
//! ```text
//! apps         ping, bulk (TCP), QUIC ports, gateway listeners   (app)
//! smoltcp      one Interface, Medium::Ip, 198.18.0.0/15 by index  (stack)
//! router       local → stack; else TTL−1 → next hop's port        (router)
//! ports        netem shaper + live link state, one per terminal   (router)
//! ─────────────────────────── sans-IO above ─────────────────────────────
//! driver       the clock, the wire, the launcher                  (driver)
//! wire         frames in UDP datagrams, or in memory              (wire)
//! ```
//!
//! [`satellite::Satellite`] is the state machine: it owns the router, the
//! stack and the apps, takes frames and virtual times, and gives back
//! frames to send, events to report and when to wake it. The
//! [`driver`] runs it for both harnesses ([`process`] and [`inprocess`]);
//! tasks beside it (quinn endpoints, collective ranks, gateway splices,
//! see [`tasks`]) reach it only through its apps' queues.
//!
//! A packet's path: the ping app queues an echo request in its smoltcp ICMP
//! socket; polling the stack at virtual time `t` yields the IP packet; the
//! router looks up the next hop, the port's shaper answers with the instant
//! the packet reaches the neighbour, and the frame (header + packet) goes
//! out at once in a UDP datagram carrying that instant. The neighbour holds
//! it until then, routes it again, and so on; at the destination the stack
//! answers the echo and the reply travels back the same way.

mod ack_floor;
pub mod addr;
mod app;
mod bulk;
pub mod clock;
mod collective;
pub mod command;
pub mod driver;
mod gateway;
mod graph_exec;
pub mod inprocess;
#[cfg(target_os = "linux")]
mod path_mtu;
mod pcap;
mod ping;
pub mod process;
pub mod protocol;
pub mod quic;
mod rank_work;
pub mod replay;
pub mod report;
pub mod router;
mod satellite;
mod stack;
pub mod stream;
mod tasks;
mod tcp;
mod tensor;
pub mod testbed;
pub mod wire;

pub use driver::NodeError;
pub use process::{NodeConfig, run};
