//! The results directory of a run: `summary.json`, `events.jsonl`, CSV
//! time series, SVG plots and an `index.html` that shows them, `trace.json`
//! (every rank's timeline of graph workloads), all made from what the
//! satellites reported; and the summary as `orbnet up` prints it.
//!
//! Every file is written whole or not at all: into a temporary file
//! beside it, flushed to disk, then renamed over its name (a rename within
//! a directory is atomic), so a crash or a full disk never leaves a
//! truncated `summary.json` or CSV, only an older whole one or none.

mod accounting;
mod collectives;
mod offload;
mod page;
mod plot;
mod summary;
mod terminal;
mod timeline;
mod training;
mod training_table;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use orbnet_netem::Scenario;
use orbnet_node::protocol::{Counters, Done, Event};

use crate::Failure;
use crate::load::Source;
pub(crate) use offload::offload_over;
use plot::{Series, line_plot};
pub(crate) use summary::{ClockCheck, HostFigures, Split, Summary};
use summary::{EchoRow, GoodputRow, Host};
pub(crate) use terminal::terminal;
pub(crate) use training::describe as describe_graph;

/// Everything the satellites of a run reported.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// Events in the order they arrived (satellites' `done` apart).
    pub events: Vec<Event>,
    /// Each satellite's last report, by index.
    pub done: BTreeMap<usize, Done>,
    /// A satellite that died, and how: the run failed, but what the others
    /// reported until then is kept.
    pub failure: Option<String>,
    /// A run split across hosts: their figures.
    pub split: Option<Split>,
}

/// Copies the scenario and the files it refers to into `dir/scenario/`, so
/// that the results directory holds everything needed to replay the run's
/// world (`orbnet view`).
pub(crate) fn copy_scenario(
    source: &Source,
    scenario: &Scenario,
    dir: &Path,
) -> Result<(), Failure> {
    let into = dir.join("scenario");
    let fail = |p: &Path, e: std::io::Error| Failure::Run(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(&into).map_err(|e| fail(&into, e))?;
    let (text, base) = match source {
        Source::BuiltIn => (crate::load::DEFAULT_SCENARIO.to_owned(), None),
        Source::File(p) => (
            std::fs::read_to_string(p).map_err(|e| fail(p, e))?,
            p.parent().map(Path::to_path_buf),
        ),
    };
    let main = into.join("scenario.toml");
    std::fs::write(&main, text).map_err(|e| fail(&main, e))?;
    for f in &scenario.files {
        let (Some(base), false) = (&base, f.contains("..")) else {
            continue;
        };
        let to = into.join(f);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
        }
        std::fs::copy(base.join(f), &to).map_err(|e| fail(&to, e))?;
    }
    Ok(())
}

