//! `orbnet deploy k8s`: Kubernetes objects for a run split across N pods,
//! built with the `k8s-openapi` types and written as one YAML file.
//!
//! - A **ConfigMap** `<job>-scenario` holding the scenario and every file it
//!   refers to, mounted read-only at `/scenario` in their places relative
//!   to the scenario. A ConfigMap holds at most 1 MiB of keys and values
//!   (<https://kubernetes.io/docs/concepts/configuration/configmap/>: "The
//!   data stored in a ConfigMap cannot exceed 1 MiB"); a larger scenario is
//!   refused unless `--scenario-pvc` names a PersistentVolumeClaim to mount
//!   there instead.
//! - A headless **Service** `<job>` (`clusterIP: None`) selecting the Job's
//!   pods, with `publishNotReadyAddresses: true`, so that host 0 has the
//!   DNS name `<job>-0.<job>` before any pod is ready
//!   (<https://kubernetes.io/docs/tasks/job/job-with-pod-to-pod-communication/>).
//! - An Indexed **Job** `<job>`: `completions` = `parallelism` = N,
//!   `backoffLimit: 0` and `restartPolicy: Never` (a replaced pod could not
//!   rejoin a running emulation), `subdomain` = the Service. Each pod's
//!   index is its host index: `ORBNET_HOST_INDEX` comes from the
//!   `batch.kubernetes.io/job-completion-index` annotation (the value
//!   Kubernetes also sets as `JOB_COMPLETION_INDEX`) and is passed as
//!   `--host-index`. Memory requests come from the placement
//!   ([`super::Deployment::memory_mib`]).
//!
//! Results go to `/results`: an emptyDir, or the claim `--results-pvc`
//! names. `kubectl cp` copies from a running container only, so with an
//! emptyDir host 0 keeps its pod alive `ORBNET_KEEP_RESULTS_S` seconds after
//! the run (600 by default; a signal ends the wait); the container's shell
//! passes SIGTERM on to `orbnet up`.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, EnvVarSource, KeyToPath, ObjectFieldSelector, PersistentVolumeClaimVolumeSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SecurityContext, Service,
    ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Common, DeployError, Deployment, placement_lines, shell_quote};

/// Most bytes of keys and values a ConfigMap holds: 1 MiB (the API
/// server's `MaxSecretSize`, which it applies to ConfigMaps too).
pub(crate) const CONFIG_MAP_LIMIT: usize = 1 << 20;
/// How long host 0 keeps an emptyDir's results for `kubectl cp`, seconds.
pub(crate) const KEEP_RESULTS_S: u32 = 600;
/// The user and group the container runs as (the Containerfile's `USER`).
pub(crate) const RUN_AS: i64 = 10001;
/// Where the scenario and the results are mounted.
const SCENARIO_DIR: &str = "/scenario";
const RESULTS_DIR: &str = "/results";
/// Where Kubernetes writes an Indexed Job pod's index.
const INDEX_ANNOTATION: &str = "metadata.annotations['batch.kubernetes.io/job-completion-index']";

/// `orbnet deploy k8s`'s arguments.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Container image with orbnet at /usr/local/bin/orbnet (the
    /// repository's Containerfile builds one).
    #[arg(long)]
    pub(crate) image: String,
    /// Namespace for every object (default: kubectl's current one).
    #[arg(long)]
    pub(crate) namespace: Option<String>,
    /// Mount this PersistentVolumeClaim at /scenario instead of a
    /// ConfigMap (for scenarios over 1 MiB): it holds the scenario's
    /// directory.
    #[arg(long)]
    pub(crate) scenario_pvc: Option<String>,
    /// Write the results to this PersistentVolumeClaim instead of an
    /// emptyDir.
    #[arg(long)]
    pub(crate) results_pvc: Option<String>,
}

/// The objects of one deployment, in the order they are applied.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Manifests {
    /// Absent when the scenario comes from a claim.
    pub(crate) config_map: Option<ConfigMap>,
    pub(crate) service: Service,
    pub(crate) job: Job,
}

/// The scenario file and those it refers to: ConfigMap key, path under
/// `/scenario`, text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bundle {
    entries: Vec<(String, String, String)>,
}

