//! The picture: well-formed SVG with one band per state period.

use std::time::Duration;

use breaker_core::Config;
use breaker_sim::{
    BAND_OPACITY, BROKEN, Options, PASSING, RECOVERING, Scenario, periods, render, replay,
};

const DEMO: &str =
    "6s 50/s 0%, 2s 50/s 10%, 2s 50/s 20%, 2s 50/s 30%, 6s 50/s 100% 200ms, 12s 50/s 0%";

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

#[test]
fn one_band_per_state_period_in_each_panel() {
    let scenario = Scenario::parse(DEMO).unwrap();
    let configs = [
        Config::new(0.2, Duration::from_secs(4)).broken_time(Duration::from_secs(2)),
        Config::new(0.2, Duration::from_secs(10)).broken_time(Duration::from_secs(2)),
        // Never trips: one Passing band.
        Config::new(1.0, Duration::from_secs(4)).min_calls(1_000),
    ];
    let options = Options {
        series: true,
        ..Options::default()
    };
    let reports = replay(scenario.events().map(Ok), &configs, options).unwrap();
    let labels: Vec<String> = (1..=3).map(|i| format!("#{i}")).collect();
    let svg = render(&reports, &labels).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");

    let state_of = |fill: &str| {
        [
            (hex(PASSING), "passing"),
            (hex(BROKEN), "broken"),
            (hex(RECOVERING), "recovering"),
        ]
        .into_iter()
        .find(|(h, _)| h == fill)
        .map(|(_, s)| s)
    };
    // Bands: translucent rectangles in a state colour (legend swatches are solid).
    let mut bands: Vec<(i64, i64, &str)> = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("rect") && n.attribute("opacity") == Some(&BAND_OPACITY.to_string())
        })
        .filter_map(|n| {
            let y = n.attribute("y")?.parse().ok()?;
            let x = n.attribute("x")?.parse().ok()?;
            Some((y, x, state_of(n.attribute("fill")?)?))
        })
        .collect();
    bands.sort();
    let mut panels: Vec<Vec<&str>> = Vec::new();
    let mut last_y = None;
    for (y, _, state) in bands {
        if last_y != Some(y) {
            panels.push(Vec::new());
            last_y = Some(y);
        }
        panels.last_mut().unwrap().push(state);
    }
    let expected: Vec<Vec<&str>> = reports
        .iter()
        .map(|r| periods(r).into_iter().map(|p| p.2).collect())
        .collect();
    assert_eq!(panels, expected);
    // The demo's configuration: passing, then three trips, then passing.
    assert_eq!(expected[0].len(), 8);
    assert_eq!(expected[2], ["passing"]);
    assert_eq!(reports[0].transitions.len() + 1, expected[0].len());

    // Labelled axes, a legend, and a caption per configuration.
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.is_element())
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for label in [
        "time since the start of the trace (s)",
        "calls per second",
        "window error ratio (%)",
        "passing",
        "broken",
        "recovering",
        "admitted calls/s",
        "rejected calls/s",
        "error_ratio",
    ] {
        assert!(texts.contains(&label), "no text {label:?}");
    }
    assert_eq!(
        texts
            .iter()
            .filter(|t| t.starts_with("#2: error_ratio 0.2, window 10s"))
            .count(),
        1
    );
}
