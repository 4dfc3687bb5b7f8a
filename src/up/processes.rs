//! The process harness on one host, the launcher's side: every satellite
//! a process of this host's [`Fleet`], its report lines on stdout, the
//! launcher's messages on its stdin, the handshake run here. On any
//! failure, Ctrl-C or SIGTERM every process is stopped.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use orbnet_netem::{SatId, Scenario, SimTime};
use orbnet_node::clock::VirtualClock;
use orbnet_node::protocol::{Event, ToNode};

use super::fleet::{Fleet, Launch};
use super::handshake::{Handshake, Send};
use super::progress::Progress;
use super::supervisor::{Action, Supervisor};
use super::{Happening, Harness};
use crate::Failure;

/// A run's satellite processes.
pub(super) struct Processes<'s> {
    scenario: &'s Scenario,
    fleet: Fleet,
    handshake: Handshake,
    clock: Option<VirtualClock>,
    progress: Progress,
    sigterm: tokio::signal::unix::Signal,
    tick: tokio::time::Interval,
    setup_deadline: Instant,
}

impl<'s> Processes<'s> {
    /// Starts every satellite's process; `tls` is the run's certificate
    /// and key (hex), when a workload speaks QUIC.
    pub(super) async fn start(
        scenario: &'s Scenario,
        launch: Launch,
        tls: Option<(String, String)>,
        wall_start: Instant,
    ) -> Result<Processes<'s>, Failure> {
        let n = scenario.world.nodes() as usize;
        use tokio::signal::unix::{SignalKind, signal};
        let sigterm = signal(SignalKind::terminate())
            .map_err(|e| Failure::Run(format!("cannot watch SIGTERM: {e}")))?;
        let progress = Progress::new(scenario);
        let members: Vec<usize> = (0..n).collect();
        let name = |i: usize| scenario.world.name(SatId(i as u32)).to_owned();
        let fleet = Fleet::start(launch, &members, name).await?;
        Ok(Processes {
            scenario,
            fleet,
            handshake: Handshake::new(n, tls),
            clock: None,
            progress,
            sigterm,
            tick: tokio::time::interval(Duration::from_millis(100)),
            // How long the satellites may take to come up: generous for big runs.
            setup_deadline: wall_start + setup_time(n),
        })
    }

    fn name(&self, i: usize) -> &str {
        self.scenario.world.name(SatId(i as u32))
    }

    /// Sends handshake messages; a satellite whose pipe is closed fails the start.
    async fn send(&mut self, s: Send) -> Result<(), Failure> {
        match s {
            Send::One(i, m) => {
                self.fleet.send(i, &m).await;
                Ok(())
            }
            Send::All(m) => {
                self.fleet.send_all(&m, |_| false).await.map_err(|i| {
                    Failure::Run(format!("satellite {} closed its pipe", self.name(i)))
                })
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
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                if let Some(s) = self.handshake.bound(i, addr) {
                    self.send(s).await?;
                }
            }
            Event::Ready { .. } => {
                let was = self.handshake.started();
                let margin = start_margin(self.scenario);
                let start = || orbnet_node::clock::unix_now_ns() + margin;
                for s in self.handshake.ready(i, start, sup.stopping()) {
                    self.send(s).await?;
                }
                if !was && let Some(start) = self.handshake.start_unix_ns() {
                    self.clock = Some(VirtualClock::from_unix(start, self.scenario.tdf));
                    self.progress.message("running");
                }
            }
            Event::Stats(s) => self.progress.stats(i, &s),
            e => return Ok(Some(e)),
        }
        Ok(None)
    }

    /// A satellite that exits before reporting its end has failed.
    fn check_exits(&mut self, sup: &Supervisor<'_>) -> Result<Option<Happening>, Failure> {
        if let Some(d) = self.fleet.dead(|i| sup.is_down(i) || sup.is_done(i)) {
            let name = self.name(d.index).to_owned();
            let status = d.status;
            if !self.handshake.started() {
                return Err(Failure::Run(format!(
                    "satellite {name} died ({status}) before the start"
                )));
            }
            let pid = d.pid.map_or("?".into(), |p| p.to_string());
            return Ok(Some(Happening::Failed(format!(
                "satellite {name} (process {pid}) died ({status}); stopped the others"
            ))));
        }
        if !self.handshake.started() && Instant::now() > self.setup_deadline {
            let (bound, ready) = self.handshake.counts();
            let n = self.fleet.len();
            return Err(Failure::Run(format!(
                "only {bound} bound and {ready} ready of {n} satellites in time"
            )));
        }
        Ok(None)
    }

    /// A signal: before the start it fails the run outright; after it,
    /// what the satellites reported so far is kept.
    fn interrupted(&self, why: &str) -> Result<Happening, Failure> {
        self.progress.clear();
        if self.handshake.started() {
            Ok(Happening::Failed(why.into()))
        } else {
            Err(Failure::Run(why.into()))
        }
    }

    /// Stops every process; returns the reports still on their way.
    pub(super) async fn stop(self) -> Vec<(usize, Event)> {
        self.progress.clear();
        self.fleet.stop().await
    }
}

/// How long the satellites of a run of `n` may take to come up: generous
/// for big runs.
pub(super) fn setup_time(n: usize) -> Duration {
    Duration::from_secs(60 + n as u64 / 10)
}

/// How far ahead of the moment every satellite is ready the start instant
/// is put: every process reads its start line and settles before virtual
/// zero, 0.2 s and half a millisecond per satellite.
pub(super) fn start_margin(scenario: &Scenario) -> u64 {
    200_000_000 + 500_000 * u64::from(scenario.world.nodes())
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
                m = self.fleet.next(|i| sup.is_down(i)) => {
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
                _ = self.tick.tick() => {
                    if let Some(h) = self.check_exits(sup)? {
                        self.progress.clear();
                        return Ok(h);
                    }
                    return Ok(Happening::Tick);
                }
            }
        }
    }

    async fn act(&mut self, a: Action) -> Option<String> {
        match a {
            Action::Crash(sat) => self.fleet.crash(sat.index()),
            Action::Restart(sat) => {
                let i = sat.index();
                if let Err(e) = self.fleet.restart(i, self.handshake.port(i)).await {
                    self.progress.clear();
                    return Some(format!("cannot restart {}: {e}", self.name(i)));
                }
                self.handshake.rejoin(i);
            }
            Action::StopAll => {
                // A satellite still rejoining gets it after its start line;
                // one already gone shows up in the exit check.
                let h = &self.handshake;
                let _ = self
                    .fleet
                    .send_all(&ToNode::Stop, |i| h.is_rejoining(i))
                    .await;
            }
        }
        None
    }

    fn now(&self) -> Option<SimTime> {
        self.clock.map(|c| c.now())
    }
}