impl Bundle {
    /// Reads the scenario and its files from disk.
    pub(crate) fn read(d: &Deployment) -> Result<Bundle, DeployError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| DeployError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let mut files = vec![(d.file_name()?, read(&d.path)?)];
        for rel in &d.scenario.files {
            files.push((rel.clone(), read(&d.dir().join(rel))?));
        }
        Bundle::new(files)
    }

    /// From (path relative to the scenario, text) pairs, the scenario first.
    pub(crate) fn new(files: Vec<(String, String)>) -> Result<Bundle, DeployError> {
        let mut entries: Vec<(String, String, String)> = Vec::new();
        for (path, text) in files {
            let inside = Path::new(&path)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
            if !inside {
                return Err(DeployError::BadInput(format!(
                    "{path}: only files in the scenario's directory or below it can \
                     go into a ConfigMap; copy it there, or use --scenario-pvc"
                )));
            }
            let key = path.replace('/', "_");
            let valid = key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !valid || key.len() > 253 {
                return Err(DeployError::BadInput(format!(
                    "{path}: a ConfigMap key takes letters, digits, '-', '_' and '.' only \
                     (253 at most); rename it, or use --scenario-pvc"
                )));
            }
            match entries.iter().find(|e| e.0 == key) {
                Some(e) if e.1 == path => {} // referred to twice
                Some(e) => {
                    return Err(DeployError::BadInput(format!(
                        "{path} and {} would share the ConfigMap key {key}; rename one",
                        e.1
                    )));
                }
                None => entries.push((key, path, text)),
            }
        }
        Ok(Bundle { entries })
    }

    /// Bytes the API server counts against the limit: keys and values.
    pub(crate) fn size(&self) -> usize {
        self.entries.iter().map(|e| e.0.len() + e.2.len()).sum()
    }
}

/// The file name and YAML text of the deployment.
pub(crate) fn render(d: &Deployment, args: &Args) -> Result<(String, String), DeployError> {
    let bundle = match args.scenario_pvc {
        Some(_) => None,
        None => Some(Bundle::read(d)?),
    };
    let m = manifests(d, args, bundle.as_ref())?;
    let job = d.job_name();
    Ok((format!("{job}.yaml"), yaml(d, &m)?))
}

/// The objects, from the deployment and the bundle (`None`: the scenario
/// is on `--scenario-pvc`).
pub(crate) fn manifests(
    d: &Deployment,
    args: &Args,
    bundle: Option<&Bundle>,
) -> Result<Manifests, DeployError> {
    if args.image.trim().is_empty() {
        return Err(DeployError::BadInput("--image must not be empty".into()));
    }
    if let Some(ns) = &args.namespace
        && !is_dns_label(ns)
    {
        return Err(DeployError::BadInput(format!(
            "--namespace {ns:?}: lower-case letters, digits and '-', 63 at most"
        )));
    }
    let job = d.job_name();
    let config_map = match bundle {
        Some(b) if b.size() > CONFIG_MAP_LIMIT => {
            return Err(DeployError::TooBig {
                bytes: b.size(),
                limit: CONFIG_MAP_LIMIT,
            });
        }
        Some(b) => Some(config_map(&job, args, b)),
        None => None,
    };
    let meta = |name: String| ObjectMeta {
        name: Some(name),
        namespace: args.namespace.clone(),
        labels: Some(labels(&job)),
        ..Default::default()
    };
    let service = Service {
        metadata: meta(job.clone()),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(labels(&job)),
            ports: Some(vec![ServicePort {
                name: Some("coordinator".into()),
                port: i32::from(d.port),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let hosts = i32::try_from(d.hosts())
        .map_err(|_| DeployError::BadInput(format!("--hosts {}: too many", d.hosts())))?;
    let job_object = Job {
        metadata: meta(job.clone()),
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".into()),
            completions: Some(hosts),
            parallelism: Some(hosts),
            backoff_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&job)),
                    ..Default::default()
                }),
                spec: Some(pod_spec(d, args, bundle, &job)?),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(Manifests {
        config_map,
        service,
        job: job_object,
    })
}

fn labels(job: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "orbnet".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), job.to_owned()),
    ])
}

fn config_map(job: &str, args: &Args, bundle: &Bundle) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(format!("{job}-scenario")),
            namespace: args.namespace.clone(),
            labels: Some(labels(job)),
            ..Default::default()
        },
        data: Some(
            bundle
                .entries
                .iter()
                .map(|(key, _, text)| (key.clone(), text.clone()))
                .collect(),
        ),
        ..Default::default()
    }
}

