//! Where a satellite's [`Event`]s go: JSON lines on stdout to the launcher
//! (process harness), or a channel to the in-process harness, tagged with
//! the satellite's index.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::UnboundedSender;

use crate::protocol::Event;

/// A satellite's reports, and every task's of that satellite (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Reporter {
    to: Option<(usize, UnboundedSender<(usize, Event)>)>,
    /// Cleared when an in-process satellite crashes: the tasks it spawned
    /// may linger until the run ends, but a dead satellite says nothing.
    alive: Option<Arc<AtomicBool>>,
}

impl Reporter {
    /// Events as JSON lines on stdout.
    pub fn stdout() -> Reporter {
        Reporter::default()
    }

    /// Events of satellite `sat` into a channel.
    pub fn channel(sat: usize, tx: UnboundedSender<(usize, Event)>) -> Reporter {
        Reporter {
            to: Some((sat, tx)),
            alive: Some(Arc::new(AtomicBool::new(true))),
        }
    }

    /// Silences this reporter and every clone of it.
    pub fn silence(&self) {
        if let Some(a) = &self.alive {
            a.store(false, Ordering::Relaxed);
        }
    }

    /// Reports one event.
    pub fn emit(&self, e: Event) {
        match &self.to {
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", e.json());
                let _ = out.flush();
            }
            Some((sat, tx)) => {
                if self
                    .alive
                    .as_ref()
                    .is_none_or(|a| a.load(Ordering::Relaxed))
                {
                    let _ = tx.send((*sat, e));
                }
            }
        }
    }
}
