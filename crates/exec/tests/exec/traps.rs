//! Traps: each one billed as the rules say, the same on both code generators, and the trapping
//! segment replayed to the committed trap leaf.

use crate::{assert_replays, codegens, engine, job, run_job};
use plexus_exec::{
    Engine, Execution, Job, Leaf, Outcome, SegmentEnd, SegmentOutcome, TrapCode,
    replay_first_segment, replay_segment,
};
use plexus_types::trace::trap_root;
use std::sync::Arc;

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
          (import "plexus" "quantize_rows" (func $quantize (param i32 i32 i32 i32 i32)))
          (import "plexus" "dequantize_rows" (func $dequantize (param i32 i32 i32 i32 i32 i32 i32 i32)))
          (import "plexus" "layer_norm" (func $layer_norm (param i32 i32 i32 i32 i32 f32)))
          (import "plexus" "gelu" (func $gelu (param i32 i32)))
          (import "plexus" "attention" (func $attention (param i32 i32 i32 i32 i32)))
          (import "plexus" "kv_attention"
            (func $kv_attention (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
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
fn out_of_fuel_paying_a_float_host_call_bills_max_fuel() {
    // 2^31 - 1 floats cost far more fuel than the job has: refused before any range check.
    check_call_trap(
        "(call $gelu (i32.const 0) (i32.const 0x7fffffff))",
        TrapCode::OutOfFuel,
    );
    // kv_attention pays for its rows before it reads their positions (past the end of memory
    // here): out of fuel, not a bad call.
    check_call_trap(
        &kv("0x7fffffff 2 1 64 1 1 2 0 0 0 0 0 0"),
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

/// A `kv_attention` call with these thirteen i32 arguments (space-separated): rows, heads,
/// kv_heads, head_dim, slots, context, stride, residual, then the pointers qkv, at, cache,
/// scales, out.
fn kv(args: &str) -> String {
    let args: Vec<String> = args
        .split(' ')
        .map(|a| format!("(i32.const {a})"))
        .collect();
    format!("(call $kv_attention {})", args.join(" "))
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
        // The float host calls: a negative size, a range past the end of memory, a bad shape.
        "(call $quantize (i32.const -1) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0))",
        "(call $quantize (i32.const 100) (i32.const 100) (i32.const 30000) (i32.const 0) (i32.const 0))",
        "(call $quantize (i32.const 2) (i32.const 2) (i32.const 0) (i32.const 0) (i32.const 65534))",
        "(call $dequantize (i32.const 2) (i32.const -2) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))",
        "(call $dequantize (i32.const 2) (i32.const 2) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 65532) (i32.const 0) (i32.const 0))",
        "(call $dequantize (i32.const 100) (i32.const 100) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 30000) (i32.const 1))",
        "(call $layer_norm (i32.const -5) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 0) (f32.const 1e-12))",
        "(call $layer_norm (i32.const 1) (i32.const 4) (i32.const 0) (i32.const 65530) (i32.const 0) (f32.const 1e-12))",
        "(call $gelu (i32.const 0) (i32.const -1))",
        "(call $gelu (i32.const 65532) (i32.const 2))",
        "(call $attention (i32.const 2) (i32.const 8) (i32.const 0) (i32.const 0) (i32.const 0))",
        "(call $attention (i32.const 2) (i32.const 10) (i32.const 3) (i32.const 0) (i32.const 0))",
        "(call $attention (i32.const 2) (i32.const -8) (i32.const 2) (i32.const 0) (i32.const 0))",
        "(call $attention (i32.const 100) (i32.const 64) (i32.const 2) (i32.const 0) (i32.const 0))",
        // kv_attention: no key/value head, heads not a multiple of them, a negative size, a
        // stride below 2 * kv_heads (below 4 * kv_heads with a residual cache), a residual flag
        // other than 0 or 1, a row outside the cache (slot 0 of none; position 5 of 4; slot
        // -1), a range past memory (`at`, the cache, a cache spread by its stride, `out`, a
        // residual cache that fits only without its residuals).
        &kv("1 2 1 4 1 1 3 1 0 0 0 0 0"),
        &kv("1 2 1 4 1 1 2 2 0 0 0 0 0"),
        &kv("1 2 1 4 1 1 4 -1 0 0 0 0 0"),
        &kv("1 2 1 4 4 4 4 1 0 1024 0 65286 0"),
        &kv("1 2 0 4 1 1 0 0 0 0 0 0 0"),
        &kv("1 3 2 4 1 1 4 0 0 0 0 0 0"),
        &kv("1 2 1 4 1 -1 2 0 0 0 0 0 0"),
        &kv("1 2 1 4 1 1 1 0 0 0 0 0 0"),
        &kv("1 2 1 4 0 1 2 0 0 1024 0 0 0"),
        &format!(
            "(i32.store (i32.const 1028) (i32.const 5)) {}",
            kv("1 2 1 4 1 4 2 0 0 1024 0 0 0")
        ),
        &format!(
            "(i32.store (i32.const 1024) (i32.const -1)) {}",
            kv("1 2 1 4 1 4 2 0 0 1024 0 0 0")
        ),
        &kv("1 2 1 4 1 1 2 0 0 65532 0 0 0"),
        &kv("1 2 1 4 1 1 2 0 0 1024 65530 0 0"),
        &kv("1 2 1 4 1 2 100000 0 0 1024 0 0 0"),
        &kv("1 2 1 4 1 1 2 0 0 1024 0 0 65510"),
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
        // 32 MiB named: more than OUTPUT_BYTES_MAX.
        (r#"\10\00\00\00\00\00\00\02"#, TrapCode::OutputTooLarge),
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
