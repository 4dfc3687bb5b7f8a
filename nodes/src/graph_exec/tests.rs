//! A generated job (dp 2 × pp 2, and a tensor-parallel pair) run
//! in-process on four satellites: every step of every rank is verified,
//! no node starts before the nodes it depends on end, and a rank's compute
//! spans never overlap.

use orbnet_netem::Workload;

use super::*;
use crate::protocol::Event;

/// Four satellites 100 m apart on a ring of 1 Tb/s links, and `workload`.
fn scenario(workload: &str) -> orbnet_netem::Scenario {
    let text = format!(
        r#"
name = "exec"
tdf = 1000000
duration_s = 5
[constellation]
kind = "formation"
count = 4
altitude_km = 650
spacing_m = 100
radius_m = 1000
[links]
pattern = "nearest"
k = 3
terminals = 3
rate_gbps = 1000
acquisition_s = 0
[accelerator]
peak_tflops = 1
utilization = 1
{workload}"#
    );
    orbnet_netem::Scenario::parse(&text, "exec.toml", &mut |_| Err("no files".into()))
        .expect("valid")
}

const MODEL: &str = r#"
[[workload]]
kind = "model"
layers = 2
hidden = 64
heads = 4
seq_len = 16
vocab = 16
micro_batch = 1
global_batch = 4
dp = 2
pp = 2
steps = 2
"#;

/// Runs `scenario` in-process until every rank reported every step.
fn run(scenario: orbnet_netem::Scenario) -> Vec<GraphStepReport> {
    let Some(Workload::Graph(g)) = scenario.workloads.first().cloned() else {
        panic!("a graph workload");
    };
    let want = g.ranks.len() * g.steps as usize;
    let rt = crate::inprocess::runtime().expect("runtime");
    rt.block_on(async move {
        let mut run = crate::inprocess::Run::start(scenario, Vec::new()).expect("starts");
        let mut reports = Vec::new();
        while reports.len() < want {
            match run.events.recv().await {
                Some((_, Event::GraphStep(r))) => {
                    assert!(r.error.is_none(), "{r:?}");
                    reports.push(r);
                }
                Some((_, Event::Failed { sat, error })) => panic!("{sat}: {error}"),
                Some(_) => {}
                None => panic!("the run ended early"),
            }
        }
        run.stop();
        reports
    })
}

#[test]
fn every_node_runs_after_its_dependencies_with_verified_data() {
    let scenario = scenario(MODEL);
    let Some(Workload::Graph(g)) = scenario.workloads.first().cloned() else {
        panic!("a graph workload");
    };
    let reports = run(scenario);
    for r in &reports {
        assert!(r.verified, "{r:?}");
        let graph = &g.graphs[r.rank];
        let mut at = vec![None; graph.nodes().len()];
        for s in &r.spans {
            at[s.node as usize] = Some((s.start_ns, s.end_ns));
        }
        for (i, n) in graph.nodes().iter().enumerate() {
            let (start, end) =
                at[i].unwrap_or_else(|| panic!("rank {} node {i} never ran", r.rank));
            assert!(end >= start);
            for d in n.deps() {
                let (_, dep_end) = at[d].expect("dependency ran");
                assert!(
                    start >= dep_end,
                    "rank {}: {} before {}",
                    r.rank,
                    n.name,
                    graph.nodes()[d].name
                );
            }
        }
        let mut compute: Vec<(u64, u64)> = r
            .spans
            .iter()
            .filter(|s| matches!(graph.nodes()[s.node as usize].op, Op::Compute { .. }))
            .map(|s| (s.start_ns, s.end_ns))
            .collect();
        compute.sort_unstable();
        assert!(
            compute.windows(2).all(|w| w[0].1 <= w[1].0),
            "rank {}: {compute:?}",
            r.rank
        );
        // Compute alone: a step is at least its compute.
        let busy: u64 = compute.iter().map(|(a, b)| b - a).sum();
        let step = r.end_s.unwrap_or(0.0) - r.start_s.unwrap_or(0.0);
        assert!(step * 1e9 >= busy as f64 * 0.999, "{step} s < {busy} ns");
        assert!(busy > 0);
    }
    assert_eq!(reports.len(), 8);
}

#[test]
fn a_view_numbers_a_groups_ranks_from_zero() {
    let comm = Comm::over_tcp(
        2,
        (0..4).map(orbnet_netem::SatId).collect(),
        (0..4).map(|i| format!("sat-{i}")).collect(),
        Vec::new(),
        Vec::new(),
    );
    let v = comm.view(&[3, 2], 7).expect("a member");
    assert_eq!((v.rank, v.size()), (1, 2));
    assert_eq!(v.name(), "sat-2");
    assert_eq!(v.label(0), "rank 0 (sat-3)");
    assert!(comm.view(&[0, 1], 0).is_none());
}
