use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.2, window = "30s")]
struct Fetch;

fn main() {}
