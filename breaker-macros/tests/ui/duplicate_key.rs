use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.2, window = "30s", window = "1m")]
fn fetch() -> Result<u32, ()> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}
