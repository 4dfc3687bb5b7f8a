//! The manifests' tests: a golden file pins the YAML
//! (`testdata/trio-k8s.yaml`; `ORBNET_BLESS=1` rewrites it), every
//! document reads back into its `k8s-openapi` type, the pod runs `orbnet
//! up` with the pod's index, and the container's shell behaves.

use std::path::PathBuf;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Service};

use super::*;

fn testdata(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/deploy/testdata")
        .join(file)
}

fn trio(hosts: u32) -> Deployment {
    Deployment::new(&Common {
        scenario: testdata("trio.toml"),
        hosts,
        out: PathBuf::from("."),
        port: 7470,
    })
    .expect("deployment")
}

fn args() -> Args {
    Args {
        common: Common {
            scenario: testdata("trio.toml"),
            hosts: 2,
            out: PathBuf::from("."),
            port: 7470,
        },
        image: "registry.example/orbnet:0.1".into(),
        namespace: Some("orbnet-runs".into()),
        scenario_pvc: None,
        results_pvc: None,
    }
}

/// The YAML's documents, the leading comment dropped.
fn documents(yaml: &str) -> Vec<String> {
    let mut docs = vec![String::new()];
    for line in yaml.lines() {
        if line == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    assert!(docs[0].lines().all(|l| l.starts_with('#')), "{}", docs[0]);
    docs.remove(0);
    docs
}

#[test]
fn the_manifests_match_the_golden_file() {
    let d = trio(2);
    let (name, yaml) = render(&d, &args()).expect("rendered");
    assert_eq!(name, "orbnet-trio.yaml");
    let golden = testdata("trio-k8s.yaml");
    if std::env::var_os("ORBNET_BLESS").is_some() {
        std::fs::write(&golden, &yaml).expect("blessed");
    }
    let expected = std::fs::read_to_string(&golden).expect("golden file");
    assert_eq!(
        yaml, expected,
        "run with ORBNET_BLESS=1 to accept the change"
    );
}

#[test]
fn every_document_reads_back_into_its_type() {
    let d = trio(2);
    let bundle = Bundle::read(&d).expect("bundle");
    let m = manifests(&d, &args(), Some(&bundle)).expect("manifests");
    let (_, yaml) = render(&d, &args()).expect("rendered");
    let docs = documents(&yaml);
    assert_eq!(docs.len(), 3);
    let cm: ConfigMap = serde_saphyr::from_str(&docs[0]).expect("ConfigMap");
    let svc: Service = serde_saphyr::from_str(&docs[1]).expect("Service");
    let job: Job = serde_saphyr::from_str(&docs[2]).expect("Job");
    assert_eq!(Some(cm), m.config_map);
    assert_eq!(svc, m.service);
    assert_eq!(job, m.job);
    // The files come back byte for byte, the TLE under a key of its own.
    let data = m.config_map.and_then(|c| c.data).expect("data");
    let tle = std::fs::read_to_string(testdata("elements/trio.tle")).expect("tle");
    assert_eq!(data.get("elements_trio.tle"), Some(&tle));
    assert!(data.contains_key("trio.toml"));
}

#[test]
fn the_pod_runs_orbnet_up_with_its_index_and_finds_host_0() {
    let d = trio(2);
    let bundle = Bundle::read(&d).expect("bundle");
    let m = manifests(&d, &args(), Some(&bundle)).expect("manifests");
    let spec = m.job.spec.expect("job spec");
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!((spec.completions, spec.parallelism), (Some(2), Some(2)));
    assert_eq!(spec.backoff_limit, Some(0));
    let labels = spec.template.metadata.and_then(|m| m.labels);
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let svc = m.service.spec.expect("service spec");
    assert_eq!(svc.cluster_ip.as_deref(), Some("None"));
    assert_eq!(svc.publish_not_ready_addresses, Some(true));
    assert_eq!(svc.selector, labels);
    assert_eq!(pod.subdomain, m.service.metadata.name);
    let c = &pod.containers[0];
    let env = c.env.as_deref().unwrap_or_default();
    let index = env
        .iter()
        .find(|e| e.name == "ORBNET_HOST_INDEX")
        .and_then(|e| e.value_from.as_ref())
        .and_then(|v| v.field_ref.as_ref())
        .map(|f| f.field_path.as_str());
    assert_eq!(
        index,
        Some("metadata.annotations['batch.kubernetes.io/job-completion-index']")
    );
    let command = c.command.as_deref().unwrap_or_default();
    assert_eq!(command[..2], ["/bin/sh", "-c"]);
    assert!(command[2].contains(
        "orbnet up /scenario/trio.toml --hosts 2 --host-index \"$ORBNET_HOST_INDEX\" \
         --coordinator orbnet-trio-0.orbnet-trio:7470 --out /results/orbnet-trio &\n"
    ));
    // Two satellites on the larger host: 64 + 2 × 3 MiB.
    let memory = c
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("memory"));
    assert_eq!(memory, Some(&Quantity("70Mi".into())));
    let mounts: Vec<(&str, Option<bool>)> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|v| (v.mount_path.as_str(), v.read_only))
        .collect();
    assert_eq!(mounts, [("/scenario", Some(true)), ("/results", None)]);
}

