use breaker_macros::tokio_cutout as cutout;

#[cutout(error_ratio = 0.2, window = "30s", name = "FETCH")]
fn string() -> Result<u32, ()> {
    Ok(1)
}

#[cutout(error_ratio = 0.2, window = "30s", name = some::FETCH)]
fn path() -> Result<u32, ()> {
    Ok(1)
}

struct Client;

impl Client {
    #[cutout(error_ratio = 0.2, window = "30s", name = GET_BREAKER)]
    fn get(&self) -> Result<u32, ()> {
        Ok(1)
    }
}

fn main() {
    let _ = Client.get();
}
