//! `orbnet up`: the launcher. Validates the scenario, spawns one process per
//! satellite, hands them each other's wire ports and a shared start
//! instant, shows progress, gathers their reports and writes the results.
//! On any failure, Ctrl-C or SIGTERM it stops every process it started.
//! Satellites also exit by themselves when the launcher's pipe to them
//! closes, so none outlives it even if it is killed with SIGKILL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use orbnet_netem::{Bytes, SatId, Scenario, SimTime, Workload};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::Failure;
use crate::geometric::Oracle;
use crate::load::Source;
use crate::report::{Series, Spread, line_plot};

/// Command-line overrides of scenario fields (for `up` and `node` alike).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Overrides {
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
    pub fn apply(&self, scenario: &mut Scenario) -> Result<(), Failure> {
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
            scenario.seed = s;
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

/// What a satellite process said.
#[derive(Debug)]
enum Msg {
    Line(usize, Value),
}

struct Sat {
    child: Child,
    pid: Option<u32>,
    stdin: Option<ChildStdin>,
}

/// How to start a satellite process (again, after a crash).
struct Launch {
    exe: PathBuf,
    /// Arguments every satellite gets: token, scenario, overrides.
    common: Vec<String>,
    /// Each satellite's own arguments (captures).
    args: Vec<Vec<String>>,
    /// Where every process's report lines go.
    tx: mpsc::UnboundedSender<Msg>,
}

impl Launch {
    /// Starts satellite `i`; a restart binds its old wire `port` again.
    fn spawn(&self, i: usize, port: Option<u16>) -> std::io::Result<Sat> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("node")
            .args(["--sat", &i.to_string()])
            .args(&self.common);
        match port {
            Some(p) => {
                cmd.args(["--port", &p.to_string(), "--restarted"]);
            }
            None => {
                cmd.args(self.args.get(i).into_iter().flatten());
            }
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take();
        let stdin = child.stdin.take();
        if let Some(stdout) = stdout {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    if let Ok(v) = serde_json::from_str::<Value>(&l) {
                        let _ = tx.send(Msg::Line(i, v));
                    }
                }
            });
        }
        Ok(Sat {
            pid: child.id(),
            child,
            stdin,
        })
    }
}

/// Stops every process: closes their pipes, then kills what is left.
async fn stop_all(sats: &mut [Sat]) {
    for s in sats.iter_mut() {
        s.stdin = None;
        let _ = s.child.start_kill();
    }
    for s in sats.iter_mut() {
        let _ = tokio::time::timeout(Duration::from_secs(2), s.child.wait()).await;
    }
}

/// Sends a line to one satellite; a closed pipe shows up in the exit check.
async fn send_one(sat: &mut Sat, line: &str) {
    if let Some(stdin) = sat.stdin.as_mut() {
        let _ = stdin.write_all(line.as_bytes()).await;
        let _ = stdin.flush().await;
    }
}

async fn send_all(sats: &mut [Sat], line: &str) -> Result<(), usize> {
    for (i, s) in sats.iter_mut().enumerate() {
        let Some(stdin) = s.stdin.as_mut() else {
            return Err(i);
        };
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            return Err(i);
        }
    }
    Ok(())
}

/// A scenario ready to run: loaded with its overrides, the captures asked
/// for, and the results directory.
type Prepared = (Scenario, Vec<(usize, String, Option<String>)>, PathBuf);

fn prepare(
    source: &Source,
    overrides: &Overrides,
    out: Option<PathBuf>,
    capture: &[String],
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
    Ok((scenario, captures, dir))
}

/// Runs a scenario with every satellite a task of this process, on
/// simulated time (`orbnet up --in-process`); returns the results directory.
pub fn up_in_process(
    source: Source,
    overrides: Overrides,
    out: Option<PathBuf>,
    capture: &[String],
) -> Result<PathBuf, Failure> {
    let (scenario, captures, dir) = prepare(&source, &overrides, out, capture)?;
    let world = &scenario.world;
    let captures = captures
        .into_iter()
        .map(|(sat, file, peer)| {
            (
                SatId(sat as u32),
                dir.join("capture").join(file),
                peer.and_then(|p| world.find(&p)),
            )
        })
        .collect();
    let rt = orbnet_node::inprocess::runtime()
        .map_err(|e| Failure::Run(format!("cannot make a runtime: {e}")))?;
    let wall_start = Instant::now();
    let collected = rt.block_on(drive_in_process(&scenario, captures))?;
    drop(rt);
    finish(&scenario, collected, dir, wall_start.elapsed(), true)
}

