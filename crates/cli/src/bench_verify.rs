//! `plexus bench smollm2-verify`: what verifying a long SmolLM2 generation costs.
//!
//! One prompt generates up to `--max-new-tokens` tokens (256 by default) as one metered job in
//! the provider's mode (checkpoints kept), then the figures FuelTrace's verification of that job
//! would move, all computed from the run itself, nothing estimated:
//!
//! - the segments (every decode step is one) and their fuel;
//! - a light audit: the segments `light_segments` draws (the chain's default
//!   `light_audit_segments`, plus the last), over 64 block seeds: the share of the job's fuel it
//!   re-runs and the bytes of the distinct pages it fetches from the provider (mean and worst);
//! - a dispute at the default dissection arity: its rounds and the most bytes its moves take
//!   (`dispute_bytes_max`), and the settlement's upload for the agreed pre-state (its manifest
//!   and distinct pages: median and worst over every checkpoint), besides the job's own content
//!   (module, blobs, input) that the validators' re-run reads;
//! - what the provider stores for the job's checkpoints (distinct pages, all checkpoints).

use crate::bench_exec::{engine, metered_run_kept, round};
use anyhow::{Context, Result, bail};
use plexus_exec::{MemoryCheckpoints, Outcome, builtin};
use plexus_fueltrace::dissection::{dispute_bytes_max, rounds_max};
use plexus_fueltrace::draws::light_segments;
use plexus_fueltrace::params::AuditParams;
use plexus_job_smollm2::{self as smollm2, Mode};
use plexus_types::audit::Manifest;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The prompt of the default run: one that keeps generating for 256 tokens.
pub const DEFAULT_PROMPT: &str = "Write a long story about a dragon who learns to paint the sky.";
/// The job id of the run (the job draws no random bytes).
const JOB_ID: [u8; 32] = [7; 32];
/// Block seeds the light audit's draw is averaged over.
const SEEDS: u8 = 64;
const MB: f64 = 1e6;

pub fn bench_smollm2_verify(prompt: &str, max_new: usize, json_mode: bool) -> Result<()> {
    let found = builtin::lookup("smollm2").context("no built-in smollm2")?;
    // The blobs a default-mode job names: not the precise mode's residual weights.
    let count = smollm2::blobs_for(Mode::Default);
    let blobs: Vec<Arc<[u8]>> = found
        .load_first_blobs(count)?
        .into_iter()
        .map(Arc::from)
        .collect();
    let engine = engine(true, false)?;
    let module = engine.compile(&plexus_exec::admit(found.wasm)?)?;
    let input: Arc<[u8]> = smollm2::encode_input(&[prompt], max_new, Mode::Default)
        .map_err(|e| anyhow::anyhow!("the prompt: {e}"))?
        .into();
    let started = std::time::Instant::now();
    let (run, kept) = metered_run_kept(&engine, &module, &input, &blobs, JOB_ID)?;
    let seconds = started.elapsed().as_secs_f64();
    let Outcome::Completed { output } = &run.outcome else {
        bail!("the smollm2 job did not complete: {:?}", run.outcome);
    };
    let completion = smollm2::decode_output(output).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tokens: u32 = completion.iter().map(|c| c.completion_tokens).sum();
    // A checkpoint at every leaf (the last one too).
    if run.segments < 2 || (kept.checkpoints.len() as u64) < run.segments {
        bail!(
            "{} segments and {} checkpoints: not a run to measure",
            run.segments,
            kept.checkpoints.len()
        );
    }
    let fuels: Vec<u64> = run
        .leaves
        .windows(2)
        .map(|pair| pair[1].fuel - pair[0].fuel)
        .collect();
    let params = AuditParams::default();
    let mut value = Map::new();
    value.insert("tokens".into(), json!(tokens));
    value.insert("fuel".into(), json!(run.total_fuel));
    value.insert("segments".into(), json!(run.segments));
    value.insert("metered_seconds".into(), json!(round(seconds)));
    segment_figures(&fuels, &mut value);
    light_audit(&params, run.total_fuel, &fuels, &kept, &mut value)?;
    dispute(&params, run.segments, &kept, &mut value);
    let content = found.wasm.len() + blobs.iter().map(|b| b.len()).sum::<usize>() + input.len();
    value.insert("job_content_mb".into(), json!(round(content as f64 / MB)));
    value.insert(
        "provider_checkpoint_pages_mb".into(),
        json!(round(kept.page_bytes() as f64 / MB)),
    );
    let lines = text(&value);
    crate::print(json_mode, Value::Object(value), lines);
    Ok(())
}

/// The fuel of the first segment (init), the second (the prompt's prefill), the decode steps'
/// mean, and the last.
fn segment_figures(fuels: &[u64], value: &mut Map<String, Value>) {
    let decode = if fuels.len() > 3 {
        &fuels[2..fuels.len() - 1]
    } else {
        &[][..]
    };
    let mean = if decode.is_empty() {
        0
    } else {
        decode.iter().sum::<u64>() / decode.len() as u64
    };
    value.insert("segment_fuel_init".into(), json!(fuels[0]));
    value.insert("segment_fuel_prefill".into(), json!(fuels[1]));
    value.insert("segment_fuel_decode_mean".into(), json!(mean));
    value.insert("segment_fuel_last".into(), json!(fuels[fuels.len() - 1]));
}

