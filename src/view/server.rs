//! The view's HTTP server (axum): the embedded page, and its data API over
//! a [`Feed`], every response with `Content-Security-Policy: default-src
//! 'self'`.
//!
//! | path | answer |
//! |---|---|
//! | `/`, `/app.js`, … | the page's files (`/` is `index.html`, whatever the query) |
//! | `/api/scenario` | nodes, links, workloads, epoch, duration, whether live |
//! | `/api/state?t=S` | positions, link states and routes at virtual second `S` (default: now) |
//! | `/api/events?since=N` | `{"next", "events"}`: events from index `N`, a page at a time |
//! | `/api/summary` | `summary.json`; 404 while there is none |
//! | `/api/live` | live runs: Server-Sent Events (below); 404 otherwise |
//!
//! The live stream sends, every 100 ms of wall time, each new event as an
//! `event` message whose `id:` is its index (from `Last-Event-ID` + 1 on a
//! reconnection, else from the events there are when it opens: the page
//! fetches those from `/api/events`), then a `state` message at the run's
//! virtual time; once the run is over, an `end` message, and it closes.
//!
//! Shutting down: axum's graceful shutdown waits for every open connection,
//! and a live stream never ends by itself before the run does, so the stop
//! signal also ends every stream; whatever is still open [`DRAIN`] after the
//! stop is dropped with the runtime.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::map_response;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt as _;
use orbnet_netem::SimTime;
use serde::Deserialize;
use tokio::sync::watch;

use super::assets;
use super::feed::Feed;
use crate::Failure;

/// The policy on every response: nothing but this origin.
pub(crate) const CSP: &str = "default-src 'self'";
/// How often a live stream sends.
const LIVE_EVERY: Duration = Duration::from_millis(100);
/// Events per `/api/events` page.
const PAGE: usize = 10_000;
/// How long connections may take to close after the stop.
const DRAIN: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
struct App {
    feed: Arc<Feed>,
    /// True once the server stops: live streams end.
    stop: watch::Receiver<bool>,
}

/// The routes over `feed`; `stop` ends the live streams.
pub(crate) fn router(feed: Arc<Feed>, stop: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/api/scenario", get(scenario))
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/summary", get(summary))
        .route("/api/live", get(live))
        .fallback(asset)
        // Last, so that it covers every route and the fallback.
        .layer(map_response(policy))
        .with_state(App { feed, stop })
}

/// Binds `addr` (before anything runs, so a taken port fails at once);
/// returns the listener and the page's URL.
pub(crate) fn bind(addr: SocketAddr) -> Result<(std::net::TcpListener, String), Failure> {
    let fail = |e: std::io::Error| Failure::Run(format!("cannot serve the view on {addr}: {e}"));
    let listener = std::net::TcpListener::bind(addr).map_err(fail)?;
    listener.set_nonblocking(true).map_err(fail)?;
    let local = listener.local_addr().map_err(fail)?;
    Ok((listener, format!("http://{local}/")))
}

/// Serves `feed` on `listener` until `stop` turns true (or its sender is
/// dropped), then gives open connections [`DRAIN`] to finish.
pub(crate) async fn serve(
    listener: std::net::TcpListener,
    feed: Arc<Feed>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let app = router(feed, stop.clone());
    let mut graceful = stop.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|s| *s).await;
    });
    let mut drain = stop;
    tokio::select! {
        r = std::future::IntoFuture::into_future(server) => r,
        () = async move {
            let _ = drain.wait_for(|s| *s).await;
            tokio::time::sleep(DRAIN).await;
        } => Ok(()),
    }
}

async fn policy(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn json(status: StatusCode, body: String) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "application/json"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    (status, headers, body).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, serde_json::json!({ "error": message }).to_string())
}

async fn asset(uri: Uri) -> Response {
    match assets::find(uri.path()) {
        Some(a) => ([(header::CONTENT_TYPE, a.content_type)], a.body).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not found\n",
        )
            .into_response(),
    }
}

async fn scenario(State(app): State<App>) -> Response {
    match app.feed.sky() {
        Some(sky) => json(StatusCode::OK, sky.scenario_json().to_owned()),
        None => starting(),
    }
}

fn starting() -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, "the run is starting")
}

#[derive(Debug, Deserialize)]
struct StateQuery {
    /// Virtual seconds since the epoch.
    t: Option<f64>,
}

async fn state(State(app): State<App>, q: Result<Query<StateQuery>, QueryRejection>) -> Response {
    let t = match q {
        Ok(Query(StateQuery { t: Some(t) })) if t.is_finite() && t >= 0.0 => {
            SimTime::from_secs_f64(t)
        }
        Ok(Query(StateQuery { t: None })) => app.feed.now(),
        Ok(Query(StateQuery { t: Some(t) })) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("t: must be seconds ≥ 0 (got {t})"),
            );
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    match app.feed.state_json(t) {
        Some(body) => json(StatusCode::OK, body),
        None => starting(),
    }
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    since: Option<usize>,
}

async fn events(State(app): State<App>, q: Result<Query<EventsQuery>, QueryRejection>) -> Response {
    let since = match q {
        Ok(Query(q)) => q.since.unwrap_or(0),
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    let (events, next) = app.feed.events_from(since, PAGE);
    let mut body = format!("{{\"next\":{next},\"events\":[");
    body.push_str(&events.join(","));
    body.push_str("]}");
    json(StatusCode::OK, body)
}

async fn summary(State(app): State<App>) -> Response {
    match app.feed.summary() {
        Some(s) => json(StatusCode::OK, s.to_owned()),
        None if app.feed.is_live() && !app.feed.ended() => {
            error(StatusCode::NOT_FOUND, "the run is still going")
        }
        None => error(StatusCode::NOT_FOUND, "no summary: this view has no run"),
    }
}

async fn live(State(app): State<App>, headers: HeaderMap) -> Response {
    if !app.feed.is_live() {
        return error(StatusCode::NOT_FOUND, "not a live run");
    }
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<usize>().ok());
    let since = resume.map_or_else(|| app.feed.event_count(), |i| i + 1);
    let mut tick = tokio::time::interval(LIVE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Some((app.feed.follow(), since, tick));
    let stream = futures_util::stream::unfold(start, |st| async move {
        let (follower, sent, mut tick) = st?;
        tick.tick().await;
        let (batch, next, ended) = live_batch(follower.feed(), sent);
        let more = (!ended).then_some((follower, next, tick));
        Some((futures_util::stream::iter(batch), more))
    })
    .flatten();
    let mut stop = app.stop.clone();
    let stream = stream.take_until(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What a live stream sends at one tick: the events from `sent`, the state
/// now, and `end` if the run is over; the index after the events; whether
/// the run is over.
fn live_batch(feed: &Feed, sent: usize) -> (Vec<Result<SseEvent, Infallible>>, usize, bool) {
    // Read first: every event of a run that is over is in by then.
    let ended = feed.ended();
    let now = feed.now();
    let (events, next) = feed.events_from(sent, usize::MAX);
    let mut out: Vec<Result<SseEvent, Infallible>> = events
        .into_iter()
        .enumerate()
        .map(|(k, e)| {
            Ok(SseEvent::default()
                .id((sent + k).to_string())
                .event("event")
                .data(e))
        })
        .collect();
    if let Some(state) = feed.state_json(now) {
        out.push(Ok(SseEvent::default().event("state").data(state)));
    }
    if ended {
        let end = serde_json::json!({ "t_s": now.as_secs_f64() }).to_string();
        out.push(Ok(SseEvent::default().event("end").data(end)));
    }
    (out, next, ended)
}
