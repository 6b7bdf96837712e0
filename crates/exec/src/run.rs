//! Running a job (`run`) and re-running one segment from a checkpoint (`replay_segment`).
//!
//! Both drive the same [`Machine`] through the same segment loop, so a replay computes exactly
//! what the run committed: segment `i` starts at checkpoint `i` (segment 0 with `init`, every
//! other with `step`) and ends after the first call that brings the fuel since checkpoint `i` to
//! `seg_fuel` or more, or after `step` returned 0, or at a trap. A trap ends the trace with the
//! trap leaf `(its bill, trap_root(code))`. The output is read from the final state; an invalid
//! output record is a trap outcome judged on that state (the trace then ends with the final
//! checkpoint, no extra leaf).
//!
//! The bill of a trap is decided in one place, `Machine::trap_fuel`, called by the segment loop
//! that the run, a light audit's re-run and the validators' dispute re-run all share:
//! - a trap while `init` or `step` runs (a guest trap, or a host call's) bills `max_fuel`, as
//!   the EVM charges all gas on an exceptional halt. wasmtime writes its fuel counter back to
//!   the store only at calls, returns and `unreachable`, not before a signal-based trap (an
//!   out-of-bounds access, a division by zero, a stack overflow), so the store's count at a trap
//!   misses the work since the last write-back: a loop of 10^7 iterations ending in an
//!   out-of-bounds load read as 1 fuel. `max_fuel` is never less than the work done, is the
//!   same on every machine and codegen, and is what the consumer escrowed;
//! - the wall-clock backstop (`wall_time`, the provider's own limit, not reproducible) bills
//!   the fuel of the calls that completed, exact because it is read at a call boundary: never
//!   more than the work done, so claiming it cannot earn more than finishing would;
//! - a trap while instantiating bills nothing (no guest code ran), and an invalid output
//!   record bills the fuel of the completed run, exact at its clean return (see `run_inner`).
//!
//! A guest can only ever produce an [`Outcome`]; [`ExecError`] is for host-side problems.
//!
//! Known limit: where a `stack_overflow` trap fires depends on the size of native stack frames
//! (wasmtime's default 512 KiB wasm stack), which is a property of the code generator rather
//! than of the module: the bill of the trap is fixed (`max_fuel`), but a recursion near the
//! limit can complete on one codegen and overflow on another (ARCHITECTURE.md, "Stack
//! overflow"). Every other trap point is fixed by the module and the fuel.

use crate::{
    INPUT_BYTES_MAX, MEMORY_PAGES_MAX, OUTPUT_BYTES_MAX, TABLE_ELEMENTS_MAX,
    admission::OUTPUT_EXPORT,
    checkpoint::{Checkpoint, CheckpointSink, NewPage, PageSource, Snapshotter},
    engine::{Compiled, EPOCH_TICK_MS, Engine},
    host::{HostState, HostTrap, job_seed},
};
use plexus_types::ContentHash;
use plexus_types::limits::{BLOB_BYTES_MAX, JOB_BLOBS_MAX, JOB_FUEL_MAX, TRACE_SEGMENTS_MAX};
use plexus_types::trace::{self, GlobalValue, PAGE_BYTES, TrapCode, page_hash, trap_root};
use std::{
    io,
    sync::Arc,
    time::{Duration, Instant},
};
use wasmtime::{Global, Memory, Store, StoreLimitsBuilder, Trap, TypedFunc, Val};

/// A job as the executor runs it.
#[derive(Clone, Debug)]
pub struct Job {
    /// The job's id on chain (seeds `random_fill`).
    pub id: [u8; 32],
    /// The module, compiled on the engine that runs the job.
    pub module: Compiled,
    /// The input bytes (at most `INPUT_BYTES_MAX`).
    pub input: Arc<[u8]>,
    /// The blobs, in the job's order (at most `JOB_BLOBS_MAX`, each at most `BLOB_BYTES_MAX`).
    pub blobs: Vec<Arc<[u8]>>,
    /// Fuel the job may consume (at most `JOB_FUEL_MAX`).
    pub max_fuel: u64,
    /// Fuel per segment (at least `max_fuel / TRACE_SEGMENTS_MAX + 1`, so the trace stays
    /// bounded).
    pub seg_fuel: u64,
}

