//! Generated jobs: plan checks, the counts of each operation, a run of the
//! graphs with rendezvous point-to-point and collectives (every operation
//! completes, so dependencies are consistent across ranks), the compute
//! against the analytic figures, and the trip through Chakra files.

use std::collections::HashMap;

use super::*;
use crate::chakra::{
    CollectiveKind, GroupId, Op, RankGraph, decode_trace, encode_trace, trace_file_name,
};
use crate::workload::{Accelerator, DType};

fn spec(dp: u32, tp: u32, pp: u32) -> JobSpec {
    JobSpec {
        model: Model {
            layers: 4,
            hidden: 256,
            heads: 8,
            ffn: 1024,
            seq_len: 128,
            vocab: 1000,
            dtype: DType::Bf16,
            experts: None,
            top_k: None,
        },
        batch: Batch {
            micro_batch: 2,
            global_batch: 16,
        },
        plan: Plan {
            dp,
            tp,
            pp,
            ep: 1,
            schedule: Schedule::OneFOneB,
        },
        accelerator: Accelerator {
            name: "test".into(),
            peak_flops: 1e15,
            utilization: 0.5,
        },
        ranks: dp * tp * pp,
    }
}

fn refused(s: JobSpec) -> PlanError {
    Job::new(s).expect_err("refused")
}

fn count(g: &RankGraph, f: impl Fn(&Op) -> bool) -> usize {
    g.nodes().iter().filter(|n| f(&n.op)).count()
}

/// Collectives of `kind` over `group` (any group when `None`).
fn collectives(g: &RankGraph, kind: CollectiveKind, group: Option<Option<GroupId>>) -> usize {
    count(g, |op| match op {
        Op::Collective {
            kind: k, group: at, ..
        } => *k == kind && group.is_none_or(|want| want == Some(*at)),
        _ => false,
    })
}

#[test]
fn plan_checks_name_the_key() {
    let mut s = spec(2, 3, 2);
    s.ranks = 12;
    assert_eq!(refused(s).to_string(), "tp: must divide heads = 8 (got 3)");
    let mut s = spec(2, 2, 2);
    s.ranks = 6;
    assert_eq!(
        refused(s).to_string(),
        "ranks: must equal dp·tp·pp = 2·2·2 = 8 (got 6)"
    );
    let mut s = spec(2, 2, 2);
    s.batch.global_batch = 18;
    assert_eq!(refused(s).key, "global_batch");
    let mut s = spec(1, 1, 3);
    s.ranks = 3;
    assert_eq!(refused(s).to_string(), "pp: must divide layers = 4 (got 3)");
    let mut s = spec(2, 1, 1);
    s.plan.ep = 2;
    assert_eq!(refused(s).to_string(), "ep: needs `experts` (got 2)");
    let mut s = spec(2, 1, 1);
    (s.model.experts, s.plan.ep) = (Some(4), 4);
    assert_eq!(refused(s).to_string(), "ep: must divide dp = 2 (got 4)");
    let mut s = spec(2, 1, 1);
    s.model.top_k = Some(2);
    assert_eq!(refused(s).key, "top_k");
    let mut s = spec(2, 1, 1);
    s.model.heads = 0;
    assert_eq!(refused(s).to_string(), "heads: must be ≥ 1 (got 0)");
    let mut s = spec(2, 1, 1);
    s.accelerator.utilization = 1.5;
    assert_eq!(refused(s).key, "accelerator.utilization");
}

#[test]
fn dp2_tp2_pp2_has_the_expected_operations_on_every_rank() {
    let job = Job::new(spec(2, 2, 2)).expect("valid");
    assert_eq!(job.micro_batches(), 4);
    let (m, layers_per_stage) = (4, 2);
    let groups = job.comm_groups();
    for (r, g) in job.rank_graphs().iter().enumerate() {
        let c = job.coords(Rank(r as u32));
        let is = |want: &str| format!("rank {r} ({c:?}): {want}");
        let tp_group: Vec<Rank> = (0..2).map(|tp| job.rank(Coords { tp, ..c })).collect();
        let dp_group: Vec<Rank> = (0..2).map(|dp| job.rank(Coords { dp, ..c })).collect();
        // Two tensor-parallel all-reduces forward and two backward per layer.
        let tp = all_reduces_over(g, &groups, &tp_group);
        assert_eq!(tp, 4 * layers_per_stage * m, "{}", is("tp all-reduces"));
        // A bucket per layer, and the embedding (first stage) or the
        // output projection (last stage).
        let dp = all_reduces_over(g, &groups, &dp_group);
        assert_eq!(dp, layers_per_stage + 1, "{}", is("dp all-reduces"));
        let all = collectives(g, CollectiveKind::AllReduce, None);
        assert_eq!(all, tp + dp, "{}", is("no other all-reduces"));
        // One pipeline message per micro-batch each way on each side.
        let sends = count(g, |op| matches!(op, Op::Send { .. }));
        let recvs = count(g, |op| matches!(op, Op::Recv { .. }));
        assert_eq!((sends, recvs), (m, m), "{}", is("sends and receives"));
        assert_eq!(collectives(g, CollectiveKind::AllToAll, None), 0);
    }
    run(&job.rank_graphs(), &groups).expect("runs to the end");
}

