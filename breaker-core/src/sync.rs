//! The one place the crate takes its atomics from: `portable-atomic` normally,
//! loom's model-checked doubles under `--cfg loom`, so every atomic protocol in
//! the crate can be model-checked without touching its code.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use portable_atomic::{AtomicU64, Ordering};