impl Job {
    /// Checks the job's sizes against the limits.
    pub fn check(&self) -> Result<(), ExecError> {
        let limit = |what, value: u64, max: u64| {
            if value > max {
                Err(ExecError::Limit { what, value, max })
            } else {
                Ok(())
            }
        };
        limit(
            "input bytes",
            self.input.len() as u64,
            INPUT_BYTES_MAX as u64,
        )?;
        limit("blobs", self.blobs.len() as u64, JOB_BLOBS_MAX as u64)?;
        for blob in &self.blobs {
            limit("blob bytes", blob.len() as u64, BLOB_BYTES_MAX)?;
        }
        limit("max fuel", self.max_fuel, JOB_FUEL_MAX)?;
        if self.seg_fuel == 0 {
            return Err(ExecError::Limit {
                what: "segments",
                value: u64::MAX,
                max: TRACE_SEGMENTS_MAX,
            });
        }
        limit(
            "segments",
            self.max_fuel / self.seg_fuel,
            TRACE_SEGMENTS_MAX - 1,
        )
    }
}

/// One leaf of the trace (its index is its position).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// Cumulative fuel.
    pub fuel: u64,
    /// State root, or `trap_root(code)` for a trap leaf.
    pub state_root: ContentHash,
}

impl Leaf {
    /// `trace::leaf(index, fuel, state_root)`.
    pub fn hash(&self, index: u64) -> ContentHash {
        trace::leaf(index, self.fuel, &self.state_root)
    }
}

/// How a job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `step` returned 0 and the output record was valid.
    Completed {
        /// The output bytes.
        output: Vec<u8>,
    },
    /// The job failed.
    Trapped(TrapCode),
}

/// The result of a run: what the provider commits to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// How the job ended.
    pub outcome: Outcome,
    /// `ContentHash::of(output)`, or `trap_root(code)` for a trapped job.
    pub output_hash: ContentHash,
    /// Fuel consumed (0 without metering).
    pub total_fuel: u64,
    /// The trace (empty without metering).
    pub leaves: Vec<Leaf>,
    /// `trace_root` of the leaf hashes.
    pub trace_root: ContentHash,
    /// `leaves.len() - 1` (0 without metering).
    pub segments: u64,
}

/// How a replayed segment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentEnd {
    /// At a checkpoint, with more steps to run.
    Checkpoint,
    /// `step` returned 0: this was the last segment. `output_hash` is what the run commits to
    /// (`ContentHash::of(output)`, or `trap_root(code)` with `failed` when the output record is
    /// invalid).
    Finished {
        /// The job's output hash.
        output_hash: ContentHash,
        /// Whether the output record was invalid (the job failed at its end).
        failed: bool,
    },
    /// A trap; the leaf is the trap leaf.
    Trapped(TrapCode),
}

/// The result of re-running one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentOutcome {
    /// Index of the post leaf (`pre.index + 1`).
    pub index: u64,
    /// The post leaf.
    pub leaf: Leaf,
    /// How the segment ended.
    pub end: SegmentEnd,
}

