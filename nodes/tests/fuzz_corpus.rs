//! The fuzz corpora of a satellite's inputs, replayed as ordinary tests:
//! every seed under `fuzz/corpus/<target>/` and every input that once
//! crashed a target, kept under `fuzz/regressions/<target>/`, goes
//! through the very function the fuzz target calls
//! (`fuzz/src/node_targets.rs`, included here), so `cargo test` covers
//! them without building the fuzzer.

#[allow(unreachable_pub, dead_code)]
#[path = "../../fuzz/src/node_targets.rs"]
mod targets;

#[path = "../../fuzz/replay.rs"]
mod replay;

use replay::replay;

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
