//! The workspace's cross-crate integration and acceptance suite lives in `tests/`.