/// A host-side failure: never caused by what the guest does.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A job parameter is over its limit.
    #[error("{what} is {value}, over the limit of {max}")]
    Limit {
        /// What was measured.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The limit.
        max: u64,
    },
    /// The job's module was compiled on another engine.
    #[error("module {hash} was compiled on a different engine")]
    EngineMismatch {
        /// The module's hash.
        hash: ContentHash,
    },
    /// Instantiation or wiring failed for a reason other than a guest trap.
    #[error("instantiating module {hash}: {source}")]
    Instantiate {
        /// The module's hash.
        hash: ContentHash,
        /// wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// The checkpoint sink failed.
    #[error("checkpoint sink: {0}")]
    Sink(#[source] io::Error),
    /// Replay needs metering.
    #[error("replay needs a metering engine")]
    NotMetered,
    /// The checkpoint does not fit the module or the job.
    #[error("checkpoint {index} does not fit the job: {reason}")]
    CheckpointShape {
        /// Checkpoint index.
        index: u64,
        /// What does not fit.
        reason: &'static str,
    },
    /// The page source failed.
    #[error("page source: {0}")]
    PageSource(#[source] io::Error),
    /// A page of the checkpoint is unknown to the page source.
    #[error("page {page} ({hash}) is missing")]
    MissingPage {
        /// Page index.
        page: u32,
        /// Its hash.
        hash: ContentHash,
    },
    /// A page's bytes do not match its hash.
    #[error("page {page} does not match its hash {hash}")]
    PageMismatch {
        /// Page index.
        page: u32,
        /// The hash the checkpoint names.
        hash: ContentHash,
    },
}

/// How one segment of calls ended, with the cumulative fuel at that point.
enum Stop {
    Checkpoint(u64),
    Finished(u64),
    Trapped(TrapCode, u64),
}

/// An instantiated job: a store and the handles the executor needs.
struct Machine {
    store: Store<HostState>,
    memory: Memory,
    init: TypedFunc<(), ()>,
    step: TypedFunc<(), i32>,
    globals: Vec<Global>,
    output: Global,
    metering: bool,
    max_fuel: u64,
    /// When the wall-clock backstop fires (checked after every call); `None` if never.
    deadline: Option<Instant>,
}

fn classify(error: &wasmtime::Error) -> TrapCode {
    if let Some(HostTrap(code)) = error.downcast_ref::<HostTrap>() {
        return *code;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => TrapCode::OutOfFuel,
        Some(Trap::MemoryOutOfBounds) => TrapCode::MemoryOutOfBounds,
        Some(Trap::UnreachableCodeReached) => TrapCode::Unreachable,
        Some(Trap::StackOverflow) => TrapCode::StackOverflow,
        Some(Trap::IntegerDivisionByZero | Trap::IntegerOverflow) => TrapCode::IntegerDivision,
        Some(Trap::Interrupt) => TrapCode::WallTime,
        _ => TrapCode::Other,
    }
}

impl Machine {
    /// Instantiates the job's module; `Ok(Err(code))` if instantiation itself trapped (an
    /// out-of-bounds data or element segment).
    fn new(engine: &Engine, job: &Job) -> Result<Result<Self, TrapCode>, ExecError> {
        job.check()?;
        let hash = job.module.hash;
        if !job.module.is_for(engine) {
            return Err(ExecError::EngineMismatch { hash });
        }
        let metering = engine.options.metering;
        let deadline =
            Instant::now().checked_add(Duration::from_millis(engine.options.wall_time_ms));
        let limits = StoreLimitsBuilder::new()
            .memory_size(MEMORY_PAGES_MAX as usize * PAGE_BYTES)
            .table_elements(TABLE_ELEMENTS_MAX as usize)
            .instances(1)
            .memories(1)
            .build();
        let state = HostState {
            input: job.input.clone(),
            blobs: job.blobs.clone(),
            seed: job_seed(&job.id),
            metering,
            memory: None,
            scratch: Vec::new(),
            limits,
        };
        let mut store = Store::new(&engine.inner, state);
        store.limiter(|state| &mut state.limits);
        let wiring = |source| ExecError::Instantiate { hash, source };
        if metering {
            store.set_fuel(job.max_fuel).map_err(wiring)?;
        }
        if engine.options.epoch_backstop {
            store.set_epoch_deadline(engine.options.wall_time_ms.div_ceil(EPOCH_TICK_MS));
            store.epoch_deadline_trap();
        }
        let instance = match job.module.pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(error) if error.downcast_ref::<Trap>().is_some() => {
                return Ok(Err(classify(&error)));
            }
            Err(error) => return Err(wiring(error)),
        };
        let missing = |name: &str| wiring(wasmtime::Error::msg(format!("missing export {name}")));
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| missing("memory"))?;
        store.data_mut().memory = Some(memory);
        let init = instance
            .get_typed_func(&mut store, "init")
            .map_err(wiring)?;
        let step = instance
            .get_typed_func(&mut store, "step")
            .map_err(wiring)?;
        let output = instance
            .get_global(&mut store, OUTPUT_EXPORT)
            .ok_or_else(|| missing(OUTPUT_EXPORT))?;
        let mut globals = Vec::with_capacity(job.module.globals.len());
        for name in job.module.globals.iter() {
            let global = instance
                .get_global(&mut store, name)
                .ok_or_else(|| missing(name))?;
            globals.push(global);
        }
        Ok(Ok(Self {
            store,
            memory,
            init,
            step,
            globals,
            output,
            metering,
            max_fuel: job.max_fuel,
            deadline,
        }))
    }

    /// Cumulative fuel consumed (0 without metering).
    fn fuel(&self) -> u64 {
        if !self.metering {
            return 0;
        }
        let remaining = self.store.get_fuel().unwrap_or(0);
        self.max_fuel.saturating_sub(remaining)
    }

    /// Runs one segment that starts at cumulative fuel `start` (with `init` if `first`).
    fn segment(&mut self, first: bool, start: u64, seg_fuel: u64) -> Stop {
        let mut call_init = first;
        // Fuel at the last call boundary: what the calls that completed used.
        let mut completed = start;
        loop {
            let result = if call_init {
                self.init.call(&mut self.store, ()).map(|()| 1)
            } else {
                self.step.call(&mut self.store, ())
            };
            call_init = false;
            let code = match result {
                Ok(code) => code,
                Err(error) => {
                    let trap = classify(&error);
                    return Stop::Trapped(trap, self.trap_fuel(trap, completed));
                }
            };
            completed = self.fuel();
            if code == 0 {
                return Stop::Finished(completed);
            }
            if self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                let trap = TrapCode::WallTime;
                return Stop::Trapped(trap, self.trap_fuel(trap, completed));
            }
            if self.metering && completed - start >= seg_fuel {
                return Stop::Checkpoint(completed);
            }
        }
    }

    /// The cumulative fuel billed when `trap` ends the job during `init` or `step` (the rule of
    /// the module docs; 0 without metering): `max_fuel` for every trap but the wall-clock
    /// backstop, which bills `completed`, the fuel at the last call boundary. The store's own
    /// count is never read here: after a signal-based trap it is stale.
    fn trap_fuel(&self, trap: TrapCode, completed: u64) -> u64 {
        match trap {
            _ if !self.metering => 0,
            TrapCode::WallTime => completed,
            _ => self.max_fuel,
        }
    }

    fn globals(&mut self) -> Vec<GlobalValue> {
        self.globals
            .iter()
            .map(|global| match global.get(&mut self.store) {
                Val::I32(value) => GlobalValue::I32(value),
                Val::I64(value) => GlobalValue::I64(value),
                Val::F32(bits) => GlobalValue::F32(bits),
                Val::F64(bits) => GlobalValue::F64(bits),
                Val::V128(bits) => GlobalValue::V128(bits.as_u128()),
                // Unreachable: admission refuses mutable globals of reference type, and these
                // are exactly the module's mutable globals.
                _ => GlobalValue::I32(0),
            })
            .collect()
    }

    /// Takes checkpoint `index` at `fuel`, hashing the pages changed since the last one.
    fn checkpoint(
        &mut self,
        index: u64,
        fuel: u64,
        snapshotter: &mut Snapshotter,
    ) -> (Checkpoint, Vec<u32>) {
        let globals = self.globals();
        let (pages, changed) = snapshotter.update(self.memory.data(&self.store));
        let checkpoint = Checkpoint {
            index,
            fuel,
            globals,
            pages: pages.to_vec(),
        };
        (checkpoint, changed.to_vec())
    }

    /// The output bytes named by the output record.
    fn output(&mut self) -> Result<Vec<u8>, TrapCode> {
        let Val::I32(record) = self.output.get(&mut self.store) else {
            return Err(TrapCode::OutputOutOfBounds);
        };
        let data = self.memory.data(&self.store);
        let record = record as u32 as usize;
        let field = |at: usize| -> Option<usize> {
            let bytes = data.get(at..at.checked_add(4)?)?;
            Some(u32::from_le_bytes(bytes.try_into().ok()?) as usize)
        };
        let (Some(ptr), Some(len)) = (field(record), record.checked_add(4).and_then(field)) else {
            return Err(TrapCode::OutputOutOfBounds);
        };
        if len > OUTPUT_BYTES_MAX {
            return Err(TrapCode::OutputTooLarge);
        }
        data.get(ptr..ptr + len)
            .map(<[u8]>::to_vec)
            .ok_or(TrapCode::OutputOutOfBounds)
    }
}

