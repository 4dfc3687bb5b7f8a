//! The supervisor of a run, whichever harness holds its satellites: it
//! gathers their events, crashes and restarts satellites on the fault
//! schedule, tells them to stop once every workload is over, and knows
//! when the run is done. It is a state machine: a harness feeds it what
//! happened and carries out the [`Action`]s it returns. An [`Observer`]
//! (the live web view) may follow the run through it: the events it
//! collects, and the virtual time the run has reached.

use std::collections::BTreeSet;

use orbnet_netem::fault::FaultKind;
use orbnet_netem::{SatId, Scenario, SimTime, Workload};
use orbnet_node::protocol::Event;

use crate::results::Collected;

/// What a harness must do for the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Satellite `sat` crashes now (its process or task dies).
    Crash(SatId),
    /// Satellite `sat` starts again, as a router.
    Restart(SatId),
    /// Every workload is over: tell every satellite to stop.
    StopAll,
}

/// Follows a run as it goes (the live web view of `orbnet up --web`):
/// told the scenario once it is loaded, every event the supervisor
/// collects in the order it collects them, the virtual time the run has
/// reached, and the summary once the results are written.
pub(crate) trait Observer {
    /// The run's scenario (overrides applied), before its first event.
    fn begin(&self, scenario: &Scenario);
    /// An event the supervisor collected.
    fn event(&self, e: &Event);
    /// The run has reached virtual time `t`.
    fn time(&self, t: SimTime);
    /// The results are written: the summary as `summary.json` holds it.
    fn end(&self, summary_json: &str);
}

/// A run's supervision.
pub(crate) struct Supervisor<'s> {
    scenario: &'s Scenario,
    /// Crashes (true) and restarts (false) in time order.
    schedule: Vec<(SimTime, SatId, bool)>,
    next: usize,
    down: BTreeSet<usize>,
    stopping: bool,
    collected: Collected,
    observer: Option<&'s dyn Observer>,
}

impl std::fmt::Debug for Supervisor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("next", &self.next)
            .field("down", &self.down)
            .field("stopping", &self.stopping)
            .field("events", &self.collected.events.len())
            .field("observed", &self.observer.is_some())
            .finish()
    }
}

