use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.2, window = "30")]
fn no_unit() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30sec")]
fn unknown_unit() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = 30)]
fn not_a_string() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s", broken_time = "1.5s")]
fn fraction() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "0ms")]
fn zero_window() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s", recovery_time = "0s")]
fn zero_recovery() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s", passing_time = "99999999999h")]
fn too_long() -> Result<u32, ()> {
    Ok(1)
}

fn main() {}
