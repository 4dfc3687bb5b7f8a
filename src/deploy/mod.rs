//! `orbnet deploy`: the files that launch one run split across hosts on an
//! engine users already operate, Kubernetes ([`k8s`]) or Slurm ([`slurm`]).
//! orbnet brings no launcher, SSH or privileges of its own: the engine
//! starts `orbnet up SCENARIO --hosts N --host-index K --coordinator
//! ADDR:PORT` once per host, every host computes the same placement
//! ([`orbnet_netem::placement`]) and host 0 coordinates. `deploy` works out
//! that placement too, to size each host and to report the split.
//!
//! Memory per host: [`SATELLITE_MIB`] per satellite process plus
//! [`LAUNCHER_MIB`] for the host's launcher, for the largest share. A
//! satellite process is budgeted at 2 MB private (DESIGN.md; 0.9 MB
//! measured on ring-8 with mimalloc and no huge pages), and a run's
//! buffers grow with its workloads: 3 MiB leaves room for both.

pub(crate) mod k8s;
pub(crate) mod slurm;

use std::path::{Path, PathBuf};

use orbnet_netem::placement::{Placement, PlacementError};
use orbnet_netem::{Scenario, ScenarioError};

use crate::load::{self, Source};

/// The TCP port host 0 coordinates on, unless `--port` says otherwise.
pub(crate) const COORDINATOR_PORT: u16 = 7470;
/// Memory for one satellite process, MiB (see the module doc).
pub(crate) const SATELLITE_MIB: u64 = 3;
/// Memory for a host's launcher, MiB.
pub(crate) const LAUNCHER_MIB: u64 = 64;

/// The engines `orbnet deploy` writes for.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum Engine {
    /// Kubernetes: a ConfigMap with the scenario and its files, a headless
    /// Service and an Indexed Job of N pods, in one YAML file.
    K8s(k8s::Args),
    /// Slurm: an sbatch script that runs `srun orbnet up` on N nodes.
    Slurm(slurm::Args),
}

/// What every engine needs.
#[derive(clap::Args, Debug)]
pub(crate) struct Common {
    /// Scenario file (TOML).
    pub(crate) scenario: PathBuf,
    /// Hosts to split the run across.
    #[arg(long)]
    pub(crate) hosts: u32,
    /// Directory to write into (created when missing).
    #[arg(long, default_value = ".")]
    pub(crate) out: PathBuf,
    /// TCP port host 0 coordinates on.
    #[arg(long, default_value_t = COORDINATOR_PORT)]
    pub(crate) port: u16,
}

/// Why `orbnet deploy` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeployError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("--hosts: {0}")]
    Placement(#[from] PlacementError),
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    BadInput(String),
    #[error(
        "the scenario and the files it refers to take {bytes} bytes, and a ConfigMap \
         holds at most 1 MiB ({limit} bytes of keys and values; \
         https://kubernetes.io/docs/concepts/configuration/configmap/). Put the \
         scenario's directory on a PersistentVolumeClaim instead and give its name \
         with --scenario-pvc CLAIM: the Job mounts it read-only at /scenario"
    )]
    TooBig { bytes: usize, limit: usize },
    #[error("cannot write YAML: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DeployError {
    /// Whether the user's input is at fault (exit 2) rather than the run
    /// of the command (exit 1).
    pub(crate) fn is_bad_input(&self) -> bool {
        !matches!(self, DeployError::Yaml(_) | DeployError::Write { .. })
    }
}

/// A scenario as `deploy` sees it: loaded, checked and placed.
#[derive(Debug)]
pub(crate) struct Deployment {
    pub(crate) path: PathBuf,
    pub(crate) scenario: Scenario,
    pub(crate) placement: Placement,
    pub(crate) port: u16,
}

impl Deployment {
    pub(crate) fn new(common: &Common) -> Result<Deployment, DeployError> {
        let scenario = load::load(&Source::File(common.scenario.clone()))?;
        let placement = Placement::new(&scenario.world, &scenario.constellation, common.hosts)?;
        Ok(Deployment {
            path: common.scenario.clone(),
            scenario,
            placement,
            port: common.port,
        })
    }

