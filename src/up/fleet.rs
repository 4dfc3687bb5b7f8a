//! The satellite processes this host runs: a run's every satellite on one
//! host, or a host's share of a run split across hosts. The fleet starts
//! them (`orbnet node`), reads their report lines, writes the launcher's
//! messages to their stdin, sees them exit, crashes and restarts them, and
//! stops them all. Satellites exit by themselves when their stdin closes,
//! so none outlives its launcher even if that is killed with SIGKILL.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use orbnet_node::protocol::{Event, ToNode};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::Failure;

/// Satellites started at once before the runtime gets a turn (a host's
/// connection to its coordinator is served between batches).
const SPAWN_BATCH: usize = 32;

/// How to start a satellite process (again, after a crash).
#[derive(Debug)]
pub(super) struct Launch {
    pub exe: PathBuf,
    /// Arguments every satellite gets: token, scenario, overrides, address.
    pub common: Vec<String>,
    /// Satellites' own arguments (captures), by index.
    pub args: BTreeMap<usize, Vec<String>>,
}

#[derive(Debug)]
struct Sat {
    child: Child,
    pid: Option<u32>,
    stdin: Option<ChildStdin>,
}

/// A satellite process that exited when it should not have.
#[derive(Debug)]
pub(super) struct Death {
    pub index: usize,
    pub status: ExitStatus,
    pub pid: Option<u32>,
}

/// This host's satellite processes.
#[derive(Debug)]
pub(super) struct Fleet {
    launch: Launch,
    sats: BTreeMap<usize, Sat>,
    /// When each process was seen to have exited, and how.
    exited: BTreeMap<usize, (Instant, ExitStatus)>,
    /// Each process's events in order, then `None` at the end of its output.
    tx: mpsc::UnboundedSender<(usize, Option<Event>)>,
    rx: mpsc::UnboundedReceiver<(usize, Option<Event>)>,
    /// Per satellite, how many of its processes (a restart makes another)
    /// were started, and how many have had their output end: all of them
    /// once its last event is in.
    spawned: BTreeMap<usize, u32>,
    eof: BTreeMap<usize, u32>,
    /// A child exited: look which (scanning every process only then, not
    /// on every tick, matters with thousands of them).
    sigchld: tokio::signal::unix::Signal,
}

impl Fleet {
    /// Starts satellites `members`; `name` names one in messages.
    pub(super) async fn start(
        launch: Launch,
        members: &[usize],
        name: impl Fn(usize) -> String,
    ) -> Result<Fleet, Failure> {
        use tokio::signal::unix::{SignalKind, signal};
        let sigchld = signal(SignalKind::child())
            .map_err(|e| Failure::Run(format!("cannot watch SIGCHLD: {e}")))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut fleet = Fleet {
            launch,
            sats: BTreeMap::new(),
            exited: BTreeMap::new(),
            tx,
            rx,
            spawned: members.iter().map(|&i| (i, 1)).collect(),
            eof: BTreeMap::new(),
            sigchld,
        };
        for batch in members.chunks(SPAWN_BATCH) {
            for &i in batch {
                match fleet.spawn(i, None) {
                    Ok(s) => {
                        fleet.sats.insert(i, s);
                    }
                    Err(e) => return Err(Failure::Run(format!("cannot start {}: {e}", name(i)))),
                }
            }
            tokio::task::yield_now().await;
        }
        Ok(fleet)
    }

