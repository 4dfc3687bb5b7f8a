//! The view's server, in this process: its JSON endpoints over a real
//! in-process ring-8 run (followed live, then replayed from its results
//! directory) against `orbnet plan` and the files the run wrote; link
//! states with acquisition against the plan; the live stream; the page's
//! files; and a stop that an open live stream cannot hold up.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use orbnet_netem::SimTime;
use orbnet_node::protocol::{Echo, Event};
use serde_json::Value;
use tokio::sync::watch;
use tower::ServiceExt as _;

use super::feed::Feed;
use super::server::{CSP, router};
use super::sky::Sky;
use crate::load::Source;
use crate::plan::{Format, render};
use crate::up::Observer;

fn ring8() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/ring-8.toml")
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("orbnet-view-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A GET through the router: status, headers, body.
async fn get_async(
    app: &Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let (status, headers) = (res.status(), res.headers().clone());
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    assert_eq!(
        headers
            .get(header::CONTENT_SECURITY_POLICY)
            .map(|v| v.as_bytes()),
        Some(CSP.as_bytes()),
        "{uri}: the policy"
    );
    (
        status,
        headers,
        String::from_utf8(body.to_vec()).expect("UTF-8"),
    )
}

fn get(rt: &tokio::runtime::Runtime, app: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, headers, body) = rt.block_on(get_async(app, uri, &[]));
    assert_eq!(
        headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(b"application/json".as_slice()),
        "{uri}"
    );
    (status, serde_json::from_str(&body).expect("JSON"))
}

/// The links `orbnet plan --at t --format json` lists as up or acquiring, as (a, b).
fn planned(scenario: &orbnet_netem::Scenario, t: f64) -> BTreeSet<(String, String)> {
    let plan: Value =
        serde_json::from_str(&render(scenario, &[t], Format::Json, None, None)).expect("plan");
    plan["steps"][0]["links"]
        .as_array()
        .expect("links")
        .iter()
        .filter(|l| l["state"] == "up" || l["state"] == "acquiring")
        .map(|l| {
            (
                l["a"].as_str().expect("a").into(),
                l["b"].as_str().expect("b").into(),
            )
        })
        .collect()
}

/// The links a state lists as up or acquiring, as (a, b) through the scenario.
fn drawn(scenario: &Value, state: &Value) -> BTreeSet<(String, String)> {
    let links = scenario["links"].as_array().expect("links");
    state["links"]
        .as_array()
        .expect("links")
        .iter()
        .filter(|l| l["state"] == "up" || l["state"] == "acquiring")
        .map(|l| {
            let def = links
                .iter()
                .find(|d| d["id"] == l["id"])
                .expect("a scenario link");
            (
                def["a"].as_str().expect("a").into(),
                def["b"].as_str().expect("b").into(),
            )
        })
        .collect()
}

/// Every event through `/api/events`, page after page.
fn all_events(rt: &tokio::runtime::Runtime, app: &Router) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let (status, page) = get(rt, app, &format!("/api/events?since={}", out.len()));
        assert_eq!(status, StatusCode::OK);
        let events = page["events"].as_array().expect("events").clone();
        if events.is_empty() {
            assert_eq!(page["next"], out.len());
            return out;
        }
        out.extend(events);
        assert_eq!(page["next"], out.len());
    }
}

