//! A balanced graph partition, for constellations without planes (TLE
//! sets, formations) and shells with fewer planes than hosts.
//!
//! Vertices are satellites; edges are the placement's links, weighted by
//! their cost ([`super::Links::weight`]). Every host gets exactly its share
//! (⌊n/H⌋ or ⌈n/H⌉ satellites, the first hosts one more). Two starts:
//!
//! 1. contiguous blocks of satellite indices;
//! 2. greedy growth from spread seeds: the first seed is the satellite
//!    farthest in hops from satellite 0, each next one the satellite
//!    farthest from the seeds so far (unreachable counts as farthest); then
//!    the hosts take turns, each taking the free satellite most strongly
//!    linked to what it holds (the lowest free one when none is linked).
//!
//! Each start is refined by Kernighan–Lin passes (B. W. Kernighan and
//! S. Lin, "An efficient heuristic procedure for partitioning graphs",
//! Bell System Technical Journal 49(2), 1970) between every two hosts
//! joined by a cut link. A pass swaps pairs tentatively, the best gain
//! first, even at a loss, and keeps the prefix of swaps that gained most,
//! so it escapes a local minimum a greedy swap would stop in, and never
//! raises the cost. Swaps keep the sizes exact. The cheaper result wins,
//! ties to the index blocks: the partition never costs more, so never cuts
//! more links, than contiguous index blocks.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use super::{Links, balanced};

/// Rounds of refinement over every pair of joined hosts.
const ROUNDS: usize = 8;
/// Passes between one pair of hosts in one round.
const PASSES: usize = 4;
/// Tentative swaps a pass makes past its best prefix before it stops.
const PATIENCE: usize = 64;
/// A satellite no host has taken yet.
const FREE: u32 = u32::MAX;

/// Each satellite's host, for `satellites` satellites on `hosts` hosts.
pub(super) fn partition(links: &Links, satellites: u32, hosts: u32) -> Vec<u32> {
    let sizes: Vec<usize> = (0..hosts)
        .map(|h| balanced(satellites, hosts, h) as usize)
        .collect();
    let graph = Graph::new(links, satellites as usize);
    let mut best: Vec<u32> = index_blocks(&sizes);
    if hosts == 1 {
        return best;
    }
    refine(&graph, &mut best);
    let mut grown = grow(&graph, &sizes, &spread_seeds(&graph, hosts as usize));
    refine(&graph, &mut grown);
    if links.cost(&grown) < links.cost(&best) {
        best = grown;
    }
    best
}

/// Adjacency lists sorted by neighbour, with each edge's weight.
struct Graph {
    adj: Vec<Vec<(u32, i64)>>,
}

impl Graph {
    fn new(links: &Links, vertices: usize) -> Graph {
        let mut adj = vec![Vec::new(); vertices];
        for (i, &(a, b)) in links.ends.iter().enumerate() {
            let w = links.weight(i);
            adj[a as usize].push((b, w));
            adj[b as usize].push((a, w));
        }
        for list in &mut adj {
            list.sort_unstable();
        }
        Graph { adj }
    }

    fn len(&self) -> usize {
        self.adj.len()
    }

    fn weight(&self, a: u32, b: u32) -> i64 {
        let list = &self.adj[a as usize];
        list.binary_search_by_key(&b, |e| e.0)
            .map_or(0, |i| list[i].1)
    }
}

/// Host `h` holds the next `sizes[h]` satellites by index.
fn index_blocks(sizes: &[usize]) -> Vec<u32> {
    sizes
        .iter()
        .enumerate()
        .flat_map(|(h, &n)| std::iter::repeat_n(h as u32, n))
        .collect()
}

/// Lowers `dist` to the hop counts from `source` where they are shorter.
fn bfs(graph: &Graph, source: u32, dist: &mut [u32]) {
    dist[source as usize] = 0;
    let mut queue = VecDeque::from([source]);
    while let Some(v) = queue.pop_front() {
        let next = dist[v as usize] + 1;
        for &(u, _) in &graph.adj[v as usize] {
            if next < dist[u as usize] {
                dist[u as usize] = next;
                queue.push_back(u);
            }
        }
    }
}

