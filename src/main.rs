//! orbnet: an inter-satellite optical network emulator.
//!
//! `orbnet plan` shows the emulated world at chosen instants; `orbnet up`
//! runs a scenario with one process per satellite; `orbnet view` shows a
//! run (or a scenario's world) in the browser; `orbnet deploy` writes the
//! files that launch a run split across hosts (Kubernetes, Slurm).

mod deploy;
mod export;
mod geometric;
mod load;
mod plan;
mod results;
mod up;
mod view;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use orbnet_netem::placement::Placement;

use crate::load::Source;

/// Every frame on the data path is a heap buffer of up to an MTU, allocated
/// and freed at line rate in each satellite process. glibc's allocator
/// shrinks and regrows its heap around them unpredictably (a 2 GB transfer
/// took 77 000 page faults in one run and 388 000 in the next, at half the
/// goodput); mimalloc keeps freed pages for reuse.
///
/// mimalloc is built with `no_thp`, and [`no_huge_pages`] opts the process
/// out of transparent huge pages: mimalloc otherwise asks for huge pages on
/// the arenas it commits eagerly, and every satellite process then held
/// three 2 MiB pages for a few hundred kilobytes of data (ring-8: 6.5 MB
/// private per process, 0.9 MB without; 1584 starlink-shell1 processes
/// peaked at 23.5 GB in use, 4.3 GB without).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "orbnet",
    version,
    about = "Inter-satellite optical network emulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the world (links, delays, routes) at chosen instants without starting satellites.
    Plan {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// First instant, seconds after the scenario epoch.
        #[arg(long, default_value_t = 0.0)]
        at: f64,
        /// Last instant, seconds after the epoch (with --step).
        #[arg(long)]
        until: Option<f64>,
        /// Seconds between instants.
        #[arg(long, default_value_t = 60.0)]
        step: f64,
        #[arg(long, value_enum, default_value_t = plan::Format::Table)]
        format: plan::Format,
        /// Also show how a run splits across this many hosts: each host's
        /// satellites, the links cut between hosts, the shortest cut delay.
        #[arg(long)]
        hosts: Option<u32>,
        /// Also show at each instant the route from node A to node B (ids
        /// or labels): its path, one-way delay and RTT.
        #[arg(long, num_args = 2, value_names = ["A", "B"])]
        route: Option<Vec<String>>,
        /// Instead, list the passes over ground station STATION from --at
        /// to --until (default: the scenario's duration).
        #[arg(long, value_name = "STATION")]
        passes: Option<String>,
    },
    /// Run a scenario: one process per satellite, then write the results.
    Up {
        /// Scenario file (TOML); the built-in demonstration when absent.
        scenario: Option<PathBuf>,
        /// Results directory (default results/<scenario>-<timestamp>/).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        overrides: up::Overrides,
        /// Write a pcap of every port of a satellite (`sat-3`) or of one
        /// link (`sat-1:sat-2`) into <out>/capture/; repeatable.
        #[arg(long)]
        capture: Vec<String>,
        /// Run every satellite as a task of this process on simulated
        /// time, joined by an in-memory wire: deterministic for a seed.
        #[arg(long)]
        in_process: bool,
        /// Serve the live web view while the run goes on, at ADDR
        /// (`--web` alone: 127.0.0.1:8080; `--web=0.0.0.0:8080` for every interface).
        #[arg(
            long,
            value_name = "ADDR",
            num_args = 0..=1,
            require_equals = true,
            default_missing_value = view::DEFAULT_ADDR
        )]
        web: Option<SocketAddr>,
        /// Print the summary as JSON (what summary.json holds) instead of the
        /// human summary.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        hosts: up::HostArgs,
        /// Also write every `model` and `trace` workload as Chakra files
        /// (one per rank), its comm-group JSON and a `trace` workload table,
        /// into DIR.
        #[arg(long, value_name = "DIR")]
        export_chakra: Option<PathBuf>,
    },
    /// Show a run in the browser: a results directory of `orbnet up` replayed
    /// (time slider, play, speed), or a scenario file's world over time.
    View {
        /// Results directory, or scenario file (TOML).
        path: PathBuf,
        /// Address to serve on.
        #[arg(long, value_name = "ADDR", default_value = view::DEFAULT_ADDR)]
        listen: SocketAddr,
    },
    /// Write the files that launch a run split across hosts on Kubernetes or Slurm.
    Deploy {
        #[command(subcommand)]
        engine: deploy::Engine,
    },
    /// Parse and check a scenario, print what it holds; exit 0 if valid, 2 if not.
    Validate {
        /// Scenario file (TOML).
        scenario: PathBuf,
    },
    /// One satellite (started by `orbnet up`).
    #[command(hide = true)]
    Node(NodeArgs),
}

