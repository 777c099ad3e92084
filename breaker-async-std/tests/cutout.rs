//! `#[breaker_async_std::cutout]`: the generated `static` breaker reads
//! `CoarseClock` (real monotonic time), so this test only checks what happens
//! without time passing: the trip and the rejection.

use std::time::Duration;

use breaker_async_std::cutout;
use breaker_async_std::{Error, State};

#[derive(Debug, PartialEq)]
struct Down;

#[cutout(
    error_ratio = 1.0,
    window = "1m",
    broken_time = "1h",
    passing_time = "0s",
    min_calls = 2,
    name = UPSTREAM_BREAKER,
)]
async fn upstream(ok: bool) -> Result<&'static str, Down> {
    if ok { Ok("pong") } else { Err(Down) }
}

#[async_std::test]
async fn cutout_trips_and_rejects() {
    assert_eq!(upstream(false).await, Err(Error::Inner(Down)));
    assert_eq!(UPSTREAM_BREAKER.state(), State::Passing); // below min_calls
    assert_eq!(upstream(false).await, Err(Error::Inner(Down)));
    assert_eq!(UPSTREAM_BREAKER.state(), State::Broken);
    // The call future is `Send`: it can be spawned; rejected, the body never runs.
    let Err(Error::Broken(rejected)) = async_std::task::spawn(upstream(true)).await else {
        panic!("a broken breaker admitted a call");
    };
    // Real time: a few microseconds passed since the trip, not a minute.
    let left = rejected.retry_after();
    assert!(
        left <= Duration::from_secs(3600) && left > Duration::from_secs(3540),
        "{left:?}"
    );
    let m = UPSTREAM_BREAKER.metrics();
    assert_eq!((m.successes, m.failures, m.call_broken), (0, 2, 1));
}
