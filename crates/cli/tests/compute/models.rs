//! A real model as a network job: all-MiniLM-L6-v2 embeddings posted with `job run`, matched,
//! run by one provider, fully audited by the other (two providers computing the same bits),
//! re-run by the consumer with `job verify`, and equal to the job's own code run here.
//!
//! Needs the converted weights (`cargo xtask models`; CI runs it in `.ci/install`).

use super::*;
use plexus_client::dto::{AuditKind, AuditStage, JobStatus};
use plexus_job_minilm::{DIM, MiniLmJob, Mode, decode_output, encode_input};
use std::sync::Arc;

const TEXTS: [&str; 6] = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The new movie is awesome",
    "Héllo Wörld, 中文!",
    "",
    "Plexus proves both the answer and the bill of every job it runs.",
];

/// The output the built-in `module`'s own code (`J`) computes here, natively, for `input`.
fn native_output<J: plexus_guest::Job>(module: &str, input: &[u8]) -> Vec<u8> {
    let found = plexus_exec::builtin::lookup(module).unwrap();
    let blobs: Vec<Arc<[u8]>> = found
        .load_blobs()
        .unwrap_or_else(|err| panic!("{err}"))
        .into_iter()
        .map(Arc::from)
        .collect();
    let host = plexus_exec::native::NativeHost::new(&[0; 32], Arc::from(input), blobs);
    plexus_guest::run_native::<J, _>(&host).0
}

/// The embeddings the job's own code computes here, natively, for `texts` in `mode`.
fn native_embeddings(texts: &[&str], mode: Mode) -> Vec<Vec<f32>> {
    let input = encode_input(texts, mode).unwrap();
    decode_output(&native_output::<MiniLmJob>("minilm", &input)).unwrap()
}

/// Job `id` settled after a full audit, which passed, by a provider other than the one that ran
/// it, and `job verify` re-runs it here to the provider's commitment.
fn assert_verified_on_two_providers(net: &Net, id: &str) {
    let done = job(&net.client, id);
    assert_eq!(done.status, JobStatus::Settled);
    let audit = done.audit_record.clone().expect("fully audited");
    assert_eq!(
        (audit.kind, audit.stage),
        (AuditKind::Full, AuditStage::Passed)
    );
    assert_ne!(
        Some(audit.verifier.clone()),
        done.provider,
        "a second provider re-ran it"
    );
    let verify = net.plexus(&["job", "verify", id, "--json"]);
    assert!(verify.status.success(), "job verify: {}", stderr(&verify));
}

/// `plexus job run --from dev0 --module minilm --input INPUT` with `extra` arguments.
fn run_minilm(net: &Net, input: &Path, extra: &[&str]) -> Output {
    let head = [
        "job", "run", "--from", "dev0", "--module", "minilm", "--input",
    ];
    net.plexus(&[&head[..], &[input.to_str().unwrap()], extra].concat())
}

