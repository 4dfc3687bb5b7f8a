//! Collectives and training steps, as the world sees them: the workload
//! types, the ring order of a group (physical neighbours first), the α–β
//! model of each algorithm over a link snapshot, and the accelerator model.
//!
//! Figures follow nccl-tests (PERFORMANCE.md of NVIDIA/nccl-tests):
//! `algbw = bytes / time`, and `busbw = algbw × factor` with the factor
//! 2(p−1)/p for all-reduce, (p−1)/p for reduce-scatter, all-gather and
//! all-to-all, and 1 for broadcast and send/recv, so that bus bandwidth is
//! comparable with the link rate whatever the rank count.
//!
//! The α–β (Hockney) model: a message of `n` bytes over a path costs
//! α + n/B, with α the one-way propagation delay and B the bottleneck rate.
//! Ring all-reduce takes 2(p−1) such steps of n/p bytes:
//! 2(p−1)α + 2(p−1)/p · n/B (Thakur, Rabenseifner and Gropp, IJHPCA 2005).
//! Every algorithm's steps are listed once, in [`schedule`]: the model
//! walks them, and the satellites follow them on the wire.

use std::sync::Arc;

use crate::routing::Routes;
use crate::topology::Snapshot;
use crate::units::SatId;
use crate::workload::{Algorithm, Op};

mod schedule;

pub use schedule::{
    Call, Combine, Cost, Cut, Fraction, Piece, Schedule, Transfer, Wait, broadcast_chunks,
    ceil_log2, power_of_two_below, schedule,
};

/// Orders `members` so that consecutive ranks (and the last and the first)
/// are joined by an up link wherever a cycle of such links exists: a ring
/// step is then one optical hop. Searches depth-first for a Hamiltonian
/// cycle, trying the neighbour with the fewest onward choices first
/// (Warnsdorff's rule), within a fixed budget. Without a cycle it keeps the
/// longest one-hop path found and places the rest after it, each next to its
/// nearest (by path delay) predecessor, then reorders that ring by local
/// search so that no link carries two ring pairs in one direction.
/// Deterministic: every satellite computes the same order.
pub fn ring_order(snapshot: &Snapshot, members: &[SatId]) -> Vec<SatId> {
    let n = members.len();
    if n <= 2 {
        return members.to_vec();
    }
    let index = |s: SatId| members.iter().position(|&m| m == s);
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for l in snapshot.links.iter().filter(|l| l.is_up()) {
        if let (Some(a), Some(b)) = (index(l.a), index(l.b))
            && a != b
            && !adj[a].contains(&b)
        {
            adj[a].push(b);
            adj[b].push(a);
        }
    }
    for a in &mut adj {
        a.sort_unstable();
    }
    let mut search = Search {
        adj: &adj,
        on: vec![false; n],
        path: vec![0],
        best: vec![0],
        budget: 200_000,
    };
    search.on[0] = true;
    let order = if search.extend() {
        search.path
    } else {
        let mut order = search.best;
        let routes = Routes::new(Arc::new(snapshot.clone()));
        let mut rest: Vec<usize> = (0..n).filter(|i| !order.contains(i)).collect();
        while !rest.is_empty() {
            let last = members[order[order.len() - 1]];
            let delay = |i: usize| {
                routes
                    .path(last, members[i])
                    .map_or(u64::MAX, |p| p.delay.as_nanos())
            };
            let (k, _) = rest
                .iter()
                .enumerate()
                .min_by_key(|(_, i)| delay(**i))
                .unwrap_or((0, &0));
            order.push(rest.remove(k));
        }
        order
    };
    let cycle = (0..n).all(|i| adj[order[i]].contains(&order[(i + 1) % n]));
    // The search costs about n³ per pass: 50 ms for 81 ranks, seconds past
    // a few hundred, paid by every satellite as it reads the scenario.
    let order = if cycle || n > UNTANGLE_MAX_RANKS {
        order
    } else {
        Untangle::new(snapshot, members).improve(order)
    };
    order.into_iter().map(|i| members[i]).collect()
}

/// The most ranks whose ring [`Untangle`] improves.
const UNTANGLE_MAX_RANKS: usize = 128;

