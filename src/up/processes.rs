//! The process harness, the launcher's side: one `orbnet node` process per
//! satellite, their report lines on stdout, the launcher's messages on
//! their stdin. On any failure, Ctrl-C or SIGTERM every process is stopped;
//! satellites also exit by themselves when their stdin closes, so none
//! outlives the launcher even if it is killed with SIGKILL.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use orbnet_netem::{SatId, Scenario, SimTime};
use orbnet_node::clock::VirtualClock;
use orbnet_node::protocol::{Event, ToNode};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::handshake::{Handshake, Send};
use super::supervisor::{Action, Supervisor};
use super::{Happening, Harness};
use crate::Failure;

struct Sat {
    child: Child,
    pid: Option<u32>,
    stdin: Option<ChildStdin>,
}

/// How to start a satellite process (again, after a crash).
pub(super) struct Launch {
    pub exe: PathBuf,
    /// Arguments every satellite gets: token, scenario, overrides.
    pub common: Vec<String>,
    /// Each satellite's own arguments (captures).
    pub args: Vec<Vec<String>>,
}

/// A run's satellite processes.
pub(super) struct Processes<'s> {
    scenario: &'s Scenario,
    launch: Launch,
    sats: Vec<Sat>,
    tx: mpsc::UnboundedSender<(usize, Event)>,
    rx: mpsc::UnboundedReceiver<(usize, Event)>,
    handshake: Handshake,
    clock: Option<VirtualClock>,
    bar: ProgressBar,
    progress: (Vec<u64>, Vec<u64>),
    /// When each process was seen to have exited, and how.
    exited: Vec<Option<(Instant, std::process::ExitStatus)>>,
    sigterm: tokio::signal::unix::Signal,
    /// A child exited: look which (scanning every process only then, not
    /// on every tick, matters with thousands of them).
    sigchld: tokio::signal::unix::Signal,
    tick: tokio::time::Interval,
    setup_deadline: Instant,
}

