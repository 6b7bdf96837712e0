//! Execution: determinism, traps, limits, host calls, checkpoints and single-segment replay.

use plexus_exec::{
    Checkpoint, Engine, EngineOptions, ExecError, Execution, Job, Leaf, MemoryCheckpoints, Outcome,
    PageSource, SegmentEnd, SegmentOutcome, TrapCode, admit, gemm_i8, job_seed, random_bytes,
    replay_first_segment, replay_segment, run,
};
use plexus_types::{ContentHash, trace::trap_root};
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
    assert_eq!(first.output_hash, ContentHash::of(output));
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
fn wall_time_backstop_stops_a_long_job_and_bills_the_calls_that_completed() {
    let wall_time_leaf = |fuel| Leaf {
        fuel,
        state_root: trap_root(TrapCode::WallTime.code()),
    };
    // Between calls (the default): a job of many short steps stops at a step boundary, billed
    // exactly the fuel of `init`, the one call that completed (what checkpoint 1 of a run
    // whose first segment ends after `init` holds).
    let (max_fuel, seg_fuel) = (10_000_000, 200);
    let reference = engine();
    let (run, _) = run_job(
        &reference,
        &job(&reference, COUNTER, b"", max_fuel, seg_fuel),
    );
    let init_fuel = run.leaves[1].fuel;
    assert!(init_fuel >= seg_fuel, "{init_fuel}");
    let engine = Engine::new(EngineOptions {
        wall_time_ms: 0,
        ..EngineOptions::default()
    })
    .unwrap();
    let (execution, _) = run_job(&engine, &job(&engine, COUNTER, b"", max_fuel, seg_fuel));
    assert_eq!(execution.outcome, Outcome::Trapped(TrapCode::WallTime));
    assert_eq!(execution.total_fuel, init_fuel);
    assert_eq!(
        execution.leaves,
        vec![run.leaves[0], wall_time_leaf(init_fuel)]
    );

    // Inside a call: epoch interruption, in the spin or the endless loop after it. wasmtime
    // writes the spin's fuel back when it returns, but the interrupted call did not complete:
    // the bill is at most what `init` used (measured as above, with the between-calls
    // backstop), and nothing if the backstop fired before `init` completed.
    let fuel = plexus_types::limits::JOB_FUEL_MAX;
    let (init_run, _) = run_job(&engine, &job(&engine, SPIN_FOREVER, b"", fuel, fuel / 1000));
    let init_fuel = init_run.total_fuel;
    let engine = Engine::new(EngineOptions {
        wall_time_ms: 50,
        epoch_backstop: true,
        ..EngineOptions::default()
    })
    .unwrap();
    let job = job(&engine, SPIN_FOREVER, b"", fuel, fuel / 1000);
    let (execution, _) = run_job(&engine, &job);
    // The outcome is the proof: without the backstop the loop would end out of fuel (10^12 of
    // it, many minutes). How long the stop took is the machine's business, not the test's.
    assert_eq!(execution.outcome, Outcome::Trapped(TrapCode::WallTime));
    assert!(
        execution.total_fuel <= init_fuel,
        "{}",
        execution.total_fuel
    );
    assert_eq!(
        execution.leaves.last(),
        Some(&wall_time_leaf(execution.total_fuel))
    );
}

