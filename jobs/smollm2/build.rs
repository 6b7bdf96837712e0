//! Declares the module's memory maximum when building for wasm32 (the executor refuses a
//! memory without one). Native builds are untouched.

/// The largest memory the SmolLM2 module may grow to, in bytes: the executor's limit
/// (`MEMORY_PAGES_MAX`, 1,024 pages of 64 KiB). The weights stream through one layer buffer;
/// the key/value cache takes up to 29.5 MB of it.
const MEMORY_BYTES_MAX: u32 = 64 << 20;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo::rustc-link-arg-cdylib=--max-memory={MEMORY_BYTES_MAX}");
    }
}
