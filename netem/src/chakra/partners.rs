//! Whether the ranks of a job agree with one another, so that every
//! communication node finds its partners: the k-th collective a rank
//! issues on a group is, on every member, the same collective of the same
//! size (ASTRA-sim and NCCL match collectives of a communicator by their
//! order of issue; here the order is the graph's, every dependency first);
//! a collective's rank is a member of its group; and the k-th send from
//! rank a to rank b with a tag meets the k-th receive on b from a with that
//! tag, of the same size (MPI's non-overtaking rule, which NCCL's
//! point-to-point keeps per peer). A job that breaks one would hang or
//! fail mid-run; here it is refused up front, naming file and node.

use std::collections::BTreeMap;

use super::graph::{CollectiveKind, GroupId, Op, Rank, RankGraph};
use super::{ChakraError, CommGroups, Problem};
use crate::units::Bytes;

/// One rank's collectives on one group, in issue order: (node id, kind, bytes).
type Issued = Vec<(u64, CollectiveKind, Bytes)>;

/// Checks `graphs` (by rank) against each other; `file` names rank r's
/// trace in errors.
pub fn check_partners(
    graphs: &[RankGraph],
    groups: &CommGroups,
    file: &dyn Fn(usize) -> String,
) -> Result<(), ChakraError> {
    let fail = |r: usize, node: u64, reason: String| {
        ChakraError::new(&file(r), Problem::Partner { node, reason })
    };
    // Each rank's collectives per group.
    let mut issued: BTreeMap<(GroupId, usize), Issued> = BTreeMap::new();
    // Sends and receives per (from, to, tag), in order: (node id, bytes).
    let mut sends: BTreeMap<(usize, usize, u32), Vec<(u64, Bytes)>> = BTreeMap::new();
    let mut recvs: BTreeMap<(usize, usize, u32), Vec<(u64, Bytes)>> = BTreeMap::new();
    for (r, g) in graphs.iter().enumerate() {
        for n in g.nodes() {
            match n.op {
                Op::Collective { kind, bytes, group } => {
                    let members = groups.members(group).unwrap_or(&[]);
                    if !members.contains(&Rank(r as u32)) {
                        let why =
                            format!("collective on group {}, which rank {r} is not in", group.0);
                        return Err(fail(r, n.id, why));
                    }
                    issued
                        .entry((group, r))
                        .or_default()
                        .push((n.id, kind, bytes));
                }
                Op::Send { to, bytes, tag } => {
                    let at = (r, to.0 as usize, tag);
                    sends.entry(at).or_default().push((n.id, bytes));
                }
                Op::Recv { from, bytes, tag } => {
                    let at = (from.0 as usize, r, tag);
                    recvs.entry(at).or_default().push((n.id, bytes));
                }
                _ => {}
            }
        }
    }
    collectives_agree(&issued, groups, &fail)?;
    for (&(from, to, tag), list) in &sends {
        let theirs = recvs.get(&(from, to, tag)).map_or(&[][..], Vec::as_slice);
        for (k, &(id, bytes)) in list.iter().enumerate() {
            match theirs.get(k) {
                None => {
                    let why =
                        format!("send to rank {to} (tag {tag}) that rank {to} never receives");
                    return Err(fail(from, id, why));
                }
                Some(&(rid, b)) if b != bytes => {
                    let why = format!(
                        "receives {} from rank {from} (tag {tag}), whose send (node {id}) is of {}",
                        b.0, bytes.0
                    );
                    return Err(fail(to, rid, why));
                }
                Some(_) => {}
            }
        }
    }
    for (&(from, to, tag), list) in &recvs {
        let sent = sends.get(&(from, to, tag)).map_or(0, Vec::len);
        if let Some(&(id, _)) = list.get(sent) {
            let why = format!("receive from rank {from} (tag {tag}) that rank {from} never sends");
            return Err(fail(to, id, why));
        }
    }
    Ok(())
}

