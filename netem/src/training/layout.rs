//! Where each rank sits in the plan and the communicator groups it is in.
//! Ranks are numbered tensor-parallel fastest, then pipeline, then data:
//! `rank = dp_index·(pp·tp) + pp_index·tp + tp_index`. A tensor-parallel
//! group is `tp` consecutive ranks; a data-parallel group the `dp` ranks of
//! one (pp_index, tp_index); an expert group `ep` consecutive data-parallel
//! indices of one, and an expert-data group the dp/ep ranks that hold the
//! same experts (data-parallel indices equal modulo ep).

use crate::chakra::{CommGroups, GroupId, Rank};

use super::Plan;

/// A rank's place in the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Coords {
    pub dp: u32,
    pub pp: u32,
    pub tp: u32,
}

/// The groups a rank collects over; `None` where the group would hold
/// only the rank itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RankGroups {
    pub(crate) tp: Option<GroupId>,
    pub(crate) dp: Option<GroupId>,
    pub(crate) ep: Option<GroupId>,
    pub(crate) edp: Option<GroupId>,
}

/// The plan's dimensions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    dp: u32,
    pp: u32,
    tp: u32,
    ep: u32,
    moe: bool,
}

impl Layout {
    pub(crate) fn new(plan: &Plan, moe: bool) -> Layout {
        Layout {
            dp: plan.dp,
            pp: plan.pp,
            tp: plan.tp,
            ep: plan.ep,
            moe,
        }
    }

    pub(crate) fn rank(&self, c: Coords) -> Rank {
        Rank(c.dp * (self.pp * self.tp) + c.pp * self.tp + c.tp)
    }

    pub(crate) fn coords(&self, r: Rank) -> Coords {
        Coords {
            dp: r.0 / (self.pp * self.tp),
            pp: r.0 / self.tp % self.pp,
            tp: r.0 % self.tp,
        }
    }

    /// Every group, and the groups of each rank.
    pub(crate) fn groups(&self) -> (CommGroups, Vec<RankGroups>) {
        let ranks = self.dp * self.pp * self.tp;
        let mut b = Groups {
            all: CommGroups::all(ranks),
            of: vec![RankGroups::default(); ranks as usize],
        };
        for (d, p) in pairs(self.dp, self.pp) {
            let m = (0..self.tp).map(|t| {
                self.rank(Coords {
                    dp: d,
                    pp: p,
                    tp: t,
                })
            });
            b.add(m.collect(), |g, id| g.tp = Some(id));
        }
        for (p, t) in pairs(self.pp, self.tp) {
            let m = (0..self.dp).map(|d| {
                self.rank(Coords {
                    dp: d,
                    pp: p,
                    tp: t,
                })
            });
            b.add(m.collect(), |g, id| g.dp = Some(id));
        }
        if self.moe {
            self.expert_groups(&mut b);
        }
        (b.all, b.of)
    }

    fn expert_groups(&self, b: &mut Groups) {
        let replicas = self.dp / self.ep.max(1);
        for (p, t) in pairs(self.pp, self.tp) {
            let at = |d| {
                self.rank(Coords {
                    dp: d,
                    pp: p,
                    tp: t,
                })
            };
            for k in 0..replicas {
                let m = (0..self.ep).map(|e| at(k * self.ep + e));
                b.add(m.collect(), |g, id| g.ep = Some(id));
            }
            for e in 0..self.ep {
                let m = (0..replicas).map(|k| at(k * self.ep + e));
                b.add(m.collect(), |g, id| g.edp = Some(id));
            }
        }
    }
}

/// Every (a, b) with a < `n` and b < `m`, a slowest.
fn pairs(n: u32, m: u32) -> impl Iterator<Item = (u32, u32)> {
    (0..n).flat_map(move |a| (0..m).map(move |b| (a, b)))
}

/// Groups as they are made.
struct Groups {
    all: CommGroups,
    of: Vec<RankGroups>,
}

impl Groups {
    /// Adds a group of `members` (unless it is one rank) and records it
    /// with `set` in each member's groups.
    fn add(&mut self, members: Vec<Rank>, set: fn(&mut RankGroups, GroupId)) {
        if members.len() < 2 {
            return;
        }
        let id = self.all.add(members.clone());
        for r in members {
            if let Some(g) = self.of.get_mut(r.0 as usize) {
                set(g, id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::Schedule;

    fn layout(dp: u32, tp: u32, pp: u32, ep: u32, moe: bool) -> Layout {
        let plan = Plan {
            dp,
            tp,
            pp,
            ep,
            schedule: Schedule::OneFOneB,
        };
        Layout::new(&plan, moe)
    }

    #[test]
    fn ranks_go_tensor_then_pipeline_then_data() {
        let l = layout(2, 2, 2, 1, false);
        for r in 0..8 {
            assert_eq!(l.rank(l.coords(Rank(r))), Rank(r));
        }
        assert_eq!(
            l.coords(Rank(6)),
            Coords {
                dp: 1,
                pp: 1,
                tp: 0
            }
        );
        let (groups, of) = l.groups();
        let sets: Vec<Vec<u32>> = groups
            .iter()
            .map(|(_, m)| m.iter().map(|r| r.0).collect())
            .collect();
        assert_eq!(
            sets,
            [
                vec![0, 1],
                vec![2, 3],
                vec![4, 5],
                vec![6, 7],
                vec![0, 4],
                vec![1, 5],
                vec![2, 6],
                vec![3, 7],
            ]
        );
        assert_eq!(of[5].tp, Some(GroupId(3)));
        assert_eq!(of[5].dp, Some(GroupId(6)));
        assert_eq!((of[5].ep, of[5].edp), (None, None));
    }

    #[test]
    fn expert_groups_split_the_data_parallel_dimension() {
        // dp 4, ep 2: experts over data indices {0,1} and {2,3}; the same
        // experts sit at {0,2} and {1,3}.
        let (groups, of) = layout(4, 1, 1, 2, true).groups();
        let members = |g: Option<GroupId>| -> Vec<u32> {
            g.and_then(|g| groups.members(g))
                .map(|m| m.iter().map(|r| r.0).collect())
                .unwrap_or_default()
        };
        assert_eq!(members(of[3].ep), [2, 3]);
        assert_eq!(members(of[3].edp), [1, 3]);
        assert_eq!(members(of[3].dp), [0, 1, 2, 3]);
        assert_eq!(of[3].tp, None);
    }
}
