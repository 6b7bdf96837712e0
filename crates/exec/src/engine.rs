//! The wasmtime engine, configured for determinism, and modules compiled on it.
//!
//! Settings that affect results are fixed here and nowhere else: fuel metering (wasmtime 48.0.8's
//! per-operator costs, pinned with the version: fuel is the billing unit), NaN canonicalization,
//! exactly the WebAssembly features of the guest ABI (relaxed SIMD and threads off). Code
//! generation may differ (`baseline_isa` compiles for x86-64 or aarch64 without any optional
//! CPU feature, so AVX/AVX2/BMI/... are unused); results, fuel and traces must not, and the tests
//! compare both.
//!
//! Wall time is a backstop, not a meter (a `wall_time` trap is not reproducible, so never a reason
//! to slash). The executor checks it after every `init`/`step` call; with metering, fuel bounds
//! each call, and the consumer paid for that fuel. A hard bound inside a call is optional
//! (`epoch_backstop`): epoch interruption with a ticker thread owned by the `Engine` that advances
//! the epoch every `EPOCH_TICK_MS`. It is off by default because of its cost: measured on a loop
//! that makes one call per iteration (2-core x86-64), 137 ms plain, 188 ms with epochs, 199 ms
//! with fuel, 271-295 ms with both; on a loop without calls it is within noise. wasmtime checks
//! the epoch at every function entry and loop header, and guest code is call-heavy.

use crate::{WALL_TIME_MS_DEFAULT, admission::Admitted, host};
use plexus_types::ContentHash;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};
use wasmparser::WasmFeatures;
use wasmtime::{Config, InstancePre, Module};

/// Features the engine turns off explicitly (admission refuses them first; this is defence in
/// depth and pins the configuration against changes of wasmtime's defaults).
const ENGINE_REFUSED_FEATURES: WasmFeatures = WasmFeatures::THREADS
    .union(WasmFeatures::SHARED_EVERYTHING_THREADS)
    .union(WasmFeatures::RELAXED_SIMD)
    .union(WasmFeatures::MEMORY64)
    .union(WasmFeatures::MULTI_MEMORY)
    .union(WasmFeatures::TAIL_CALL)
    .union(WasmFeatures::EXCEPTIONS)
    .union(WasmFeatures::LEGACY_EXCEPTIONS)
    .union(WasmFeatures::GC)
    .union(WasmFeatures::FUNCTION_REFERENCES)
    .union(WasmFeatures::EXTENDED_CONST)
    .union(WasmFeatures::WIDE_ARITHMETIC)
    .union(WasmFeatures::CUSTOM_PAGE_SIZES)
    .union(WasmFeatures::STACK_SWITCHING);

/// How often the ticker thread advances the epoch (the wall-time backstop's granularity).
pub const EPOCH_TICK_MS: u64 = 10;

/// How an [`Engine`] compiles and runs modules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Fuel metering and checkpoints (the provider's mode); off only for benchmarks.
    pub metering: bool,
    /// Compile for the baseline ISA (no optional CPU features) instead of the host's.
    pub baseline_isa: bool,
    /// Wall-clock backstop per run or replay, in milliseconds (checked between calls).
    pub wall_time_ms: u64,
    /// Also interrupt a call that passes `wall_time_ms` (epoch interruption; costs speed).
    pub epoch_backstop: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            metering: true,
            baseline_isa: false,
            wall_time_ms: WALL_TIME_MS_DEFAULT,
            epoch_backstop: false,
        }
    }
}

/// Why an engine could not be built or a module not compiled.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// wasmtime refused the configuration.
    #[error("engine configuration refused: {0}")]
    Config(#[source] wasmtime::Error),
    /// `baseline_isa` on a platform this crate has no baseline triple for.
    #[error("no baseline target for {arch}-{os}")]
    BaselineUnsupported {
        /// `std::env::consts::ARCH`.
        arch: &'static str,
        /// `std::env::consts::OS`.
        os: &'static str,
    },
    /// An admitted module failed to compile or link (a host-side problem: admission accepted it).
    #[error("compiling module {hash}: {source}")]
    Compile {
        /// The module's hash.
        hash: ContentHash,
        /// wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
}

/// A deterministic wasmtime engine with its wall-time ticker.
pub struct Engine {
    pub(crate) inner: wasmtime::Engine,
    pub(crate) options: EngineOptions,
    linker: wasmtime::Linker<host::HostState>,
    stop: Arc<AtomicBool>,
}

impl Engine {
    /// Builds an engine (and, with `epoch_backstop`, its epoch ticker, stopped on drop).
    pub fn new(options: EngineOptions) -> Result<Self, EngineError> {
        let mut config = Config::new();
        config
            .consume_fuel(options.metering)
            .epoch_interruption(options.epoch_backstop)
            .cranelift_nan_canonicalization(true)
            .wasm_features(crate::admission::ALLOWED_FEATURES, true)
            .wasm_features(ENGINE_REFUSED_FEATURES, false)
            .wasm_backtrace_max_frames(None);
        if options.baseline_isa {
            config
                .target(baseline_triple()?)
                .map_err(EngineError::Config)?;
        }
        let inner = wasmtime::Engine::new(&config).map_err(EngineError::Config)?;
        let linker = host::linker(&inner).map_err(EngineError::Config)?;
        let stop = Arc::new(AtomicBool::new(false));
        if options.epoch_backstop {
            spawn_ticker(inner.weak(), stop.clone());
        }
        Ok(Self {
            inner,
            options,
            linker,
            stop,
        })
    }

    /// The options this engine was built with.
    pub fn options(&self) -> EngineOptions {
        self.options
    }

    /// Compiles an admitted module for this engine.
    pub fn compile(&self, admitted: &Admitted) -> Result<Compiled, EngineError> {
        let compile_error = |source| EngineError::Compile {
            hash: admitted.hash,
            source,
        };
        let module = Module::new(&self.inner, &admitted.bytes).map_err(compile_error)?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(compile_error)?;
        Ok(Compiled {
            hash: admitted.hash,
            globals: admitted.globals.clone().into(),
            pre,
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn spawn_ticker(engine: wasmtime::EngineWeak, stop: Arc<AtomicBool>) {
    // The thread holds only a weak handle, so it never keeps the engine alive; it exits at the
    // next tick after the engine is dropped.
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(EPOCH_TICK_MS));
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        }
    });
}

fn baseline_triple() -> Result<&'static str, EngineError> {
    use std::env::consts::{ARCH, OS};
    match (ARCH, OS) {
        ("x86_64", "linux") => Ok("x86_64-unknown-linux-gnu"),
        ("aarch64", "linux") => Ok("aarch64-unknown-linux-gnu"),
        ("x86_64", "macos") => Ok("x86_64-apple-darwin"),
        ("aarch64", "macos") => Ok("aarch64-apple-darwin"),
        (arch, os) => Err(EngineError::BaselineUnsupported { arch, os }),
    }
}

/// An admitted module compiled (and pre-linked) for one engine; cheap to clone.
#[derive(Clone)]
pub struct Compiled {
    /// BLAKE3 of the submitted module.
    pub hash: ContentHash,
    /// Export names of the mutable globals, in global-index order.
    pub globals: Arc<[String]>,
    pub(crate) pre: InstancePre<host::HostState>,
}

impl Compiled {
    /// Whether this module was compiled on `engine`.
    pub fn is_for(&self, engine: &Engine) -> bool {
        wasmtime::Engine::same(self.pre.module().engine(), &engine.inner)
    }
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("hash", &self.hash)
            .field("globals", &self.globals)
            .finish_non_exhaustive()
    }
}
