//! Host 0's coordination of a split run, as a [`Harness`] the supervisor
//! drives: once every host has joined ([`super::join`]), it collects each
//! host's clock offset and tells them all to launch their satellites, runs
//! the satellites' handshake across hosts (every wire address to every
//! satellite, one start instant), relays crashes, restarts and the stop to
//! the host of each satellite, and hands every satellite's events to the
//! supervisor. A host that leaves, falls silent, or reports a failure
//! fails the run; [`Coordinator::finish`] then stops every host.

use std::time::{Duration, Instant};

use orbnet_netem::placement::{HostId, Placement};
use orbnet_netem::{SatId, Scenario, SimTime};
use orbnet_node::clock::{VirtualClock, unix_now_ns};
use orbnet_node::protocol::Event;
use tokio::sync::mpsc;

use super::clock::Offset;
use super::join::Joined;
use super::protocol::{Incoming, Link, Target, ToCoordinator, ToHost};
use super::silence_limit;
use crate::Failure;
use crate::up::handshake::{Handshake, Send};
use crate::up::processes::{setup_time, start_margin};
use crate::up::progress::Progress;
use crate::up::supervisor::{Action, Supervisor};
use crate::up::{Happening, Harness};

/// How long host 0 waits for the hosts' last words once the run is over.
const FINISH_WAIT: Duration = Duration::from_secs(5);
/// How often host 0 looks for silent hosts and a late start.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// What host 0 knows of a host.
#[derive(Debug)]
struct HostState {
    offset: Option<Offset>,
    /// Its wall time, once it has stopped.
    wall_s: Option<f64>,
    /// Its connection ended.
    gone: bool,
}

/// What host 0 keeps of each host for the summary.
#[derive(Debug, Clone, Copy)]
pub(super) struct HostEnd {
    pub offset: Option<Offset>,
    pub wall_s: Option<f64>,
}

/// Host 0's side of a split run.
pub(super) struct Coordinator<'s> {
    scenario: &'s Scenario,
    placement: &'s Placement,
    /// Each host's name and satellites, for messages.
    names: Vec<String>,
    links: Vec<Link<ToHost>>,
    inbox: mpsc::UnboundedReceiver<(usize, Incoming<ToCoordinator>)>,
    host_of_conn: Vec<Option<usize>>,
    hosts: Vec<HostState>,
    launched: bool,
    handshake: Handshake,
    clock: Option<VirtualClock>,
    progress: Progress,
    sigterm: tokio::signal::unix::Signal,
    tick: tokio::time::Interval,
    setup_deadline: Instant,
}