/// Writes a run's results; a run that failed is an error naming where
/// they are.
fn finish(
    scenario: &Scenario,
    collected: Collected,
    dir: PathBuf,
    wall: Duration,
    in_process: bool,
) -> Result<PathBuf, Failure> {
    write_results(scenario, &collected, &dir, wall, in_process)?;
    match collected.failure {
        Some(failure) => Err(Failure::Run(format!(
            "{failure}; results so far in {}",
            dir.display()
        ))),
        None => Ok(dir),
    }
}

/// Gathers an in-process run's events, crashes and restarts satellites on
/// the fault schedule, and stops the run once every workload is over.
async fn drive_in_process(
    scenario: &Scenario,
    captures: Vec<(SatId, PathBuf, Option<SatId>)>,
) -> Result<Collected, Failure> {
    let n = scenario.world.satellites() as usize;
    let mut run = orbnet_node::inprocess::Run::start(scenario.clone(), captures)
        .map_err(Failure::BadInput)?;
    let clock = run.clock();
    let schedule = crash_schedule(scenario);
    let mut next = 0;
    let mut down = std::collections::BTreeSet::new();
    let mut collected = Collected::default();
    let mut stopping = false;
    let far = clock.wall(SimTime::ZERO + scenario.duration) + Duration::from_secs(3600);
    while collected.done.len() + down.len() < n {
        let wake = schedule.get(next).map_or(far, |&(t, _, _)| clock.wall(t));
        tokio::select! {
            biased;
            ev = run.events.recv() => {
                let Some((i, v)) = ev else { break };
                match v["event"].as_str().unwrap_or("") {
                    "done" => {
                        collected.done.insert(i, v);
                    }
                    "stats" => {}
                    "failed" => {
                        collected.failure = Some(format!(
                            "satellite {} failed: {}; stopped the others",
                            scenario.world.name(SatId(i as u32)),
                            v["error"].as_str().unwrap_or("?")
                        ));
                        return Ok(collected);
                    }
                    _ => {
                        let ends = ends_workload(&v);
                        collected.events.push(v);
                        if !stopping && ends && all_over(scenario, &collected.events) {
                            stopping = true;
                            run.stop();
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(wake), if next < schedule.len() => {
                let (t, sat, crash) = schedule[next];
                next += 1;
                let name = scenario.world.name(sat);
                // A satellite that already finished has nothing to crash.
                let acted = if crash && !collected.done.contains_key(&sat.index()) {
                    run.crash(sat);
                    down.insert(sat.index())
                } else if !crash && down.remove(&sat.index()) {
                    run.restart(sat);
                    true
                } else {
                    false
                };
                if acted {
                    collected.events.push(json!({"event": if crash { "crash" } else { "restart" },
                    "sat": name, "t_s": t.as_secs_f64()}));
                }
            }
        }
    }
    Ok(collected)
}

/// When satellites crash (true) and restart (false), in time order, within the run.
fn crash_schedule(scenario: &Scenario) -> Vec<(SimTime, SatId, bool)> {
    use orbnet_netem::fault::FaultKind;
    let end = SimTime::ZERO + scenario.duration;
    let mut out = Vec::new();
    for f in scenario.world.faults() {
        if let FaultKind::Crash { sat } = f.kind {
            out.push((f.at, sat, true));
            if let Some(u) = f.until {
                out.push((u, sat, false));
            }
        }
    }
    out.retain(|e| e.0 < end);
    out.sort_by_key(|e| (e.0, e.1, !e.2));
    out
}

/// Runs a scenario; returns the results directory.
pub async fn up(
    source: Source,
    overrides: Overrides,
    out: Option<PathBuf>,
    capture: &[String],
) -> Result<PathBuf, Failure> {
    let (scenario, captures, dir) = prepare(&source, &overrides, out, capture)?;
    let n = scenario.world.satellites() as usize;
    let names: Vec<String> = scenario.world.names().to_vec();
    let token: u64 = rand::random();
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Run(format!("cannot find own executable: {e}")))?;
    let wall_start = Instant::now();

    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut args: Vec<Vec<String>> = vec![Vec::new(); n];
    for (sat, file, peer) in &captures {
        let path = dir.join("capture").join(file);
        let arg = match peer {
            Some(p) => format!("{}@{p}", path.display()),
            None => path.display().to_string(),
        };
        args[*sat].extend(["--capture".to_owned(), arg]);
    }
    let mut common = vec!["--token".to_owned(), format!("{token:016x}")];
    if let Source::File(p) = &source {
        common.extend(["--scenario".to_owned(), p.display().to_string()]);
    }
    common.extend(overrides.args());
    let launch = Launch {
        exe,
        common,
        args,
        tx,
    };
    let mut sats = Vec::with_capacity(n);
    for (i, name) in names.iter().enumerate() {
        match launch.spawn(i, None) {
            Ok(s) => sats.push(s),
            Err(e) => {
                stop_all(&mut sats).await;
                return Err(Failure::Run(format!("cannot start {name}: {e}")));
            }
        }
    }

    let result = drive(&scenario, &launch, &mut sats, &mut rx, wall_start).await;
    stop_all(&mut sats).await;
    let mut collected = result?;
    // Reports already sent by the others still count.
    while let Ok(Msg::Line(_, v)) = rx.try_recv() {
        if v["event"] != "done" && v["event"] != "stats" {
            collected.events.push(v);
        }
    }

    finish(&scenario, collected, dir, wall_start.elapsed(), false)
}

/// The captures asked for on the command line: (satellite index, file
/// name, peer for a single link). `sat-3` captures every port of sat-3,
/// `sat-1:sat-2` the link between them (written by sat-1).
fn capture_args(
    scenario: &Scenario,
    specs: &[String],
) -> Result<Vec<(usize, String, Option<String>)>, Failure> {
    let world = &scenario.world;
    let find = |name: &str, spec: &str| {
        world.find(name).ok_or_else(|| {
            Failure::BadInput(format!("--capture {spec}: no satellite named {name:?}"))
        })
    };
    let mut out = Vec::new();
    for spec in specs {
        match spec.split_once(':') {
            None => {
                let s = find(spec, spec)?;
                out.push((s.index(), format!("{spec}.pcap"), None));
            }
            Some((a, b)) => {
                let (sa, sb) = (find(a, spec)?, find(b, spec)?);
                if !world.links_of(sa).any(|(_, p)| p == sb) {
                    return Err(Failure::BadInput(format!(
                        "--capture {spec}: {a} and {b} have no link between them"
                    )));
                }
                out.push((sa.index(), format!("{a}_{b}.pcap"), Some(b.to_owned())));
            }
        }
    }
    Ok(out)
}

/// Everything the satellites reported.
#[derive(Debug, Default)]
struct Collected {
    events: Vec<Value>,
    done: BTreeMap<usize, Value>,
    /// A satellite that died, and how: the run failed, but what the others
    /// reported until then is kept.
    failure: Option<String>,
}

fn failed_name(names: &[String], i: usize) -> &str {
    names.get(i).map_or("?", String::as_str)
}

async fn drive(
    scenario: &Scenario,
    launch: &Launch,
    sats: &mut [Sat],
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    wall_start: Instant,
) -> Result<Collected, Failure> {
    let n = sats.len();
    let names = scenario.world.names();
    let mut ports = vec![0u16; n];
    // Crashes and restarts on the fault schedule; the lines a restarted
    // satellite needs to rejoin.
    let schedule = crash_schedule(scenario);
    let mut next_crash = 0;
    let mut down = std::collections::BTreeSet::new();
    let mut rejoining = std::collections::BTreeSet::new();
    let (mut ports_line, mut start_line) = (String::new(), String::new());
    let mut clock = None;
    // A certificate for this run only, when a workload speaks QUIC.
    let tls = if scenario.uses_quic() {
        Some(
            orbnet_node::quic::generate_tls(rand::random())
                .map_err(|e| Failure::Run(format!("TLS certificate: {e}")))?,
        )
    } else {
        None
    };
    let mut bound = 0;
    let mut ready = 0;
    let mut started = false;
    let mut stopping = false;
    let mut exited: BTreeMap<usize, Instant> = BTreeMap::new();
    let mut collected = Collected::default();
    let bar = ProgressBar::new((scenario.duration.as_secs_f64() * 1000.0).ceil() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} ms virtual  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("starting {n} satellites"));
    let mut frames: BTreeMap<usize, u64> = BTreeMap::new();
    let mut links_up: BTreeMap<usize, u64> = BTreeMap::new();

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::Run(format!("cannot watch SIGTERM: {e}")))?;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    // How long the satellites may take to come up: generous for big runs.
    let setup_deadline = wall_start + Duration::from_secs(60 + n as u64 / 10);

    loop {
        let crash_at = match (clock, schedule.get(next_crash)) {
            (Some(c), Some(&(t, _, _))) => Some(orbnet_node::clock::VirtualClock::wall(&c, t)),
            _ => None,
        };
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = tokio::time::sleep_until(crash_at.unwrap_or_else(tokio::time::Instant::now)), if crash_at.is_some() => {
                let (t, sat, crash) = schedule[next_crash];
                next_crash += 1;
                let i = sat.index();
                // A satellite that already finished has nothing to crash.
                let acted = if crash {
                    !collected.done.contains_key(&i)
                } else {
                    down.contains(&i)
                };
                if acted && crash {
                    sats[i].stdin = None;
                    let _ = sats[i].child.start_kill();
                    down.insert(i);
                } else if acted {
                    // The old process must be gone before its port is bound again.
                    let _ = tokio::time::timeout(Duration::from_secs(2), sats[i].child.wait()).await;
                    match launch.spawn(i, Some(ports[i])) {
                        Ok(s) => {
                            sats[i] = s;
                            down.remove(&i);
                            rejoining.insert(i);
                        }
                        Err(e) => {
                            bar.finish_and_clear();
                            collected.failure = Some(format!("cannot restart {}: {e}", failed_name(names, i)));
                            return Ok(collected);
                        }
                    }
                }
                if acted {
                    collected.events.push(json!({"event": if crash { "crash" } else { "restart" },
                        "sat": failed_name(names, i), "t_s": t.as_secs_f64()}));
                }
                continue;
            }
            _ = tokio::signal::ctrl_c() => {
                bar.finish_and_clear();
                return stopped(started, collected, "interrupted: stopped every satellite");
            }
            _ = sigterm.recv() => {
                bar.finish_and_clear();
                return stopped(started, collected, "terminated: stopped every satellite");
            }
            _ = tick.tick() => {
                // A satellite that exits before reporting `done` has failed.
                for (i, s) in sats.iter_mut().enumerate() {
                    if down.contains(&i) {
                        continue;
                    }
                    if let Ok(Some(status)) = s.child.try_wait() {
                        // A clean exit's last lines may still be on their way.
                        let since = *exited.entry(i).or_insert_with(Instant::now);
                        if status.success() && since.elapsed() < Duration::from_secs(2) {
                            continue;
                        }
                        if !collected.done.contains_key(&i) {
                            bar.finish_and_clear();
                            if !started {
                                return Err(Failure::Run(format!(
                                    "satellite {} died ({status}) before the start",
                                    failed_name(names, i)
                                )));
                            }
                            collected.failure = Some(format!(
                                "satellite {} (process {}) died ({status}); stopped the others",
                                failed_name(names, i),
                                s.pid.map_or("?".into(), |p| p.to_string())
                            ));
                            return Ok(collected);
                        }
                    }
                }
                if !started && Instant::now() > setup_deadline {
                    bar.finish_and_clear();
                    return Err(Failure::Run(format!("only {bound} bound and {ready} ready of {n} satellites in time")));
                }
                if collected.done.len() + down.len() >= n {
                    break;
                }
                continue;
            }
        };
        let Some(msg) = msg else { break };
        match msg {
            Msg::Line(i, v) => match v["event"].as_str().unwrap_or("") {
                // A restarted satellite rejoins: the same ports, the same start.
                "bound" if rejoining.contains(&i) => {
                    send_one(&mut sats[i], &ports_line).await;
                }
                "ready" if rejoining.remove(&i) => {
                    send_one(&mut sats[i], &start_line).await;
                    if stopping {
                        send_one(&mut sats[i], &format!("{}\n", json!({"stop": true}))).await;
                    }
                }
                "bound" => {
                    ports[i] = v["port"]
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                        .unwrap_or(0);
                    bound += 1;
                    if bound == n {
                        let mut msg = json!({"ports": ports});
                        if let Some(tls) = &tls {
                            msg["tls_cert"] = json!(orbnet_node::quic::to_hex(&tls.cert));
                            msg["tls_key"] = json!(orbnet_node::quic::to_hex(&tls.key));
                        }
                        let line = format!("{msg}\n");
                        ports_line.clone_from(&line);
                        send_all(sats, &line).await.map_err(|i| {
                            Failure::Run(format!(
                                "satellite {} closed its pipe",
                                failed_name(names, i)
                            ))
                        })?;
                    }
                }
                "ready" => {
                    ready += 1;
                    if ready == n {
                        let start = orbnet_node::clock::unix_now_ns() + 200_000_000;
                        clock = Some(orbnet_node::clock::VirtualClock::from_unix(
                            start,
                            scenario.tdf,
                        ));
                        let line = format!("{}\n", json!({"start_unix_ns": start}));
                        start_line.clone_from(&line);
                        send_all(sats, &line).await.map_err(|i| {
                            Failure::Run(format!(
                                "satellite {} closed its pipe",
                                failed_name(names, i)
                            ))
                        })?;
                        started = true;
                        bar.set_message("running");
                    }
                }
                "stats" => {
                    let t = v["t_s"].as_f64().unwrap_or(0.0);
                    bar.set_position((t * 1000.0) as u64);
                    frames.insert(i, v["frames_out"].as_u64().unwrap_or(0));
                    links_up.insert(i, v["links_up"].as_u64().unwrap_or(0));
                    bar.set_message(format!(
                        "{} frames, {} links up",
                        frames.values().sum::<u64>(),
                        links_up.values().sum::<u64>() / 2
                    ));
                }
                "done" => {
                    collected.done.insert(i, v);
                    if collected.done.len() + down.len() >= n {
                        break;
                    }
                }
                _ => {
                    let ends = ends_workload(&v);
                    collected.events.push(v);
                    if !stopping && ends && all_over(scenario, &collected.events) {
                        stopping = true;
                        // A satellite already gone shows up in the exit check.
                        let line = format!("{}\n", json!({"stop": true}));
                        // A satellite still rejoining gets it after its start line.
                        for (i, s) in sats.iter_mut().enumerate() {
                            if !rejoining.contains(&i) {
                                send_one(s, &line).await;
                            }
                        }
                    }
                }
            },
        }
    }
    bar.finish_and_clear();
    if collected.done.len() + down.len() < n {
        let missing: Vec<&str> = (0..n)
            .filter(|i| !collected.done.contains_key(i) && !down.contains(i))
            .map(|i| failed_name(names, i))
            .collect();
        return Err(Failure::Run(format!(
            "satellites ended without a report: {}",
            missing.join(", ")
        )));
    }
    Ok(collected)
}

