//! The honest execution of a job, in one place: what the provider runs and commits, what
//! `plexus job verify` and a verifier's full audit re-run, and the one segment a light audit
//! or the validators' dispute re-run executes.
//!
//! Every party goes through one [`Executor`]: one engine and one cache of compiled modules keyed
//! by module hash, so a dispute's repeated settlements or a provider's repeated jobs do not each
//! pay for a compilation. The rules every party shares are written here once:
//!
//! - **A job that cannot run is a refusal** ([`Refusal`]): a module that fails admission, one
//!   wasmtime cannot compile after admission, or content over the executor's limits. Retrying
//!   cannot help and it is the consumer's doing, so the provider commits a zero-fuel failure
//!   whose output is the refusal's text ([`refusal`]): that is what the chain settles (a refusal
//!   has no trace, so it is never audited or disputed, and bills nothing). A re-run of the whole
//!   job computes the same refusal. Compilation is deterministic, so a module that does not
//!   compile fails the same way everywhere.
//! - **No honest trace of such a job has a segment.** Re-running any segment of it fails with
//!   [`ReplayFailure::Refused`]: the validators' replayer reports the content invalid (the
//!   chain's authoritative answer: the provider that committed a trace for it cannot settle its
//!   dispute and loses at the deadline), and a light audit disagrees at once.
//! - **This machine's wall-clock backstop is never a verdict.** A run it stops bills what
//!   nobody else reproduces: the provider commits a refusal for its own job (it bills nothing),
//!   and a re-run of somebody else's job ([`Stopped`]) makes no claim at all.
//! - **The outcome of a re-run segment maps to the chain's [`Replayed`] in one place**
//!   ([`replayed`]), and so does a failure to the chain's [`ReplayError`]: missing content is
//!   unavailable (not a verdict), every other failure is content that does not fit.

use crate::{
    AdmissionError, Checkpoint, CheckpointSink, Compiled, Engine, EngineError, ExecError,
    Execution, Job, Outcome, PageSource, SegmentEnd, SegmentOutcome, TrapCode, admit,
};
use plexus_state::dispute::{ReplayEnd, ReplayError, Replayed};
use plexus_types::ContentHash;
use plexus_types::Digest;
use plexus_types::dissection::RevealedLeaf;
use plexus_types::job::Commitment;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Compiled modules kept in memory, by module hash: enough for the modules a provider's
/// concurrent jobs and a node's open disputes use at once (each holds its machine code).
pub const COMPILED_MODULES_MAX: usize = 16;

/// What the chain names of a job, with its input and blobs fetched (the module's bytes are
/// asked for only when the cache does not hold it compiled).
#[derive(Clone, Debug)]
pub struct Content {
    /// The job's id on chain.
    pub id: Digest,
    /// The module's content hash (the cache key).
    pub module: ContentHash,
    /// The input bytes.
    pub input: Arc<[u8]>,
    /// The blobs, in the job's order.
    pub blobs: Vec<Arc<[u8]>>,
    /// Fuel the job may consume.
    pub max_fuel: u64,
    /// The chain's fuel per segment.
    pub seg_fuel: u64,
}

