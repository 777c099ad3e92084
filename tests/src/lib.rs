//! The workspace's cross-crate integration and acceptance suite lives in
//! `tests/`. The workspace README is included below so that its examples are
//! compiled and run as doctests.
#![doc = include_str!("../../README.md")]
