//! Communicator groups, as ASTRA-sim's `--comm-group-configuration` file
//! gives them (astra-sim `workload/Workload.cc`, `initialize_comm_groups`):
//! a JSON object whose keys are group numbers written in decimal and whose
//! values are arrays of ranks, `{"1": [0, 1, 2, 3], "2": [4, 5, 6, 7]}`. A
//! collective names its group with `pg_name`; "" or "0" (or none) means
//! every rank, so keys start at 1 (`CommunicatorGroup::set_id` asserts
//! `id > 0`). Members keep the order the file lists them in (ASTRA-sim
//! sorts them to find a rank's position in the group).

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::graph::{GroupId, Op, Rank, RankGraph};
use super::{ChakraError, Problem};

/// The communicator groups of a job of `ranks` ranks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommGroups {
    all: Vec<Rank>,
    groups: BTreeMap<GroupId, Vec<Rank>>,
}

impl CommGroups {
    /// Only the group of every rank (no comm-group file).
    pub fn all(ranks: u32) -> CommGroups {
        CommGroups {
            all: (0..ranks).map(Rank).collect(),
            groups: BTreeMap::new(),
        }
    }

    /// Parses a comm-group file for a job of `ranks` ranks; `file` names it
    /// in errors, which name the key.
    pub fn parse(json: &str, file: &str, ranks: u32) -> Result<CommGroups, ChakraError> {
        let fail = |key: &str, reason: String| {
            ChakraError::new(
                file,
                Problem::Group {
                    key: key.to_owned(),
                    reason,
                },
            )
        };
        let value: Value = serde_json::from_str(json).map_err(|e| fail("", e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(fail("", "must be a JSON object of group: [ranks]".into()));
        };
        let mut groups = CommGroups::all(ranks);
        for (key, members) in &map {
            let id = group_number(key).map_err(|r| fail(key, r))?;
            let members = group_members(members, ranks).map_err(|r| fail(key, r))?;
            if groups.groups.insert(id, members).is_some() {
                return Err(fail(key, format!("group {} is listed twice", id.0)));
            }
        }
        Ok(groups)
    }

    /// How many ranks the job has.
    pub fn ranks(&self) -> u32 {
        self.all.len() as u32
    }

    /// The members of `group`, `None` if there is no such group.
    pub fn members(&self, group: GroupId) -> Option<&[Rank]> {
        if group == GroupId::ALL {
            Some(&self.all)
        } else {
            self.groups.get(&group).map(Vec::as_slice)
        }
    }

    /// The groups of the file, by number (not [`GroupId::ALL`]).
    pub fn iter(&self) -> impl Iterator<Item = (GroupId, &[Rank])> {
        self.groups.iter().map(|(&g, m)| (g, m.as_slice()))
    }

    /// The comm-group file of these groups.
    pub fn to_json(&self) -> String {
        let map: serde_json::Map<String, Value> = self
            .groups
            .iter()
            .map(|(g, m)| (g.0.to_string(), m.iter().map(|r| r.0).collect()))
            .collect();
        Value::Object(map).to_string()
    }

    /// Adds a group of `members` under the next free number.
    pub(crate) fn add(&mut self, members: Vec<Rank>) -> GroupId {
        let id = GroupId(self.groups.keys().next_back().map_or(1, |g| g.0 + 1));
        self.groups.insert(id, members);
        id
    }

    /// Checks that `graph`'s collectives name groups of these and its
    /// sends and receives ranks of the job; `file` names the graph's trace.
    pub fn check(&self, graph: &RankGraph, file: &str) -> Result<(), ChakraError> {
        for n in graph.nodes() {
            let problem = match n.op {
                Op::Collective { group, .. } if self.members(group).is_none() => {
                    Problem::UnknownGroup {
                        node: n.id,
                        group: group.0,
                    }
                }
                Op::Send { to: rank, .. } | Op::Recv { from: rank, .. }
                    if rank.0 >= self.ranks() =>
                {
                    Problem::UnknownRank {
                        node: n.id,
                        rank: rank.0,
                        ranks: self.ranks(),
                    }
                }
                _ => continue,
            };
            return Err(ChakraError::new(file, problem));
        }
        Ok(())
    }
}

/// A key: a decimal group number ≥ 1.
fn group_number(key: &str) -> Result<GroupId, String> {
    match key.parse::<u32>() {
        Ok(0) => Err("group 0 is every rank (pg_name \"\" or \"0\"); number groups from 1".into()),
        Ok(n) if key.bytes().all(|b| b.is_ascii_digit()) => Ok(GroupId(n)),
        _ => Err(format!(
            "must be a group number ≥ 1 in decimal (got {key:?})"
        )),
    }
}

/// A value: a non-empty array of distinct ranks below `ranks`.
fn group_members(value: &Value, ranks: u32) -> Result<Vec<Rank>, String> {
    let Value::Array(items) = value else {
        return Err(format!("must be an array of ranks (got {value})"));
    };
    if items.is_empty() {
        return Err("must list at least one rank".into());
    }
    let mut members = Vec::with_capacity(items.len());
    let mut seen = HashSet::with_capacity(items.len());
    for item in items {
        let rank = item
            .as_u64()
            .and_then(|r| u32::try_from(r).ok())
            .filter(|&r| r < ranks)
            .map(Rank)
            .ok_or_else(|| format!("must hold ranks below {ranks} (got {item})"))?;
        if !seen.insert(rank) {
            return Err(format!("rank {} is listed twice", rank.0));
        }
        members.push(rank);
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(json: &str) -> String {
        CommGroups::parse(json, "groups.json", 8)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn parses_astra_sims_groups_and_writes_them_back() {
        let json = r#"{"1": [0, 1, 2, 3], "2": [7, 6, 5, 4]}"#;
        let g = CommGroups::parse(json, "groups.json", 8).expect("parses");
        let ranks = |v: &[u32]| v.iter().copied().map(Rank).collect::<Vec<_>>();
        assert_eq!(g.members(GroupId(2)), Some(ranks(&[7, 6, 5, 4]).as_slice()));
        assert_eq!(g.members(GroupId::ALL).map(<[Rank]>::len), Some(8));
        assert_eq!(g.members(GroupId(3)), None);
        assert_eq!(g.to_json(), r#"{"1":[0,1,2,3],"2":[7,6,5,4]}"#);
        assert_eq!(CommGroups::parse(&g.to_json(), "x", 8), Ok(g));
        assert_eq!(CommGroups::all(4).iter().count(), 0);
    }

    #[test]
    fn refuses_bad_keys_and_members_naming_the_key() {
        assert_eq!(
            refused(r#"{"tp": [0, 1]}"#),
            "groups.json: tp: must be a group number ≥ 1 in decimal (got \"tp\")"
        );
        assert!(refused(r#"{"0": [0, 1]}"#).starts_with("groups.json: 0: group 0 is every rank"));
        assert_eq!(
            refused(r#"{"3": [0, 8]}"#),
            "groups.json: 3: must hold ranks below 8 (got 8)"
        );
        assert_eq!(
            refused(r#"{"3": [1, 1]}"#),
            "groups.json: 3: rank 1 is listed twice"
        );
        assert_eq!(
            refused(r#"{"3": []}"#),
            "groups.json: 3: must list at least one rank"
        );
        assert_eq!(
            refused(r#"{"1": [0], "01": [1]}"#),
            "groups.json: 1: group 1 is listed twice"
        );
        assert!(refused("[1, 2]").starts_with("groups.json: : must be a JSON object"));
        assert!(refused("{").starts_with("groups.json: : EOF while parsing"));
    }

    #[test]
    fn a_graph_may_only_name_groups_and_ranks_of_the_job() {
        let groups = CommGroups::parse(r#"{"1": [0, 1]}"#, "g", 2).expect("parses");
        let mut g = RankGraph::default();
        let ar = Op::Collective {
            kind: super::super::CollectiveKind::AllReduce,
            bytes: crate::units::Bytes(8),
            group: GroupId(2),
        };
        g.push("ar".into(), ar, vec![], vec![]);
        let e = groups.check(&g, "t.0.et").expect_err("no group 2");
        assert_eq!(
            e.to_string(),
            "t.0.et: node 0: pg_name 2: no such communicator group"
        );
        let mut g = RankGraph::default();
        let send = Op::Send {
            to: Rank(2),
            bytes: crate::units::Bytes(8),
            tag: 0,
        };
        g.push("send".into(), send, vec![], vec![]);
        let e = groups.check(&g, "t.0.et").expect_err("no rank 2");
        assert_eq!(
            e.to_string(),
            "t.0.et: node 0: rank 2 is not in the job (2 ranks)"
        );
    }
}