fn emit(
    sink: &mut impl CheckpointSink,
    checkpoint: &Checkpoint,
    changed: &[u32],
    memory: &[u8],
) -> Result<(), ExecError> {
    let new_pages: Vec<NewPage<'_>> = changed
        .iter()
        .map(|index| {
            let start = *index as usize * PAGE_BYTES;
            NewPage {
                index: *index,
                hash: checkpoint.pages[*index as usize],
                bytes: &memory[start..start + PAGE_BYTES],
            }
        })
        .collect();
    sink.checkpoint(checkpoint, &new_pages)
        .map_err(ExecError::Sink)
}

/// Runs `job` to the end, handing every checkpoint to `sink` (none without metering).
pub fn run(
    engine: &Engine,
    job: &Job,
    sink: &mut impl CheckpointSink,
) -> Result<Execution, ExecError> {
    run_measured(engine, job, sink).map(|(execution, _)| execution)
}

/// What a run spent on checkpoints (wall time: for benchmarks and the provider's logs, never part
/// of a commitment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Checkpoints taken.
    pub checkpoints: u64,
    /// Time spent taking them: reading globals, finding and hashing changed pages, the state
    /// root, and the sink.
    pub checkpoint_time: std::time::Duration,
    /// The part of `checkpoint_time` spent hashing pages.
    pub hash_time: std::time::Duration,
}

