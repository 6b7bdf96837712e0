//! SmolLM2 as the job computes it (W8A8 with an int8 key/value cache, natively through the
//! executor's own kernels) against the float32 reference of `data/reference.json` (the pinned
//! GGUF file dequantized, run by `cargo xtask smollm2-reference`): teacher-forced top-1
//! agreement and perplexity on the reference's own greedy completions, and greedy decoding of
//! the same prompts.
//!
//! The weights are not in the repository: `cargo xtask models` fetches and converts them (CI
//! runs it before the tests, `.ci/install`). Without them these tests fail saying so.

use plexus_exec::{builtin, native::NativeHost};
use plexus_job_smollm2::{Decoder, Options};
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// The end-of-turn token (`<|im_end|>`), the reference's `eos_token_id`.
const END_OF_TURN: u32 = 2;

fn reference() -> &'static Value {
    static REFERENCE: OnceLock<Value> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/reference.json");
        let text = std::fs::read_to_string(path).expect("read the reference");
        serde_json::from_str(&text).expect("the reference is JSON")
    })
}

/// The module's blobs (the weights' head and layer blobs, the tokenizer), as `job run` loads
/// them.
fn blobs() -> Vec<Arc<[u8]>> {
    builtin::lookup("smollm2")
        .expect("smollm2 is built in")
        .load_blobs()
        .unwrap_or_else(|e| panic!("{e} (run `cargo xtask models` to fetch and convert them)"))
        .into_iter()
        .map(Arc::from)
        .collect()
}

/// A host serving the module's blobs and no input (the weights' head blob is blob 0).
fn host() -> NativeHost {
    NativeHost::new(&[0; 32], Arc::from(Vec::new()), blobs())
}

/// A metering engine on the tuned or the baseline codegen.
fn metered(baseline_isa: bool) -> plexus_exec::Engine {
    plexus_exec::Engine::new(plexus_exec::EngineOptions {
        metering: true,
        baseline_isa,
        ..plexus_exec::EngineOptions::default()
    })
    .expect("an engine")
}

fn ids(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .expect("an id list")
        .iter()
        .map(|v| u32::try_from(v.as_u64().expect("an id")).expect("a u32 id"))
        .collect()
}

/// A case's completion, with the end-of-turn token when the reference stopped on it.
fn completion(case: &Value) -> Vec<u32> {
    let mut tokens = ids(&case["completion_ids"]);
    if case["stop"] == "eos" {
        tokens.push(END_OF_TURN);
    }
    tokens
}

fn cases() -> &'static [Value] {
    reference()["completions"].as_array().expect("completions")
}

/// Top-1 agreement (0..1) and perplexity over every reference completion token, teacher-forced.
fn teacher_forced(host: &NativeHost, precise: bool) -> (f64, f64) {
    let sequences = cases()
        .iter()
        .map(|c| [ids(&c["prompt_ids"]), completion(c)].concat())
        .collect();
    let residual = precise.then_some(plexus_job_smollm2::RESIDUAL_BLOB);
    let scored = Decoder::teacher_forced(host, 0, sequences, precise, residual).expect("decoder");
    let (mut agree, mut total, mut nll) = (0usize, 0usize, 0.0);
    for (case, scored) in cases().iter().zip(&scored) {
        let prompt = ids(&case["prompt_ids"]).len();
        for (i, want) in completion(case).iter().enumerate() {
            let got = scored[prompt - 1 + i];
            total += 1;
            agree += usize::from(got.token == *want);
            nll -= got.logprob.expect("a target was given");
        }
    }
    assert_eq!(total, reference()["tokens"].as_u64().unwrap() as usize);
    (agree as f64 / total as f64, (nll / total as f64).exp())
}

