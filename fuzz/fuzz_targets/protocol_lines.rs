//! Fuzz target `protocol_lines`: see `orbnet_fuzz::node_targets::protocol_lines`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orbnet_fuzz::node_targets::protocol_lines(data));
