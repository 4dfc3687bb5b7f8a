//! One satellite as a state machine with no I/O of its own, in the manner
//! of quinn-proto and smoltcp: every entry point takes the virtual time,
//! and the caller (the [`crate::driver`]) moves frames, events and timers
//! between it and the world.
//!
//! - [`Satellite::handle_frame`]: a datagram from the wire. Checked (run
//!   token, a link of ours from the right peer, a sequence number not seen
//!   on that link, see [`crate::replay`]) and held until the delivery
//!   instant its header carries. [`Satellite::handle_owned_frame`] takes
//!   a datagram the caller gives away (the in-memory wire) and holds it
//!   without a copy.
//! - [`Satellite::handle_timeout`]: do everything due by `now`, in
//!   virtual-time order, each at its own timestamp; then take what tasks
//!   handed over.
//! - [`Satellite::handle_command`]: a request from a test, a gateway or
//!   the launcher.
//! - [`Satellite::poll_timeout`], [`Satellite::poll_transmit`],
//!   [`Satellite::poll_event`]: when to call again, the frames to send,
//!   the reports to make.
//! - [`Satellite::close`]: once the run is over and the driver has drained
//!   the wire, the last report ([`Event::Done`]) with every counter.
//!
//! A turn at virtual time `t`: the routing update and the stats sample if
//! due; frames due by `t` are routed (to the stack, or on to the next
//! hop's port); the apps prepare; the stack runs and its output is
//! routed; the apps poll; the stack runs again if they queued anything.
//!
//! A timer that fires late on the host does not make the emulated packet
//! late: each event is processed at its own virtual timestamp, so errors do
//! not pile up hop after hop. When the host falls behind by more than an
//! emulated delay, the lateness is measured (`late_max_us`): raise the TDF.

mod command;
mod routing;
mod setup;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use orbnet_netem::{LinkId, LinkState, SatId, Scenario, SimDuration, SimTime};

use crate::app::{App, Outbox};
use crate::pcap::Capture;
use crate::protocol::{self, Counters, Event};
use crate::router::{Decision, Router};
use crate::stack::Stack;
use crate::stream::TcpStream;
use crate::wire::{Frame, Framed, HEADER_LEN};

pub(crate) use routing::SharedRoutes;
pub(crate) use setup::{QuicTask, Setup, Tasks, TcpStreams};

/// A frame for the wire: to the process of satellite `to`.
#[derive(Debug)]
pub struct Transmit {
    pub to: SatId,
    pub frame: Vec<u8>,
}

/// A frame waiting for its delivery time: (deliver at, arrival order, link, packet).
type Due = Reverse<(SimTime, u64, LinkId, Framed)>;

/// The most events one call of [`Satellite::handle_timeout`] processes
/// before it returns, so that a driver gets to read the wire.
const EVENTS_PER_CALL: usize = 100_000;

/// One satellite: router, stack, apps, the frames in flight to it, its
/// counters and captures.
#[derive(Debug)]
pub struct Satellite {
    me: SatId,
    name: String,
    scenario: Arc<Scenario>,
    router: Router,
    stack: Stack,
    apps: Vec<Box<dyn App>>,
    routing: routing::Routing,
    /// Whether the satellite wakes at every routing instant (see
    /// [`routing::Routing::wakes_every_instant`]).
    wakes_for_routes: bool,
    /// While the stack's egress pushes back: when the queues will have
    /// drained enough for it to send again.
    egress_ready: Option<SimTime>,
    /// When to work out the next routing instant's view ahead, and the view.
    prefetch_at: Option<SimTime>,
    prefetched: Option<(SimTime, routing::View)>,
    due: BinaryHeap<Due>,
    arrivals: u64,
    next_routing: SimTime,
    next_stats: SimTime,
    stats_every: SimDuration,
    end: SimTime,
    /// The virtual time of the last turn: time never goes back.
    last: SimTime,
    counters: Counters,
    late_max: SimDuration,
    /// When (the due instant of the frame) the lateness was largest.
    late_max_at: SimTime,
    captures: Vec<Capture>,
    /// Local ports for connections a test or a gateway opens.
    next_local_port: u16,
    /// Woken by tasks that hand bytes over (quinn, TCP streams).
    notify: Arc<tokio::sync::Notify>,
    transmits: VecDeque<Transmit>,
    out: Outbox,
    finished: bool,
}

impl Satellite {
    /// Satellite `me`'s index.
    pub fn id(&self) -> SatId {
        self.me
    }

