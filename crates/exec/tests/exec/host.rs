//! Host calls and host-side errors: `gemm_i8` against the native kernel and its fuel formula,
//! and what the host refuses as an `ExecError`.

use crate::{COUNTER, engine, job, run_job};
use plexus_exec::{Checkpoint, ExecError, Job, MemoryCheckpoints, Outcome, gemm_i8, run};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::{io, sync::Arc};

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
