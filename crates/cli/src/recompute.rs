//! What `plexus job verify` computes for a job on this machine: its content fetched from the
//! node and run through `plexus_exec::honest`, the one path the provider's runner and the
//! validators' replayer use, so the result is what an honest provider commits (a refusal for a
//! job that cannot run) and a claim from it stands in a dispute.

use anyhow::{Context, Result, bail};
use plexus_client::{
    Client,
    dto::{HexContentHash, JobDto},
};
use plexus_exec::honest::{self, Content, Executor};
use plexus_types::ContentHash;

/// Fetches blob `hash` from the node and checks it against the hash.
fn fetch_blob(client: &Client, hash: &HexContentHash) -> Result<std::sync::Arc<[u8]>> {
    let bytes = client
        .get_blob(&hash.0, plexus_types::limits::BLOB_BYTES_MAX)?
        .with_context(|| format!("the node has no blob {hash}"))?;
    if ContentHash::of(&bytes) != hash.hash() {
        bail!("the node served bytes that do not match {hash}");
    }
    Ok(bytes.into())
}

/// What this machine computes for a job, in the commitment's terms.
pub(crate) struct Recomputed {
    pub output_hash: String,
    pub total_fuel: u64,
    pub segments: u64,
    pub trace_root: String,
    pub failed: bool,
    /// The trace `(fuel, state_root)` per leaf (empty for a refused job).
    pub leaves: Vec<(u64, ContentHash)>,
}

impl Recomputed {
    fn of(commitment: &plexus_types::job::Commitment, leaves: Vec<(u64, ContentHash)>) -> Self {
        Recomputed {
            output_hash: commitment.output_hash.to_hex(),
            total_fuel: commitment.total_fuel,
            segments: u64::from(commitment.segments),
            trace_root: commitment.trace_root.to_hex(),
            failed: commitment.failed,
            leaves,
        }
    }
}

/// Fetches `job`'s content from the node (each blob checked against its hash) and recomputes
/// it on this machine.
pub(crate) fn recompute(client: &Client, job: &JobDto) -> Result<Recomputed> {
    let module = fetch_blob(client, &job.module)?;
    let input = fetch_blob(client, &job.input)?;
    let blobs = job
        .blobs
        .iter()
        .map(|hash| fetch_blob(client, hash))
        .collect::<Result<Vec<_>>>()?;
    let content = Content {
        id: job.id.0,
        module: job.module.0,
        input,
        blobs,
        max_fuel: job.max_fuel,
        // The chain's segment size (nodes that predate it report 0: the default).
        seg_fuel: match client.status()?.seg_fuel {
            0 => plexus_exec::SEG_FUEL_DEFAULT,
            seg_fuel => seg_fuel,
        },
    };
    let engine = plexus_exec::Engine::new(plexus_exec::EngineOptions::default())?;
    recomputed(&Executor::new(engine), content, &module)
}

/// The honest commitment to `content` (module `module`), as the provider's runner makes it: a
/// refusal for a job that cannot run (its module, its limits), else the run's. An error when
/// the run stopped at this machine's wall-clock backstop, which no other machine reproduces: a
/// claim from it would lose its dispute.
fn recomputed(executor: &Executor, content: Content, module: &[u8]) -> Result<Recomputed> {
    let run = match executor.prepare(content, || Ok::<_, anyhow::Error>(module))? {
        Ok(run) => run,
        Err(refusal) => {
            let (_, commitment) = honest::refusal(&refusal.to_string());
            return Ok(Recomputed::of(&commitment, Vec::new()));
        }
    };
    let Ok(execution) = executor.run(&run, &mut plexus_exec::DiscardCheckpoints)? else {
        bail!(
            "this machine's re-run passed its wall-clock backstop, so it cannot judge the commitment"
        );
    };
    let leaves = execution
        .leaves
        .iter()
        .map(|leaf| (leaf.fuel, leaf.state_root))
        .collect();
    Ok(Recomputed::of(&honest::commitment(&execution), leaves))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns 1 from `step` forever: it runs until its fuel is gone.
    const SPIN: &str = r#"(module
      (memory (export "memory") 1 1)
      (global (export "plexus_output") i32 (i32.const 0))
      (func (export "init"))
      (func (export "step") (result i32) (i32.const 1)))"#;

    fn content(wasm: &[u8], max_fuel: u64, seg_fuel: u64) -> Content {
        Content {
            id: plexus_types::hash(&[b"verify".as_slice()]),
            module: ContentHash::of(wasm),
            input: std::sync::Arc::from(&b""[..]),
            blobs: Vec::new(),
            max_fuel,
            seg_fuel,
        }
    }

    fn executor(options: plexus_exec::EngineOptions) -> Executor {
        Executor::new(plexus_exec::Engine::new(options).unwrap())
    }

    #[test]
    fn a_re_run_stopped_by_the_wall_clock_backstop_is_no_claim() {
        let wasm = wat::parse_str(SPIN).unwrap();
        // A backstop of 0 ms fires after `init`.
        let stopping = executor(plexus_exec::EngineOptions {
            wall_time_ms: 0,
            ..Default::default()
        });
        let err = recomputed(&stopping, content(&wasm, 1_000, 100), &wasm)
            .err()
            .unwrap();
        assert!(err.to_string().contains("wall-clock backstop"), "{err}");
        let spun = recomputed(
            &executor(Default::default()),
            content(&wasm, 1_000, 100),
            &wasm,
        )
        .unwrap();
        // Out of fuel: a failure that bills `max_fuel`.
        assert!(spun.failed);
        assert_eq!(spun.total_fuel, 1_000);
        assert!(spun.segments > 1);
    }

    /// A job the chain accepts but the executor refuses (here: more segments than a trace may
    /// have, at a small `seg_fuel`) is committed by the provider as a zero-fuel refusal, which
    /// the chain settles. `job verify` used to fail with the executor's error instead, so it
    /// could not confirm the commitment the chain settles; it now computes the same refusal.
    #[test]
    fn a_refused_job_recomputes_the_providers_refusal() {
        let wasm = wat::parse_str(SPIN).unwrap();
        let seg_fuel = 10;
        let max_fuel = plexus_types::limits::TRACE_SEGMENTS_MAX * seg_fuel;
        let here = recomputed(
            &executor(Default::default()),
            content(&wasm, max_fuel, seg_fuel),
            &wasm,
        )
        .unwrap();
        let reason = format!(
            "segments is {}, over the limit of {}",
            plexus_types::limits::TRACE_SEGMENTS_MAX,
            plexus_types::limits::TRACE_SEGMENTS_MAX - 1
        );
        let (text, refusal) = honest::refusal(&reason);
        assert_eq!(here.output_hash, ContentHash::of(text.as_bytes()).to_hex());
        assert_eq!((here.total_fuel, here.segments), (0, 0));
        assert_eq!(here.trace_root, refusal.trace_root.to_hex());
        assert!(here.failed && here.leaves.is_empty());
        // A module admission refuses: the refusal's text, as before.
        let garbage = b"\0asm garbage";
        let here = recomputed(
            &executor(Default::default()),
            content(garbage, 1_000, 100),
            garbage,
        )
        .unwrap();
        let reason = plexus_exec::admit(garbage).err().unwrap().to_string();
        assert_eq!(
            here.output_hash,
            honest::refusal(&reason).1.output_hash.to_hex()
        );
    }
}
