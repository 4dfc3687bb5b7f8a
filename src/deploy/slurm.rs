//! `orbnet deploy slurm`: an sbatch script for a run split across N nodes.
//!
//! The script asks for N nodes with one task each (`--nodes=N
//! --ntasks-per-node=1`) and the memory of the largest share
//! ([`super::Deployment::memory_mib`]), takes the first node of the
//! allocation (`scontrol show hostnames "$SLURM_JOB_NODELIST"`, one host a
//! line, in order) as the coordinator, and starts `orbnet up` on every node
//! with `srun`. Each task's host index is its `SLURM_PROCID`, which srun
//! sets and `orbnet up` reads when no `--host-index` is given; the first
//! node runs task 0, so host 0 is the coordinator. `--kill-on-bad-exit`
//! stops every task when one fails.

use std::path::Path;

use super::{Common, DeployError, Deployment, placement_lines, shell_quote};

/// `orbnet deploy slurm`'s arguments.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) common: Common,
}

/// The file name and text of the sbatch script.
pub(crate) fn render(d: &Deployment) -> Result<(String, String), DeployError> {
    // Every node must find the scenario at the same path: an absolute one
    // works from any directory on a shared file system.
    let scenario = std::fs::canonicalize(&d.path).map_err(|source| DeployError::Read {
        path: d.path.clone(),
        source,
    })?;
    let job = d.job_name();
    Ok((format!("{job}.sbatch"), script(d, &job, &scenario)))
}

/// The script, for the scenario at `scenario`.
pub(crate) fn script(d: &Deployment, job: &str, scenario: &Path) -> String {
    let mut out = format!(
        "#!/bin/bash\n\
         # orbnet deploy slurm: {name} on {hosts} nodes. Submit with `sbatch`.\n",
        name = d.scenario.name,
        hosts = d.hosts(),
    );
    for line in placement_lines(d) {
        out.push_str(&format!("# {line}\n"));
    }
    let wall = d.scenario.duration.as_secs_f64() * d.scenario.tdf.factor();
    out.push_str(&format!(
        "#\n\
         # Every node runs `orbnet up` once; srun sets SLURM_PROCID, which orbnet\n\
         # takes as the host index, and the first node (task 0) coordinates.\n\
         # orbnet and the scenario must be at the same paths on every node; set\n\
         # ORBNET to orbnet's path when it is not on the PATH. The run lasts\n\
         # about {wall:.0} s of wall time (duration × TDF) after the start-up: add\n\
         # `#SBATCH --time=…` if your partition needs it. Host 0 writes the\n\
         # results to results/{job}-<job id>/ in the directory sbatch ran in.\n\
         #SBATCH --job-name={job}\n\
         #SBATCH --nodes={hosts}\n\
         #SBATCH --ntasks-per-node=1\n\
         #SBATCH --mem={mem}M\n\
         #SBATCH --output={job}-%j.out\n\
         set -euo pipefail\n\
         ORBNET=${{ORBNET:-orbnet}}\n\
         COORD=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | sed -n 1p)\n\
         srun --kill-on-bad-exit=1 \"$ORBNET\" up {scenario} --hosts {hosts} \\\n\
         \x20   --coordinator \"$COORD:{port}\" --out \"results/{job}-$SLURM_JOB_ID\"\n",
        hosts = d.hosts(),
        mem = d.memory_mib(),
        scenario = shell_quote(&scenario.to_string_lossy()),
        port = d.port,
    ));
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn deployment(hosts: u32) -> Deployment {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies/ring-8.toml");
        Deployment::new(&Common {
            scenario: path,
            hosts,
            out: PathBuf::from("."),
            port: 7470,
        })
        .expect("deployment")
    }

    #[test]
    fn the_script_asks_for_one_task_per_node_and_runs_srun_orbnet_up() {
        let d = deployment(2);
        let text = script(&d, "orbnet-ring-8", Path::new("/shared/my ring.toml"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#!/bin/bash");
        for directive in [
            "#SBATCH --nodes=2",
            "#SBATCH --ntasks-per-node=1",
            // Four satellites per node: 64 + 4 × 3 MiB.
            "#SBATCH --mem=76M",
            "#SBATCH --job-name=orbnet-ring-8",
        ] {
            assert!(lines.contains(&directive), "{directive} in\n{text}");
        }
        // sbatch reads directives only before the first command.
        let first_command = lines
            .iter()
            .position(|l| !l.starts_with('#'))
            .expect("a command");
        let last_directive = lines
            .iter()
            .rposition(|l| l.starts_with("#SBATCH"))
            .expect("directives");
        assert!(last_directive < first_command);
        assert!(
            text.contains("COORD=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | sed -n 1p)\n")
        );
        assert!(text.contains(
            "srun --kill-on-bad-exit=1 \"$ORBNET\" up '/shared/my ring.toml' --hosts 2 \\\n    \
             --coordinator \"$COORD:7470\" --out \"results/orbnet-ring-8-$SLURM_JOB_ID\"\n"
        ));
        // The index is SLURM_PROCID's, read by orbnet inside srun.
        assert!(!text.contains("--host-index"));
        assert!(text.contains("# host 1: 4 satellites, 2 links cut: sat-4–sat-7\n"));
    }
}
