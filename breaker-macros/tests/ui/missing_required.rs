use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.2)]
fn no_window() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(window = "30s", min_calls = 5)]
fn no_ratio() -> Result<u32, ()> {
    Ok(1)
}

#[cutout]
fn nothing() -> Result<u32, ()> {
    Ok(1)
}

fn main() {}
