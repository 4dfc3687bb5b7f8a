//! What the web view knows about a run, shared between whoever fills it
//! and the server that reads it: the world over time ([`Sky`]), the events
//! in the order the launcher collected them (as JSON, with their index as
//! their identity), the virtual time the run has reached, the summary, and
//! whether the run is over.
//!
//! A replay fills it at once and it never changes; a live run
//! (`orbnet up --web`) fills it as it goes, through the supervisor's
//! [`Observer`](crate::up::Observer) hook, from another thread than the
//! server's: hence the locks, held only to copy in or out.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{OnceLock, PoisonError, RwLock};

use orbnet_netem::SimTime;
use orbnet_node::protocol::Event;
use tokio::sync::watch;

use super::sky::Sky;
use super::traffic::Traffic;

/// A run as the view serves it.
#[derive(Debug)]
pub(crate) struct Feed {
    live: bool,
    /// Whether the view has the run's events (a scenario alone has none).
    has_events: bool,
    sky: OnceLock<Sky>,
    events: RwLock<Vec<String>>,
    traffic: RwLock<Traffic>,
    /// Virtual nanoseconds the run has reached.
    now: AtomicU64,
    summary: OnceLock<String>,
    ended: watch::Sender<bool>,
    /// Live streams open now.
    followers: AtomicUsize,
}

impl Feed {
    /// A live run's feed, empty until the run begins.
    pub(crate) fn live() -> Feed {
        Feed::new(true, true)
    }

    /// A finished run (`events`: what `events.jsonl` holds, if anything),
    /// or a scenario alone (`events` None); time stands at the end.
    pub(crate) fn replay(sky: Sky, events: Option<Vec<Event>>, summary: Option<String>) -> Feed {
        let f = Feed::new(false, events.is_some());
        f.now.store(
            (SimTime::ZERO + sky.scenario().duration).as_nanos(),
            Ordering::Relaxed,
        );
        f.begin(sky);
        for e in events.iter().flatten() {
            f.push(e);
        }
        f.finish(summary);
        f
    }

    fn new(live: bool, has_events: bool) -> Feed {
        Feed {
            live,
            has_events,
            sky: OnceLock::new(),
            events: RwLock::new(Vec::new()),
            traffic: RwLock::new(Traffic::default()),
            now: AtomicU64::new(0),
            summary: OnceLock::new(),
            ended: watch::Sender::new(false),
            followers: AtomicUsize::new(0),
        }
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live
    }

    /// The run's world; a second call changes nothing.
    pub(crate) fn begin(&self, sky: Sky) {
        let _ = self.sky.set(sky);
    }

    /// The world, once the run has begun.
    pub(crate) fn sky(&self) -> Option<&Sky> {
        self.sky.get()
    }

    /// Adds the next event (after [`Feed::begin`]).
    pub(crate) fn push(&self, e: &Event) {
        if let Some(sky) = self.sky.get() {
            self.traffic
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .record(e, sky.scenario());
        }
        self.events
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(e.json());
    }

    /// The run has reached `t` (time never goes back).
    pub(crate) fn set_now(&self, t: SimTime) {
        self.now.fetch_max(t.as_nanos(), Ordering::Relaxed);
    }

    pub(crate) fn now(&self) -> SimTime {
        SimTime::from_nanos(self.now.load(Ordering::Relaxed))
    }

    /// The run is over, with its summary if it has one.
    pub(crate) fn finish(&self, summary: Option<String>) {
        if let Some(s) = summary {
            let _ = self.summary.set(s);
        }
        self.ended.send_replace(true);
    }

    pub(crate) fn ended(&self) -> bool {
        *self.ended.borrow()
    }

    pub(crate) fn summary(&self) -> Option<&str> {
        self.summary.get().map(String::as_str)
    }

    /// How many events there are.
    pub(crate) fn event_count(&self) -> usize {
        self.events
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Up to `max` events from index `since` (as JSON), and the index after them.
    pub(crate) fn events_from(&self, since: usize, max: usize) -> (Vec<String>, usize) {
        let events = self.events.read().unwrap_or_else(PoisonError::into_inner);
        let from = since.min(events.len());
        let to = from.saturating_add(max).min(events.len());
        (events[from..to].to_vec(), to)
    }

    /// `/api/state` at `t`, once the run has begun.
    pub(crate) fn state_json(&self, t: SimTime) -> Option<String> {
        let sky = self.sky.get()?;
        if !self.has_events {
            return Some(sky.state_json(t, None));
        }
        let traffic = self.traffic.read().unwrap_or_else(PoisonError::into_inner);
        Some(sky.state_json(t, Some(&traffic)))
    }

    /// A live stream opened: counted until the guard is dropped.
    pub(crate) fn follow(self: &std::sync::Arc<Self>) -> Follower {
        self.followers.fetch_add(1, Ordering::Relaxed);
        Follower(self.clone())
    }

    /// Live streams open now.
    pub(crate) fn followers(&self) -> usize {
        self.followers.load(Ordering::Relaxed)
    }
}

/// Counts one open live stream (see [`Feed::follow`]).
#[derive(Debug)]
pub(crate) struct Follower(std::sync::Arc<Feed>);

impl Follower {
    pub(crate) fn feed(&self) -> &Feed {
        &self.0
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.followers.fetch_sub(1, Ordering::Relaxed);
    }
}