/// Every member of each group issues the same collectives in the same order.
fn collectives_agree(
    issued: &BTreeMap<(GroupId, usize), Issued>,
    groups: &CommGroups,
    fail: &dyn Fn(usize, u64, String) -> ChakraError,
) -> Result<(), ChakraError> {
    let groups_used: std::collections::BTreeSet<GroupId> = issued.keys().map(|k| k.0).collect();
    for g in groups_used {
        let members = groups.members(g).unwrap_or(&[]);
        let list = |r: Rank| {
            issued
                .get(&(g, r.0 as usize))
                .map_or(&[][..], Vec::as_slice)
        };
        // The longest list is the reference: a member short of it lacks a partner.
        let Some(&lead) = members
            .iter()
            .max_by_key(|&&r| (list(r).len(), std::cmp::Reverse(r)))
        else {
            continue;
        };
        let reference = list(lead);
        for &m in members {
            let mine = list(m);
            for (k, &(id, kind, bytes)) in reference.iter().enumerate() {
                match mine.get(k) {
                    None => {
                        let why = format!(
                            "collective {k} on group {} ({kind} of {} bytes), which rank {} never issues",
                            g.0, bytes.0, m.0
                        );
                        return Err(fail(lead.0 as usize, id, why));
                    }
                    Some(&(mid, mk, mb)) if (mk, mb) != (kind, bytes) => {
                        let why = format!(
                            "collective {k} on group {} is {mk} of {} bytes here, {kind} of {} bytes on rank {} (node {id})",
                            g.0, mb.0, bytes.0, lead.0
                        );
                        return Err(fail(m.0 as usize, mid, why));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::SimDuration;

    fn files(r: usize) -> String {
        format!("t.{r}.et")
    }

    fn ar(bytes: u64) -> Op {
        Op::Collective {
            kind: CollectiveKind::AllReduce,
            bytes: Bytes(bytes),
            group: GroupId::ALL,
        }
    }

    fn graph(ops: Vec<Op>) -> RankGraph {
        let mut g = RankGraph::default();
        for (i, op) in ops.into_iter().enumerate() {
            g.push(format!("n{i}"), op, vec![], vec![]);
        }
        g
    }

    #[test]
    fn matching_collectives_and_messages_pass() {
        let send = Op::Send {
            to: Rank(1),
            bytes: Bytes(8),
            tag: 3,
        };
        let recv = Op::Recv {
            from: Rank(0),
            bytes: Bytes(8),
            tag: 3,
        };
        let compute = Op::Compute {
            duration: SimDuration::from_micros(1),
            flops: None,
        };
        let graphs = [
            graph(vec![ar(64), send]),
            graph(vec![compute, ar(64), recv]),
        ];
        assert_eq!(check_partners(&graphs, &CommGroups::all(2), &files), Ok(()));
    }

    #[test]
    fn a_missing_or_different_partner_is_named_by_file_and_node() {
        let groups = CommGroups::all(2);
        let e = check_partners(
            &[graph(vec![ar(64), ar(8)]), graph(vec![ar(64)])],
            &groups,
            &files,
        )
        .expect_err("rank 1 lacks one");
        assert_eq!(
            e.to_string(),
            "t.0.et: node 1: collective 1 on group 0 (ALL_REDUCE of 8 bytes), which rank 1 never issues"
        );
        let e = check_partners(&[graph(vec![ar(64)]), graph(vec![ar(32)])], &groups, &files)
            .expect_err("sizes differ");
        assert!(
            e.to_string().starts_with(
                "t.1.et: node 0: collective 0 on group 0 is ALL_REDUCE of 32 bytes here"
            ),
            "{e}"
        );
        let send = Op::Send {
            to: Rank(1),
            bytes: Bytes(8),
            tag: 3,
        };
        let e = check_partners(&[graph(vec![send]), graph(vec![])], &groups, &files)
            .expect_err("no receive");
        assert_eq!(
            e.to_string(),
            "t.0.et: node 0: send to rank 1 (tag 3) that rank 1 never receives"
        );
        let recv = Op::Recv {
            from: Rank(1),
            bytes: Bytes(8),
            tag: 4,
        };
        let e = check_partners(&[graph(vec![recv]), graph(vec![])], &groups, &files)
            .expect_err("no send");
        assert_eq!(
            e.to_string(),
            "t.0.et: node 0: receive from rank 1 (tag 4) that rank 1 never sends"
        );
        let groups = CommGroups::parse(r#"{"1": [1]}"#, "g.json", 2).expect("parses");
        let mine = Op::Collective {
            kind: CollectiveKind::Barrier,
            bytes: Bytes(0),
            group: GroupId(1),
        };
        let e = check_partners(&[graph(vec![mine]), graph(vec![])], &groups, &files)
            .expect_err("not a member");
        assert_eq!(
            e.to_string(),
            "t.0.et: node 0: collective on group 1, which rank 0 is not in"
        );
    }
}
