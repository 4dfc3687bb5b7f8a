//! One orbnet satellite: the runtime the launcher starts as `orbnet node`.
//!
//! ```text
//! workload     ping (ICMP echo), bulk (TCP, verified bytes)
//! smoltcp      one Interface, Medium::Ip, 198.18.0.0/15 by index  (stack)
//! router       local → stack; else TTL−1 → next hop's port        (router)
//! ports        netem shaper + live link state, one per terminal   (router)
//! wire         frames in UDP datagrams to the peer's process      (wire)
//! ```
//!
//! A packet's path: the ping app queues an echo request in its smoltcp ICMP
//! socket; polling the stack at virtual time `t` yields the IP packet; the
//! router looks up the next hop, the port's shaper answers with the instant
//! the packet reaches the neighbour, and the frame (header + packet) goes
//! out at once in a UDP datagram carrying that instant. The neighbour holds
//! it until then, routes it again, and so on; at the destination the stack
//! answers the echo and the reply travels back the same way.

pub mod addr;
pub mod bulk;
pub mod clock;
pub mod collective;
pub mod gateway;
pub mod inprocess;
pub mod node;
pub mod pcap;
pub mod ping;
pub mod quic;
pub mod router;
pub mod stack;
pub mod tcp;
pub mod tensor;
pub mod testbed;
pub mod wire;

pub use node::{Command, Harness, InProcess, NodeConfig, NodeError, Reporter, run, run_in};
