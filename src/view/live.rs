//! The live view of `orbnet up --web`: a server on a thread of its own (the
//! in-process harness runs on a runtime whose clock is paused and which
//! has no I/O driver, so the server cannot share it), fed by the run's
//! supervisor through the [`Observer`] hook, and stopped with the run:
//! [`LiveView::close`] (or dropping it, on any path out of `orbnet up`)
//! ends the live streams, stops the server and waits for its thread, so
//! the port is closed when `orbnet up` returns.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use orbnet_netem::{Scenario, SimTime};
use orbnet_node::protocol::Event;
use tokio::sync::watch;

use super::feed::Feed;
use super::server;
use super::sky::Sky;
use crate::Failure;
use crate::up::Observer;

/// How long the server stays after the run if a page follows it: the page
/// asks for the summary when it hears the end.
const LINGER: Duration = Duration::from_millis(500);

/// A live view being served.
#[derive(Debug)]
pub(crate) struct LiveView {
    feed: Arc<Feed>,
    url: String,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl LiveView {
    /// Binds `addr` and starts serving (the scenario is shown once the run
    /// begins).
    pub(crate) fn start(addr: SocketAddr) -> Result<LiveView, Failure> {
        let (listener, url) = server::bind(addr)?;
        let feed = Arc::new(Feed::live());
        let (stop, stopped) = watch::channel(false);
        let served = feed.clone();
        let thread = std::thread::Builder::new()
            .name("orbnet-view".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!("the live view cannot start its runtime: {e}");
                        return;
                    }
                };
                if let Err(e) = rt.block_on(server::serve(listener, served, stopped)) {
                    tracing::error!("the live view stopped: {e}");
                }
            })
            .map_err(|e| Failure::Run(format!("cannot start the live view: {e}")))?;
        Ok(LiveView {
            feed,
            url,
            stop,
            thread: Some(thread),
        })
    }

    /// The page's address.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Ends the view with the run: live streams hear the end, a page that
    /// follows gets a moment to fetch the summary, the server stops.
    pub(crate) fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        if !self.feed.ended() {
            self.feed.finish(None);
        }
        if self.feed.followers() > 0 {
            std::thread::sleep(LINGER);
        }
        self.stop.send_replace(true);
        let _ = thread.join();
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        self.shut();
    }
}

impl Observer for LiveView {
    fn begin(&self, scenario: &Scenario) {
        Observer::begin(&*self.feed, scenario);
    }

    fn event(&self, e: &Event) {
        self.feed.push(e);
    }

    fn time(&self, t: SimTime) {
        self.feed.set_now(t);
    }

    fn end(&self, summary_json: &str) {
        Observer::end(&*self.feed, summary_json);
    }
}

/// A live feed follows the run it observes.
impl Observer for Feed {
    fn begin(&self, scenario: &Scenario) {
        Feed::begin(self, Sky::new(scenario.clone(), true));
    }

    fn event(&self, e: &Event) {
        self.push(e);
    }

    fn time(&self, t: SimTime) {
        self.set_now(t);
    }

    fn end(&self, summary_json: &str) {
        self.finish(Some(summary_json.to_owned()));
    }
}