/// `orbnet node`'s arguments.
#[derive(clap::Args, Debug)]
struct NodeArgs {
    #[arg(long)]
    sat: u32,
    /// Run token, hexadecimal.
    #[arg(long)]
    token: String,
    #[arg(long)]
    scenario: Option<PathBuf>,
    #[command(flatten)]
    overrides: up::Overrides,
    /// Capture file to write, `PATH` (every port) or `PATH@PEER` (one link).
    #[arg(long)]
    capture: Vec<String>,
    /// Address to bind the wire to (a split run's host address).
    #[arg(long, default_value_t = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))]
    bind: std::net::IpAddr,
    /// Wire port to bind (a restart takes its old one back).
    #[arg(long)]
    port: Option<u16>,
    /// A restart after a crash: rejoin as a router, without workloads.
    #[arg(long)]
    restarted: bool,
    /// Niceness to take before anything else (a split run's satellites
    /// yield to their launcher, see `up::hosts::SATELLITE_NICE`).
    #[arg(long, default_value_t = 0)]
    nice: i32,
}

/// How a command failed: bad input (exit 2) or a failed run (exit 1).
#[derive(Debug)]
enum Failure {
    BadInput(String),
    Run(String),
}

impl Failure {
    /// What went wrong.
    fn message(&self) -> &str {
        match self {
            Failure::BadInput(m) | Failure::Run(m) => m,
        }
    }

    fn report(&self) -> ExitCode {
        let (msg, code) = match self {
            Failure::BadInput(m) => (m, 2),
            Failure::Run(m) => (m, 1),
        };
        eprintln!("error: {msg}");
        ExitCode::from(code)
    }
}

