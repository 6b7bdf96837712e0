//! `plexus bench smollm2`: the SmolLM2 text generation job's throughput, metered and native, for
//! one sequence and for eight decoded together, and its determinism across codegens.
//!
//! The first prompt of `--prompts` (one per line) alone, then the first eight, run as one job
//! each, natively (the job's Rust code over the executor's native kernels) and metered in
//! wasmtime with checkpoints (the provider's mode) on the host-tuned codegen, taking turns so
//! that load from elsewhere falls on both sides of their ratio alike; the eight once more on the
//! baseline x86-64 codegen (to compare output hash, fuel and trace root) and in precise mode.
//! Tokens per second count the tokens generated (the end of turn included) over the whole job,
//! prompt prefill and tokenization included, on one core. Figures are the best of `--runs`.

use crate::bench_exec::{best, best_of_both, engine, metered_run, round};
use anyhow::{Context, Result, bail};
use plexus_exec::{Execution, Outcome, builtin, native::NativeHost};
use plexus_job_smollm2::{self as smollm2, Mode};
use serde_json::{Map, Value, json};
use std::{path::Path, sync::Arc};

/// The job id the benchmark's runs use (the job draws no random bytes; any id would do).
const JOB_ID: [u8; 32] = [9; 32];

/// The generated tokens of an output (each completion's tokens, plus its end of turn).
fn generated(output: &[u8]) -> Result<u64> {
    let completions = smollm2::decode_output(output).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(completions
        .iter()
        .map(|c| u64::from(c.completion_tokens) + u64::from(c.stop == smollm2::Stop::EndOfTurn))
        .sum())
}

fn completed(execution: &Execution) -> Result<&[u8]> {
    match &execution.outcome {
        Outcome::Completed { output } => Ok(output),
        Outcome::Trapped(code) => bail!("the smollm2 job trapped: {}", code.name()),
    }
}

pub fn bench_smollm2(
    prompts_path: &Path,
    max_new: usize,
    runs: u32,
    json_mode: bool,
) -> Result<()> {
    let text = std::fs::read_to_string(prompts_path)
        .with_context(|| format!("cannot read {}", prompts_path.display()))?;
    let prompts: Vec<&str> = text.lines().collect();
    if prompts.len() < 8 {
        bail!(
            "--prompts {}: needs at least 8 prompts",
            prompts_path.display()
        );
    }
    let found = builtin::lookup("smollm2").context("no built-in smollm2")?;
    let precise_blobs: Vec<Arc<[u8]>> = found.load_blobs()?.into_iter().map(Arc::from).collect();
    // What a job in each mode names: the default mode not the residual weights.
    let blobs = precise_blobs[..smollm2::blobs_for(Mode::Default)].to_vec();
    let host_engine = engine(true, false)?;
    let module = host_engine.compile(&plexus_exec::admit(found.wasm)?)?;
    let encode = |count: usize, mode| -> Result<Arc<[u8]>> {
        Ok(smollm2::encode_input(&prompts[..count], max_new, mode)
            .map_err(|e| anyhow::anyhow!("--prompts {}: {e}", prompts_path.display()))?
            .into())
    };
    let mut value = Map::new();
    let mut lines = vec![format!(
        "smollm2, at most {max_new} new tokens a prompt, best of {runs}"
    )];
    let mut eight = None;
    for count in [1, 8] {
        let input = encode(count, Mode::Default)?;
        let host = NativeHost::new(&JOB_ID, input.clone(), blobs.clone());
        let ((native_ms, (native_output, _)), (metered_ms, run)) = best_of_both(
            runs,
            || Ok(plexus_guest::run_native::<smollm2::SmolLm2Job, _>(&host)),
            || metered_run(&host_engine, &module, &input, &blobs, JOB_ID),
        )?;
        if completed(&run)? != native_output {
            bail!("the metered output differs from the native output ({count} prompts)");
        }
        let tokens = generated(&native_output)? as f64;
        let per_s = |ms: f64| tokens / (ms / 1e3);
        value.insert(format!("tokens_{count}"), json!(tokens));
        value.insert(
            format!("smollm2_tokens_per_s_{count}"),
            json!(round(per_s(metered_ms))),
        );
        value.insert(
            format!("smollm2_native_tokens_per_s_{count}"),
            json!(round(per_s(native_ms))),
        );
        value.insert(
            format!("smollm2_metered_over_native_{count}"),
            json!(round(metered_ms / native_ms)),
        );
        value.insert(format!("fuel_{count}"), json!(run.total_fuel));
        lines.push(format!(
            "  {count} sequence(s): {tokens} tokens; metered {:.1} tokens/s ({} fuel, {} segments), native {:.1}, metered/native {:.3}",
            per_s(metered_ms),
            run.total_fuel,
            run.segments,
            per_s(native_ms),
            metered_ms / native_ms
        ));
        eight = Some((input, run, tokens));
    }
    let (input, run, tokens) = eight.context("the eight-prompt run")?;
    let baseline_engine = engine(true, true)?;
    let baseline_module = baseline_engine.compile(&plexus_exec::admit(found.wasm)?)?;
    let baseline = metered_run(&baseline_engine, &baseline_module, &input, &blobs, JOB_ID)?;
    let same = baseline.output_hash == run.output_hash
        && baseline.total_fuel == run.total_fuel
        && baseline.trace_root == run.trace_root;
    let precise_input = encode(8, Mode::Precise)?;
    let (precise_ms, precise) = best(runs, || {
        metered_run(
            &host_engine,
            &module,
            &precise_input,
            &precise_blobs,
            JOB_ID,
        )
    })?;
    let precise_tokens = generated(completed(&precise)?)? as f64;
    value.insert(
        "smollm2_precise_tokens_per_s_8".into(),
        json!(round(precise_tokens / (precise_ms / 1e3))),
    );
    value.insert("same_on_baseline_codegen".into(), json!(same));
    value.insert("runs".into(), json!(runs));
    value.insert("max_new_tokens".into(), json!(max_new));
    lines.push(format!(
        "  8 sequences, precise: {:.1} tokens/s metered\ndeterminism: baseline codegen gave the {} output hash, fuel and trace root ({tokens} tokens)",
        precise_tokens / (precise_ms / 1e3),
        if same { "same" } else { "DIFFERENT" }
    ));
    crate::print(json_mode, Value::Object(value), lines.join("\n"));
    if !same {
        bail!("the baseline codegen disagrees");
    }
    Ok(())
}