fn embeddings(run: &Value) -> Vec<Vec<f32>> {
    run["output"]["embeddings"]
        .as_array()
        .expect("output.embeddings")
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

#[test]
fn minilm_embeddings_are_a_verified_job_with_fuel_and_deadline_picked_from_the_input() {
    let dir = tempdir("minilm");
    // Every job fully audited: the other provider re-runs it whole and must agree bit for bit.
    let net = devnet_with(
        &dir,
        2,
        0,
        &["--full-audit-ppm", "1000000", "--light-audit-ppm", "0"],
    );
    let client = &net.client;
    let texts = dir.join("texts.txt");
    std::fs::write(&texts, TEXTS.join("\n") + "\n").unwrap();

    // Nothing that cannot run is posted: an empty file is refused before any money moves.
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let before = net.balance("dev0");
    let out = run_minilm(&net, &empty, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("0 texts"), "{}", stderr(&out));
    assert_eq!(net.balance("dev0"), before, "a refused input costs nothing");

    // No --max-fuel and no --deadline-blocks: job run picks both from the input.
    let run = json(&run_minilm(&net, &texts, &["--json"]));
    let id = run["job_id"].as_str().unwrap();
    let fuel = run["fuel"].as_u64().unwrap();
    let max_fuel = run["max_fuel"].as_u64().unwrap();
    assert!(
        fuel <= max_fuel && max_fuel <= 2 * fuel,
        "fuel {fuel} of max {max_fuel}"
    );
    let got = embeddings(&run);
    assert_eq!(run["output"]["dim"].as_u64(), Some(DIM as u64));
    assert_eq!(
        got.len(),
        TEXTS.len(),
        "one embedding per line, the empty line included"
    );
    assert_eq!(
        got,
        native_embeddings(&TEXTS, Mode::Default),
        "the network's bits are ours"
    );
    // Two sentences about eating are closer to each other than to one about a movie.
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let (eating, movie) = (cosine(&got[0], &got[1]), cosine(&got[0], &got[2]));
    assert!(
        eating > movie + 0.3,
        "eating/eating {eating}, eating/movie {movie}"
    );

    assert_verified_on_two_providers(&net, id);

    // Precise mode is a flag away and gives the precise bits.
    let precise = json(&run_minilm(&net, &texts, &["--precise", "--json"]));
    assert_eq!(
        embeddings(&precise),
        native_embeddings(&TEXTS, Mode::Precise)
    );
    for provider in client.providers().unwrap() {
        assert_eq!(
            (provider.slashed.as_str(), provider.disputes_lost),
            ("0", 0)
        );
    }
}

/// SmolLM2 as a network job: prompts in, completions out, fully audited by the second provider
/// (the same bits on two providers), `job verify` re-running it here, the completions those of
/// the job's own code run natively, and Paris for the capital of France.
#[test]
fn smollm2_completions_are_a_verified_job_on_two_providers() {
    use plexus_job_smollm2::{SmolLm2Job, decode_output as decode, encode_input as encode};
    let dir = tempdir("smollm2");
    let net = devnet_with(
        &dir,
        2,
        0,
        &["--full-audit-ppm", "1000000", "--light-audit-ppm", "0"],
    );
    let prompts = [
        "What is the capital of France?",
        "Say hello.",
        "Héllo, 中文?",
    ];
    let input = dir.join("prompts.txt");
    std::fs::write(&input, prompts.join("\n") + "\n").unwrap();

    // A --max-new-tokens out of range is refused before any money moves.
    let before = net.balance("dev0");
    let head = [
        "job", "run", "--from", "dev0", "--module", "smollm2", "--input",
    ];
    let path = input.to_str().unwrap();
    let out = net.plexus(&[&head[..], &[path, "--max-new-tokens", "0"]].concat());
    assert!(!out.status.success());
    assert!(stderr(&out).contains("0 new tokens"), "{}", stderr(&out));
    // A prompt whose context fits the default mode's cache but not the precise mode's (which
    // keeps every key and value's residual: half the positions) is refused in the precise mode.
    let long = dir.join("long.txt");
    std::fs::write(&long, "Tell me more about this. ".repeat(60) + "\n").unwrap();
    let long_args = [long.to_str().unwrap(), "--max-new-tokens", "1024"];
    let out = net.plexus(&[&head[..], &long_args, &["--precise"]].concat());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("exceeds the model's context of 1280"), "{err}");
    assert!(err.contains("precise mode's cache holds half"), "{err}");
    assert_eq!(net.balance("dev0"), before, "a refused input costs nothing");

    let run = json(
        &net.plexus(
            &[
                &head[..],
                &[path, "--max-new-tokens", "12", "--precise", "--json"],
            ]
            .concat(),
        ),
    );
    let id = run["job_id"].as_str().unwrap();
    let (fuel, max_fuel) = (
        run["fuel"].as_u64().unwrap(),
        run["max_fuel"].as_u64().unwrap(),
    );
    assert!(
        fuel <= max_fuel && max_fuel <= 2 * fuel,
        "fuel {fuel} of max {max_fuel}"
    );
    let completions = run["output"]["completions"]
        .as_array()
        .expect("completions");
    assert_eq!(completions.len(), prompts.len(), "{run}");
    assert_eq!(completions[0]["text"], "The capital of France is Paris.");
    assert_eq!(completions[0]["stop"], "end_of_turn");

    // The network's bits are the job's own code's, run here.
    let bytes = encode(&prompts, 12, plexus_job_smollm2::Mode::Precise).unwrap();
    let native = decode(&native_output::<SmolLm2Job>("smollm2", &bytes)).unwrap();
    for (got, want) in completions.iter().zip(&native) {
        assert_eq!(got["text"], plexus_job_smollm2::input::text_lossy(want));
        assert_eq!(got["completion_tokens"], want.completion_tokens);
        assert_eq!(got["prompt_tokens"], want.prompt_tokens);
    }

    assert_verified_on_two_providers(&net, id);
    // A precise job names the residual weights; a default one only the int8 weights and the
    // tokenizer, so its provider and auditor fetch half the bytes.
    let precise_blobs = plexus_job_smollm2::blobs_for(plexus_job_smollm2::Mode::Precise);
    assert_eq!(job(&net.client, id).blobs.len(), precise_blobs);
    let short = dir.join("short.txt");
    std::fs::write(&short, "Say hello.\n").unwrap();
    let args = [short.to_str().unwrap(), "--max-new-tokens", "2", "--json"];
    let run = json(&net.plexus(&[&head[..], &args].concat()));
    let default_id = run["job_id"].as_str().unwrap();
    assert_eq!(run["output"]["completions"].as_array().unwrap().len(), 1);
    let default_blobs = plexus_job_smollm2::blobs_for(plexus_job_smollm2::Mode::Default);
    assert_eq!(job(&net.client, default_id).blobs.len(), default_blobs);
    assert!(default_blobs < precise_blobs);
}

