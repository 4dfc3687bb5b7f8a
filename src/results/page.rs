//! `index.html` of a results directory: the run's plots and tables on one
//! page that opens from the file system, with no server and no script (the
//! plots are the SVG files beside it, by relative path; the style is in the
//! page). `orbnet view DIR` shows the same run moving.

use std::fmt::Write as _;

use super::Summary;
use super::terminal::iperf_bytes;

/// Text made safe for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;\
padding:0 1em;color:#1d2430;background:#fbfbfd}h1{font-size:1.5em;margin-bottom:.2em}\
h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #d5d9e0}\
table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums}\
th,td{padding:.25em .7em;border-bottom:1px solid #e3e6eb;text-align:right}\
th{background:#eef1f5}td:first-child,th:first-child{text-align:left}\
img{max-width:100%;background:#fff;border:1px solid #e3e6eb}.ok{color:#17753a}\
.bad{color:#b3261e;font-weight:600}.facts{color:#555}code{background:#eef1f5;padding:0 .3em}";

/// A table: header cells, then rows of cells (already escaped).
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table>\n<tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".to_owned(), |x| format!("{x:.digits$}"))
}

fn verdict(ok: bool, error: Option<&str>) -> String {
    match (ok, error) {
        (true, _) => "<span class=\"ok\">verified</span>".to_owned(),
        (false, Some(e)) => format!("<span class=\"bad\">{}</span>", esc(e)),
        (false, None) => "<span class=\"bad\">not verified</span>".to_owned(),
    }
}

/// The page; `plots` are the SVG files the directory holds.
pub(super) fn index_html(s: &Summary, plots: &[&str]) -> String {
    let mut out = String::new();
    let title = format!("{}: orbnet results", s.scenario);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&s.scenario)
    );
    let state = if s.ok {
        "<span class=\"ok\">ok</span>".to_owned()
    } else {
        format!(
            "<span class=\"bad\">failed{}</span>",
            s.failure
                .as_deref()
                .map_or(String::new(), |f| format!(": {}", esc(f)))
        )
    };
    let _ = writeln!(
        out,
        "<p class=\"facts\">{state} · {} satellites · {} harness · TDF {} · seed {} · \
         {} s virtual · {:.1} s wall · {} link changes</p>",
        s.satellites,
        esc(&s.harness),
        s.tdf,
        s.seed,
        s.duration_s,
        s.host.wall_s,
        s.link_changes
    );
    out.push_str(
        "<p>Files: <a href=\"summary.json\">summary.json</a> · \
         <a href=\"events.jsonl\">events.jsonl</a> · <a href=\"rtt.csv\">rtt.csv</a>. \
         To watch the run move: <code>orbnet view DIR</code>.</p>\n",
    );
    pings(&mut out, s);
    transfers(&mut out, s);
    collectives(&mut out, s);
    trains(&mut out, s);
    out.push_str("<h2>Plots</h2>\n");
    for p in plots {
        let _ = writeln!(out, "<p><img src=\"{0}\" alt=\"{0}\"></p>", esc(p));
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn pings(out: &mut String, s: &Summary) {
    if s.ping.is_empty() {
        return;
    }
    out.push_str("<h2>Ping</h2>\n");
    let rows: Vec<Vec<String>> = s
        .ping
        .iter()
        .map(|p| {
            let spread =
                |x: &super::plot::Spread| format!("{:.3} / {:.3} / {:.3}", x.min, x.mean, x.max);
            vec![
                format!("{} → {}", esc(&p.from), esc(&p.to)),
                p.sent.to_string(),
                p.received.to_string(),
                spread(&p.rtt_ms),
                spread(&p.geometric_rtt_ms),
                format!("{:.3}", p.error_ms.p99),
            ]
        })
        .collect();
    let header = [
        "path",
        "sent",
        "received",
        "RTT min / avg / max (ms)",
        "geometric (ms)",
        "|error| p99 (ms)",
    ];
    table(out, &header, &rows);
}

fn transfers(out: &mut String, s: &Summary) {
    if s.transfers.is_empty() {
        return;
    }
    out.push_str("<h2>Transfers</h2>\n");
    let rows: Vec<Vec<String>> = s
        .transfers
        .iter()
        .map(|t| {
            vec![
                format!("{} → {}", esc(&t.from), esc(&t.to)),
                format!("{} {}", t.transport, t.cc),
                iperf_bytes(t.bytes),
                num(t.seconds, 3),
                num(t.goodput_gbps, 3),
                num(t.path_capacity_gbps, 3),
                verdict(t.verified, t.error.as_deref()),
            ]
        })
        .collect();
    let header = [
        "path",
        "transport",
        "bytes",
        "seconds",
        "goodput (Gb/s)",
        "path capacity (Gb/s)",
        "",
    ];
    table(out, &header, &rows);
}

fn collectives(out: &mut String, s: &Summary) {
    if s.collectives.is_empty() {
        return;
    }
    out.push_str("<h2>Collectives</h2>\n");
    let rows: Vec<Vec<String>> = s
        .collectives
        .iter()
        .map(|c| {
            vec![
                format!("{} {} {} ({})", c.workload, c.op, c.algorithm, c.transport),
                c.ranks.to_string(),
                c.bytes.to_string(),
                num(c.time_s.map(|t| t * 1e6), 1),
                num(c.algbw_gbps, 3),
                num(c.busbw_gbps, 3),
                num(c.model_time_s.map(|t| t * 1e6), 1),
                num(c.model_ratio, 2),
                verdict(c.verified, c.error.as_deref()),
            ]
        })
        .collect();
    let header = [
        "workload",
        "ranks",
        "size (B)",
        "time (µs)",
        "algbw (Gb/s)",
        "busbw (Gb/s)",
        "α–β model (µs)",
        "ratio",
        "",
    ];
    table(out, &header, &rows);
}

fn trains(out: &mut String, s: &Summary) {
    for t in &s.train {
        let _ = writeln!(
            out,
            "<h2>Training, workload {}</h2>\n<p>{} ranks on {}, {:e} parameters, \
             mean step {} s, {} tokens/s, {} of peak · {}</p>",
            t.workload,
            t.ranks,
            esc(&t.accelerator),
            t.params,
            num(t.step_time_s, 6),
            num(t.tokens_per_s, 0),
            t.effective_utilization
                .map_or("–".to_owned(), |u| format!("{:.1} %", u * 100.0)),
            verdict(t.verified, t.error.as_deref())
        );
        let rows: Vec<Vec<String>> = t
            .steps
            .iter()
            .map(|x| {
                vec![
                    x.step.to_string(),
                    format!("{:.6}", x.step_s),
                    format!("{:.6}", x.compute_s),
                    format!("{:.6}", x.comm_s),
                    format!("{:.6}", x.exposed_comm_s),
                ]
            })
            .collect();
        let header = [
            "step",
            "step (s)",
            "compute (s)",
            "comm (s)",
            "exposed comm (s)",
        ];
        table(out, &header, &rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
