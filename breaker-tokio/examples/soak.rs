//! The soak with injected faults (issue #18), the manual run: N clients for
//! a bounded time through an axum proxy and its breaker, in front of a
//! loopback upstream that answers late, fails, hangs past the timeout,
//! resets connections and panics on a schedule. It prints requests per
//! second, latency and the breaker's share of it, every counter, and the
//! checks; it exits 1 if any check fails.
//!
//! ```text
//! cargo run --release -p breaker-tokio --example soak [-- --secs 60 --clients 32]
//! ```
//!
//! Loopback only (OS-assigned ports); every client's loop is bounded in time
//! and in requests. `cargo test -p breaker-tokio --test soak` runs the same
//! code for 5 seconds.
//!
//! Examples build with this crate's dev-dependencies, so its `test-util`
//! feature is on: `TokioClock` reads tokio's clock (real time here, nothing
//! pauses it), about 25 ns a read instead of a service's coarse clock at
//! about 3 ns. The breaker's own time printed is a little above a service's.

use std::process::ExitCode;
use std::time::Duration;

#[path = "../tests/support/soak.rs"]
mod soak;

const USAGE: &str = "usage: soak [--secs N] [--clients N]\n  \
    --secs N     how long the clients run, in seconds (default 60)\n  \
    --clients N  concurrent clients, each sending one request at a time (default 32)";

fn parse() -> Result<(u64, usize), String> {
    let (mut secs, mut clients) = (60, 32);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            let value = args.next().ok_or(format!("{name} needs a value"))?;
            value
                .parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or(format!("{name}: not a positive whole number: {value:?}"))
        };
        match arg.as_str() {
            "--secs" => secs = value("--secs")?,
            "--clients" => clients = value("--clients")? as usize,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok((secs, clients))
}

fn main() -> ExitCode {
    let (secs, clients) = match parse() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("soak: {message}");
            return ExitCode::from(2);
        }
    };
    println!("soak: {clients} clients for {secs} s on loopback...");
    let report = soak::run(soak::Settings::new(
        clients,
        Duration::from_secs(secs),
        None,
    ));
    println!("{report}");
    let problems = report.problems();
    if problems.is_empty() {
        println!("every check holds");
        ExitCode::SUCCESS
    } else {
        println!("FAILED:\n- {}", problems.join("\n- "));
        ExitCode::FAILURE
    }
}
