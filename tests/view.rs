//! The web view end to end: `orbnet view` on a finished ring-8 run as a
//! process (HTTP on a free loopback port, Ctrl-C), `orbnet up --web` serving
//! a run live and closing its port with it, and the page in headless
//! Chromium: 8 satellites and the links `orbnet plan` lists, a screenshot
//! that is not blank, the Content-Security-Policy on the responses.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{BIN, temp_dir, wait_exit};

const RING8: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/ring-8.toml");
const CHROMIUM: &str = "/usr/bin/chromium";
const CSP: &str = "default-src 'self'";

/// Runs ring-8 in-process into `dir/out` with `args`; returns the results
/// directory and what `orbnet up` printed on stdout.
fn ring8_results(dir: &Path, args: &[&str]) -> (PathBuf, String) {
    let out = dir.join("out");
    let run = Command::new(BIN)
        .args(["up", RING8, "--in-process", "--out"])
        .arg(&out)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    (out, String::from_utf8(run.stdout).expect("UTF-8"))
}

/// `orbnet view PATH` on a free loopback port; returns it and its URL's
/// `host:port`.
fn spawn_view(path: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("view")
        .arg(path)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawns");
    let stdout = child.stdout.take().expect("stdout");
    let addr = url_in(stdout, "http://");
    (child, addr)
}

/// The `host:port` of the first URL that follows `prefix` (ending in
/// `http://`) in what `pipe` gives; the rest of it is read and dropped on
/// a thread, so that the writer never meets a closed pipe.
fn url_in(pipe: impl Read + Send + 'static, prefix: &str) -> String {
    let mut lines = BufReader::new(pipe);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).expect("reads") == 0 {
            panic!("no URL printed");
        }
        if let Some(at) = line.find(prefix) {
            let rest = &line[at + prefix.len()..];
            let addr = rest.split('/').next().expect("host:port").to_owned();
            std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
            return addr;
        }
    }
}

/// A GET over a fresh connection: status line, headers (lower-cased names)
/// and body.
fn http_get(addr: &str, path: &str) -> (String, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("writes");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("reads");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response");
    let mut lines = head.lines();
    let status = lines.next().expect("status").to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether something listens on `addr`.
fn listening(addr: &str) -> bool {
    TcpStream::connect(addr).is_ok()
}

fn sigint(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
}

#[test]
fn orbnet_view_replays_a_results_directory_until_ctrl_c() {
    let dir = temp_dir("view-replay");
    let (out, stdout) = ring8_results(&dir, &[]);
    // The human summary on stdout; the static page beside the results.
    assert!(stdout.starts_with("ring-8: ok, 8 satellites"), "{stdout}");
    assert!(stdout.contains("ping sat-0 → sat-4: 40 sent, 40 received, 0% loss"));
    let page = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert!(page.contains("<img src=\"rtt.svg\""), "{page}");
    assert!(!page.contains("<script"));

    let (mut view, addr) = spawn_view(&out);
    let (status, headers, body) = http_get(&addr, "/api/scenario");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(header(&headers, "content-security-policy"), Some(CSP));
    let scenario: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(scenario["nodes"].as_array().map(Vec::len), Some(8));
    let (status, headers, body) = http_get(&addr, "/?t=0");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(body.contains("app.js"));
    let (_, headers, _) = http_get(&addr, "/app.js");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let (status, _, body) = http_get(&addr, "/api/events?since=0");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let events: Value = serde_json::from_str(&body).expect("JSON");
    let lines = std::fs::read_to_string(out.join("events.jsonl")).expect("events");
    assert_eq!(events["next"], lines.lines().count());

    sigint(&view);
    let status = wait_exit(&mut view, Duration::from_secs(5)).expect("exits on Ctrl-C");
    assert!(status.success(), "{status}");
    assert!(!listening(&addr), "the port is still open");

    // --json prints what summary.json holds.
    let (out, stdout) = ring8_results(&dir, &["--json"]);
    let printed: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("summary.json")).expect("summary.json"),
    )
    .expect("JSON");
    assert_eq!(printed, written);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads Server-Sent Events until `end`; returns each message's (event, id).
fn follow(mut lines: impl BufRead) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let (mut event, mut id) = (None, None);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).expect("reads") == 0 {
            return out;
        }
        let l = line.trim_end();
        if let Some(e) = l.strip_prefix("event: ") {
            event = Some(e.to_owned());
        } else if let Some(i) = l.strip_prefix("id: ") {
            id = Some(i.to_owned());
        } else if l.is_empty()
            && let Some(e) = event.take()
        {
            let end = e == "end";
            out.push((e, id.take()));
            if end {
                return out;
            }
        }
    }
}

