//! The fuzz corpora of netem's inputs, replayed as ordinary tests: every
//! seed under `fuzz/corpus/<target>/` and every input that once crashed a
//! target, kept under `fuzz/regressions/<target>/`, goes through the very
//! function the fuzz target calls (`fuzz/src/netem_targets.rs`, included
//! here), so `cargo test` covers them without building the fuzzer.

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/netem_targets.rs"]
mod targets;

#[path = "../../fuzz/replay.rs"]
mod replay;

use replay::replay;

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
