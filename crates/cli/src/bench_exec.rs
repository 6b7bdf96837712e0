//! `plexus bench exec`: what metering and checkpoints cost, and whether execution is exact.
//!
//! One int8 model (the built-in `cnn` job) runs three ways in the same process: natively (the
//! job's own Rust code over the executor's native kernels), in wasmtime without fuel or
//! checkpoints, and in wasmtime with both (the provider's mode). Each figure is the best of
//! `--runs`; the ratios compare runs of the same build in the same process. The checkpoint share
//! is the time the executor spent taking checkpoints (globals, finding changed pages, hashing
//! them, state roots, the in-memory page store) over the metered run's time; the hash share is
//! the hashing alone. Then `--determinism` random digits inputs run on the host-tuned and the baseline x86-64
//! codegen (no AVX) and the output hash, fuel and trace root must agree, and agree with the
//! native output.

use anyhow::{Context, Result, bail};
use plexus_exec::{
    DiscardCheckpoints, Engine, EngineOptions, Execution, Job, MemoryCheckpoints, Outcome, builtin,
    native::NativeHost,
};
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use serde_json::json;
use std::{sync::Arc, time::Instant};

pub(crate) fn engine(metering: bool, baseline_isa: bool) -> Result<Engine> {
    Ok(Engine::new(EngineOptions {
        metering,
        baseline_isa,
        ..EngineOptions::default()
    })?)
}

fn job(engine: &Engine, name: &str, id: [u8; 32], input: &[u8], seg_fuel: u64) -> Result<Job> {
    let builtin = builtin::lookup(name).with_context(|| format!("no built-in {name}"))?;
    let admitted = plexus_exec::admit(builtin.wasm)?;
    Ok(Job {
        id,
        module: engine.compile(&admitted)?,
        input: Arc::from(input),
        blobs: builtin.blobs.iter().map(|b| Arc::from(*b)).collect(),
        // Ample for the benchmark's batches, and small enough for fine segments.
        max_fuel: 10_000_000_000,
        seg_fuel,
    })
}

fn output(execution: &Execution) -> Result<&[u8]> {
    match &execution.outcome {
        Outcome::Completed { output } => Ok(output),
        Outcome::Trapped(code) => bail!("the benchmark job trapped: {}", code.name()),
    }
}

/// Best wall time of `runs` calls of `f`, in milliseconds, and that run's result.
pub(crate) fn best<T>(runs: u32, mut f: impl FnMut() -> Result<T>) -> Result<(f64, T)> {
    let mut best: Option<(f64, T)> = None;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let value = f()?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if best.as_ref().is_none_or(|(fastest, _)| ms < *fastest) {
            best = Some((ms, value));
        }
    }
    Ok(best.expect("at least one run"))
}

/// The fastest of `runs` timings of `f` and of `g`, taken in turns (`f`, `g`, `f`, `g`, ...)
/// so that load from elsewhere on the machine falls on both alike: what a ratio of the two
/// should compare.
pub(crate) fn best_of_both<A, B>(
    runs: u32,
    mut f: impl FnMut() -> Result<A>,
    mut g: impl FnMut() -> Result<B>,
) -> Result<((f64, A), (f64, B))> {
    let mut best_f: Option<(f64, A)> = None;
    let mut best_g: Option<(f64, B)> = None;
    for _ in 0..runs.max(1) {
        let (ms, value) = best(1, &mut f)?;
        if best_f.as_ref().is_none_or(|(fastest, _)| ms < *fastest) {
            best_f = Some((ms, value));
        }
        let (ms, value) = best(1, &mut g)?;
        if best_g.as_ref().is_none_or(|(fastest, _)| ms < *fastest) {
            best_g = Some((ms, value));
        }
    }
    Ok((
        best_f.expect("at least one run"),
        best_g.expect("at least one run"),
    ))
}

