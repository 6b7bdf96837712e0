//! Running one assigned job: fetch its module, blobs and input by hash (each checked against its
//! hash), execute it through the one honest path (`plexus_exec::honest`: admission, the compile
//! cache, the limits) with checkpoints on disk, keep the output, and produce the commitment the
//! agent posts.
//!
//! A job the consumer got wrong (a module refused by admission or compilation, content over the
//! limits, a guest trap) still ends in a commitment, marked failed: the chain then settles it
//! like any other (a refusal used no fuel and costs the consumer nothing; a trap bills what
//! `plexus_exec` bills). A run of its own job stopped by this machine's wall-clock backstop is
//! committed as a refusal too: nobody else can reproduce that trap, so a trace ending in it
//! would lose any dispute. A verifier's re-run of another's job that the backstop stops makes
//! no claim ([`RunError::Stopped`]). Only host-side trouble (a blob no source serves yet, a disk
//! error, the backstop of a re-run) is an `Err`, which the agent retries.

use crate::{checkpoints::DiskCheckpoints, journal::CommitmentRecord};
use plexus_blobs::BlobStore;
use plexus_client::Client;
use plexus_exec::honest::{self, Content, Executor, Refusal, Stopped};
use plexus_exec::{Engine, Execution, Job, Outcome};
use plexus_types::ContentHash;
use plexus_types::{Digest, job::Commitment};
use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

/// What the chain assigned: the job's content by hash and its fuel.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub id: Digest,
    pub module: ContentHash,
    pub blobs: Vec<ContentHash>,
    pub input: ContentHash,
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
    /// A re-run of another's job passed this machine's backstop: no verdict either way.
    #[error("re-running the job: {0}")]
    Stopped(#[from] Stopped),
}

/// Runs jobs for one provider.
pub struct Runner {
    /// The engine and the compile cache every run and re-run goes through.
    pub executor: Executor,
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
            executor: Executor::new(engine),
            blobs,
            sources,
            dir,
            seg_fuel: AtomicU64::new(seg_fuel),
            forge: false,
        }
    }

    /// The engine jobs run on.
    pub fn engine(&self) -> &Engine {
        self.executor.engine()
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
    pub fn fetch(&self, hash: &ContentHash) -> Result<Arc<[u8]>, RunError> {
        if let Some(bytes) = self.blobs.get(hash)? {
            return Ok(bytes.into());
        }
        let mut detail = Vec::new();
        for source in &self.sources {
            match source.get_blob(hash, plexus_types::limits::BLOB_BYTES_MAX) {
                Ok(Some(bytes)) if ContentHash::of(&bytes) == *hash => {
                    self.blobs.put_expecting(hash, &bytes)?;
                    return Ok(bytes.into());
                }
                Ok(Some(bytes)) => detail.push(format!(
                    "{} served {} bytes hashing to {}",
                    source.base(),
                    bytes.len(),
                    ContentHash::of(&bytes)
                )),
                Ok(None) => detail.push(format!("{} does not have it", source.base())),
                Err(err) => detail.push(format!("{}: {err}", source.base())),
            }
        }
        Err(RunError::Unavailable {
            hash: hash.to_hex(),
            detail: detail.join("; "),
        })
    }

    /// Fetches `job`'s content and prepares it through the honest path: the executor's job, or
    /// why it is refused (its text goes into the refusal's output).
    pub fn prepare(&self, job: &Assignment) -> Result<Result<Job, Refusal>, RunError> {
        let module = self.fetch(&job.module)?;
        let input = self.fetch(&job.input)?;
        let blobs = job
            .blobs
            .iter()
            .map(|hash| self.fetch(hash))
            .collect::<Result<Vec<_>, _>>()?;
        let content = Content {
            id: job.id,
            module: job.module,
            input,
            blobs,
            max_fuel: job.max_fuel,
            seg_fuel: self.seg_fuel(),
        };
        self.executor.prepare(content, || Ok::<_, RunError>(module))
    }

    /// Fetches and runs `job`; the commitment to post, and the execution it commits to (none for
    /// a refusal).
    pub fn execute(
        &self,
        job: &Assignment,
    ) -> Result<(CommitmentRecord, Option<Execution>), RunError> {
        match self.run(job)? {
            Ran::Refused(reason) => Ok((self.refusal(&reason.to_string())?, None)),
            Ran::Stopped(stopped) => {
                // The provider's limit, not the job's: it bills nothing and proves nothing.
                let reason = format!(
                    "the run passed this provider's wall-clock backstop of {} ms",
                    stopped.wall_time_ms
                );
                Ok((self.refusal(&reason)?, None))
            }
            Ran::Executed(execution) => {
                let commitment = self.keep(job, &execution, self.forge)?;
                Ok((commitment, Some(execution)))
            }
        }
    }

    /// Fetches and runs another provider's job as its verifier: always honestly, whatever
    /// `forge` says. A run this machine's backstop stopped is [`RunError::Stopped`], not a claim:
    /// a refusal claimed from it would dispute an honest provider's trace and lose.
    pub fn reexecute(
        &self,
        job: &Assignment,
    ) -> Result<(CommitmentRecord, Option<Execution>), RunError> {
        match self.run(job)? {
            Ran::Refused(reason) => Ok((self.refusal(&reason.to_string())?, None)),
            Ran::Stopped(stopped) => Err(RunError::Stopped(stopped)),
            Ran::Executed(execution) => {
                let commitment = self.keep(job, &execution, false)?;
                Ok((commitment, Some(execution)))
            }
        }
    }

    /// Fetches and runs `job` with its checkpoints on disk (none for a refusal).
    fn run(&self, job: &Assignment) -> Result<Ran, RunError> {
        let run = match self.prepare(job)? {
            Ok(run) => run,
            Err(reason) => return Ok(Ran::Refused(reason)),
        };
        let mut sink = DiskCheckpoints::create(&self.dir, &job.id)?;
        Ok(match self.executor.run(&run, &mut sink)? {
            Ok(execution) => Ran::Executed(execution),
            Err(stopped) => Ran::Stopped(stopped),
        })
    }

    /// Keeps what disputes over `execution` need (its output, its whole trace, trap leaf
    /// included) and returns the commitment to it; with `forge`, a forged one.
    fn keep(
        &self,
        job: &Assignment,
        execution: &Execution,
        forge: bool,
    ) -> Result<CommitmentRecord, RunError> {
        let failure = match &execution.outcome {
            Outcome::Completed { output } => {
                self.blobs.put(output)?;
                None
            }
            Outcome::Trapped(code) => Some(code.name().to_string()),
        };
        let mut leaves: Vec<(u64, ContentHash)> = execution
            .leaves
            .iter()
            .map(|leaf| (leaf.fuel, leaf.state_root))
            .collect();
        let mut commitment = honest::commitment(execution);
        if forge && let Some(last) = leaves.last_mut() {
            commitment.output_hash = ContentHash::of(b"forged output");
            last.1 = ContentHash::of(&[b"forged state".as_slice(), &job.id.0].concat());
            commitment.trace_root = crate::leaves::leaves_root(&leaves);
        }
        crate::leaves::write_leaves(&self.dir, &job.id, &leaves)?;
        Ok(record(&commitment, failure))
    }

    /// The commitment for a job that never ran (refused module, limits) or whose run proves
    /// nothing (this machine's wall-clock backstop): no fuel, no trace, and an output that is
    /// the refusal's text, stored so the consumer can read why.
    pub fn refusal(&self, reason: &str) -> Result<CommitmentRecord, RunError> {
        let (text, commitment) = honest::refusal(reason);
        self.blobs.put(text.as_bytes())?;
        Ok(record(&commitment, Some(text)))
    }
}