#[test]
fn a_scenario_over_a_mebibyte_is_refused_unless_it_comes_from_a_claim() {
    let d = trio(2);
    let big = Bundle::new(vec![
        ("trio.toml".into(), "x".repeat(1000)),
        ("big.tle".into(), "y".repeat(CONFIG_MAP_LIMIT)),
    ])
    .expect("bundle");
    match manifests(&d, &args(), Some(&big)) {
        Err(e @ DeployError::TooBig { .. }) => {
            assert!(e.is_bad_input());
            assert!(e.to_string().contains("--scenario-pvc"), "{e}");
        }
        other => panic!("expected TooBig, got {other:?}"),
    }
    let mut from_claim = args();
    from_claim.scenario_pvc = Some("scenarios".into());
    from_claim.results_pvc = Some("results".into());
    let m = manifests(&d, &from_claim, None).expect("manifests");
    assert_eq!(m.config_map, None);
    let pod = m.job.spec.and_then(|s| s.template.spec).expect("pod");
    let claims: Vec<(String, Option<bool>)> = pod
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| (c.claim_name.clone(), c.read_only))
        .collect();
    assert_eq!(
        claims,
        [("scenarios".into(), Some(true)), ("results".into(), None)]
    );
    let keep = pod.containers[0]
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "ORBNET_KEEP_RESULTS_S")
        .and_then(|e| e.value.clone());
    assert_eq!(keep.as_deref(), Some("0"));
}

#[test]
fn files_outside_the_scenario_directory_or_with_odd_names_are_refused() {
    for path in ["../elsewhere.tle", "/abs/x.tle", "my sats.tle"] {
        let e = Bundle::new(vec![
            ("s.toml".into(), String::new()),
            (path.into(), String::new()),
        ])
        .expect_err(path);
        assert!(e.is_bad_input());
    }
    let e = Bundle::new(vec![
        ("s.toml".into(), String::new()),
        ("a/b.tle".into(), String::new()),
        ("a_b.tle".into(), String::new()),
    ])
    .expect_err("same key");
    assert!(e.to_string().contains("a_b.tle"), "{e}");
}

#[test]
fn bad_namespaces_and_empty_images_are_refused() {
    let d = trio(2);
    let mut a = args();
    a.namespace = Some("Not_A_Label".into());
    assert!(manifests(&d, &a, None).is_err());
    let mut a = args();
    a.image = " ".into();
    assert!(manifests(&d, &a, None).is_err());
}

#[test]
fn job_names_are_dns_labels_with_room_for_the_index() {
    let mut d = Deployment::new(&Common {
        scenario: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies/tle-demo.toml"),
        hosts: 12,
        out: PathBuf::from("."),
        port: 7470,
    })
    .expect("deployment");
    d.scenario.name = "Starlink Shell #1 (phase 1)".into();
    assert_eq!(d.job_name(), "orbnet-starlink-shell-1-phase-1");
    d.scenario.name = "x".repeat(100);
    let name = d.job_name();
    assert_eq!(name.len(), 63 - "-11".len());
    assert!(is_dns_label(&name));
}

/// Runs the container's shell with a stand-in `orbnet` that records its
/// arguments and exits 3.
fn run_script(index: &str, keep: &str) -> (Option<i32>, String, std::time::Duration) {
    let dir = std::env::temp_dir().join(format!("orbnet-k8s-sh-{}-{index}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let fake = dir.join("orbnet");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\nexit 3\n",
    )
    .expect("fake");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .expect("chmod");
    let d = trio(2);
    let script = script(&d, "orbnet-trio").expect("script");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let start = std::time::Instant::now();
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .env("PATH", path)
        .env("ORBNET_HOST_INDEX", index)
        .env("ORBNET_KEEP_RESULTS_S", keep)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("sh runs");
    let args = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    (status.code(), args, start.elapsed())
}

#[test]
fn the_container_shell_runs_orbnet_and_exits_as_it_did() {
    let (code, args, _) = run_script("1", "600");
    assert_eq!(code, Some(3));
    assert_eq!(
        args.trim(),
        "up /scenario/trio.toml --hosts 2 --host-index 1 \
         --coordinator orbnet-trio-0.orbnet-trio:7470 --out /results/orbnet-trio"
    );
    // Host 0 keeps its results for a while, then exits as orbnet did.
    let (code, _, took) = run_script("0", "1");
    assert_eq!(code, Some(3));
    assert!(took >= std::time::Duration::from_secs(1), "{took:?}");
}