/// All-reduces over the group whose members are `members`.
fn all_reduces_over(g: &RankGraph, groups: &CommGroups, members: &[Rank]) -> usize {
    count(g, |op| {
        matches!(op, Op::Collective { kind: CollectiveKind::AllReduce, group, .. }
            if groups.members(*group) == Some(members))
    })
}

#[test]
fn gpipe_and_mixture_of_experts_graphs_run_to_the_end() {
    let mut s = spec(4, 1, 2);
    s.plan.schedule = Schedule::GPipe;
    (s.model.experts, s.model.top_k, s.plan.ep) = (Some(4), Some(2), 2);
    s.batch.global_batch = 32;
    let job = Job::new(s).expect("valid");
    let graphs = job.rank_graphs();
    let m = job.micro_batches() as usize;
    for g in &graphs {
        // Dispatch and combine, forward and backward, per layer of the stage.
        assert_eq!(collectives(g, CollectiveKind::AllToAll, None), 4 * 2 * m);
        // Each layer: dense gradients over dp, expert gradients over dp/ep.
        let ar = collectives(g, CollectiveKind::AllReduce, None);
        assert_eq!(ar, 2 * 2 + 1);
    }
    run(&graphs, &job.comm_groups()).expect("runs to the end");
}

#[test]
fn compute_adds_up_to_the_analytic_step() {
    let job = Job::new(spec(2, 2, 2)).expect("valid");
    let f = job.figures();
    let (mut flops, mut nanos) = (0.0, 0.0);
    for g in job.rank_graphs() {
        for n in g.nodes() {
            if let Op::Compute {
                duration,
                flops: Some(x),
            } = n.op
            {
                flops += x as f64;
                nanos += duration.as_nanos() as f64;
            }
        }
    }
    let expect = f.flops_per_token * f.tokens_per_step as f64;
    assert!(
        (flops - expect).abs() / expect < 1e-6,
        "{flops} vs {expect}"
    );
    let ideal = f.ideal_step.as_nanos() as f64 * 8.0;
    assert!((nanos - ideal).abs() / ideal < 1e-3, "{nanos} vs {ideal}");
    // 8 ranks at 0.5 PFLOP/s each.
    assert!((f.ideal_tokens_per_sec - 4e15 / f.flops_per_token).abs() < 1e-6);
    assert_eq!(f.tokens_per_step, 16 * 128);
    // m = 4, p = 2: one slot in five is bubble.
    assert!((f.bubble_fraction - 0.2).abs() < 1e-12);
    let stretched = f.ideal_step.as_nanos() as f64 / 0.8;
    assert!((f.pipelined_step.as_nanos() as f64 - stretched).abs() < 2.0);
}

#[test]
fn bubble_is_p_minus_one_over_m_plus_p_minus_one() {
    assert_eq!(bubble_fraction(1, 8), 0.0);
    assert!((bubble_fraction(4, 12) - 3.0 / 15.0).abs() < 1e-12);
    assert!((bubble_fraction(8, 1) - 7.0 / 8.0).abs() < 1e-12);
}