/// The precise mode's targets: top-1 agreement at least 94%, perplexity within 1% of float32.
#[test]
fn teacher_forced_agreement_and_perplexity_meet_the_targets() {
    let host = host();
    let float = reference()["perplexity"].as_f64().unwrap();
    let (default_top1, default_ppl) = teacher_forced(&host, false);
    let (precise_top1, precise_ppl) = teacher_forced(&host, true);
    eprintln!(
        "float32 perplexity {float:.4}; default: top-1 {:.1}%, perplexity {default_ppl:.4} ({:+.2}%); \
         precise: top-1 {:.1}%, perplexity {precise_ppl:.4} ({:+.2}%)",
        100.0 * default_top1,
        100.0 * (default_ppl / float - 1.0),
        100.0 * precise_top1,
        100.0 * (precise_ppl / float - 1.0),
    );
    assert!(precise_top1 >= 0.94, "precise top-1 {precise_top1}");
    assert!(
        (precise_ppl / float - 1.0).abs() <= 0.01,
        "precise perplexity {precise_ppl} vs {float}"
    );
    // Measured: precise 100.0% and +0.02%. The default mode is one int8 pass: measured 90.1% and
    // +2.9%; a regression shows here.
    assert!(default_top1 >= 0.85, "default top-1 {default_top1}");
}

/// Greedy decoding of the reference prompts (32 new tokens at most): Paris for the capital of
/// France, and in the precise mode every completion identical to float32's. Measured: 16 of 16
/// (2 in the default mode). Before the precise mode multiplied the residual weights it was 7;
/// with them but an int8-only cache, 9, every divergence at a step where float32's own margin
/// between its two best tokens was under 0.09 (the smallest 0.009), which is how fine the
/// precise mode's rounding must be (`xtask/python/smollm2_greedy_sim.py` found the same).
#[test]
fn greedy_completions_follow_the_float_reference_and_answer_paris() {
    let host = host();
    let prompts: Vec<Vec<u32>> = cases().iter().map(|c| ids(&c["prompt_ids"])).collect();
    let max_new = reference()["max_new_tokens"].as_u64().unwrap() as usize;
    for precise in [false, true] {
        let options = Options {
            batch: 8,
            context: 512,
            max_new,
            stop: END_OF_TURN,
            precise,
            residual: precise.then_some(plexus_job_smollm2::RESIDUAL_BLOB),
        };
        let mut decoder = Decoder::new(&host, 0, prompts.clone(), options).expect("decoder");
        while decoder.step(&host).expect("a step") {}
        let same: Vec<bool> = cases()
            .iter()
            .zip(decoder.completions())
            .map(|(case, got)| *got == ids(&case["completion_ids"]))
            .collect();
        let count = same.iter().filter(|s| **s).count();
        // How far each completion follows the reference, and the reference's top-1 margin
        // (its best logit minus the runner-up) where it stops following: W8A8 flips small ones.
        let follows: Vec<String> = cases()
            .iter()
            .zip(decoder.completions())
            .map(|(case, got)| {
                let want = ids(&case["completion_ids"]);
                let prefix = want.iter().zip(got).take_while(|(a, b)| a == b).count();
                match case["top1_margins"].get(prefix).and_then(Value::as_f64) {
                    Some(margin) if prefix < want.len() => {
                        format!("{prefix}/{} (margin {margin:.3})", want.len())
                    }
                    _ => format!("{prefix}/{}", want.len()),
                }
            })
            .collect();
        eprintln!("precise {precise}: tokens followed {}", follows.join(", "));
        eprintln!(
            "precise {precise}: {count} of {} greedy completions identical",
            same.len()
        );
        let paris = cases()
            .iter()
            .position(|c| c["prompt"] == "What is the capital of France?")
            .expect("the Paris prompt");
        if precise {
            assert!(same[paris], "{:?}", decoder.completions()[paris]);
            assert_eq!(count, same.len(), "{count} of {} identical", same.len());
        }
    }
}

