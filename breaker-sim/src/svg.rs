//! `--svg`: one timeline per configuration, stacked on one time axis, drawn
//! with plotters' SVG backend.

use breaker_core::State;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::report::{Report, name};
use crate::settings::describe;

/// Width of the picture, px.
pub const WIDTH: u32 = 1000;
/// Height of one configuration's panel, px.
pub const PANEL_HEIGHT: u32 = 300;

/// The band colours: Passing green, Broken red, Recovering amber.
pub const PASSING: RGBColor = RGBColor(44, 160, 44);
/// Broken's band.
pub const BROKEN: RGBColor = RGBColor(214, 39, 40);
/// Recovering's band.
pub const RECOVERING: RGBColor = RGBColor(255, 160, 0);
/// How opaque a band is (the legend's swatches are solid).
pub const BAND_OPACITY: f64 = 0.22;

const ADMITTED: RGBColor = RGBColor(31, 119, 180);
const REJECTED: RGBColor = RGBColor(90, 90, 90);
const RATIO: RGBColor = RGBColor(148, 60, 190);

fn colour(state: &str) -> RGBColor {
    match state {
        "broken" => BROKEN,
        "recovering" => RECOVERING,
        _ => PASSING,
    }
}

/// The state periods of a report: (start s, end s, state), one per period.
pub fn periods(report: &Report) -> Vec<(f64, f64, &'static str)> {
    let end = report.end_ms / 1e3;
    let mut out = Vec::with_capacity(report.transitions.len() + 1);
    let (mut since, mut state) = (0.0, "passing");
    for t in &report.transitions {
        out.push((since, t.at_ms / 1e3, state));
        (since, state) = (t.at_ms / 1e3, t.to);
    }
    out.push((since, end.max(since), state));
    out
}

/// The whole picture as an SVG document, one panel per report, labelled
/// with `labels`.
///
/// # Errors
///
/// Whatever plotters reports, as text.
pub fn render(reports: &[Report], labels: &[String]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let height = LEGEND_HEIGHT + PANEL_HEIGHT * reports.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, rest) = root.split_vertically(LEGEND_HEIGHT);
        legend(&top).map_err(|e| e.to_string())?;
        let end_s = reports.iter().map(|r| r.end_ms / 1e3).fold(1.0, f64::max);
        let panels = rest.split_evenly((reports.len().max(1), 1));
        for ((report, label), panel) in reports.iter().zip(labels).zip(&panels) {
            panel_of(panel, report, label, end_s).map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Height of the legend strip above the panels, px.
const LEGEND_HEIGHT: u32 = 30;

/// One legend for every panel, in a strip across the top, so no panel's
/// data hides behind it.
fn legend(area: &Area<'_>) -> DrawResult {
    let font = ("sans-serif", 12).into_font();
    let mut x = 20;
    let y = 15;
    let swatch = |x: i32, c: RGBColor| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled());
    let line =
        |x: i32, c: RGBColor, w: u32| PathElement::new([(x, y), (x + 14, y)], c.stroke_width(w));
    let text = |x: &mut i32, label: &str| -> DrawResult {
        area.draw(&Text::new(
            label.to_string(),
            (*x + 20, y - 7),
            font.clone(),
        ))?;
        // Room for the label: about 6 px a character at this size.
        *x += 20 + 6 * label.len() as i32 + 16;
        Ok(())
    };
    for (c, label) in [
        (PASSING, "passing"),
        (BROKEN, "broken"),
        (RECOVERING, "recovering"),
    ] {
        area.draw(&swatch(x, c))?;
        text(&mut x, label)?;
    }
    area.draw(&line(x, ADMITTED, 2))?;
    text(&mut x, "admitted calls/s")?;
    area.draw(&line(x, REJECTED, 2))?;
    text(&mut x, "rejected calls/s")?;
    area.draw(&line(x, RATIO, 2))?;
    text(&mut x, "window error ratio, % (right axis)")?;
    area.draw(&DashedPathElement::new(
        [(x, y), (x + 14, y)],
        4,
        3,
        RATIO.stroke_width(1),
    ))?;
    text(&mut x, "error_ratio")?;
    Ok(())
}

fn panel_of(area: &Area<'_>, report: &Report, label: &str, end_s: f64) -> DrawResult {
    let series = report.series.as_ref();
    let peak = series.map_or(0.0, |s| {
        s.admitted
            .iter()
            .zip(&s.rejected)
            .map(|(a, r)| s.per_second(a + r))
            .fold(0.0, f64::max)
    });
    let top = (peak * 1.15).max(1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{label}: {}", describe(&report.config)),
            ("sans-serif", 14),
        )
        .margin(8)
        .x_label_area_size(32)
        .y_label_area_size(48)
        .right_y_label_area_size(48)
        .build_cartesian_2d(0.0..end_s, 0.0..top)?
        // A little above 100% so a window of nothing but failures shows.
        .set_secondary_coord(0.0..end_s, 0.0..104.0);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time since the start of the trace (s)")
        .y_desc("calls per second")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("window error ratio (%)")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;

    let periods = periods(report);
    for state in [State::Passing, State::Broken, State::Recovering] {
        let name = name(state);
        let c = colour(name);
        chart.draw_series(periods.iter().filter(|p| p.2 == name).map(|&(a, b, _)| {
            Rectangle::new([(a, 0.0), (b, top)], c.mix(BAND_OPACITY).filled())
        }))?;
    }

    if let Some(s) = series {
        let step = s.step_ns as f64 / 1e9;
        // Steps drawn flat across their width, so a count reads as a rate
        // over that step.
        let stairs = |counts: &[u64]| -> Vec<(f64, f64)> {
            counts
                .iter()
                .enumerate()
                .flat_map(|(i, &n)| {
                    let v = s.per_second(n);
                    [(i as f64 * step, v), ((i + 1) as f64 * step, v)]
                })
                .collect()
        };
        // The ratio has gaps where the window is empty (Broken): one line
        // per run of samples.
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut open = false;
        for (i, r) in s.ratio.iter().enumerate() {
            match r {
                Some(r) => {
                    if !open {
                        runs.push(Vec::new());
                    }
                    if let Some(run) = runs.last_mut() {
                        run.push(((i as f64 + 1.0) * step, f64::from(*r) * 100.0));
                    }
                    open = true;
                }
                None => open = false,
            }
        }
        for run in runs {
            chart.draw_secondary_series(LineSeries::new(run, RATIO.stroke_width(2)))?;
        }
        // The calls last, on top of the ratio.
        chart.draw_series(LineSeries::new(
            stairs(&s.admitted),
            ADMITTED.stroke_width(2),
        ))?;
        chart.draw_series(LineSeries::new(
            stairs(&s.rejected),
            REJECTED.stroke_width(2),
        ))?;
    }
    let threshold = f64::from(report.config.error_ratio) * 100.0;
    chart.draw_secondary_series(DashedLineSeries::new(
        [(0.0, threshold), (end_s, threshold)],
        6,
        4,
        RATIO.stroke_width(1),
    ))?;
    Ok(())
}
