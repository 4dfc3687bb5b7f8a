//! The fuzz corpora of netem's inputs, replayed as ordinary tests: every
//! seed under `fuzz/corpus/<target>/` and every input that once crashed a
//! target, kept under `fuzz/regressions/<target>/`, goes through the very
//! function the fuzz target calls (`fuzz/src/netem_targets.rs`, included
//! here), so `cargo test` covers them without building the fuzzer.

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/netem_targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

/// Every corpus and regression input of `target`: (file, bytes).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_file() {
                let bytes = std::fs::read(&path).expect("readable");
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Runs `body` on every input of `target`; fails naming each input that
/// panicked. `seeds` is the fewest inputs the corpus must hold.
fn replay(target: &str, seeds: usize, body: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(inputs.len() >= seeds, "{target}: {} inputs", inputs.len());
    let failed: Vec<String> = inputs
        .iter()
        .filter(|(_, data)| std::panic::catch_unwind(|| body(data)).is_err())
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target} panicked on {failed:?}");
}

#[test]
fn scenario_files_of_the_corpus_never_panic() {
    replay("scenario_toml", 10, targets::scenario_toml);
}

#[test]
fn element_sets_of_the_corpus_never_panic() {
    replay("element_sets", 4, targets::element_sets);
}

#[test]
fn chakra_traces_of_the_corpus_never_panic() {
    replay("chakra_trace", 8, targets::chakra_trace);
}

#[test]
fn ground_station_files_of_the_corpus_never_panic() {
    replay("ground_stations", 4, targets::ground_stations);
}