/// [`run`], also returning what the checkpoints cost.
pub fn run_measured(
    engine: &Engine,
    job: &Job,
    sink: &mut impl CheckpointSink,
) -> Result<(Execution, RunStats), ExecError> {
    let mut stats = RunStats::default();
    let execution = run_inner(engine, job, sink, &mut stats)?;
    Ok((execution, stats))
}

fn run_inner(
    engine: &Engine,
    job: &Job,
    sink: &mut impl CheckpointSink,
    stats: &mut RunStats,
) -> Result<Execution, ExecError> {
    let mut leaves = Vec::new();
    let mut machine = match Machine::new(engine, job)? {
        Ok(machine) => machine,
        // No guest code ran: a trap while instantiating bills nothing.
        Err(trap) => {
            if engine.options.metering {
                leaves.push(Leaf {
                    fuel: 0,
                    state_root: trap_root(trap.code()),
                });
            }
            return Ok(finish(Outcome::Trapped(trap), 0, leaves));
        }
    };
    let metering = machine.metering;
    let mut snapshotter = Snapshotter::default();
    let mut take = |machine: &mut Machine, index: u64, fuel: u64, leaves: &mut Vec<Leaf>| {
        let started = std::time::Instant::now();
        let (checkpoint, changed) = machine.checkpoint(index, fuel, &mut snapshotter);
        leaves.push(Leaf {
            fuel,
            state_root: checkpoint.state_root(),
        });
        let emitted = emit(
            sink,
            &checkpoint,
            &changed,
            machine.memory.data(&machine.store),
        );
        stats.checkpoints += 1;
        stats.checkpoint_time += started.elapsed();
        stats.hash_time = snapshotter.hash_time;
        emitted
    };
    if metering {
        take(&mut machine, 0, 0, &mut leaves)?;
    }
    let seg_fuel = if metering { job.seg_fuel } else { u64::MAX };
    let mut index = 0u64;
    let mut start = 0u64;
    loop {
        match machine.segment(index == 0, start, seg_fuel) {
            Stop::Trapped(trap, fuel) => {
                if metering {
                    leaves.push(Leaf {
                        fuel,
                        state_root: trap_root(trap.code()),
                    });
                }
                return Ok(finish(Outcome::Trapped(trap), fuel, leaves));
            }
            Stop::Checkpoint(fuel) => {
                index += 1;
                start = fuel;
                take(&mut machine, index, fuel, &mut leaves)?;
            }
            Stop::Finished(fuel) => {
                if metering {
                    take(&mut machine, index + 1, fuel, &mut leaves)?;
                }
                let outcome = match machine.output() {
                    Ok(output) => Outcome::Completed { output },
                    Err(trap) => Outcome::Trapped(trap),
                };
                return Ok(finish(outcome, fuel, leaves));
            }
        }
    }
}

