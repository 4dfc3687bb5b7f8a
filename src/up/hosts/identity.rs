//! Which host of a split run this one is: its index, the number of hosts,
//! the coordinator's address, and the addresses to bind and advertise.
//!
//! A run is split only when a coordinator is given (`--coordinator` or
//! `ORBNET_COORDINATOR`): no engine sets one, so a plain `orbnet up` inside
//! a batch job stays a one-host run. The index and the count then come,
//! each on its own, from the first of:
//!
//! | source | index | count |
//! |---|---|---|
//! | flags | `--host-index` | `--hosts` |
//! | orbnet | `ORBNET_HOST_INDEX` | `ORBNET_HOSTS` |
//! | Open MPI | `OMPI_COMM_WORLD_RANK` | `OMPI_COMM_WORLD_SIZE` |
//! | MPICH, Hydra | `PMI_RANK` | `PMI_SIZE` |
//! | Slurm | `SLURM_PROCID` | `SLURM_NTASKS` |
//! | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` | (none: `--hosts` or `ORBNET_HOSTS`) |

use std::net::IpAddr;

use orbnet_netem::placement::HostId;

use crate::Failure;

/// The port host 0 coordinates on when the address names none.
pub(crate) const DEFAULT_PORT: u16 = crate::deploy::COORDINATOR_PORT;

/// Where the host index may come from, in order.
const INDEX_VARS: [&str; 5] = [
    "ORBNET_HOST_INDEX",
    "OMPI_COMM_WORLD_RANK",
    "PMI_RANK",
    "SLURM_PROCID",
    "JOB_COMPLETION_INDEX",
];
/// Where the number of hosts may come from, in order.
const COUNT_VARS: [&str; 4] = [
    "ORBNET_HOSTS",
    "OMPI_COMM_WORLD_SIZE",
    "PMI_SIZE",
    "SLURM_NTASKS",
];

/// `orbnet up`'s options for a run split across hosts.
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct HostArgs {
    /// Split the run across this many hosts (default: ORBNET_HOSTS, or the
    /// MPI or Slurm job's size).
    #[arg(long)]
    pub hosts: Option<u32>,
    /// This host's index, 0 to hosts − 1 (default: ORBNET_HOST_INDEX, or
    /// the MPI rank, Slurm task or Kubernetes completion index).
    #[arg(long)]
    pub host_index: Option<u32>,
    /// Host 0's address, NAME:PORT or IP:PORT (port 7470 when absent);
    /// giving one (or ORBNET_COORDINATOR) is what splits a run.
    #[arg(long, value_name = "ADDR:PORT")]
    pub coordinator: Option<String>,
    /// The address this host's satellites (and, on host 0, the
    /// coordinator) bind to (default: the advertised address; host 0
    /// listens on every interface unless given).
    #[arg(long, value_name = "IP")]
    pub bind: Option<IpAddr>,
    /// The address other hosts reach this host's satellites at (default:
    /// --bind, else the address this host reaches the coordinator from).
    #[arg(long, value_name = "IP")]
    pub advertise: Option<IpAddr>,
}

/// This host's part in a split run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub index: HostId,
    pub hosts: u32,
    /// Host 0's address: a name or an IP literal.
    pub coordinator_host: String,
    pub coordinator_port: u16,
    pub bind: Option<IpAddr>,
    pub advertise: Option<IpAddr>,
}

impl HostArgs {
    /// This host's part, from the flags and then the environment `env`;
    /// `None` for a one-host run.
    pub(crate) fn identity(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Identity>, Failure> {
        let bad = |m: String| Failure::BadInput(m);
        let Some(coordinator) = self
            .coordinator
            .clone()
            .or_else(|| env("ORBNET_COORDINATOR").filter(|c| !c.trim().is_empty()))
        else {
            let given = [
                ("--hosts", self.hosts.is_some()),
                ("--host-index", self.host_index.is_some()),
                ("--bind", self.bind.is_some()),
                ("--advertise", self.advertise.is_some()),
            ];
            if let Some((flag, _)) = given.iter().find(|g| g.1) {
                return Err(bad(format!(
                    "{flag} splits a run across hosts, which needs the coordinator's \
                     address: --coordinator ADDR:PORT (or ORBNET_COORDINATOR)"
                )));
            }
            return Ok(None);
        };
        let (host, port) = coordinator_address(&coordinator)?;
        let hosts = match self.hosts {
            Some(n) => n,
            None => from_env(env, &COUNT_VARS)?.ok_or_else(|| {
                bad(
                    "a split run needs the number of hosts: --hosts N, ORBNET_HOSTS, \
                     or an MPI or Slurm job's size"
                        .into(),
                )
            })?,
        };
        let index = match self.host_index {
            Some(k) => k,
            None => from_env(env, &INDEX_VARS)?.ok_or_else(|| {
                bad("a split run needs this host's index: --host-index K, \
                     ORBNET_HOST_INDEX, or an MPI rank, Slurm task or Kubernetes \
                     completion index"
                    .into())
            })?,
        };
        if hosts == 0 {
            return Err(bad("--hosts: a run needs at least one host (got 0)".into()));
        }
        if index >= hosts {
            return Err(bad(format!(
                "host index {index} is out of range for {hosts} hosts (0 to {})",
                hosts - 1
            )));
        }
        Ok(Some(Identity {
            index: HostId(index),
            hosts,
            coordinator_host: host,
            coordinator_port: port,
            bind: self.bind,
            advertise: self.advertise,
        }))
    }
}

/// The first of `vars` that is set, as a number; a set variable that is
/// no number is bad input naming it.
fn from_env(env: &dyn Fn(&str) -> Option<String>, vars: &[&str]) -> Result<Option<u32>, Failure> {
    for var in vars {
        if let Some(v) = env(var) {
            return v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| Failure::BadInput(format!("{var}={v:?}: not a host index or count")));
        }
    }
    Ok(None)
}

