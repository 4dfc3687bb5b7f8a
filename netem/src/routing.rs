//! Shortest paths by propagation delay over the links that are up.
//!
//! Every satellite runs Dijkstra from itself over the same snapshot and so
//! computes the same paths as every other satellite: forwarding is
//! consistent without any exchange of routing messages (as in Hypatia,
//! which recomputes forwarding state every 100 ms). Ties break on hop count
//! and then on the satellite index, so the tables are deterministic.
//!
//! Only a satellite that sends or forwards needs its table: [`Routes`]
//! holds one routing instant's snapshot and builds each satellite's table
//! when first asked, then keeps it; the snapshot itself may be made when
//! first needed. One `Routes` may serve every satellite of an in-process
//! run, which all route on the same snapshot.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, OnceLock};

use crate::topology::Snapshot;
use crate::units::{BitsPerSecond, LinkId, SatId, SimDuration};

/// The up links as adjacency lists, packed: satellite `i`'s edges are
/// `edges[offsets[i]..offsets[i + 1]]` (two allocations, however many
/// satellites; every satellite builds one per routing update).
#[derive(Clone, Debug)]
pub struct Graph {
    offsets: Vec<u32>,
    edges: Vec<Edge>,
    /// Nodes routes end at but never pass through (see [`Snapshot::stubs`]).
    stubs: Arc<[bool]>,
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    to: SatId,
    link: LinkId,
    delay: SimDuration,
}

impl Graph {
    /// The graph of `snapshot`'s up links.
    pub fn from_snapshot(snapshot: &Snapshot) -> Graph {
        let n = snapshot.satellites as usize;
        let up = || snapshot.links.iter().filter(|l| l.is_up());
        let mut offsets = vec![0u32; n + 1];
        for l in up() {
            offsets[l.a.index() + 1] += 1;
            offsets[l.b.index() + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill: Vec<u32> = offsets[..n].to_vec();
        let placeholder = Edge {
            to: SatId(0),
            link: LinkId(0),
            delay: SimDuration::ZERO,
        };
        let mut edges = vec![placeholder; offsets[n] as usize];
        for l in up() {
            for (from, to) in [(l.a, l.b), (l.b, l.a)] {
                let slot = &mut fill[from.index()];
                edges[*slot as usize] = Edge {
                    to,
                    link: l.id,
                    delay: l.delay,
                };
                *slot += 1;
            }
        }
        Graph {
            offsets,
            edges,
            stubs: snapshot.stubs.clone(),
        }
    }

    /// Whether `node` ends routes without forwarding.
    fn is_stub(&self, node: SatId) -> bool {
        self.stubs.get(node.index()).copied().unwrap_or(false)
    }

    /// How many satellites the graph spans.
    pub fn satellites(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    fn edges(&self, sat: SatId) -> &[Edge] {
        let i = sat.index();
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.edges[a as usize..b as usize],
            _ => &[],
        }
    }
}

/// The way from one satellite to one destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The neighbour to hand the packet to.
    pub next_hop: SatId,
    /// The link to that neighbour.
    pub link: LinkId,
    /// Sum of propagation delays along the path.
    pub delay: SimDuration,
    pub hops: u32,
}

/// One satellite's routes to every other, indexed by destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutingTable {
    pub source: SatId,
    routes: Vec<Option<Route>>,
}

impl RoutingTable {
    /// The route to `dest`; `None` if unreachable or `dest` is the source.
    pub fn route(&self, dest: SatId) -> Option<Route> {
        self.routes.get(dest.index()).copied().flatten()
    }

    pub fn routes(&self) -> impl Iterator<Item = (SatId, Route)> + '_ {
        self.routes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|r| (SatId(i as u32), r)))
    }
}