impl<'s> Coordinator<'s> {
    /// Coordinates the hosts that `joined`, welcoming them to the run of
    /// `token` (and certificate `tls`).
    pub(super) fn new(
        scenario: &'s Scenario,
        placement: &'s Placement,
        joined: Joined,
        token: u64,
        tls: Option<(String, String)>,
    ) -> Result<Coordinator<'s>, Failure> {
        let now = Instant::now();
        let n = scenario.world.nodes() as usize;
        let names = (0..placement.hosts())
            .map(|k| super::host_name(scenario, placement, HostId(k)))
            .collect();
        for l in &joined.links {
            l.send(ToHost::Welcome { token });
        }
        let hosts = joined
            .links
            .iter()
            .map(|_| HostState {
                offset: None,
                wall_s: None,
                gone: false,
            })
            .collect();
        Ok(Coordinator {
            scenario,
            placement,
            names,
            links: joined.links,
            inbox: joined.inbox,
            host_of_conn: joined.host_of_conn,
            hosts,
            launched: false,
            handshake: Handshake::new(n, tls),
            clock: None,
            progress: Progress::new(scenario),
            sigterm: super::sigterm()?,
            tick: tokio::time::interval(CHECK_EVERY),
            setup_deadline: now + setup_time(n) + super::join::JOIN_TIMEOUT,
        })
    }

    /// Satellite `sat` as host `k` names it, if `k` runs it.
    fn member(&self, k: usize, sat: u32) -> Option<usize> {
        let id = SatId(sat);
        (self.placement.host_of(id) == Some(HostId(k as u32))).then_some(id.index())
    }

    fn send(&self, k: usize, m: ToHost) {
        if let Some(l) = self.links.get(k) {
            l.send(m);
        }
    }

    fn broadcast(&self, m: &ToHost) {
        for l in &self.links {
            l.send(m.clone());
        }
    }

    /// Relays a handshake message to the host of its satellite (or all).
    fn relay(&self, s: Send) {
        match s {
            Send::All(msg) => self.broadcast(&ToHost::Node {
                to: Target::All { except: Vec::new() },
                msg,
            }),
            Send::One(i, msg) => {
                if let Some(k) = self.placement.host_of(SatId(i as u32)) {
                    self.send(
                        k.index(),
                        ToHost::Node {
                            to: Target::One(i as u32),
                            msg,
                        },
                    );
                }
            }
        }
    }

    /// A failure: before the start it ends the run outright; after it,
    /// what was reported so far is kept.
    fn failed(&self, why: String) -> Result<Option<Happening>, Failure> {
        self.progress.clear();
        if self.handshake.started() {
            Ok(Some(Happening::Failed(why)))
        } else {
            Err(Failure::Run(why))
        }
    }

    /// What host `k` sent.
    fn message(
        &mut self,
        k: usize,
        m: ToCoordinator,
        sup: &Supervisor<'_>,
    ) -> Result<Option<Happening>, Failure> {
        match m {
            ToCoordinator::Clock { t1 } => {
                let t2 = unix_now_ns();
                self.send(
                    k,
                    ToHost::Clock {
                        t1,
                        t2,
                        t3: unix_now_ns(),
                    },
                );
            }
            ToCoordinator::Offset(o) => {
                self.hosts[k].offset = Some(o);
                if !self.launched && self.hosts.iter().all(|h| h.offset.is_some()) {
                    self.launched = true;
                    self.broadcast(&ToHost::Launch);
                    self.progress
                        .message("starting the satellites on every host");
                }
            }
            ToCoordinator::Bound { sat, addr } => {
                if let Some(i) = self.member(k, sat)
                    && let Some(s) = self.handshake.bound(i, addr)
                {
                    self.relay(s);
                }
            }
            ToCoordinator::Event { sat, event } => {
                if let Some(i) = self.member(k, sat) {
                    return Ok(self.event(i, event, sup));
                }
            }
            ToCoordinator::Failed { why } => return self.failed(why),
            ToCoordinator::Finished { wall_s } => self.hosts[k].wall_s = Some(wall_s),
            ToCoordinator::Hello(_) | ToCoordinator::Alive => {}
        }
        Ok(None)
    }

    /// Satellite `i`'s event: the handshake and progress here, the rest
    /// for the supervisor.
    fn event(&mut self, i: usize, e: Event, sup: &Supervisor<'_>) -> Option<Happening> {
        match e {
            Event::Ready { .. } => {
                let was = self.handshake.started();
                let margin = start_margin(self.scenario);
                let start = || unix_now_ns() + margin;
                for s in self.handshake.ready(i, start, sup.stopping()) {
                    self.relay(s);
                }
                if !was && let Some(start) = self.handshake.start_unix_ns() {
                    self.clock = Some(VirtualClock::from_unix(start, self.scenario.tdf));
                    self.progress.message("running");
                }
                None
            }
            Event::Stats(s) => {
                self.progress.stats(i, &s);
                None
            }
            Event::Bound { .. } => None,
            e => Some(Happening::Event(i, e)),
        }
    }

    /// What came in on connection `c`.
    fn incoming(
        &mut self,
        c: usize,
        m: Incoming<ToCoordinator>,
        sup: &Supervisor<'_>,
    ) -> Result<Option<Happening>, Failure> {
        let Some(k) = self.host_of_conn.get(c).copied().flatten() else {
            return Ok(None);
        };
        match m {
            Incoming::Message(m) => self.message(k, m, sup),
            Incoming::Closed(e) => {
                self.hosts[k].gone = true;
                if self.hosts[k].wall_s.is_some() {
                    return Ok(None);
                }
                let name = &self.names[k];
                self.failed(format!("lost {name}: {e}; stopped every host"))
            }
        }
    }

    /// Every tick: checks that each host has said something lately and
    /// that the start comes in time.
    fn check(&mut self) -> Result<Option<Happening>, Failure> {
        let limit = silence_limit(self.handshake.started());
        let silent = |(h, l): (&HostState, &Link<ToHost>)| !h.gone && l.silent_for() > limit;
        if let Some(k) = self.hosts.iter().zip(&self.links).position(silent) {
            let name = &self.names[k];
            return self.failed(format!(
                "lost {name}: no word for {:.1} s; stopped every host",
                limit.as_secs_f64()
            ));
        }
        if !self.handshake.started() && Instant::now() > self.setup_deadline {
            let (bound, ready) = self.handshake.counts();
            let n = self.scenario.world.nodes();
            return Err(Failure::Run(format!(
                "only {bound} bound and {ready} ready of {n} nodes in time"
            )));
        }
        Ok(Some(Happening::Tick))
    }

    /// The run is over: tells every host (`failure`: why it failed), and
    /// waits for their last words. Returns the events still on their way,
    /// and what each host reported.
    pub(super) async fn finish(
        mut self,
        failure: Option<String>,
    ) -> (Vec<(usize, Event)>, Vec<HostEnd>) {
        self.progress.clear();
        self.broadcast(&ToHost::Finish { failure });
        let mut late = Vec::new();
        let deadline = tokio::time::Instant::now() + FINISH_WAIT;
        while self.hosts.iter().any(|h| !h.gone && h.wall_s.is_none()) {
            let Ok(Some((c, m))) = tokio::time::timeout_at(deadline, self.inbox.recv()).await
            else {
                break;
            };
            let Some(k) = self.host_of_conn.get(c).copied().flatten() else {
                continue;
            };
            match m {
                Incoming::Message(ToCoordinator::Event { sat, event }) => {
                    if let Some(i) = self.member(k, sat) {
                        late.push((i, event));
                    }
                }
                Incoming::Message(ToCoordinator::Finished { wall_s }) => {
                    self.hosts[k].wall_s = Some(wall_s);
                }
                Incoming::Message(_) => {}
                Incoming::Closed(_) => self.hosts[k].gone = true,
            }
        }
        for l in self.links {
            l.close().await;
        }
        let ends = self
            .hosts
            .iter()
            .map(|h| HostEnd {
                offset: h.offset,
                wall_s: h.wall_s,
            })
            .collect();
        (late, ends)
    }
}

