//! `orbnet up`: validates the scenario, runs its satellites in one of two
//! harnesses (a process each, or tasks of this process on simulated time),
//! supervises them, and writes the results.
//!
//! ```text
//! prepare ─► harness (processes | in-process) ◄─► supervisor ─► results
//!              handshake, exits, signals          events, faults, stop
//! ```

mod capacity;
mod fleet;
mod handshake;
mod hosts;
mod inprocess;
mod processes;
mod progress;
mod supervisor;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use orbnet_netem::{SatId, Scenario, SimTime};
use orbnet_node::protocol::Event;

use crate::Failure;
use crate::load::Source;
use crate::results::{Collected, Summary};
pub(crate) use hosts::{HostArgs, Identity, up_split};
pub(crate) use supervisor::Observer;
use supervisor::{Action, Supervisor};

/// Command-line overrides of scenario fields (for `up` and `node` alike).
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct Overrides {
    /// Override the scenario's time dilation factor.
    #[arg(long)]
    pub tdf: Option<f64>,
    /// Override the scenario's duration, virtual seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl Overrides {
    /// Applies the overrides; a bad value is bad input.
    pub(crate) fn apply(&self, scenario: &mut Scenario) -> Result<(), Failure> {
        if let Some(t) = self.tdf {
            scenario
                .set_tdf(t)
                .map_err(|e| Failure::BadInput(format!("--tdf: {e}")))?;
        }
        if let Some(d) = self.duration {
            scenario
                .set_duration(d)
                .map_err(|e| Failure::BadInput(format!("--duration: {e}")))?;
        }
        if let Some(s) = self.seed {
            scenario.set_seed(s);
        }
        Ok(())
    }

    /// The same overrides as arguments for `orbnet node`.
    fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(t) = self.tdf {
            a.extend(["--tdf".to_owned(), t.to_string()]);
        }
        if let Some(d) = self.duration {
            a.extend(["--duration".to_owned(), d.to_string()]);
        }
        if let Some(s) = self.seed {
            a.extend(["--seed".to_owned(), s.to_string()]);
        }
        a
    }
}

/// What happened in a run, as a harness tells the supervisor.
#[derive(Debug)]
pub(crate) enum Happening {
    /// A satellite's event.
    Event(usize, Event),
    /// The next crash or restart on the schedule is due.
    FaultDue,
    /// The run failed: a satellite died, a signal came.
    Failed(String),
    /// Nothing for the supervisor (look again).
    Tick,
    /// No satellite can report anything more.
    Closed,
}

/// A harness as the supervisor drives it.
pub(crate) trait Harness {
    /// The next thing that happened; `fault` is when the next crash or
    /// restart is due.
    async fn next(
        &mut self,
        fault: Option<SimTime>,
        sup: &Supervisor<'_>,
    ) -> Result<Happening, Failure>;

    /// Carries out `a`; returns why the run failed, if it did.
    async fn act(&mut self, a: Action) -> Option<String>;

    /// The virtual time the run has reached, once it has started.
    fn now(&self) -> Option<SimTime>;
}

/// Supervises a run to its end: every satellite reported, or a failure.
async fn supervise<H: Harness>(h: &mut H, sup: &mut Supervisor<'_>) -> Result<(), Failure> {
    while !sup.all_reported() && !sup.failed() {
        let happened = h.next(sup.next_fault(), sup).await?;
        if let Some(t) = h.now() {
            sup.time(t);
        }
        let action = match happened {
            Happening::Event(i, e) => sup.event(i, e),
            Happening::FaultDue => sup.fault_due(),
            Happening::Failed(why) => {
                sup.fail(why);
                None
            }
            Happening::Tick => None,
            Happening::Closed => break,
        };
        if let Some(a) = action
            && let Some(why) = h.act(a).await
        {
            sup.fail(why);
        }
    }
    Ok(())
}

/// A scenario ready to run: loaded with its overrides, the captures asked
/// for, and the results directory.
struct Prepared {
    scenario: Scenario,
    captures: Vec<Capture>,
    dir: PathBuf,
}

/// A capture asked for on the command line.
struct Capture {
    sat: SatId,
    /// The file's name in `<out>/capture/`.
    file: String,
    /// The one peer whose link to record, if not all.
    peer: Option<SatId>,
}

/// Loads the scenario and makes the results directory; `results`: this
/// host writes the results (the capture directory is made either way).
fn prepare(
    source: &Source,
    overrides: &Overrides,
    out: Option<PathBuf>,
    capture: &[String],
    results: bool,
) -> Result<Prepared, Failure> {
    let mut scenario = crate::load::load(source).map_err(|e| Failure::BadInput(e.to_string()))?;
    overrides.apply(&mut scenario)?;
    let captures = capture_args(&scenario, capture)?;
    let dir = out.unwrap_or_else(|| {
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
        PathBuf::from("results").join(format!("{}-{stamp}", scenario.name))
    });
    if !captures.is_empty() {
        let c = dir.join("capture");
        std::fs::create_dir_all(&c).map_err(|e| Failure::Run(format!("{}: {e}", c.display())))?;
    }
    if results {
        crate::results::copy_scenario(source, &scenario, &dir)?;
    }
    Ok(Prepared {
        scenario,
        captures,
        dir,
    })
}