/// Dijkstra from `source` over `graph`.
pub fn routes_from(graph: &Graph, source: SatId) -> RoutingTable {
    let n = graph.satellites();
    let mut best: Vec<Option<(SimDuration, u32)>> = vec![None; n];
    let mut first: Vec<Option<(SatId, LinkId)>> = vec![None; n];
    let mut done = vec![false; n];
    let mut heap = BinaryHeap::new();
    if source.index() < n {
        best[source.index()] = Some((SimDuration::ZERO, 0));
        heap.push(Reverse((SimDuration::ZERO, 0u32, source)));
    }
    while let Some(Reverse((delay, hops, node))) = heap.pop() {
        if std::mem::replace(&mut done[node.index()], true) {
            continue;
        }
        if node != source && graph.is_stub(node) {
            continue;
        }
        for e in graph.edges(node) {
            let cand = (delay + e.delay, hops + 1);
            let slot = &mut best[e.to.index()];
            if done[e.to.index()] || slot.is_some_and(|b| b <= cand) {
                continue;
            }
            *slot = Some(cand);
            first[e.to.index()] = if node == source {
                Some((e.to, e.link))
            } else {
                first[node.index()]
            };
            heap.push(Reverse((cand.0, cand.1, e.to)));
        }
    }
    let routes = (0..n)
        .map(|i| {
            if i == source.index() {
                return None;
            }
            match (best[i], first[i]) {
                (Some((delay, hops)), Some((next_hop, link))) => Some(Route {
                    next_hop,
                    link,
                    delay,
                    hops,
                }),
                _ => None,
            }
        })
        .collect();
    RoutingTable { source, routes }
}

/// Where a [`Routes`] gets its snapshot.
enum Source {
    Ready(Arc<Snapshot>),
    /// Computed on first use: a satellite that forwards nothing never
    /// needs more than its own links.
    Lazy(Box<dyn Fn() -> Snapshot + Send + Sync>),
}

/// The routes of one routing instant: each satellite's table, built when
/// first asked for and kept.
pub struct Routes {
    source: Source,
    snapshot: OnceLock<Arc<Snapshot>>,
    graph: OnceLock<Graph>,
    tables: OnceLock<Vec<OnceLock<RoutingTable>>>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables = self
            .tables
            .get()
            .map_or(0, |t| t.iter().filter(|x| x.get().is_some()).count());
        f.debug_struct("Routes")
            .field("snapshot", &self.snapshot.get().map(|s| s.t))
            .field("tables", &tables)
            .finish()
    }
}

impl Routes {
    /// The routes over `snapshot`.
    pub fn new(snapshot: Arc<Snapshot>) -> Routes {
        Routes::from_source(Source::Ready(snapshot))
    }

    /// The routes over the snapshot `make` gives, made when first needed.
    pub fn lazy(make: impl Fn() -> Snapshot + Send + Sync + 'static) -> Routes {
        Routes::from_source(Source::Lazy(Box::new(make)))
    }

    fn from_source(source: Source) -> Routes {
        Routes {
            source,
            snapshot: OnceLock::new(),
            graph: OnceLock::new(),
            tables: OnceLock::new(),
        }
    }

    /// The snapshot the routes follow.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        self.snapshot.get_or_init(|| match &self.source {
            Source::Ready(s) => s.clone(),
            Source::Lazy(make) => Arc::new(make()),
        })
    }

    fn graph(&self) -> &Graph {
        self.graph
            .get_or_init(|| Graph::from_snapshot(self.snapshot()))
    }

    /// Satellite `source`'s table.
    pub fn table(&self, source: SatId) -> Option<&RoutingTable> {
        let n = self.graph().satellites();
        let tables = self
            .tables
            .get_or_init(|| (0..n).map(|_| OnceLock::new()).collect());
        let slot = tables.get(source.index())?;
        Some(slot.get_or_init(|| routes_from(self.graph(), source)))
    }

    /// Whether satellite `source`'s table has been built.
    pub fn has_table(&self, source: SatId) -> bool {
        self.tables
            .get()
            .and_then(|t| t.get(source.index()))
            .is_some_and(|t| t.get().is_some())
    }

    /// The route from `from` to `to`.
    pub fn route(&self, from: SatId, to: SatId) -> Option<Route> {
        self.table(from)?.route(to)
    }

    /// The hop-by-hop path from `from` to `to` as the satellites forward
    /// along it (each hop's next hop from its own table), if any.
    pub fn path(&self, from: SatId, to: SatId) -> Option<Path> {
        let snapshot = self.snapshot();
        let mut at = from;
        let mut p = Path {
            links: Vec::new(),
            senders: Vec::new(),
            delay: SimDuration::ZERO,
            bottleneck: BitsPerSecond(u64::MAX),
        };
        while at != to {
            if p.links.len() > snapshot.satellites as usize {
                return None;
            }
            let r = self.route(at, to)?;
            let l = snapshot.link(r.link)?;
            p.links.push(r.link);
            p.senders.push(at);
            p.delay += l.delay;
            p.bottleneck = p.bottleneck.min(l.rate);
            at = r.next_hop;
        }
        (!p.links.is_empty()).then_some(p)
    }
}

