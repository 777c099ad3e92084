//! Work in progress: the `#[cutout]` attribute.