/// The satellite with the largest distance, the lowest on ties.
fn farthest(dist: &[u32]) -> u32 {
    dist.iter()
        .enumerate()
        .max_by_key(|&(i, &d)| (d, Reverse(i)))
        .map_or(0, |(i, _)| i as u32)
}

/// `hosts` seeds spread over the graph (see the module doc).
fn spread_seeds(graph: &Graph, hosts: usize) -> Vec<u32> {
    let mut from_zero = vec![u32::MAX; graph.len()];
    bfs(graph, 0, &mut from_zero);
    let first = farthest(&from_zero);
    let mut seeds = vec![first];
    let mut dist = vec![u32::MAX; graph.len()];
    bfs(graph, first, &mut dist);
    while seeds.len() < hosts {
        // A seed is at distance 0 and a free satellite at 1 or more (there
        // are more satellites than hosts), so this is a new one.
        let next = farthest(&dist);
        seeds.push(next);
        bfs(graph, next, &mut dist);
    }
    seeds
}

/// The hosts growing their regions in turn.
struct Growth<'g> {
    graph: &'g Graph,
    part: Vec<u32>,
    held: Vec<usize>,
    /// Each host's link weight to each free satellite next to it.
    pull: Vec<BTreeMap<u32, i64>>,
    /// The same as heaps, with stale entries skipped when popped.
    frontier: Vec<BinaryHeap<(i64, Reverse<u32>)>>,
    lowest_free: usize,
}

impl Growth<'_> {
    fn take(&mut self, v: u32, h: usize) {
        self.part[v as usize] = h as u32;
        self.held[h] += 1;
        for &(u, w) in &self.graph.adj[v as usize] {
            if self.part[u as usize] == FREE {
                let pull = self.pull[h].entry(u).or_insert(0);
                *pull += w;
                self.frontier[h].push((*pull, Reverse(u)));
            }
        }
    }

    /// The free satellite host `h` takes next.
    fn next_for(&mut self, h: usize) -> Option<u32> {
        while let Some((pull, Reverse(u))) = self.frontier[h].pop() {
            if self.part[u as usize] == FREE && self.pull[h].get(&u) == Some(&pull) {
                return Some(u);
            }
        }
        while self.part.get(self.lowest_free).is_some_and(|&p| p != FREE) {
            self.lowest_free += 1;
        }
        (self.lowest_free < self.part.len()).then_some(self.lowest_free as u32)
    }
}

/// Greedy growth from `seeds` (one per host, distinct) to `sizes`.
fn grow(graph: &Graph, sizes: &[usize], seeds: &[u32]) -> Vec<u32> {
    let mut g = Growth {
        graph,
        part: vec![FREE; graph.len()],
        held: vec![0; sizes.len()],
        pull: vec![BTreeMap::new(); sizes.len()],
        frontier: vec![BinaryHeap::new(); sizes.len()],
        lowest_free: 0,
    };
    for (h, &s) in seeds.iter().enumerate() {
        g.take(s, h);
    }
    let mut left = graph.len() - seeds.len();
    // While satellites are free some host is short of its size (the sizes
    // add up to the satellites), so every round takes one at least.
    while left > 0 {
        for (h, &size) in sizes.iter().enumerate() {
            if left > 0
                && g.held[h] < size
                && let Some(v) = g.next_for(h)
            {
                g.take(v, h);
                left -= 1;
            }
        }
    }
    g.part
}

/// Kernighan–Lin refinement between every two joined hosts, until a round
/// gains nothing.
fn refine(graph: &Graph, part: &mut [u32]) {
    for _ in 0..ROUNDS {
        let mut gained = false;
        for (a, b) in joined_hosts(graph, part) {
            for _ in 0..PASSES {
                if kl_pass(graph, part, a, b) > 0 {
                    gained = true;
                } else {
                    break;
                }
            }
        }
        if !gained {
            break;
        }
    }
}

/// Pairs of hosts with a link between them.
fn joined_hosts(graph: &Graph, part: &[u32]) -> BTreeSet<(u32, u32)> {
    let mut pairs = BTreeSet::new();
    for (v, list) in graph.adj.iter().enumerate() {
        for &(u, _) in list {
            let (x, y) = (part[v], part[u as usize]);
            if x < y {
                pairs.insert((x, y));
            }
        }
    }
    pairs
}

