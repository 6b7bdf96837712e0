//! `plexus bench models`: the MiniLM embedding job's throughput, metered and native, and its
//! determinism across codegens.
//!
//! The texts of `--texts` (one per line) run as one job four ways in this process: natively (the
//! job's Rust code over the executor's native kernels), metered in wasmtime with checkpoints (the
//! provider's mode) on the host-tuned codegen, the same on the baseline x86-64 codegen (once,
//! to compare output hash, fuel and trace root), and metered in precise mode. Figures are the
//! best of `--runs`; the native and metered runs take turns, so that load from elsewhere on the
//! machine falls on both sides of their ratio alike. `cargo xtask bench models` runs this beside onnxruntime on the same texts.

use crate::bench_exec::{best, best_of_both, engine, metered_run, round};
use anyhow::{Context, Result, bail};
use plexus_exec::{Execution, Outcome, builtin, native::NativeHost};
use plexus_guest::wordpiece::Vocab;
use plexus_job_minilm::{self as minilm, Mode};
use serde_json::json;
use std::{path::Path, sync::Arc};

/// The job id the benchmark's runs use (the job does not draw random bytes; any id would do).
const JOB_ID: [u8; 32] = [7; 32];

fn completed(execution: &Execution) -> Result<&[u8]> {
    match &execution.outcome {
        Outcome::Completed { output } => Ok(output),
        Outcome::Trapped(code) => bail!("the minilm job trapped: {}", code.name()),
    }
}

/// The built-in minilm module admitted and compiled for `engine`, once: compiling is not part
/// of a run (providers keep compiled modules in a cache).
fn compiled(engine: &plexus_exec::Engine) -> Result<plexus_exec::Compiled> {
    let found = builtin::lookup("minilm").context("no built-in minilm")?;
    Ok(engine.compile(&plexus_exec::admit(found.wasm)?)?)
}

pub fn bench_models(texts_path: &Path, runs: u32, json_mode: bool) -> Result<()> {
    let text = std::fs::read_to_string(texts_path)
        .with_context(|| format!("cannot read {}", texts_path.display()))?;
    let texts: Vec<&str> = text.lines().collect();
    let found = builtin::lookup("minilm").context("no built-in minilm")?;
    let blobs: Vec<Arc<[u8]>> = found.load_blobs()?.into_iter().map(Arc::from).collect();
    let vocab = Vocab::parse(&blobs[minilm::VOCAB_BLOB])
        .map_err(|e| anyhow::anyhow!("the vocabulary blob: {e}"))?;
    let mut ids = Vec::new();
    let tokens: usize = texts
        .iter()
        .map(|t| {
            vocab.encode(t, minilm::TOKENS_MAX, &mut ids);
            ids.len()
        })
        .sum();
    let encode = |mode| -> Result<Arc<[u8]>> {
        Ok(minilm::encode_input(&texts, mode)
            .map_err(|e| anyhow::anyhow!("--texts {}: {e}", texts_path.display()))?
            .into())
    };
    let (input, precise_input) = (encode(Mode::Default)?, encode(Mode::Precise)?);

    let host = NativeHost::new(&JOB_ID, input.clone(), blobs.clone());
    let host_engine = engine(true, false)?;
    let module = compiled(&host_engine)?;
    let ((native_ms, (native_output, _)), (metered_ms, run)) = best_of_both(
        runs,
        || Ok(plexus_guest::run_native::<minilm::MiniLmJob, _>(&host)),
        || metered_run(&host_engine, &module, &input, &blobs, JOB_ID),
    )?;
    if completed(&run)? != native_output {
        bail!("the metered output differs from the native output");
    }
    let baseline_engine = engine(true, true)?;
    let baseline = metered_run(
        &baseline_engine,
        &compiled(&baseline_engine)?,
        &input,
        &blobs,
        JOB_ID,
    )?;
    let same_on_baseline = baseline.output_hash == run.output_hash
        && baseline.total_fuel == run.total_fuel
        && baseline.trace_root == run.trace_root;
    let (precise_ms, precise) = best(runs, || {
        metered_run(&host_engine, &module, &precise_input, &blobs, JOB_ID)
    })?;
    completed(&precise)?;
    let (gemm_gmacs, gemm_gmacs_baseline) = crate::bench_gemm::headline(runs)?;

    let n = texts.len() as f64;
    let per_s = |ms: f64| n / (ms / 1e3);
    let value = json!({
        "texts": texts.len(),
        "tokens_per_text": round(tokens as f64 / n),
        "runs": runs,
        "minilm_sentences_per_s": round(per_s(metered_ms)),
        "minilm_native_sentences_per_s": round(per_s(native_ms)),
        "minilm_metered_over_native": round(metered_ms / native_ms),
        "minilm_precise_sentences_per_s": round(per_s(precise_ms)),
        "fuel": run.total_fuel,
        "fuel_per_text": run.total_fuel / texts.len() as u64,
        "precise_fuel": precise.total_fuel,
        "segments": run.segments,
        "trace_root": run.trace_root.to_string(),
        "same_on_baseline_codegen": same_on_baseline,
        "gemm_gmacs": round(gemm_gmacs),
        "gemm_gmacs_baseline": round(gemm_gmacs_baseline),
    });
    let text = format!(
        "minilm, {} texts ({:.1} tokens each), best of {runs}\n  metered   {:.1} sentences/s ({} fuel, {} segments)\n  native    {:.1} sentences/s\n  metered/native {:.3}\n  precise   {:.1} sentences/s metered\n  gemm_i8   {gemm_gmacs:.2} G/s dispatched, {gemm_gmacs_baseline:.2} G/s scalar\ndeterminism: baseline codegen gave the {} output hash, fuel and trace root",
        texts.len(),
        tokens as f64 / n,
        per_s(metered_ms),
        run.total_fuel,
        run.segments,
        per_s(native_ms),
        metered_ms / native_ms,
        per_s(precise_ms),
        if same_on_baseline {
            "same"
        } else {
            "DIFFERENT"
        },
    );
    crate::print(json_mode, value, text);
    if !same_on_baseline {
        bail!("the baseline codegen's run differs from the host-tuned one");
    }
    Ok(())
}
