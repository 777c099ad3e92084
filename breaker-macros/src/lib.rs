#![doc = include_str!("../README.md")]

use proc_macro::TokenStream;

mod args;
mod duration;
mod expand;

/// `#[cutout(...)]` for tokio: the breaker reads `breaker_tokio::TokioClock`.
/// Use it as `breaker_tokio::cutout`; the arguments are in the
/// [crate docs](crate#arguments).
#[proc_macro_attribute]
pub fn tokio_cutout(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::cutout("breaker_tokio", attr.into(), item.into()).into()
}

/// `#[cutout(...)]` for async-std and smol: the breaker reads
/// `breaker_async_std::CoarseClock`. Use it as `breaker_async_std::cutout`; the
/// arguments are in the [crate docs](crate#arguments).
#[proc_macro_attribute]
pub fn async_std_cutout(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::cutout("breaker_async_std", attr.into(), item.into()).into()
}

/// `#[cutout(...)]` for embassy: the breaker reads
/// `breaker_embassy::EmbassyClock`. Use it as `breaker_embassy::cutout`; the
/// arguments are in the [crate docs](crate#arguments).
#[proc_macro_attribute]
pub fn embassy_cutout(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::cutout("breaker_embassy", attr.into(), item.into()).into()
}