/// Improves a ring that is not a cycle of links, where some steps take
/// several hops and their paths may cross links that other ring pairs use
/// in the same direction. Every pair sends at once in every ring step, so a
/// link that k pairs cross in one direction gives each 1/k of its rate, and
/// the most-loaded link paces the whole ring (see [`alpha_beta`]).
/// Local search (2-opt reversals and single-rank moves) lowers, in order,
/// the largest load on a directed link, how many links carry it, and the
/// hops summed over all pairs. Paths are the routing's own.
struct Untangle<'a> {
    routes: Routes,
    members: &'a [SatId],
    /// Directed hops (2 × link index + direction) of each ordered member
    /// pair, by `a · n + b`, once looked up; empty when there is no path.
    paths: Vec<Option<Vec<usize>>>,
    load: Vec<u32>,
}

impl<'a> Untangle<'a> {
    fn new(snapshot: &'a Snapshot, members: &'a [SatId]) -> Self {
        let n = members.len();
        let links = snapshot
            .links
            .iter()
            .map(|l| l.id.0 as usize + 1)
            .max()
            .unwrap_or(0);
        Untangle {
            routes: Routes::new(Arc::new(snapshot.clone())),
            members,
            paths: vec![None; n * n],
            load: vec![0; 2 * links],
        }
    }