/// `NAME:PORT`, `IP:PORT`, `[IPv6]:PORT`, or any of them without the port.
fn coordinator_address(a: &str) -> Result<(String, u16), Failure> {
    let bad = |why: &str| Failure::BadInput(format!("--coordinator {a:?}: {why}"));
    let a = a.trim();
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, tail) = rest
            .split_once(']')
            .ok_or_else(|| bad("no closing bracket"))?;
        match tail.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if tail.is_empty() => (h, None),
            None => return Err(bad("expected :PORT after the bracket")),
        }
    } else if a.matches(':').count() > 1 {
        // A bare IPv6 address: no port.
        (a, None)
    } else {
        match a.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
        None => DEFAULT_PORT,
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn args(coordinator: Option<&str>) -> HostArgs {
        HostArgs {
            coordinator: coordinator.map(str::to_owned),
            ..HostArgs::default()
        }
    }

    fn message(r: Result<Option<Identity>, Failure>) -> String {
        match r {
            Err(Failure::BadInput(m)) => m,
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn without_a_coordinator_a_run_stays_on_one_host() {
        // Inside an MPI or Slurm job, with no coordinator: one host.
        let e = env(&[("OMPI_COMM_WORLD_RANK", "1"), ("SLURM_PROCID", "2")]);
        assert_eq!(args(None).identity(&e).ok(), Some(None));
        let flags = HostArgs {
            hosts: Some(3),
            ..HostArgs::default()
        };
        assert!(message(flags.identity(&env(&[]))).contains("--coordinator"));
    }

    #[test]
    fn index_and_count_come_from_flags_then_each_engine_in_order() {
        let id = |a: &HostArgs, vars: &[(&str, &str)]| {
            let i = a.identity(&env(vars)).expect("valid").expect("split");
            (i.index.0, i.hosts)
        };
        let c = args(Some("h0:7000"));
        assert_eq!(
            id(
                &c,
                &[("OMPI_COMM_WORLD_RANK", "2"), ("OMPI_COMM_WORLD_SIZE", "3")]
            ),
            (2, 3)
        );
        assert_eq!(id(&c, &[("PMI_RANK", "1"), ("PMI_SIZE", "4")]), (1, 4));
        assert_eq!(
            id(&c, &[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2")]),
            (0, 2)
        );
        // Kubernetes gives the index; the count comes from ORBNET_HOSTS.
        assert_eq!(
            id(&c, &[("JOB_COMPLETION_INDEX", "4"), ("ORBNET_HOSTS", "5")]),
            (4, 5)
        );
        // orbnet's own variables come before the engines'.
        let both = [
            ("ORBNET_HOST_INDEX", "1"),
            ("ORBNET_HOSTS", "2"),
            ("OMPI_COMM_WORLD_RANK", "5"),
            ("OMPI_COMM_WORLD_SIZE", "6"),
        ];
        assert_eq!(id(&c, &both), (1, 2));
        // And the flags before everything.
        let flags = HostArgs {
            hosts: Some(3),
            host_index: Some(0),
            ..args(Some("h0"))
        };
        assert_eq!(id(&flags, &both), (0, 3));
        // The coordinator may come from the environment too.
        let i = args(None)
            .identity(&env(&[
                ("ORBNET_COORDINATOR", "orbnet-0.orbnet"),
                ("SLURM_PROCID", "1"),
                ("SLURM_NTASKS", "2"),
            ]))
            .expect("valid")
            .expect("split");
        assert_eq!(
            (i.coordinator_host.as_str(), i.coordinator_port),
            ("orbnet-0.orbnet", DEFAULT_PORT)
        );
    }

    #[test]
    fn bad_indices_counts_and_addresses_are_named() {
        let c = args(Some("h0:7000"));
        let m = message(c.identity(&env(&[("JOB_COMPLETION_INDEX", "1")])));
        assert!(m.contains("number of hosts"), "{m}");
        let m = message(c.identity(&env(&[("ORBNET_HOSTS", "2")])));
        assert!(m.contains("index"), "{m}");
        let m = message(c.identity(&env(&[("ORBNET_HOSTS", "2"), ("PMI_RANK", "x")])));
        assert!(m.contains("PMI_RANK=\"x\""), "{m}");
        let m = message(c.identity(&env(&[("ORBNET_HOSTS", "2"), ("PMI_RANK", "2")])));
        assert!(m.contains("out of range"), "{m}");
        let m = message(c.identity(&env(&[("ORBNET_HOSTS", "0"), ("PMI_RANK", "0")])));
        assert!(m.contains("at least one"), "{m}");
        let vars = [("ORBNET_HOSTS", "2"), ("PMI_RANK", "0")];
        for a in ["h0:0", "h0:99999", "h0:x", ":7000", "[::1"] {
            let m = message(args(Some(a)).identity(&env(&vars)));
            assert!(m.starts_with("--coordinator"), "{a}: {m}");
        }
    }

    #[test]
    fn addresses_take_names_ips_and_bracketed_ipv6() {
        let cases = [
            ("10.0.0.1:7000", ("10.0.0.1", 7000)),
            ("job-0.svc", ("job-0.svc", DEFAULT_PORT)),
            ("[::1]:7001", ("::1", 7001)),
            ("[fd00::1]", ("fd00::1", DEFAULT_PORT)),
            ("fd00::1", ("fd00::1", DEFAULT_PORT)),
        ];
        for (a, (h, p)) in cases {
            let got = coordinator_address(a).expect("valid");
            assert_eq!((got.0.as_str(), got.1), (h, p), "{a}");
        }
    }
}
