//! Where a satellite gets its links' states and its routes at each routing
//! instant. Every satellite switches at the same instants (the grid of
//! `routing_interval_ms`) to the snapshot of that instant; what differs is
//! how much it computes:
//!
//! - [`Routing::Own`] (a process of its own): its links' states from the
//!   orbits of their ends alone (a few positions, not the world's), and the
//!   whole snapshot and its routing table only when it first has a packet
//!   to send or forward in that interval. A satellite that carries no
//!   traffic never computes a route.
//! - [`Routing::Shared`] (the in-process harness): one snapshot per instant
//!   for every satellite, and each satellite's table built once, when
//!   first needed, in a [`Routes`] they all hold.
//!
//! Where links take time to acquire, or terminals are shared out by the
//! whole world, the full snapshot is computed at every instant, as the
//! acquisition history needs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use orbnet_netem::fault::Fault;
use orbnet_netem::routing::Routes;
use orbnet_netem::{LinkId, SatId, SimDuration, SimTime, Snapshot, Timeline};

/// What a satellite routes on from one routing instant to the next.
#[derive(Clone, Debug)]
pub(crate) struct View {
    /// The states of (at least) the satellite's own links.
    pub links: Arc<Snapshot>,
    /// The routes, unless the instant was passed over (see [`Routing::at`]).
    pub routes: Option<Arc<Routes>>,
}

/// A satellite's source of [`View`]s.
#[derive(Debug)]
pub(crate) enum Routing {
    Own(Box<Own>),
    Shared {
        shared: Arc<SharedRoutes>,
        /// This satellite's links.
        links: Vec<LinkId>,
    },
}

impl Routing {
    /// The view at routing instant `t`. A satellite that slept through
    /// instants takes them in turn to see its links change, but routes
    /// only on the last (`routes`), so only that one needs the routes.
    pub(super) fn at(&mut self, t: SimTime, routes: bool) -> View {
        match self {
            Routing::Own(o) => o.at(t),
            Routing::Shared { shared, links } => {
                if routes || shared.with(|i| needs_history(&i.timeline)) {
                    return shared.at(t);
                }
                shared.with(|i| View {
                    links: Arc::new(i.timeline.world().links_at(t, links, i.timeline.faults())),
                    routes: None,
                })
            }
        }
    }

    /// Whether every routing instant must be taken when it comes, not
    /// when the satellite next has work: links take time to acquire, and
    /// each snapshot depends on those before it.
    pub(super) fn wakes_every_instant(&self) -> bool {
        match self {
            Routing::Own(o) => needs_history(&o.timeline),
            Routing::Shared { shared, .. } => shared.with(|i| needs_history(&i.timeline)),
        }
    }

    /// Whether working out a view ahead of its instant pays: a satellite
    /// of its own computes its routes itself (in-process, one computation
    /// serves all).
    pub(super) fn prefetches(&self) -> bool {
        matches!(self, Routing::Own(o) if !needs_history(&o.timeline))
    }

    /// A fault injected from now on.
    pub(super) fn add_fault(&mut self, f: Fault) {
        match self {
            Routing::Own(o) => o.timeline.add_fault(f),
            Routing::Shared { shared, .. } => shared.with(|i| i.add_fault(f)),
        }
    }

    /// Satellite `sat` restarted at `at`: its injected crash ends.
    pub(super) fn heal(&mut self, sat: SatId, at: SimTime) {
        match self {
            Routing::Own(o) => o.timeline.heal(sat, at),
            Routing::Shared { shared, .. } => shared.with(|i| i.heal(sat, at)),
        }
    }
}

/// One satellite's own routing state.
#[derive(Debug)]
pub(crate) struct Own {
    timeline: Timeline,
    links: Vec<LinkId>,
}

impl Own {
    pub(super) fn new(timeline: Timeline, links: Vec<LinkId>) -> Own {
        Own { timeline, links }
    }

    fn at(&mut self, t: SimTime) -> View {
        if needs_history(&self.timeline) {
            let full = Arc::new(self.timeline.at(t));
            return View {
                links: full.clone(),
                routes: Some(Arc::new(Routes::new(full))),
            };
        }
        let links = Arc::new(self.timeline.links(t, &self.links));
        let world = self.timeline.world().clone();
        let faults = self.timeline.faults().to_vec();
        let at = links.t;
        View {
            links,
            routes: Some(Arc::new(Routes::lazy(move || {
                world.snapshot_with(at, &faults)
            }))),
        }
    }
}

/// Whether each snapshot depends on those before it (links acquire over
/// time), so that every instant must be computed in order.
fn needs_history(timeline: &Timeline) -> bool {
    timeline.world().link_model().acquisition > SimDuration::ZERO
}

/// The views of every satellite of an in-process run.
#[derive(Debug)]
pub struct SharedRoutes {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    timeline: Timeline,
    /// Changes with every injected fault: views made before it are stale.
    version: u64,
    /// The last few views (satellites ask for one instant in turn).
    recent: VecDeque<(SimTime, u64, View)>,
}

/// How many views [`SharedRoutes`] keeps.
const RECENT: usize = 4;

impl SharedRoutes {
    pub fn new(timeline: Timeline) -> SharedRoutes {
        SharedRoutes {
            inner: Mutex::new(Inner {
                timeline,
                version: 0,
                recent: VecDeque::new(),
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    fn at(&self, t: SimTime) -> View {
        self.with(|i| i.at(t))
    }
}

impl Inner {
    fn at(&mut self, t: SimTime) -> View {
        let v = self.version;
        if let Some((_, _, view)) = self.recent.iter().find(|r| r.0 == t && r.1 == v) {
            return view.clone();
        }
        let snapshot = if needs_history(&self.timeline) {
            self.timeline.at(t)
        } else {
            self.timeline
                .world()
                .snapshot_with(t, self.timeline.faults())
        };
        let full = Arc::new(snapshot);
        let view = View {
            links: full.clone(),
            routes: Some(Arc::new(Routes::new(full))),
        };
        if self.recent.len() >= RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((t, v, view.clone()));
        view
    }

    /// Every satellite passes on the same fault: it counts once.
    fn add_fault(&mut self, f: Fault) {
        if !self.timeline.faults().contains(&f) {
            self.timeline.add_fault(f);
            self.version += 1;
        }
    }

    fn heal(&mut self, sat: SatId, at: SimTime) {
        let before = self.timeline.faults().to_vec();
        self.timeline.heal(sat, at);
        if self.timeline.faults() != before.as_slice() {
            self.version += 1;
        }
    }
}