/// A path as the satellites forward along it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    pub links: Vec<LinkId>,
    /// The satellite that sends on each of `links` (a link carries each
    /// direction at its full rate).
    pub senders: Vec<SatId>,
    pub delay: SimDuration,
    /// The slowest link's rate.
    pub bottleneck: BitsPerSecond,
}

impl Path {
    /// Round-trip time over the path's propagation delays.
    pub fn rtt(&self) -> SimDuration {
        self.delay + self.delay
    }

    /// Bandwidth-delay product of the round trip at the bottleneck rate, bytes.
    pub fn bdp_bytes(&self) -> f64 {
        self.bottleneck.0 as f64 / 8.0 * self.rtt().as_secs_f64()
    }
}

/// Figures over all pairs: the network's diameter and mean path.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RouteSummary {
    pub diameter_hops: u32,
    pub max_delay: SimDuration,
    pub mean_hops: f64,
    /// Ordered pairs with no path.
    pub unreachable_pairs: u64,
}

/// Builds every satellite's table.
pub fn summarize(routes: &Routes) -> RouteSummary {
    let n = routes.graph().satellites();
    let mut s = RouteSummary::default();
    let mut hop_sum = 0u64;
    let mut reached = 0u64;
    for src in 0..n {
        let Some(table) = routes.table(SatId(src as u32)) else {
            continue;
        };
        for (_, r) in table.routes() {
            s.diameter_hops = s.diameter_hops.max(r.hops);
            s.max_delay = s.max_delay.max(r.delay);
            hop_sum += u64::from(r.hops);
            reached += 1;
        }
    }
    let pairs = (n as u64) * (n as u64).saturating_sub(1);
    s.unreachable_pairs = pairs - reached;
    s.mean_hops = if reached > 0 {
        hop_sum as f64 / reached as f64
    } else {
        0.0
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{LinkState, LinkStatus};
    use crate::units::{BitsPerSecond, Meters, SimTime};

    /// A hand-made snapshot: 0–1 (1 ms), 1–2 (1 ms), 0–2 (5 ms), 2–3 (1 ms), 4 isolated.
    fn routes() -> Routes {
        let link = |id, a, b, ms| LinkStatus {
            id: LinkId(id),
            a: SatId(a),
            b: SatId(b),
            state: LinkState::Up,
            reason: None,
            distance: Meters(0.0),
            delay: SimDuration::from_millis(ms),
            rate: BitsPerSecond(1),
            loss: 0.0,
        };
        let mut down = link(4, 3, 4, 1);
        down.state = LinkState::Down;
        Routes::new(Arc::new(Snapshot {
            t: SimTime::ZERO,
            satellites: 5,
            links: vec![
                link(0, 0, 1, 1),
                link(1, 1, 2, 1),
                link(2, 0, 2, 5),
                link(3, 2, 3, 1),
                down,
            ],
            stubs: Arc::new([]),
        }))
    }

    #[test]
    fn next_hops_follow_the_shortest_delay() {
        let r = routes();
        let to3 = r.route(SatId(0), SatId(3)).expect("reachable");
        assert_eq!((to3.next_hop, to3.link, to3.hops), (SatId(1), LinkId(0), 3));
        assert_eq!(to3.delay, SimDuration::from_millis(3));
        let to2 = r.route(SatId(0), SatId(2)).expect("reachable");
        assert_eq!(to2.next_hop, SatId(1), "two 1 ms hops beat one 5 ms hop");
        assert_eq!(r.route(SatId(0), SatId(0)), None);
        assert_eq!(
            r.route(SatId(0), SatId(4)),
            None,
            "a down link carries no route"
        );
        assert_eq!(
            r.route(SatId(3), SatId(0)).map(|r| r.next_hop),
            Some(SatId(2))
        );
        let p = r.path(SatId(3), SatId(0)).expect("a path");
        assert_eq!(p.senders, [SatId(3), SatId(2), SatId(1)]);
        assert_eq!(p.delay, SimDuration::from_millis(3));
    }

    #[test]
    fn a_lazy_snapshot_is_made_once_when_first_needed() {
        let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let m = made.clone();
        let lazy = Routes::lazy(move || {
            m.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            routes().snapshot().as_ref().clone()
        });
        assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert!(lazy.route(SatId(0), SatId(3)).is_some());
        assert!(lazy.route(SatId(1), SatId(3)).is_some());
        assert_eq!(made.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// A random snapshot: `n` satellites, links between random pairs
        /// (parallel links allowed) with delays of 1 ns to 50 ms, some down.
        fn snapshot() -> impl Strategy<Value = Snapshot> {
            (2u32..24).prop_flat_map(|n| {
                let link = (0..n, 0..n, 1u64..50_000_000, prop::bool::weighted(0.85));
                prop::collection::vec(link, 0..(n as usize * 3)).prop_map(move |ls| {
                    let links = ls
                        .into_iter()
                        .filter(|(a, b, _, _)| a != b)
                        .enumerate()
                        .map(|(i, (a, b, ns, up))| LinkStatus {
                            id: LinkId(i as u32),
                            a: SatId(a),
                            b: SatId(b),
                            state: if up { LinkState::Up } else { LinkState::Down },
                            reason: None,
                            distance: Meters(0.0),
                            delay: SimDuration::from_nanos(ns),
                            rate: BitsPerSecond(1),
                            loss: 0.0,
                        })
                        .collect();
                    Snapshot {
                        t: SimTime::ZERO,
                        satellites: n,
                        links,
                        stubs: Arc::new([]),
                    }
                })
            })
        }

        /// All-pairs shortest delays by Floyd–Warshall over the up links:
        /// an independent oracle for Dijkstra's tables.
        fn floyd_warshall(s: &Snapshot) -> Vec<Vec<Option<u64>>> {
            let n = s.satellites as usize;
            let mut d = vec![vec![None; n]; n];
            for (i, row) in d.iter_mut().enumerate() {
                row[i] = Some(0);
            }
            for l in s.links.iter().filter(|l| l.is_up()) {
                let (a, b, w) = (l.a.index(), l.b.index(), l.delay.as_nanos());
                for (x, y) in [(a, b), (b, a)] {
                    if d[x][y].is_none_or(|v| w < v) {
                        d[x][y] = Some(w);
                    }
                }
            }
            for k in 0..n {
                for i in 0..n {
                    for j in 0..n {
                        if let (Some(ik), Some(kj)) = (d[i][k], d[k][j])
                            && d[i][j].is_none_or(|v| ik + kj < v)
                        {
                            d[i][j] = Some(ik + kj);
                        }
                    }
                }
            }
            d
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// Every satellite's next hops, followed hop by hop as the
            /// satellites forward (each by its own table), reach the
            /// destination without a loop, along up links, in exactly the
            /// shortest delay the oracle finds; a pair the oracle cannot
            /// join has no route.
            #[test]
            fn next_hops_form_loop_free_shortest_paths(s in snapshot()) {
                let oracle = floyd_warshall(&s);
                let n = s.satellites;
                let routes = Routes::new(Arc::new(s.clone()));
                for from in 0..n {
                    for to in 0..n {
                        let (f, t) = (SatId(from), SatId(to));
                        let best = oracle[from as usize][to as usize];
                        let route = routes.route(f, t);
                        if from == to || best.is_none() {
                            prop_assert!(route.is_none(), "{from} → {to}: {route:?}");
                            prop_assert!(routes.path(f, t).is_none());
                            continue;
                        }
                        let route = route.expect("checked above");
                        prop_assert_eq!(Some(route.delay.as_nanos()), best);
                        // Hop by hop, each satellite by its own table.
                        let (mut at, mut walked, mut seen) = (f, 0u64, vec![f]);
                        while at != t {
                            let r = routes.route(at, t).expect("a route at every hop");
                            let l = s.link(r.link).expect("a link of the snapshot");
                            prop_assert!(l.is_up(), "forwarded over a down link");
                            let ends = [l.a, l.b];
                            prop_assert!(ends.contains(&at) && ends.contains(&r.next_hop));
                            walked += l.delay.as_nanos();
                            at = r.next_hop;
                            prop_assert!(!seen.contains(&at), "a loop through {at:?}");
                            seen.push(at);
                        }
                        prop_assert_eq!(Some(walked), best, "{} → {} walked", from, to);
                        let p = routes.path(f, t).expect("a path");
                        prop_assert_eq!(p.delay, route.delay);
                        prop_assert_eq!(p.links.len(), seen.len() - 1);
                    }
                }
            }
        }
    }

    #[test]
    fn summary_over_all_pairs() {
        let s = summarize(&routes());
        assert_eq!(s.diameter_hops, 3);
        assert_eq!(s.max_delay, SimDuration::from_millis(3));
        // 4 connected satellites: 12 ordered pairs reached; 4 × 2 involve satellite 4.
        assert_eq!(s.unreachable_pairs, 8);
    }
}