/// How a run of a job ended, before anything is kept.
enum Ran {
    Refused(Refusal),
    Stopped(Stopped),
    Executed(Execution),
}

/// `commitment` as the journal keeps it.
fn record(commitment: &Commitment, failure: Option<String>) -> CommitmentRecord {
    CommitmentRecord {
        output_hash: commitment.output_hash.to_hex(),
        total_fuel: commitment.total_fuel,
        segments: commitment.segments,
        trace_root: commitment.trace_root.to_hex(),
        failed: commitment.failed,
        failure,
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
        let wanted = ContentHash::of(b"the real module");
        match runner.fetch(&wanted) {
            Err(RunError::Unavailable { hash, detail }) => {
                assert_eq!(hash, wanted.to_hex());
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
                id: plexus_types::hash(&[b"job".as_slice()]),
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
            .get(&ContentHash::parse(&commitment.output_hash).unwrap())
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
            id: plexus_types::hash(&[b"digits job".as_slice()]),
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

    /// A runner whose backstop of 0 ms fires after the first call (`init`).
    fn stopping_runner(dir: &std::path::Path) -> Runner {
        Runner {
            executor: Executor::new(
                Engine::new(plexus_exec::EngineOptions {
                    wall_time_ms: 0,
                    ..Default::default()
                })
                .unwrap(),
            ),
            ..runner(dir, Vec::new())
        }
    }

    /// A verifier's full audit runs the whole job: when its own backstop stops the re-run it
    /// has no verdict. It used to claim the refusal the provider would commit for its own job,
    /// a disagreement that disputed an honest provider's trace (and lost the verifier's
    /// deposit), where `plexus job verify` already made no claim.
    #[test]
    fn a_verifiers_re_run_stopped_by_the_backstop_makes_no_claim() {
        let dir = std::env::temp_dir().join(format!("plexus-rerun-stop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let stopping = stopping_runner(&dir);
        let job = digits_job(&stopping);
        match stopping.reexecute(&job) {
            Err(RunError::Stopped(stopped)) => assert_eq!(stopped.wall_time_ms, 0),
            other => panic!("expected no claim, got {other:?}"),
        }
        // Without the backstop the same re-run is a claim: the job's honest commitment.
        let (claim, execution) = runner(&dir, Vec::new()).reexecute(&job).unwrap();
        assert!(!claim.failed && claim.segments > 0);
        assert!(execution.is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_run_stopped_by_the_wall_clock_backstop_commits_a_free_failure() {
        let dir = std::env::temp_dir().join(format!("plexus-wall-time-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A backstop of 0 ms fires after the first call (`init`).
        let stopping = stopping_runner(&dir);
        let job = digits_job(&stopping);
        let (commitment, execution) = stopping.execute(&job).unwrap();
        assert!(execution.is_none());
        assert!(commitment.failed);
        assert_eq!((commitment.total_fuel, commitment.segments), (0, 0));
        let text = stopping
            .blobs
            .get(&ContentHash::parse(&commitment.output_hash).unwrap())
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