/// The distinct pages of checkpoint `index` (the pre-state of segment `index`; 0 is the module
/// itself, instantiated by whoever re-runs it, so it moves no page): their bytes.
fn pre_state_page_bytes(kept: &MemoryCheckpoints, index: u64) -> Result<usize> {
    if index == 0 {
        return Ok(0);
    }
    let checkpoint = kept
        .checkpoints
        .iter()
        .find(|c| c.index == index)
        .with_context(|| format!("no checkpoint {index}"))?;
    kept.distinct_page_bytes(checkpoint)
        .with_context(|| format!("checkpoint {index} names a page not kept"))
}

/// A light audit's re-run fuel share and page bytes, mean and worst over [`SEEDS`] seeds.
fn light_audit(
    params: &AuditParams,
    total_fuel: u64,
    fuels: &[u64],
    kept: &MemoryCheckpoints,
    value: &mut Map<String, Value>,
) -> Result<()> {
    let (mut shares, mut bytes) = (Vec::new(), Vec::new());
    for seed in 0..SEEDS {
        let drawn = light_segments(
            &plexus_types::hash(&[&[seed]]),
            &plexus_types::hash(&[&JOB_ID]),
            fuels.len() as u64,
            params.light_audit_segments,
        );
        let fuel: u64 = drawn.iter().map(|s| fuels[*s as usize]).sum();
        shares.push(fuel as f64 / total_fuel as f64);
        let mut pages = 0;
        for segment in &drawn {
            pages += pre_state_page_bytes(kept, *segment)?;
        }
        bytes.push(pages as f64);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    value.insert(
        "light_audit_segments".into(),
        json!(params.light_audit_segments + 1),
    );
    value.insert(
        "light_audit_fuel_share_mean".into(),
        json!(round(mean(&shares))),
    );
    value.insert(
        "light_audit_fuel_share_max".into(),
        json!(round(max(&shares))),
    );
    value.insert(
        "light_audit_page_mb_mean".into(),
        json!(round(mean(&bytes) / MB)),
    );
    value.insert(
        "light_audit_page_mb_max".into(),
        json!(round(max(&bytes) / MB)),
    );
    Ok(())
}

/// A dispute's rounds and move bytes at the default arity, and the settlement's upload (the
/// agreed pre-state's manifest and distinct pages), median and worst over every checkpoint.
fn dispute(
    params: &AuditParams,
    segments: u64,
    kept: &MemoryCheckpoints,
    value: &mut Map<String, Value>,
) {
    let leaves = segments + 1;
    let k = params.dissection_arity;
    let mut uploads: Vec<usize> = kept
        .checkpoints
        .iter()
        .filter(|c| c.index > 0)
        .map(|c| {
            let pages = kept.distinct_page_bytes(c).unwrap_or(0);
            let manifest = Manifest {
                index: c.index,
                fuel: c.fuel,
                globals: c.globals.clone(),
                pages: c.pages.clone(),
                // A locator per page, as the provider's upload names them.
                locators: c.pages.clone(),
            };
            pages + plexus_types::codec::Encode::encode(&manifest).len()
        })
        .collect();
    uploads.sort_unstable();
    value.insert("dispute_arity".into(), json!(k));
    value.insert("dispute_rounds".into(), json!(rounds_max(leaves, k)));
    value.insert(
        "dispute_move_bytes_max".into(),
        json!(dispute_bytes_max(leaves, k)),
    );
    let median = uploads.get(uploads.len() / 2).copied().unwrap_or(0);
    let worst = uploads.last().copied().unwrap_or(0);
    value.insert(
        "dispute_settlement_mb_median".into(),
        json!(round(median as f64 / MB)),
    );
    value.insert(
        "dispute_settlement_mb_max".into(),
        json!(round(worst as f64 / MB)),
    );
}

fn text(v: &Map<String, Value>) -> String {
    format!(
        "smollm2, one prompt: {} tokens, {} fuel in {} segments ({} s metered)\n\
         segments: init {} fuel, prefill {}, decode mean {}, last {}\n\
         light audit: {} segments re-run, {} of the fuel (worst {}), {} MB of pages fetched (worst {})\n\
         dispute at arity {}: {} rounds, at most {} B of moves; settlement uploads {} MB (worst {}) \
         besides the job's {} MB of content\n\
         the provider stores {} MB of checkpoint pages for the job",
        v["tokens"],
        v["fuel"],
        v["segments"],
        v["metered_seconds"],
        v["segment_fuel_init"],
        v["segment_fuel_prefill"],
        v["segment_fuel_decode_mean"],
        v["segment_fuel_last"],
        v["light_audit_segments"],
        v["light_audit_fuel_share_mean"],
        v["light_audit_fuel_share_max"],
        v["light_audit_page_mb_mean"],
        v["light_audit_page_mb_max"],
        v["dispute_arity"],
        v["dispute_rounds"],
        v["dispute_move_bytes_max"],
        v["dispute_settlement_mb_median"],
        v["dispute_settlement_mb_max"],
        v["job_content_mb"],
        v["provider_checkpoint_pages_mb"],
    )
}
