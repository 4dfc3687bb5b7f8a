//! What a satellite runs on its stack: workloads, test sockets and gateway
//! listeners, each an [`App`] the satellite polls at every turn.
//!
//! A turn at virtual time `t` (see [`crate::satellite`]) goes: frames due
//! by `t` reach the stack; every app [`App::prepare`]s (a ping due now is
//! queued, a transfer starting now connects, send buffers are filled); the
//! stack runs; every app [`App::poll`]s (reads what arrived, reports,
//! refills); the stack runs again if an app queued something. Between
//! turns, tasks outside the satellite (quinn, collective ranks, gateway
//! splices) hand bytes over, and [`App::flush`] takes them to the stack.

use std::collections::VecDeque;
use std::net::SocketAddr;

use orbnet_netem::SimTime;

use crate::protocol::Event;
use crate::stack::Stack;
use crate::stream::TcpStream;

/// What apps hand back to their satellite besides packets on its stack.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Reports for the launcher.
    pub events: VecDeque<Event>,
    /// Connections to splice to a kernel address (egress gateways): the
    /// satellite's driver owns kernel sockets.
    pub splices: Vec<(TcpStream, SocketAddr)>,
    /// Apps to add once the current pass is over (a gateway's accepted
    /// connection).
    pub apps: Vec<Box<dyn App>>,
}

/// One thing running on a satellite's stack.
pub(crate) trait App: std::fmt::Debug + Send {
    /// The next virtual instant this app has work of its own (a request
    /// due, a deadline), if any.
    fn next_timer(&self) -> Option<SimTime> {
        None
    }

    /// At `now`, before the stack runs: start what is due, queue bytes.
    fn prepare(&mut self, _now: SimTime, _stack: &mut Stack) {}

    /// At `now`, after the stack ran: read what arrived, report, refill.
    /// Returns whether it queued anything for the stack to send.
    fn poll(&mut self, now: SimTime, stack: &mut Stack, out: &mut Outbox) -> bool;

    /// Takes what tasks outside the satellite handed over since the last
    /// turn. Returns whether it queued anything for the stack to send.
    fn flush(&mut self, _now: SimTime, _stack: &mut Stack, _out: &mut Outbox) -> bool {
        false
    }

    /// A periodic sample at `now` (progress reports).
    fn sample(&mut self, _now: SimTime, _out: &mut Outbox) {}

    /// Whether [`App::sample`] reports anything (the satellite then wakes
    /// for every sample).
    fn samples(&self) -> bool {
        false
    }

    /// Whether the app is over and its sockets are gone from `stack` (it
    /// removes them itself): the satellite then drops it.
    fn retire(&mut self, _stack: &mut Stack) -> bool {
        false
    }

    /// The run ends at `now`: report what never finished.
    fn finish(&mut self, _now: SimTime, _out: &mut Outbox) {}

    /// Open TCP connections it holds (for counters).
    fn connections(&self) -> usize {
        0
    }
}
