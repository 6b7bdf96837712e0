//! The scenario's job: a tiny WebAssembly module run through `plexus-exec` with real
//! checkpoints, so every trace, every light audit and every settlement re-runs real code.
//!
//! The module copies its input (up to 64 bytes) into memory in `init` and then mixes it into an
//! accumulator for `3 + input[0] % 6` steps of about 36 000 fuel each; the output is the
//! accumulator. Only `init` reads the input, so a run on a different input differs from the
//! honest one in segment 0 alone: what the targeted corrupter exploits.

use plexus_exec::{Engine, EngineOptions, Execution, MemoryCheckpoints};
use plexus_types::ContentHash;
use plexus_types::Digest;
use plexus_types::job::Commitment;
use plexus_types::trace;
use std::sync::Arc;

/// Fuel per segment: about one step of the module.
pub(super) const SEG_FUEL: u64 = 30_000;
/// The consumer's `max_fuel`: room above the longest honest run (eight steps, about 290 000)
/// for the bill inflator's claim.
pub(super) const MAX_FUEL: u64 = 1_000_000;
/// Input bytes a consumer posts.
pub(super) const INPUT_BYTES: usize = 16;

/// The job module (WAT): the guest ABI of `jobs/README.md` with two host imports.
const MODULE_WAT: &str = r#"(module
  (import "plexus" "input_read" (func $input_read (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (global $steps (mut i32) (i32.const 0))
  (global (export "plexus_output") i32 (i32.const 0))
  ;; The output record {ptr = 0x200, len = 8}: the accumulator.
  (data (i32.const 0) "\00\02\00\00\08\00\00\00")
  (func (export "init")
    (drop (call $input_read (i32.const 0) (i32.const 0x100) (i32.const 64)))
    (global.set $steps
      (i32.add (i32.const 3) (i32.rem_u (i32.load8_u (i32.const 0x100)) (i32.const 6)))))
  (func (export "step") (result i32)
    (local $i i32) (local $acc i64)
    (local.set $acc (i64.load (i32.const 0x200)))
    (loop $mix
      (local.set $acc
        (i64.add
          (i64.mul (local.get $acc) (i64.const 31))
          (i64.load8_u (i32.add (i32.const 0x100) (i32.and (local.get $i) (i32.const 63))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $mix (i32.lt_u (local.get $i) (i32.const 3000))))
    (i64.store (i32.const 0x200) (local.get $acc))
    (global.set $steps (i32.sub (global.get $steps) (i32.const 1)))
    (global.get $steps)))"#;

/// The module, admitted and compiled once, on one metering engine.
pub(super) struct Work {
    pub(super) engine: Engine,
    pub(super) compiled: plexus_exec::Compiled,
    /// The module's bytes as a consumer uploads them.
    pub(super) wasm: Vec<u8>,
}

/// An honest run: what it commits to and every checkpoint with its pages.
pub(super) struct Trace {
    pub(super) execution: Execution,
    pub(super) checkpoints: MemoryCheckpoints,
}

impl Trace {
    /// `(fuel, state_root)` per leaf: what the strategies play from.
    pub(super) fn leaves(&self) -> Vec<(u64, ContentHash)> {
        self.execution
            .leaves
            .iter()
            .map(|leaf| (leaf.fuel, leaf.state_root))
            .collect()
    }

    /// The commitment an honest provider posts for this run.
    pub(super) fn commitment(&self) -> Commitment {
        let execution = &self.execution;
        Commitment {
            output_hash: execution.output_hash,
            total_fuel: execution.total_fuel,
            segments: u32::try_from(execution.segments).unwrap_or(u32::MAX),
            trace_root: execution.trace_root,
            failed: matches!(execution.outcome, plexus_exec::Outcome::Trapped(_)),
        }
    }
}

/// The trace root of leaves `(fuel, state_root)`: what a commitment to them names.
pub(super) fn trace_root(leaves: &[(u64, ContentHash)]) -> ContentHash {
    let hashes: Vec<ContentHash> = (0u64..)
        .zip(leaves)
        .map(|(index, (fuel, root))| trace::leaf(index, *fuel, root))
        .collect();
    trace::trace_root(&hashes)
}

impl Work {
    /// Admits and compiles the module.
    pub(super) fn new() -> Result<Self, String> {
        let wasm = wat::parse_str(MODULE_WAT).map_err(|err| format!("job module: {err}"))?;
        let engine = Engine::new(EngineOptions::default()).map_err(|err| err.to_string())?;
        let admitted = plexus_exec::admit(&wasm).map_err(|err| err.to_string())?;
        let compiled = engine.compile(&admitted).map_err(|err| err.to_string())?;
        Ok(Work {
            engine,
            compiled,
            wasm,
        })
    }

    /// Job `id` on `input` as the executor runs it.
    pub(super) fn job(&self, id: &Digest, input: &[u8]) -> plexus_exec::Job {
        plexus_exec::Job {
            id: id.0,
            module: self.compiled.clone(),
            input: Arc::from(input),
            blobs: Vec::new(),
            max_fuel: MAX_FUEL,
            seg_fuel: SEG_FUEL,
        }
    }

    /// Runs job `id` on `input` to the end, keeping every checkpoint.
    pub(super) fn run(&self, id: &Digest, input: &[u8]) -> Result<Trace, String> {
        let mut checkpoints = MemoryCheckpoints::default();
        let execution = plexus_exec::run(&self.engine, &self.job(id, input), &mut checkpoints)
            .map_err(|err| format!("run of job {}: {err}", digest_hex(id)))?;
        Ok(Trace {
            execution,
            checkpoints,
        })
    }
}

/// A digest as hex, for messages.
pub(super) fn digest_hex(digest: &Digest) -> String {
    plexus_types::hash::digest_hex(digest)
}
