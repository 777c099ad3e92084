use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.2, window = "30s", timeout = "1s")]
fn fetch() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s", min_call = 5)]
fn fetch_typo() -> Result<u32, ()> {
    Ok(1)
}

fn main() {
    let _ = fetch();
    let _ = fetch_typo();
}
