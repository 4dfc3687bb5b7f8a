//! Helpers shared by the end-to-end tests.

use std::path::PathBuf;

/// The `orbnet` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_orbnet");

/// A fresh, empty directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("orbnet-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
