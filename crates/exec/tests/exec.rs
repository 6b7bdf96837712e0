//! Execution: determinism, traps, limits, host calls, checkpoints and single-segment replay.

use plexus_exec::{
    Checkpoint, Engine, EngineOptions, ExecError, Execution, Job, MemoryCheckpoints, Outcome,
    PageSource, SegmentEnd, TrapCode, admit, gemm_i8, job_seed, random_bytes, replay_first_segment,
    replay_segment, run,
};
use plexus_types::trace::{Digest32, content_hash, trap_root};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::{borrow::Cow, io, sync::Arc};

const JOB_ID: [u8; 32] = [7; 32];

fn engine() -> Engine {
    Engine::new(EngineOptions::default()).unwrap()
}

fn job(engine: &Engine, wat: &str, input: &[u8], max_fuel: u64, seg_fuel: u64) -> Job {
    let admitted = admit(&wat::parse_str(wat).unwrap()).unwrap();
    Job {
        id: JOB_ID,
        module: engine.compile(&admitted).unwrap(),
        input: Arc::from(input),
        blobs: vec![],
        max_fuel,
        seg_fuel,
    }
}

fn run_job(engine: &Engine, job: &Job) -> (Execution, MemoryCheckpoints) {
    let mut store = MemoryCheckpoints::default();
    let execution = run(engine, job, &mut store).unwrap();
    (execution, store)
}

/// Replays every segment of a run and checks each against the committed leaf.
fn assert_replays(engine: &Engine, job: &Job, execution: &Execution, store: &MemoryCheckpoints) {
    assert_eq!(
        store.checkpoints.len() as u64,
        checkpoints_expected(execution)
    );
    for (i, pre) in store.checkpoints.iter().enumerate() {
        assert_eq!(pre.index, i as u64);
        assert_eq!(
            pre.state_root(),
            execution.leaves[i].state_root,
            "checkpoint {i}"
        );
        assert_eq!(pre.fuel, execution.leaves[i].fuel);
        if i + 1 == execution.leaves.len() {
            break; // the final checkpoint starts no segment
        }
        let outcome = replay_segment(engine, job, pre, store).unwrap();
        assert_eq!(outcome.index, i as u64 + 1);
        assert_eq!(outcome.leaf, execution.leaves[i + 1], "segment {i}");
        let last = i + 2 == execution.leaves.len();
        let expected_end = match (&execution.outcome, last) {
            (_, false) => SegmentEnd::Checkpoint,
            (Outcome::Trapped(trap), true) if store.checkpoints.len() < execution.leaves.len() => {
                SegmentEnd::Trapped(*trap)
            }
            (_, true) => SegmentEnd::Finished {
                output_hash: execution.output_hash,
                failed: matches!(execution.outcome, Outcome::Trapped(_)),
            },
        };
        assert_eq!(outcome.end, expected_end, "segment {i}");
        if i == 0 {
            // Segment 0 also replays from the bare module, without any page.
            let first = replay_first_segment(engine, job).unwrap().unwrap();
            assert_eq!(first, outcome, "segment 0 from instantiation");
        }
    }
}

/// Every leaf is a checkpoint except a trap leaf.
fn checkpoints_expected(execution: &Execution) -> u64 {
    let last_is_trap = match execution.outcome {
        Outcome::Trapped(trap) => {
            execution.leaves.last().map(|leaf| leaf.state_root) == Some(trap_root(trap.code()))
        }
        Outcome::Completed { .. } => false,
    };
    execution.leaves.len() as u64 - u64::from(last_is_trap)
}

