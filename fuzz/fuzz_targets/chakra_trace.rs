//! Fuzz target `chakra_trace`: see `orbnet_fuzz::netem_targets::chakra_trace`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orbnet_fuzz::netem_targets::chakra_trace(data));
