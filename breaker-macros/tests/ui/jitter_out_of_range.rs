use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.2, window = "30s", jitter = 1.0)]
fn whole() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s", jitter = -0.1)]
fn negative() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s", slow_call = "0s")]
fn never_fast_enough() -> Result<u32, ()> {
    Ok(1)
}

fn main() {}
