//! Fuzz target `ground_stations`: see `orbnet_fuzz::netem_targets::ground_stations`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orbnet_fuzz::netem_targets::ground_stations(data));