pub fn bench_exec(
    images: usize,
    runs: u32,
    determinism: u32,
    seg_fuel: u64,
    json_mode: bool,
) -> Result<()> {
    let id = [1u8; 32];
    let input = plexus_job_cnn::random_input(1, images).map_err(|e| anyhow::anyhow!("{e}"))?;
    let host = NativeHost::new(&id, Arc::from(&input[..]), Vec::new());
    let (native_ms, (native_output, steps)) = best(runs, || {
        Ok(plexus_guest::run_native::<plexus_job_cnn::CnnJob, _>(&host))
    })?;

    let plain = engine(false, false)?;
    let plain_job = job(&plain, "cnn", id, &input, plexus_exec::SEG_FUEL_DEFAULT)?;
    let (wasm_plain_ms, plain_run) = best(runs, || {
        Ok(plexus_exec::run(
            &plain,
            &plain_job,
            &mut DiscardCheckpoints,
        )?)
    })?;

    let metered = engine(true, false)?;
    let metered_job = job(&metered, "cnn", id, &input, seg_fuel)?;
    let (wasm_metered_ms, (metered_run, pages, stats)) = best(runs, || {
        let mut sink = MemoryCheckpoints::default();
        let (execution, stats) = plexus_exec::run_measured(&metered, &metered_job, &mut sink)?;
        Ok((execution, sink.page_bytes(), stats))
    })?;
    if output(&plain_run)? != native_output || output(&metered_run)? != native_output {
        bail!("the cnn output differs between native and wasm runs");
    }
    // The checkpoints' share of the run they were taken in (the fastest run).
    let checkpoint_ms = stats.checkpoint_time.as_secs_f64() * 1e3;
    let checkpoint_share = checkpoint_ms / wasm_metered_ms.max(1e-9);
    let hash_ms = stats.hash_time.as_secs_f64() * 1e3;
    let hash_share = hash_ms / wasm_metered_ms.max(1e-9);

    let (checked, mismatches) = check_determinism(determinism)?;
    let value = json!({
        "model": "cnn",
        "images": images,
        "steps": steps,
        "runs": runs,
        "native_ms": round(native_ms),
        "wasm_plain_ms": round(wasm_plain_ms),
        "wasm_metered_ms": round(wasm_metered_ms),
        "checkpoint_ms": round(checkpoint_ms),
        "hash_ms": round(hash_ms),
        "hash_share": round(hash_share),
        "checkpoints": stats.checkpoints,
        "metered_over_plain": round(wasm_metered_ms / wasm_plain_ms),
        "metered_over_native": round(wasm_metered_ms / native_ms),
        "checkpoint_share": round(checkpoint_share),
        "seg_fuel": seg_fuel,
        "fuel": metered_run.total_fuel,
        "segments": metered_run.segments,
        "checkpoint_page_bytes": pages,
        "determinism_inputs": checked,
        "determinism_mismatches": mismatches,
    });
    let text = format!(
        "cnn, {images} images, {steps} steps, best of {runs}\n  native          {native_ms:.2} ms\n  wasm plain      {wasm_plain_ms:.2} ms\n  wasm metered    {wasm_metered_ms:.2} ms ({} segments, {} fuel)\n  metered/plain   {:.3}\n  metered/native  {:.3}\n  checkpoints     {:.1}% of the metered run ({:.1}% hashing pages)\ndeterminism: {checked} random digits inputs on host and baseline codegen, {mismatches} mismatches",
        metered_run.segments,
        metered_run.total_fuel,
        wasm_metered_ms / wasm_plain_ms,
        wasm_metered_ms / native_ms,
        checkpoint_share * 100.0,
        hash_share * 100.0,
    );
    crate::print(json_mode, value, text);
    if mismatches > 0 {
        bail!("{mismatches} of {checked} inputs were not bit-identical");
    }
    Ok(())
}

/// One metered run of `input` as job `id` on `engine`, in the provider's mode (checkpoints kept
/// in memory); the module compiled once beforehand (providers keep compiled modules in a cache).
pub(crate) fn metered_run(
    engine: &Engine,
    module: &plexus_exec::Compiled,
    input: &std::sync::Arc<[u8]>,
    blobs: &[std::sync::Arc<[u8]>],
    id: [u8; 32],
) -> Result<plexus_exec::Execution> {
    Ok(metered_run_kept(engine, module, input, blobs, id)?.0)
}

