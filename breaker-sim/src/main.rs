//! `breaker-sim`: replay a trace through real breakers and draw the timeline.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use breaker_core::Config;
use breaker_sim::settings::{Settings, flag_of, validate};
use breaker_sim::{Options, ReplayError, Scenario, TraceReader, parse_duration, render, replay};
use clap::Parser;

const AFTER_HELP: &str = "\
TRACE (--trace): CSV with the header `time_ms,outcome` and optionally `latency_ms`
(any order). time_ms: whole milliseconds since the start of the trace, never
decreasing. outcome: ok, err or ignore. latency_ms: the outcome is recorded this
long after admission (default 0). Example:

    time_ms,outcome,latency_ms
    0,ok,3
    20,err,200

SCENARIO (--scenario): phases separated by commas, each `DURATION RATE SHARE [LATENCY]`:
how long (6s), calls per second/minute/hour evenly spaced (50/s, 30/m), the share that
fails, spread evenly (10%), and optionally how long each call takes (200ms). The
breaker-tokio demo's upstream:

    --scenario '6s 50/s 0%, 2s 50/s 10%, 2s 50/s 20%, 2s 50/s 30%, 6s 50/s 100% 200ms, 12s 50/s 0%'

DURATIONS: a number and a unit: ns, us, ms, s, m, h (500ms, 1.5s, 2m).

EXIT STATUS: 0 done; 1 bad data (the trace: its line and column are named; a file
that cannot be read or written); 2 bad usage (a flag, a --compare or --scenario, or a
configuration the breaker refuses: the flag is named).";

/// Replays a trace of call outcomes through real circuit breakers (breaker-core on a
/// mock clock, exactly) and shows what each configuration would have done: trips,
/// time in each state, calls admitted and rejected, and a timeline picture.
#[derive(Debug, Parser)]
#[command(name = "breaker-sim", version, after_help = AFTER_HELP)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["trace", "scenario"]))]
struct Cli {
    /// CSV trace to replay; `-` reads standard input. Streamed: any length.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// A scripted trace instead of a file (syntax below).
    #[arg(long, value_name = "PHASES")]
    scenario: Option<String>,

    /// Failures / recorded calls at or above which the breaker breaks (0 < r <= 1).
    #[arg(long, value_name = "RATIO")]
    error_ratio: f32,
    /// Length of the sliding statistics window (a duration, e.g. 4s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    window: Duration,
    /// How long Broken lasts [default: the window].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    broken_time: Option<Duration>,
    /// How long the Recovering ramp lasts [default: the window].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    recovery_time: Option<Duration>,
    /// After entering Passing, statistics are only collected this long [default: the window].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    passing_time: Option<Duration>,
    /// Fewest recorded calls in the window for a verdict [default: 10].
    #[arg(long, value_name = "N")]
    min_calls: Option<u32>,
    /// Backoff: each failed recovery doubles broken_time, up to this [default: none].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    broken_time_max: Option<Duration>,
    /// Spread each broken time by up to ± this fraction (0 <= f < 1) [default: 0].
    #[arg(long, value_name = "FRACTION")]
    jitter: Option<f32>,
    /// Seed of the jitter's deterministic spread [default: 0].
    #[arg(long, value_name = "N")]
    jitter_seed: Option<u32>,
    /// A success slower than this (admission to outcome) counts as a failure [default: off].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    slow_call: Option<Duration>,
    /// Another configuration to replay side by side: the flags above with these
    /// fields changed, e.g. 'error-ratio=0.5,window=20s' (keys: the flags' names).
    /// Repeat for more.
    #[arg(long, value_name = "KEY=VALUE,...")]
    compare: Vec<String>,

    /// Print the reports as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Write the timeline picture (one panel per configuration) to this SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// The most calls in flight (admitted, outcome still due) per configuration;
    /// bounds memory when latencies are long.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    max_in_flight: usize,
}

/// An error, and the exit status it earns.
struct Failure(u8, String);

