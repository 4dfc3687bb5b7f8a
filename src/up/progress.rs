//! The progress line of a run of satellite processes: virtual time
//! reached, frames sent and links up, from the satellites' stats samples.

use indicatif::{ProgressBar, ProgressStyle};
use orbnet_netem::Scenario;
use orbnet_node::protocol::Stats;

/// The progress line, and each satellite's latest sample.
#[derive(Debug)]
pub(super) struct Progress {
    bar: ProgressBar,
    frames: Vec<u64>,
    links: Vec<u64>,
}

impl Progress {
    pub(super) fn new(scenario: &Scenario) -> Progress {
        let n = scenario.world.nodes() as usize;
        let bar = ProgressBar::new((scenario.duration.as_secs_f64() * 1000.0).ceil() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} ms virtual  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("starting {n} satellites"));
        Progress {
            bar,
            frames: vec![0; n],
            links: vec![0; n],
        }
    }

    pub(super) fn message(&self, m: impl Into<String>) {
        self.bar.set_message(m.into());
    }

    /// Satellite `i`'s latest sample.
    pub(super) fn stats(&mut self, i: usize, s: &Stats) {
        let (Some(f), Some(l)) = (self.frames.get_mut(i), self.links.get_mut(i)) else {
            return;
        };
        *f = s.frames_out;
        *l = s.links_up as u64;
        self.bar.set_position((s.t_s * 1000.0) as u64);
        self.bar.set_message(format!(
            "{} frames, {} links up",
            self.frames.iter().sum::<u64>(),
            self.links.iter().sum::<u64>() / 2
        ));
    }

    pub(super) fn clear(&self) {
        self.bar.finish_and_clear();
    }
}