/// A job with state in memory, in a non-exported mutable global (`$acc`, exported by the
/// admission rewrite) and in a growing memory: 40 steps of ~20k loop iterations.
const COUNTER: &str = r#"(module
  (import "plexus" "input_len" (func $input_len (result i32)))
  (import "plexus" "input_read" (func $input_read (param i32 i32 i32) (result i32)))
  (import "plexus" "random_fill" (func $random_fill (param i64 i32 i32)))
  (memory (export "memory") 2 8)
  (global $steps (mut i32) (i32.const 0))
  (global $acc (mut i64) (i64.const 0))
  (global (export "plexus_output") i32 (i32.const 0))
  (data (i32.const 0) "\10\00\00\00\08\00\00\00")
  (func (export "init")
    (drop (call $input_read (i32.const 0) (i32.const 1024) (call $input_len)))
    (call $random_fill (i64.const 1) (i32.const 2048) (i32.const 256)))
  (func (export "step") (result i32)
    (local $i i32)
    (loop $l
      (global.set $acc
        (i64.add
          (i64.mul (global.get $acc) (i64.const 31))
          (i64.extend_i32_u (i32.load8_u offset=1024 (i32.and (local.get $i) (i32.const 2047))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 20000))))
    (i64.store (i32.const 16) (global.get $acc))
    ;; Grow once, then write into the new page: checkpoints must capture the growth.
    (if (i32.eq (global.get $steps) (i32.const 10))
      (then (drop (memory.grow (i32.const 1)))))
    (if (i32.ge_u (global.get $steps) (i32.const 10))
      (then (i64.store (i32.add (i32.const 131072) (i32.mul (global.get $steps) (i32.const 8)))
                       (global.get $acc))))
    (global.set $steps (i32.add (global.get $steps) (i32.const 1)))
    (i32.sub (i32.const 40) (global.get $steps))))"#;

#[test]
fn counter_job_is_deterministic_and_every_segment_replays() {
    let engine = engine();
    let job = job(
        &engine,
        COUNTER,
        b"some input bytes",
        100_000_000,
        1_000_000,
    );
    let (first, store) = run_job(&engine, &job);
    let Outcome::Completed { output } = &first.outcome else {
        panic!("expected completion, got {:?}", first.outcome);
    };
    assert_eq!(output.len(), 8);
    assert_eq!(first.output_hash, content_hash(output));
    assert!(first.segments >= 5, "segments {}", first.segments);
    assert_eq!(first.segments + 1, first.leaves.len() as u64);
    assert_eq!(first.total_fuel, first.leaves.last().unwrap().fuel);
    // Fuel is strictly increasing from checkpoint to checkpoint.
    assert!(
        first
            .leaves
            .windows(2)
            .all(|pair| pair[0].fuel < pair[1].fuel)
    );

    let (second, _) = run_job(&engine, &job);
    assert_eq!(first, second);
    assert_replays(&engine, &job, &first, &store);

    // Another input gives another output and trace.
    let other = Job {
        input: Arc::from(&b"other input"[..]),
        ..job.clone()
    };
    let (third, _) = run_job(&engine, &other);
    assert_ne!(third.output_hash, first.output_hash);
    assert_ne!(third.trace_root, first.trace_root);
}

#[test]
fn baseline_and_host_codegen_agree() {
    let host = engine();
    let baseline = Engine::new(EngineOptions {
        baseline_isa: true,
        ..EngineOptions::default()
    })
    .unwrap();
    for input in [&b"abc"[..], b"", &[0xff; 3000]] {
        let (a, _) = run_job(&host, &job(&host, COUNTER, input, 100_000_000, 1_000_000));
        let baseline_job = job(&baseline, COUNTER, input, 100_000_000, 1_000_000);
        let (b, store) = run_job(&baseline, &baseline_job);
        assert_eq!(a, b);
        // A baseline verifier replays what a host-tuned provider committed.
        assert_replays(&baseline, &baseline_job, &a, &store);
    }
    let (a, _) = run_job(&host, &job(&host, SIMD_FLOATS, b"", 10_000_000, 100_000));
    let (b, _) = run_job(
        &baseline,
        &job(&baseline, SIMD_FLOATS, b"", 10_000_000, 100_000),
    );
    assert!(matches!(a.outcome, Outcome::Completed { .. }));
    assert_eq!(a, b);
    // Traps, and the fuel charged up to them, agree too. Stack overflow is the delicate one: the
    // depth reached depends on frame sizes; see the report in the crate docs.
    for body in [
        "(drop (call $recurse (i32.const 0)))",
        "(drop (i32.load (i32.const 0x7ffffff0)))",
    ] {
        let wat = trap_module(body, "");
        let (a, _) = run_job(&host, &job(&host, &wat, b"", 50_000_000, 10_000_000));
        let (b, _) = run_job(
            &baseline,
            &job(&baseline, &wat, b"", 50_000_000, 10_000_000),
        );
        assert!(matches!(a.outcome, Outcome::Trapped(_)));
        assert_eq!(a, b, "{body}");
    }
}

