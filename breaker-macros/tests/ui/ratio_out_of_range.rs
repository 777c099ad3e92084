use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.0, window = "30s")]
fn zero() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 1.5, window = "30s")]
fn above_one() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = -0.2, window = "30s")]
fn negative() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = "0.2", window = "30s")]
fn string() -> Result<u32, ()> {
    Ok(1)
}

fn main() {}
