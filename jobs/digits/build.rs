//! Declares the module's memory maximum when building for wasm32 (the executor refuses a
//! memory without one). Native builds are untouched.

/// The largest memory the digits module may grow to, in bytes (128 pages of 64 KiB).
const MEMORY_BYTES_MAX: u32 = 8 << 20;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-link-arg-cdylib=--max-memory={MEMORY_BYTES_MAX}");
    }
}