/// The chat template and the tokenizer inside the job give exactly the reference's prompt ids
/// (the reference applies the GGUF file's template and tokenizes with the `tokenizers` package).
#[test]
fn the_job_templates_and_tokenizes_prompts_as_the_reference_does() {
    use plexus_guest::bpe::{ChatTemplate, Vocab};
    let blob = builtin::SMOLLM2_FILES[3]
        .read()
        .unwrap_or_else(|e| panic!("{e} (run `cargo xtask models`)"));
    let vocab = Vocab::parse(&blob).expect("the tokenizer blob");
    let template = ChatTemplate::new(&vocab).expect("the chat tokens");
    assert_eq!(template.end_of_turn(), END_OF_TURN);
    for case in cases() {
        let mut ids_got = Vec::new();
        template.encode(&vocab, case["prompt"].as_str().unwrap(), &mut ids_got);
        assert_eq!(ids_got, ids(&case["prompt_ids"]), "{}", case["prompt"]);
    }
}

/// The whole job natively (input encoding, template, tokenizer, decoding, detokenization):
/// the capital of France, in the precise mode, and the completions in prompt order.
#[test]
fn the_job_answers_in_prompt_order_with_its_token_counts() {
    use plexus_job_smollm2::{Mode, SmolLm2Job, Stop, decode_output, encode_input};
    let prompts = ["What is the capital of France?", "Say hello."];
    let input = encode_input(&prompts, 16, Mode::Precise).unwrap();
    let host = NativeHost::new(&[0; 32], Arc::from(input), blobs());
    let (output, steps) = plexus_guest::run_native::<SmolLm2Job, _>(&host);
    let completions = decode_output(&output).unwrap();
    assert_eq!(completions.len(), 2);
    let paris = &completions[0];
    assert_eq!(
        String::from_utf8(paris.text.clone()).unwrap(),
        "The capital of France is Paris."
    );
    assert_eq!((paris.prompt_tokens, paris.completion_tokens), (37, 7));
    assert_eq!(paris.stop, Stop::EndOfTurn);
    let hello = &completions[1];
    assert!(hello.completion_tokens >= 1 && hello.completion_tokens <= 16);
    assert_eq!(hello.stop == Stop::Length, hello.completion_tokens == 16);
    eprintln!(
        "{steps} steps; second: {:?}",
        String::from_utf8_lossy(&hello.text)
    );
}

/// The committed module metered in wasmtime, on the tuned and the baseline codegen, and the same
/// job natively: the same output bytes, and the same fuel and trace root on both codegens.
#[test]
fn native_tuned_and_baseline_runs_agree_bit_for_bit() {
    use plexus_exec::{DiscardCheckpoints, Job, Outcome};
    use plexus_job_smollm2::{Mode, SmolLm2Job, decode_output, encode_input};
    let found = builtin::lookup("smollm2").expect("smollm2 is built in");
    let blobs = blobs();
    let admitted = plexus_exec::admit(found.wasm).expect("the module is admitted");
    // Three prompts in two slots' worth of steps: prefill and decode, slots reused.
    let prompts = [
        "What is the capital of France?",
        "Name a colour.",
        "Count to three.",
    ];
    for mode in [Mode::Default, Mode::Precise] {
        let input = encode_input(&prompts, 8, mode).expect("encodes");
        let mut runs = Vec::new();
        for baseline_isa in [false, true] {
            let engine = metered(baseline_isa);
            let job = Job {
                id: [3; 32],
                module: engine.compile(&admitted).expect("it compiles"),
                input: Arc::from(&input[..]),
                blobs: blobs.clone(),
                max_fuel: plexus_types::limits::JOB_FUEL_MAX,
                seg_fuel: plexus_exec::SEG_FUEL_DEFAULT,
            };
            let started = std::time::Instant::now();
            let run = plexus_exec::run(&engine, &job, &mut DiscardCheckpoints).expect("it runs");
            eprintln!(
                "{mode:?} baseline {baseline_isa}: {} fuel, {} segments, {:?}",
                run.total_fuel,
                run.segments,
                started.elapsed()
            );
            runs.push(run);
        }
        let (tuned, baseline) = (&runs[0], &runs[1]);
        assert_eq!(tuned.output_hash, baseline.output_hash, "{mode:?}: output");
        assert_eq!(tuned.total_fuel, baseline.total_fuel, "{mode:?}: fuel");
        assert_eq!(
            tuned.trace_root, baseline.trace_root,
            "{mode:?}: trace root"
        );
        assert!(tuned.segments > 1, "{mode:?}: several segments to compare");
        let Outcome::Completed { output } = &tuned.outcome else {
            panic!("{mode:?}: the job trapped: {:?}", tuned.outcome);
        };
        let native = NativeHost::new(&[3; 32], Arc::from(&input[..]), blobs.clone());
        let (bytes, _) = plexus_guest::run_native::<SmolLm2Job, _>(&native);
        assert_eq!(&bytes, output, "{mode:?}: native output");
        let completions = decode_output(&bytes).expect("decodes");
        assert_eq!(completions.len(), prompts.len());
        check_fuel_bound(&input, &completions, tuned.total_fuel);
    }
}