impl<'s> Supervisor<'s> {
    pub(crate) fn new(scenario: &'s Scenario) -> Supervisor<'s> {
        Supervisor {
            scenario,
            schedule: crash_schedule(scenario),
            next: 0,
            down: BTreeSet::new(),
            stopping: false,
            collected: Collected::default(),
            observer: None,
        }
    }

    /// The same supervision, followed by `observer`.
    pub(crate) fn observed_by(self, observer: Option<&'s dyn Observer>) -> Supervisor<'s> {
        Supervisor { observer, ..self }
    }

    /// The run has reached virtual time `t` (for the observer).
    pub(crate) fn time(&self, t: SimTime) {
        if let Some(o) = self.observer {
            o.time(t);
        }
    }

    /// Keeps an event, and shows it to the observer.
    fn collect(&mut self, e: Event) {
        if let Some(o) = self.observer {
            o.event(&e);
        }
        self.collected.events.push(e);
    }

    /// When the next crash or restart is due, if any.
    pub(crate) fn next_fault(&self) -> Option<SimTime> {
        self.schedule.get(self.next).map(|f| f.0)
    }

    /// The crash or restart due now, if it applies: a satellite that has
    /// finished has nothing to crash, and only a satellite that is down
    /// restarts.
    pub(crate) fn fault_due(&mut self) -> Option<Action> {
        let &(t, sat, crash) = self.schedule.get(self.next)?;
        self.next += 1;
        let i = sat.index();
        let acted = if crash {
            !self.collected.done.contains_key(&i) && self.down.insert(i)
        } else {
            self.down.remove(&i)
        };
        if !acted {
            return None;
        }
        let name = self.scenario.world.name(sat).to_owned();
        let t_s = t.as_secs_f64();
        self.collect(if crash {
            Event::Crash { sat: name, t_s }
        } else {
            Event::Restart { sat: name, t_s }
        });
        Some(if crash {
            Action::Crash(sat)
        } else {
            Action::Restart(sat)
        })
    }

    /// A satellite's event. Returns [`Action::StopAll`] the first time
    /// every workload is over.
    pub(crate) fn event(&mut self, i: usize, e: Event) -> Option<Action> {
        match e {
            Event::Done(d) => {
                self.collected.done.insert(i, d);
                None
            }
            Event::Stats(_) | Event::Bound { .. } | Event::Ready { .. } => None,
            Event::Failed { error, .. } => {
                let name = self.scenario.world.name(SatId(i as u32));
                self.fail(format!(
                    "satellite {name} failed: {error}; stopped the others"
                ));
                None
            }
            e => {
                let ends = e.ends_workload();
                self.collect(e);
                if !self.stopping && ends && all_over(self.scenario, &self.collected.events) {
                    self.stopping = true;
                    return Some(Action::StopAll);
                }
                None
            }
        }
    }

    /// The run failed (a satellite died, a signal): what was reported so
    /// far is kept.
    pub(crate) fn fail(&mut self, why: String) {
        self.collected.failure.get_or_insert(why);
    }

    pub(crate) fn failed(&self) -> bool {
        self.collected.failure.is_some()
    }

    /// Why the run failed, if it did.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.collected.failure.as_deref()
    }

    /// Whether the stop has been sent (a rejoining satellite needs it too).
    pub(crate) fn stopping(&self) -> bool {
        self.stopping
    }

    pub(crate) fn is_down(&self, i: usize) -> bool {
        self.down.contains(&i)
    }

    pub(crate) fn is_done(&self, i: usize) -> bool {
        self.collected.done.contains_key(&i)
    }

    /// Whether every satellite has reported its end or is down.
    pub(crate) fn all_reported(&self) -> bool {
        let n = self.scenario.world.nodes() as usize;
        self.collected.done.len() + self.down.len() >= n
    }

    /// The satellites that neither reported their end nor are down.
    pub(crate) fn missing(&self) -> Vec<&str> {
        let n = self.scenario.world.nodes() as usize;
        (0..n)
            .filter(|i| !self.is_done(*i) && !self.is_down(*i))
            .map(|i| self.scenario.world.name(SatId(i as u32)))
            .collect()
    }

    /// What the satellites reported, with the satellite counters of `done`.
    pub(crate) fn into_collected(self) -> Collected {
        self.collected
    }
}

/// When satellites crash (true) and restart (false), in time order, within the run.
fn crash_schedule(scenario: &Scenario) -> Vec<(SimTime, SatId, bool)> {
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

/// Whether every workload has reported its end (so the run can stop
/// before its duration).
fn all_over(scenario: &Scenario, events: &[Event]) -> bool {
    let world = &scenario.world;
    !scenario.workloads.is_empty()
        && scenario
            .workloads
            .iter()
            .enumerate()
            .all(|(w, wl)| match wl {
                Workload::Ping(p) => {
                    let (from, to) = (world.name(p.from), world.name(p.to));
                    let echoes = events
                        .iter()
                        .filter(|e| matches!(e, Event::Echo(x) if x.from == from && x.to == to));
                    echoes.count() >= p.count as usize
                }
                Workload::Bulk(_) => events
                    .iter()
                    .any(|e| matches!(e, Event::Transfer(t) if t.workload == w)),
                Workload::Collective(c) => {
                    let mine = || {
                        events.iter().filter_map(|e| match e {
                            Event::Collective(r) if r.workload == w => Some(r),
                            _ => None,
                        })
                    };
                    mine().any(|r| r.error.is_some())
                        || mine().count() >= c.sizes.len() * c.ranks.len()
                }
                Workload::Train(t) => {
                    let mine = || {
                        events.iter().filter_map(|e| match e {
                            Event::TrainStep(r) if r.workload == w => Some(r),
                            _ => None,
                        })
                    };
                    mine().any(|r| r.error.is_some())
                        || mine().count() >= t.steps as usize * t.ranks.len()
                }
                Workload::Graph(g) => {
                    let mine = || {
                        events.iter().filter_map(|e| match e {
                            Event::GraphStep(r) if r.workload == w => Some(r),
                            _ => None,
                        })
                    };
                    mine().any(|r| r.error.is_some())
                        || mine().count() >= g.steps as usize * g.ranks.len()
                }
                Workload::Offload(o) => crate::results::offload_over(o, w, events),
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use orbnet_node::protocol::{Counters, Done, Echo};

    fn scenario() -> Scenario {
        let text = r#"
name = "s"
duration_s = 10
[constellation]
kind = "walker"
planes = 1
per_plane = 4
altitude_km = 1000
inclination_deg = 53
[links]
rate_gbps = 10
[[workload]]
kind = "ping"
from = "sat-0"
to = "sat-2"
count = 2
[[fault]]
at_s = 1
kind = "satellite-crash"
a = "sat-3"
for_s = 2
[[fault]]
at_s = 5
kind = "satellite-crash"
a = "sat-1"
"#;
        Scenario::parse(text, "s.toml", &mut |_| Err("no files".into())).expect("valid")
    }

    fn echo(seq: u16) -> Event {
        Event::Echo(Echo {
            from: "sat-0".into(),
            to: "sat-2".into(),
            seq,
            sent_s: f64::from(seq),
            size: 56,
            rtt_ms: Some(1.0),
        })
    }

    fn done(sat: &str) -> Event {
        Event::Done(Done {
            sat: sat.into(),
            t_s: 1.0,
            counters: Counters::default(),
            late_max_us: 0.0,
            late_max_at_s: 0.0,
        })
    }

    #[test]
    fn crashes_and_restarts_follow_the_schedule() {
        let s = scenario();
        let mut sup = Supervisor::new(&s);
        assert_eq!(sup.next_fault(), Some(SimTime::from_secs_f64(1.0)));
        assert_eq!(sup.fault_due(), Some(Action::Crash(SatId(3))));
        assert!(sup.is_down(3));
        assert_eq!(sup.next_fault(), Some(SimTime::from_secs_f64(3.0)));
        assert_eq!(sup.fault_due(), Some(Action::Restart(SatId(3))));
        assert!(!sup.is_down(3));
        // sat-1 has finished before its crash: nothing to crash.
        assert_eq!(sup.event(1, done("sat-1")), None);
        assert_eq!(sup.fault_due(), None);
        assert_eq!(sup.next_fault(), None);
        let c = sup.into_collected();
        let kinds: Vec<&Event> = c.events.iter().collect();
        assert!(matches!(kinds[0], Event::Crash { sat, .. } if sat == "sat-3"));
        assert!(matches!(kinds[1], Event::Restart { sat, .. } if sat == "sat-3"));
    }

    #[test]
    fn the_stop_goes_out_once_every_workload_is_over() {
        let s = scenario();
        let mut sup = Supervisor::new(&s);
        assert_eq!(sup.event(0, echo(0)), None);
        assert!(!sup.stopping());
        assert_eq!(sup.event(0, echo(1)), Some(Action::StopAll));
        assert!(sup.stopping());
        // Once only.
        assert_eq!(sup.event(0, echo(2)), None);
        for (i, name) in ["sat-0", "sat-1", "sat-2"].iter().enumerate() {
            assert!(!sup.all_reported());
            sup.event(i, done(name));
        }
        assert_eq!(sup.missing(), ["sat-3"]);
        sup.event(3, done("sat-3"));
        assert!(sup.all_reported());
    }

    #[test]
    fn a_failed_satellite_fails_the_run_and_keeps_the_reports() {
        let s = scenario();
        let mut sup = Supervisor::new(&s);
        sup.event(0, echo(0));
        sup.event(
            2,
            Event::Failed {
                sat: "sat-2".into(),
                error: "boom".into(),
            },
        );
        assert!(sup.failed());
        // The first failure is the one reported.
        sup.fail("later".into());
        let c = sup.into_collected();
        assert_eq!(c.events.len(), 1);
        assert_eq!(
            c.failure.as_deref(),
            Some("satellite sat-2 failed: boom; stopped the others")
        );
    }
}
