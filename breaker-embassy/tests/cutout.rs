//! `#[breaker_embassy::cutout]` on embassy-time's mock driver: the generated
//! `static` breaker reads `EmbassyClock`, so `MockDriver::advance` drives it.

use std::time::Duration;

use breaker_embassy::cutout;
use breaker_embassy::{Error, State};
use embassy_futures::block_on;
use embassy_time::MockDriver;

#[derive(Debug, PartialEq)]
struct SensorError;

#[cutout(
    error_ratio = 0.5,
    window = "100ms",
    broken_time = "50ms",
    recovery_time = "100ms",
    passing_time = "0s",
    min_calls = 2,
    name = SENSOR_BREAKER,
)]
async fn read_sensor(ok: bool) -> Result<u16, SensorError> {
    if ok { Ok(21) } else { Err(SensorError) }
}

#[test]
fn cutout_runs_on_embassy_time() {
    MockDriver::get().reset();
    assert_eq!(block_on(read_sensor(true)), Ok(21));
    assert_eq!(block_on(read_sensor(false)), Err(Error::Inner(SensorError)));
    assert_eq!(SENSOR_BREAKER.state(), State::Broken); // 1 of 2 failed
    let Err(Error::Broken(rejected)) = block_on(read_sensor(true)) else {
        panic!("a broken breaker admitted a call");
    };
    assert_eq!(rejected.retry_after(), Duration::from_millis(50));
    MockDriver::get().advance(embassy_time::Duration::from_millis(50));
    assert_eq!(SENSOR_BREAKER.state(), State::Recovering);
    MockDriver::get().advance(embassy_time::Duration::from_millis(100));
    assert_eq!(block_on(read_sensor(true)), Ok(21));
    assert_eq!(SENSOR_BREAKER.state(), State::Passing);
}