/// SIMD and float arithmetic including NaN-producing operations (canonicalized).
const SIMD_FLOATS: &str = r#"(module
  (memory (export "memory") 1 1)
  (global (export "plexus_output") i32 (i32.const 0))
  (data (i32.const 0) "\10\00\00\00\30\00\00\00")
  (func (export "init"))
  (func (export "step") (result i32)
    (v128.store (i32.const 16)
      (f32x4.div (v128.const f32x4 0 1 -1 3.5) (v128.const f32x4 0 0 0 7)))
    (v128.store (i32.const 32)
      (i16x8.q15mulr_sat_s (v128.const i16x8 -32768 1 2 3 4 5 6 7) (v128.const i16x8 -32768 9 9 9 9 9 9 9)))
    (f64.store (i32.const 48) (f64.sqrt (f64.const -1)))
    (f32.store (i32.const 56) (f32.min (f32.const nan) (f32.const 1)))
    (i32.const 0)))"#;

#[test]
fn plain_mode_gives_the_same_output_without_a_trace() {
    let metered = engine();
    let plain = Engine::new(EngineOptions {
        metering: false,
        ..EngineOptions::default()
    })
    .unwrap();
    let (a, _) = run_job(
        &metered,
        &job(&metered, COUNTER, b"xyz", 100_000_000, 1_000_000),
    );
    let (b, store) = run_job(
        &plain,
        &job(&plain, COUNTER, b"xyz", 100_000_000, 1_000_000),
    );
    assert_eq!(a.outcome, b.outcome);
    assert_eq!(a.output_hash, b.output_hash);
    assert!(b.leaves.is_empty());
    assert_eq!(b.total_fuel, 0);
    assert!(store.checkpoints.is_empty());
}

const INFINITE: &str = r#"(module
  (memory (export "memory") 1 1)
  (global (export "plexus_output") i32 (i32.const 0))
  (func (export "init"))
  (func (export "step") (result i32) (loop $l (br $l)) (i32.const 0)))"#;

#[test]
fn infinite_loop_runs_out_of_fuel_at_exactly_max_fuel() {
    let engine = engine();
    let job = job(&engine, INFINITE, b"", 5_000_000, 1_000_000);
    let (execution, store) = run_job(&engine, &job);
    assert_eq!(execution.outcome, Outcome::Trapped(TrapCode::OutOfFuel));
    assert_eq!(execution.total_fuel, 5_000_000);
    let last = execution.leaves.last().unwrap();
    assert_eq!(last.fuel, 5_000_000);
    assert_eq!(last.state_root, trap_root(TrapCode::OutOfFuel.code()));
    assert_eq!(execution.output_hash, trap_root(TrapCode::OutOfFuel.code()));
    // One step never returns, so the trace is checkpoint 0 and the trap leaf.
    assert_eq!(execution.leaves.len(), 2);
    assert_replays(&engine, &job, &execution, &store);
}

#[test]
fn wall_time_backstop_stops_a_long_job() {
    // Inside a call: epoch interruption.
    let engine = Engine::new(EngineOptions {
        wall_time_ms: 50,
        epoch_backstop: true,
        ..EngineOptions::default()
    })
    .unwrap();
    let fuel = plexus_exec::JOB_FUEL_MAX;
    let job = job(&engine, INFINITE, b"", fuel, fuel / 1000);
    let (execution, _) = run_job(&engine, &job);
    // The outcome is the proof: without the backstop the loop would end out of fuel (10^12 of
    // it, many minutes). How long the stop took is the machine's business, not the test's.
    assert_eq!(execution.outcome, Outcome::Trapped(TrapCode::WallTime));

    // Between calls (the default): a job of many short steps stops at a step boundary.
    let engine = Engine::new(EngineOptions {
        wall_time_ms: 0,
        ..EngineOptions::default()
    })
    .unwrap();
    let job = self::job(&engine, COUNTER, b"", 100_000_000, 1_000_000);
    let (execution, _) = run_job(&engine, &job);
    assert_eq!(execution.outcome, Outcome::Trapped(TrapCode::WallTime));
    assert_eq!(execution.leaves.len(), 2);
}