#[test]
fn the_endpoints_show_an_in_process_ring_8_run_live_and_replayed() {
    let dir = temp_dir("ring8");
    let live = Arc::new(Feed::live());
    let (summary, out) = crate::up::up_in_process(
        Source::File(ring8()),
        crate::up::Overrides::default(),
        Some(dir.clone()),
        &[],
        Some(&*live as &dyn Observer),
    )
    .map_err(|e| format!("{e:?}"))
    .expect("the run");
    assert!(summary.ok);
    let (replayed, what) = super::replay::load(&out)
        .map_err(|e| format!("{e:?}"))
        .expect("replay");
    assert!(what.contains("ring-8"), "{what}");
    let lines: Vec<Value> = std::fs::read_to_string(out.join("events.jsonl"))
        .expect("events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let rt = runtime();
    let (_stop, stopped) = watch::channel(false);
    for (feed, is_live) in [(live, true), (Arc::new(replayed), false)] {
        let app = router(feed.clone(), stopped.clone());
        let (status, scenario) = get(&rt, &app, "/api/scenario");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(scenario["live"], is_live);
        let nodes = scenario["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), 8);
        assert!(nodes.iter().all(|n| n["kind"] == "satellite"), "{nodes:?}");
        assert_eq!(nodes[3]["id"], "sat-3");
        assert_eq!(scenario["workloads"][0]["from"], "sat-0");

        // The links up or acquiring at 0 are those `orbnet plan` lists.
        let (status, state) = get(&rt, &app, "/api/state?t=0");
        assert_eq!(status, StatusCode::OK);
        let sky = feed.sky().expect("begun").scenario();
        let want = planned(sky, 0.0);
        assert_eq!(want.len(), 8);
        assert_eq!(drawn(&scenario, &state), want);
        assert_eq!(state["positions"].as_array().map(Vec::len), Some(8));
        let route = &state["routes"][0];
        assert_eq!(route["workload"], 0);
        assert_eq!(route["path"][0], "sat-0");
        assert_eq!(
            route["path"].as_array().and_then(|p| p.last()),
            Some(&Value::from("sat-4"))
        );

        // Events arrive in the order the launcher collected them (the
        // satellites' last reports are written after, and not followed live).
        let events = all_events(&rt, &app);
        let expected: Vec<&Value> = lines
            .iter()
            .filter(|e| !is_live || e["event"] != "done")
            .collect();
        assert_eq!(events.iter().collect::<Vec<_>>(), expected);
        let seqs: Vec<u64> = events
            .iter()
            .filter(|e| e["event"] == "echo")
            .map(|e| e["seq"].as_u64().expect("seq"))
            .collect();
        assert_eq!(seqs, (0..40).collect::<Vec<u64>>());
        let (_, page) = get(&rt, &app, "/api/events?since=20");
        assert_eq!(page["events"][0], events[20]);

        let (status, s) = get(&rt, &app, "/api/summary");
        assert_eq!(status, StatusCode::OK);
        let written: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
        )
        .expect("JSON");
        assert_eq!(s, written);
        let (status, _) = get(&rt, &app, "/api/state?t=-1");
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn link_states_follow_the_plan_through_acquisition_and_back_in_time() {
    // The demonstration: 24 satellites whose links take 2 s to acquire;
    // two links come up at about 325 s.
    let scenario = crate::load::load(&Source::BuiltIn).expect("default");
    let instants = [
        0.0, 100.0, 300.0, 324.0, 325.0, 325.5, 326.0, 327.0, 328.0, 400.0,
    ];
    let plan: Value = serde_json::from_str(&render(&scenario, &instants, Format::Json, None, None))
        .expect("plan");
    let steps = plan["steps"].as_array().expect("steps");
    let sky = Sky::new(scenario, false);
    let mut acquiring = 0;
    // Forward, then back and forth.
    for k in (0..instants.len()).chain([6, 0, 5, 9, 7]) {
        let t = SimTime::from_secs_f64(instants[k]);
        let state: Value = serde_json::from_str(&sky.state_json(t, None)).expect("state");
        let links = state["links"].as_array().expect("links");
        let want = steps[k]["links"].as_array().expect("links");
        assert_eq!(links.len(), want.len());
        for (l, w) in links.iter().zip(want) {
            assert_eq!(
                l["state"], w["state"],
                "t = {} s, link {}",
                instants[k], l["id"]
            );
            assert_eq!(l["reason"], w["reason"]);
            assert!(l["utilization"].is_null());
        }
        acquiring += links.iter().filter(|l| l["state"] == "acquiring").count();
    }
    assert!(acquiring >= 4, "{acquiring} links seen acquiring");
}

#[test]
fn a_live_stream_sends_new_events_states_and_the_end() {
    let feed = Arc::new(Feed::live());
    let scenario = crate::load::load(&Source::File(ring8())).expect("ring-8");
    Observer::begin(&*feed, &scenario);
    let echo = |seq| {
        Event::Echo(Echo {
            from: "sat-0".into(),
            to: "sat-4".into(),
            seq,
            sent_s: f64::from(seq) * 0.2,
            size: 56,
            rtt_ms: Some(150.7),
        })
    };
    for seq in 0..3 {
        feed.push(&echo(seq));
    }
    feed.set_now(SimTime::from_secs_f64(0.5));
    let (_stop, stopped) = watch::channel(false);
    let app = router(feed.clone(), stopped);
    let rt = runtime();
    let later = feed.clone();
    let (status, headers, body) = rt.block_on(async move {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            later.push(&echo(3));
            later.set_now(SimTime::from_secs_f64(0.9));
            later.finish(Some("{\"ok\":true}".into()));
        });
        // A reconnection that had seen event 0.
        get_async(&app, "/api/live", &[("last-event-id", "0")]).await
    });
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(b"text/event-stream".as_slice())
    );
    let ids: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    assert_eq!(ids, ["1", "2", "3"], "{body}");
    let kinds: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert!(
        kinds.iter().filter(|k| **k == "state").count() >= 2,
        "{body}"
    );
    assert_eq!(kinds.last(), Some(&"end"), "{body}");
    let last_state = body
        .split("\n\n")
        .filter(|m| m.contains("event: state"))
        .last()
        .and_then(|m| m.lines().find_map(|l| l.strip_prefix("data: ")))
        .expect("a state");
    let state: Value = serde_json::from_str(last_state).expect("JSON");
    assert_eq!(state["t_s"], 0.9);
    let (status, summary) = get(&rt, &router(feed, watch::channel(false).1), "/api/summary");
    assert_eq!(
        (status, summary["ok"].as_bool()),
        (StatusCode::OK, Some(true))
    );
}

