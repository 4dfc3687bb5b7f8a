//! The in-process harness: every satellite a task of one current-thread
//! tokio runtime whose clock is paused, joined by an in-memory wire.
//!
//! The node code is the process harness's own; only the wire
//! ([`crate::wire::MemFabric`]) and the clock differ. With time paused the
//! runtime jumps from timer to timer whenever every task waits, so virtual
//! time costs nothing while the work is light, and nothing the host does
//! (scheduling, load, other processes) can change what happens. Every
//! random choice that can change what happens comes from the scenario
//! seed: link loss, smoltcp's seeds, quinn's endpoint seeds, the TLS key.
//! (quinn's connection IDs and rustls's handshake randoms still come from
//! the OS: their lengths are fixed, so timing and events do not depend on
//! them, but packet bytes in a capture do. quinn's BBR is not seeded.)
//! `select!`s in the node are biased. The same seed therefore replays the
//! same run, event for event.

use std::path::PathBuf;

use std::sync::Arc;

use orbnet_netem::{SatId, Scenario, SimTime};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::command::Command;
use crate::driver::{Control, NodeError, NodeIo, Peers};
use crate::protocol::Event;
use crate::report::Reporter;
use crate::satellite::{Satellite, Setup};
use crate::wire::MemFabric;

/// The smallest TDF an in-process run uses (see [`Run::start`]).
pub const MIN_TDF: f64 = 1000.0;

/// The TLS key seed of an in-process run, from the scenario seed.
pub fn tls_seed(seed: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (k, c) in out.chunks_mut(8).enumerate() {
        let v = orbnet_netem::rng::stream_seed(seed, orbnet_netem::rng::Domain::Tls, k as u64);
        c.copy_from_slice(&v.to_le_bytes());
    }
    out
}

/// A running constellation inside this process. Must be started from a
/// current-thread runtime with its clock paused (see [`runtime`]).
#[derive(Debug)]
pub struct Run {
    scenario: Arc<Scenario>,
    fabric: MemFabric,
    /// Events of every satellite, tagged with its index, in the order they happened.
    pub events: mpsc::UnboundedReceiver<(usize, Event)>,
    events_tx: mpsc::UnboundedSender<(usize, Event)>,
    stop: watch::Sender<bool>,
    tls: Option<crate::quic::Tls>,
    clock: crate::clock::VirtualClock,
    /// One snapshot per routing instant, and each satellite's routes, for all.
    routes: Arc<crate::satellite::SharedRoutes>,
    sats: Vec<Sat>,
}

#[derive(Debug)]
struct Sat {
    task: Option<JoinHandle<()>>,
    commands: mpsc::UnboundedSender<Command>,
    report: Reporter,
}

/// A current-thread runtime on paused time, for [`Run`].
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
}