/// `plexus bench smollm2-verify`: the verification cost of a generation, from one metered run,
/// consistent with the protocol's own figures (a light audit re-runs the last segment and
/// `light_audit_segments` drawn ones; a dispute's rounds are `rounds_max` of the leaves).
#[test]
fn the_verification_cost_of_a_generation_is_measured_from_its_run() {
    let out = std::process::Command::new(PLEXUS)
        .args([
            "bench",
            "smollm2-verify",
            "--max-new-tokens",
            "12",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    let segments = v["segments"].as_u64().unwrap();
    // A segment ends at the first step call that reaches seg_fuel: every one but the last holds
    // at least seg_fuel, and init, the prefill and the decode steps make several.
    assert_eq!(v["tokens"], 12);
    let fuel = v["fuel"].as_u64().unwrap();
    assert!(
        segments >= 3 && segments <= fuel / plexus_exec::SEG_FUEL_DEFAULT + 1,
        "{v}"
    );
    let params = plexus_fueltrace::params::AuditParams::default();
    assert_eq!(
        v["light_audit_segments"],
        u64::from(params.light_audit_segments) + 1
    );
    assert_eq!(
        v["dispute_rounds"],
        plexus_fueltrace::dissection::rounds_max(segments + 1, params.dissection_arity)
    );
    let share = v["light_audit_fuel_share_mean"].as_f64().unwrap();
    assert!(share > 0.0 && share < 1.0, "{v}");
    let settlement = v["dispute_settlement_mb_median"].as_f64().unwrap();
    let stored = v["provider_checkpoint_pages_mb"].as_f64().unwrap();
    // A pre-state is some of the job's memory, all of which the provider stores.
    assert!(settlement > 1.0 && settlement < stored, "{v}");
    assert!(
        (100.0..200.0).contains(&v["job_content_mb"].as_f64().unwrap()),
        "the int8 weights are content, the precise mode's residual weights are not: {v}"
    );
}