/// The end of a run stopped by a signal: before the start it is just an
/// error; after it, what the satellites reported so far is kept.
fn stopped(started: bool, mut collected: Collected, why: &str) -> Result<Collected, Failure> {
    if !started {
        return Err(Failure::Run(why.into()));
    }
    collected.failure = Some(why.into());
    Ok(collected)
}

/// Whether an event may be a workload's last (so [`all_over`], which reads
/// every event, runs on these only).
fn ends_workload(v: &Value) -> bool {
    matches!(
        v["event"].as_str(),
        Some("echo" | "transfer" | "collective" | "train-step")
    )
}

/// Whether every workload has reported its end (so the run can stop
/// before its duration).
fn all_over(scenario: &Scenario, events: &[Value]) -> bool {
    let count = |kind: &str, w: usize, f: &dyn Fn(&Value) -> bool| {
        events
            .iter()
            .filter(|e| e["event"] == kind && e["workload"] == w && f(e))
            .count()
    };
    let failed = |e: &Value| !e["error"].is_null();
    !scenario.workloads.is_empty()
        && scenario
            .workloads
            .iter()
            .enumerate()
            .all(|(w, wl)| match wl {
                Workload::Ping(p) => {
                    let (from, to) = (scenario.world.name(p.from), scenario.world.name(p.to));
                    events
                        .iter()
                        .filter(|e| e["event"] == "echo" && e["from"] == from && e["to"] == to)
                        .count()
                        >= p.count as usize
                }
                Workload::Bulk(_) => count("transfer", w, &|_| true) > 0,
                Workload::Collective(c) => {
                    count("collective", w, &failed) > 0
                        || count("collective", w, &|_| true) >= c.sizes.len() * c.ranks.len()
                }
                Workload::Train(t) => {
                    count("train-step", w, &failed) > 0
                        || count("train-step", w, &|_| true) >= t.steps as usize * t.ranks.len()
                }
            })
}