/// Grows memory one page per step until the declared maximum refuses, then reports the size.
const MEMORY_BOMB: &str = r#"(module
  (memory (export "memory") 1 1024)
  (global (export "plexus_output") i32 (i32.const 0))
  (data (i32.const 0) "\10\00\00\00\04\00\00\00")
  (func (export "init"))
  (func (export "step") (result i32)
    (if (i32.eq (memory.grow (i32.const 64)) (i32.const -1))
      (then (i32.store (i32.const 16) (memory.size)) (return (i32.const 0))))
    (i32.const 1)))"#;

#[test]
fn memory_bomb_stops_at_the_declared_maximum() {
    let engine = engine();
    let job = job(&engine, MEMORY_BOMB, b"", 10_000_000, 1_000_000);
    let (execution, store) = run_job(&engine, &job);
    assert_eq!(
        execution.outcome,
        Outcome::Completed {
            // 1 + 15 × 64 pages; one more grow of 64 would pass the maximum of 1024.
            output: 961u32.to_le_bytes().to_vec()
        }
    );
    assert_eq!(store.checkpoints.last().unwrap().pages.len(), 961);
    // Zero pages at the same index share one stored copy; each index is hashed separately.
    assert!(store.page_bytes() <= 1024 * 65_536);
    assert_replays(&engine, &job, &execution, &store);
}

