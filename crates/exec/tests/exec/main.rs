//! Execution: determinism, traps, limits, host calls, checkpoints and single-segment replay.
//!
//! One test binary (`exec`) in topic modules: `determinism` (runs, code generators and the
//! trace's definitions), `limits` (fuel, wall time, memory and stack), `traps` (every trap's
//! bill and replay), `host` (host calls and host-side errors), `floats` (the exact float host
//! calls against their kernels), `checkpoints` (what replay
//! refuses, what a run stores). This file holds the jobs and checks they share.

mod checkpoints;
mod determinism;
mod floats;
mod host;
mod limits;
mod traps;

use plexus_exec::{
    Engine, EngineOptions, Execution, Job, MemoryCheckpoints, Outcome, SegmentEnd, admit,
    replay_first_segment, replay_segment, run,
};
use plexus_types::trace::trap_root;
use std::sync::Arc;

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

/// The two code generators providers and validators may use: host-tuned and baseline ISA.
fn codegens() -> [Engine; 2] {
    let baseline = Engine::new(EngineOptions {
        baseline_isa: true,
        ..EngineOptions::default()
    })
    .unwrap();
    [engine(), baseline]
}