fn finish(outcome: Outcome, total_fuel: u64, leaves: Vec<Leaf>) -> Execution {
    let output_hash = match &outcome {
        Outcome::Completed { output } => ContentHash::of(output),
        Outcome::Trapped(trap) => trap_root(trap.code()),
    };
    let hashes: Vec<ContentHash> = (0u64..)
        .zip(&leaves)
        .map(|(index, leaf)| leaf.hash(index))
        .collect();
    Execution {
        outcome,
        output_hash,
        total_fuel,
        trace_root: trace::trace_root(&hashes),
        segments: (leaves.len() as u64).saturating_sub(1),
        leaves,
    }
}

/// Re-runs segment `pre.index` of `job` from checkpoint `pre` (pages from `pages`, each checked
/// against its hash) and returns the post leaf. `pre` must not be the job's final checkpoint.
pub fn replay_segment(
    engine: &Engine,
    job: &Job,
    pre: &Checkpoint,
    pages: &impl PageSource,
) -> Result<SegmentOutcome, ExecError> {
    if !engine.options.metering {
        return Err(ExecError::NotMetered);
    }
    let mut machine = match Machine::new(engine, job)? {
        Ok(machine) => machine,
        // The module traps before checkpoint 0 exists, so no checkpoint can be valid for it.
        Err(_) => {
            return Err(ExecError::CheckpointShape {
                index: pre.index,
                reason: "the module traps at instantiation",
            });
        }
    };
    let mut snapshotter = restore(&mut machine, pre, pages)?;
    Ok(finish_segment(
        &mut machine,
        pre.index,
        pre.fuel,
        job.seg_fuel,
        &mut snapshotter,
    ))
}

/// Re-runs segment 0 of `job` from the freshly instantiated module: checkpoint 0 is whatever
/// instantiation gives, so no pages are needed. `Ok(None)` if instantiation itself traps (such a
/// job has no segment 0).
pub fn replay_first_segment(
    engine: &Engine,
    job: &Job,
) -> Result<Option<SegmentOutcome>, ExecError> {
    if !engine.options.metering {
        return Err(ExecError::NotMetered);
    }
    let mut machine = match Machine::new(engine, job)? {
        Ok(machine) => machine,
        Err(_) => return Ok(None),
    };
    let mut snapshotter = Snapshotter::default();
    // Primes the snapshotter with checkpoint 0's pages, as a run does.
    machine.checkpoint(0, 0, &mut snapshotter);
    Ok(Some(finish_segment(
        &mut machine,
        0,
        0,
        job.seg_fuel,
        &mut snapshotter,
    )))
}