/// Writes the results of a run into `dir`; returns its summary.
pub(crate) fn write(
    scenario: &Scenario,
    c: &Collected,
    dir: &Path,
    wall: Duration,
    harness: &str,
) -> Result<Summary, Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::Run(format!("{}: {e}", dir.display())))?;
    let out = Out(dir);
    let pings = summary::pings(scenario, c);
    let transfers = summary::transfers(scenario, c);
    let mut counters = Counters::default();
    for d in c.done.values() {
        counters.add(&d.counters);
    }
    let late_max_us = c.done.values().map(|d| d.late_max_us).fold(0.0, f64::max);
    let accounting = accounting::Accounting::of(&counters, accounting::unreported(scenario, c));
    let collectives = collectives::collectives(scenario, &c.events, c.failure.as_deref());
    let train = collectives::trains(scenario, &c.events, c.failure.as_deref());
    let offload = offload::offloads(scenario, &c.events, c.failure.as_deref());
    let mut s = Summary {
        scenario: scenario.name.clone(),
        tdf: scenario.tdf.factor(),
        seed: scenario.seed,
        satellites: scenario.world.satellites(),
        ground_stations: scenario.world.nodes() - scenario.world.satellites(),
        duration_s: scenario.duration.as_secs_f64(),
        ok: false,
        failure: c.failure.clone(),
        ping: pings.iter().map(|p| p.0.clone()).collect(),
        transfers: Vec::new(),
        collectives,
        train,
        training: training::graphs(scenario, &c.events, c.failure.as_deref()),
        offload,
        counters: counters.into(),
        accounting,
        link_changes: c
            .events
            .iter()
            .filter(|e| matches!(e, Event::Link(l) if l.t_s > 0.0))
            .count(),
        harness: harness.to_owned(),
        host: Host {
            wall_s: wall.as_secs_f64(),
            late_max_us,
        },
        split: c.split.clone(),
    };
    out.csv("rtt.csv", &rtt_rows(&pings))?;
    out.csv("throughput.csv", &throughput_rows(&transfers))?;
    out.plots(scenario, &pings, &transfers, &s)?;
    let mut plots = vec!["rtt.svg"];
    if !transfers.is_empty() {
        plots.push("throughput.svg");
    }
    if !s.collectives.is_empty() {
        plots.push("collectives.svg");
    }
    s.transfers = transfers.into_iter().map(|t| t.1).collect();
    s.ok = s.problems().is_empty();
    out.text("summary.json", &(s.json() + "\n"))?;
    if !s.collectives.is_empty() {
        out.csv("collectives.csv", &collectives::rows(&s.collectives))?;
    }
    let mut events: String = c.events.iter().map(|e| e.json() + "\n").collect();
    for d in c.done.values() {
        events.push_str(&(Event::Done(d.clone()).json() + "\n"));
    }
    out.text("events.jsonl", &events)?;
    if let Some(trace) = timeline::chrome_trace(scenario, &c.events) {
        out.text("trace.json", &trace)?;
    }
    out.text("index.html", &page::index_html(&s, &plots))?;
    Ok(s)
}

/// A table: its header and rows.
pub(crate) type Table = (Vec<&'static str>, Vec<Vec<String>>);

/// Six decimals, or empty for a missing value.
fn opt6(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x:.6}"))
}

/// `rtt.csv`: one row per echo.
fn rtt_rows(pings: &[(summary::PingSummary, Vec<EchoRow>)]) -> Table {
    let header = vec![
        "from",
        "to",
        "seq",
        "sent_s",
        "rtt_ms",
        "geometric_rtt_ms",
        "error_ms",
    ];
    let mut rows = Vec::new();
    for (p, echoes) in pings {
        for &(seq, sent, rtt, geo) in echoes {
            rows.push(vec![
                p.from.clone(),
                p.to.clone(),
                seq.to_string(),
                format!("{sent:.6}"),
                opt6(rtt),
                opt6(geo),
                opt6(rtt.zip(geo).map(|(r, g)| r - g)),
            ]);
        }
    }
    (header, rows)
}

/// `throughput.csv`: goodput samples of every transfer.
fn throughput_rows(transfers: &[(usize, summary::TransferSummary, Vec<GoodputRow>)]) -> Table {
    let header = vec!["workload", "from", "to", "t_s", "bytes", "goodput_gbps"];
    let mut rows = Vec::new();
    for (w, t, samples) in transfers {
        for &(at, bytes, gbps) in samples {
            rows.push(vec![
                w.to_string(),
                t.from.clone(),
                t.to.clone(),
                format!("{at:.6}"),
                bytes.to_string(),
                format!("{gbps:.6}"),
            ]);
        }
    }
    (header, rows)
}

/// Writes `path` whole or not at all: `write` fills a temporary file
/// beside it (`.NAME.tmp`), which is synced and renamed over `path`. If
/// `write` fails, the temporary file is removed and `path` is untouched.
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    let result = std::fs::File::create(&tmp).and_then(|mut f| {
        write(&mut f)?;
        f.flush()?;
        f.sync_all()
    });
    match result.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The results directory.
struct Out<'a>(&'a Path);

