#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod handle;
mod keyed;
mod listener;
#[cfg(feature = "ops")]
mod ops;

pub use handle::KeyedBreaker;
pub use keyed::{Builder, DEFAULT_CAPACITY, DefaultHashBuilder, KeyedBreakers, Stats};
pub use listener::{Key, KeyListener};

pub use breaker_core::{CircuitBroken, Config, ConfigError, Error, Outcome, State, Transition};
