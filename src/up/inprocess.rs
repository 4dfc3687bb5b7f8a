//! The in-process harness, the launcher's side: every satellite a task of
//! this process on simulated time (see `orbnet_node::inprocess`).

use std::time::Duration;

use orbnet_netem::SimTime;
use orbnet_node::inprocess::Run;

use super::supervisor::{Action, Supervisor};
use super::{Happening, Harness};
use crate::Failure;

impl Harness for Run {
    async fn next(
        &mut self,
        fault: Option<SimTime>,
        _sup: &Supervisor<'_>,
    ) -> Result<Happening, Failure> {
        let clock = self.clock();
        let far = clock.wall(SimTime::ZERO + self.scenario().duration) + Duration::from_secs(3600);
        let wake = fault.map_or(far, |t| clock.wall(t));
        tokio::select! {
            biased;
            ev = self.events.recv() => Ok(match ev {
                Some((i, e)) => Happening::Event(i, e),
                None => Happening::Closed,
            }),
            _ = tokio::time::sleep_until(wake), if fault.is_some() => Ok(Happening::FaultDue),
        }
    }

    async fn act(&mut self, a: Action) -> Option<String> {
        match a {
            Action::Crash(sat) => self.crash(sat),
            Action::Restart(sat) => self.restart(sat),
            Action::StopAll => self.stop(),
        }
        None
    }

    fn now(&self) -> Option<SimTime> {
        Some(self.clock().now())
    }
}
