use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.2, window = "30s", min_calls = 0)]
fn zero() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s", min_calls = 2.5)]
fn fraction() -> Result<u32, ()> {
    Ok(1)
}

fn main() {}