fn usage(message: String) -> Failure {
    Failure(2, message)
}

impl Cli {
    fn settings(&self) -> Settings {
        Settings {
            error_ratio: Some(self.error_ratio),
            window: Some(self.window),
            broken_time: self.broken_time,
            recovery_time: self.recovery_time,
            passing_time: self.passing_time,
            min_calls: self.min_calls,
            broken_time_max: self.broken_time_max,
            jitter: self.jitter,
            jitter_seed: self.jitter_seed,
            slow_call: self.slow_call,
        }
    }

    /// Every configuration, validated by the core, with its label.
    fn configs(&self) -> Result<(Vec<Config>, Vec<String>), Failure> {
        let base = self.settings();
        let mut configs = Vec::new();
        let mut labels = Vec::new();
        for (i, spec) in std::iter::once(None)
            .chain(self.compare.iter().map(Some))
            .enumerate()
        {
            let (settings, at) = match spec {
                None => (base, String::new()),
                Some(spec) => {
                    let at = format!("--compare '{spec}': ");
                    let settings = base.apply(spec).map_err(|m| usage(format!("{at}{m}")))?;
                    (settings, at)
                }
            };
            let config = settings
                .config()
                .map_err(|key| usage(format!("{at}--{key} is required")))?;
            validate(config).map_err(|e| usage(format!("{at}{}: {e}", flag_of(e))))?;
            configs.push(config);
            labels.push(match spec {
                None => "#1".to_string(),
                Some(spec) => format!("#{} ({spec})", i + 1),
            });
        }
        Ok((configs, labels))
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let (configs, labels) = cli.configs()?;
    let options = Options {
        max_in_flight: cli.max_in_flight,
        series: cli.svg.is_some(),
    };
    let data = |e: ReplayError, source: &str| match e {
        ReplayError::Config(_, e) => usage(e.to_string()),
        ReplayError::Trace(e) => Failure(1, format!("{source}: {e}")),
        e @ ReplayError::InFlight { .. } => Failure(1, format!("{source}: {e}")),
    };
    let reports = match (&cli.trace, &cli.scenario) {
        (_, Some(text)) => {
            let scenario = Scenario::parse(text).map_err(|e| usage(format!("--scenario: {e}")))?;
            replay(scenario.events().map(Ok), &configs, options)
                .map_err(|e| data(e, "--scenario"))?
        }
        (Some(path), None) if path.as_os_str() == "-" => {
            let input = io::stdin().lock();
            replay(TraceReader::new(input), &configs, options).map_err(|e| data(e, "<stdin>"))?
        }
        (Some(path), None) => {
            let shown = path.display().to_string();
            let file = File::open(path)
                .map_err(|e| Failure(1, format!("--trace {shown}: cannot open: {e}")))?;
            let input = BufReader::with_capacity(1 << 16, file);
            replay(TraceReader::new(input), &configs, options).map_err(|e| data(e, &shown))?
        }
        (None, None) => return Err(usage("give --trace FILE or --scenario PHASES".into())),
    };

    let mut out = io::stdout().lock();
    let written = if cli.json {
        let labelled: Vec<serde_json::Value> = reports
            .iter()
            .zip(&labels)
            .map(|(r, l)| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(map) = v.as_object_mut() {
                    map.insert("label".into(), l.as_str().into());
                }
                v
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &labelled)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        reports
            .iter()
            .zip(&labels)
            .try_for_each(|(r, l)| writeln!(out, "{}", r.table(l)))
    };
    written.map_err(|e| Failure(1, format!("cannot write the report: {e}")))?;
    if let Some(path) = &cli.svg {
        let svg = render(&reports, &labels)
            .map_err(|e| Failure(1, format!("--svg: cannot draw: {e}")))?;
        std::fs::write(path, svg)
            .map_err(|e| Failure(1, format!("--svg {}: cannot write: {e}", path.display())))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    // clap exits 2 on bad usage, 0 for --help and --version.
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}
