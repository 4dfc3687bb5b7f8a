//! Fuzz target `router_packet`: see `orbnet_fuzz::node_targets::router_packet`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orbnet_fuzz::node_targets::router_packet(data));
