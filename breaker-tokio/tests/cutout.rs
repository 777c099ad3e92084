//! `#[breaker_tokio::cutout]` on tokio's paused clock: the generated `static`
//! breaker reads `TokioClock`, so `tokio::time::advance` drives it.

use std::time::Duration;

use breaker_tokio::cutout;
use breaker_tokio::{Error, State};

#[derive(Debug, PartialEq)]
enum FetchError {
    Connection,
    NotFound,
}

fn is_connection_error(e: &FetchError) -> bool {
    matches!(e, FetchError::Connection)
}

#[cutout(
    error_ratio = 0.5,
    window = "10s",
    broken_time = "5s",
    recovery_time = "10s",
    passing_time = "0s",
    min_calls = 4,
    failure = is_connection_error,
    name = FETCH_BREAKER,
)]
async fn fetch(reply: Result<u32, FetchError>) -> Result<u32, FetchError> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    reply
}

#[tokio::test(start_paused = true)]
async fn cutout_runs_on_tokio_time() {
    // The call future is `Send`: it can be spawned.
    assert_eq!(tokio::spawn(fetch(Ok(1))).await.unwrap(), Ok(1));
    // Not the upstream's fault: a success.
    assert_eq!(
        fetch(Err(FetchError::NotFound)).await,
        Err(Error::Inner(FetchError::NotFound))
    );
    assert_eq!(
        fetch(Err(FetchError::Connection)).await,
        Err(Error::Inner(FetchError::Connection))
    );
    assert_eq!(FETCH_BREAKER.state(), State::Passing); // 1 of 3 failed
    assert_eq!(
        fetch(Err(FetchError::Connection)).await,
        Err(Error::Inner(FetchError::Connection))
    );
    assert_eq!(FETCH_BREAKER.state(), State::Broken); // 2 of 4 failed

    let Err(Error::Broken(rejected)) = fetch(Ok(1)).await else {
        panic!("a broken breaker admitted a call");
    };
    assert_eq!(rejected.retry_after(), Duration::from_secs(5));
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(FETCH_BREAKER.state(), State::Recovering);
    // At the end of the ramp every call is admitted; a success closes it.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(fetch(Ok(2)).await, Ok(2));
    assert_eq!(FETCH_BREAKER.state(), State::Passing);
    assert_eq!(FETCH_BREAKER.metrics().trips, 1);
}
