//! A small API for testing protocols against a constellation from Rust
//! tests. It runs the in-process harness: every satellite a task on paused
//! time, so a test is deterministic and takes no longer than its work.
//!
//! ```no_run
//! use orbnet_node::testbed::Testbed;
//!
//! let tb = Testbed::from_file("topologies/ring-8.toml").expect("scenario");
//! let rtt = tb
//!     .run(|net| async move {
//!         let server = net.udp("sat-4", 7).await?;
//!         let client = net.udp("sat-0", 7).await?;
//!         tokio::spawn(async move {
//!             while let Ok((msg, from)) = server.recv_from().await {
//!                 let _ = server.send_to(&msg, from);
//!             }
//!         });
//!         let t0 = net.now();
//!         client.send_to(b"hello", net.addr("sat-4", 7)?)?;
//!         let (reply, _) = client.recv_from().await?;
//!         assert_eq!(reply, b"hello");
//!         Ok::<f64, orbnet_node::testbed::Error>(net.now() - t0)
//!     })
//!     .expect("ran");
//! ```

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orbnet_netem::fault::{Fault, FaultKind};
use orbnet_netem::{SatId, Scenario, SimDuration, SimTime};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

use crate::command::Command;
use crate::inprocess::Run;
use crate::quic::AppSocket;
use crate::stream::TcpStream;

pub use quinn;

/// What went wrong in a test's use of the testbed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("scenario: {0}")]
    Scenario(String),
    #[error("no satellite named {0:?}")]
    NoSuchSatellite(String),
    #[error("{sat}: {why}")]
    Satellite { sat: String, why: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

/// A constellation to test against, before it runs.
#[derive(Debug)]
pub struct Testbed {
    scenario: Scenario,
}

impl Testbed {
    /// Loads a scenario file (files it names are read relative to it).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Testbed, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Scenario(format!("{}: {e}", path.display())))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let label = path.display().to_string();
        let scenario = Scenario::parse_bytes(&text, &label, &mut |rel: &str| {
            std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
        })
        .map_err(|e| Error::Scenario(e.to_string()))?;
        Ok(Testbed { scenario })
    }

    /// A scenario written inline (TOML, as in a scenario file).
    pub fn from_toml(text: &str) -> Result<Testbed, Error> {
        let scenario = Scenario::parse(text, "inline scenario", &mut |rel: &str| {
            Err(format!("an inline scenario cannot refer to {rel}"))
        })
        .map_err(|e| Error::Scenario(e.to_string()))?;
        Ok(Testbed { scenario })
    }

    /// The scenario, to change before the run (its seed, say).
    pub fn scenario_mut(&mut self) -> &mut Scenario {
        &mut self.scenario
    }

    /// Starts every satellite, runs `test` against them, and stops them when
    /// it returns. The scenario's own workloads run too. Virtual time is the
    /// runtime's paused clock: it advances only when every task waits.
    pub fn run<F, Fut, T>(self, test: F) -> Result<T, Error>
    where
        F: FnOnce(Net) -> Fut,
        Fut: Future<Output = T>,
    {
        let rt = crate::inprocess::runtime()?;
        rt.block_on(async move {
            let mut run = Run::start(self.scenario, Vec::new()).map_err(Error::Scenario)?;
            let (_, empty) = tokio::sync::mpsc::unbounded_channel();
            let mut events = std::mem::replace(&mut run.events, empty);
            let log: Arc<Mutex<Vec<Value>>> = Arc::default();
            let arrived = Arc::new(Notify::new());
            let (l, a) = (log.clone(), arrived.clone());
            tokio::spawn(async move {
                while let Some((_, v)) = events.recv().await {
                    if let Ok(mut log) = l.lock() {
                        log.push(serde_json::to_value(v).unwrap_or_default());
                    }
                    a.notify_waiters();
                }
            });
            let net = Net {
                clock: run.clock(),
                scenario: Arc::new(run.scenario().clone()),
                run: Arc::new(Mutex::new(run)),
                log,
                arrived,
            };
            let out = test(net.clone()).await;
            net.with_run(|r| r.stop());
            Ok(out)
        })
    }
}

