//! The results directory of a run: `summary.json`, `events.jsonl`, CSV
//! time series, SVG plots and an `index.html` that shows them, all made
//! from what the satellites reported; and the summary as `orbnet up`
//! prints it.

mod collectives;
mod offload;
mod page;
mod plot;
mod summary;
mod terminal;

use std::collections::BTreeMap;
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
        offload,
        counters: counters.into(),
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

/// The results directory.
struct Out<'a>(&'a Path);

impl Out<'_> {
    fn text(&self, name: &str, text: &str) -> Result<(), Failure> {
        let path = self.0.join(name);
        std::fs::write(&path, text).map_err(|e| Failure::Run(format!("{}: {e}", path.display())))
    }

    /// A CSV file; fields with commas or quotes (names from element sets) are quoted.
    fn csv(&self, name: &str, (header, rows): &Table) -> Result<(), Failure> {
        let path = self.0.join(name);
        let fail = |e: &dyn std::fmt::Display| Failure::Run(format!("{}: {e}", path.display()));
        let mut w = csv::Writer::from_path(&path).map_err(|e| fail(&e))?;
        w.write_record(header).map_err(|e| fail(&e))?;
        for r in rows {
            w.write_record(r).map_err(|e| fail(&e))?;
        }
        w.flush().map_err(|e| fail(&e))
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
            line_plot(
                &self.0.join("throughput.svg"),
                &format!("{name}: bulk goodput (TDF {tdf})"),
                "virtual time (s)",
                "goodput (Gb/s, virtual)",
                &labelled(&series),
            )
            .map_err(Failure::Run)?;
        }
        if !s.collectives.is_empty() {
            line_plot(
                &self.0.join("collectives.svg"),
                &format!("{name}: bus bandwidth (TDF {tdf})"),
                "log2 of the buffer size (bytes)",
                "bus bandwidth (Gb/s, virtual)",
                &labelled(&collectives::series(&s.collectives)),
            )
            .map_err(Failure::Run)?;
        }
        let rows = pings.iter().flat_map(|p| p.1.iter());
        let measured = rows.clone().filter_map(|r| r.2.map(|m| (r.1, m))).collect();
        let geometric = rows.filter_map(|r| r.3.map(|g| (r.1, g))).collect();
        line_plot(
            &self.0.join("rtt.svg"),
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
        )
        .map_err(Failure::Run)
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