fn trap_module(body: &str, extra: &str) -> String {
    format!(
        r#"(module
          (import "plexus" "input_read" (func $input_read (param i32 i32 i32) (result i32)))
          (import "plexus" "gemm_i8" (func $gemm (param i32 i32 i32 i32 i32 i32 i32)))
          (import "plexus" "random_fill" (func $random_fill (param i64 i32 i32)))
          (memory (export "memory") 1 2)
          (global (export "plexus_output") i32 (i32.const 0))
          {extra}
          (func (export "init"))
          (func $recurse (param i32) (result i32)
            (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
          (func (export "step") (result i32) {body} (i32.const 0)))"#
    )
}

#[test]
fn guest_faults_are_stable_traps() {
    let engine = engine();
    let cases = [
        (
            "(drop (i32.load (i32.const 0x7ffffff0)))",
            "",
            TrapCode::MemoryOutOfBounds,
        ),
        ("(unreachable)", "", TrapCode::Unreachable),
        (
            "(drop (i32.div_s (i32.const 1) (i32.const 0)))",
            "",
            TrapCode::IntegerDivision,
        ),
        (
            "(drop (call $recurse (i32.const 0)))",
            "",
            TrapCode::StackOverflow,
        ),
        // Host calls with bad pointers or dimensions.
        (
            "(drop (call $input_read (i32.const 0) (i32.const 0xfffffff0) (i32.const 64)))",
            "",
            TrapCode::BadHostCall,
        ),
        (
            "(drop (call $input_read (i32.const 0) (i32.const 65000) (i32.const 100000)))",
            "",
            TrapCode::BadHostCall,
        ),
        (
            "(call $random_fill (i64.const 0) (i32.const -1) (i32.const 2))",
            "",
            TrapCode::BadHostCall,
        ),
        (
            "(call $gemm (i32.const -1) (i32.const 1) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))",
            "",
            TrapCode::BadHostCall,
        ),
        (
            "(call $gemm (i32.const 100) (i32.const 100) (i32.const 100) (i32.const 0) (i32.const 0) (i32.const 65000) (i32.const 0))",
            "",
            TrapCode::BadHostCall,
        ),
        // A host call the remaining fuel cannot pay.
        (
            "(call $random_fill (i64.const 0) (i32.const 0) (i32.const 65536))",
            "",
            TrapCode::OutOfFuel,
        ),
        // Output records: too large, out of bounds.
        (
            "",
            r#"(data (i32.const 0) "\10\00\00\00\00\00\20\00")"#,
            TrapCode::OutputTooLarge,
        ),
        (
            "",
            r#"(data (i32.const 0) "\00\00\01\00\08\00\00\00")"#,
            TrapCode::OutputOutOfBounds,
        ),
    ];
    for (body, extra, trap) in cases {
        let wat = trap_module(body, extra);
        // Enough fuel to overflow the stack, except where running out of it is the point.
        let max_fuel = if trap == TrapCode::OutOfFuel {
            50_000
        } else {
            50_000_000
        };
        let job = job(&engine, &wat, b"", max_fuel, max_fuel / 5);
        let (execution, store) = run_job(&engine, &job);
        assert_eq!(execution.outcome, Outcome::Trapped(trap), "{body} {extra}");
        assert_eq!(execution.output_hash, trap_root(trap.code()));
        if trap == TrapCode::OutOfFuel {
            assert_eq!(execution.total_fuel, max_fuel);
        }
        assert_replays(&engine, &job, &execution, &store);
        // Traps are deterministic too.
        let (again, _) = run_job(&engine, &job);
        assert_eq!(again, execution);
    }
}

#[test]
fn instantiation_trap_is_a_failed_job() {
    let engine = engine();
    // An active data segment past the end of memory traps at instantiation.
    let wat = trap_module("", r#"(data (i32.const 131070) "abcd")"#);
    let job = job(&engine, &wat, b"", 50_000, 10_000);
    let (execution, store) = run_job(&engine, &job);
    assert_eq!(
        execution.outcome,
        Outcome::Trapped(TrapCode::MemoryOutOfBounds)
    );
    assert_eq!(execution.leaves.len(), 1);
    assert!(store.checkpoints.is_empty());
}

const RANDOM: &str = r#"(module
  (import "plexus" "random_fill" (func $random_fill (param i64 i32 i32)))
  (memory (export "memory") 1 1)
  (global (export "plexus_output") i32 (i32.const 0))
  (data (i32.const 0) "\10\00\00\00\64\00\00\00")
  (func (export "init"))
  (func (export "step") (result i32)
    (call $random_fill (i64.const 9) (i32.const 16) (i32.const 100))
    (i32.const 0)))"#;

#[test]
fn random_fill_is_a_function_of_job_id_and_counter() {
    let engine = engine();
    let first = job(&engine, RANDOM, b"", 1_000_000, 100_000);
    let (a, _) = run_job(&engine, &first);
    let (b, _) = run_job(&engine, &first);
    assert_eq!(a, b);
    let mut expected = vec![0u8; 100];
    random_bytes(&job_seed(&JOB_ID), 9, &mut expected);
    assert_eq!(
        a.outcome,
        Outcome::Completed {
            output: expected.clone()
        }
    );
    // The BLAKE3 definition, pinned: keyed XOF, key = BLAKE3("plexus/job-seed" | id).
    let seed = blake3::hash(&[b"plexus/job-seed".as_slice(), &JOB_ID].concat());
    let mut xof = vec![0u8; 100];
    blake3::Hasher::new_keyed(seed.as_bytes())
        .update(&9u64.to_le_bytes())
        .finalize_xof()
        .fill(&mut xof);
    assert_eq!(xof, expected);
    let other = Job {
        id: [8; 32],
        ..first
    };
    let (c, _) = run_job(&engine, &other);
    assert_ne!(c.output_hash, a.output_hash);
}

/// Input: m, n, k, accumulate (i32 LE each), A (m×k), B (n×k), C (m×n i32). Output: C after
/// `gemm_i8`.
const GEMM: &str = r#"(module
  (import "plexus" "input_len" (func $input_len (result i32)))
  (import "plexus" "input_read" (func $input_read (param i32 i32 i32) (result i32)))
  (import "plexus" "gemm_i8" (func $gemm (param i32 i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 2 2)
  (global (export "plexus_output") i32 (i32.const 0))
  (func (export "init")
    (drop (call $input_read (i32.const 0) (i32.const 64) (call $input_len))))
  (func (export "step") (result i32)
    (local $m i32) (local $n i32) (local $k i32) (local $a i32) (local $b i32) (local $c i32)
    (local.set $m (i32.load (i32.const 64)))
    (local.set $n (i32.load (i32.const 68)))
    (local.set $k (i32.load (i32.const 72)))
    (local.set $a (i32.const 80))
    (local.set $b (i32.add (local.get $a) (i32.mul (local.get $m) (local.get $k))))
    (local.set $c (i32.add (local.get $b) (i32.mul (local.get $n) (local.get $k))))
    (call $gemm (local.get $m) (local.get $n) (local.get $k)
      (local.get $a) (local.get $b) (local.get $c) (i32.load (i32.const 76)))
    (i32.store (i32.const 0) (local.get $c))
    (i32.store (i32.const 4) (i32.mul (i32.mul (local.get $m) (local.get $n)) (i32.const 4)))
    (i32.const 0)))"#;

#[test]
fn gemm_host_call_matches_the_native_kernel_and_charges_its_formula() {
    let seed = 0x5eed_0001_u64;
    println!("gemm host seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let engine = engine();
    let module = job(&engine, GEMM, b"", 100_000_000, 100_000_000);
    let mut fuels = Vec::new();
    for _ in 0..20 {
        let (m, n, k) = (
            rng.random_range(1..20usize),
            rng.random_range(1..20usize),
            rng.random_range(1..200usize),
        );
        let accumulate = rng.random_range(0..2i32);
        let a: Vec<i8> = (0..m * k).map(|_| rng.random()).collect();
        let b: Vec<i8> = (0..n * k).map(|_| rng.random()).collect();
        let c: Vec<i32> = (0..m * n).map(|_| rng.random()).collect();
        let mut input = Vec::new();
        for value in [m as i32, n as i32, k as i32, accumulate] {
            input.extend_from_slice(&value.to_le_bytes());
        }
        input.extend(a.iter().map(|v| *v as u8));
        input.extend(b.iter().map(|v| *v as u8));
        input.extend(c.iter().flat_map(|v| v.to_le_bytes()));
        let job = Job {
            input: Arc::from(input),
            ..module.clone()
        };
        let (execution, _) = run_job(&engine, &job);
        let mut expected = c.clone();
        gemm_i8(m, n, k, &a, &b, &mut expected, accumulate != 0).unwrap();
        let expected: Vec<u8> = expected.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            execution.outcome,
            Outcome::Completed { output: expected },
            "{m}x{n}x{k}"
        );
        // The gemm formula plus input_read's len / 8.
        let formula = m * n * k / 8 + m * n + job.input.len() / 8;
        fuels.push((formula, execution.total_fuel));
    }
    // Guest code is the same for every shape, so fuel minus the gemm formula is constant.
    let base: Vec<u64> = fuels
        .iter()
        .map(|(formula, total)| total - *formula as u64)
        .collect();
    assert!(base.windows(2).all(|pair| pair[0] == pair[1]), "{base:?}");
}

#[test]
fn replay_rejects_bad_pages_and_foreign_checkpoints() {
    let engine = engine();
    let job = job(&engine, COUNTER, b"abc", 100_000_000, 1_000_000);
    let (execution, store) = run_job(&engine, &job);
    let pre = &store.checkpoints[1];

    /// A page source that returns wrong bytes for one page and nothing for another.
    struct Corrupt<'a>(&'a MemoryCheckpoints, Digest32, Digest32);
    impl PageSource for Corrupt<'_> {
        fn page(&self, hash: &Digest32) -> io::Result<Option<Cow<'_, [u8]>>> {
            if *hash == self.1 {
                return Ok(Some(Cow::Owned(vec![1; 65_536])));
            }
            if *hash == self.2 {
                return Ok(None);
            }
            self.0.page(hash)
        }
    }
    let err = replay_segment(
        &engine,
        &job,
        pre,
        &Corrupt(&store, pre.pages[0], Digest32::from([0; 32])),
    )
    .unwrap_err();
    assert!(
        matches!(err, ExecError::PageMismatch { page: 0, .. }),
        "{err}"
    );
    let err = replay_segment(
        &engine,
        &job,
        pre,
        &Corrupt(&store, Digest32::from([0; 32]), pre.pages[1]),
    )
    .unwrap_err();
    assert!(
        matches!(err, ExecError::MissingPage { page: 1, .. }),
        "{err}"
    );

    let over = Checkpoint {
        fuel: job.max_fuel + 1,
        ..pre.clone()
    };
    assert!(matches!(
        replay_segment(&engine, &job, &over, &store),
        Err(ExecError::CheckpointShape { .. })
    ));
    let no_globals = Checkpoint {
        globals: vec![],
        ..pre.clone()
    };
    assert!(matches!(
        replay_segment(&engine, &job, &no_globals, &store),
        Err(ExecError::CheckpointShape { .. })
    ));
    // A tampered global replays, but to a leaf that differs from the committed one.
    let mut tampered = pre.clone();
    tampered.globals[1] = plexus_exec::GlobalValue::I64(12345);
    let outcome = replay_segment(&engine, &job, &tampered, &store).unwrap();
    assert_ne!(outcome.leaf, execution.leaves[2]);
}