#[derive(Serialize)]
struct PingSummary {
    from: String,
    to: String,
    sent: usize,
    received: usize,
    rtt_ms: Spread,
    geometric_rtt_ms: Spread,
    error_ms: Spread,
}

fn write_results(
    scenario: &Scenario,
    c: &Collected,
    dir: &Path,
    wall: Duration,
    in_process: bool,
) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::Run(format!("{}: {e}", dir.display())))?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| Failure::Run(format!("{}: {e}", dir.join(name).display())))
    };
    let world = &scenario.world;
    let mut oracle = Oracle::new(scenario);
    let mut ping = Vec::new();
    let mut csv = String::from("from,to,seq,sent_s,rtt_ms,geometric_rtt_ms,error_ms\n");
    let mut plot_measured = Vec::new();
    let mut plot_geometric = Vec::new();
    for w in &scenario.workloads {
        let Workload::Ping(p) = w else { continue };
        let (from, to) = (world.name(p.from).to_owned(), world.name(p.to).to_owned());
        let mut echoes: Vec<(u64, f64, Option<f64>)> = c
            .events
            .iter()
            .filter(|e| {
                e["event"] == "echo" && e["from"] == from.as_str() && e["to"] == to.as_str()
            })
            .map(|e| {
                (
                    e["seq"].as_u64().unwrap_or(0),
                    e["sent_s"].as_f64().unwrap_or(0.0),
                    e["rtt_ms"].as_f64(),
                )
            })
            .collect();
        echoes.sort_by(|a, b| a.1.total_cmp(&b.1));
        let bytes = Bytes(20 + 8 + u64::from(p.size));
        let (mut rtts, mut geos, mut errs) = (Vec::new(), Vec::new(), Vec::new());
        for &(seq, sent, rtt) in &echoes {
            let geo = geometric_rtt(&mut oracle, p.from, p.to, sent, bytes);
            if let Some(g) = geo {
                geos.push(g);
                plot_geometric.push((sent, g));
            }
            if let Some(r) = rtt {
                rtts.push(r);
                plot_measured.push((sent, r));
                if let Some(g) = geo {
                    errs.push(r - g);
                }
            }
            let fmt = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.6}"));
            csv.push_str(&format!(
                "{from},{to},{seq},{sent:.6},{},{},{}\n",
                fmt(rtt),
                fmt(geo),
                fmt(rtt.zip(geo).map(|(r, g)| r - g))
            ));
        }
        let abs_errs: Vec<f64> = errs.iter().map(|e| e.abs()).collect();
        ping.push(PingSummary {
            from,
            to,
            sent: echoes.len(),
            received: rtts.len(),
            rtt_ms: Spread::of(&rtts),
            geometric_rtt_ms: Spread::of(&geos),
            error_ms: Spread::of(&abs_errs),
        });
    }
    let (transfers, throughput_csv, throughput_series) = transfers(scenario, c);
    let sum = |key: &str| {
        c.done
            .values()
            .map(|v| v[key].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let mut drops: BTreeMap<String, u64> = BTreeMap::new();
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    for v in c.done.values() {
        for (field, into) in [("drops", &mut drops), ("rejected", &mut rejected)] {
            if let Some(m) = v[field].as_object() {
                for (k, n) in m {
                    *into.entry(k.clone()).or_default() += n.as_u64().unwrap_or(0);
                }
            }
        }
    }
    let late_max_us = c
        .done
        .values()
        .filter_map(|v| v["late_max_us"].as_f64())
        .fold(0.0, f64::max);
    let collectives = crate::collectives::collectives(scenario, &c.events, c.failure.as_deref());
    let train = crate::collectives::trains(scenario, &c.events, c.failure.as_deref());
    let ok = ping.iter().all(|p| p.received > 0)
        && transfers.iter().all(|t| t.verified)
        && collectives.iter().all(|t| t.verified)
        && train.iter().all(|t| t.verified)
        && c.failure.is_none();
    let summary = json!({
        "scenario": scenario.name,
        "tdf": scenario.tdf.factor(),
        "seed": scenario.seed,
        "satellites": world.satellites(),
        "duration_s": scenario.duration.as_secs_f64(),
        "ok": ok,
        "failure": c.failure,
        "ping": ping,
        "transfers": transfers,
        "collectives": collectives,
        "train": train,
        "counters": {
            "frames_out": sum("frames_out"), "frames_in": sum("frames_in"),
            "sent": sum("sent"), "forwarded": sum("forwarded"), "delivered_local": sum("delivered_local"),
            "send_errors": sum("send_errors"), "drops": drops, "rejected": rejected,
        },
        // Changes after the start; the first report of each port is its initial state.
        "link_changes": c.events.iter().filter(|e| e["event"] == "link" && e["t_s"].as_f64().is_some_and(|t| t > 0.0)).count(),
        "harness": if in_process { "in-process" } else { "processes" },
        "host": { "wall_s": wall.as_secs_f64(), "late_max_us": late_max_us },
    });
    let text = serde_json::to_string_pretty(&summary).map_err(|e| Failure::Run(e.to_string()))?;
    write("summary.json", &(text + "\n"))?;
    write("rtt.csv", &csv)?;
    write("throughput.csv", &throughput_csv)?;
    if !throughput_series.is_empty() {
        line_plot(
            &dir.join("throughput.svg"),
            &format!("{}: bulk goodput (TDF {})", scenario.name, scenario.tdf),
            "virtual time (s)",
            "goodput (Gb/s, virtual)",
            &labelled(&throughput_series),
        )
        .map_err(Failure::Run)?;
    }
    if !collectives.is_empty() {
        write("collectives.csv", &crate::collectives::csv(&collectives))?;
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for r in &collectives {
            let label = format!(
                "w{} {} {} ({}, {} ranks)",
                r.workload, r.op, r.algorithm, r.transport, r.ranks
            );
            if series.last().is_none_or(|s| s.0 != label) {
                series.push((label.clone(), Vec::new()));
                series.push((format!("w{}: link rate", r.workload), Vec::new()));
            }
            let x = (r.bytes as f64).log2();
            let n = series.len();
            if let Some(b) = r.busbw_gbps {
                series[n - 2].1.push((x, b));
            }
            if let Some(l) = r.link_rate_gbps {
                series[n - 1].1.push((x, l));
            }
        }
        line_plot(
            &dir.join("collectives.svg"),
            &format!("{}: bus bandwidth (TDF {})", scenario.name, scenario.tdf),
            "log2 of the buffer size (bytes)",
            "bus bandwidth (Gb/s, virtual)",
            &labelled(&series),
        )
        .map_err(Failure::Run)?;
    }
    let events: String = c.events.iter().map(|e| format!("{e}\n")).collect();
    write("events.jsonl", &events)?;
    line_plot(
        &dir.join("rtt.svg"),
        &format!("{}: ping RTT (TDF {})", scenario.name, scenario.tdf),
        "virtual time (s)",
        "RTT (ms)",
        &[
            Series {
                label: "measured",
                points: plot_measured,
            },
            Series {
                label: "geometric",
                points: plot_geometric,
            },
        ],
    )
    .map_err(Failure::Run)?;
    Ok(())
}

/// Plot series from (label, points) pairs.
fn labelled(series: &[(String, Vec<(f64, f64)>)]) -> Vec<Series<'_>> {
    series
        .iter()
        .map(|(label, points)| Series {
            label,
            points: points.clone(),
        })
        .collect()
}