fn main() -> ExitCode {
    no_huge_pages();
    // Warnings (a gateway's refused service, a host's lost link) show
    // unless `RUST_LOG` says otherwise; tracing's own default is errors only.
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing::level_filters::LevelFilter::WARN.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => f.report(),
    }
}

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e` in
/// mimalloc 2's `mimalloc.h`; libmimalloc-sys names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's default purge delay, in milliseconds (`mimalloc.h`).
const MI_PURGE_DELAY_DEFAULT: std::ffi::c_long = 10;

/// While a satellite process sets up, mimalloc returns freed pages at
/// once: reading the scenario and building the world free most of what
/// they take, and pages left to the usual 10 ms delay stay with a process
/// that then sleeps (starlink-phase1: 2.57 → 2.05 MB private per process).
/// [`return_freed_memory`] restores the delay for the run, whose frames
/// are freed and allocated at line rate.
fn purge_at_once() {
    // SAFETY: mi_option_set takes no pointer and may be called at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

/// Hands the memory mimalloc holds freed back to the system, and restores
/// its purge delay. A satellite process frees most of what reading its
/// scenario took, then may sleep for the whole run without allocating
/// (mimalloc purges on allocation): on starlink-phase1 that left 4.6 MB
/// private in some processes.
fn return_freed_memory() {
    // SAFETY: mi_collect and mi_option_set take no pointer and may be
    // called at any time.
    unsafe {
        libmimalloc_sys::mi_collect(true);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, MI_PURGE_DELAY_DEFAULT);
    }
}

/// The purge delay of the in-process harness, in milliseconds.
const IN_PROCESS_PURGE_DELAY: std::ffi::c_long = 1000;

/// In-process, one process holds every satellite and frees and allocates
/// collective messages of up to a ring part (8 MiB on suncatcher-8-sweep)
/// as fast as one core moves them. With the usual 10 ms delay mimalloc
/// returned those pages between one message and the next, and the kernel
/// faulted them back in page by page: suncatcher-8-sweep took 1.2 million
/// page faults and 3.5–3.9 s of system time in 11–13 s; held for a second,
/// 0.2 million and 0.8 s in 9.6 s, for 390 MB peak resident rather than
/// 300 MB.
fn hold_freed_memory() {
    // SAFETY: mi_option_set takes no pointer and may be called at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, IN_PROCESS_PURGE_DELAY) }
}

/// Opts this process (and the satellite processes it spawns, which inherit
/// the setting) out of transparent huge pages, on machines whose kernel
/// applies them to every large mapping (`always`) as on those that apply
/// them on request (`madvise`).
fn no_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and touches no
    // memory of ours; a kernel without it returns an error, which changes
    // nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Raises this process's niceness by `nice`, before it starts any thread
/// (on Linux niceness is per thread, and threads inherit it when made).
/// An unprivileged process may always raise it; if the call fails the
/// process runs at its old priority, which changes only how promptly its
/// launcher is scheduled beside it.
fn lower_priority(nice: i32) {
    // SAFETY: nice(2) takes one integer and touches no memory of ours.
    let r = unsafe { libc::nice(nice) };
    if r == -1 {
        tracing::debug!(
            "cannot change niceness: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Plan {
            scenario,
            at,
            until,
            step,
            format,
            hosts,
            route,
            passes,
        } => plan_command(PlanArgs {
            scenario,
            steps: plan::Steps { at, until, step },
            format,
            hosts,
            route,
            passes,
        }),
        Command::Up {
            scenario,
            out,
            overrides,
            capture,
            in_process,
            web,
            json,
            hosts,
            export_chakra,
        } => up_command(UpArgs {
            scenario,
            out,
            overrides,
            capture,
            in_process,
            web,
            json,
            hosts,
            export_chakra,
        }),
        Command::View { path, listen } => view::view_command(&path, listen),
        Command::Deploy { engine } => deploy::run(&engine).map_err(|e| {
            if e.is_bad_input() {
                Failure::BadInput(e.to_string())
            } else {
                Failure::Run(e.to_string())
            }
        }),
        Command::Validate { scenario } => {
            let source = Source::from_arg(Some(&scenario));
            let s = load::load(&source).map_err(|e| Failure::BadInput(e.to_string()))?;
            println!("{}", describe(&s));
            Ok(())
        }
        Command::Node(args) => node(args),
    }
}

/// `orbnet plan`: prints the world at the instants, and with `hosts` the
/// split across that many hosts.
/// `orbnet plan`'s arguments.
struct PlanArgs {
    scenario: PathBuf,
    steps: plan::Steps,
    format: plan::Format,
    hosts: Option<u32>,
    route: Option<Vec<String>>,
    passes: Option<String>,
}

fn plan_command(args: PlanArgs) -> Result<(), Failure> {
    let PlanArgs {
        scenario,
        steps,
        format,
        hosts,
        route,
        passes,
    } = args;
    let source = Source::from_arg(Some(&scenario));
    let scenario = load::load(&source).map_err(|e| Failure::BadInput(e.to_string()))?;
    if let Some(station) = passes {
        let until = steps
            .until
            .unwrap_or_else(|| scenario.duration.as_secs_f64());
        if format == plan::Format::Csv {
            return Err(Failure::BadInput(
                "--passes: use --format table or json".into(),
            ));
        }
        let text = plan::passes_report(
            &scenario,
            &station,
            steps.at,
            until,
            format == plan::Format::Json,
        )
        .map_err(Failure::BadInput)?;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return Ok(());
    }
    let route = match route.as_deref() {
        Some([a, b]) => Some(plan::Ends::find(&scenario, a, b).map_err(Failure::BadInput)?),
        _ => None,
    };
    let instants = steps.instants().map_err(Failure::BadInput)?;
    let placement = match hosts {
        Some(_) if format == plan::Format::Csv => {
            return Err(Failure::BadInput(
                "--hosts: CSV has one row per link; use --format table or json".into(),
            ));
        }
        Some(n) => Some(
            Placement::new(&scenario.world, &scenario.constellation, n)
                .map_err(|e| Failure::BadInput(format!("--hosts: {e}")))?,
        ),
        None => None,
    };
    let text = plan::render(&scenario, &instants, format, placement.as_ref(), route);
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = stdout.write_all(text.as_bytes());
    Ok(())
}

/// `orbnet up`'s arguments.
#[derive(Debug)]
struct UpArgs {
    scenario: Option<PathBuf>,
    out: Option<PathBuf>,
    overrides: up::Overrides,
    capture: Vec<String>,
    in_process: bool,
    web: Option<SocketAddr>,
    json: bool,
    hosts: up::HostArgs,
    export_chakra: Option<PathBuf>,
}

/// `orbnet up`: runs the scenario (with its live view, if asked), prints
/// its summary; exit 1 when a workload failed.
fn up_command(a: UpArgs) -> Result<(), Failure> {
    let source = Source::from_arg(a.scenario.as_deref());
    let env = |k: &str| std::env::var(k).ok();
    if let Some(id) = a.hosts.identity(&env)? {
        return up_split_command(a, source, id);
    }
    if let Some(dir) = &a.export_chakra {
        let s = load::load(&source).map_err(|e| Failure::BadInput(e.to_string()))?;
        for prefix in export::export_chakra(&s, dir)? {
            eprintln!("chakra files {prefix}.<rank>.et, {prefix}.json and {prefix}.toml");
        }
    }
    let live = a.web.map(view::LiveView::start).transpose()?;
    if let Some(l) = &live {
        eprintln!("live view at {}", l.url());
    }
    let observer = live.as_ref().map(|l| l as &dyn up::Observer);
    let ran = if a.in_process {
        hold_freed_memory();
        up::up_in_process(source, a.overrides, a.out, &a.capture, observer)
    } else {
        runtime()
            .and_then(|rt| rt.block_on(up::up(source, a.overrides, a.out, &a.capture, observer)))
    };
    // The view ends with the run, whichever way it ended.
    if let Some(l) = live {
        l.close();
    }
    let (summary, dir) = ran?;
    report_summary(&summary, &dir, a.json)
}

/// `orbnet up` on one host of a run split across hosts: host 0 prints the
/// summary, the others a line saying where it is.
fn up_split_command(a: UpArgs, source: Source, id: up::Identity) -> Result<(), Failure> {
    if a.in_process {
        return Err(Failure::BadInput(
            "--in-process runs every satellite in this process: it cannot be split \
             across hosts (drop --coordinator and ORBNET_COORDINATOR)"
                .into(),
        ));
    }
    let index = id.index;
    let web = a.web.filter(|_| index.0 == 0);
    if a.web.is_some() && web.is_none() {
        eprintln!("--web: the live view is served by host 0 only");
    }
    let live = web.map(view::LiveView::start).transpose()?;
    if let Some(l) = &live {
        eprintln!("live view at {}", l.url());
    }
    let observer = live.as_ref().map(|l| l as &dyn up::Observer);
    let ran = runtime().and_then(|rt| {
        rt.block_on(up::up_split(
            source,
            a.overrides,
            a.out,
            &a.capture,
            observer,
            id,
        ))
    });
    if let Some(l) = live {
        l.close();
    }
    match ran? {
        Some((summary, dir)) => report_summary(&summary, &dir, a.json),
        None => {
            let line = format!("{index}: its satellites ran to the end; host 0 holds the results");
            eprintln!("{line}");
            Ok(())
        }
    }
}

/// Prints a run's summary (as JSON with `json`); exit 1 when a workload failed.
fn report_summary(summary: &results::Summary, dir: &Path, json: bool) -> Result<(), Failure> {
    let text = if json {
        summary.json() + "\n"
    } else {
        results::terminal(summary)
    };
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    eprintln!("results in {}", dir.display());
    let problems = summary.problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Run(format!(
            "workloads failed: {}",
            problems.join("; ")
        )))
    }
}

/// `orbnet node`: one satellite process, started by `orbnet up`.
fn node(args: NodeArgs) -> Result<(), Failure> {
    purge_at_once();
    if args.nice != 0 {
        lower_priority(args.nice);
    }
    let source = Source::from_arg(args.scenario.as_deref());
    let mut scenario = load::load(&source).map_err(|e| Failure::BadInput(e.to_string()))?;
    args.overrides.apply(&mut scenario)?;
    let token = u64::from_str_radix(&args.token, 16)
        .map_err(|e| Failure::BadInput(format!("--token: {e}")))?;
    let sat = args.sat;
    if sat >= scenario.world.nodes() {
        return Err(Failure::BadInput(format!(
            "--sat {sat}: the scenario has {} nodes",
            scenario.world.nodes()
        )));
    }
    let me = orbnet_netem::SatId(sat);
    let name = scenario.world.name(me).to_owned();
    // Every satellite logs to the launcher's stderr: name the source.
    // The runtime is single-threaded, so every task runs inside it.
    let _span = tracing::info_span!("node", sat = %name).entered();
    let mut captures = Vec::new();
    for c in args.capture {
        let (path, peer) = match c.rsplit_once('@') {
            Some((path, peer)) => {
                let p = scenario.world.find(peer).ok_or_else(|| {
                    Failure::BadInput(format!("--capture: no satellite named {peer:?}"))
                })?;
                (path.to_owned(), Some(p))
            }
            None => (c, None),
        };
        captures.push((PathBuf::from(path), peer));
    }
    let cfg = orbnet_node::NodeConfig {
        scenario,
        me,
        token,
        captures,
        bind: args.bind,
        port: args.port,
        restarted: args.restarted,
        settle: Some(return_freed_memory),
    };
    match runtime()?.block_on(orbnet_node::run(cfg)) {
        Ok(()) => Ok(()),
        // The launcher is gone: nothing to report to.
        Err(orbnet_node::NodeError::Orphaned) => std::process::exit(0),
        Err(e) => Err(Failure::Run(format!("{name}: {e}"))),
    }
}

/// What `orbnet validate` prints about a valid scenario.
fn describe(s: &orbnet_netem::Scenario) -> String {
    use orbnet_netem::Workload;
    let snap = s.world.snapshot(orbnet_netem::SimTime::ZERO);
    let m = s.world.link_model();
    let mut out = format!(
        "{}: valid\n  {} satellites ({}), epoch {}, seed {}, TDF {}, {} s\n  \
         {} candidate links, {} up at the start; {} Gb/s terminals, MTU {}\n",
        s.name,
        s.world.satellites(),
        s.constellation.kind(),
        s.epoch.to_rfc3339(),
        s.seed,
        s.tdf,
        s.duration.as_secs_f64(),
        snap.links.len(),
        snap.count(orbnet_netem::LinkState::Up),
        m.terminal_rate.gbps(),
        m.mtu.0
    );
    if s.shells.len() > 1 {
        for sh in &s.shells {
            out.push_str(&format!(
                "  constellation {} ({}): sat-{} … sat-{}\n",
                sh.name,
                sh.constellation.kind(),
                sh.satellites.start,
                sh.satellites.end.saturating_sub(1)
            ));
        }
    }
    if let Some(g) = s.world.ground() {
        let labels: Vec<&str> = g.stations().iter().map(|s| s.label.as_str()).collect();
        out.push_str(&format!(
            "  {} ground stations (gs-0 … gs-{}): {}\n",
            labels.len(),
            labels.len().saturating_sub(1),
            labels.join(", ")
        ));
    }
    if let Some(a) = &s.accelerator {
        out.push_str(&format!(
            "  accelerator {}: {} TFLOP/s at {} %\n",
            a.name,
            a.peak_flops / 1e12,
            a.utilization * 100.0
        ));
    }
    for (i, w) in s.workloads.iter().enumerate() {
        let n = |id| s.world.name(id);
        let line = match w {
            Workload::Ping(p) => format!("ping {} → {}, {} echoes", n(p.from), n(p.to), p.count),
            Workload::Bulk(b) => format!(
                "bulk {} → {}, {} bytes over {}",
                n(b.from),
                n(b.to),
                b.bytes,
                b.transport.as_str()
            ),
            Workload::Collective(c) => format!(
                "collective {} ({}), {} ranks, {} sizes from {} to {} bytes over {}",
                c.op.as_str(),
                c.algorithm.as_str(),
                c.ranks.len(),
                c.sizes.len(),
                c.sizes.first().copied().unwrap_or(0),
                c.sizes.last().copied().unwrap_or(0),
                c.transport.as_str()
            ),
            Workload::Train(t) => format!(
                "train {} parameters, {} ranks, {} steps over {}",
                t.params,
                t.ranks.len(),
                t.steps,
                t.transport.as_str()
            ),
            Workload::Graph(g) => results::describe_graph(g),
            Workload::Offload(o) => {
                let to: Vec<&str> = o.to.iter().map(|&x| n(x)).collect();
                format!(
                    "offload {} → {} → {}, {} bytes up, {:e} FLOPs, {} bytes down over {}",
                    n(o.from),
                    to.join(", "),
                    n(o.down),
                    o.bytes,
                    o.flops,
                    o.result_bytes,
                    o.transport.as_str()
                )
            }
        };
        out.push_str(&format!("  workload[{i}]: {line}\n"));
    }
    out.trim_end().to_owned()
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Run(format!("cannot start the runtime: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up_args(args: &[&str]) -> (Option<PathBuf>, Option<SocketAddr>) {
        let cli = Cli::try_parse_from(args).expect("parses");
        match cli.command {
            Command::Up { scenario, web, .. } => (scenario, web),
            c => panic!("not up: {c:?}"),
        }
    }

    #[test]
    fn web_takes_an_address_only_after_an_equals_sign() {
        let default: SocketAddr = view::DEFAULT_ADDR.parse().expect("address");
        assert_eq!(
            up_args(&["orbnet", "up", "--web", "s.toml"]),
            (Some("s.toml".into()), Some(default))
        );
        assert_eq!(
            up_args(&["orbnet", "up", "s.toml", "--web=0.0.0.0:9000"]),
            (Some("s.toml".into()), "0.0.0.0:9000".parse().ok())
        );
        assert_eq!(up_args(&["orbnet", "up", "--web"]), (None, Some(default)));
        assert_eq!(up_args(&["orbnet", "up"]), (None, None));
        assert!(Cli::try_parse_from(["orbnet", "up", "--web=nowhere"]).is_err());
    }
}
