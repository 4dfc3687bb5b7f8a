//! The fuzz corpora of a satellite's inputs, replayed as ordinary tests:
//! every seed under `fuzz/corpus/<target>/` and every input that once
//! crashed a target, kept under `fuzz/regressions/<target>/`, goes
//! through the very function the fuzz target calls
//! (`fuzz/src/node_targets.rs`, included here), so `cargo test` covers
//! them without building the fuzzer.

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/node_targets.rs"]
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
fn frames_of_the_corpus_never_panic() {
    replay("wire_frame", 6, targets::wire_frame);
}

#[test]
fn packets_of_the_corpus_route_soundly() {
    replay("router_packet", 8, targets::router_packet);
}

#[test]
fn launcher_lines_of_the_corpus_round_trip() {
    replay("protocol_lines", 2, targets::protocol_lines);
}