/// One bulk transfer in `summary.json`.
#[derive(Serialize)]
struct TransferSummary {
    from: String,
    to: String,
    transport: &'static str,
    cc: &'static str,
    streams: u32,
    bytes: u64,
    received: u64,
    /// Virtual seconds from the start to the last byte; null if unfinished.
    seconds: Option<f64>,
    goodput_gbps: Option<f64>,
    /// The slowest link on the path at the start.
    path_capacity_gbps: Option<f64>,
    verified: bool,
    error: Option<String>,
}

type Throughput = (Vec<TransferSummary>, String, Vec<(String, Vec<(f64, f64)>)>);

fn transfers(scenario: &Scenario, c: &Collected) -> Throughput {
    let world = &scenario.world;
    let mut out = Vec::new();
    let mut csv = String::from("workload,from,to,t_s,bytes,goodput_gbps\n");
    let mut series = Vec::new();
    for (w, workload) in scenario.workloads.iter().enumerate() {
        let Workload::Bulk(b) = workload else {
            continue;
        };
        let (from, to) = (world.name(b.from).to_owned(), world.name(b.to).to_owned());
        let path = world.path(b.start, b.from, b.to);
        let report = c
            .events
            .iter()
            .find(|e| e["event"] == "transfer" && e["workload"] == w);
        let seconds = report
            .and_then(|r| r["completed_s"].as_f64())
            .map(|t| t - b.start.as_secs_f64());
        let verified = report.is_some_and(|r| r["verified"] == true);
        let mut error = report.and_then(|r| r["error"].as_str().map(str::to_owned));
        if report.is_none() {
            error = Some(format!("{to} never reported on the transfer"));
        }
        if path.is_none() {
            let why = format!(
                "no path from {from} to {to} at {:.3} s",
                b.start.as_secs_f64()
            );
            error = Some(error.map_or(why.clone(), |e| format!("{e}: {why}")));
        }
        let mut points = Vec::new();
        let mut prev = (b.start.as_secs_f64(), 0u64);
        let mut samples: Vec<(f64, u64)> = c
            .events
            .iter()
            .filter(|e| e["event"] == "bulk-progress" && e["workload"] == w)
            .map(|e| {
                (
                    e["t_s"].as_f64().unwrap_or(0.0),
                    e["bytes"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        samples.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, bytes) in samples {
            if t <= prev.0 {
                continue;
            }
            let gbps = (bytes.saturating_sub(prev.1)) as f64 * 8.0 / (t - prev.0) / 1e9;
            csv.push_str(&format!("{w},{from},{to},{t:.6},{bytes},{gbps:.6}\n"));
            points.push((t, gbps));
            prev = (t, bytes);
        }
        series.push((format!("{from} → {to} ({})", b.transport.as_str()), points));
        out.push(TransferSummary {
            transport: b.transport.as_str(),
            cc: b.cc.as_str(),
            streams: b.streams,
            bytes: b.bytes,
            received: report.and_then(|r| r["received"].as_u64()).unwrap_or(0),
            goodput_gbps: seconds
                .filter(|s| *s > 0.0)
                .map(|s| b.bytes as f64 * 8.0 / s / 1e9),
            seconds,
            path_capacity_gbps: path.map(|p| p.bottleneck.gbps()),
            verified,
            error,
            from,
            to,
        });
    }
    (out, csv, series)
}

/// Out and back, the way back leaving when the request arrives.
fn geometric_rtt(
    oracle: &mut Oracle<'_>,
    from: SatId,
    to: SatId,
    sent_s: f64,
    bytes: Bytes,
) -> Option<f64> {
    let t = SimTime::from_secs_f64(sent_s);
    let out = oracle.one_way(from, to, t, bytes)?;
    let back = oracle.one_way(to, from, t + out, bytes)?;
    Some((out + back).as_nanos() as f64 / 1e6)
}
