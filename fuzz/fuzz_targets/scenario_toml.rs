//! Fuzz target `scenario_toml`: see `orbnet_fuzz::netem_targets::scenario_toml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| orbnet_fuzz::netem_targets::scenario_toml(data));