impl Out<'_> {
    fn text(&self, name: &str, text: &str) -> Result<(), Failure> {
        let path = self.0.join(name);
        write_atomic(&path, |f| f.write_all(text.as_bytes()))
            .map_err(|e| Failure::Run(format!("{}: {e}", path.display())))
    }

    /// A CSV file; fields with commas or quotes (names from element sets) are quoted.
    fn csv(&self, name: &str, (header, rows): &Table) -> Result<(), Failure> {
        let path = self.0.join(name);
        let fail = |e: &dyn std::fmt::Display| Failure::Run(format!("{}: {e}", path.display()));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header).map_err(|e| fail(&e))?;
        for r in rows {
            w.write_record(r).map_err(|e| fail(&e))?;
        }
        let bytes = w.into_inner().map_err(|e| fail(&e))?;
        write_atomic(&path, |f| f.write_all(&bytes)).map_err(|e| fail(&e))
    }

    /// An SVG plot, or why it could not be drawn.
    fn svg(&self, name: &str, svg: Result<String, String>) -> Result<(), Failure> {
        self.text(name, &svg.map_err(Failure::Run)?)
    }

    /// `rtt.svg`, `throughput.svg` and `collectives.svg`.
    fn plots(
        &self,
        scenario: &Scenario,
        pings: &[(summary::PingSummary, Vec<EchoRow>)],
        transfers: &[(usize, summary::TransferSummary, Vec<GoodputRow>)],
        s: &Summary,
    ) -> Result<(), Failure> {
        let tdf = scenario.tdf;
        let name = &scenario.name;
        let series: Vec<(String, Vec<(f64, f64)>)> = transfers
            .iter()
            .map(|(_, t, rows)| {
                let label = format!("{} → {} ({})", t.from, t.to, t.transport);
                (label, rows.iter().map(|r| (r.0, r.2)).collect())
            })
            .collect();
        if !series.is_empty() {
            let svg = line_plot(
                &format!("{name}: bulk goodput (TDF {tdf})"),
                "virtual time (s)",
                "goodput (Gb/s, virtual)",
                &labelled(&series),
            );
            self.svg("throughput.svg", svg)?;
        }
        if !s.collectives.is_empty() {
            let svg = line_plot(
                &format!("{name}: bus bandwidth (TDF {tdf})"),
                "log2 of the buffer size (bytes)",
                "bus bandwidth (Gb/s, virtual)",
                &labelled(&collectives::series(&s.collectives)),
            );
            self.svg("collectives.svg", svg)?;
        }
        let rows = pings.iter().flat_map(|p| p.1.iter());
        let measured = rows.clone().filter_map(|r| r.2.map(|m| (r.1, m))).collect();
        let geometric = rows.filter_map(|r| r.3.map(|g| (r.1, g))).collect();
        let svg = line_plot(
            &format!("{name}: ping RTT (TDF {tdf})"),
            "virtual time (s)",
            "RTT (ms)",
            &[
                Series {
                    label: "measured",
                    points: measured,
                },
                Series {
                    label: "geometric",
                    points: geometric,
                },
            ],
        );
        self.svg("rtt.svg", svg)
    }
}

/// Plot series from (label, points) pairs.
fn labelled(series: &[(String, Vec<(f64, f64)>)]) -> Vec<Series<'_>> {
    series
        .iter()
        .map(|(label, points)| Series {
            label,
            points: points.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn a_result_is_written_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("orbnet-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("summary.json");
        write_atomic(&path, |f| f.write_all(b"{\"ok\": true}\n")).expect("written");
        // A writer that fails half-way (a crash, a full disk) leaves the
        // whole old file, and no temporary file.
        let e = write_atomic(&path, |f| {
            f.write_all(b"{\"ok\": fal")?;
            Err(std::io::Error::other("disk full"))
        })
        .expect_err("fails");
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"ok\": true}\n"
        );
        assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
        // A whole new file replaces it.
        let big = "x".repeat(1 << 20);
        write_atomic(&path, |f| f.write_all(big.as_bytes())).expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), big);
        // Through the results directory: CSVs too.
        let out = Out(&dir);
        out.csv(
            "rtt.csv",
            &(vec!["a", "b"], vec![vec!["1".into(), "x,y".into()]]),
        )
        .expect("csv");
        assert_eq!(
            std::fs::read_to_string(dir.join("rtt.csv")).expect("read"),
            "a,b\n1,\"x,y\"\n"
        );
        assert!(leftovers(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
