//! orbnet's emulated world, sans-IO.
//!
//! Nothing here reads a clock, opens a socket or spawns a task: every
//! function that depends on time takes the time as a [`SimTime`]. The same
//! code therefore runs under real time, dilated time and simulated time.
//!
//! ```text
//! scenario (TOML) ─► World ─► Snapshot(t) ─► routing (next hops)
//!                     │          │
//!                  orbits      links (delay, rate, loss)
//!                               └─► Shaper (per-link egress queue)
//! ```

pub mod chakra;
pub mod collective;
pub mod contact;
pub mod fault;
pub mod formation;
pub mod geometry;
pub mod ground;
pub mod link;
pub mod names;
pub mod orbit;
pub mod placement;
pub mod ports;
pub mod rng;
pub mod routing;
pub mod scenario;
pub mod shaper;
pub mod topology;
pub mod traffic;
pub mod training;
pub mod units;
pub mod workload;
pub mod world;

pub use scenario::{Scenario, ScenarioError};
pub use topology::{DownReason, LinkState, LinkStatus, Pattern, Snapshot};
pub use traffic::Workload;
pub use units::{BitsPerSecond, Bytes, LinkId, Meters, SatId, SimDuration, SimTime, Tdf};
pub use world::{Timeline, World};