    /// What tasks outside the satellite wait on to hand bytes over: the
    /// driver wakes when it is notified.
    pub fn notify(&self) -> Arc<tokio::sync::Notify> {
        self.notify.clone()
    }

    /// Whether the run is over for this satellite: it sends nothing more,
    /// and what it reports once the wire is drained comes from
    /// [`Satellite::close`].
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// A datagram from the wire, sent by satellite `from` (`None`: from an
    /// address that is no satellite's). Frames of another run, from a
    /// stranger, replayed or malformed are counted and dropped. After the
    /// run is over, frames are still taken (and held): they were in flight
    /// at the stop.
    pub fn handle_frame(&mut self, _now: SimTime, from: Option<SatId>, datagram: &[u8]) {
        if let Some(due) = self.check_frame(from, datagram) {
            self.hold(due, Framed::from_frame(datagram.to_vec()));
        }
    }

    /// [`Satellite::handle_frame`] for a datagram the caller gives away:
    /// held as it is, not copied.
    pub fn handle_owned_frame(&mut self, _now: SimTime, from: Option<SatId>, datagram: Vec<u8>) {
        if let Some(due) = self.check_frame(from, &datagram) {
            self.hold(due, Framed::from_frame(datagram));
        }
    }

    /// Checks a datagram as [`Satellite::handle_frame`] says and counts
    /// it: the link and delivery instant of the packet it carries, if it
    /// is to be held.
    fn check_frame(&mut self, from: Option<SatId>, datagram: &[u8]) -> Option<(LinkId, SimTime)> {
        let frame = match Frame::parse(datagram, self.router.token()) {
            Ok(f) => f,
            Err(e) => {
                self.reject(e.as_str());
                return None;
            }
        };
        let link = frame.header.link;
        if from.is_none() || self.router.peer(link) != from {
            self.reject("unknown-source");
            return None;
        }
        if let Some(Err(replay)) = self.router.accept(link, frame.header.seq) {
            self.reject(replay.as_str());
            return None;
        }
        if frame.end {
            self.router.take_end(link);
            return None;
        }
        self.counters.frames_in += 1;
        self.counters.bytes_in += datagram.len() as u64;
        Some((link, frame.header.deliver))
    }

    /// Holds `packet`, which arrived on `link`, until its delivery instant.
    fn hold(&mut self, (link, deliver): (LinkId, SimTime), packet: Framed) {
        self.arrivals += 1;
        self.due
            .push(Reverse((deliver, self.arrivals, link, packet)));
    }

    /// Once the run is over: an end marker for each link, the last frame
    /// on it (not counted among the frames: it carries no packet).
    pub fn end_frames(&mut self) -> Vec<Transmit> {
        self.router
            .end_frames(self.last)
            .into_iter()
            .map(|(to, frame)| Transmit { to, frame })
            .collect()
    }

    /// Whether a neighbour whose link is not down has yet to send its end
    /// marker.
    pub fn awaits_ends(&self) -> bool {
        self.router.awaits_ends()
    }

    fn reject(&mut self, why: &str) {
        *self.counters.rejected.entry(why.to_owned()).or_default() += 1;
    }

    /// Processes everything due by `now` in virtual-time order, then what
    /// tasks handed over since the last call.
    pub fn handle_timeout(&mut self, now: SimTime) {
        if self.finished {
            return;
        }
        for _ in 0..EVENTS_PER_CALL {
            let t = self.next_event();
            if t > now {
                break;
            }
            let vt = t.max(self.last);
            self.last = vt;
            if vt >= self.end {
                return self.finish();
            }
            self.turn(vt, now);
        }
        self.flush_apps(now);
    }

    /// When the satellite next has something to do.
    pub fn poll_timeout(&mut self) -> SimTime {
        self.next_event()
    }

    /// The next frame to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next report for the launcher.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// The next connection an egress gateway opened, to splice to the
    /// kernel address beside it.
    pub fn poll_splice(&mut self) -> Option<(TcpStream, SocketAddr)> {
        self.out.splices.pop()
    }

    /// Counts frames the wire could not send.
    pub fn count_send_errors(&mut self, n: u64) {
        self.counters.send_errors += n;
    }