/// The running constellation, as a test sees it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Net {
    run: Arc<Mutex<Run>>,
    scenario: Arc<Scenario>,
    clock: crate::clock::VirtualClock,
    log: Arc<Mutex<Vec<Value>>>,
    arrived: Arc<Notify>,
}

impl Net {
    fn with_run<R>(&self, f: impl FnOnce(&mut Run) -> R) -> R {
        let mut guard = match self.run.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Virtual seconds since the start.
    pub fn now(&self) -> f64 {
        self.clock.now().as_secs_f64()
    }

    /// Sleeps `secs` of virtual time.
    pub async fn sleep(&self, secs: f64) {
        let t = self.clock.now() + SimDuration::from_secs_f64(secs.max(0.0));
        tokio::time::sleep_until(self.clock.wall(t)).await;
    }

    /// Sleeps until virtual time `t_s`.
    pub async fn until(&self, t_s: f64) {
        tokio::time::sleep_until(self.clock.wall(SimTime::from_secs_f64(t_s.max(0.0)))).await;
    }

    /// The satellite named `name`.
    pub fn sat(&self, name: &str) -> Result<SatId, Error> {
        self.scenario
            .world
            .find(name)
            .ok_or_else(|| Error::NoSuchSatellite(name.to_owned()))
    }

    /// The emulated address of port `port` on satellite `name`.
    pub fn addr(&self, name: &str, port: u16) -> Result<SocketAddr, Error> {
        let s = self.sat(name)?;
        Ok(SocketAddr::new(IpAddr::V4(crate::addr::address(s)), port))
    }

    /// Asks satellite `name` to do `make(reply)` and waits for its answer.
    async fn ask<R>(
        &self,
        name: &str,
        make: impl FnOnce(oneshot::Sender<R>) -> Command,
    ) -> Result<R, Error> {
        let s = self.sat(name)?;
        let (tx, rx) = oneshot::channel();
        let down = || Error::Satellite {
            sat: name.to_owned(),
            why: "not running".into(),
        };
        if !self.with_run(|r| r.command(s, make(tx))) {
            return Err(down());
        }
        rx.await.map_err(|_| down())
    }

    /// A UDP socket on port `port` of satellite `name`.
    pub async fn udp(&self, name: &str, port: u16) -> Result<AppSocket, Error> {
        self.ask(name, |reply| Command::Udp { port, reply })
            .await?
            .map_err(|why| Error::Satellite {
                sat: name.to_owned(),
                why,
            })
    }

    /// A TCP listener on port `port` of satellite `name`: the stream
    /// carries data once a peer connects.
    pub async fn tcp_listen(&self, name: &str, port: u16) -> Result<TcpStream, Error> {
        self.ask(name, |reply| Command::TcpListen { port, reply })
            .await?
            .map_err(|why| Error::Satellite {
                sat: name.to_owned(),
                why,
            })
    }

    /// A TCP connection from satellite `from` to port `port` of satellite `to`.
    pub async fn tcp_connect(&self, from: &str, to: &str, port: u16) -> Result<TcpStream, Error> {
        let to_sat = self.sat(to)?;
        self.ask(from, |reply| Command::TcpConnect {
            to: to_sat,
            port,
            reply,
        })
        .await?
        .map_err(|why| Error::Satellite {
            sat: from.to_owned(),
            why,
        })
    }

    /// A QUIC endpoint (client and server) on UDP port `port` of satellite
    /// `name`, trusting the run's certificate. Connect with
    /// `ep.connect(net.addr(to, port)?, orbnet_node::quic::SERVER_NAME)`.
    pub async fn quic(&self, name: &str, port: u16) -> Result<quinn::Endpoint, Error> {
        self.quic_streams(name, port, 64).await
    }

    /// A QUIC endpoint as [`Net::quic`], whose connections take up to
    /// `streams` unidirectional streams from their peer at once (a few more
    /// for control; see [`crate::quic::transport_config`]).
    pub async fn quic_streams(
        &self,
        name: &str,
        port: u16,
        streams: u32,
    ) -> Result<quinn::Endpoint, Error> {
        let s = self.sat(name)?;
        let socket = self.udp(name, port).await?;
        let tls = self.with_run(Run::ensure_tls).map_err(Error::Other)?;
        let model = self.scenario.world.link_model();
        let rtt = Duration::from_millis(100);
        let tuning = crate::quic::Tuning {
            bdp: (model.terminal_rate.gbps() * 1e9 * rtt.as_secs_f64() / 8.0) as u64,
            rtt,
            cc: orbnet_netem::workload::Cc::Cubic,
            streams,
            max_payload: model.mtu.0.saturating_sub(28).min(65_507) as u16,
            idle: Duration::from_secs(30),
            seed: crate::tasks::quic_seed(self.scenario.seed, s, port),
            message: 0,
        };
        let runtime = crate::quic::VirtualRuntime::new(self.clock);
        crate::quic::endpoint(
            socket.link(),
            IpAddr::V4(crate::addr::address(s)),
            &tls,
            &tuning,
            runtime,
        )
        .map_err(|e| Error::Other(e.to_string()))
    }

    /// Injects `fault` into every running satellite's world. It takes
    /// effect at their next routing update.
    pub fn inject(&self, fault: Fault) {
        self.with_run(|r| {
            for i in 0..r.scenario().world.nodes() {
                r.command(SatId(i), Command::Fault(fault.clone()));
            }
        });
    }

    /// Cuts the links between `a` and `b` from now, for `for_s` seconds or
    /// for the rest of the run.
    pub fn link_down(&self, a: &str, b: &str, for_s: Option<f64>) -> Result<(), Error> {
        let (a, b) = (self.sat(a)?, self.sat(b)?);
        let at = self.clock.now();
        self.inject(Fault {
            at,
            until: for_s.map(|d| at + SimDuration::from_secs_f64(d)),
            kind: FaultKind::LinkDown { a, b },
        });
        Ok(())
    }

    /// Satellite `name` crashes now: its task stops and its links go dark.
    pub fn crash(&self, name: &str) -> Result<(), Error> {
        let s = self.sat(name)?;
        self.inject(Fault {
            at: self.clock.now(),
            until: None,
            kind: FaultKind::Crash { sat: s },
        });
        self.with_run(|r| r.crash(s));
        Ok(())
    }

    /// Satellite `name` starts again after [`Net::crash`], as a router.
    pub fn restart(&self, name: &str) -> Result<(), Error> {
        let s = self.sat(name)?;
        let now = self.clock.now();
        self.with_run(|r| {
            for i in 0..r.scenario().world.nodes() {
                r.command(SatId(i), Command::Heal { sat: s, at: now });
            }
            r.restart(s);
        });
        Ok(())
    }

    /// Satellite `name`'s counters: frames, packets sent, forwarded and
    /// delivered, drops by reason, and the state of each of its links.
    pub async fn counters(&self, name: &str) -> Result<Value, Error> {
        self.ask(name, |reply| Command::Counters { reply }).await
    }

    /// The state of the link from `a` to `b` as `a` sees it: "up",
    /// "acquiring" or "down".
    pub async fn link_state(&self, a: &str, b: &str) -> Result<String, Error> {
        let c = self.counters(a).await?;
        c["links"][b]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Error::Other(format!("{a} has no link to {b}")))
    }

    /// Every event reported so far (as in `events.jsonl`).
    pub fn events(&self) -> Vec<Value> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until an event satisfies `pred`, for at most `limit_s` virtual
    /// seconds; returns it, or `None` at the limit.
    pub async fn wait_for(&self, pred: impl Fn(&Value) -> bool, limit_s: f64) -> Option<Value> {
        let deadline = self.clock.now() + SimDuration::from_secs_f64(limit_s.max(0.0));
        loop {
            let arrived = self.arrived.notified();
            if let Some(e) = self.events().into_iter().find(|e| pred(e)) {
                return Some(e);
            }
            if self.clock.now() >= deadline {
                return None;
            }
            let _ = tokio::time::timeout_at(self.clock.wall(deadline), arrived).await;
        }
    }
}
