//! Running one assigned job: fetch its module, blobs and input by hash (each checked against its
//! hash), admit and compile the module, execute it with checkpoints on disk, keep the output,
//! and produce the commitment the agent posts.
//!
//! A job the consumer got wrong (a module that fails admission, a guest trap) still ends in a
//! commitment, marked failed: the chain then settles it like any other (a module refused at
//! admission used no fuel and costs the consumer nothing; a trap bills what `plexus_exec` bills).
//! A run stopped by this machine's wall-clock backstop is committed as a refusal too: nobody
//! else can reproduce that trap, so a trace ending in it would lose any dispute. Only host-side
//! trouble (a blob no source serves yet, a disk error) is an `Err`, which the agent retries.

use crate::{checkpoints::DiskCheckpoints, journal::CommitmentRecord};
use plexus_blobs::{BlobStore, blob_hash};
use plexus_client::Client;
use plexus_exec::{Compiled, Engine, Execution, Job, Outcome, TrapCode};
use plexus_types::{Digest, hash::digest_hex};
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

/// Compiled modules kept in memory, by module hash.
const COMPILED_CACHE_MAX: usize = 16;

/// What the chain assigned: the job's content by hash and its fuel.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub id: Digest,
    pub module: Digest,
    pub blobs: Vec<Digest>,
    pub input: Digest,
    pub max_fuel: u64,
}

