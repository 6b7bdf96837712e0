//! Measurements, not checks (ignored; run them with `cargo nextest run --workspace -E
//! 'package(plexus-job-smollm2) and binary(measure)' --run-ignored only --no-capture`, after
//! `cargo xtask jobs` and `cargo xtask models`); each still checks that the metered output is
//! the native one:
//!
//! - `fuel_fit`: the metered fuel of ten shapes per mode with the counts `src/fuel.rs` charges,
//!   one line each, `FIT mode prompts prompt_bytes steps rows pairs picked fuel`, to refit its
//!   constants by least squares (`rows`: tokens fed; `pairs`: their attended positions);
//! - `checkpoint_costs`: one job of `COUNT` (default 8) prompts of `data/prompts.txt`, 64 new
//!   tokens at most, natively and metered with and without keeping its checkpoints (best of
//!   five; test profile, so only the ratios mean much), and what its checkpoints cost.

use plexus_exec::{
    Compiled, DiscardCheckpoints, Engine, Job, MemoryCheckpoints, Outcome, builtin,
    native::NativeHost,
};
use plexus_job_smollm2::{Mode, SmolLm2Job, Stop, decode_output, encode_input};
use std::{sync::Arc, time::Instant};

/// A metering engine, the built-in module compiled for it, and its blobs.
fn setup() -> (Engine, Compiled, Vec<Arc<[u8]>>) {
    let found = builtin::lookup("smollm2").expect("built in");
    let blobs = found.load_blobs().expect("run `cargo xtask models`");
    let engine = Engine::new(plexus_exec::EngineOptions {
        metering: true,
        ..plexus_exec::EngineOptions::default()
    })
    .expect("an engine");
    let module = engine
        .compile(&plexus_exec::admit(found.wasm).expect("admitted"))
        .expect("compiles");
    (engine, module, blobs.into_iter().map(Arc::from).collect())
}

fn prompts() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/prompts.txt");
    let text = std::fs::read_to_string(path).expect("the prompts");
    text.lines().map(String::from).collect()
}

fn job(module: &Compiled, input: &[u8], blobs: &[Arc<[u8]>], seg_fuel: u64) -> Job {
    Job {
        id: [5; 32],
        module: module.clone(),
        input: Arc::from(input),
        blobs: blobs.to_vec(),
        max_fuel: plexus_types::limits::JOB_FUEL_MAX,
        seg_fuel,
    }
}

#[test]
#[ignore]
fn fuel_fit() {
    let (engine, module, blobs) = setup();
    let all = prompts();
    let long = "Tell me about the dragon who paints the sky at dawn. ".repeat(12);
    let shapes: Vec<(Vec<String>, usize)> = vec![
        (all[..1].to_vec(), 4),
        (all[..1].to_vec(), 24),
        (all[1..2].to_vec(), 48),
        (all[..3].to_vec(), 8),
        (all[..8].to_vec(), 16),
        (all[..8].to_vec(), 40),
        (all[..12].to_vec(), 12),
        (vec![long.clone()], 4),
        (vec![long, all[2].clone()], 20),
        ((0..11).map(|i| format!("Write {i} words.")).collect(), 6),
    ];
    for mode in [Mode::Default, Mode::Precise] {
        for (prompts, max_new) in &shapes {
            let input = encode_input(prompts, *max_new, mode).expect("encodes");
            let run = plexus_exec::run(
                &engine,
                &job(&module, &input, &blobs, 1 << 40),
                &mut DiscardCheckpoints,
            )
            .expect("runs");
            let Outcome::Completed { output } = &run.outcome else {
                panic!("trapped: {:?}", run.outcome);
            };
            let native = NativeHost::new(&[5; 32], Arc::from(&input[..]), blobs.clone());
            let (bytes, steps) = plexus_guest::run_native::<SmolLm2Job, _>(&native);
            assert_eq!(&bytes, output, "native and metered outputs");
            let (mut rows, mut pairs, mut picked) = (0u64, 0u64, 0u64);
            for c in decode_output(output).expect("decodes") {
                // A completion cut at max_new does not feed its last token; the end of turn is
                // picked but never fed.
                let end_of_turn = u64::from(c.stop == Stop::EndOfTurn);
                let fed = u64::from(c.prompt_tokens + c.completion_tokens) + end_of_turn - 1;
                rows += fed;
                pairs += fed * (fed + 1) / 2;
                picked += u64::from(c.completion_tokens) + end_of_turn;
            }
            let bytes: usize = prompts.iter().map(String::len).sum();
            println!(
                "FIT {mode:?} {} {bytes} {steps} {rows} {pairs} {picked} {}",
                prompts.len(),
                run.total_fuel
            );
        }
    }
}

#[test]
#[ignore]
fn checkpoint_costs() {
    let (engine, module, blobs) = setup();
    let all = prompts();
    let count = std::env::var("COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(8);
    let input = encode_input(&all[..count], 64, Mode::Default).expect("encodes");
    let job = job(&module, &input, &blobs, plexus_exec::SEG_FUEL_DEFAULT);
    let native = NativeHost::new(&[5; 32], Arc::from(&input[..]), blobs.clone());
    let best = |best: &mut f64, started: Instant| *best = best.min(started.elapsed().as_secs_f64());
    let (mut native_s, mut discard_s, mut memory_s) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..5 {
        let started = Instant::now();
        let (bytes, _) = plexus_guest::run_native::<SmolLm2Job, _>(&native);
        best(&mut native_s, started);
        let started = Instant::now();
        plexus_exec::run(&engine, &job, &mut DiscardCheckpoints).expect("runs");
        best(&mut discard_s, started);
        let started = Instant::now();
        let mut sink = MemoryCheckpoints::default();
        let (run, stats) = plexus_exec::run_measured(&engine, &job, &mut sink).expect("runs");
        best(&mut memory_s, started);
        assert_eq!(
            run.outcome,
            Outcome::Completed { output: bytes },
            "native and metered outputs"
        );
        println!(
            "CHECKPOINTS {count} prompts: {} segments, {stats:?}, {} distinct page bytes",
            run.segments,
            sink.page_bytes()
        );
    }
    println!(
        "COSTS {count} prompts: native {native_s:.3} s, metered {discard_s:.3} s ({:.3}x) \
         without keeping checkpoints, {memory_s:.3} s ({:.3}x) keeping them in memory",
        discard_s / native_s,
        memory_s / native_s
    );
}
