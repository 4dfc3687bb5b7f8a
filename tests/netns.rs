//! A run split across three hosts with their own addresses: three network
//! namespaces made by the test, one host each, joined by veth pairs to a
//! bridge in a fourth (so nothing reaches the machine's own network). The
//! split run gives the one-host run's RTTs and a verified all-reduce
//! across the hosts; killing one host's launcher stops the others within
//! 2 s with exit 1 naming it, and so does killing one satellite of a host
//! that is not the coordinator. No process is left in any namespace, and the
//! namespaces are removed whether the test passes or fails. Needs root
//! (CI runs as root): without it the test fails, it does not skip.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::split::{TDF, check_split_run, finish_within, one_host_run, scenario};
use common::{BIN, temp_dir, wait_exit};

/// The port host 0 coordinates on, inside its own namespace.
const PORT: &str = "7470";

/// Three namespaced hosts and their hub, removed on drop.
struct Hosts {
    /// `onh<pid>-<k>`: the hosts' namespaces; the hub's is `onh<pid>-hub`.
    names: Vec<String>,
    hub: String,
}

impl Hosts {
    /// Hosts `k` at 10.213.0.(k + 1)/24 on a bridge in the hub.
    fn new(n: usize) -> Hosts {
        let tag = format!("onh{}", std::process::id());
        let hosts = Hosts {
            names: (0..n).map(|k| format!("{tag}-{k}")).collect(),
            hub: format!("{tag}-hub"),
        };
        ip(&["netns", "add", &hosts.hub]);
        ip(&["-n", &hosts.hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hosts.hub, "link", "set", "br0", "up"]);
        for (k, ns) in hosts.names.iter().enumerate() {
            ip(&["netns", "add", ns]);
            // Made inside the host's namespace, the hub's end moved out.
            let peer = format!("h{k}");
            ip(&[
                "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", &peer,
            ]);
            ip(&["-n", ns, "link", "set", &peer, "netns", &hosts.hub]);
            ip(&[
                "-n", &hosts.hub, "link", "set", &peer, "master", "br0", "up",
            ]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/24", addr(k)),
                "dev",
                "eth0",
            ]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        hosts
    }

    /// Starts `orbnet up` as host `k` inside its namespace.
    fn up(&self, k: usize, file: &Path, out: &Path) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.names[k], BIN, "up"])
            .arg(file)
            .args(["--tdf", TDF, "--hosts", &self.names.len().to_string()])
            .args(["--host-index", &k.to_string(), "--bind", &addr(k)])
            .args(["--coordinator", &format!("{}:{PORT}", addr(0))])
            .arg("--out")
            .arg(out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec")
    }

    /// Processes left in any of the namespaces.
    fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        for ns in self.names.iter().chain([&self.hub]) {
            let o = Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .expect("ip");
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                left.push(format!("{ns}: {pid}"));
            }
        }
        left
    }

    /// Waits (up to 5 s) until no process is left in the namespaces.
    fn wait_empty(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = self.leftovers();
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Hosts {
    /// Kills whatever is left inside, then removes the namespaces (their
    /// veths and the bridge go with them).
    fn drop(&mut self) {
        for ns in self.names.iter().chain([&self.hub]) {
            let _ = Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .map(|o| {
                    for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                        let _ = Command::new("kill").args(["-9", pid]).status();
                    }
                });
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn addr(k: usize) -> String {
    format!("10.213.0.{}", k + 1)
}

/// Runs `ip ARGS`, failing the test loudly when it cannot (not root).
fn ip(args: &[&str]) {
    let o = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2)");
    assert!(
        o.status.success(),
        "ip {}: {} (the namespace tests need root; CI runs as root)",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr).trim()
    );
}

fn namespace_exists(name: &str) -> bool {
    let o = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn three_namespaced_hosts_run_ring_12_like_one_host_then_stop_together() {
    let dir = temp_dir("netns");
    let file = scenario(&dir);
    let reference = dir.join("one-host");
    one_host_run(&file, &reference);
    let hosts = Hosts::new(3);
    let names = hosts.names.clone();

    // The same run, one host per namespace.
    let out = dir.join("split");
    let launchers: Vec<Child> = (0..3).map(|k| hosts.up(k, &file, &out)).collect();
    let outputs: Vec<_> = launchers
        .into_iter()
        .map(|c| finish_within(c, Duration::from_secs(120)))
        .collect();
    for (k, o) in outputs.iter().enumerate() {
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "host {k}: {stderr}");
    }
    let stdout = String::from_utf8_lossy(&outputs[0].stdout);
    assert!(
        stdout.contains("host 1: 4 satellites (sat-4–sat-7)"),
        "{stdout}"
    );
    check_split_run(&out, &reference);
    assert_eq!(hosts.wait_empty(), Vec::<String>::new(), "after the run");

    // Again, host 1's launcher killed once every host runs its
    // satellites; and again, host 2's sent SIGTERM.
    stop_one(&hosts, &file, &dir.join("killed"), 1, "KILL");
    stop_one(&hosts, &file, &dir.join("terminated"), 2, "TERM");
    // And host 0's own launcher frozen (SIGSTOP) mid-run: the others hear
    // nothing from it for 1.5 s and stop.
    stop_one(&hosts, &file, &dir.join("frozen"), 0, "STOP");
    // And a satellite of host 2 killed: every host stops, naming it.
    crash_one(&hosts, &file, &dir.join("crashed"));

    drop(hosts);
    for ns in &names {
        assert!(!namespace_exists(ns), "{ns} is left");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs the split run again and sends `signal` to host `victim`'s
/// launcher once every host runs its satellites: every other host (and
/// the victim, if it can) exits 1 within 2 s, naming the victim, and
/// nothing is left in the namespaces.
fn stop_one(hosts: &Hosts, file: &Path, out: &Path, victim: usize, signal: &str) {
    let mut launchers: Vec<Child> = (0..3).map(|k| hosts.up(k, file, out)).collect();
    wait_for_satellites(hosts, 4);
    if signal == "STOP" {
        // Into the run (it starts within a fraction of a second of the
        // satellites and lasts some 7 s): before the start a host may stay
        // silent a minute while it starts its satellites.
        std::thread::sleep(Duration::from_secs(2));
    }
    let sent = Instant::now();
    let pid = launchers[victim].id().to_string();
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -{signal} {pid}");
    let named = format!(
        "host {victim} ({})",
        ["sat-0–sat-3", "sat-4–sat-7", "sat-8–sat-11"][victim]
    );
    let mut frozen = None;
    for (k, c) in launchers.drain(..).enumerate() {
        if k == victim && signal == "STOP" {
            frozen = Some(c);
            continue;
        }
        let (code, took, stderr) = stopped(c, sent);
        eprintln!(
            "SIG{signal} to host {victim}: host {k} exit {code:?} after {took:?}: {}",
            stderr.trim_end()
        );
        if k == victim && signal == "KILL" {
            continue;
        }
        assert_eq!(code, Some(1), "host {k}: {stderr}");
        assert!(
            took < Duration::from_secs(2),
            "host {k} stopped after {took:?}"
        );
        assert!(stderr.contains(&named), "host {k}: {stderr}");
    }
    // Frozen, it cannot stop: killed, its satellites go with it.
    if let Some(mut c) = frozen {
        c.kill().expect("kill the frozen launcher");
        let _ = c.wait();
    }
    assert_eq!(
        hosts.wait_empty(),
        Vec::<String>::new(),
        "after SIG{signal} to host {victim}"
    );
}

/// Runs the split run again and kills sat-9's process (host 2's, not the
/// coordinator's) once every host runs its satellites: every host exits 1
/// within 2 s, naming sat-9 and its host, and
/// nothing is left in the namespaces.
fn crash_one(hosts: &Hosts, file: &Path, out: &Path) {
    let launchers: Vec<Child> = (0..3).map(|k| hosts.up(k, file, out)).collect();
    wait_for_satellites(hosts, 4);
    let o = Command::new("ip")
        .args(["netns", "pids", &hosts.names[2]])
        .output()
        .expect("ip");
    let pids = String::from_utf8_lossy(&o.stdout).into_owned();
    let victim = pids
        .split_whitespace()
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("\0--sat\09\0"))
        })
        .expect("sat-9's process in host 2's namespace");
    let sent = Instant::now();
    let killed = Command::new("kill").args(["-KILL", victim]).status();
    assert!(killed.is_ok_and(|s| s.success()), "kill -KILL {victim}");
    for (k, c) in launchers.into_iter().enumerate() {
        let (code, took, stderr) = stopped(c, sent);
        eprintln!("sat-9 killed: host {k} exit {code:?} after {took:?}: {stderr}");
        assert_eq!(code, Some(1), "host {k}: {stderr}");
        assert!(
            took < Duration::from_secs(2),
            "host {k} stopped after {took:?}"
        );
        assert!(
            stderr.contains("satellite sat-9") && stderr.contains("died"),
            "host {k}: {stderr}"
        );
    }
    assert_eq!(hosts.wait_empty(), Vec::<String>::new(), "after sat-9 died");
}

/// How `c` ended, how long after `since`, and its stderr.
fn stopped(mut c: Child, since: Instant) -> (Option<i32>, Duration, String) {
    let status = wait_exit(&mut c, Duration::from_secs(10));
    let took = since.elapsed();
    let o = finish_within(c, Duration::from_secs(1));
    (
        status.and_then(|s| s.code()),
        took,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Waits until every namespace runs at least `n` satellites (`orbnet node`).
fn wait_for_satellites(hosts: &Hosts, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts: Vec<usize> = hosts
            .names
            .iter()
            .map(|ns| {
                let o = Command::new("ip")
                    .args(["netns", "pids", ns])
                    .output()
                    .expect("ip");
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter(|pid| {
                        std::fs::read(format!("/proc/{pid}/cmdline"))
                            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("\0node\0"))
                    })
                    .count()
            })
            .collect();
        if counts.iter().all(|&c| c >= n) {
            return;
        }
        assert!(Instant::now() < deadline, "satellites per host: {counts:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
