//! A run split across three hosts by Open MPI: `mpirun -np 3 orbnet up`,
//! every rank one host on this machine's loopback, host 0 at the address
//! the test gives. Debian's `openmpi-bin` provides `mpirun` (`.ci/run`
//! installs it when missing); as root it needs `--allow-run-as-root`, and
//! on two cores `--oversubscribe`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;
use common::split::{
    TDF, check_split_run, free_port, one_host_run, output_within, processes_mentioning, scenario,
};
use common::{BIN, temp_dir};

#[test]
fn mpirun_splits_ring_12_across_three_ranks_like_one_host() {
    assert!(
        Path::new("/usr/bin/mpirun").exists()
            || Command::new("mpirun").arg("--version").output().is_ok(),
        "mpirun is missing: install Debian's openmpi-bin (.ci/run does)"
    );
    let dir = temp_dir("mpi");
    let file = scenario(&dir);
    let reference = dir.join("one-host");
    one_host_run(&file, &reference);
    let out = dir.join("mpi");
    let port = free_port();
    let mut cmd = Command::new("mpirun");
    cmd.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "-np",
        "3",
        BIN,
        "up",
    ])
    .arg(&file)
    .args(["--tdf", TDF, "--coordinator", &format!("127.0.0.1:{port}")])
    .arg("--out")
    .arg(&out);
    let o = output_within(cmd, Duration::from_secs(180));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "mpirun: {stderr}");
    // Ranks 1 and 2 say that host 0 holds the results; rank 0 prints them.
    for k in [1, 2] {
        assert!(
            stderr.contains(&format!("host {k}: its satellites ran to the end")),
            "{stderr}"
        );
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("host 2: 4 satellites (sat-8–sat-11)"),
        "{stdout}"
    );
    check_split_run(&out, &reference);
    // No satellite of the run is left.
    let path = file.display().to_string();
    assert_eq!(processes_mentioning(&path), Vec::<u32>::new());
    std::fs::remove_dir_all(&dir).ok();
}