#[test]
fn up_web_serves_the_run_live_and_closes_the_port_with_it() {
    let dir = temp_dir("view-live");
    let mut up = Command::new(BIN)
        .args(["up", "--web=127.0.0.1:0", RING8, "--duration", "3", "--out"])
        .arg(dir.join("out"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let addr = url_in(up.stderr.take().expect("stderr"), "live view at http://");
    let mut s = TcpStream::connect(&addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        s,
        "GET /api/live HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("writes");
    let mut reader = BufReader::new(s);
    let mut status = String::new();
    reader.read_line(&mut status).expect("status");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let messages = follow(reader);
    let states = messages.iter().filter(|m| m.0 == "state").count();
    assert!(states >= 10, "{states} states in about 3 s: {messages:?}");
    let ids: Vec<usize> = messages
        .iter()
        .filter(|m| m.0 == "event")
        .map(|m| m.1.as_deref().and_then(|i| i.parse().ok()).expect("an id"))
        .collect();
    assert!(!ids.is_empty(), "no event: {messages:?}");
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    assert_eq!(messages.last().map(|m| m.0.as_str()), Some("end"));
    let status = wait_exit(&mut up, Duration::from_secs(20)).expect("the run ends");
    assert!(status.success(), "{status}");
    let mut stdout = String::new();
    let _ = up
        .stdout
        .take()
        .map(|mut o: ChildStdout| o.read_to_string(&mut stdout));
    assert!(stdout.starts_with("ring-8: ok"), "{stdout}");
    assert!(!listening(&addr), "the port outlived the run");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The value of attribute `name` in the tag text `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[at..].split('"').next()
}

/// Every start tag `<name …>` in `html`.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    html.match_indices(&format!("<{name} "))
        .filter_map(|(at, _)| html[at..].split('>').next())
        .collect()
}

/// Runs Chromium headless with `args` on `url`; returns its stdout.
fn chromium(profile: &Path, args: &[&str], url: &str) -> Vec<u8> {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    if wait_exit(&mut child, Duration::from_secs(40)).is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium took more than 40 s on {url}");
    }
    reader.join().expect("read")
}

/// The links `orbnet plan` lists as up or acquiring at `t`, as (a, b).
fn planned_links(scenario: &Path, t: &str) -> Vec<(String, String)> {
    let out = Command::new(BIN)
        .arg("plan")
        .arg(scenario)
        .args(["--at", t, "--format", "json"])
        .output()
        .expect("plan");
    assert!(out.status.success());
    let plan: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut links: Vec<(String, String)> = plan["steps"][0]["links"]
        .as_array()
        .expect("links")
        .iter()
        .filter(|l| l["state"] == "up" || l["state"] == "acquiring")
        .map(|l| (l["a"].to_string(), l["b"].to_string()))
        .map(|(a, b)| (a.trim_matches('"').into(), b.trim_matches('"').into()))
        .collect();
    links.sort();
    links
}

/// Distinct colours in an RGB(A) PNG, and the share of its commonest.
fn colours(png_path: &Path) -> (usize, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).expect("screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let step = info.color_type.samples() * (info.bit_depth as usize / 8).max(1);
    let mut counts = std::collections::HashMap::new();
    let mut n = 0usize;
    for px in buf[..info.buffer_size()].chunks_exact(step) {
        *counts.entry(px[..3.min(step)].to_vec()).or_insert(0usize) += 1;
        n += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    (counts.len(), top as f64 / n.max(1) as f64)
}

#[test]
fn chromium_draws_the_replayed_ring_8_with_the_planned_links() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium)");
        return;
    }
    let started = Instant::now();
    let dir = temp_dir("view-browser");
    let (out, _) = ring8_results(&dir, &[]);
    let (mut view, addr) = spawn_view(&out);
    let (_, headers, _) = http_get(&addr, "/?t=0");
    assert_eq!(header(&headers, "content-security-policy"), Some(CSP));
    let url = format!("http://{addr}/?t=0");

    let dom = chromium(
        &dir.join("profile-dom"),
        &["--virtual-time-budget=10000", "--dump-dom"],
        &url,
    );
    let dom = String::from_utf8_lossy(&dom);
    let body = tags(&dom, "body").into_iter().next().expect("a body");
    assert_eq!(attr(body, "data-ready"), Some("1"), "not drawn: {body}");
    assert_eq!(attr(body, "data-error"), None, "{body}");
    assert_eq!(attr(body, "data-csp-violations"), None, "{body}");
    let satellites: Vec<&str> = tags(&dom, "circle")
        .into_iter()
        .filter(|t| attr(t, "class").is_some_and(|c| c.starts_with("node satellite")))
        .filter_map(|t| attr(t, "data-id"))
        .collect();
    assert_eq!(satellites.len(), 8, "{satellites:?}");
    let mut links: Vec<(String, String)> = tags(&dom, "line")
        .into_iter()
        .filter(|t| attr(t, "class").is_some_and(|c| c.split(' ').any(|k| k == "link")))
        .map(|t| {
            let end = |k| attr(t, k).expect("link ends").to_owned();
            (end("data-a"), end("data-b"))
        })
        .collect();
    links.sort();
    let want = planned_links(&out.join("scenario").join("scenario.toml"), "0");
    assert_eq!(want.len(), 8);
    assert_eq!(links, want);
    assert!(
        dom.contains("<polyline class=\"route w0\""),
        "no route drawn"
    );

    let shot = dir.join("view.png");
    chromium(
        &dir.join("profile-shot"),
        &[
            "--window-size=1280,800",
            "--virtual-time-budget=10000",
            &format!("--screenshot={}", shot.display()),
        ],
        &url,
    );
    let (distinct, top) = colours(&shot);
    assert!(
        distinct > 50 && top < 0.9,
        "a blank screenshot? {distinct} colours, the commonest {:.0} %",
        top * 100.0
    );

    sigint(&view);
    assert!(wait_exit(&mut view, Duration::from_secs(5)).is_some_and(|s| s.success()));
    eprintln!(
        "browser test: {:.1} s, screenshot {} ({distinct} colours)",
        started.elapsed().as_secs_f64(),
        shot.display()
    );
}