/// The fuel bound `plexus job run` buys holds for a real run, and overshoots by at most
/// `SLACK_MAX` when every completion ran to `max_new`.
fn check_fuel_bound(input: &[u8], completions: &[plexus_job_smollm2::Completion], fuel: u64) {
    use plexus_job_smollm2::{Stop, fuel};
    let parsed = plexus_job_smollm2::input::parse_input(input).expect("parses");
    let tokens: Vec<usize> = completions
        .iter()
        .map(|c| c.prompt_tokens as usize)
        .collect();
    let bytes = parsed.prompts.iter().map(|r| r.len()).sum();
    let bound = fuel::fuel_bound(&tokens, bytes, parsed.max_new, parsed.mode);
    eprintln!(
        "fuel {fuel}, bound {bound} ({:.2}x)",
        bound as f64 / fuel as f64
    );
    assert!(bound >= fuel, "bound {bound} below the run's {fuel}");
    if completions.iter().all(|c| c.stop == Stop::Length) {
        assert!(
            bound as f64 <= fuel::SLACK_MAX * fuel as f64,
            "bound {bound} over {} x the run's {fuel}",
            fuel::SLACK_MAX
        );
    }
}

/// The fuel bound against longer runs: a long prompt, and more prompts than slots.
#[test]
fn the_fuel_bound_holds_for_long_prompts_and_more_prompts_than_slots() {
    use plexus_exec::{DiscardCheckpoints, Job, Outcome};
    use plexus_job_smollm2::{Mode, decode_output, encode_input};
    let found = builtin::lookup("smollm2").expect("smollm2 is built in");
    let blobs = blobs();
    let engine = metered(false);
    let module = engine
        .compile(&plexus_exec::admit(found.wasm).expect("admitted"))
        .expect("it compiles");
    let long = "Tell me about the dragon who paints the sky at dawn. ".repeat(12);
    let many: Vec<String> = (0..11).map(|i| format!("Write {i} words.")).collect();
    for (prompts, max_new, mode) in [(vec![long], 4, Mode::Default), (many, 6, Mode::Precise)] {
        let input = encode_input(&prompts, max_new, mode).expect("encodes");
        let job = Job {
            id: [5; 32],
            module: module.clone(),
            input: Arc::from(&input[..]),
            blobs: blobs.clone(),
            max_fuel: plexus_types::limits::JOB_FUEL_MAX,
            seg_fuel: 1 << 30,
        };
        let run = plexus_exec::run(&engine, &job, &mut DiscardCheckpoints).expect("it runs");
        let Outcome::Completed { output } = &run.outcome else {
            panic!("the job trapped: {:?}", run.outcome);
        };
        let completions = decode_output(output).expect("decodes");
        check_fuel_bound(&input, &completions, run.total_fuel);
    }
}