/// The pod every host runs: `orbnet up` with the pod's index.
fn pod_spec(
    d: &Deployment,
    args: &Args,
    bundle: Option<&Bundle>,
    job: &str,
) -> Result<PodSpec, DeployError> {
    let scenario_volume = match (bundle, &args.scenario_pvc) {
        (Some(b), _) => Volume {
            name: "scenario".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: format!("{job}-scenario"),
                items: Some(
                    b.entries
                        .iter()
                        .map(|(key, path, _)| KeyToPath {
                            key: key.clone(),
                            path: path.clone(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        },
        (None, claim) => Volume {
            name: "scenario".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone().unwrap_or_default(),
                read_only: Some(true),
            }),
            ..Default::default()
        },
    };
    let results_volume = Volume {
        name: "results".into(),
        empty_dir: args
            .results_pvc
            .is_none()
            .then(EmptyDirVolumeSource::default),
        persistent_volume_claim: args.results_pvc.as_ref().map(|claim| {
            PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: None,
            }
        }),
        ..Default::default()
    };
    Ok(PodSpec {
        restart_policy: Some("Never".into()),
        subdomain: Some(job.to_owned()),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            ..Default::default()
        }),
        containers: vec![container(d, args, job)?],
        volumes: Some(vec![scenario_volume, results_volume]),
        ..Default::default()
    })
}

fn container(d: &Deployment, args: &Args, job: &str) -> Result<Container, DeployError> {
    let keep = if args.results_pvc.is_some() {
        0
    } else {
        KEEP_RESULTS_S
    };
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    };
    Ok(Container {
        name: "orbnet".into(),
        image: Some(args.image.clone()),
        command: Some(vec!["/bin/sh".into(), "-c".into(), script(d, job)?]),
        env: Some(vec![
            EnvVar {
                name: "ORBNET_HOST_INDEX".into(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: INDEX_ANNOTATION.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            EnvVar {
                name: "ORBNET_KEEP_RESULTS_S".into(),
                value: Some(keep.to_string()),
                ..Default::default()
            },
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("coordinator".into()),
            container_port: i32::from(d.port),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([(
                "memory".to_owned(),
                Quantity(format!("{}Mi", d.memory_mib())),
            )])),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        volume_mounts: Some(vec![
            mount("scenario", SCENARIO_DIR, true),
            mount("results", RESULTS_DIR, false),
        ]),
        ..Default::default()
    })
}

/// The command line every host runs.
pub(crate) fn up_command(d: &Deployment, job: &str) -> Result<String, DeployError> {
    Ok(format!(
        "orbnet up {} --hosts {} --host-index \"$ORBNET_HOST_INDEX\" --coordinator {} --out {}",
        shell_quote(&format!("{SCENARIO_DIR}/{}", d.file_name()?)),
        d.hosts(),
        shell_quote(&format!("{job}-0.{job}:{}", d.port)),
        shell_quote(&format!("{RESULTS_DIR}/{job}")),
    ))
}

/// The container's shell: runs `orbnet up` (passing SIGTERM and SIGINT on),
/// then on host 0 keeps the pod for `kubectl cp`, and exits as orbnet did.
fn script(d: &Deployment, job: &str) -> Result<String, DeployError> {
    let results = shell_quote(&format!("{RESULTS_DIR}/{job}"));
    Ok(format!(
        "pid=\n\
         trap 'kill -TERM \"$pid\" 2>/dev/null' TERM INT\n\
         {up} &\n\
         pid=$!\n\
         wait \"$pid\"\n\
         status=$?\n\
         while kill -0 \"$pid\" 2>/dev/null; do wait \"$pid\"; status=$?; done\n\
         if [ \"$ORBNET_HOST_INDEX\" = 0 ] && [ \"$ORBNET_KEEP_RESULTS_S\" -gt 0 ]; then\n\
         \x20 echo \"orbnet: results in {results}, kept $ORBNET_KEEP_RESULTS_S s for kubectl cp\" >&2\n\
         \x20 trap 'exit \"$status\"' TERM INT\n\
         \x20 sleep \"$ORBNET_KEEP_RESULTS_S\" &\n\
         \x20 wait $!\n\
         fi\n\
         exit \"$status\"\n",
        up = up_command(d, job)?,
    ))
}

/// The YAML file: a comment with the placement, then the objects.
fn yaml(d: &Deployment, m: &Manifests) -> Result<String, DeployError> {
    let mut out = format!(
        "# orbnet deploy k8s: {} on {} hosts. Apply with `kubectl apply -f`.\n",
        d.scenario.name,
        d.hosts()
    );
    for line in placement_lines(d) {
        out.push_str(&format!("# {line}\n"));
    }
    let mut docs = Vec::new();
    if let Some(cm) = &m.config_map {
        docs.push(serde_saphyr::to_string(cm)?);
    }
    docs.push(serde_saphyr::to_string(&m.service)?);
    docs.push(serde_saphyr::to_string(&m.job)?);
    for doc in docs {
        out.push_str("---\n");
        out.push_str(&doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// An RFC 1123 label: what a namespace's name must be.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests;
