//! Limits: fuel, the wall-clock backstop, the declared memory maximum and the stack.

use crate::{COUNTER, assert_replays, codegens, engine, job, run_job};
use plexus_exec::{Engine, EngineOptions, Job, Leaf, Outcome, TrapCode};
use plexus_types::trace::trap_root;
use std::sync::Arc;

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
