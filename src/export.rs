//! `orbnet up … --export-chakra DIR`: every graph workload of the
//! scenario, as the ranks will run it, written as Chakra files so that the
//! same job runs elsewhere (ASTRA-sim reads them as they are) or again
//! here as a `trace` workload. For workload w of scenario S:
//!
//! | file | what |
//! |---|---|
//! | `S-w<w>.<rank>.et` | rank's graph: GlobalMetadata, then its nodes (netem's `chakra::encode_trace`) |
//! | `S-w<w>.json` | the communicator groups, in ASTRA-sim's `--comm-group-configuration` format |
//! | `S-w<w>.toml` | a `[[workload]]` table that runs the files as a trace on the same satellites |
//!
//! A generated job's compute nodes carry their FLOPs (`num_ops`) and
//! their duration in whole microseconds; the table times them by FLOPs on
//! the scenario's accelerator (`compute = "flops"`), which gives back the
//! generated durations to the nanosecond.

use std::fmt::Write as _;
use std::path::Path;

use orbnet_netem::chakra::{encode_trace, trace_file_name};
use orbnet_netem::training::{ComputeModel, GraphSource, GraphWorkload};
use orbnet_netem::{Scenario, Workload};

use crate::Failure;

/// Writes every graph workload of `scenario` into `dir`; returns the
/// prefixes written.
pub(crate) fn export_chakra(scenario: &Scenario, dir: &Path) -> Result<Vec<String>, Failure> {
    let fail = |p: &Path, e: std::io::Error| Failure::Run(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let mut written = Vec::new();
    for (w, workload) in scenario.workloads.iter().enumerate() {
        let Workload::Graph(g) = workload else {
            continue;
        };
        let prefix = format!("{}-w{w}", scenario.name);
        for (r, graph) in g.graphs.iter().enumerate() {
            let path = dir.join(trace_file_name(&prefix, r as u32));
            std::fs::write(&path, encode_trace(&graph.to_trace())).map_err(|e| fail(&path, e))?;
        }
        let groups = dir.join(format!("{prefix}.json"));
        std::fs::write(&groups, g.groups.to_json() + "\n").map_err(|e| fail(&groups, e))?;
        let table = dir.join(format!("{prefix}.toml"));
        let text = workload_table(scenario, w, g, &prefix);
        std::fs::write(&table, text).map_err(|e| fail(&table, e))?;
        written.push(dir.join(prefix).display().to_string());
    }
    Ok(written)
}

/// The `[[workload]]` table that runs the exported files on the same
/// satellites, paths relative to the directory they are in.
fn workload_table(scenario: &Scenario, w: usize, g: &GraphWorkload, prefix: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by orbnet up --export-chakra from {} workload {w}:\n# {}",
        scenario.name,
        crate::results::describe_graph(g)
    );
    let ranks: Vec<String> = g
        .ranks
        .iter()
        .map(|&s| format!("{:?}", scenario.world.name(s)))
        .collect();
    let _ = writeln!(out, "[[workload]]\nkind = \"trace\"");
    let _ = writeln!(
        out,
        "chakra = \"{prefix}\"\ncomm_groups = \"{prefix}.json\""
    );
    let _ = writeln!(out, "ranks = [{}]", ranks.join(", "));
    match (&g.source, g.compute) {
        (GraphSource::Model { .. }, _) => {
            let _ = writeln!(out, "compute = \"flops\"");
        }
        (GraphSource::Trace { .. }, ComputeModel::Duration { scale }) => {
            let _ = writeln!(out, "compute_scale = {scale:?}");
        }
        (GraphSource::Trace { .. }, ComputeModel::Flops { .. }) => {
            let _ = writeln!(out, "compute = \"flops\"");
        }
    }
    let _ = writeln!(
        out,
        "dtype = \"{}\"\nalgorithm = \"{}\"\npayload_divisor = {}\nsteps = {}\ntransport = \"{}\"\nstart_s = {:?}",
        g.dtype.as_str(),
        g.algorithm.as_str(),
        g.payload_divisor,
        g.steps,
        g.transport.as_str(),
        g.start.as_secs_f64()
    );
    if let Some(t) = g.timeout {
        let _ = writeln!(out, "timeout_s = {:?}", t.as_secs_f64());
    }
    out
}