#[test]
fn the_page_is_served_with_its_types_and_the_policy() {
    let scenario = crate::load::load(&Source::File(ring8())).expect("ring-8");
    let feed = Arc::new(Feed::replay(Sky::new(scenario, false), None, None));
    let app = router(feed, watch::channel(false).1);
    let rt = runtime();
    for (uri, status, ty) in [
        ("/", StatusCode::OK, "text/html; charset=utf-8"),
        ("/?t=240#globe", StatusCode::OK, "text/html; charset=utf-8"),
        ("/app.js", StatusCode::OK, "text/javascript; charset=utf-8"),
        ("/style.css", StatusCode::OK, "text/css; charset=utf-8"),
        ("/land.json", StatusCode::OK, "application/json"),
        ("/favicon.svg", StatusCode::OK, "image/svg+xml"),
        (
            "/nothing.js",
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
        ),
        ("/api/live", StatusCode::NOT_FOUND, "application/json"),
        ("/api/summary", StatusCode::NOT_FOUND, "application/json"),
    ] {
        let (got, headers, body) = rt.block_on(get_async(&app, uri, &[]));
        assert_eq!(got, status, "{uri}");
        assert_eq!(
            headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(ty.as_bytes()),
            "{uri}"
        );
        if uri.starts_with("/?") {
            assert!(body.contains("<script type=\"module\" src=\"app.js\">"));
        }
    }
    // A scenario without a run: no events, no utilisation.
    let (_, state) = get(&rt, &app, "/api/state?t=60");
    assert!(state["links"][0]["utilization"].is_null());
    let (_, events) = get(&rt, &app, "/api/events");
    assert_eq!(events["next"], 0);
}

#[test]
fn the_server_stops_although_a_live_stream_is_open() {
    let rt = runtime();
    let feed = Arc::new(Feed::live());
    let scenario = crate::load::load(&Source::File(ring8())).expect("ring-8");
    Observer::begin(&*feed, &scenario);
    let (listener, url) = super::server::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let (stop, stopped) = watch::channel(false);
    let took = rt.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let server = tokio::spawn(super::server::serve(listener, feed, stopped));
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        s.write_all(b"GET /api/live HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        let t0 = Instant::now();
        stop.send_replace(true);
        server.await.expect("joined").expect("served");
        let took = t0.elapsed();
        assert!(
            tokio::net::TcpStream::connect(&addr).await.is_err(),
            "still listening"
        );
        took
    });
    assert!(took < Duration::from_secs(1), "the stop took {took:?}");
}

#[test]
fn ground_stations_show_as_ground_nodes_with_their_names_places_and_links() {
    // Hypatia's four-city file: Tokyo 35.6895° N 139.6917° E, 40 m.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/hypatia-demo.toml");
    let scenario = crate::load::load(&Source::File(path)).expect("hypatia-demo");
    let sats = scenario.world.satellites() as usize;
    let plan: Value =
        serde_json::from_str(&render(&scenario, &[0.0], Format::Json, None, None)).expect("plan");
    let sky = Sky::new(scenario, false);
    let def: Value = serde_json::from_str(sky.scenario_json()).expect("scenario");
    let nodes = def["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), sats + 4);
    assert!(nodes[..sats].iter().all(|n| n["kind"] == "satellite"));
    let labels: Vec<&str> = nodes[sats..]
        .iter()
        .map(|n| {
            assert_eq!(n["kind"], "ground");
            n["label"].as_str().expect("label")
        })
        .collect();
    assert_eq!(labels, ["Tokyo", "Delhi", "Shanghai", "Sao-Paulo"]);
    assert_eq!(nodes[sats]["id"], "gs-0");
    // Link kinds as the plan gives them; a gsl always has a station end.
    let links = def["links"].as_array().expect("links");
    let planned = plan["steps"][0]["links"].as_array().expect("links");
    assert_eq!(links.len(), planned.len());
    for (l, p) in links.iter().zip(planned) {
        assert_eq!(l["kind"], p["kind"], "link {}", l["id"]);
        let to_ground = [&l["a"], &l["b"]]
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.starts_with("gs-")));
        assert_eq!(l["kind"] == "gsl", to_ground, "link {}", l["id"]);
    }
    let state: Value =
        serde_json::from_str(&sky.state_json(SimTime::from_secs_f64(5.0), None)).expect("state");
    let tokyo = &state["positions"][sats];
    let close = |v: &Value, want: f64, tol: f64| (v.as_f64().expect("number") - want).abs() < tol;
    assert!(close(&tokyo[0], 35.6895, 1e-3), "{tokyo}");
    assert!(close(&tokyo[1], 139.6917, 1e-3), "{tokyo}");
    assert!(close(&tokyo[2], 0.040, 1e-3), "{tokyo}");
    // Tokyo sees some satellite of the 18 × 18 shell at 550 km (mask 0°).
    let up_gsl = state["links"]
        .as_array()
        .expect("links")
        .iter()
        .filter(|l| links[l["id"].as_u64().expect("id") as usize]["kind"] == "gsl")
        .filter(|l| l["state"] == "up")
        .count();
    assert!(up_gsl >= 1, "no ground link up");
}