    pub(crate) fn hosts(&self) -> u32 {
        self.placement.hosts()
    }

    /// The memory to reserve on each host, MiB: the largest share's.
    pub(crate) fn memory_mib(&self) -> u64 {
        let most = self
            .placement
            .shares()
            .iter()
            .map(|s| s.satellites.len())
            .max()
            .unwrap_or(0);
        LAUNCHER_MIB + SATELLITE_MIB * most as u64
    }

    /// The name of the job: `orbnet-` and the scenario's name as a DNS
    /// label, short enough that `<job>-<index>` is one too (63 bytes).
    pub(crate) fn job_name(&self) -> String {
        let mut name = String::from("orbnet-");
        for c in self.scenario.name.chars() {
            let c = c.to_ascii_lowercase();
            let c = if c.is_ascii_alphanumeric() { c } else { '-' };
            if !(c == '-' && name.ends_with('-')) {
                name.push(c);
            }
        }
        let index_digits = (self.hosts().saturating_sub(1)).to_string().len();
        name.truncate(63 - 1 - index_digits);
        name.trim_end_matches('-').to_owned()
    }

    /// The scenario file's name (where it mounts, beside its files).
    pub(crate) fn file_name(&self) -> Result<String, DeployError> {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                DeployError::BadInput(format!("{}: not a file name", self.path.display()))
            })
    }

    /// The directory the scenario's files are relative to.
    pub(crate) fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}

/// `orbnet deploy`: writes the engine's files and says what to do next.
pub(crate) fn run(engine: &Engine) -> Result<(), DeployError> {
    let (common, files, next) = match engine {
        Engine::K8s(args) => {
            let d = Deployment::new(&args.common)?;
            let (name, text) = k8s::render(&d, args)?;
            let path = args.common.out.join(&name);
            let next = format!(
                "kubectl apply -f {}   # then see README.md, \"Beyond one machine\"",
                path.display()
            );
            (&args.common, vec![(name, text)], next)
        }
        Engine::Slurm(args) => {
            let d = Deployment::new(&args.common)?;
            let (name, text) = slurm::render(&d)?;
            let path = args.common.out.join(&name);
            let next = format!("sbatch {}", path.display());
            (&args.common, vec![(name, text)], next)
        }
    };
    std::fs::create_dir_all(&common.out).map_err(|source| DeployError::Write {
        path: common.out.clone(),
        source,
    })?;
    for (name, text) in files {
        let path = common.out.join(name);
        std::fs::write(&path, text).map_err(|source| DeployError::Write {
            path: path.clone(),
            source,
        })?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!("next: {next}");
    Ok(())
}

/// `s` quoted for a POSIX shell: as it is when it is made of characters the
/// shell never interprets, else in single quotes.
pub(crate) fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The per-host lines of the placement, for comments in generated files.
pub(crate) fn placement_lines(d: &Deployment) -> Vec<String> {
    let world = &d.scenario.world;
    let p = &d.placement;
    let mut lines = vec![format!(
        "{} on {} hosts ({}): {} cut between hosts, shortest {}",
        count(world.satellites() as usize, "satellite"),
        p.hosts(),
        p.method().as_str(),
        count(p.cut().len(), "link"),
        p.shortest_cut_delay()
            .map_or("none up at t = 0".to_owned(), |d| format!(
                "{:.6} ms at t = 0",
                d.as_millis_f64()
            )),
    )];
    for (i, share) in p.shares().iter().enumerate() {
        lines.push(format!(
            "host {i}: {}, {} cut: {}",
            count(share.satellites.len(), "satellite"),
            count(share.links_cut, "link"),
            crate::plan::name_ranges(world, share)
        ));
    }
    lines
}

/// `n` and the noun, plural when `n` is not 1.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(
            shell_quote("topologies/ring-8.toml"),
            "topologies/ring-8.toml"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote(""), "''");
    }
}
