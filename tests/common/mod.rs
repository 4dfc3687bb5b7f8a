//! Helpers shared by the end-to-end tests.

// Each test crate uses its own subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `orbnet` binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_orbnet");

/// A fresh, empty directory for one test.
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("orbnet-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Children of `pid`, from /proc.
pub(crate) fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
            // Fields after the command's closing parenthesis: state, ppid, ...
            let rest = stat.rsplit_once(')').map_or("", |r| r.1);
            let ppid = rest
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u32>().ok());
            if ppid == Some(pid) {
                out.push(p);
            }
        }
    }
    out
}

/// Whether `pid` is still running (a zombie has finished running).
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|r| r.1.split_whitespace().next())
                .unwrap_or("X");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

pub(crate) fn wait_for_children(launcher: &Child, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = children(launcher.id());
        if c.len() >= n || Instant::now() > deadline {
            return c;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

pub(crate) fn all_gone(pids: &[u32], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if pids.iter().all(|&p| !alive(p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Runs `orbnet up` on `scenario` (written into `dir`), with results in
/// `dir/out`; returns the output and the summary.
pub(crate) fn run_up(dir: &Path, scenario: &str) -> (Output, serde_json::Value) {
    run_up_with(dir, scenario, &[])
}

/// [`run_up`] with more arguments (`--in-process`, `--seed N`).
pub(crate) fn run_up_with(
    dir: &Path,
    scenario: &str,
    args: &[&str],
) -> (Output, serde_json::Value) {
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).expect("write");
    let out_dir = dir.join("out");
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = Command::new(BIN)
        .arg("up")
        .arg(&file)
        .arg("--out")
        .arg(&out_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    let summary = std::fs::read_to_string(out_dir.join("summary.json")).expect("summary.json");
    (out, serde_json::from_str(&summary).expect("JSON"))
}

/// The satellite index of an `orbnet node` process: its command line says `--sat N`.
pub(crate) fn sat_index(pid: u32) -> String {
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .expect("cmdline")
        .replace('\0', " ");
    cmdline
        .split("--sat ")
        .nth(1)
        .expect("--sat")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

pub(crate) mod split;
