//! The binary itself: output, exit codes, and every kind of bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const DEMO: &str =
    "6s 50/s 0%, 2s 50/s 10%, 2s 50/s 20%, 2s 50/s 30%, 6s 50/s 100% 200ms, 12s 50/s 0%";
const CONFIG: [&str; 6] = [
    "--error-ratio",
    "0.2",
    "--window",
    "4s",
    "--broken-time",
    "2s",
];

fn sim(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_breaker-sim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn with_config<'a>(rest: &[&'a str]) -> Vec<&'a str> {
    CONFIG.iter().copied().chain(rest.iter().copied()).collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A trace file in the test's temporary directory.
fn file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("breaker-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn help_explains_units_and_exit_codes() {
    let o = sim(&["--help"], None);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "--error-ratio <RATIO>",
        "--window <DURATION>",
        "500ms, 1.5s, 2m",
        "time_ms",
        "latency_ms",
        "50/s",
        "EXIT STATUS",
        "--compare <KEY=VALUE,...>",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}");
    }
}

#[test]
fn the_demo_scenario_as_json() {
    let o = sim(
        &with_config(&["--scenario", DEMO, "--compare", "window=10s", "--json"]),
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let reports = json.as_array().unwrap();
    assert_eq!(reports.len(), 2);
    let first = &reports[0];
    assert_eq!(first["label"], "#1");
    assert_eq!(first["trips"], 3);
    assert_eq!(first["first_trip_at_ms"], 10_860.0);
    assert_eq!(
        first["admitted"].as_u64().unwrap() + first["rejected"].as_u64().unwrap(),
        1500
    );
    assert_eq!(first["transitions"][0]["at_ms"], 10_860.0);
    assert_eq!(first["transitions"][0]["from"], "passing");
    assert_eq!(first["transitions"][0]["to"], "broken");
    assert!(first["admitted_failures"].as_u64().unwrap() < 360);
    assert_eq!(reports[1]["label"], "#2 (window=10s)");
    assert!(
        reports[1]["config"]
            .as_str()
            .unwrap()
            .starts_with("error_ratio 0.2, window 10s, broken_time 2s, recovery_time 10s")
    );
}

#[test]
fn a_trace_from_stdin_as_a_table_and_a_picture() {
    let svg = std::env::temp_dir().join(format!("breaker-sim-cli-{}.svg", std::process::id()));
    let svg_arg = svg.to_string_lossy().into_owned();
    let trace = "time_ms,outcome\n0,err\n10,err\n20,err\n30,err\n40,err\n50,err\n60,err\n70,err\n80,err\n90,err\n100,ok\n";
    let args = [
        "--error-ratio",
        "0.5",
        "--window",
        "1s",
        "--passing-time",
        "0",
        "--trace",
        "-",
        "--svg",
        &svg_arg,
    ];
    let o = sim(&args, Some(trace));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(
        table.contains("trips                               1 (first at 0.090 s)"),
        "{table}"
    );
    assert!(
        table.contains("rejected                            1\n"),
        "{table}"
    );
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg"));
    std::fs::remove_file(svg).unwrap();
}

#[test]
fn bad_data_exits_1_naming_the_line_and_column() {
    let cases = [
        (
            "malformed.csv",
            "time_ms,outcome\n0,ok\n5;ok\n",
            "line 3, column 1: time_ms `5;ok` is not a whole number of milliseconds",
        ),
        (
            "outcome.csv",
            "time_ms,outcome\n0,ok\n5,fine\n",
            "line 3, column 3: unknown outcome `fine` (expected ok, err or ignore)",
        ),
        (
            "backwards.csv",
            "time_ms,outcome\n10,ok\n5,ok\n",
            "line 3, column 1: time_ms 5 goes back before the previous line's 10",
        ),
        ("empty.csv", "", "line 1: empty trace"),
        (
            "header.csv",
            "time_ms,outcome\n",
            "line 2: empty trace: no calls after the header",
        ),
    ];
    for (name, text, message) in cases {
        let path = file(name, text);
        let o = sim(&with_config(&["--trace", &path]), None);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!("error: {path}: {message}")),
            "{name}: {err}"
        );
        assert!(o.stdout.is_empty(), "{name}: no report on bad data");
    }
    let o = sim(
        &with_config(&["--trace", "-"]),
        Some("time_ms,outcome\n0,ok\n0,ok,3\n"),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: <stdin>: line 3, column 6: more fields"),
        "{}",
        stderr(&o)
    );
    let overlapping = "time_ms,outcome,latency_ms\n0,ok,50\n10,ok,50\n";
    let o = sim(
        &with_config(&["--trace", "-", "--max-in-flight", "1"]),
        Some(overlapping),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: <stdin>: more than 1 calls in flight at 10 ms"),
        "{}",
        stderr(&o)
    );
    let o = sim(&with_config(&["--trace", "/nonexistent/trace.csv"]), None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: --trace /nonexistent/trace.csv: cannot open"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_usage_exits_2_naming_the_flag() {
    let cases: [(Vec<&str>, &str); 9] = [
        (
            vec![
                "--error-ratio",
                "0.2",
                "--window",
                "5x",
                "--scenario",
                "1s 1/s 0%",
            ],
            "'--window <DURATION>'",
        ),
        (
            vec![
                "--error-ratio",
                "0.2",
                "--window",
                "0s",
                "--scenario",
                "1s 1/s 0%",
            ],
            "error: --window: invalid circuit breaker config: window must be greater than zero",
        ),
        (
            vec![
                "--error-ratio",
                "1.5",
                "--window",
                "4s",
                "--scenario",
                "1s 1/s 0%",
            ],
            "error: --error-ratio: invalid circuit breaker config: error_ratio must be greater than 0 and at most 1",
        ),
        (
            with_config(&["--broken-time-max", "1s", "--scenario", "1s 1/s 0%"]),
            "error: --broken-time-max: invalid circuit breaker config: broken_time_max must be at least broken_time",
        ),
        (
            with_config(&["--compare", "min-calls=0", "--scenario", "1s 1/s 0%"]),
            "error: --compare 'min-calls=0': --min-calls: invalid circuit breaker config: min_calls must be at least 1",
        ),
        (
            with_config(&["--compare", "speed=3", "--scenario", "1s 1/s 0%"]),
            "error: --compare 'speed=3': unknown key `speed`",
        ),
        (
            with_config(&["--scenario", "1s 1/s 0%, 2s fast 0%"]),
            "error: --scenario: phase 2, column 15: invalid rate `fast`",
        ),
        (with_config(&[]), "--trace <FILE>"),
        (
            with_config(&["--trace", "a.csv", "--scenario", "1s 1/s 0%"]),
            "cannot be used with",
        ),
    ];
    for (args, message) in cases {
        let o = sim(&args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }
}