/// The captures asked for on the command line: `sat-3` captures every
/// port of sat-3, `sat-1:sat-2` the link between them (written by sat-1).
fn capture_args(scenario: &Scenario, specs: &[String]) -> Result<Vec<Capture>, Failure> {
    let world = &scenario.world;
    let find = |name: &str, spec: &str| {
        world.find(name).ok_or_else(|| {
            Failure::BadInput(format!("--capture {spec}: no satellite named {name:?}"))
        })
    };
    let mut out = Vec::new();
    for spec in specs {
        match spec.split_once(':') {
            None => out.push(Capture {
                sat: find(spec, spec)?,
                file: format!("{spec}.pcap"),
                peer: None,
            }),
            Some((a, b)) => {
                let (sa, sb) = (find(a, spec)?, find(b, spec)?);
                if !world.links_of(sa).any(|(_, p)| p == sb) {
                    return Err(Failure::BadInput(format!(
                        "--capture {spec}: {a} and {b} have no link between them"
                    )));
                }
                out.push(Capture {
                    sat: sa,
                    file: format!("{a}_{b}.pcap"),
                    peer: Some(sb),
                });
            }
        }
    }
    Ok(out)
}

/// The results of a run: written (and shown to the observer), then
/// returned. A run that failed is an error naming where the results are.
fn finish(
    p: &Prepared,
    c: Collected,
    wall: std::time::Duration,
    harness: &str,
    observer: Option<&dyn Observer>,
) -> Result<Summary, Failure> {
    let summary = crate::results::write(&p.scenario, &c, &p.dir, wall, harness)?;
    if let Some(o) = observer {
        o.end(&summary.json());
    }
    match c.failure {
        Some(failure) => Err(Failure::Run(format!(
            "{failure}; results so far in {}",
            p.dir.display()
        ))),
        None => Ok(summary),
    }
}

/// Runs a scenario with every satellite a task of this process, on
/// simulated time (`orbnet up --in-process`), followed by `observer`.
pub(crate) fn up_in_process(
    source: Source,
    overrides: Overrides,
    out: Option<PathBuf>,
    capture: &[String],
    observer: Option<&dyn Observer>,
) -> Result<(Summary, PathBuf), Failure> {
    let p = prepare(&source, &overrides, out, capture, true)?;
    if let Some(o) = observer {
        o.begin(&p.scenario);
    }
    let captures = p
        .captures
        .iter()
        .map(|c| (c.sat, p.dir.join("capture").join(&c.file), c.peer))
        .collect();
    let rt = orbnet_node::inprocess::runtime()
        .map_err(|e| Failure::Run(format!("cannot make a runtime: {e}")))?;
    let wall_start = Instant::now();
    let collected = rt.block_on(async {
        let mut run = orbnet_node::inprocess::Run::start(p.scenario.clone(), captures)
            .map_err(Failure::BadInput)?;
        let mut sup = Supervisor::new(&p.scenario).observed_by(observer);
        supervise(&mut run, &mut sup).await?;
        Ok::<_, Failure>(sup.into_collected())
    })?;
    drop(rt);
    let s = finish(&p, collected, wall_start.elapsed(), "in-process", observer)?;
    Ok((s, p.dir))
}

/// Each satellite's `orbnet node` arguments for the captures asked for.
fn capture_args_by_sat(p: &Prepared) -> BTreeMap<usize, Vec<String>> {
    let mut args: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for c in &p.captures {
        let path = p.dir.join("capture").join(&c.file);
        let arg = match c.peer {
            Some(peer) => format!("{}@{}", path.display(), p.scenario.world.name(peer)),
            None => path.display().to_string(),
        };
        args.entry(c.sat.index())
            .or_default()
            .extend(["--capture".to_owned(), arg]);
    }
    args
}

/// A certificate and key (hex DER) for this run only, when a workload
/// speaks QUIC.
fn run_certificate(scenario: &Scenario) -> Result<Option<(String, String)>, Failure> {
    if !scenario.uses_quic() {
        return Ok(None);
    }
    let t = orbnet_node::quic::generate_tls(rand::random())
        .map_err(|e| Failure::Run(format!("TLS certificate: {e}")))?;
    Ok(Some((
        orbnet_node::quic::to_hex(&t.cert),
        orbnet_node::quic::to_hex(&t.key),
    )))
}

/// Runs a scenario with one process per satellite, followed by `observer`.
pub(crate) async fn up(
    source: Source,
    overrides: Overrides,
    out: Option<PathBuf>,
    capture: &[String],
    observer: Option<&dyn Observer>,
) -> Result<(Summary, PathBuf), Failure> {
    let p = prepare(&source, &overrides, out, capture, true)?;
    if let Some(o) = observer {
        o.begin(&p.scenario);
    }
    let scenario = &p.scenario;
    let n = scenario.world.nodes() as usize;
    capacity::check(n as u64)?;
    let token: u64 = rand::random();
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Run(format!("cannot find own executable: {e}")))?;
    let wall_start = Instant::now();
    let args = capture_args_by_sat(&p);
    let mut common = vec!["--token".to_owned(), format!("{token:016x}")];
    if let Source::File(path) = &source {
        common.extend(["--scenario".to_owned(), path.display().to_string()]);
    }
    common.extend(overrides.args());
    let tls = run_certificate(scenario)?;
    let launch = fleet::Launch { exe, common, args };
    let mut procs = processes::Processes::start(scenario, launch, tls, wall_start).await?;
    let mut sup = Supervisor::new(scenario).observed_by(observer);
    let result = supervise(&mut procs, &mut sup).await;
    // Reports already sent by the others still count.
    for (i, e) in procs.stop().await {
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
    let s = finish(
        &p,
        sup.into_collected(),
        wall_start.elapsed(),
        "processes",
        observer,
    )?;
    Ok((s, p.dir))
}