/// Unlocked satellites of one side, the largest gain `d` first.
type Side = BTreeSet<(Reverse<i64>, u32)>;

/// One Kernighan–Lin pass between hosts `a` and `b`; applies the best
/// prefix of swaps and returns its gain (0: nothing changed).
fn kl_pass(graph: &Graph, part: &mut [u32], a: u32, b: u32) -> i64 {
    // d[v]: what moving v to the other side alone would gain (links to
    // the other side minus links to its own, within the two hosts).
    let mut d = vec![0i64; graph.len()];
    let mut sides: [Side; 2] = [BTreeSet::new(), BTreeSet::new()];
    for v in 0..graph.len() {
        let p = part[v];
        if p != a && p != b {
            continue;
        }
        let other = if p == a { b } else { a };
        for &(u, w) in &graph.adj[v] {
            let q = part[u as usize];
            d[v] += if q == other {
                w
            } else if q == p {
                -w
            } else {
                0
            };
        }
        sides[usize::from(p == b)].insert((Reverse(d[v]), v as u32));
    }
    let limit = sides[0].len().min(sides[1].len());
    let mut swaps: Vec<(u32, u32)> = Vec::new();
    let (mut total, mut best, mut best_len) = (0i64, 0i64, 0usize);
    while swaps.len() < limit {
        let Some((x, y, gain)) = best_swap(graph, &sides) else {
            break;
        };
        sides[0].remove(&(Reverse(d[x as usize]), x));
        sides[1].remove(&(Reverse(d[y as usize]), y));
        part[x as usize] = b;
        part[y as usize] = a;
        moved(graph, part, &mut d, &mut sides, x, (a, b));
        moved(graph, part, &mut d, &mut sides, y, (a, b));
        swaps.push((x, y));
        total += gain;
        if total > best {
            (best, best_len) = (total, swaps.len());
        } else if swaps.len() - best_len > PATIENCE {
            break;
        }
    }
    for &(x, y) in &swaps[best_len..] {
        part[x as usize] = a;
        part[y as usize] = b;
    }
    best
}

/// The unlocked pair (x from `a`'s side, y from `b`'s) whose swap gains
/// most: `d[x] + d[y] − 2 w(x, y)`. The lists go by decreasing `d` and
/// `w ≥ 0`, so a scan stops once `d[x] + d[y]` cannot beat the best.
fn best_swap(graph: &Graph, sides: &[Side; 2]) -> Option<(u32, u32, i64)> {
    let &(Reverse(top_b), _) = sides[1].first()?;
    let mut best: Option<(u32, u32, i64)> = None;
    for &(Reverse(dx), x) in &sides[0] {
        if best.is_some_and(|(_, _, g)| dx + top_b <= g) {
            break;
        }
        for &(Reverse(dy), y) in &sides[1] {
            if best.is_some_and(|(_, _, g)| dx + dy <= g) {
                break;
            }
            let gain = dx + dy - 2 * graph.weight(x, y);
            if best.is_none_or(|(_, _, g)| gain > g) {
                best = Some((x, y, gain));
            }
        }
    }
    best
}

/// Updates the gains of `v`'s unlocked neighbours in the two hosts after
/// `v` changed sides (`part[v]` is already its new host).
fn moved(
    graph: &Graph,
    part: &[u32],
    d: &mut [i64],
    sides: &mut [Side; 2],
    v: u32,
    (a, b): (u32, u32),
) {
    let now = part[v as usize];
    for &(u, w) in &graph.adj[v as usize] {
        let q = part[u as usize];
        if q != a && q != b {
            continue;
        }
        let side = &mut sides[usize::from(q == b)];
        if !side.remove(&(Reverse(d[u as usize]), u)) {
            continue; // locked
        }
        // Now on the same side as v: its link to v turned internal.
        d[u as usize] += if q == now { -2 * w } else { 2 * w };
        side.insert((Reverse(d[u as usize]), u));
    }
}