    /// Looks up the directed hops from member `a` to member `b`.
    fn fill(&mut self, a: usize, b: usize) {
        let k = a * self.members.len() + b;
        if self.paths[k].is_some() {
            return;
        }
        let (from, to) = (self.members[a], self.members[b]);
        let path = self.routes.path(from, to);
        let hops = path
            .and_then(|p| {
                p.links
                    .iter()
                    .zip(&p.senders)
                    .map(|(&id, &at)| {
                        let l = self.routes.snapshot().link(id)?;
                        let slot = 2 * id.0 as usize + usize::from(l.a != at);
                        (slot < self.load.len()).then_some(slot)
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .unwrap_or_default();
        self.paths[k] = Some(hops);
    }

    /// (largest directed-link load, links at it, total hops): lower is better.
    fn cost(&mut self, order: &[usize]) -> (u32, u32, usize) {
        let n = order.len();
        let m = self.members.len();
        for i in 0..n {
            self.fill(order[i], order[(i + 1) % n]);
        }
        let (mut max, mut at_max, mut hops) = (0, 0, 0);
        let mut empty = false;
        for i in 0..n {
            let p = self.paths[order[i] * m + order[(i + 1) % n]]
                .as_deref()
                .unwrap_or(&[]);
            empty |= p.is_empty();
            hops += p.len();
            for &h in p {
                self.load[h] += 1;
                match self.load[h].cmp(&max) {
                    std::cmp::Ordering::Greater => (max, at_max) = (self.load[h], 1),
                    std::cmp::Ordering::Equal => at_max += 1,
                    std::cmp::Ordering::Less => {}
                }
            }
        }
        for i in 0..n {
            let p = self.paths[order[i] * m + order[(i + 1) % n]]
                .as_deref()
                .unwrap_or(&[]);
            for &h in p {
                self.load[h] = 0;
            }
        }
        if empty {
            (u32::MAX, 0, 0)
        } else {
            (max, at_max, hops)
        }
    }

    fn improve(mut self, mut order: Vec<usize>) -> Vec<usize> {
        let n = order.len();
        let mut best = self.cost(&order);
        for _ in 0..20 {
            let mut better = false;
            for i in 1..n {
                for j in i + 1..n {
                    // Reverse order[i..=j].
                    order[i..=j].reverse();
                    let c = self.cost(&order);
                    if c < best {
                        best = c;
                        better = true;
                    } else {
                        order[i..=j].reverse();
                    }
                    // Move the rank at i to just after j.
                    let r = order.remove(i);
                    order.insert(j, r);
                    let c = self.cost(&order);
                    if c < best {
                        best = c;
                        better = true;
                    } else {
                        let r = order.remove(j);
                        order.insert(i, r);
                    }
                }
            }
            if !better {
                break;
            }
        }
        order
    }
}

struct Search<'a> {
    adj: &'a [Vec<usize>],
    on: Vec<bool>,
    path: Vec<usize>,
    best: Vec<usize>,
    budget: u32,
}

impl Search<'_> {
    /// Extends `path` to a Hamiltonian cycle; true if found.
    fn extend(&mut self) -> bool {
        let n = self.adj.len();
        let Some(&last) = self.path.last() else {
            return false;
        };
        if self.path.len() > self.best.len() {
            self.best = self.path.clone();
        }
        if self.path.len() == n {
            return self.adj[last].contains(&self.path[0]);
        }
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        let mut next: Vec<(usize, usize)> = self.adj[last]
            .iter()
            .filter(|&&v| !self.on[v])
            .map(|&v| (self.adj[v].iter().filter(|&&w| !self.on[w]).count(), v))
            .collect();
        next.sort_unstable();
        for (_, v) in next {
            self.on[v] = true;
            self.path.push(v);
            if self.extend() {
                return true;
            }
            self.path.pop();
            self.on[v] = false;
        }
        false
    }
}

/// The pairs (lower, higher) that exchange data in a halving-doubling
/// all-reduce of `p` ranks: each rank r ≥ q with r − q (the fold), and
/// among the first q, r with r XOR 2^k.
pub fn halving_doubling_partners(p: usize) -> Vec<(usize, usize)> {
    let q = power_of_two_below(p);
    let mut out: Vec<(usize, usize)> = (q..p).map(|r| (r - q, r)).collect();
    let mut mask = 1;
    while mask < q {
        for r in 0..q {
            let partner = r ^ mask;
            if r < partner {
                out.push((r, partner));
            }
        }
        mask <<= 1;
    }
    out
}

/// The pairs of ranks (sender, receiver) an algorithm sends between.
pub fn pairs(op: Op, algorithm: Algorithm, p: usize) -> Vec<(usize, usize)> {
    let ring = |out: &mut Vec<(usize, usize)>| {
        for r in 0..p {
            out.push((r, (r + 1) % p));
        }
    };
    let mut out = Vec::new();
    match (op, algorithm) {
        (Op::AllToAll, _) => {
            for a in 0..p {
                for b in 0..p {
                    if a != b {
                        out.push((a, b));
                    }
                }
            }
        }
        (Op::SendRecv | Op::ReduceScatter | Op::AllGather, _)
        | (Op::AllReduce | Op::Broadcast, Algorithm::Ring) => ring(&mut out),
        (Op::AllReduce | Op::Broadcast, Algorithm::Tree)
        | (Op::Broadcast, Algorithm::HalvingDoubling) => {
            for (parent, child) in tree_edges(p) {
                out.push((parent, child));
                out.push((child, parent));
            }
        }
        (Op::AllReduce, Algorithm::HalvingDoubling) => {
            for (a, b) in halving_doubling_partners(p) {
                out.push((a, b));
                out.push((b, a));
            }
        }
    }
    out.retain(|(a, b)| a != b);
    out
}

/// Binomial tree rooted at rank 0: (parent, child) edges. Rank r's parent
/// is r with its lowest set bit cleared.
pub fn tree_edges(p: usize) -> Vec<(usize, usize)> {
    (1..p).map(|r| (r & (r - 1), r)).collect()
}

/// The α–β model's parameters for one collective, from a link snapshot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlphaBeta {
    /// One-way delay per step, seconds.
    pub alpha: f64,
    /// Bytes per second one pair of ranks gets: its path's slowest link,
    /// shared with the ring's other pairs that cross it in the same
    /// direction.
    pub b: f64,
    /// Bytes per second of the slowest link any pair crosses.
    pub link_b: f64,
}

/// α and B of the paths an algorithm uses, from one link snapshot. For the
/// ring steps α is the mean delay over the ring's pairs: each rank waits
/// only on its predecessor, so the critical path of 2(p−1) steps crosses
/// every pair about equally often. Elsewhere (trees, all-to-all, send/recv)
/// it is the largest.
///
/// B is the slowest pair's rate. In a ring every pair sends at once at
/// every step, so where the ring is not a cycle of links (a lattice with
/// no Hamiltonian cycle) and k pairs' paths cross one link in one
/// direction, each of them gets 1/k of it. Other algorithms' pairs are
/// counted alone. `None` if some pair has no path.
pub fn alpha_beta(
    snapshot: &Snapshot,
    ranks: &[SatId],
    op: Op,
    algorithm: Algorithm,
) -> Option<AlphaBeta> {
    let routes = Routes::new(Arc::new(snapshot.clone()));
    let ring = match op {
        Op::ReduceScatter | Op::AllGather => true,
        Op::AllReduce | Op::Broadcast => algorithm == Algorithm::Ring,
        Op::AllToAll | Op::SendRecv => false,
    };
    let paths = pairs(op, algorithm, ranks.len())
        .into_iter()
        .map(|(a, b)| routes.path(ranks[a], ranks[b]))
        .collect::<Option<Vec<_>>>()?;
    let mut load: std::collections::BTreeMap<(crate::units::LinkId, SatId), f64> =
        std::collections::BTreeMap::new();
    if ring {
        for p in &paths {
            for hop in p.links.iter().copied().zip(p.senders.iter().copied()) {
                *load.entry(hop).or_default() += 1.0;
            }
        }
    }
    let (mut max, mut sum) = (0.0f64, 0.0f64);
    let (mut rate, mut link_rate) = (f64::INFINITY, f64::INFINITY);
    for p in &paths {
        let d = p.delay.as_secs_f64();
        max = max.max(d);
        sum += d;
        for hop in p.links.iter().copied().zip(p.senders.iter().copied()) {
            let r = snapshot.link(hop.0)?.rate.0 as f64;
            link_rate = link_rate.min(r);
            rate = rate.min(r / load.get(&hop).copied().unwrap_or(1.0));
        }
    }
    let alpha = if ring && !paths.is_empty() {
        sum / paths.len() as f64
    } else {
        max
    };
    rate.is_finite().then_some(AlphaBeta {
        alpha,
        b: rate / 8.0,
        link_b: link_rate / 8.0,
    })
}

/// The α–β model's time for `bytes` with `p` ranks, α in seconds and B in
/// bytes per second: the cost of walking the algorithm's [`schedule`], one
/// α per round plus the busiest sender's share of the buffer at B (see
/// [`Schedule::cost`]). For a ring all-reduce that is 2(p−1)α +
/// 2(p−1)/p · n/B; for the chain broadcast in c pieces (p − 2 + c)(α +
/// n/c/B), the lockstep pipeline's critical path.
pub fn model_time(op: Op, algorithm: Algorithm, p: usize, bytes: f64, alpha: f64, b: f64) -> f64 {
    if p < 2 {
        return 0.0;
    }
    schedule(op, algorithm, p, bytes as u64)
        .cost()
        .time(bytes, alpha, b)
}

/// The largest message, in bytes, one rank sends the next in one call of
/// `op` by `algorithm` on a buffer of `bytes` over `p` ranks, when the call
/// runs as ring steps: a part of about `bytes / p` for the ring all-reduce,
/// reduce-scatter and all-gather, a pipelined piece for the chain
/// broadcast. With room for one more element and the chunk header (parts
/// differ by at most one element). `None` for trees, halving–doubling and
/// all-to-all, whose pairs are not ring neighbours.
pub fn ring_message(op: Op, algorithm: Algorithm, p: usize, bytes: u64) -> Option<u64> {
    const SLACK: u64 = 64;
    let whole = match (op, algorithm) {
        (Op::AllReduce, Algorithm::Ring) | (Op::ReduceScatter, _) | (Op::AllGather, _) => {
            bytes.div_ceil(p.max(1) as u64)
        }
        (Op::Broadcast, Algorithm::Ring) => bytes.div_ceil(broadcast_chunks(bytes)),
        _ => return None,
    };
    Some(whole + SLACK)
}

/// The sizes of a sweep: `min`, `min·factor`, … up to `max`, each rounded
/// down to whole elements (at least one).
pub fn sweep(min: u64, max: u64, factor: u64, elem: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut s = min;
    while s <= max {
        let n = (s / elem).max(1) * elem;
        if out.last() != Some(&n) {
            out.push(n);
        }
        if factor < 2 {
            break;
        }
        match s.checked_mul(factor) {
            Some(next) => s = next,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{LinkState, LinkStatus};
    use crate::units::{BitsPerSecond, LinkId, Meters, SimDuration, SimTime};

    fn snap(n: u32, edges: &[(u32, u32)]) -> Snapshot {
        Snapshot {
            t: SimTime::ZERO,
            satellites: n,
            links: edges
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| LinkStatus {
                    id: LinkId(i as u32),
                    a: SatId(a),
                    b: SatId(b),
                    state: LinkState::Up,
                    reason: None,
                    distance: Meters(1000.0),
                    delay: SimDuration::from_nanos(1000),
                    rate: BitsPerSecond::from_gbps(10.0),
                    loss: 0.0,
                })
                .collect(),
            stubs: std::sync::Arc::new([]),
        }
    }

    fn is_cycle(order: &[SatId], s: &Snapshot) -> bool {
        let linked = |a: SatId, b: SatId| {
            s.links
                .iter()
                .any(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
        };
        (0..order.len()).all(|i| linked(order[i], order[(i + 1) % order.len()]))
    }

    #[test]
    fn ring_message_holds_every_part_and_its_header() {
        // Parts of n elements cut p ways, as the ranks cut them:
        // [n·k/p, n·(k+1)/p), plus the 32-byte chunk header.
        for (bytes, p, elem) in [(1u64 << 30, 81usize, 4u64), (1000 * 2, 7, 2), (4, 5, 4)] {
            let n = bytes / elem;
            let largest_part = (0..p as u64)
                .map(|k| (n * (k + 1) / p as u64 - n * k / p as u64) * elem)
                .max()
                .unwrap_or(0);
            for op in [Op::AllReduce, Op::ReduceScatter, Op::AllGather] {
                let m = ring_message(op, Algorithm::Ring, p, bytes);
                assert!(
                    m.is_some_and(|m| m >= largest_part + 32),
                    "{op:?} {bytes} / {p}: {m:?}"
                );
                assert!(
                    m.is_some_and(|m| m <= bytes.div_ceil(p as u64) + 64),
                    "{op:?}: {m:?} is not a part"
                );
            }
        }
        // Pairs that are not ring neighbours have none.
        assert_eq!(
            ring_message(Op::AllReduce, Algorithm::Tree, 8, 1 << 20),
            None
        );
        assert_eq!(
            ring_message(Op::AllToAll, Algorithm::Ring, 8, 1 << 20),
            None
        );
    }

    #[test]
    fn ring_order_finds_the_cycle_of_a_grid() {
        // A 4 × 4 grid of links, numbered row by row: index order is not a
        // cycle (3 → 4 is not a link), a snake is.
        let mut edges = Vec::new();
        for r in 0..4 {
            for c in 0..4 {
                let i = r * 4 + c;
                if c < 3 {
                    edges.push((i, i + 1));
                }
                if r < 3 {
                    edges.push((i, i + 4));
                }
            }
        }
        let s = snap(16, &edges);
        let members: Vec<SatId> = (0..16).map(SatId).collect();
        assert!(!is_cycle(&members, &s));
        let order = ring_order(&s, &members);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, members, "a permutation of the members");
        assert!(is_cycle(&order, &s), "{order:?}");
    }

    #[test]
    fn ring_pairs_that_share_a_link_each_get_a_share() {
        // Four satellites on a line, 0 – 1 – 2 – 3, at 10 Gb/s per link.
        let s = snap(4, &[(0, 1), (1, 2), (2, 3)]);
        let ids = |o: &[u32]| o.iter().map(|&i| SatId(i)).collect::<Vec<_>>();
        // Ring 0, 1, 2, 3: the pairs 0→1, 1→2, 2→3 go one way and 3→0
        // the other way back, so no link carries two pairs in one direction.
        let line = alpha_beta(&s, &ids(&[0, 1, 2, 3]), Op::AllReduce, Algorithm::Ring);
        let line = line.expect("connected");
        assert_eq!(line.b, 10e9 / 8.0);
        // Ring 0, 2, 1, 3: 0→2 and 1→3 both cross 1→2, and 2→1 and 3→0
        // both cross 2→1: each pair gets half a link.
        let crossed = alpha_beta(&s, &ids(&[0, 2, 1, 3]), Op::AllReduce, Algorithm::Ring);
        let crossed = crossed.expect("connected");
        assert_eq!(crossed.b, 10e9 / 8.0 / 2.0);
        assert_eq!(crossed.link_b, 10e9 / 8.0);
        // α: the mean one-way delay of the pairs, 2, 1, 2 and 3 hops of 1 µs.
        assert!((crossed.alpha - 2.0e-6).abs() < 1e-12, "{}", crossed.alpha);
        // A tree's pairs are counted alone.
        let tree = alpha_beta(&s, &ids(&[0, 2, 1, 3]), Op::AllReduce, Algorithm::Tree);
        assert_eq!(tree.expect("connected").b, 10e9 / 8.0);
    }

    #[test]
    fn ring_order_without_a_cycle_keeps_everyone() {
        // A 3 × 3 grid has no Hamiltonian cycle (bipartite, odd count).
        let mut edges = Vec::new();
        for r in 0..3 {
            for c in 0..3 {
                let i = r * 3 + c;
                if c < 2 {
                    edges.push((i, i + 1));
                }
                if r < 2 {
                    edges.push((i, i + 3));
                }
            }
        }
        let s = snap(9, &edges);
        let members: Vec<SatId> = (0..9).map(SatId).collect();
        let order = ring_order(&s, &members);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, members);
        // Eight steps of the ring are single hops, the ninth two hops, and
        // no link carries two ring pairs in one direction: each pair keeps
        // a whole link.
        let one_hop = (0..9)
            .filter(|&i| is_cycle(&[order[i], order[(i + 1) % 9]], &s))
            .count();
        assert_eq!(one_hop, 8, "{order:?}");
        assert_eq!(order[0], SatId(0), "starts at member 0");
        let ab = alpha_beta(&s, &order, Op::AllReduce, Algorithm::Ring);
        assert_eq!(ab.expect("connected").b, 10e9 / 8.0, "{order:?}");
    }

    #[test]
    fn bus_factors_match_nccl_tests() {
        assert!((Op::AllReduce.bus_factor(8) - 1.75).abs() < 1e-12);
        assert!((Op::AllGather.bus_factor(8) - 0.875).abs() < 1e-12);
        assert!((Op::Broadcast.bus_factor(8) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ring_model_is_bandwidth_bound_for_large_messages() {
        // 1 GiB over 8 ranks at 10 Gb/s with 1 ms hops: 2·7·1 ms + 2·7/8·(2^30·8/1e10) s.
        let t = model_time(
            Op::AllReduce,
            Algorithm::Ring,
            8,
            (1u64 << 30) as f64,
            1e-3,
            1.25e9,
        );
        let expect = 0.014 + 1.75 * 0.858_993_459_2;
        assert!((t - expect).abs() < 1e-9, "{t} vs {expect}");
    }

    #[test]
    fn halving_doubling_pairs_and_model() {
        assert_eq!(power_of_two_below(1), 1);
        assert_eq!(power_of_two_below(6), 4);
        assert_eq!(power_of_two_below(8), 8);
        // Six ranks: 4 and 5 fold into 0 and 1; the first four exchange
        // with partners 1 and 2 apart.
        assert_eq!(
            halving_doubling_partners(6),
            [(0, 4), (1, 5), (0, 1), (2, 3), (0, 2), (1, 3)]
        );
        // Eight ranks, by hand: 2·3 exchanges of α, and 2·7/8 of the buffer.
        let (alpha, b, n) = (1e-6, 1e9, 8e6);
        let t = model_time(Op::AllReduce, Algorithm::HalvingDoubling, 8, n, alpha, b);
        assert!((t - (6e-6 + 2.0 * 7.0 / 8.0 * 8e-3)).abs() < 1e-12);
        // Six ranks add the fold: a whole buffer in and out.
        let t6 = model_time(Op::AllReduce, Algorithm::HalvingDoubling, 6, n, alpha, b);
        assert!((t6 - (4e-6 + 2.0 * 3.0 / 4.0 * 8e-3 + 2.0 * (1e-6 + 8e-3))).abs() < 1e-12);
    }

    #[test]
    fn tree_edges_form_a_binomial_tree() {
        let e = tree_edges(8);
        assert_eq!(
            e,
            vec![(0, 1), (0, 2), (2, 3), (0, 4), (4, 5), (4, 6), (6, 7)]
        );
        assert_eq!(ceil_log2(8), 3);
        assert_eq!(ceil_log2(9), 4);
    }

    #[test]
    fn sweep_sizes() {
        assert_eq!(sweep(1024, 65536, 4, 4), vec![1024, 4096, 16384, 65536]);
        // 3 and 6 both round to one element; 12 is three.
        assert_eq!(sweep(3, 16, 2, 4), vec![4, 12]);
    }
}
