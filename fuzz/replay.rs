//! Replays a fuzz target's corpus as an ordinary test: included by
//! `netem/tests/fuzz_corpus.rs` and `nodes/tests/fuzz_corpus.rs` (each
//! crate replays the targets over its own inputs).

use std::path::{Path, PathBuf};

/// Every corpus and regression input of `target`: (file, bytes).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    // Both including crates sit beside `fuzz/`.
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_file() {
                let bytes = std::fs::read(&path).expect("readable");
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Runs `body` on every input of `target`; fails naming each input that
/// panicked. `seeds` is the fewest inputs the corpus must hold.
pub(crate) fn replay(target: &str, seeds: usize, body: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(inputs.len() >= seeds, "{target}: {} inputs", inputs.len());
    let failed: Vec<String> = inputs
        .iter()
        .filter(|(_, data)| std::panic::catch_unwind(|| body(data)).is_err())
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target} panicked on {failed:?}");
}