/// Why a job cannot run at all: the consumer's doing, the same on every machine, committed as
/// a zero-fuel failure ([`refusal`]). The texts are the refusal's output, so they are fixed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Admission refused the module.
    #[error("{0}")]
    Admission(#[from] AdmissionError),
    /// wasmtime could not compile a module admission accepted.
    #[error("the module does not compile: {0}")]
    Compile(#[source] EngineError),
    /// The job's content or fuel is over the executor's limits.
    #[error("{0}")]
    Limit(#[source] ExecError),
}

/// A run stopped by this machine's wall-clock backstop: nobody else reproduces where it stopped,
/// so it proves nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the run passed this machine's wall-clock backstop of {wall_time_ms} ms")]
pub struct Stopped {
    /// The backstop that fired.
    pub wall_time_ms: u64,
}

/// Why one segment could not be re-run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayFailure {
    /// The job cannot run at all, so no trace of it has segments.
    #[error("the module is refused: {0}")]
    Refused(#[from] Refusal),
    /// The module traps while it is instantiated, so it has no segment 0.
    #[error("the module traps at instantiation")]
    InstantiationTrap,
    /// The checkpoint is not the agreed pre-state leaf (index, fuel and state root).
    #[error("checkpoint {index} is not the agreed pre-state")]
    NotAgreed {
        /// The checkpoint's index.
        index: u64,
    },
    /// Some content of the pre-state could not be read (a page missing, its source failing).
    #[error("content unavailable: {0}")]
    Unavailable(#[source] ExecError),
    /// The pre-state's content does not fit the job (a page that is not its hash, a checkpoint
    /// of another shape).
    #[error("{0}")]
    Invalid(#[source] ExecError),
}

impl From<ExecError> for ReplayFailure {
    fn from(err: ExecError) -> Self {
        match err {
            ExecError::MissingPage { .. } | ExecError::PageSource(_) => {
                ReplayFailure::Unavailable(err)
            }
            other => ReplayFailure::Invalid(other),
        }
    }
}

/// Block execution's view: content that is missing is unavailable (the block waits for it),
/// everything else is content that does not fit (the settlement fails the same on every node).
impl From<ReplayFailure> for ReplayError {
    fn from(failure: ReplayFailure) -> Self {
        match failure {
            ReplayFailure::Unavailable(err) => ReplayError::Unavailable(err.to_string()),
            other => ReplayError::Invalid(other.to_string()),
        }
    }
}

/// One engine and one compile cache: the one way every party executes jobs.
pub struct Executor {
    engine: Engine,
    compiled: Mutex<BTreeMap<ContentHash, Compiled>>,
}

impl Executor {
    /// An executor on `engine`, its cache empty.
    pub fn new(engine: Engine) -> Self {
        Executor {
            engine,
            compiled: Mutex::new(BTreeMap::new()),
        }
    }

    /// The engine jobs run on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Module `hash` compiled, from the cache, or else admitted and compiled from the bytes
    /// `fetch` returns (called only on a miss); `Ok(Err(_))` when the module is refused.
    pub fn compile<B: AsRef<[u8]>, E>(
        &self,
        hash: &ContentHash,
        fetch: impl FnOnce() -> Result<B, E>,
    ) -> Result<Result<Compiled, Refusal>, E> {
        let mut cache = self
            .compiled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(compiled) = cache.get(hash) {
            return Ok(Ok(compiled.clone()));
        }
        let bytes = fetch()?;
        let admitted = match admit(bytes.as_ref()) {
            Ok(admitted) => admitted,
            Err(err) => return Ok(Err(Refusal::Admission(err))),
        };
        let compiled = match self.engine.compile(&admitted) {
            Ok(compiled) => compiled,
            Err(err) => return Ok(Err(Refusal::Compile(err))),
        };
        if cache.len() >= COMPILED_MODULES_MAX {
            cache.pop_first();
        }
        cache.insert(*hash, compiled.clone());
        Ok(Ok(compiled))
    }

    /// The executor's job for `content` (its module from [`Executor::compile`]), or why it is
    /// refused: the module, or content over the limits.
    pub fn prepare<B: AsRef<[u8]>, E>(
        &self,
        content: Content,
        fetch_module: impl FnOnce() -> Result<B, E>,
    ) -> Result<Result<Job, Refusal>, E> {
        let module = match self.compile(&content.module, fetch_module)? {
            Ok(module) => module,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let job = Job {
            id: content.id.0,
            module,
            input: content.input,
            blobs: content.blobs,
            max_fuel: content.max_fuel,
            seg_fuel: content.seg_fuel,
        };
        Ok(match job.check() {
            Ok(()) => Ok(job),
            Err(err) => Err(Refusal::Limit(err)),
        })
    }

    /// Runs `job` to its end, its checkpoints to `sink`: the execution, or [`Stopped`] when
    /// this machine's wall-clock backstop ended it. `Err` is host-side (the sink).
    pub fn run(
        &self,
        job: &Job,
        sink: &mut impl CheckpointSink,
    ) -> Result<Result<Execution, Stopped>, ExecError> {
        let execution = crate::run(&self.engine, job, sink)?;
        if execution.outcome == Outcome::Trapped(TrapCode::WallTime) {
            return Ok(Err(Stopped {
                wall_time_ms: self.engine.options.wall_time_ms,
            }));
        }
        Ok(Ok(execution))
    }

    /// Re-runs segment 0 of `job` from the freshly instantiated module (leaf 0 needs no
    /// pre-state: every party instantiates the module itself).
    pub fn replay_first(&self, job: &Job) -> Result<SegmentOutcome, ReplayFailure> {
        crate::replay_first_segment(&self.engine, job)?.ok_or(ReplayFailure::InstantiationTrap)
    }

    /// Re-runs the segment after `checkpoint`, which must be the agreed pre-state leaf `pre`,
    /// its pages read from `pages` (each checked against its hash).
    pub fn replay_from(
        &self,
        job: &Job,
        pre: &RevealedLeaf,
        checkpoint: &Checkpoint,
        pages: &impl PageSource,
    ) -> Result<SegmentOutcome, ReplayFailure> {
        if !is_at(checkpoint, pre) {
            return Err(ReplayFailure::NotAgreed {
                index: checkpoint.index,
            });
        }
        Ok(crate::replay_segment(&self.engine, job, checkpoint, pages)?)
    }
}

/// Whether `checkpoint` is the leaf `pre`: its index, fuel and state root (the chain's own test
/// of a manifest against the agreed leaf, `plexus_state::dispute::manifest_matches`).
pub fn is_at(checkpoint: &Checkpoint, pre: &RevealedLeaf) -> bool {
    checkpoint.index == pre.index
        && checkpoint.fuel == pre.fuel
        && checkpoint.state_root() == pre.state_root
}

/// What an honest provider commits for `execution`.
pub fn commitment(execution: &Execution) -> Commitment {
    Commitment {
        output_hash: execution.output_hash,
        total_fuel: execution.total_fuel,
        // At most `TRACE_SEGMENTS_MAX` (`Job::check`), so it always fits.
        segments: u32::try_from(execution.segments).unwrap_or(u32::MAX),
        trace_root: execution.trace_root,
        failed: !matches!(execution.outcome, Outcome::Completed { .. }),
    }
}

/// The output text of a job refused for `reason`, and the commitment to it: no fuel, no trace
/// (a zero trace root), failed. The text is stored where the consumer can read why.
pub fn refusal(reason: &str) -> (String, Commitment) {
    let text = format!("refused: {reason}");
    let commitment = Commitment {
        output_hash: ContentHash::of(text.as_bytes()),
        total_fuel: 0,
        segments: 0,
        trace_root: ContentHash::ZERO,
        failed: true,
    };
    (text, commitment)
}

/// The post leaf and ending of a re-run segment as the chain compares them
/// (`plexus_state::dispute::transition_holds`).
pub fn replayed(outcome: &SegmentOutcome) -> Replayed {
    let end = match outcome.end {
        SegmentEnd::Checkpoint => ReplayEnd::Checkpoint,
        SegmentEnd::Finished {
            output_hash,
            failed: false,
        } => ReplayEnd::Finished { output_hash },
        SegmentEnd::Finished {
            output_hash,
            failed: true,
        } => ReplayEnd::OutputInvalid { output_hash },
        SegmentEnd::Trapped(trap) => ReplayEnd::Trapped { code: trap.code() },
    };
    Replayed {
        fuel: outcome.leaf.fuel,
        state_root: outcome.leaf.state_root,
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EngineOptions, MemoryCheckpoints};
    use plexus_types::limits::TRACE_SEGMENTS_MAX;
    use std::convert::Infallible;

    /// Three steps of a little work each, then done; output empty.
    const THREE_STEPS: &str = r#"(module
      (memory (export "memory") 1 1)
      (global $steps (mut i32) (i32.const 0))
      (global (export "plexus_output") i32 (i32.const 0))
      (func (export "init"))
      (func (export "step") (result i32)
        (local $i i32)
        (loop $l
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
        (global.set $steps (i32.add (global.get $steps) (i32.const 1)))
        (i32.sub (i32.const 3) (global.get $steps))))"#;

    fn executor(options: EngineOptions) -> Executor {
        Executor::new(Engine::new(options).unwrap())
    }

    fn content(wasm: &[u8], max_fuel: u64, seg_fuel: u64) -> Content {
        Content {
            id: plexus_types::hash(&[b"honest".as_slice()]),
            module: ContentHash::of(wasm),
            input: Arc::from(&b""[..]),
            blobs: Vec::new(),
            max_fuel,
            seg_fuel,
        }
    }

    fn prepare(executor: &Executor, content: Content, wasm: &[u8]) -> Result<Job, Refusal> {
        executor
            .prepare(content, || Ok::<_, Infallible>(wasm))
            .unwrap()
    }

    #[test]
    fn a_module_is_compiled_once_and_its_bytes_are_read_only_on_a_miss() {
        let wasm = wat::parse_str(THREE_STEPS).unwrap();
        let executor = executor(EngineOptions::default());
        let hash = ContentHash::of(&wasm);
        let first = executor
            .compile(&hash, || Ok::<_, Infallible>(&wasm))
            .unwrap()
            .unwrap();
        // A hit never asks for the bytes: a fetch that fails shows it.
        let second = executor
            .compile(&hash, || Err::<&[u8], _>("fetched"))
            .unwrap()
            .unwrap();
        assert!(second.is_for(executor.engine()));
        assert_eq!(first.hash, second.hash);
        assert!(matches!(
            executor.compile(&ContentHash::from_bytes([9; 32]), || Err::<&[u8], _>(
                "fetched"
            )),
            Err("fetched")
        ));
    }

    #[test]
    fn a_refused_module_and_content_over_the_limits_are_refusals_with_fixed_texts() {
        let executor = executor(EngineOptions::default());
        let garbage = b"\0asm garbage";
        let refused = prepare(&executor, content(garbage, 1_000, 100), garbage).unwrap_err();
        assert!(matches!(refused, Refusal::Admission(_)), "{refused}");
        // More segments than a trace may have.
        let wasm = wat::parse_str(THREE_STEPS).unwrap();
        let long = content(&wasm, TRACE_SEGMENTS_MAX * 100, 100);
        let refused = prepare(&executor, long, &wasm).unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!(
                "segments is {TRACE_SEGMENTS_MAX}, over the limit of {}",
                TRACE_SEGMENTS_MAX - 1
            )
        );
        let (text, commitment) = refusal(&refused.to_string());
        assert_eq!(text, format!("refused: {refused}"));
        assert_eq!(commitment.output_hash, ContentHash::of(text.as_bytes()));
        assert_eq!((commitment.total_fuel, commitment.segments), (0, 0));
        assert!(commitment.failed);
        // The chain's replayer calls it content that does not fit.
        let err = ReplayError::from(ReplayFailure::Refused(refused));
        assert!(matches!(err, ReplayError::Invalid(_)), "{err}");
    }

    #[test]
    fn a_segment_re_run_gives_the_runs_leaf_and_refuses_a_pre_state_that_is_not_agreed() {
        let wasm = wat::parse_str(THREE_STEPS).unwrap();
        let executor = executor(EngineOptions::default());
        let job = prepare(&executor, content(&wasm, 1_000_000, 1_000), &wasm).unwrap();
        let mut sink = MemoryCheckpoints::default();
        let execution = executor.run(&job, &mut sink).unwrap().unwrap();
        assert_eq!(execution.segments, 3);
        assert_eq!(commitment(&execution).segments, 3);
        let first = executor.replay_first(&job).unwrap();
        assert_eq!(first.leaf, execution.leaves[1]);
        assert_eq!(replayed(&first).end, ReplayEnd::Checkpoint);
        let checkpoint = &sink.checkpoints[2];
        let pre = RevealedLeaf {
            index: 2,
            fuel: checkpoint.fuel,
            state_root: checkpoint.state_root(),
        };
        let last = executor.replay_from(&job, &pre, checkpoint, &sink).unwrap();
        assert_eq!(last.leaf, execution.leaves[3]);
        assert_eq!(
            replayed(&last).end,
            ReplayEnd::Finished {
                output_hash: execution.output_hash
            }
        );
        // The same checkpoint offered as another leaf's pre-state: refused, not re-run.
        let elsewhere = RevealedLeaf { index: 1, ..pre };
        let err = executor
            .replay_from(&job, &elsewhere, checkpoint, &sink)
            .unwrap_err();
        assert!(
            matches!(err, ReplayFailure::NotAgreed { index: 2 }),
            "{err}"
        );
        // A page nobody has: unavailable, never a verdict.
        let empty = MemoryCheckpoints::default();
        let err = executor
            .replay_from(&job, &pre, checkpoint, &empty)
            .unwrap_err();
        assert!(matches!(
            ReplayError::from(err),
            ReplayError::Unavailable(_)
        ));
    }

    #[test]
    fn a_run_stopped_by_the_wall_clock_backstop_is_no_execution() {
        let wasm = wat::parse_str(THREE_STEPS).unwrap();
        // A backstop of 0 ms fires after `init`.
        let executor = executor(EngineOptions {
            wall_time_ms: 0,
            ..Default::default()
        });
        let job = prepare(&executor, content(&wasm, 1_000_000, 1_000), &wasm).unwrap();
        let stopped = executor
            .run(&job, &mut crate::DiscardCheckpoints)
            .unwrap()
            .unwrap_err();
        assert_eq!(stopped, Stopped { wall_time_ms: 0 });
    }
}