impl Harness for Coordinator<'_> {
    async fn next(
        &mut self,
        fault: Option<SimTime>,
        sup: &Supervisor<'_>,
    ) -> Result<Happening, Failure> {
        loop {
            let crash_at = self.clock.zip(fault).map(|(c, t)| c.wall(t));
            let happened = tokio::select! {
                m = self.inbox.recv() => match m {
                    Some((c, m)) => self.incoming(c, m, sup)?,
                    None => Some(Happening::Closed),
                },
                _ = tokio::time::sleep_until(crash_at.unwrap_or_else(tokio::time::Instant::now)), if crash_at.is_some() => {
                    Some(Happening::FaultDue)
                }
                _ = tokio::signal::ctrl_c() => self.failed("interrupted on host 0: stopped every host".into())?,
                _ = self.sigterm.recv() => self.failed("terminated on host 0: stopped every host".into())?,
                _ = self.tick.tick() => self.check()?,
            };
            if let Some(h) = happened {
                return Ok(h);
            }
        }
    }

    async fn act(&mut self, a: Action) -> Option<String> {
        let host = |sat: SatId| self.placement.host_of(sat).map_or(0, HostId::index);
        match a {
            Action::Crash(sat) => self.send(host(sat), ToHost::Crash { sat: sat.0 }),
            Action::Restart(sat) => {
                self.handshake.rejoin(sat.index());
                self.send(host(sat), ToHost::Restart { sat: sat.0 });
            }
            Action::StopAll => {
                // A satellite still rejoining gets it after its start.
                let except = self.handshake.rejoining().map(|i| i as u32).collect();
                self.broadcast(&ToHost::Node {
                    to: Target::All { except },
                    msg: orbnet_node::protocol::ToNode::Stop,
                });
            }
        }
        None
    }

    fn now(&self) -> Option<SimTime> {
        self.clock.map(|c| c.now())
    }
}