#[test]
fn host_side_errors_are_exec_errors() {
    let engine = engine();
    let other = self::engine();
    let job_on_other = job(&other, COUNTER, b"", 1_000_000, 100_000);
    assert!(matches!(
        run(&engine, &job_on_other, &mut MemoryCheckpoints::default()),
        Err(ExecError::EngineMismatch { .. })
    ));
    let mut big = job(&engine, COUNTER, b"", 1_000_000, 100_000);
    big.input = Arc::from(vec![0u8; plexus_exec::INPUT_BYTES_MAX + 1]);
    assert!(matches!(
        run(&engine, &big, &mut MemoryCheckpoints::default()),
        Err(ExecError::Limit {
            what: "input bytes",
            ..
        })
    ));
    let mut tiny_segments = job(&engine, COUNTER, b"", 1_000_000_000, 1);
    assert!(matches!(
        run(&engine, &tiny_segments, &mut MemoryCheckpoints::default()),
        Err(ExecError::Limit {
            what: "segments",
            ..
        })
    ));
    tiny_segments.seg_fuel = 0;
    assert!(matches!(
        run(&engine, &tiny_segments, &mut MemoryCheckpoints::default()),
        Err(ExecError::Limit {
            what: "segments",
            ..
        })
    ));

    struct FailingSink;
    impl plexus_exec::CheckpointSink for FailingSink {
        fn checkpoint(&mut self, _: &Checkpoint, _: &[plexus_exec::NewPage<'_>]) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
    }
    let job = job(&engine, COUNTER, b"", 100_000_000, 1_000_000);
    assert!(matches!(
        run(&engine, &job, &mut FailingSink),
        Err(ExecError::Sink(_))
    ));
}

#[test]
fn checkpoints_store_only_changed_pages() {
    let engine = engine();
    let job = job(&engine, COUNTER, b"abc", 100_000_000, 1_000_000);
    let (execution, store) = run_job(&engine, &job);
    // Memory is 2 pages, then 3; each checkpoint after the first changes at most 2 pages, so
    // the store holds far fewer pages than checkpoints × pages.
    let distinct = store.pages.len();
    let referenced: usize = store.checkpoints.iter().map(|c| c.pages.len()).sum();
    assert!(distinct < referenced, "{distinct} distinct of {referenced}");
    assert!(distinct <= 3 + 2 * execution.segments as usize);
}

#[test]
fn trace_definitions_match_raw_blake3() {
    // An independent restatement of plexus_types::trace with the blake3 crate.
    use plexus_types::trace::{leaf, page_hash, state_root};
    let page = vec![3u8; 65_536];
    let raw = blake3::hash(&[b"plexus/page".as_slice(), &page].concat());
    assert_eq!(page_hash(&page).0, *raw.as_bytes());
    let (m, g) = (content_hash(b"m"), content_hash(b"g"));
    let raw = blake3::hash(&[b"plexus/state".as_slice(), &m.0, &g.0].concat());
    assert_eq!(state_root(&m, &g).0, *raw.as_bytes());
    let raw = blake3::hash(
        &[
            b"plexus/leaf".as_slice(),
            &9u64.to_le_bytes(),
            &77u64.to_le_bytes(),
            &m.0,
        ]
        .concat(),
    );
    assert_eq!(leaf(9, 77, &m).0, *raw.as_bytes());
    let raw = blake3::hash(&[b"plexus/trap".as_slice(), &[1u8]].concat());
    assert_eq!(trap_root(1).0, *raw.as_bytes());
}
