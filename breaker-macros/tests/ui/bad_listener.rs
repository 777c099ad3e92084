use breaker_macros::tokio_cutout as cutout;

// The type of a `static` cannot be inferred: the listener is named by its
// constructor call, whose path says the type.
#[cutout(error_ratio = 0.2, window = "30s", listener = breaker_ops::OpsListener)]
fn not_a_call() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s", listener = new())]
fn no_type() -> Result<u32, ()> {
    Ok(1)
}

fn main() {}