/// Host-side reasons a job cannot run yet.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no source serves blob {hash} with matching bytes ({detail})")]
    Unavailable { hash: String, detail: String },
    #[error("blob store: {0}")]
    Blobs(#[from] plexus_blobs::BlobError),
    #[error("checkpoint storage: {0}")]
    Checkpoints(#[from] std::io::Error),
    #[error("executor: {0}")]
    Exec(#[from] plexus_exec::ExecError),
}

/// Runs jobs for one provider.
pub struct Runner {
    pub engine: Engine,
    pub blobs: Arc<BlobStore>,
    /// Where blobs are fetched from, in order (the node first).
    pub sources: Vec<Client>,
    pub dir: PathBuf,
    /// Fuel per segment: the chain's `seg_fuel` once the agent has read it from the node.
    seg_fuel: AtomicU64,
    /// TESTING AID (`plexus provider run --forge`): commit a forged output hash and final
    /// state instead of the real ones, keeping the real trace before it. Such a provider loses
    /// every dispute over its jobs; it exists so devnets and tests can show that.
    pub forge: bool,
    compiled: Mutex<BTreeMap<Digest, Compiled>>,
}

/// The 32 bytes of a BLAKE3 digest as the chain's digest type.
pub fn chain_digest(digest: &plexus_exec::Digest32) -> Digest {
    plexus_types::hash::digest_from_bytes(digest.0)
}

impl Runner {
    pub fn new(
        engine: Engine,
        blobs: Arc<BlobStore>,
        sources: Vec<Client>,
        dir: PathBuf,
        seg_fuel: u64,
    ) -> Self {
        Runner {
            engine,
            blobs,
            sources,
            dir,
            seg_fuel: AtomicU64::new(seg_fuel),
            forge: false,
            compiled: Mutex::new(BTreeMap::new()),
        }
    }

    /// Fuel per segment of the runs it makes.
    pub fn seg_fuel(&self) -> u64 {
        self.seg_fuel.load(Ordering::Relaxed)
    }

    /// Adopts the chain's `seg_fuel` (every party must checkpoint at the same points).
    pub fn set_seg_fuel(&self, seg_fuel: u64) {
        self.seg_fuel.store(seg_fuel, Ordering::Relaxed);
    }

    /// The bytes of `hash`: from the local store, else from the first source whose bytes match
    /// (then stored locally). Bytes that do not match the hash are refused, whoever sent them.
    pub fn fetch(&self, hash: &Digest) -> Result<Arc<[u8]>, RunError> {
        if let Some(bytes) = self.blobs.get(hash)? {
            return Ok(bytes.into());
        }
        let mut detail = Vec::new();
        for source in &self.sources {
            match source.get_blob(hash, plexus_types::limits::BLOB_BYTES_MAX) {
                Ok(Some(bytes)) if blob_hash(&bytes) == *hash => {
                    self.blobs.put_expecting(hash, &bytes)?;
                    return Ok(bytes.into());
                }
                Ok(Some(bytes)) => detail.push(format!(
                    "{} served {} bytes hashing to {}",
                    source.base(),
                    bytes.len(),
                    digest_hex(&blob_hash(&bytes))
                )),
                Ok(None) => detail.push(format!("{} does not have it", source.base())),
                Err(err) => detail.push(format!("{}: {err}", source.base())),
            }
        }
        Err(RunError::Unavailable {
            hash: digest_hex(hash),
            detail: detail.join("; "),
        })
    }

    pub fn compile(
        &self,
        hash: &Digest,
        bytes: &[u8],
    ) -> Result<Result<Compiled, String>, RunError> {
        let mut cache = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(compiled) = cache.get(hash) {
            return Ok(Ok(compiled.clone()));
        }
        let admitted = match plexus_exec::admit(bytes) {
            Ok(admitted) => admitted,
            Err(err) => return Ok(Err(err.to_string())),
        };
        // A module wasmtime cannot compile is refused like one admission refused: retrying
        // cannot help, and the deadline would slash the provider for the consumer's module.
        let compiled = match self.engine.compile(&admitted) {
            Ok(compiled) => compiled,
            Err(err) => return Ok(Err(format!("the module does not compile: {err}"))),
        };
        if cache.len() >= COMPILED_CACHE_MAX {
            cache.pop_first();
        }
        cache.insert(*hash, compiled.clone());
        Ok(Ok(compiled))
    }

    /// The executor's job for `job`, its content fetched; `None` when the module is refused
    /// (admission, compilation or limits).
    pub fn job(&self, job: &Assignment) -> Result<Option<Job>, RunError> {
        Ok(self.prepare(job)?.ok())
    }

    /// Fetches `job`'s content and compiles its module: the executor's job, or why the module
    /// is refused (its text goes into the refusal's output).
    fn prepare(&self, job: &Assignment) -> Result<Result<Job, String>, RunError> {
        let module = self.fetch(&job.module)?;
        let input = self.fetch(&job.input)?;
        let blobs = job
            .blobs
            .iter()
            .map(|hash| self.fetch(hash))
            .collect::<Result<Vec<_>, _>>()?;
        let compiled = match self.compile(&job.module, &module)? {
            Ok(compiled) => compiled,
            Err(reason) => return Ok(Err(reason)),
        };
        let run = Job {
            id: job.id.0,
            module: compiled,
            input,
            blobs,
            max_fuel: job.max_fuel,
            seg_fuel: self.seg_fuel(),
        };
        Ok(match run.check() {
            Ok(()) => Ok(run),
            Err(err) => Err(err.to_string()),
        })
    }

    /// Fetches and runs `job`; the commitment to post, and the execution it commits to (none for
    /// a refusal).
    pub fn execute(
        &self,
        job: &Assignment,
    ) -> Result<(CommitmentRecord, Option<Execution>), RunError> {
        self.execute_as(job, self.forge)
    }

    /// Fetches and runs another provider's job as its verifier: always honestly, whatever
    /// `forge` says.
    pub fn reexecute(
        &self,
        job: &Assignment,
    ) -> Result<(CommitmentRecord, Option<Execution>), RunError> {
        self.execute_as(job, false)
    }

    fn execute_as(
        &self,
        job: &Assignment,
        forge: bool,
    ) -> Result<(CommitmentRecord, Option<Execution>), RunError> {
        let run = match self.prepare(job)? {
            Ok(run) => run,
            Err(reason) => return Ok((self.refusal(&reason)?, None)),
        };
        let mut sink = DiskCheckpoints::create(&self.dir, &job.id)?;
        let execution = plexus_exec::run(&self.engine, &run, &mut sink)?;
        if execution.outcome == Outcome::Trapped(TrapCode::WallTime) {
            // The provider's limit, not the job's: it bills nothing and proves nothing.
            let reason = format!(
                "the run passed this provider's wall-clock backstop of {} ms",
                self.engine.options().wall_time_ms
            );
            return Ok((self.refusal(&reason)?, None));
        }
        let failure = match &execution.outcome {
            Outcome::Completed { output } => {
                self.blobs.put(output)?;
                None
            }
            Outcome::Trapped(code) => Some(code.name().to_string()),
        };
        // The whole trace, trap leaf included, for the disputes this job may see.
        let mut leaves: Vec<(u64, plexus_exec::Digest32)> = execution
            .leaves
            .iter()
            .map(|leaf| (leaf.fuel, leaf.state_root))
            .collect();
        let (mut output_hash, mut trace_root) = (execution.output_hash, execution.trace_root);
        if forge && let Some(last) = leaves.last_mut() {
            output_hash = plexus_types::trace::content_hash(b"forged output");
            last.1 = plexus_types::trace::content_hash(
                &[b"forged state".as_slice(), &job.id.0].concat(),
            );
            trace_root = crate::leaves::leaves_root(&leaves);
        }
        crate::leaves::write_leaves(&self.dir, &job.id, &leaves)?;
        let commitment = CommitmentRecord {
            output_hash: digest_hex(&chain_digest(&output_hash)),
            total_fuel: execution.total_fuel,
            segments: u32::try_from(execution.segments).unwrap_or(u32::MAX),
            trace_root: digest_hex(&chain_digest(&trace_root)),
            failed: failure.is_some(),
            failure,
        };
        Ok((commitment, Some(execution)))
    }

    /// The commitment for a job that never ran (refused module, limits) or whose run proves
    /// nothing (this machine's wall-clock backstop): no fuel, no trace, and an output that is
    /// the refusal's text, stored so the consumer can read why.
    pub fn refusal(&self, reason: &str) -> Result<CommitmentRecord, RunError> {
        let text = format!("refused: {reason}");
        let hash = self.blobs.put(text.as_bytes())?;
        Ok(CommitmentRecord {
            output_hash: digest_hex(&hash),
            total_fuel: 0,
            segments: 0,
            trace_root: digest_hex(&plexus_types::hash::digest_from_bytes([0; 32])),
            failed: true,
            failure: Some(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An HTTP server on loopback that answers every request with `body` (a lying blob source).
    fn lying_source(body: &'static [u8]) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(8) {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        format!("http://{address}")
    }

    fn runner(dir: &std::path::Path, sources: Vec<Client>) -> Runner {
        let blobs = Arc::new(BlobStore::open(&dir.join("blobs"), Default::default()).unwrap());
        Runner::new(
            Engine::new(Default::default()).unwrap(),
            blobs,
            sources,
            dir.to_path_buf(),
            plexus_exec::SEG_FUEL_DEFAULT,
        )
    }

    #[test]
    fn bytes_that_do_not_match_their_hash_are_refused_from_every_source() {
        let dir = std::env::temp_dir().join(format!("plexus-runner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let liar = Client::new(&lying_source(b"not the module"));
        let runner = runner(&dir, vec![liar]);
        let wanted = blob_hash(b"the real module");
        match runner.fetch(&wanted) {
            Err(RunError::Unavailable { hash, detail }) => {
                assert_eq!(hash, digest_hex(&wanted));
                assert!(detail.contains("hashing to"), "{detail}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
        assert!(!runner.blobs.contains(&wanted), "nothing stored");
        // A source that tells the truth is used, and its bytes are kept locally.
        let honest = Client::new(&lying_source(b"the real module"));
        let runner = super::Runner {
            sources: vec![Client::new(&lying_source(b"wrong")), honest],
            ..runner
        };
        assert_eq!(&*runner.fetch(&wanted).unwrap(), b"the real module");
        assert!(runner.blobs.contains(&wanted));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_module_that_fails_admission_commits_a_free_failure() {
        let dir = std::env::temp_dir().join(format!("plexus-refusal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let runner = runner(&dir, Vec::new());
        let module = runner.blobs.put(b"\0asm garbage").unwrap();
        let input = runner.blobs.put(b"").unwrap();
        let (commitment, execution) = runner
            .execute(&Assignment {
                id: blob_hash(b"job"),
                module,
                blobs: Vec::new(),
                input,
                max_fuel: 1_000,
            })
            .unwrap();
        assert!(execution.is_none());
        assert!(commitment.failed);
        assert_eq!(commitment.total_fuel, 0);
        let text = runner
            .blobs
            .get(&plexus_types::hash::parse_digest(&commitment.output_hash).unwrap())
            .unwrap()
            .unwrap();
        assert!(String::from_utf8(text).unwrap().starts_with("refused: "));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The digits job over one image, its content stored in `runner`.
    fn digits_job(runner: &Runner) -> Assignment {
        let digits = plexus_exec::builtin::lookup("digits").unwrap();
        let input = plexus_job_digits::encode_input(&[[3u8; 64]]).unwrap();
        Assignment {
            id: blob_hash(b"digits job"),
            module: runner.blobs.put(digits.wasm).unwrap(),
            blobs: digits
                .blobs
                .iter()
                .map(|blob| runner.blobs.put(blob).unwrap())
                .collect(),
            input: runner.blobs.put(&input).unwrap(),
            max_fuel: 100_000_000,
        }
    }

    #[test]
    fn a_run_stopped_by_the_wall_clock_backstop_commits_a_free_failure() {
        let dir = std::env::temp_dir().join(format!("plexus-wall-time-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A backstop of 0 ms fires after the first call (`init`).
        let stopping = Runner {
            engine: Engine::new(plexus_exec::EngineOptions {
                wall_time_ms: 0,
                ..Default::default()
            })
            .unwrap(),
            ..runner(&dir, Vec::new())
        };
        let job = digits_job(&stopping);
        let (commitment, execution) = stopping.execute(&job).unwrap();
        assert!(execution.is_none());
        assert!(commitment.failed);
        assert_eq!((commitment.total_fuel, commitment.segments), (0, 0));
        let text = stopping
            .blobs
            .get(&plexus_types::hash::parse_digest(&commitment.output_hash).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "refused: the run passed this provider's wall-clock backstop of 0 ms"
        );
        // Without the backstop the same job completes and bills its fuel.
        let (commitment, execution) = runner(&dir, Vec::new()).execute(&job).unwrap();
        assert!(!commitment.failed);
        assert!(commitment.total_fuel > 0 && commitment.segments > 0);
        assert!(execution.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
