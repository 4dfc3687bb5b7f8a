//! Fuzz target `wire_frame`: see `orbnet_fuzz::node_targets::wire_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orbnet_fuzz::node_targets::wire_frame(data));
