//! The bodies of orbnet's fuzz targets, one function per input orbnet
//! reads from outside. Each takes arbitrary bytes, must never panic, and
//! checks what must hold of whatever the input parses to.
//!
//! The workspace's tests replay every corpus file through the very same
//! functions (`netem/tests/fuzz_corpus.rs` and `nodes/tests/fuzz_corpus.rs`
//! include these files), so `cargo test` covers the corpora and every
//! regression input without building the fuzzer.

pub mod netem_targets;
pub mod node_targets;