#[test]
fn a_generated_job_exports_as_chakra_files_and_reads_back() {
    let job = Job::new(spec(2, 2, 2)).expect("valid");
    let groups = job.comm_groups();
    let json = groups.to_json();
    assert!(json.starts_with(r#"{"1":[0,1],"2":[2,3]"#), "{json}");
    let back = crate::chakra::CommGroups::parse(&json, "job.json", 8).expect("parses");
    assert_eq!(back, groups);
    for (r, g) in job.rank_graphs().iter().enumerate() {
        let file = trace_file_name("job", r as u32);
        let bytes = encode_trace(&g.to_trace());
        let read = RankGraph::from_trace(&decode_trace(&bytes, &file).expect("decodes"), &file);
        let read = read.expect("reads");
        back.check(&read, &file).expect("groups and ranks exist");
        // Durations go through whole microseconds.
        assert_eq!(read.nodes().len(), g.nodes().len());
        for (a, b) in read.nodes().iter().zip(g.nodes()) {
            assert_eq!(
                (a.id, &a.name, &a.data_deps, &a.ctrl_deps),
                (b.id, &b.name, &b.data_deps, &b.ctrl_deps)
            );
        }
    }
    assert_eq!(job.rank_graph(Rank(5)).as_ref(), job.rank_graphs().get(5));
    assert_eq!(job.rank_graph(Rank(8)), None);
}

#[test]
fn the_runner_catches_ranks_waiting_on_each_other() {
    // Each rank receives before it sends: neither receive can complete.
    let mut graphs = vec![RankGraph::default(), RankGraph::default()];
    for (r, g) in graphs.iter_mut().enumerate() {
        let peer = Rank(1 - r as u32);
        let bytes = crate::units::Bytes(8);
        let recv = g.push(
            "recv".into(),
            Op::Recv {
                from: peer,
                bytes,
                tag: 0,
            },
            vec![],
            vec![],
        );
        g.push(
            "send".into(),
            Op::Send {
                to: peer,
                bytes,
                tag: 0,
            },
            vec![recv],
            vec![],
        );
    }
    let e = run(&graphs, &CommGroups::all(2)).expect_err("deadlock");
    assert_eq!(e, "rank 0: recv never completes");
}

/// Runs `graphs` until nothing more can complete: a node is ready when its
/// dependencies have completed; a send completes with its receive when both
/// are ready; the k-th collective of each member of a group completes when
/// all are ready. Errors on a mismatch or if some node never completes.
fn run(graphs: &[RankGraph], groups: &CommGroups) -> Result<(), String> {
    let mut done: Vec<Vec<bool>> = graphs
        .iter()
        .map(|g| vec![false; g.nodes().len()])
        .collect();
    let seq = collective_sequence(graphs);
    loop {
        let mut progress = false;
        for r in 0..graphs.len() {
            for i in 0..graphs[r].nodes().len() {
                if !done[r][i] && ready(&graphs[r], &done[r], i) {
                    progress |= complete(graphs, groups, &seq, &mut done, r, i)?;
                }
            }
        }
        if !progress {
            break;
        }
    }
    for (r, d) in done.iter().enumerate() {
        if let Some(i) = d.iter().position(|x| !x) {
            return Err(format!(
                "rank {r}: {} never completes",
                graphs[r].nodes()[i].name
            ));
        }
    }
    Ok(())
}

/// (rank, group, k) → node index of the rank's k-th collective on the group.
type Sequence = HashMap<(usize, GroupId, usize), usize>;

fn collective_sequence(graphs: &[RankGraph]) -> Sequence {
    let mut seq = HashMap::new();
    for (r, g) in graphs.iter().enumerate() {
        let mut k: HashMap<GroupId, usize> = HashMap::new();
        for (i, n) in g.nodes().iter().enumerate() {
            if let Op::Collective { group, .. } = n.op {
                let at = k.entry(group).or_default();
                seq.insert((r, group, *at), i);
                *at += 1;
            }
        }
    }
    seq
}

fn ready(g: &RankGraph, done: &[bool], i: usize) -> bool {
    g.nodes()[i].deps().all(|d| done[d])
}

fn complete(
    graphs: &[RankGraph],
    groups: &CommGroups,
    seq: &Sequence,
    done: &mut [Vec<bool>],
    r: usize,
    i: usize,
) -> Result<bool, String> {
    let here = &graphs[r].nodes()[i];
    match here.op {
        Op::Send { to, bytes, tag } => {
            let t = to.0 as usize;
            let peer = graphs[t].nodes().iter().position(|n| {
                matches!(n.op, Op::Recv { from, tag: tg, .. } if from.0 as usize == r && tg == tag)
            });
            let p = peer.ok_or(format!("rank {r}: {} has no receive", here.name))?;
            if !matches!(graphs[t].nodes()[p].op, Op::Recv { bytes: b, .. } if b == bytes) {
                return Err(format!(
                    "rank {r}: {} sends {bytes} to a receive of other size",
                    here.name
                ));
            }
            if done[t][p] || !ready(&graphs[t], &done[t], p) {
                return Ok(false);
            }
            (done[r][i], done[t][p]) = (true, true);
        }
        Op::Recv { .. } => return Ok(false),
        Op::Collective { kind, bytes, group } => {
            let k = (0..)
                .find(|&k| seq.get(&(r, group, k)) == Some(&i))
                .unwrap_or(0);
            let members = groups.members(group).ok_or("no such group")?;
            let mut at = Vec::new();
            for m in members {
                let m = m.0 as usize;
                let j = *seq
                    .get(&(m, group, k))
                    .ok_or(format!("rank {m} lacks {}", here.name))?;
                let same = matches!(graphs[m].nodes()[j].op, Op::Collective { kind: k2, bytes: b2, .. } if k2 == kind && b2 == bytes);
                if !same {
                    return Err(format!("rank {m}: {} differs from rank {r}'s", here.name));
                }
                if !ready(&graphs[m], &done[m], j) {
                    return Ok(false);
                }
                at.push((m, j));
            }
            for (m, j) in at {
                done[m][j] = true;
            }
        }
        _ => done[r][i] = true,
    }
    Ok(true)
}
