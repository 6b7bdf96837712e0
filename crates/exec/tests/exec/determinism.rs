//! Determinism: the same job gives the same trace on every run and code generator, metered or
//! not, and the trace's hashes are the ones the spec defines.

use crate::{COUNTER, JOB_ID, assert_replays, engine, job, run_job};
use plexus_exec::{Engine, EngineOptions, Job, Outcome, job_seed, random_bytes};
use plexus_types::{ContentHash, trace::trap_root};
use std::sync::Arc;

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
