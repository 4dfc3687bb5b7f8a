//! A host's side of a split run (host 0's too): it reaches the
//! coordinator (retrying its name until it resolves and answers), says
//! hello, measures its clock against the coordinator's, starts its share
//! of the satellites bound to this host's address, and then relays: their
//! wire addresses and events to the coordinator, the coordinator's
//! messages to them, the start instant moved onto this host's clock. It
//! stops its satellites when the coordinator says the run is over, when
//! the coordinator is lost (its connection ends or it falls silent), and
//! on SIGTERM or Ctrl-C, which it reports first so that every host stops.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use orbnet_node::clock::unix_now_ns;
use orbnet_node::protocol::{Event, ToNode};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::clock::{Exchange, Offset};
use super::identity::Identity;
use super::join::JOIN_TIMEOUT;
use super::protocol::{ALIVE_EVERY, Hello, Incoming, Link, Target, ToCoordinator, ToHost};
use super::silence_limit;
use crate::Failure;
use crate::up::fleet::{Fleet, Launch};

/// How long a host keeps trying to reach the coordinator.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(300);
/// Clock probes at the handshake.
const PROBES: usize = 8;

type Inbox = mpsc::UnboundedReceiver<(usize, Incoming<ToHost>)>;

/// What a host needs to take its part.
#[derive(Debug)]
pub(super) struct AgentConfig {
    pub identity: Identity,
    pub hello: Hello,
    /// The satellites this host runs, by index.
    pub members: Vec<usize>,
    /// Satellite names, by index (for messages).
    pub names: Vec<String>,
    /// Host 0 and its satellites, for messages.
    pub coordinator_name: String,
    /// This host and its satellites, for messages.
    pub my_name: String,
    /// How to start a satellite, but for the run's token and the address,
    /// which the handshake gives.
    pub launch: Launch,
    pub wall_start: Instant,
}

/// Takes this host's part in the run to its end; `Ok` if the run succeeded.
pub(super) async fn run(cfg: AgentConfig) -> Result<(), Failure> {
    let stream = connect(&cfg.identity).await?;
    let local = stream
        .local_addr()
        .map_err(|e| Failure::Run(format!("the connection to the coordinator: {e}")))?;
    let (tx, mut inbox) = mpsc::unbounded_channel();
    let link: Link<ToCoordinator> = Link::new(stream, 0, tx, ToCoordinator::Alive)
        .map_err(|e| Failure::Run(format!("the connection to the coordinator: {e}")))?;
    link.send(ToCoordinator::Hello(cfg.hello.clone()));
    let welcome = expect(
        &mut inbox,
        "welcome",
        JOIN_TIMEOUT + Duration::from_secs(30),
    )
    .await;
    let token = match welcome {
        Ok(ToHost::Welcome { token }) => token,
        Ok(m) => return Err(unexpected(&cfg, m)),
        Err(e) => return Err(lost(&cfg, &e)),
    };
    let offset = measure_clock(&link, &mut inbox)
        .await
        .map_err(|e| lost(&cfg, &e))?;
    tracing::info!(
        "clock offset to host 0: {} ns ± {} ns",
        offset.offset_ns,
        offset.uncertainty_ns
    );
    link.send(ToCoordinator::Offset(offset));
    match expect(&mut inbox, "launch", silence_limit(false)).await {
        Ok(ToHost::Launch) => {}
        Ok(m) => return Err(unexpected(&cfg, m)),
        Err(e) => return Err(lost(&cfg, &e)),
    }
    let advertise = cfg
        .identity
        .advertise
        .or(cfg.identity.bind.filter(|b| !b.is_unspecified()))
        .unwrap_or(local.ip());
    let bind = cfg.identity.bind.unwrap_or(advertise);
    let mut launch = cfg.launch;
    launch.common.extend([
        "--token".to_owned(),
        format!("{token:016x}"),
        "--bind".to_owned(),
        bind.to_string(),
        "--nice".to_owned(),
        super::SATELLITE_NICE.to_string(),
    ]);
    crate::up::capacity::check(cfg.members.len() as u64)?;
    let names = cfg.names.clone();
    let fleet = Fleet::start(launch, &cfg.members, |i| names[i].clone()).await?;
    let host = Host {
        fleet,
        link,
        inbox,
        offset,
        advertise,
        ports: BTreeMap::new(),
        down: BTreeSet::new(),
        done: BTreeSet::new(),
        started: false,
        reported: false,
        names: cfg.names,
        coordinator_name: cfg.coordinator_name,
        my_name: cfg.my_name,
        wall_start: cfg.wall_start,
    };
    host.run().await
}

