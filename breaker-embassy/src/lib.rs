//! Work in progress: see the workspace README.
#![no_std]

pub use breaker_core::*;
