//! The traffic a scenario runs, one [`Workload`] per `[[workload]]`
//! table: the kinds of [`crate::workload`] and the per-rank execution
//! graphs of [`crate::training`] (Chakra traces or a generated model),
//! and offloads (ground data computed in space).
//! It sits above both, so that `training` may use the workload vocabulary
//! (element types, algorithms, the accelerator) without a circle.

use crate::training::GraphWorkload;
use crate::workload::offload::Offload;
use crate::workload::{Bulk, Collective, Ping, Train};

/// Traffic a scenario runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    Ping(Ping),
    Bulk(Bulk),
    Collective(Collective),
    Train(Train),
    /// Per-rank execution graphs: Chakra traces or a generated model.
    Graph(Box<GraphWorkload>),
    /// Data up from the ground, compute in orbit, results down.
    Offload(Offload),
}
