//! Times a full snapshot and the next-hop tables of a scenario.
//!
//! `cargo run --release -p orbnet-netem --example plan_bench -- topologies/starlink-shell1.toml`
//!
//! Beside each figure it prints a baseline measured in the same run: the
//! time just to propagate every satellite's position, which every snapshot
//! must pay.

use std::time::{Duration, Instant};

use orbnet_netem::routing::{Graph, routes_from};
use orbnet_netem::{SatId, Scenario, SimTime};

fn time<T>(reps: u32, mut f: impl FnMut(u32) -> T) -> Duration {
    let start = Instant::now();
    for i in 0..reps {
        std::hint::black_box(f(i));
    }
    start.elapsed() / reps
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "topologies/starlink-shell1.toml".into());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {path}: {e}");
            std::process::exit(2);
        }
    };
    let dir = std::path::Path::new(&path)
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    let scenario = match Scenario::parse(&text, &path, &mut |f: &str| {
        std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string())
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let world = &scenario.world;
    let n = world.satellites();
    let t = |i: u32| SimTime::from_millis(u64::from(i) * 100);
    let positions = time(50, |i| world.positions(t(i)));
    let snapshot = time(50, |i| world.snapshot(t(i)));
    let own: Vec<_> = world.links_of(SatId(0)).map(|(l, _)| l).collect();
    let own_links = time(2000, |i| world.links_at(t(i), &own, &[]));
    let snap = world.snapshot(SimTime::ZERO);
    let graph = Graph::from_snapshot(&snap);
    let graph_build = time(50, |_| Graph::from_snapshot(&snap));
    let one_table = time(200, |i| routes_from(&graph, SatId(i % n)));
    let start = Instant::now();
    for s in 0..n {
        std::hint::black_box(routes_from(&graph, SatId(s)));
    }
    let all_tables = start.elapsed();
    println!(
        "{}: {n} satellites, {} candidate links",
        scenario.name,
        world.candidates().len()
    );
    println!("{:<34} {:>12} {:>12}", "figure", "time", "goal");
    println!(
        "{:<34} {:>12.3?} {:>12}",
        "positions only (baseline)", positions, "-"
    );
    println!(
        "{:<34} {:>12.3?} {:>12}",
        "full snapshot", snapshot, "≤ 5 ms"
    );
    println!(
        "{:<34} {:>12.3?} {:>12}",
        "one satellite's own links", own_links, "-"
    );
    println!(
        "{:<34} {:>12.3?} {:>12}",
        "graph from snapshot", graph_build, "-"
    );
    println!(
        "{:<34} {:>12.3?} {:>12}",
        "one satellite's next-hop table", one_table, "≤ 1 ms"
    );
    println!(
        "{:<34} {:>12.3?} {:>12}",
        "every satellite's table", all_tables, "-"
    );
}
