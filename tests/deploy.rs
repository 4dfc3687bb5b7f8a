//! `orbnet deploy` end to end: the binary writes manifests that read back
//! into the Kubernetes types and an sbatch script, and refuses (exit 2) a
//! scenario whose files overflow a ConfigMap.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{BIN, temp_dir};
use k8s_openapi::api::batch::v1::Job;

fn orbnet(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs")
}

/// A TLE file of `sets` element sets, all of DEMO-1's elements under
/// names of their own (the scenario keeps the first two).
fn write_tle(path: &Path, sets: usize) {
    let mut text = String::new();
    for i in 0..sets {
        text.push_str(&format!(
            "SAT-{i}\n\
             1 90001U 26001A   26001.00000000  .00000000  00000-0  00000-0 0  9998\n\
             2 90001  53.0000   0.0000 0001000   0.0000   0.0000 15.05490646    12\n"
        ));
    }
    std::fs::write(path, text).expect("TLE written");
}

#[test]
fn a_scenario_over_a_mebibyte_is_refused_with_exit_2() {
    let dir = temp_dir("deploy-big");
    write_tle(&dir.join("many.tle"), 8000);
    assert!(std::fs::metadata(dir.join("many.tle")).expect("tle").len() > 1 << 20);
    std::fs::write(
        dir.join("big.toml"),
        "name = \"big\"\n[constellation]\nkind = \"tle\"\nfile = \"many.tle\"\ncount = 2\n\
         [links]\npattern = \"all\"\nrate_gbps = 10\n",
    )
    .expect("scenario written");
    let scenario = dir.join("big.toml");
    let out_dir = dir.join("out");
    let out = orbnet(&[
        "deploy",
        "k8s",
        &scenario.to_string_lossy(),
        "--hosts",
        "2",
        "--image",
        "orbnet:dev",
        "--out",
        &out_dir.to_string_lossy(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("1 MiB"), "{stderr}");
    assert!(stderr.contains("--scenario-pvc"), "{stderr}");
    assert!(!out_dir.exists(), "nothing written");
    // From a claim, the same scenario deploys.
    let out = orbnet(&[
        "deploy",
        "k8s",
        &scenario.to_string_lossy(),
        "--hosts",
        "2",
        "--image",
        "orbnet:dev",
        "--scenario-pvc",
        "scenarios",
        "--out",
        &out_dir.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deploy_k8s_writes_a_job_that_reads_back() {
    let dir = temp_dir("deploy-k8s");
    let out = orbnet(&[
        "deploy",
        "k8s",
        "topologies/tle-demo.toml",
        "--hosts",
        "3",
        "--image",
        "orbnet:dev",
        "--out",
        &dir.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(dir.join("orbnet-tle-demo.yaml")).expect("written");
    let job_doc = yaml
        .split("\n---\n")
        .find(|d| d.starts_with("apiVersion: batch/v1\nkind: Job\n"))
        .expect("a Job");
    let job: Job = serde_saphyr::from_str(job_doc).expect("a Job");
    let spec = job.spec.expect("spec");
    assert_eq!(spec.completions, Some(3));
    // Four satellites a host: 64 + 4 × 3 MiB.
    assert!(yaml.contains("memory: 76Mi"), "{yaml}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deploy_slurm_writes_an_sbatch_script() {
    let dir = temp_dir("deploy-slurm");
    let out = orbnet(&[
        "deploy",
        "slurm",
        "topologies/ring-8.toml",
        "--hosts",
        "2",
        "--out",
        &dir.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("orbnet-ring-8.sbatch")).expect("written");
    assert!(text.contains("#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=1\n"));
    assert!(text.contains("srun --kill-on-bad-exit=1 \"$ORBNET\" up /"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn too_many_hosts_is_bad_input() {
    let out = orbnet(&["deploy", "slurm", "topologies/ring-8.toml", "--hosts", "9"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("9 hosts for 8 satellites"), "{stderr}");
}
