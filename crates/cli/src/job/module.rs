//! What `job run` runs: a built-in module (its blobs, how its input file is read and its output
//! shown, how much fuel and time its input needs) or a `.wasm` file with raw input.

use anyhow::{Context, Result, bail};
use plexus_client::dto::JobDto;
use plexus_exec::builtin::{self, Builtin};
use plexus_job_minilm::{self as minilm, Mode};
use plexus_job_smollm2 as smollm2;
use plexus_types::ContentHash;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// How a built-in module's input file is read and its output shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// CSV rows of 64 pixels 0..16 in; labels and logits out.
    Digits,
    /// A number N of random 64x64 images in; labels and logits out.
    Cnn,
    /// One text per line in; one 384-d embedding per text out.
    MiniLm,
    /// One prompt per line in; one completion per prompt out.
    SmolLm2,
}

impl Kind {
    fn of(builtin: &Builtin) -> Option<Kind> {
        match builtin.name {
            "digits" => Some(Kind::Digits),
            "cnn" => Some(Kind::Cnn),
            "minilm" => Some(Kind::MiniLm),
            "smollm2" => Some(Kind::SmolLm2),
            _ => None,
        }
    }
}

/// A module to run: its bytes, the blobs it needs, and how to read its input and output.
pub(super) struct Module {
    pub wasm: Vec<u8>,
    pub blobs: Vec<Vec<u8>>,
    pub kind: Option<Kind>,
}

/// The module `--module` names: a built-in name, or a `.wasm` path (a built-in module's bytes
/// are that module, with its blobs). With `precise`, the blobs of the modules' precise mode: a
/// smollm2 job names its residual weights only then (`plexus_job_smollm2::blobs_for`).
pub(super) fn resolve_module(name: &str, precise: bool) -> Result<Module> {
    if let Some(found) = builtin::lookup(name) {
        let kind = Kind::of(found);
        let count = match kind {
            Some(Kind::SmolLm2) => smollm2::blobs_for(if precise {
                smollm2::Mode::Precise
            } else {
                smollm2::Mode::Default
            }),
            _ => usize::MAX,
        };
        return Ok(Module {
            wasm: found.wasm.to_vec(),
            blobs: found
                .load_first_blobs(count)
                .with_context(|| format!("the {name} module's blobs"))?,
            kind,
        });
    }
    let path = PathBuf::from(name);
    if !path.exists() {
        bail!(
            "--module {name:?} is neither a built-in module ({}) nor a file",
            builtin::names().join(", ")
        );
    }
    let wasm = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Some(found) = builtin::by_hash(&ContentHash::of(&wasm)) {
        return resolve_module(found.name, precise);
    }
    Ok(Module {
        wasm,
        blobs: Vec::new(),
        kind: None,
    })
}

/// The most new tokens per prompt `job run` asks smollm2 for without `--max-new-tokens`.
pub(super) const MAX_NEW_TOKENS_DEFAULT: usize = 64;

/// The job's input bytes from the `--input` file, encoded as the module reads them.
pub(super) fn read_input(
    module: &Module,
    path: &Path,
    precise: bool,
    max_new: Option<usize>,
) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if precise && !matches!(module.kind, Some(Kind::MiniLm | Kind::SmolLm2)) {
        bail!("--precise is for the minilm and smollm2 modules");
    }
    if max_new.is_some() && module.kind != Some(Kind::SmolLm2) {
        bail!("--max-new-tokens is for the smollm2 module");
    }
    let text = || {
        String::from_utf8(raw.clone())
            .with_context(|| format!("--input {} is not UTF-8 text", path.display()))
    };
    let input_error =
        |e: &dyn std::fmt::Display| anyhow::anyhow!("--input {}: {e}", path.display());
    match module.kind {
        Some(Kind::Digits) => {
            let rows = plexus_job_digits::parse_csv_rows(&text()?).map_err(|e| input_error(&e))?;
            plexus_job_digits::encode_input(&rows).map_err(|e| input_error(&e))
        }
        Some(Kind::Cnn) => {
            let images: usize = text()?.trim().parse().with_context(|| {
                format!(
                    "--input {}: the cnn module takes a number of images",
                    path.display()
                )
            })?;
            plexus_job_cnn::random_input(images as u64, images).map_err(|e| input_error(&e))
        }
        Some(Kind::MiniLm) => {
            let text = text()?;
            let lines: Vec<&str> = text.lines().collect();
            let mode = if precise {
                Mode::Precise
            } else {
                Mode::Default
            };
            minilm::encode_input(&lines, mode).map_err(|e| input_error(&e))
        }
        Some(Kind::SmolLm2) => {
            let text = text()?;
            let lines: Vec<&str> = text.lines().collect();
            let mode = if precise {
                smollm2::Mode::Precise
            } else {
                smollm2::Mode::Default
            };
            let max_new = max_new.unwrap_or(MAX_NEW_TOKENS_DEFAULT);
            smollm2::encode_input(&lines, max_new, mode).map_err(|e| input_error(&e))
        }
        None => Ok(raw),
    }
}