/// [`metered_run`], with the checkpoints and their distinct pages it kept.
pub(crate) fn metered_run_kept(
    engine: &Engine,
    module: &plexus_exec::Compiled,
    input: &std::sync::Arc<[u8]>,
    blobs: &[std::sync::Arc<[u8]>],
    id: [u8; 32],
) -> Result<(plexus_exec::Execution, plexus_exec::MemoryCheckpoints)> {
    let job = plexus_exec::Job {
        id,
        module: module.clone(),
        input: input.clone(),
        blobs: blobs.to_vec(),
        max_fuel: plexus_types::limits::JOB_FUEL_MAX,
        seg_fuel: plexus_exec::SEG_FUEL_DEFAULT,
    };
    let mut sink = plexus_exec::MemoryCheckpoints::default();
    let execution = plexus_exec::run(engine, &job, &mut sink)?;
    Ok((execution, sink))
}

/// `value` to three decimals, for the JSON figures.
pub(crate) fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Runs `inputs` random digits jobs (seeded; 1 to 256 random images each, a random job id) on
/// the host-tuned and the baseline engine; returns how many inputs ran and how many disagreed
/// (in output hash, fuel or trace root, or with the native output).
fn check_determinism(inputs: u32) -> Result<(u32, u32)> {
    let seed = 0x5eed_u64;
    let host_engine = engine(true, false)?;
    let baseline_engine = engine(true, true)?;
    let builtin = builtin::lookup("digits").context("no built-in digits")?;
    let admitted = plexus_exec::admit(builtin.wasm)?;
    let host_module = host_engine.compile(&admitted)?;
    let baseline_module = baseline_engine.compile(&admitted)?;
    let blobs: Vec<Arc<[u8]>> = builtin.blobs.iter().map(|b| Arc::from(*b)).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut mismatches = 0;
    for i in 0..inputs {
        let count = rng.random_range(1..=256usize);
        let images: Vec<[u8; 64]> = (0..count)
            .map(|_| std::array::from_fn(|_| rng.random_range(0..=16u8)))
            .collect();
        let input: Arc<[u8]> = plexus_job_digits::encode_input(&images)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into();
        let mut id = [0u8; 32];
        rng.fill_bytes(&mut id);
        let make = |module: &plexus_exec::Compiled| Job {
            id,
            module: module.clone(),
            input: input.clone(),
            blobs: blobs.clone(),
            max_fuel: 1_000_000_000,
            // Small segments so every input has several leaves to compare.
            seg_fuel: 20_000,
        };
        let a = plexus_exec::run(&host_engine, &make(&host_module), &mut DiscardCheckpoints)?;
        let b = plexus_exec::run(
            &baseline_engine,
            &make(&baseline_module),
            &mut DiscardCheckpoints,
        )?;
        let native = plexus_guest::run_native::<plexus_job_digits::DigitsJob, _>(&NativeHost::new(
            &id,
            input.clone(),
            blobs.clone(),
        ))
        .0;
        let agree = a.output_hash == b.output_hash
            && a.total_fuel == b.total_fuel
            && a.trace_root == b.trace_root
            && output(&a).ok() == Some(&native[..]);
        if !agree {
            mismatches += 1;
            eprintln!("determinism: input {i} (seed {seed:#x}) differs");
        }
    }
    Ok((inputs, mismatches))
}

#[cfg(test)]
mod tests {
    use super::best_of_both;
    use std::cell::RefCell;

    #[test]
    fn both_sides_take_turns_and_each_keeps_its_own_values() {
        let calls = RefCell::new(Vec::new());
        let ((_, a), (_, b)) = best_of_both(
            3,
            || {
                calls.borrow_mut().push('f');
                Ok(1u8)
            },
            || {
                calls.borrow_mut().push('g');
                Ok("g")
            },
        )
        .unwrap();
        assert_eq!((a, b), (1, "g"));
        assert_eq!(calls.into_inner(), vec!['f', 'g', 'f', 'g', 'f', 'g']);
    }
}
