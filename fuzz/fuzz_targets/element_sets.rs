//! Fuzz target `element_sets`: see `orbnet_fuzz::netem_targets::element_sets`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orbnet_fuzz::netem_targets::element_sets(data));