    /// The virtual time of the next thing to do.
    ///
    /// Routing instants and stats samples wake no one: a satellite takes
    /// the routing instants it has passed before it next routes a packet
    /// (every satellite still switches at the same instants), and samples
    /// when it next has work, so one that carries no traffic sleeps until
    /// the end. Apps that report progress (bulk receivers) are woken for
    /// their samples.
    fn next_event(&mut self) -> SimTime {
        let apps = self.apps.iter().filter_map(|a| a.next_timer()).min();
        let sample = self
            .apps
            .iter()
            .any(|a| a.samples())
            .then_some(self.next_stats);
        let routing = self.wakes_for_routes.then_some(self.next_routing);
        // While the egress pushes back, the stack has nothing it can send
        // before the queues drain.
        let stack = match self.egress_ready {
            Some(ready) => Some(ready),
            None => self.stack.poll_at(self.last),
        };
        [
            self.prefetch_at,
            self.due.peek().map(|r| r.0.0),
            apps,
            stack,
            sample,
            routing,
        ]
        .into_iter()
        .flatten()
        .chain([self.end])
        .min()
        .unwrap_or(self.end)
    }

    /// One turn at virtual time `vt` (`now` is the caller's clock, for lateness).
    fn turn(&mut self, vt: SimTime, now: SimTime) {
        self.route_to(vt);
        if self.prefetch_at.is_some_and(|p| p <= vt) {
            self.prefetch();
        }
        if self.next_stats <= vt {
            self.sample(vt);
        }
        while self.due.peek().is_some_and(|r| r.0.0 <= vt) {
            let Some(Reverse((due, _, link, packet))) = self.due.pop() else {
                break;
            };
            for c in self.captures.iter_mut() {
                c.record(link, due, packet.packet());
            }
            if now - due > self.late_max {
                (self.late_max, self.late_max_at) = (now - due, due);
            }
            let d = self.router.route(vt, packet, true);
            self.dispatch(d, vt);
        }
        for app in self.apps.iter_mut() {
            app.prepare(vt, &mut self.stack);
        }
        self.poll_stack(vt);
        let mut refill = false;
        for app in self.apps.iter_mut() {
            refill |= app.poll(vt, &mut self.stack, &mut self.out);
        }
        if refill || !self.stack.device.rx.is_empty() {
            self.poll_stack(vt);
        }
        self.adopt_apps();
    }

    /// What tasks handed over since the last turn leaves now, stamped with
    /// the current virtual time.
    fn flush_apps(&mut self, now: SimTime) {
        let mut flushed = false;
        for app in self.apps.iter_mut() {
            flushed |= app.flush(now, &mut self.stack, &mut self.out);
        }
        if flushed {
            let vt = now.max(self.last);
            self.last = vt;
            self.route_to(vt);
            self.poll_stack(vt);
        }
        self.adopt_apps();
    }

    /// Apps made during a pass join the others; apps that are over (a
    /// gateway's or a test's connection, closed) leave the stack.
    fn adopt_apps(&mut self) {
        self.apps.append(&mut self.out.apps);
        let stack = &mut self.stack;
        self.apps.retain_mut(|a| !a.retire(stack));
    }

    /// Runs the stack at `vt` and routes what it sent.
    fn poll_stack(&mut self, vt: SimTime) {
        let burst = self.stack.burst();
        let (budget, ready) = self.router.egress_budget(vt, burst);
        self.stack.device.budget = budget;
        self.egress_ready = ready;
        self.stack.poll(vt, burst);
        while let Some(packet) = self.stack.device.tx.pop_front() {
            let d = self.router.route(vt, packet, false);
            self.dispatch(d, vt);
        }
    }

    fn dispatch(&mut self, d: Decision, now: SimTime) {
        match d {
            Decision::Local(p) => self.stack.device.rx.push_back(p),
            Decision::Send { link, peer, frame } => {
                for c in self.captures.iter_mut() {
                    c.record(link, now, frame.get(HEADER_LEN..).unwrap_or(&[]));
                }
                self.counters.frames_out += 1;
                self.transmits.push_back(Transmit { to: peer, frame });
            }
            Decision::Drop(_) => {}
        }
    }

    /// Takes every routing instant up to `vt`, before anything is routed at `vt`.
    fn route_to(&mut self, vt: SimTime) {
        while self.next_routing <= vt {
            let last = self.next_routing + self.scenario.routing_interval > vt;
            self.update_routes(last);
        }
    }