impl Run {
    /// Starts every satellite of `scenario`. `captures` are pcap files to
    /// write: (satellite, path, the one peer whose link to capture).
    pub fn start(
        scenario: Scenario,
        captures: Vec<(SatId, PathBuf, Option<SatId>)>,
    ) -> Result<Run, String> {
        if !scenario.gateways.is_empty() {
            return Err(
                "gateways open kernel sockets, which paused time cannot wait on: run this scenario without --in-process"
                    .into(),
            );
        }
        // tokio's timers tick in milliseconds of the (paused) clock: a TDF
        // of at least 1000 makes that a microsecond of virtual time or less,
        // and costs nothing when time only jumps.
        let mut scenario = scenario;
        if scenario.tdf.factor() < MIN_TDF {
            scenario.set_tdf(MIN_TDF)?;
        }
        let n = scenario.world.nodes() as usize;
        let tls = if scenario.uses_quic() {
            Some(crate::quic::generate_tls(tls_seed(scenario.seed))?)
        } else {
            None
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let start = tokio::time::Instant::now();
        let clock = crate::clock::VirtualClock::new(start, scenario.tdf);
        let routes = Arc::new(crate::satellite::SharedRoutes::new(
            scenario.world.timeline(scenario.routing_interval),
        ));
        let mut run = Run {
            routes,
            scenario: Arc::new(scenario),
            fabric: MemFabric::new(n),
            events,
            events_tx,
            stop,
            tls,
            clock,
            sats: Vec::with_capacity(n),
        };
        let mut by_sat: Vec<Vec<(PathBuf, Option<SatId>)>> = vec![Vec::new(); n];
        for (s, path, peer) in captures {
            if let Some(v) = by_sat.get_mut(s.index()) {
                v.push((path, peer));
            }
        }
        for (i, caps) in by_sat.into_iter().enumerate() {
            let sat = run.spawn(i, caps, false);
            run.sats.push(sat);
        }
        Ok(run)
    }

    fn spawn(&self, i: usize, captures: Vec<(PathBuf, Option<SatId>)>, restarted: bool) -> Sat {
        let me = SatId(i as u32);
        let (commands, rx) = mpsc::unbounded_channel();
        let report = Reporter::channel(i, self.events_tx.clone());
        let io = NodeIo {
            wire: crate::wire::WireIo::Mem(self.fabric.attach(i)),
            control: Control::Mem(self.stop.subscribe()),
            report: report.clone(),
            peers: self.peers_of(me),
            clock: self.clock,
            commands: rx,
        };
        let node = Node {
            commands: commands.clone(),
            routes: self.routes.clone(),
            scenario: self.scenario.clone(),
            me,
            restarted,
            captures,
            tls: self.tls.clone(),
        };
        let name = self.scenario.world.name(me).to_owned();
        let span = tracing::info_span!("node", sat = %name);
        let failed = report.clone();
        let task = tokio::spawn(tracing::Instrument::instrument(
            async move {
                match node.run(io).await {
                    Ok(()) | Err(NodeError::Orphaned) => {}
                    Err(e) => failed.emit(Event::Failed {
                        sat: name,
                        error: e.to_string(),
                    }),
                }
            },
            span,
        ));
        Sat {
            task: Some(task),
            commands,
            report,
        }
    }

    /// Satellite `me`'s neighbours' addresses on the in-memory wire.
    fn peers_of(&self, me: SatId) -> Peers {
        let world = &self.scenario.world;
        Peers::new(
            world
                .links_of(me)
                .map(|(_, p)| (p, crate::wire::mem_addr(p.index()))),
        )
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The run's virtual clock.
    pub fn clock(&self) -> crate::clock::VirtualClock {
        self.clock
    }

    /// The run's TLS certificate, when a workload or a test speaks QUIC.
    pub fn tls(&self) -> Option<&crate::quic::Tls> {
        self.tls.as_ref()
    }

    /// Makes a certificate if the run has none yet (a test that opens QUIC
    /// connections in a scenario without QUIC workloads).
    pub fn ensure_tls(&mut self) -> Result<crate::quic::Tls, String> {
        if let Some(t) = &self.tls {
            return Ok(t.clone());
        }
        let t = crate::quic::generate_tls(tls_seed(self.scenario.seed))?;
        self.tls = Some(t.clone());
        Ok(t)
    }

    /// Tells every satellite that the workloads are over.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Sends a request to satellite `sat`; false if it is not running.
    pub fn command(&self, sat: SatId, c: Command) -> bool {
        self.sats
            .get(sat.index())
            .is_some_and(|s| s.commands.send(c).is_ok())
    }

    /// Satellite `sat` crashes: its task stops where it is and its inbox
    /// goes. Tasks it spawned (a collective's, quinn's) lose their stack and
    /// wait until the run ends; they report nothing more.
    pub fn crash(&mut self, sat: SatId) {
        if let Some(s) = self.sats.get_mut(sat.index())
            && let Some(t) = s.task.take()
        {
            t.abort();
            s.report.silence();
            self.fabric.detach(sat.index());
        }
    }

    /// Satellite `sat` starts again (after a crash), as a router.
    pub fn restart(&mut self, sat: SatId) {
        let i = sat.index();
        if self.sats.get(i).is_none_or(|s| s.task.is_some()) {
            return;
        }
        let fresh = self.spawn(i, Vec::new(), true);
        self.sats[i] = fresh;
    }

    /// Whether satellite `sat`'s task is running.
    pub fn running(&self, sat: SatId) -> bool {
        self.sats
            .get(sat.index())
            .and_then(|s| s.task.as_ref())
            .is_some_and(|t| !t.is_finished())
    }
}

/// One satellite of an in-process run, before it starts.
struct Node {
    /// The satellite's requests (workload tasks open sockets through it).
    commands: mpsc::UnboundedSender<Command>,
    routes: Arc<crate::satellite::SharedRoutes>,
    scenario: Arc<Scenario>,
    me: SatId,
    restarted: bool,
    captures: Vec<(PathBuf, Option<SatId>)>,
    tls: Option<crate::quic::Tls>,
}

impl Node {
    /// Sets the satellite up, starts its tasks and drives it to the end.
    async fn run(self, io: NodeIo) -> Result<(), NodeError> {
        let (mut sat, tasks) = Satellite::new(Setup {
            scenario: self.scenario.clone(),
            me: self.me,
            token: self.scenario.seed,
            restarted: self.restarted,
            shared: Some(self.routes.clone()),
        })?;
        // Gateways are refused in-process: no kernel listener to bind.
        let listeners = crate::tasks::Listeners::default();
        let s = crate::tasks::Start {
            scenario: &self.scenario,
            me: self.me,
            clock: io.clock,
            tls: self.tls.as_ref(),
            report: &io.report,
            commands: &self.commands,
        };
        crate::tasks::start(&s, tasks, listeners)?;
        sat.begin(if self.restarted {
            io.clock.now()
        } else {
            SimTime::ZERO
        });
        crate::driver::add_captures(&mut sat, self.scenario.epoch, self.captures)?;
        crate::driver::drive(sat, io).await
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        for s in &mut self.sats {
            if let Some(t) = s.task.take() {
                t.abort();
            }
        }
    }
}