/// Connects to the coordinator, retrying until its name resolves and it
/// answers (hosts start in any order).
async fn connect(id: &Identity) -> Result<TcpStream, Failure> {
    let target = (id.coordinator_host.as_str(), id.coordinator_port);
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut sigterm = super::sigterm()?;
    let mut last_error = String::new();
    loop {
        match tokio::net::lookup_host(target).await {
            Ok(addrs) => {
                for a in addrs {
                    match TcpStream::connect(a).await {
                        Ok(s) => return Ok(s),
                        Err(e) => last_error = format!("{a}: {e}"),
                    }
                }
            }
            Err(e) => last_error = e.to_string(),
        }
        if Instant::now() > deadline {
            return Err(Failure::Run(format!(
                "cannot reach the coordinator at {}:{} within {} s: {last_error}",
                target.0,
                target.1,
                CONNECT_TIMEOUT.as_secs()
            )));
        }
        tracing::debug!("waiting for the coordinator: {last_error}");
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = tokio::signal::ctrl_c() => return Err(Failure::Run("interrupted while waiting for the coordinator".into())),
            _ = sigterm.recv() => return Err(Failure::Run("terminated while waiting for the coordinator".into())),
        }
    }
}

/// The coordinator's next message but its heartbeats, within `limit`.
async fn expect(inbox: &mut Inbox, what: &str, limit: Duration) -> Result<ToHost, String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, inbox.recv()).await {
            Ok(Some((_, Incoming::Message(ToHost::Alive)))) => {}
            Ok(Some((_, Incoming::Message(m)))) => return Ok(m),
            Ok(Some((_, Incoming::Closed(e)))) => return Err(e.to_string()),
            Ok(None) => return Err("connection closed".into()),
            Err(_) => {
                return Err(format!("no {what} within {:.1} s", limit.as_secs_f64()));
            }
        }
    }
}

/// Measures this host's clock against the coordinator's.
async fn measure_clock(link: &Link<ToCoordinator>, inbox: &mut Inbox) -> Result<Offset, String> {
    let mut exchanges = Vec::with_capacity(PROBES);
    for _ in 0..PROBES {
        let t1 = unix_now_ns();
        link.send(ToCoordinator::Clock { t1 });
        loop {
            match expect(inbox, "clock answer", silence_limit(false)).await? {
                ToHost::Clock { t1: echo, t2, t3 } if echo == t1 => {
                    let t4 = unix_now_ns();
                    exchanges.push(Exchange { t1, t2, t3, t4 });
                    break;
                }
                ToHost::Finish { failure } => {
                    return Err(failure.unwrap_or_else(|| "the run ended".into()));
                }
                ToHost::Refused { why } => return Err(why),
                _ => {}
            }
        }
    }
    Offset::estimate(&exchanges).ok_or_else(|| "no clock exchange".into())
}

/// A message out of turn before the launch: a refusal is bad input (exit
/// 2), the end of the run a failure; anything else breaks the protocol.
fn unexpected(cfg: &AgentConfig, m: ToHost) -> Failure {
    match m {
        ToHost::Refused { why } => Failure::BadInput(why),
        ToHost::Finish { failure } => {
            Failure::Run(failure.unwrap_or_else(|| "the run ended before the start".into()))
        }
        m => Failure::Run(format!(
            "{} broke the protocol: {m:?} out of turn",
            cfg.coordinator_name
        )),
    }
}

fn lost(cfg: &AgentConfig, why: &str) -> Failure {
    Failure::Run(format!(
        "lost the coordinator, {}: {why}; stopped {}",
        cfg.coordinator_name, cfg.my_name
    ))
}

/// A host's satellites running, and its connection to the coordinator.
struct Host {
    fleet: Fleet,
    link: Link<ToCoordinator>,
    inbox: Inbox,
    offset: Offset,
    advertise: IpAddr,
    /// The port each satellite bound (a restart binds it again).
    ports: BTreeMap<usize, u16>,
    /// Crashed on the fault schedule, not restarted yet.
    down: BTreeSet<usize>,
    /// Reported their end.
    done: BTreeSet<usize>,
    /// The start has been relayed.
    started: bool,
    /// A failure of this host has been reported.
    reported: bool,
    names: Vec<String>,
    coordinator_name: String,
    my_name: String,
    wall_start: Instant,
}