impl<'s> Processes<'s> {
    /// Starts every satellite's process; `tls` is the run's certificate
    /// and key (hex), when a workload speaks QUIC.
    pub(super) fn start(
        scenario: &'s Scenario,
        launch: Launch,
        tls: Option<(String, String)>,
        wall_start: Instant,
    ) -> Result<Processes<'s>, Failure> {
        let n = scenario.world.nodes() as usize;
        let (tx, rx) = mpsc::unbounded_channel();
        use tokio::signal::unix::{SignalKind, signal};
        let sigterm = signal(SignalKind::terminate())
            .map_err(|e| Failure::Run(format!("cannot watch SIGTERM: {e}")))?;
        let sigchld = signal(SignalKind::child())
            .map_err(|e| Failure::Run(format!("cannot watch SIGCHLD: {e}")))?;
        let bar = ProgressBar::new((scenario.duration.as_secs_f64() * 1000.0).ceil() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} ms virtual  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("starting {n} satellites"));
        let mut p = Processes {
            scenario,
            launch,
            sats: Vec::with_capacity(n),
            tx,
            rx,
            handshake: Handshake::new(n, tls),
            clock: None,
            bar,
            progress: (vec![0; n], vec![0; n]),
            exited: vec![None; n],
            sigterm,
            sigchld,
            tick: tokio::time::interval(Duration::from_millis(100)),
            // How long the satellites may take to come up: generous for big runs.
            setup_deadline: wall_start + Duration::from_secs(60 + n as u64 / 10),
        };
        for i in 0..n {
            match p.spawn(i, None) {
                Ok(s) => p.sats.push(s),
                Err(e) => {
                    let name = scenario.world.name(SatId(i as u32));
                    return Err(Failure::Run(format!("cannot start {name}: {e}")));
                }
            }
        }
        Ok(p)
    }

    /// Starts satellite `i`; a restart binds its old wire `port` again.
    fn spawn(&self, i: usize, port: Option<u16>) -> std::io::Result<Sat> {
        let mut cmd = Command::new(&self.launch.exe);
        cmd.arg("node")
            .args(["--sat", &i.to_string()])
            .args(&self.launch.common);
        match port {
            Some(p) => {
                cmd.args(["--port", &p.to_string(), "--restarted"]);
            }
            None => {
                cmd.args(self.launch.args.get(i).into_iter().flatten());
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
                    // A line that is no event (a stray print) is ignored.
                    if let Ok(e) = serde_json::from_str::<Event>(&l) {
                        let _ = tx.send((i, e));
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

    fn name(&self, i: usize) -> &str {
        self.scenario.world.name(SatId(i as u32))
    }

    /// Sends handshake lines; a satellite whose pipe is closed fails the start.
    async fn send(&mut self, s: Send) -> Result<(), Failure> {
        match s {
            Send::One(i, line) => {
                if let Some(sat) = self.sats.get_mut(i) {
                    send_line(sat, &line).await;
                }
                Ok(())
            }
            Send::All(line) => {
                for i in 0..self.sats.len() {
                    if !send_line(&mut self.sats[i], &line).await {
                        let name = self.name(i);
                        return Err(Failure::Run(format!("satellite {name} closed its pipe")));
                    }
                }
                Ok(())
            }
        }
    }

    /// A satellite's message before it is an event of the run: the
    /// handshake and progress. Returns the event if it is one.
    async fn intercept(
        &mut self,
        i: usize,
        e: Event,
        sup: &Supervisor<'_>,
    ) -> Result<Option<Event>, Failure> {
        match e {
            Event::Bound { port, .. } => {
                if let Some(s) = self.handshake.bound(i, port) {
                    self.send(s).await?;
                }
            }
            Event::Ready { .. } => {
                let was = self.handshake.started();
                // Every process reads its start line and settles before
                // virtual zero: 0.2 s, and half a millisecond per satellite.
                let margin = 200_000_000 + 500_000 * self.sats.len() as u64;
                let start = || orbnet_node::clock::unix_now_ns() + margin;
                for s in self.handshake.ready(i, start, sup.stopping()) {
                    if let Send::All(line) = &s
                        && let Ok(ToNode::Start { start_unix_ns }) =
                            serde_json::from_str(line.trim_end())
                    {
                        self.clock =
                            Some(VirtualClock::from_unix(start_unix_ns, self.scenario.tdf));
                    }
                    self.send(s).await?;
                }
                if !was && self.handshake.started() {
                    self.bar.set_message("running");
                }
            }
            Event::Stats(s) => {
                self.bar.set_position((s.t_s * 1000.0) as u64);
                self.progress.0[i] = s.frames_out;
                self.progress.1[i] = s.links_up as u64;
                self.bar.set_message(format!(
                    "{} frames, {} links up",
                    self.progress.0.iter().sum::<u64>(),
                    self.progress.1.iter().sum::<u64>() / 2
                ));
            }
            e => return Ok(Some(e)),
        }
        Ok(None)
    }

    /// Records the processes that have exited since the last look.
    fn reap(&mut self, sup: &Supervisor<'_>) {
        for i in 0..self.sats.len() {
            if self.exited[i].is_some() || sup.is_down(i) {
                continue;
            }
            if let Ok(Some(status)) = self.sats[i].child.try_wait() {
                self.exited[i] = Some((Instant::now(), status));
            }
        }
    }

    /// A satellite that exits before reporting its end has failed (a clean
    /// exit's last lines get two seconds to arrive).
    fn check_exits(&mut self, sup: &Supervisor<'_>) -> Result<Option<Happening>, Failure> {
        for i in 0..self.sats.len() {
            let Some((since, status)) = self.exited[i] else {
                continue;
            };
            let grace = status.success() && since.elapsed() < Duration::from_secs(2);
            if grace || sup.is_down(i) || sup.is_done(i) {
                continue;
            }
            let name = self.name(i).to_owned();
            if !self.handshake.started() {
                return Err(Failure::Run(format!(
                    "satellite {name} died ({status}) before the start"
                )));
            }
            let pid = self.sats[i].pid.map_or("?".into(), |p| p.to_string());
            return Ok(Some(Happening::Failed(format!(
                "satellite {name} (process {pid}) died ({status}); stopped the others"
            ))));
        }
        if !self.handshake.started() && Instant::now() > self.setup_deadline {
            let (bound, ready) = self.handshake.counts();
            let n = self.sats.len();
            return Err(Failure::Run(format!(
                "only {bound} bound and {ready} ready of {n} satellites in time"
            )));
        }
        Ok(None)
    }

    /// A signal: before the start it fails the run outright; after it,
    /// what the satellites reported so far is kept.
    fn interrupted(&self, why: &str) -> Result<Happening, Failure> {
        self.bar.finish_and_clear();
        if self.handshake.started() {
            Ok(Happening::Failed(why.into()))
        } else {
            Err(Failure::Run(why.into()))
        }
    }

    /// Stops every process: closes their pipes, then kills what is left;
    /// returns the reports still on their way.
    pub(super) async fn stop(mut self) -> Vec<(usize, Event)> {
        self.bar.finish_and_clear();
        for s in self.sats.iter_mut() {
            s.stdin = None;
            let _ = s.child.start_kill();
        }
        for s in self.sats.iter_mut() {
            let _ = tokio::time::timeout(Duration::from_secs(2), s.child.wait()).await;
        }
        let mut late = Vec::new();
        while let Ok(m) = self.rx.try_recv() {
            late.push(m);
        }
        late
    }
}

/// Sends a line to one satellite; false if its pipe is closed.
async fn send_line(sat: &mut Sat, line: &str) -> bool {
    let Some(stdin) = sat.stdin.as_mut() else {
        return false;
    };
    stdin.write_all(line.as_bytes()).await.is_ok() && stdin.flush().await.is_ok()
}

impl Harness for Processes<'_> {
    async fn next(
        &mut self,
        fault: Option<SimTime>,
        sup: &Supervisor<'_>,
    ) -> Result<Happening, Failure> {
        loop {
            let crash_at = self.clock.zip(fault).map(|(c, t)| c.wall(t));
            tokio::select! {
                m = self.rx.recv() => {
                    let Some((i, e)) = m else { return Ok(Happening::Closed) };
                    if let Some(e) = self.intercept(i, e, sup).await? {
                        return Ok(Happening::Event(i, e));
                    }
                }
                _ = tokio::time::sleep_until(crash_at.unwrap_or_else(tokio::time::Instant::now)), if crash_at.is_some() => {
                    return Ok(Happening::FaultDue);
                }
                _ = tokio::signal::ctrl_c() => return self.interrupted("interrupted: stopped every satellite"),
                _ = self.sigterm.recv() => return self.interrupted("terminated: stopped every satellite"),
                _ = self.sigchld.recv() => self.reap(sup),
                _ = self.tick.tick() => {
                    if let Some(h) = self.check_exits(sup)? {
                        self.bar.finish_and_clear();
                        return Ok(h);
                    }
                    return Ok(Happening::Tick);
                }
            }
        }
    }

    async fn act(&mut self, a: Action) -> Option<String> {
        match a {
            Action::Crash(sat) => {
                let s = &mut self.sats[sat.index()];
                s.stdin = None;
                let _ = s.child.start_kill();
            }
            Action::Restart(sat) => {
                let i = sat.index();
                // The old process must be gone before its port is bound again.
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), self.sats[i].child.wait()).await;
                match self.spawn(i, self.handshake.port(i)) {
                    Ok(s) => {
                        self.sats[i] = s;
                        self.exited[i] = None;
                        self.handshake.rejoin(i);
                    }
                    Err(e) => {
                        self.bar.finish_and_clear();
                        return Some(format!("cannot restart {}: {e}", self.name(i)));
                    }
                }
            }
            Action::StopAll => {
                // A satellite still rejoining gets it after its start line;
                // one already gone shows up in the exit check.
                let line = ToNode::Stop.line();
                for i in 0..self.sats.len() {
                    if !self.handshake.is_rejoining(i) {
                        send_line(&mut self.sats[i], &line).await;
                    }
                }
            }
        }
        None
    }

    fn now(&self) -> Option<SimTime> {
        self.clock.map(|c| c.now())
    }
}
