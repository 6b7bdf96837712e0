//! The committed modules under the real executor (`plexus-exec`, metered, with checkpoints)
//! give exactly the output of the jobs' own Rust code run natively with the executor's host
//! functions (same `random_fill` stream, exact `gemm_i8`): the ABI, the SDK's exports and the
//! guest allocator work, and wasm32 computes the same bits as the native build.

use std::sync::Arc;

use plexus_exec::{DiscardCheckpoints, Engine, EngineOptions, Job, Outcome, admit, run};
use plexus_guest::{VecHost, run_native};

fn build_file(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../jobs/build")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs a committed module; returns the output, the fuel and the segment count.
fn run_module(name: &str, id: [u8; 32], input: &[u8], blobs: &[Vec<u8>]) -> (Vec<u8>, u64, u64) {
    let engine = Engine::new(EngineOptions::default()).unwrap();
    let module = engine.compile(&admit(&build_file(name)).unwrap()).unwrap();
    let job = Job {
        id,
        module,
        input: Arc::from(input),
        blobs: blobs.iter().map(|b| Arc::from(b.as_slice())).collect(),
        max_fuel: 1 << 36,
        seg_fuel: plexus_exec::SEG_FUEL_DEFAULT,
    };
    let execution = run(&engine, &job, &mut DiscardCheckpoints).unwrap();
    match execution.outcome {
        Outcome::Completed { output } => (output, execution.total_fuel, execution.segments),
        Outcome::Trapped(code) => panic!("{name} trapped: {code:?}"),
    }
}

fn native_host(id: [u8; 32], input: Vec<u8>, blobs: Vec<Vec<u8>>) -> VecHost {
    let seed = plexus_exec::job_seed(&id);
    VecHost::new(input, blobs)
        .with_random(move |counter, dst| plexus_exec::random_bytes(&seed, counter, dst))
}

#[test]
fn digits_module_matches_native_code() {
    let text = String::from_utf8(build_file("digits-heldout.csv")).unwrap();
    let rows = plexus_job_digits::input::parse_labeled_csv_rows(&text).unwrap();
    let images: Vec<_> = rows.iter().map(|(p, _)| *p).collect();
    let input = plexus_job_digits::encode_input(&images).unwrap();
    let blobs = vec![build_file("digits.weights")];
    let (wasm, fuel, segments) = run_module("digits.wasm", [1; 32], &input, &blobs);
    let (native, steps) =
        run_native::<plexus_job_digits::DigitsJob, _>(&native_host([1; 32], input, blobs));
    eprintln!(
        "digits: {} images, {steps} steps, {fuel} fuel, {segments} segments",
        images.len()
    );
    assert_eq!(wasm, native);
}

#[test]
fn cnn_module_matches_native_code() {
    let input = plexus_job_cnn::random_input(7, 3).unwrap();
    let (wasm, fuel, segments) = run_module("cnn.wasm", [2; 32], &input, &[]);
    let (native, steps) =
        run_native::<plexus_job_cnn::CnnJob, _>(&native_host([2; 32], input, vec![]));
    eprintln!("cnn: 3 images, {steps} steps, {fuel} fuel, {segments} segments");
    assert_eq!(wasm, native);
}