impl Host {
    async fn run(mut self) -> Result<(), Failure> {
        let mut tick = tokio::time::interval(ALIVE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sigterm = super::sigterm()?;
        let end = loop {
            let down = &self.down;
            tokio::select! {
                m = self.fleet.next(|i| down.contains(&i)) => {
                    if let Some((i, e)) = m {
                        self.satellite(i, e);
                    }
                }
                m = self.inbox.recv() => {
                    let m = m.map_or(Incoming::Closed(super::protocol::LinkError::Closed), |m| m.1);
                    if let Some(end) = self.coordinator(m).await {
                        break end;
                    }
                }
                _ = tick.tick() => {
                    if let Some(end) = self.check() {
                        break end;
                    }
                }
                _ = tokio::signal::ctrl_c() => break self.interrupted("interrupted"),
                _ = sigterm.recv() => break self.interrupted("terminated"),
            }
        };
        self.stop(end).await
    }

    /// A satellite's report, for the coordinator.
    fn satellite(&mut self, i: usize, e: Event) {
        let sat = i as u32;
        match e {
            Event::Bound { port, .. } => {
                self.ports.insert(i, port);
                let addr = SocketAddr::new(self.advertise, port);
                self.link.send(ToCoordinator::Bound { sat, addr });
            }
            e => {
                if matches!(e, Event::Done(_)) {
                    self.done.insert(i);
                }
                self.link.send(ToCoordinator::Event { sat, event: e });
            }
        }
    }

    /// The coordinator's word; the run's end if it says so (or is gone).
    async fn coordinator(&mut self, m: Incoming<ToHost>) -> Option<Result<(), String>> {
        let m = match m {
            Incoming::Message(m) => m,
            Incoming::Closed(e) => return Some(Err(self.lost(&e.to_string()))),
        };
        match m {
            ToHost::Node { to, msg } => self.relay(to, msg).await,
            ToHost::Crash { sat } => {
                let i = sat as usize;
                self.down.insert(i);
                self.fleet.crash(i);
            }
            ToHost::Restart { sat } => {
                let i = sat as usize;
                self.down.remove(&i);
                let port = self.ports.get(&i).copied();
                if let Err(e) = self.fleet.restart(i, port).await {
                    let why = format!("cannot restart {}: {e}", self.name(i));
                    self.link.send(ToCoordinator::Failed { why });
                }
            }
            ToHost::Finish { failure } => return Some(failure.map_or(Ok(()), Err)),
            ToHost::Refused { why } => return Some(Err(why)),
            ToHost::Alive | ToHost::Welcome { .. } | ToHost::Clock { .. } | ToHost::Launch => {}
        }
        None
    }

    /// Passes a message on to this host's satellites; the start instant
    /// goes onto this host's clock.
    async fn relay(&mut self, to: Target, msg: ToNode) {
        let msg = match msg {
            ToNode::Start { start_unix_ns } => {
                self.started = true;
                ToNode::Start {
                    start_unix_ns: self.offset.to_host(start_unix_ns),
                }
            }
            m => m,
        };
        match to {
            Target::One(sat) => {
                self.fleet.send(sat as usize, &msg).await;
            }
            Target::All { except } => {
                let skip = |i: usize| except.contains(&(i as u32));
                if let Err(i) = self.fleet.send_all(&msg, skip).await {
                    // The exit check reports a satellite that died.
                    tracing::debug!("{} closed its pipe", self.name(i));
                }
            }
        }
    }

    /// Every tick: the coordinator heard from lately, every satellite
    /// that should run running.
    fn check(&mut self) -> Option<Result<(), String>> {
        let limit = silence_limit(self.started);
        if self.link.silent_for() > limit {
            let why = format!("no word for {:.1} s", limit.as_secs_f64());
            return Some(Err(self.lost(&why)));
        }
        let (down, done) = (&self.down, &self.done);
        if !self.reported
            && let Some(d) = self.fleet.dead(|i| down.contains(&i) || done.contains(&i))
        {
            self.reported = true;
            let pid = d.pid.map_or("?".into(), |p| p.to_string());
            let why = format!(
                "satellite {} (process {pid}) on {} died ({}); stopped every host",
                self.name(d.index),
                self.my_name,
                d.status
            );
            self.link.send(ToCoordinator::Failed { why });
        }
        None
    }

    /// A signal: every host is told, then this one stops.
    fn interrupted(&mut self, how: &str) -> Result<(), String> {
        let why = format!("{} was {how}: stopped every host", self.my_name);
        self.link.send(ToCoordinator::Failed { why: why.clone() });
        Err(why)
    }

    fn lost(&self, why: &str) -> String {
        format!(
            "lost the coordinator, {}: {why}; stopped {}",
            self.coordinator_name, self.my_name
        )
    }

    fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("?", String::as_str)
    }

    /// Stops the satellites, passes on their last reports and this host's
    /// wall time, and closes the connection.
    async fn stop(self, end: Result<(), String>) -> Result<(), Failure> {
        let Host {
            fleet,
            link,
            wall_start,
            ..
        } = self;
        for (i, e) in fleet.stop().await {
            link.send(ToCoordinator::Event {
                sat: i as u32,
                event: e,
            });
        }
        link.send(ToCoordinator::Finished {
            wall_s: wall_start.elapsed().as_secs_f64(),
        });
        link.close().await;
        end.map_err(Failure::Run)
    }
}