/// Runs the segment after checkpoint `pre_index` (at cumulative fuel `pre_fuel`) and returns its
/// post leaf and how it ended.
fn finish_segment(
    machine: &mut Machine,
    pre_index: u64,
    pre_fuel: u64,
    seg_fuel: u64,
    snapshotter: &mut Snapshotter,
) -> SegmentOutcome {
    let index = pre_index + 1;
    let leaf = |fuel, state_root| Leaf { fuel, state_root };
    let (leaf, end) = match machine.segment(pre_index == 0, pre_fuel, seg_fuel) {
        Stop::Trapped(trap, fuel) => (
            leaf(fuel, trap_root(trap.code())),
            SegmentEnd::Trapped(trap),
        ),
        Stop::Checkpoint(fuel) => {
            let (checkpoint, _) = machine.checkpoint(index, fuel, snapshotter);
            (leaf(fuel, checkpoint.state_root()), SegmentEnd::Checkpoint)
        }
        Stop::Finished(fuel) => {
            let (checkpoint, _) = machine.checkpoint(index, fuel, snapshotter);
            let (output_hash, failed) = match machine.output() {
                Ok(output) => (ContentHash::of(&output), false),
                Err(trap) => (trap_root(trap.code()), true),
            };
            (
                leaf(fuel, checkpoint.state_root()),
                SegmentEnd::Finished {
                    output_hash,
                    failed,
                },
            )
        }
    };
    SegmentOutcome { index, leaf, end }
}

/// Restores memory, globals and fuel from `pre`; returns a snapshotter primed with its pages.
fn restore(
    machine: &mut Machine,
    pre: &Checkpoint,
    pages: &impl PageSource,
) -> Result<Snapshotter, ExecError> {
    let shape = |reason| ExecError::CheckpointShape {
        index: pre.index,
        reason,
    };
    if pre.fuel > machine.max_fuel {
        return Err(shape("its fuel is above the job's max fuel"));
    }
    if pre.globals.len() != machine.globals.len() {
        return Err(shape("wrong number of globals"));
    }
    let target = pre.pages.len() as u64;
    let current = machine.memory.size(&machine.store);
    if target < current || target > MEMORY_PAGES_MAX {
        return Err(shape("page count outside the memory's range"));
    }
    machine
        .memory
        .grow(&mut machine.store, target - current)
        .map_err(|_| shape("memory cannot grow to its page count"))?;
    let data = machine.memory.data_mut(&mut machine.store);
    for (page, (hash, target)) in
        (0u32..).zip(pre.pages.iter().zip(data.chunks_exact_mut(PAGE_BYTES)))
    {
        let bytes = pages
            .page(hash)
            .map_err(ExecError::PageSource)?
            .ok_or(ExecError::MissingPage { page, hash: *hash })?;
        if bytes.len() != PAGE_BYTES || page_hash(&bytes) != *hash {
            return Err(ExecError::PageMismatch { page, hash: *hash });
        }
        target.copy_from_slice(&bytes);
    }
    for (global, value) in machine.globals.iter().zip(&pre.globals) {
        let value = match *value {
            GlobalValue::I32(value) => Val::I32(value),
            GlobalValue::I64(value) => Val::I64(value),
            GlobalValue::F32(bits) => Val::F32(bits),
            GlobalValue::F64(bits) => Val::F64(bits),
            GlobalValue::V128(bits) => Val::V128(bits.into()),
        };
        global
            .set(&mut machine.store, value)
            .map_err(|_| shape("a global has the wrong type"))?;
    }
    machine
        .store
        .set_fuel(machine.max_fuel - pre.fuel)
        .map_err(|_| shape("fuel cannot be set"))?;
    let memory = machine.memory.data(&machine.store);
    Ok(Snapshotter::with_state(memory, pre.pages.clone()))
}
