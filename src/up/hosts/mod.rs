//! A run split across hosts: `orbnet up SCENARIO --hosts N --host-index K
//! --coordinator ADDR:PORT`, the same command on every host.
//!
//! ```text
//!   host 0: coordinator ◄──TCP──► agent ─► its satellites ─┐
//!               ▲  ▲                                        │ UDP frames
//!               │  └────TCP────► agent (host 1) ─► sats ◄───┤ between the
//!               └───────TCP────► agent (host 2) ─► sats ◄───┘ hosts' addresses
//! ```
//!
//! Every host computes the same placement from the scenario
//! ([`orbnet_netem::placement`]) and runs its share of the satellites as
//! processes, their wire bound to the host's address. Each host's agent
//! ([`agent`]) reaches host 0's coordinator ([`coordinator`]) over the
//! typed protocol of [`protocol`]: host 0 checks that every host runs the
//! same build, scenario and placement ([`join`]), measures each host's
//! clock against its own ([`clock`]), relays the satellites' handshake so
//! that every satellite knows every wire address and one start instant,
//! supervises the run as on one host, and writes the one results
//! directory, whose `summary.json` gains the hosts' figures.
//!
//! Frames carry their virtual delivery instant, so a host-to-host latency
//! below a link's delay × TDF changes nothing; a clock offset known only
//! to within more than the shortest cut link's delay × TDF could, and the
//! summary says so.

mod agent;
mod clock;
mod coordinator;
mod identity;
mod join;
mod protocol;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use orbnet_netem::placement::{HostId, Placement};
use orbnet_netem::{SatId, Scenario};
use orbnet_node::protocol::Event;
use tokio::net::TcpListener;

use super::fleet::Launch;
use super::supervisor::Supervisor;
use super::{Observer, Overrides, Prepared};
use crate::Failure;
use crate::load::Source;
use crate::results::{ClockCheck, Collected, HostFigures, Split, Summary};
pub(crate) use identity::{HostArgs, Identity};

/// How long a host may stay silent once the run has started before the
/// others give up on it: six heartbeats missed, so that a lost host stops
/// the run within two seconds.
const SILENCE_RUNNING: Duration = Duration::from_millis(1500);
/// The same before the start, while hosts start thousands of processes.
const SILENCE_SETUP: Duration = Duration::from_secs(60);

/// The niceness a split run's satellites take, so that their launcher,
/// which must answer the other hosts within [`SILENCE_RUNNING`], is
/// scheduled promptly beside thousands of busy satellite processes (on
/// Linux a waking task of equal weight may wait behind many others' time
/// slices). Measured during starlink-phase1 at TDF 10 on one 2-core host
/// (4,408 satellites), a process sleeping 250 ms at a time woke up to
/// 510 ms late at the satellites' weight, at most 14 ms late with nine
/// times their weight (niceness 10 apart); a split run's launchers, at
/// the satellites' weight, went silent for more than 1.5 s. The
/// satellites keep their shares among themselves; on a host that runs
/// other work too, they yield to it.
pub(super) const SATELLITE_NICE: i32 = 10;

/// How long a host may stay silent.
fn silence_limit(started: bool) -> Duration {
    if started {
        SILENCE_RUNNING
    } else {
        SILENCE_SETUP
    }
}

fn sigterm() -> Result<tokio::signal::unix::Signal, Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::terminate()).map_err(|e| Failure::Run(format!("cannot watch SIGTERM: {e}")))
}

/// Host `k` and its satellites, as messages name them: `host 1 (sat-4–sat-7)`.
fn host_name(scenario: &Scenario, placement: &Placement, k: HostId) -> String {
    let Some(share) = placement.share(k) else {
        return k.to_string();
    };
    let world = &scenario.world;
    let runs = share.runs();
    let shown: Vec<String> = runs
        .iter()
        .take(4)
        .map(|&(a, b)| {
            if a == b {
                world.name(a).to_owned()
            } else {
                format!("{}–{}", world.name(a), world.name(b))
            }
        })
        .collect();
    let more = if runs.len() > shown.len() {
        format!(", … {} satellites in all", share.satellites.len())
    } else {
        String::new()
    };
    format!("{k} ({}{more})", shown.join(", "))
}

