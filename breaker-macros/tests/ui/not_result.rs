use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.2, window = "30s")]
fn unit() {}

#[cutout(error_ratio = 0.2, window = "30s")]
async fn option() -> Option<u32> {
    Some(1)
}

#[cutout(error_ratio = 0.2, window = "30s")]
fn alias() -> std::io::Result<u32> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s")]
fn opaque() -> Result<impl std::fmt::Display, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s")]
const fn constant() -> Result<u32, ()> {
    Ok(1)
}

fn main() {}
