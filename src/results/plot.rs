//! Results of a run: `summary.json`, CSV time series and SVG plots.

use plotters::prelude::*;
use serde::Serialize;

/// min, p50, p99, max and mean of a sample.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq)]
pub(crate) struct Spread {
    pub min: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    /// The arithmetic mean (ping's "avg").
    pub mean: f64,
}

/// Nearest-rank percentile of sorted `v` (0 when empty).
pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Spread {
    pub(crate) fn of(values: &[f64]) -> Spread {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        Spread {
            min: v.first().copied().unwrap_or(0.0),
            p50: percentile(&v, 50.0),
            p99: percentile(&v, 99.0),
            max: v.last().copied().unwrap_or(0.0),
            mean: if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            },
        }
    }
}

/// One line of a plot.
#[derive(Debug)]
pub(super) struct Series<'a> {
    pub label: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// Draws `series` against a shared x axis: the SVG document.
pub(super) fn line_plot(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> Result<String, String> {
    let mut svg = String::new();
    draw(&mut svg, title, x_label, y_label, series)?;
    Ok(svg)
}

/// [`line_plot`] into `svg`.
fn draw(
    svg: &mut String,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> Result<(), String> {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.1).max(1e-6);
    let (y0, y1) = ((y0 - pad).max(0.0), y1 + pad);
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let root = SVGBackend::with_string(svg, (900, 500)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("plot {title:?}: {e}");
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(|e| err(&e))?;
    let colours = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (i, s) in series.iter().enumerate() {
        let c = colours[i % colours.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(
            Spread::of(&[3.0, 1.0, 2.0]),
            Spread {
                min: 1.0,
                p50: 2.0,
                p99: 3.0,
                max: 3.0,
                mean: 2.0
            }
        );
    }
}