/// A fingerprint of what the run computes (FNV-1a, 64 bits): the scenario
/// file, the files it refers to, and the overrides as applied. Hosts that
/// agree on it run the same world.
fn scenario_digest(source: &Source, scenario: &Scenario) -> Result<u64, Failure> {
    let mut h = Fnv::default();
    match source {
        Source::BuiltIn => h.bytes(crate::load::DEFAULT_SCENARIO.as_bytes()),
        Source::File(path) => {
            let read = |p: &std::path::Path| {
                std::fs::read(p).map_err(|e| Failure::BadInput(format!("{}: {e}", p.display())))
            };
            h.bytes(&read(path)?);
            let dir = path.parent().map(PathBuf::from).unwrap_or_default();
            for f in &scenario.files {
                h.bytes(f.as_bytes());
                h.bytes(&read(&dir.join(f))?);
            }
        }
    }
    h.bytes(&scenario.tdf.factor().to_bits().to_le_bytes());
    h.bytes(&scenario.duration.as_nanos().to_le_bytes());
    h.bytes(&scenario.seed.to_le_bytes());
    Ok(h.0)
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Adds `b`, length first (so that `ab`,`c` and `a`,`bc` differ).
    fn bytes(&mut self, b: &[u8]) {
        for byte in (b.len() as u64).to_le_bytes().iter().chain(b) {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Where host 0 listens for the others: `--bind` if given; the
/// coordinator's own address if it is a loopback one (a run on one
/// machine stays on loopback); every interface otherwise.
fn listen_address(id: &Identity) -> SocketAddr {
    let ip = id
        .bind
        .unwrap_or_else(|| match id.coordinator_host.parse::<IpAddr>() {
            Ok(ip) if ip.is_loopback() => ip,
            Ok(IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        });
    SocketAddr::new(ip, id.coordinator_port)
}

/// What every host of a split run works out alike.
struct Plan<'p> {
    prepared: &'p Prepared,
    placement: Placement,
    hello: protocol::Hello,
}

/// Runs this host's part of a split run. Host 0 returns the summary and
/// the results directory; the others, nothing.
pub(crate) async fn up_split(
    source: Source,
    overrides: Overrides,
    out: Option<PathBuf>,
    capture: &[String],
    observer: Option<&dyn Observer>,
    id: Identity,
) -> Result<Option<(Summary, PathBuf)>, Failure> {
    let wall_start = Instant::now();
    let coordinating = id.index == HostId(0);
    let p = super::prepare(&source, &overrides, out, capture, coordinating)?;
    let placement = Placement::new(&p.scenario.world, &p.scenario.constellation, id.hosts)
        .map_err(|e| Failure::BadInput(format!("--hosts: {e}")))?;
    let hello = protocol::Hello {
        protocol: protocol::VERSION,
        orbnet: env!("CARGO_PKG_VERSION").to_owned(),
        index: id.index.0,
        hosts: id.hosts,
        scenario: scenario_digest(&source, &p.scenario)?,
        placement: placement.digest(),
    };
    let plan = Plan {
        prepared: &p,
        placement,
        hello,
    };
    let agent = agent::run(agent_config(&plan, &source, &overrides, &id, wall_start)?);
    if !coordinating {
        agent.await?;
        return Ok(None);
    }
    if let Some(o) = observer {
        o.begin(&p.scenario);
    }
    let addr = listen_address(&id);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::Run(format!("cannot listen for the hosts on {addr}: {e}")))?;
    let coordinator = coordinate(&plan, listener, observer, wall_start);
    let summary = alongside(coordinator, agent).await?;
    Ok(Some((summary, p.dir.clone())))
}

/// Runs host 0's coordinator and its own agent together; once the
/// coordinator is done the agent gets a few seconds to finish (it is
/// dropped after, which kills its satellites).
async fn alongside<C, A>(coordinator: C, agent: A) -> Result<Summary, Failure>
where
    C: std::future::Future<Output = Result<Summary, Failure>>,
    A: std::future::Future<Output = Result<(), Failure>>,
{
    tokio::pin!(coordinator, agent);
    let mut agent_done = false;
    let result = loop {
        tokio::select! {
            r = &mut coordinator => break r,
            r = &mut agent, if !agent_done => {
                agent_done = true;
                if let Err(f) = r {
                    tracing::debug!("host 0's agent: {}", f.message());
                }
            }
        }
    };
    if !agent_done {
        let _ = tokio::time::timeout(Duration::from_secs(5), agent).await;
    }
    result
}

/// What this host's agent needs.
fn agent_config(
    plan: &Plan<'_>,
    source: &Source,
    overrides: &Overrides,
    id: &Identity,
    wall_start: Instant,
) -> Result<agent::AgentConfig, Failure> {
    let p = plan.prepared;
    let world = &p.scenario.world;
    let share = plan
        .placement
        .share(id.index)
        .ok_or_else(|| Failure::BadInput(format!("no {} in the placement", id.index)))?;
    let members: Vec<usize> = share.satellites.iter().map(|s| s.index()).collect();
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Run(format!("cannot find own executable: {e}")))?;
    let mut common = Vec::new();
    if let Source::File(path) = source {
        common.extend(["--scenario".to_owned(), path.display().to_string()]);
    }
    common.extend(overrides.args());
    let args: BTreeMap<usize, Vec<String>> = super::capture_args_by_sat(p)
        .into_iter()
        .filter(|(i, _)| members.contains(i))
        .collect();
    let names = (0..world.nodes())
        .map(|i| world.name(SatId(i)).to_owned())
        .collect();
    Ok(agent::AgentConfig {
        identity: id.clone(),
        hello: plan.hello.clone(),
        members,
        names,
        coordinator_name: host_name(&p.scenario, &plan.placement, HostId(0)),
        my_name: host_name(&p.scenario, &plan.placement, id.index),
        launch: Launch { exe, common, args },
        wall_start,
    })
}

/// Host 0's coordination, from the hosts joining to the results.
async fn coordinate(
    plan: &Plan<'_>,
    listener: TcpListener,
    observer: Option<&dyn Observer>,
    wall_start: Instant,
) -> Result<Summary, Failure> {
    let p = plan.prepared;
    let placement = &plan.placement;
    let names = |k: usize| host_name(&p.scenario, placement, HostId(k as u32));
    let joined = join::join(listener, &plan.hello, &names).await?;
    let token: u64 = rand::random();
    let tls = super::run_certificate(&p.scenario)?;
    let mut coord = coordinator::Coordinator::new(&p.scenario, placement, joined, token, tls)?;
    let mut sup = Supervisor::new(&p.scenario).observed_by(observer);
    let result = super::supervise(&mut coord, &mut sup).await;
    let failure = match &result {
        Err(f) => Some(f.message().to_owned()),
        Ok(()) => sup.failure().map(str::to_owned),
    };
    let (late, ends) = coord.finish(failure).await;
    // Reports already sent by the others still count.
    for (i, e) in late {
        if !matches!(e, Event::Done(_)) {
            sup.event(i, e);
        }
    }
    result?;
    if !sup.all_reported() && !sup.failed() {
        let missing = sup.missing().join(", ");
        return Err(Failure::Run(format!(
            "satellites ended without a report: {missing}"
        )));
    }
    let mut collected = sup.into_collected();
    collected.split = Some(split_figures(&p.scenario, placement, &collected, &ends));
    super::finish(p, collected, wall_start.elapsed(), "processes", observer)
}

/// Each host's figures for the summary, and whether the clocks were
/// known well enough for the links cut between hosts.
fn split_figures(
    scenario: &Scenario,
    placement: &Placement,
    c: &Collected,
    ends: &[coordinator::HostEnd],
) -> Split {
    let us = |ns: f64| ns / 1e3;
    let hosts: Vec<HostFigures> = placement
        .shares()
        .iter()
        .enumerate()
        .map(|(k, share)| {
            let end = ends.get(k);
            let offset = end.and_then(|e| e.offset);
            HostFigures {
                host: k as u32,
                satellites: share.satellites.len(),
                names: crate::plan::name_ranges(&scenario.world, share),
                late_max_us: share
                    .satellites
                    .iter()
                    .filter_map(|s| c.done.get(&s.index()))
                    .map(|d| d.late_max_us)
                    .fold(0.0, f64::max),
                clock_offset_us: offset.map(|o| us(o.offset_ns as f64)),
                clock_uncertainty_us: offset.map(|o| us(o.uncertainty_ns as f64)),
                wall_s: end.and_then(|e| e.wall_s),
            }
        })
        .collect();
    let uncertainty_us = hosts
        .iter()
        .filter_map(|h| h.clock_uncertainty_us)
        .fold(0.0, f64::max);
    let cut_wall_us = placement
        .shortest_cut_delay()
        .map(|d| us(scenario.tdf.to_wall_nanos(d) as f64));
    Split {
        hosts,
        clocks: ClockCheck::new(uncertainty_us, cut_wall_us),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(n: u32) -> Scenario {
        let text = format!(
            "name = \"r\"\nduration_s = 1\n[constellation]\nkind = \"walker\"\nplanes = 1\n\
             per_plane = {n}\naltitude_km = 800\ninclination_deg = 53\n[links]\nrate_gbps = 1\n"
        );
        Scenario::parse(&text, "r.toml", &mut |_| Err("no files".into())).expect("valid")
    }

    #[test]
    fn hosts_are_named_with_their_satellites() {
        let s = ring(12);
        let p = Placement::new(&s.world, &s.constellation, 3).expect("placement");
        let names: Vec<String> = (0..3).map(|k| host_name(&s, &p, HostId(k))).collect();
        assert_eq!(
            names,
            [
                "host 0 (sat-0–sat-3)",
                "host 1 (sat-4–sat-7)",
                "host 2 (sat-8–sat-11)"
            ]
        );
    }

    #[test]
    fn the_digest_follows_the_scenario_and_its_overrides() {
        let dir = std::env::temp_dir().join(format!("orbnet-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("s.toml");
        std::fs::write(&file, crate::load::DEFAULT_SCENARIO).expect("write");
        let source = Source::File(file.clone());
        let mut s = crate::load::load(&source).expect("loads");
        let digest = |s: &Scenario| scenario_digest(&source, s).expect("digest");
        let d0 = digest(&s);
        assert_eq!(d0, digest(&s));
        s.seed += 1;
        let d1 = digest(&s);
        assert_ne!(d0, d1);
        std::fs::write(&file, format!("{}\n", crate::load::DEFAULT_SCENARIO)).expect("write");
        assert_ne!(d1, digest(&s));
        std::fs::remove_file(&file).expect("remove");
        assert!(matches!(
            scenario_digest(&source, &s),
            Err(Failure::BadInput(_))
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn host_0_listens_on_loopback_only_when_told_so() {
        let id = |host: &str, bind: Option<IpAddr>| Identity {
            index: HostId(0),
            hosts: 2,
            coordinator_host: host.into(),
            coordinator_port: 7000,
            bind,
            advertise: None,
        };
        let at = |s: &str| s.parse::<SocketAddr>().expect("addr");
        assert_eq!(listen_address(&id("127.0.0.1", None)), at("127.0.0.1:7000"));
        assert_eq!(listen_address(&id("job-0.svc", None)), at("0.0.0.0:7000"));
        assert_eq!(listen_address(&id("fd00::1", None)), at("[::]:7000"));
        let bind = "10.9.0.1".parse().ok();
        assert_eq!(listen_address(&id("job-0.svc", bind)), at("10.9.0.1:7000"));
    }
}