/// A settled job's output as JSON: decoded for a built-in module, else text or hex.
pub(super) fn decode_output(job: &JobDto, bytes: &[u8]) -> Value {
    let kind = builtin::by_hash(&job.module.0).and_then(Kind::of);
    let undecodable = |err: &dyn std::fmt::Display| json!({"undecodable": err.to_string(), "hex": plexus_client::hex_encode(bytes)});
    match kind {
        _ if job.failed.unwrap_or(false) => {}
        Some(Kind::Digits | Kind::Cnn) => {
            return match plexus_guest::classify::decode_output(bytes) {
                Ok(output) => json!({"labels": output.labels, "logits": output.logits}),
                Err(err) => undecodable(&err),
            };
        }
        Some(Kind::MiniLm) => {
            return match minilm::decode_output(bytes) {
                Ok(embeddings) => json!({"dim": minilm::DIM, "embeddings": embeddings}),
                Err(err) => undecodable(&err),
            };
        }
        Some(Kind::SmolLm2) => {
            return match smollm2::decode_output(bytes) {
                Ok(completions) => json!({"completions": completions.iter().map(|c| json!({
                    "text": smollm2::input::text_lossy(c),
                    "prompt_tokens": c.prompt_tokens,
                    "completion_tokens": c.completion_tokens,
                    "stop": match c.stop {
                        smollm2::Stop::EndOfTurn => "end_of_turn",
                        smollm2::Stop::Length => "length",
                    },
                })).collect::<Vec<_>>()}),
                Err(err) => undecodable(&err),
            };
        }
        None => {}
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => json!({"text": text}),
        Err(_) => json!({"hex": plexus_client::hex_encode(bytes)}),
    }
}

/// The output in a line for a person: embeddings are summarized (all of them are in `--json`
/// and `--out`), completions shown one per line, the rest shown whole.
pub(super) fn output_text(output: &Value) -> String {
    if let Some(completions) = output.get("completions").and_then(Value::as_array) {
        let lines: Vec<String> = completions
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "[{}] {} ({} tokens, {})",
                    i + 1,
                    c["text"].as_str().unwrap_or_default(),
                    c["completion_tokens"],
                    c["stop"].as_str().unwrap_or_default()
                )
            })
            .collect();
        return lines.join("\n");
    }
    match output.get("embeddings").and_then(Value::as_array) {
        Some(rows) => {
            let head: Vec<String> = rows
                .first()
                .and_then(Value::as_array)
                .map(|row| {
                    row.iter()
                        .take(4)
                        .filter_map(Value::as_f64)
                        .map(|v| format!("{v:.4}"))
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{} embeddings of {} floats (the first begins [{}, ...]); --json prints them all",
                rows.len(),
                minilm::DIM,
                head.join(", ")
            )
        }
        None => output.to_string(),
    }
}

/// The fuel a built-in module's job needs for `input`, where the module can bound it (minilm:
/// from its texts' token counts); `None` for the others.
pub(super) fn fuel_for(module: &Module, input: &[u8]) -> Result<Option<u64>> {
    if module.kind == Some(Kind::SmolLm2) {
        return smollm2_fuel(module, input).map(Some);
    }
    if module.kind != Some(Kind::MiniLm) {
        return Ok(None);
    }
    let (mode, texts) = minilm::input::parse_input(input).map_err(|e| anyhow::anyhow!("{e}"))?;
    let vocab = module
        .blobs
        .get(minilm::VOCAB_BLOB)
        .context("the minilm module has no vocabulary blob")?;
    let vocab = plexus_guest::wordpiece::Vocab::parse(vocab)
        .map_err(|e| anyhow::anyhow!("the minilm vocabulary: {e}"))?;
    let mut ids = Vec::new();
    let tokens: Vec<usize> = texts
        .iter()
        .map(|range| {
            let text = std::str::from_utf8(&input[range.clone()]).unwrap_or_default();
            vocab.encode(text, minilm::TOKENS_MAX, &mut ids);
            ids.len()
        })
        .collect();
    let bytes = texts.iter().map(ExactSizeIterator::len).sum();
    Ok(Some(minilm::fuel_bound(&tokens, bytes, mode)))
}

/// The smollm2 job's fuel bound for `input`: its prompts tokenized with the chat template as the
/// job does it (the same SDK code, natively). A prompt too long for the job's context is refused
/// here, before anything is posted.
fn smollm2_fuel(module: &Module, input: &[u8]) -> Result<u64> {
    use plexus_guest::bpe::{ChatTemplate, Vocab};
    let parsed = smollm2::input::parse_input(input).map_err(|e| anyhow::anyhow!("{e}"))?;
    let blob = module
        .blobs
        .get(smollm2::TOKENIZER_BLOB)
        .context("the smollm2 module has no tokenizer blob")?;
    let vocab = Vocab::parse(blob).map_err(|e| anyhow::anyhow!("the smollm2 tokenizer: {e}"))?;
    let template =
        ChatTemplate::new(&vocab).map_err(|e| anyhow::anyhow!("the smollm2 tokenizer: {e}"))?;
    let mut tokens = Vec::with_capacity(parsed.prompts.len());
    for (index, range) in parsed.prompts.iter().enumerate() {
        let text = std::str::from_utf8(&input[range.clone()]).unwrap_or_default();
        let mut ids = Vec::new();
        template.encode(&vocab, text, &mut ids);
        let context_max = smollm2::context_max(parsed.mode);
        if ids.len() + parsed.max_new > context_max {
            bail!(
                "prompt {} is {} tokens with the chat template: with --max-new-tokens {} it exceeds the model's context of {context_max} in this job{}",
                index + 1,
                ids.len(),
                parsed.max_new,
                if parsed.mode == smollm2::Mode::Precise {
                    " (the precise mode's cache holds half the positions)"
                } else {
                    ""
                }
            );
        }
        tokens.push(ids.len());
    }
    let bytes = parsed.prompts.iter().map(ExactSizeIterator::len).sum();
    Ok(smollm2::fuel_bound(
        &tokens,
        bytes,
        parsed.max_new,
        parsed.mode,
    ))
}
