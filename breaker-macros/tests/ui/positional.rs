use breaker_macros::tokio_cutout as cutout;

// aiomisc's positional form is not accepted: every argument is named.
#[cutout(0.2, "20s")]
fn fetch() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window)]
fn fetch_no_value() -> Result<u32, ()> {
    Ok(1)
}

fn main() {
    let _ = fetch();
    let _ = fetch_no_value();
}
