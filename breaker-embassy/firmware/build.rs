//! Puts the board's memory map where cortex-m-rt's `link.x` finds it (as
//! `memory.x`): the LM3S6965's for Cortex-M3/M4 builds, the micro:bit's
//! nRF51 for Cortex-M0 (thumbv6m) builds. Neither file is called `memory.x`:
//! the linker would find that one in the package folder first.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = env::var("TARGET").expect("cargo sets TARGET");
    // `board_microbit` tells the firmware which board's clock and name to use.
    println!("cargo::rustc-check-cfg=cfg(board_microbit)");
    let map: &[u8] = if target.starts_with("thumbv6m") {
        println!("cargo:rustc-cfg=board_microbit");
        include_bytes!("memory-microbit.x")
    } else {
        include_bytes!("memory-lm3s6965.x")
    };
    fs::write(out.join("memory.x"), map).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-lm3s6965.x");
    println!("cargo:rerun-if-changed=memory-microbit.x");
    println!("cargo:rerun-if-changed=build.rs");
}
