//! Which satellite each rank of a plan runs on. Tensor parallelism
//! all-reduces activations four times per layer and micro-batch, on the
//! critical path; pipeline stages send one activation per micro-batch;
//! data parallelism all-reduces gradients once a step, overlapping
//! backward (Narayanan et al., SC'21, §3: "tensor parallelism within a
//! server, pipeline parallelism across servers"). So:
//!
//! - [`Placement::Compact`] builds tensor-parallel groups of the nearest
//!   satellites, by path delay at the workload's start: each group is
//!   seeded with the satellite farthest from the others still free (the
//!   edge of what is left, so that no stragglers are stranded apart) and
//!   grown by the free satellite of least summed delay to the group. The
//!   groups are then chained, each next to the free group nearest the last
//!   (least delay between any two of their members), and the chain cut
//!   into the `dp` pipelines of `pp` consecutive stages. Within a group the
//!   ranks follow [`crate::collective::ring_order`], so that ring steps are
//!   single hops where the links allow.
//! - [`Placement::Spread`] takes the candidates in ring order and puts the
//!   rank at (dp, pp, tp) at position tp·(pp·dp) + pp·dp_count + dp: each
//!   tensor-parallel group spread evenly around the ring, the contrast to
//!   compact.
//!
//! Delays come from the routes the satellites use ([`crate::routing`]);
//! satellites without a path between them are `u64::MAX` apart. Ties go
//! to the candidate that comes first in ring order, so every satellite
//! computes the same placement.

use std::sync::Arc;

use crate::chakra::Rank;
use crate::routing::Routes;
use crate::topology::Snapshot;
use crate::units::SatId;

use super::layout::{Coords, Layout};
use super::{Placement, Plan};

/// The satellite of every rank (by rank) of `plan` on `candidates`, one
/// per rank, given in ring order.
pub(crate) fn place(
    placement: Placement,
    plan: &Plan,
    snapshot: &Snapshot,
    candidates: &[SatId],
) -> Vec<SatId> {
    let layout = Layout::new(plan, false);
    let mut out = vec![SatId(0); candidates.len()];
    match placement {
        Placement::Spread => {
            let (dp, pp) = (plan.dp, plan.pp);
            for (r, slot) in out.iter_mut().enumerate() {
                let c = layout.coords(Rank(r as u32));
                let at = c.tp * (pp * dp) + c.pp * dp + c.dp;
                *slot = candidates[at as usize];
            }
        }
        Placement::Compact => {
            let groups = compact_groups(plan, snapshot, candidates);
            for (r, slot) in out.iter_mut().enumerate() {
                let c = layout.coords(Rank(r as u32));
                let g = &groups[(c.dp * plan.pp + c.pp) as usize];
                *slot = g[c.tp as usize];
            }
        }
    }
    debug_assert_eq!(
        layout.rank(Coords {
            dp: 0,
            pp: 0,
            tp: 0
        }),
        Rank(0)
    );
    out
}

/// Tensor-parallel groups in pipeline order: group dp·pp + pp_index.
fn compact_groups(plan: &Plan, snapshot: &Snapshot, candidates: &[SatId]) -> Vec<Vec<SatId>> {
    let n = candidates.len();
    let routes = Routes::new(Arc::new(snapshot.clone()));
    let delay: Vec<Vec<u64>> = candidates
        .iter()
        .map(|&a| {
            candidates
                .iter()
                .map(|&b| match a == b {
                    true => 0,
                    false => routes.route(a, b).map_or(u64::MAX, |r| r.delay.as_nanos()),
                })
                .collect()
        })
        .collect();
    let sum = |i: usize, among: &[usize]| -> u64 {
        among
            .iter()
            .fold(0u64, |s, &j| s.saturating_add(delay[i][j]))
    };
    let tp = plan.tp as usize;
    let mut free: Vec<usize> = (0..n).collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    while !free.is_empty() {
        // The first of the farthest from the rest (max_by_key keeps the last).
        let seed = *free
            .iter()
            .rev()
            .max_by_key(|&&i| sum(i, &free))
            .unwrap_or(&free[0]);
        free.retain(|&i| i != seed);
        let mut group = vec![seed];
        while group.len() < tp && !free.is_empty() {
            let next = *free
                .iter()
                .rev()
                .min_by_key(|&&i| sum(i, &group))
                .unwrap_or(&free[0]);
            free.retain(|&i| i != next);
            group.push(next);
        }
        groups.push(group);
    }
    let between = |a: &[usize], b: &[usize]| -> u64 {
        a.iter()
            .flat_map(|&i| b.iter().map(move |&j| (i, j)))
            .map(|(i, j)| delay[i][j])
            .min()
            .unwrap_or(u64::MAX)
    };
    let mut chain = vec![groups.remove(0)];
    while !groups.is_empty() {
        let last = &chain[chain.len() - 1];
        let (k, _) = groups
            .iter()
            .enumerate()
            .rev()
            .min_by_key(|(_, g)| between(last, g))
            .unwrap_or((0, &groups[0]));
        chain.push(groups.remove(k));
    }
    chain
        .into_iter()
        .map(|g| {
            let mut sats: Vec<SatId> = g.iter().map(|&i| candidates[i]).collect();
            sats.sort_unstable();
            crate::collective::ring_order(snapshot, &sats)
        })
        .collect()
}