    /// Starts satellite `i`; a restart binds its old wire `port` again.
    fn spawn(&self, i: usize, port: Option<u16>) -> std::io::Result<Sat> {
        let mut cmd = Command::new(&self.launch.exe);
        cmd.arg("node")
            .args(["--sat", &i.to_string()])
            .args(&self.launch.common);
        match port {
            Some(p) => {
                cmd.args(["--port", &p.to_string(), "--restarted"]);
            }
            None => {
                cmd.args(self.launch.args.get(&i).into_iter().flatten());
            }
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take();
        let stdin = child.stdin.take();
        if let Some(stdout) = stdout {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    // A line that is no event (a stray print) is ignored.
                    if let Ok(e) = serde_json::from_str::<Event>(&l) {
                        let _ = tx.send((i, Some(e)));
                    }
                }
                let _ = tx.send((i, None));
            });
        }
        Ok(Sat {
            pid: child.id(),
            child,
            stdin,
        })
    }

    /// How many satellites this host runs.
    pub(super) fn len(&self) -> usize {
        self.sats.len()
    }

    /// The next report of a satellite (cancel-safe); processes that exit
    /// meanwhile are recorded, but for those `skip` names (crashed on
    /// purpose).
    pub(super) async fn next(&mut self, skip: impl Fn(usize) -> bool) -> Option<(usize, Event)> {
        loop {
            tokio::select! {
                m = self.rx.recv() => match m {
                    Some((i, Some(e))) => return Some((i, e)),
                    Some((i, None)) => *self.eof.entry(i).or_default() += 1,
                    None => return None,
                },
                _ = self.sigchld.recv() => self.reap(&skip),
            }
        }
    }

    /// Sends `m` to satellite `i`; false if its pipe is closed (or it is
    /// not one of this host's).
    pub(super) async fn send(&mut self, i: usize, m: &ToNode) -> bool {
        match self.sats.get_mut(&i) {
            Some(sat) => send_line(sat, &m.line()).await,
            None => false,
        }
    }

    /// Sends `m` to every satellite but those `skip` names; the first whose
    /// pipe is closed is an error.
    pub(super) async fn send_all(
        &mut self,
        m: &ToNode,
        skip: impl Fn(usize) -> bool,
    ) -> Result<(), usize> {
        let line = m.line();
        for (&i, sat) in self.sats.iter_mut() {
            if !skip(i) && !send_line(sat, &line).await {
                return Err(i);
            }
        }
        Ok(())
    }

    /// Records the processes that have exited since the last look, but for
    /// those `skip` names.
    fn reap(&mut self, skip: &impl Fn(usize) -> bool) {
        for (&i, sat) in self.sats.iter_mut() {
            if self.exited.contains_key(&i) || skip(i) {
                continue;
            }
            if let Ok(Some(status)) = sat.child.try_wait() {
                self.exited.insert(i, (Instant::now(), status));
            }
        }
    }

    /// A satellite whose process has exited although it should be running:
    /// neither `expected` to be gone (down or done) nor a clean exit whose
    /// last lines are still to be read (a launcher behind on thousands of
    /// satellites' events may read them well after the exit; at most half
    /// a minute).
    pub(super) fn dead(&self, expected: impl Fn(usize) -> bool) -> Option<Death> {
        self.exited.iter().find_map(|(&i, &(since, status))| {
            let unread =
                self.eof.get(&i).copied().unwrap_or(0) < self.spawned.get(&i).copied().unwrap_or(1);
            let grace = status.success() && unread && since.elapsed() < Duration::from_secs(30);
            (!grace && !expected(i)).then(|| Death {
                index: i,
                status,
                pid: self.sats.get(&i).and_then(|s| s.pid),
            })
        })
    }

    /// Kills satellite `i` (a crash on the fault schedule).
    pub(super) fn crash(&mut self, i: usize) {
        if let Some(s) = self.sats.get_mut(&i) {
            s.stdin = None;
            let _ = s.child.start_kill();
        }
    }

    /// Starts satellite `i` again on its old wire `port`, once the crashed
    /// process is gone.
    pub(super) async fn restart(&mut self, i: usize, port: Option<u16>) -> std::io::Result<()> {
        if let Some(old) = self.sats.get_mut(&i) {
            let _ = tokio::time::timeout(Duration::from_secs(2), old.child.wait()).await;
        }
        let s = self.spawn(i, port)?;
        self.sats.insert(i, s);
        *self.spawned.entry(i).or_insert(1) += 1;
        self.exited.remove(&i);
        Ok(())
    }

    /// Stops every process: closes their pipes, then kills what is left;
    /// returns the reports still on their way.
    pub(super) async fn stop(mut self) -> Vec<(usize, Event)> {
        for s in self.sats.values_mut() {
            s.stdin = None;
            let _ = s.child.start_kill();
        }
        for s in self.sats.values_mut() {
            let _ = tokio::time::timeout(Duration::from_secs(2), s.child.wait()).await;
        }
        let mut late = Vec::new();
        while let Ok((i, m)) = self.rx.try_recv() {
            late.extend(m.map(|e| (i, e)));
        }
        late
    }
}

/// Sends a line to one satellite; false if its pipe is closed.
async fn send_line(sat: &mut Sat, line: &str) -> bool {
    let Some(stdin) = sat.stdin.as_mut() else {
        return false;
    };
    stdin.write_all(line.as_bytes()).await.is_ok() && stdin.flush().await.is_ok()
}