    /// Takes the snapshot of the routing instant due: port states, and
    /// routes if the satellite will route on them.
    fn update_routes(&mut self, routes: bool) {
        let t = self.next_routing;
        let view = match self.prefetched.take() {
            Some((at, view)) if at == t && routes => view,
            _ => self.routing.at(t, routes),
        };
        // A satellite that routed on the last instant's routes will likely
        // route on the next one's: it works them out ahead, at a moment of
        // its own within the interval, so that thousands of satellites do
        // not compute at the same instant, nor on a packet's path.
        let busy = self.router.routed();
        let world = &self.scenario.world;
        for c in self.router.update(&view.links, view.routes) {
            // A ground link down at the start says nothing (a station has
            // one to every satellite).
            if c.first && c.state == LinkState::Down && world.is_gsl(c.link) {
                continue;
            }
            self.out.events.push_back(Event::Link(protocol::LinkChange {
                sat: self.name.clone(),
                t_s: c.t.as_secs_f64(),
                peer: world.name(c.peer).to_owned(),
                link: c.link.0,
                state: c.state.as_str().to_owned(),
            }));
        }
        let interval = self.scenario.routing_interval;
        self.next_routing += interval;
        if routes && busy && self.routing.prefetches() {
            // Spread over the middle half of the interval by satellite
            // (the golden ratio's fractions fill it evenly).
            let frac = (f64::from(self.me.0) * 0.618_033_988_749_895).fract();
            let offset = interval.as_nanos() as f64 * (0.25 + 0.5 * frac);
            self.prefetch_at = Some(t + SimDuration::from_nanos(offset as u64));
        }
    }

    /// Works out the next routing instant's view ahead of it.
    fn prefetch(&mut self) {
        self.prefetch_at = None;
        let t = self.next_routing;
        let view = self.routing.at(t, true);
        if let Some(r) = &view.routes {
            r.table(self.me);
        }
        self.prefetched = Some((t, view));
    }

    /// The periodic sample: wire figures and apps' progress.
    fn sample(&mut self, vt: SimTime) {
        self.out.events.push_back(Event::Stats(protocol::Stats {
            sat: self.name.clone(),
            t_s: vt.as_secs_f64(),
            frames_in: self.counters.frames_in,
            frames_out: self.counters.frames_out,
            links_up: self.router.links_up(),
        }));
        for app in self.apps.iter_mut() {
            app.sample(vt, &mut self.out);
        }
        // The next sample after this one (a satellite that slept through
        // some samples takes one).
        while self.next_stats <= vt {
            self.next_stats += self.stats_every;
        }
    }

    /// The run is over: the routing instants passed since the last turn
    /// are taken (so that every link change is reported), and what never
    /// finished is reported. The counters wait for [`Satellite::close`].
    fn finish(&mut self) {
        while self.next_routing < self.end {
            self.update_routes(false);
        }
        self.finished = true;
        for app in self.apps.iter_mut() {
            app.finish(self.last, &mut self.out);
        }
        for c in self.captures.iter_mut() {
            c.finish();
        }
    }

    /// The last report, once the run is over and the wire drained: every
    /// counter, the frames still held (in flight at the stop), and
    /// `kernel_drops`, the datagrams the kernel dropped before the wire
    /// socket could read them.
    pub fn close(&mut self, kernel_drops: u64) {
        if !self.finished {
            self.finish();
        }
        let mut counters = self.counters();
        counters.in_flight = self.due.len() as u64;
        counters.kernel_drops = kernel_drops;
        counters.seq_gaps = self.router.seq_gaps();
        self.out.events.push_back(Event::Done(protocol::Done {
            sat: self.name.clone(),
            t_s: self.last.as_secs_f64(),
            counters,
            late_max_us: self.late_max.as_nanos() as f64 / 1e3,
            late_max_at_s: self.late_max_at.as_secs_f64(),
        }));
    }

    /// The wire's and the router's counters.
    fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        self.router.count_into(&mut c);
        c
    }

    /// A local port for a new connection.
    fn local_port(&mut self) -> u16 {
        let p = self.next_local_port;
        let local = orbnet_netem::ports::LOCAL;
        self.next_local_port = if p >= *local.end() {
            *local.start()
        } else {
            p + 1
        };
        p
    }

    /// Counters and link states as JSON, for tests.
    fn counters_json(&self) -> serde_json::Value {
        let world = &self.scenario.world;
        let mut v = serde_json::to_value(self.counters()).unwrap_or_default();
        let links: BTreeMap<String, &str> = self
            .router
            .ports()
            .map(|p| {
                let state = p.status.map_or("down", |l| l.state.as_str());
                (world.name(p.peer).to_owned(), state)
            })
            .collect();
        v["links_up"] = self.router.links_up().into();
        v["links"] = serde_json::json!(links);
        v["tcp_connections"] = self
            .apps
            .iter()
            .map(|a| a.connections())
            .sum::<usize>()
            .into();
        v
    }
}