/// Spins, then loops forever (in `step`).
const SPIN_FOREVER: &str = r#"(module
  (memory (export "memory") 1 1)
  (global (export "plexus_output") i32 (i32.const 0))
  (func $spin (param $n i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
  (func (export "init"))
  (func (export "step") (result i32)
    (call $spin (i32.const 100000))
    (loop $forever (br $forever))
    (i32.const 0)))"#;

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

/// Fuel per segment of the trap jobs: every step of [`trap_module`] ends a segment.
const TRAP_SEG_FUEL: u64 = 100_000;
/// `max_fuel` of the trap jobs: far above the work any of them does before trapping.
const TRAP_MAX_FUEL: u64 = 100_000_000;

/// A job whose `init` runs `init` and whose four `step`s each spin 100 000 loop iterations
/// (real, metered work that a stale fuel count would forget); the fourth also runs `body`.
/// `extra` adds module fields. At `TRAP_SEG_FUEL` every step ends a segment, so a trap in
/// `body` ends segment 3 (from checkpoint 3 to the trap leaf, leaf 4) and a trap in `init`
/// ends segment 0.
fn trap_module_with_init(init: &str, body: &str, extra: &str) -> String {
    format!(
        r#"(module
          (import "plexus" "input_read" (func $input_read (param i32 i32 i32) (result i32)))
          (import "plexus" "blob_read" (func $blob_read (param i32 i64 i32 i32) (result i32)))
          (import "plexus" "gemm_i8" (func $gemm (param i32 i32 i32 i32 i32 i32 i32)))
          (import "plexus" "random_fill" (func $random_fill (param i64 i32 i32)))
          (type $to_i32 (func (param i32) (result i32)))
          (type $nullary (func))
          (memory (export "memory") 1 2)
          (table 4 funcref)
          (elem (i32.const 0) $recurse)
          (global $steps (mut i32) (i32.const 0))
          (global (export "plexus_output") i32 (i32.const 0))
          {extra}
          (func $spin (param $n i32)
            (local $i i32)
            (loop $l
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
          (func $recurse (type $to_i32)
            (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
          (func (export "init") {init})
          (func (export "step") (result i32)
            (call $spin (i32.const 100000))
            (if (i32.eq (global.get $steps) (i32.const 3)) (then {body}))
            (global.set $steps (i32.add (global.get $steps) (i32.const 1)))
            (i32.sub (i32.const 4) (global.get $steps))))"#
    )
}

fn trap_module(body: &str, extra: &str) -> String {
    trap_module_with_init("", body, extra)
}

/// The two code generators providers and validators may use: host-tuned and baseline ISA.
fn codegens() -> [Engine; 2] {
    let baseline = Engine::new(EngineOptions {
        baseline_isa: true,
        ..EngineOptions::default()
    })
    .unwrap();
    [engine(), baseline]
}

/// The trap job `wat` compiled on `engine` (with one blob, for `blob_read`).
fn trap_job(engine: &Engine, wat: &str) -> Job {
    Job {
        blobs: vec![Arc::from(&b"a blob"[..])],
        ..job(engine, wat, b"input", TRAP_MAX_FUEL, TRAP_SEG_FUEL)
    }
}

/// Runs `wat` on both codegens and checks the trap and its bill: the job ends with `trap` and is
/// billed exactly `fuel` (its last leaf too), baseline codegen commits the same output hash,
/// fuel, segments and trace root as host-tuned, and every segment (the one that trapped
/// included) replays on either codegen to the committed leaf. Returns the execution.
fn check_trap(wat: &str, trap: TrapCode, fuel: u64) -> Execution {
    let [host, baseline] = codegens();
    let host_job = trap_job(&host, wat);
    let (execution, store) = run_job(&host, &host_job);
    assert_eq!(execution.outcome, Outcome::Trapped(trap), "{wat}");
    assert_eq!(execution.output_hash, trap_root(trap.code()));
    assert_eq!(execution.total_fuel, fuel, "the bill of {}", trap.name());
    assert_eq!(execution.leaves.last().unwrap().fuel, fuel);
    let baseline_job = trap_job(&baseline, wat);
    let (other, _) = run_job(&baseline, &baseline_job);
    assert_eq!(
        (
            other.output_hash,
            other.total_fuel,
            other.segments,
            other.trace_root
        ),
        (
            execution.output_hash,
            execution.total_fuel,
            execution.segments,
            execution.trace_root
        ),
        "baseline codegen, {}",
        trap.name()
    );
    assert_eq!(other, execution);
    assert_replays(&host, &host_job, &execution, &store);
    assert_replays(&baseline, &baseline_job, &execution, &store);
    execution
}

/// A trap inside a call bills `max_fuel`; the trace is checkpoints 0-3 (one per step) and the
/// trap leaf.
fn check_call_trap(body: &str, trap: TrapCode) {
    let execution = check_trap(&trap_module(body, ""), trap, TRAP_MAX_FUEL);
    assert_eq!(execution.leaves.len(), 5, "{body}");
    assert_eq!(
        *execution.leaves.last().unwrap(),
        Leaf {
            fuel: TRAP_MAX_FUEL,
            state_root: trap_root(trap.code())
        }
    );
}

#[test]
fn out_of_fuel_in_guest_code_bills_max_fuel() {
    check_call_trap("(loop $forever (br $forever))", TrapCode::OutOfFuel);
}

#[test]
fn out_of_fuel_paying_a_host_call_bills_max_fuel() {
    // `len` reads as 2^32 - 1 bytes: more fuel than the job has, refused before any work.
    check_call_trap(
        "(call $random_fill (i64.const 0) (i32.const 0) (i32.const -1))",
        TrapCode::OutOfFuel,
    );
}

#[test]
fn memory_out_of_bounds_load_bills_max_fuel() {
    check_call_trap(
        "(drop (i32.load (i32.const 0x7ffffff0)))",
        TrapCode::MemoryOutOfBounds,
    );
}

#[test]
fn memory_out_of_bounds_store_bills_max_fuel() {
    check_call_trap(
        "(i64.store offset=8 (i32.const 131068) (i64.const 1))",
        TrapCode::MemoryOutOfBounds,
    );
}

#[test]
fn bulk_memory_out_of_bounds_bills_max_fuel() {
    check_call_trap(
        "(memory.fill (i32.const 65000) (i32.const 1) (i32.const 1000))",
        TrapCode::MemoryOutOfBounds,
    );
    check_call_trap(
        "(memory.copy (i32.const 0) (i32.const 65000) (i32.const 1000))",
        TrapCode::MemoryOutOfBounds,
    );
}

#[test]
fn unreachable_bills_max_fuel() {
    check_call_trap("(unreachable)", TrapCode::Unreachable);
}

#[test]
fn integer_division_by_zero_bills_max_fuel() {
    check_call_trap(
        "(drop (i32.div_u (global.get $steps) (i32.const 0)))",
        TrapCode::IntegerDivision,
    );
    check_call_trap(
        "(drop (i64.rem_s (i64.const 5) (i64.extend_i32_u (i32.sub (global.get $steps) (i32.const 3)))))",
        TrapCode::IntegerDivision,
    );
}

#[test]
fn integer_overflow_bills_max_fuel() {
    check_call_trap(
        "(drop (i32.div_s (i32.const 0x80000000) (i32.sub (global.get $steps) (i32.const 4))))",
        TrapCode::IntegerDivision,
    );
    // wasmtime reports a float-to-int conversion out of range as an integer overflow too.
    check_call_trap(
        "(drop (i32.trunc_f64_u (f64.const 1e20)))",
        TrapCode::IntegerDivision,
    );
}

#[test]
fn stack_overflow_bills_max_fuel() {
    check_call_trap(
        "(drop (call $recurse (i32.const 0)))",
        TrapCode::StackOverflow,
    );
}

#[test]
fn indirect_call_and_conversion_traps_bill_max_fuel() {
    for body in [
        // An empty table slot.
        "(drop (call_indirect (type $to_i32) (i32.const 0) (i32.const 1)))",
        // A slot past the table's end.
        "(drop (call_indirect (type $to_i32) (i32.const 0) (i32.const 9)))",
        // A function of another type.
        "(call_indirect (type $nullary) (i32.const 0))",
        // NaN has no integer value.
        "(drop (i32.trunc_f32_s (f32.const nan)))",
    ] {
        check_call_trap(body, TrapCode::Other);
    }
}

#[test]
fn every_bad_host_call_bills_max_fuel() {
    for body in [
        "(drop (call $input_read (i32.const 0) (i32.const 0xfffffff0) (i32.const 64)))",
        "(drop (call $input_read (i32.const 0) (i32.const 65000) (i32.const 100000)))",
        "(drop (call $blob_read (i32.const 0) (i64.const 0) (i32.const 65530) (i32.const 64)))",
        "(drop (call $blob_read (i32.const 0) (i64.const -1) (i32.const 0) (i32.const 4)))",
        "(call $random_fill (i64.const 0) (i32.const -1) (i32.const 2))",
        "(call $gemm (i32.const -1) (i32.const 1) (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))",
        "(call $gemm (i32.const 100) (i32.const 100) (i32.const 100) (i32.const 0) (i32.const 0) (i32.const 65000) (i32.const 0))",
    ] {
        check_call_trap(body, TrapCode::BadHostCall);
    }
}

#[test]
fn a_trap_in_init_bills_max_fuel() {
    let wat = trap_module_with_init(
        "(call $spin (i32.const 100000)) (drop (i32.load (i32.const 0x7ffffff0)))",
        "",
        "",
    );
    let execution = check_trap(&wat, TrapCode::MemoryOutOfBounds, TRAP_MAX_FUEL);
    // Checkpoint 0 (the instantiated module) and the trap leaf.
    assert_eq!(execution.leaves.len(), 2);
}

#[test]
fn an_invalid_output_record_bills_the_work_done() {
    // The same work with a valid record (memory is zero: `{ptr 0, len 0}`, an empty output).
    let [host, _] = codegens();
    let (valid, _) = run_job(&host, &trap_job(&host, &trap_module("", "")));
    assert_eq!(valid.outcome, Outcome::Completed { output: vec![] });
    let work = valid.total_fuel;
    assert!(work > 400_000, "four steps of 100 000 iterations: {work}");
    for (record, trap) in [
        // 2 MiB named: more than OUTPUT_BYTES_MAX.
        (r#"\10\00\00\00\00\00\20\00"#, TrapCode::OutputTooLarge),
        // Bytes past the end of memory.
        (r#"\00\00\01\00\08\00\00\00"#, TrapCode::OutputOutOfBounds),
    ] {
        let extra = format!(r#"(data (i32.const 0) "{record}")"#);
        let execution = check_trap(&trap_module("", &extra), trap, work);
        // Judged on the final state: the trace ends with the final checkpoint, no trap leaf.
        assert_eq!(execution.leaves.len(), valid.leaves.len());
        assert_eq!(execution.leaves.last().unwrap().fuel, work);
    }
    // A record address past the end of memory.
    let out_of_memory = trap_module("", "").replace(
        r#"(global (export "plexus_output") i32 (i32.const 0))"#,
        r#"(global (export "plexus_output") i32 (i32.const 131070))"#,
    );
    check_trap(&out_of_memory, TrapCode::OutputOutOfBounds, work);
}

#[test]
fn instantiation_trap_is_a_failed_job_that_bills_nothing() {
    // An active data segment past the end of memory traps at instantiation: no guest code ran.
    let wat = trap_module("", r#"(data (i32.const 131070) "abcd")"#);
    let execution = check_trap(&wat, TrapCode::MemoryOutOfBounds, 0);
    assert_eq!(
        execution.leaves,
        vec![Leaf {
            fuel: 0,
            state_root: trap_root(TrapCode::MemoryOutOfBounds.code())
        }]
    );
    let [host, _] = codegens();
    let (_, store) = run_job(&host, &trap_job(&host, &wat));
    assert!(store.checkpoints.is_empty());
    // Such a job has no segment 0 to replay.
    assert_eq!(
        replay_first_segment(&host, &trap_job(&host, &wat)).unwrap(),
        None
    );
}

/// The attack of issue 12 (finding 2): a long loop that ends in an out-of-bounds load. wasmtime
/// does not write its fuel counter back before a signal-based trap, so the store's count missed
/// the whole loop and the job was billed about 1 fuel.
const LOOP_THEN_OUT_OF_BOUNDS: &str = r#"(module
  (memory (export "memory") 1 1)
  (global (export "plexus_output") i32 (i32.const 0))
  (func (export "init"))
  (func (export "step") (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 10000000))))
    (i32.load (i32.const 0x7ffffff0))))"#;

#[test]
fn a_long_loop_ending_out_of_bounds_bills_max_fuel() {
    let max_fuel = 1_000_000_000;
    for engine in codegens() {
        let job = job(
            &engine,
            LOOP_THEN_OUT_OF_BOUNDS,
            b"",
            max_fuel,
            max_fuel / 10,
        );
        let (execution, store) = run_job(&engine, &job);
        println!(
            "loop of 10^7 iterations, then an out-of-bounds load: billed {} fuel",
            execution.total_fuel
        );
        assert_eq!(
            execution.outcome,
            Outcome::Trapped(TrapCode::MemoryOutOfBounds)
        );
        assert_eq!(execution.total_fuel, max_fuel);
        assert_replays(&engine, &job, &execution, &store);
    }
}

#[test]
fn replaying_the_trapping_segment_gives_the_committed_trap_leaf() {
    let engine = engine();
    let job = trap_job(
        &engine,
        &trap_module("(drop (i32.load (i32.const 0x7ffffff0)))", ""),
    );
    let (execution, store) = run_job(&engine, &job);
    let trap = Leaf {
        fuel: TRAP_MAX_FUEL,
        state_root: trap_root(TrapCode::MemoryOutOfBounds.code()),
    };
    assert_eq!(execution.leaves.last(), Some(&trap));
    // The last checkpoint starts the segment that traps: what a validator re-runs in a dispute.
    let pre = store.checkpoints.last().unwrap();
    assert_eq!(pre.index, 3);
    assert!(pre.fuel < TRAP_MAX_FUEL);
    let outcome = replay_segment(&engine, &job, pre, &store).unwrap();
    assert_eq!(
        outcome,
        SegmentOutcome {
            index: 4,
            leaf: trap,
            end: SegmentEnd::Trapped(TrapCode::MemoryOutOfBounds),
        }
    );
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
    struct Corrupt<'a>(&'a MemoryCheckpoints, ContentHash, ContentHash);
    impl PageSource for Corrupt<'_> {
        fn page(&self, hash: &ContentHash) -> io::Result<Option<Cow<'_, [u8]>>> {
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
        &Corrupt(&store, pre.pages[0], ContentHash::from([0; 32])),
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
        &Corrupt(&store, ContentHash::from([0; 32]), pre.pages[1]),
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
    let (m, g) = (ContentHash::of(b"m"), ContentHash::of(b"g"));
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

/// A job that recurses as deep as its input says (`u32` LE) through `recurse`, then completes.
fn recursion_module(recurse: &str) -> String {
    format!(
        r#"(module
          (import "plexus" "input_read" (func $input_read (param i32 i32 i32) (result i32)))
          (memory (export "memory") 1 1)
          (global (export "plexus_output") i32 (i32.const 0))
          (func (export "init") (drop (call $input_read (i32.const 0) (i32.const 64) (i32.const 4))))
          {recurse}
          (func (export "step") (result i32)
            (drop (call $recurse (i32.load (i32.const 64))))
            (i32.const 0)))"#
    )
}

/// The deepest recursion of `wat` (a [`recursion_module`]) that completes on `engine`.
fn depth_max(engine: &Engine, wat: &str) -> u32 {
    let base = job(engine, wat, b"", 10_000_000_000, 1_000_000_000);
    let completes = |depth: u32| {
        let job = Job {
            input: Arc::from(depth.to_le_bytes().to_vec()),
            ..base.clone()
        };
        match run_job(engine, &job).0.outcome {
            Outcome::Completed { .. } => true,
            Outcome::Trapped(trap) => {
                assert_eq!(trap, TrapCode::StackOverflow, "depth {depth}");
                false
            }
        }
    };
    let (mut lo, mut hi) = (1, 1_000_000);
    assert!(completes(lo) && !completes(hi));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if completes(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The known limit of ARCHITECTURE.md ("Stack overflow"), measured: where a recursion overflows
/// wasmtime's 512 KiB wasm stack depends on native frame sizes, so on the code generator. An
/// integer recursion reaches the same depth on host-tuned and baseline x86-64; one that keeps
/// f64 values across its recursive call does not: baseline x86-64 (no SSE4.1) computes
/// `f64.nearest` and `f64.floor` by calling out, which keeps ten values live across the
/// recursive call in a 4x larger frame, while host-tuned code computes them after it.
#[test]
fn stack_overflow_depth_depends_on_codegen() {
    let integer = recursion_module(
        r#"(func $recurse (param i32) (result i32)
          (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
            (else (i32.add (call $recurse (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))"#,
    );
    let floats = recursion_module(
        r#"(func $recurse (param i32) (result i32)
          (local f64 f64 f64 f64 f64 f64 f64 f64 f64 f64)
          (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
            (else
              (local.set 1 (f64.convert_i32_u (local.get 0)))
              (local.set 2 (f64.mul (local.get 1) (local.get 1)))
              (local.set 3 (f64.sqrt (local.get 2)))
              (local.set 4 (f64.div (local.get 3) (f64.const 3)))
              (local.set 5 (f64.nearest (local.get 4)))
              (local.set 6 (f64.min (local.get 5) (local.get 2)))
              (local.set 7 (f64.max (local.get 6) (local.get 3)))
              (local.set 8 (f64.floor (local.get 7)))
              (local.set 9 (f64.copysign (local.get 8) (local.get 4)))
              (local.set 10 (f64.abs (local.get 9)))
              (i32.add (call $recurse (i32.sub (local.get 0) (i32.const 1)))
                (i32.trunc_sat_f64_s
                  (f64.add (f64.add (f64.add (local.get 1) (local.get 2)) (f64.add (local.get 3) (local.get 4)))
                    (f64.add (f64.add (f64.add (local.get 5) (local.get 6)) (f64.add (local.get 7) (local.get 8)))
                      (f64.add (local.get 9) (local.get 10)))))))))"#,
    );
    let [host, baseline] = codegens();
    let depths = |wat: &str| (depth_max(&host, wat), depth_max(&baseline, wat));
    let (integer, floats) = (depths(&integer), depths(&floats));
    println!("deepest recursion (host-tuned, baseline): integer {integer:?}, f64 {floats:?}");
    assert_eq!(integer.0, integer.1);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.1") {
        assert!(floats.0 > floats.1, "{floats:?}");
    }
}
