//! The web view: the constellation on a map and a globe, its links and the
//! routes of its workloads, with the run's measurements beside them.
//!
//! ```text
//! orbnet up --web ─► supervisor ─► Observer: LiveView ─┐
//!                                                      ├─► Feed ─► server (axum) ─► page
//! orbnet view PATH ─► replay: results dir | scenario ──┘    (Sky: the world at t)
//! ```
//!
//! The page (`assets/`, described in `README.md` beside this file) is
//! embedded in the binary and asks the server for JSON; the server binds
//! loopback unless told otherwise and sends `Content-Security-Policy:
//! default-src 'self'` with everything, and the page makes no request to
//! any other host.

mod assets;
mod feed;
mod geodetic;
mod live;
mod replay;
mod server;
mod sky;
mod traffic;

#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;

use crate::Failure;
pub(crate) use live::LiveView;

/// Where the view listens unless told otherwise.
pub(crate) const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// `orbnet view PATH`: serves a results directory's replay, or a scenario's
/// world over time, until Ctrl-C or SIGTERM.
pub(crate) fn view_command(path: &Path, listen: SocketAddr) -> Result<(), Failure> {
    let (feed, what) = replay::load(path)?;
    let (listener, url) = server::bind(listen)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Run(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| Failure::Run(format!("cannot watch SIGTERM: {e}")))?;
        let (stop, stopped) = watch::channel(false);
        let mut server = tokio::spawn(server::serve(listener, Arc::new(feed), stopped));
        println!("orbnet view: {what}\n{url}  (Ctrl-C to stop)");
        let _ = std::io::stdout().flush();
        let early = tokio::select! {
            _ = tokio::signal::ctrl_c() => None,
            _ = term.recv() => None,
            r = &mut server => Some(r),
        };
        stop.send_replace(true);
        let ended = match early {
            Some(r) => r,
            None => server.await,
        };
        match ended {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::Run(format!("the view's server failed: {e}"))),
            Err(e) => Err(Failure::Run(format!("the view's server failed: {e}"))),
        }
    })
}
