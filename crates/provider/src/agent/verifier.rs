//! The verifier side of the agent: audits drawn to this provider's verifier record are re-run
//! on threads of their own (at most the declared capacity at once, never in the poll loop),
//! sealed as soon as each finishes and revealed once the seal lands; an audit that cannot be
//! sealed before its deadline at this machine's speed is declined (`AuditDecline`: no slash).
//! When each of those is due is the agent's decision core's; this module holds the rule for a
//! drawn audit and carries out the verifier's actions (threads, files, submissions).
//!
//! The rule for a drawn audit is [`step`], a pure function of the chain's deadline, the audit's fuel and this
//! machine's speed and load, taken again on every poll: at the draw, while the re-run runs (an
//! audit still running `AUDIT_SAFETY_BLOCKS` before its deadline is declined), and after a
//! restart, when a re-run in flight was lost and the time left decides between starting again
//! and declining. What must survive a restart is on disk under `verifier/`: a finished re-run's
//! sealed verdict and salt (`JOB.json`, so the seal and the reveal can still be sent) and a sent
//! decline (`JOB.declined`, so it is sent again rather than the audit restarted). Everything else
//! (deadline, fuel, stage) is read from the chain.

use super::{Agent, AgentError, FuelTraceError, assignment, chain_commitment};
use crate::{rerun, runner::Runner};
use plexus_client::{
    Client,
    dto::{AuditDto, AuditKind, HexDigest, JobDto},
};
use plexus_types::{Address, ContentHash, Digest, Payload, audit::Verdict, hash::parse_digest};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::mpsc,
    time::{Duration, Instant},
};
use tracing::{info, warn};

/// Blocks before an audit's seal is due by which the agent has sealed it or declined it: room
/// for the transaction to land (the chain refuses a decline at the due height) and for a
/// restart of the agent (2 s at 250 ms blocks).
pub const AUDIT_SAFETY_BLOCKS: u64 = 8;
/// The agent counts on re-running at this share of its measured speed (numerator and
/// denominator: two thirds), on top of sharing the cores with its jobs and other audits.
pub const AUDIT_SPEED_SHARE: (u64, u64) = (2, 3);
/// Blocks after which a decline that has not taken effect is sent again.
pub const DECLINE_RESEND_BLOCKS: u64 = 2;
/// Blocks between sweeps of the files of audits that are no longer this agent's.
pub const SWEEP_EVERY_BLOCKS: u64 = 100;

/// How the agent verifies.
#[derive(Clone, Debug, Default)]
pub struct VerifierConfig {
    /// The verifier bond to keep registered (zero: the agent does not verify).
    pub bond: u128,
    /// Audits re-run at once, each on its own thread: what the agent declares as its capacity.
    pub capacity: u32,
    /// TESTING AID: re-run audits no faster than this many fuel per second (the thread sleeps
    /// after the re-run), and declare this speed when it is below the measured one: a slow
    /// verifier on any machine.
    pub throttle_fuel_per_second: Option<u64>,
}

/// Re-runs under way, and the channel their threads report on.
pub(super) struct Audits {
    /// Job id -> the height its re-run started at.
    running: BTreeMap<String, u64>,
    done_tx: mpsc::Sender<(String, Result<(), FuelTraceError>)>,
    done_rx: mpsc::Receiver<(String, Result<(), FuelTraceError>)>,
}

impl Audits {
    /// The re-runs that ended since the last call, no longer running: (hex id, result).
    pub(super) fn ended(&mut self) -> Vec<(String, Result<(), FuelTraceError>)> {
        let ended: Vec<_> = self.done_rx.try_iter().collect();
        for (job, _) in &ended {
            self.running.remove(job);
        }
        ended
    }

    /// The audits re-running now (hex ids).
    pub(super) fn running(&self) -> BTreeSet<String> {
        self.running.keys().cloned().collect()
    }
}

impl Default for Audits {
    fn default() -> Self {
        let (done_tx, done_rx) = mpsc::channel();
        Audits {
            running: BTreeMap::new(),
            done_tx,
            done_rx,
        }
    }
}

/// What to do now about an audit drawn to this agent that it has not sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Re-run it now, on a thread of its own.
    Start,
    /// Nothing yet: its re-run is under way, or it waits for a free thread while there is time.
    Wait,
    /// Hand it back (`AuditDecline`): it cannot be sealed in time.
    Decline,
}

/// One drawn, unsealed audit as the agent sees it.
#[derive(Clone, Copy, Debug)]
pub struct Drawn {
    /// The fuel its re-run takes: the committed fuel of a full audit (a provider that
    /// understated it is caught by the deadline check while the re-run runs), the drawn
    /// segments of a light one.
    pub fuel: u64,
    pub height: u64,
    pub due_height: u64,
    /// Whether its re-run is under way here.
    pub running: bool,
}

/// This machine's speed and load.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// The measured speed of one thread, fuel per second.
    pub fuel_per_second: u64,
    /// The cores the agent offers.
    pub cores: u32,
    /// Jobs and audits running now.
    pub threads_busy: usize,
    /// Whether another audit thread may start (fewer running than the capacity).
    pub free_slot: bool,
    /// The block time the chain's deadlines assume, in milliseconds.
    pub block_ms: u64,
}

impl Load {
    /// Whether `fuel` re-runs within `blocks` blocks on one more thread: at
    /// `AUDIT_SPEED_SHARE` of the measured speed, shared with the threads already busy when
    /// they outnumber the cores.
    fn fits(&self, fuel: u64, blocks: u64) -> bool {
        let cores = u128::from(self.cores.max(1));
        let threads = (self.threads_busy as u128 + 1).max(cores);
        let (share, of) = AUDIT_SPEED_SHARE;
        // ms = fuel * 1000 / (speed * share / of * cores / threads)
        let needed_ms = u128::from(fuel) * 1_000 * u128::from(of) * threads;
        let speed = u128::from(self.fuel_per_second.max(1)) * u128::from(share) * cores;
        needed_ms.div_ceil(speed) <= u128::from(blocks) * u128::from(self.block_ms.max(1))
    }
}

/// The agent's next step for a drawn audit it has not sealed: decline once it is within
/// `AUDIT_SAFETY_BLOCKS` of its deadline or cannot be re-run in the time left at this machine's
/// speed and load; otherwise start it when a thread is free, or wait.
pub fn step(drawn: &Drawn, load: &Load) -> Step {
    let blocks_left = drawn.due_height.saturating_sub(drawn.height);
    if blocks_left <= AUDIT_SAFETY_BLOCKS {
        return Step::Decline;
    }
    if drawn.running {
        return Step::Wait;
    }
    if !load.fits(drawn.fuel, blocks_left - AUDIT_SAFETY_BLOCKS) {
        return Step::Decline;
    }
    if load.free_slot {
        Step::Start
    } else {
        Step::Wait
    }
}

/// A verifier's sealed verdict, kept on disk until revealed so a restart can still reveal it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Sealed {
    /// The verdict's canonical encoding, hex.
    verdict: String,
    /// The seal's salt, hex.
    salt: String,
}

fn sealed_path(dir: &Path, job: &str) -> PathBuf {
    dir.join("verifier").join(format!("{job}.json"))
}

fn declined_path(dir: &Path, job: &str) -> PathBuf {
    dir.join("verifier").join(format!("{job}.declined"))
}

/// Writes `bytes` to `path` whole or not at all (synced, then renamed into place).
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(tmp, path)
}

/// The sealed verdict and salt of `job`, if its re-run finished here. A file that does not
/// parse (it cannot be torn: it is renamed into place) is dropped so the audit is re-run.
pub(super) fn read_sealed(dir: &Path, job: &str) -> Option<(Verdict, Digest)> {
    use plexus_types::codec::DecodeExt as _;
    let path = sealed_path(dir, job);
    let bytes = std::fs::read(&path).ok()?;
    let parsed = serde_json::from_slice::<Sealed>(&bytes)
        .ok()
        .and_then(|sealed| {
            let verdict = plexus_types::hash::from_hex(&sealed.verdict)
                .and_then(|bytes| Verdict::decode(bytes::Bytes::from(bytes)).ok())?;
            let salt = plexus_types::hash::from_hex(&sealed.salt)
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .map(Digest::from)?;
            Some((verdict, salt))
        });
    if parsed.is_none() {
        warn!(job, "dropping an unreadable sealed verdict");
        let _ = std::fs::remove_file(&path);
    }
    parsed
}

/// Seals `verdict` with a fresh salt and keeps both on disk.
fn write_sealed(dir: &Path, job: &str, verdict: &Verdict) -> Result<(), FuelTraceError> {
    let mut salt = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut salt);
    let sealed = Sealed {
        verdict: plexus_types::hash::to_hex(&plexus_types::codec::Encode::encode(verdict)),
        salt: plexus_types::hash::to_hex(&salt),
    };
    let json = serde_json::to_vec(&sealed).map_err(|_| FuelTraceError::Record("sealed verdict"))?;
    write_atomic(&sealed_path(dir, job), &json)?;
    Ok(())
}

/// The height a decline of `job` was last sent at, if one was.
pub(super) fn read_declined(dir: &Path, job: &str) -> Option<u64> {
    std::fs::read_to_string(declined_path(dir, job))
        .ok()
        .and_then(|text| text.trim().parse().ok())
}

/// Removes what this agent kept for its audit of `job`: the sealed verdict, a decline's record
/// and, with `checkpoints`, the re-run's checkpoints and leaves.
pub(super) fn forget(dir: &Path, job: &str, checkpoints: bool) -> Result<(), FuelTraceError> {
    let _ = std::fs::remove_file(sealed_path(dir, job));
    let _ = std::fs::remove_file(declined_path(dir, job));
    if checkpoints && let Some(id) = parse_digest(job) {
        crate::checkpoints::CheckpointReader::new(dir).remove_job(&id)?;
    }
    Ok(())
}

/// The fuel a drawn audit re-runs, as the agent estimates it (see [`Drawn::fuel`]).
pub(super) fn audit_fuel(job: &JobDto, audit: &AuditDto, seg_fuel: u64) -> u64 {
    let claimed = job.total_fuel.unwrap_or(job.max_fuel);
    if audit.kind == AuditKind::Light {
        seg_fuel
            .saturating_mul(audit.segments.len() as u64)
            .min(claimed)
    } else {
        claimed
    }
}

/// Re-runs what `audit` asks for; the verdict and the fuel re-run.
fn rerun(
    runner: &Runner,
    node: &Client,
    job: &JobDto,
    audit: &AuditDto,
) -> Result<(Verdict, u64), FuelTraceError> {
    let assignment = assignment(job);
    let commitment = chain_commitment(job).ok_or(FuelTraceError::Record("commitment"))?;
    if audit.kind == AuditKind::Light {
        let provider = job
            .provider
            .as_deref()
            .and_then(|p| p.parse::<Address>().ok())
            .ok_or(FuelTraceError::Record("provider"))?;
        let endpoint = node.provider(&provider)?.endpoint;
        let disputed = rerun::light_audit(
            runner,
            &assignment,
            &Client::new(&endpoint),
            &commitment,
            &audit.segments,
        )?;
        info!(job = %job.id, ?disputed, segments = ?audit.segments, "light audit done");
        let fuel = audit_fuel(job, audit, runner.seg_fuel());
        return Ok((Verdict::Light { disputed }, fuel));
    }
    // A full audit: run the whole job, keeping the trace for the dispute it may open.
    let (mine, _) = runner.reexecute(&assignment)?;
    let digest = |text: &str| ContentHash::parse(text).ok_or(FuelTraceError::Record("hash"));
    let claim = plexus_types::job::Commitment {
        output_hash: digest(&mine.output_hash)?,
        total_fuel: mine.total_fuel,
        segments: mine.segments,
        trace_root: digest(&mine.trace_root)?,
        failed: mine.failed,
    };
    info!(job = %job.id, agrees = claim == commitment, "full audit done");
    Ok((Verdict::Full(claim), mine.total_fuel))
}

/// The testing aid's throttle: sleeps until `fuel` at `fuel_per_second` has taken its time.
fn throttle(started: Instant, fuel: u64, fuel_per_second: Option<u64>) {
    if let Some(rate) = fuel_per_second.filter(|rate| *rate > 0) {
        let due = Duration::from_millis(fuel.saturating_mul(1_000) / rate);
        if let Some(left) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(left);
        }
    }
}

impl Agent {
    /// The speed audits re-run at: the measured figure, or the testing aid's throttle if lower.
    pub(super) fn audit_speed(&self) -> u64 {
        let measured = self.offer.fuel_per_second.max(1);
        self.verifier
            .throttle_fuel_per_second
            .map_or(measured, |rate| rate.clamp(1, measured))
    }

    /// Registers the verifier record, tops its bond up to the configured one, or updates its
    /// declared speed and capacity when they changed.
    pub(super) fn register_verifier(&mut self) -> Result<(), AgentError> {
        if self.verifier.bond == 0 {
            return Ok(());
        }
        let speed = self.audit_speed();
        let capacity = self.verifier.capacity.max(1);
        let registered = self
            .node
            .verifiers()?
            .into_iter()
            .find(|v| v.address == self.address.to_string());
        let bond: u128 = registered
            .as_ref()
            .and_then(|v| v.bond.parse().ok())
            .unwrap_or(0);
        let same = registered
            .as_ref()
            .is_some_and(|v| v.fuel_per_second == speed && v.capacity == capacity);
        if !same || bond < self.verifier.bond {
            info!(bond = %self.verifier.bond, fuel_per_second = speed, capacity, "registering as a verifier");
            self.send(Payload::VerifierRegister {
                bond: self.verifier.bond.saturating_sub(bond),
                fuel_per_second: speed,
                capacity,
            })?;
        }
        Ok(())
    }

    /// Re-runs `audit` on a thread of its own; the thread seals the verdict to disk and reports.
    pub(super) fn start_audit(&mut self, job: &JobDto, audit: &AuditDto, height: u64) {
        let (runner, node) = (self.runner.clone(), self.node.clone());
        let (job, audit) = (job.clone(), audit.clone());
        let done = self.audits.done_tx.clone();
        let rate = self.verifier.throttle_fuel_per_second;
        let id = job.id.to_string();
        let name = format!("audit-{}", id.get(..8).unwrap_or(&id));
        info!(job = %job.id, kind = %audit.kind, due = audit.due_height, "re-running an audit");
        self.audits.running.insert(id.clone(), height);
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            let started = Instant::now();
            let result = rerun(&runner, &node, &job, &audit).and_then(|(verdict, fuel)| {
                throttle(started, fuel, rate);
                write_sealed(&runner.dir, &job.id.to_string(), &verdict)
            });
            let _ = done.send((job.id.to_string(), result));
        });
        if let Err(err) = spawned {
            warn!(job = %id, %err, "cannot start an audit thread");
            self.audits.running.remove(&id);
        }
    }

    /// Sends the decline and records it on disk, so a restart sends it again instead of
    /// re-running the audit.
    pub(super) fn decline(&mut self, job: &HexDigest, height: u64) -> Result<(), FuelTraceError> {
        let tx = self.submit(Payload::AuditDecline { job: job.digest() })?;
        info!(%job, %tx, "audit declined");
        write_atomic(
            &declined_path(&self.runner.dir, &job.to_string()),
            height.to_string().as_bytes(),
        )?;
        Ok(())
    }

    /// Sends the seal of the verdict kept for `job` (its re-run finished here).
    pub(super) fn seal(&mut self, job: &HexDigest) -> Result<(), FuelTraceError> {
        let (verdict, salt) = read_sealed(&self.runner.dir, &job.to_string())
            .ok_or(FuelTraceError::Record("sealed verdict file"))?;
        let id = job.digest();
        let seal = plexus_types::audit::audit_seal(&id, &self.address, &verdict, &salt);
        let tx = self.submit(Payload::AuditCommit { job: id, seal })?;
        info!(%job, %tx, "audit sealed");
        Ok(())
    }

    /// Opens the seal of an audit whose seal landed.
    pub(super) fn reveal(&mut self, job: &HexDigest) -> Result<(), FuelTraceError> {
        let (verdict, salt) = read_sealed(&self.runner.dir, &job.to_string())
            .ok_or(FuelTraceError::Record("sealed verdict file"))?;
        let tx = self.submit(Payload::AuditReveal {
            job: job.digest(),
            verdict,
            salt,
        })?;
        info!(%job, %tx, "audit revealed");
        Ok(())
    }

    /// Drops the files of audits that are no longer this agent's (declined and drawn again,
    /// or pruned): `mine` are the jobs the chain lists for it now.
    pub(super) fn sweep(&mut self, mine: &[String]) {
        let Ok(entries) = std::fs::read_dir(self.runner.dir.join("verifier")) else {
            return;
        };
        let me = self.address.to_string();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(job) = name.split('.').next().filter(|j| parse_digest(j).is_some()) else {
                continue;
            };
            if mine.iter().any(|m| m == job) || self.audits.running.contains_key(job) {
                continue;
            }
            let gone = match self.node.job(job) {
                Ok(dto) => {
                    dto.finished_height.is_some()
                        || dto.audit_record.as_ref().is_none_or(|a| a.verifier != me)
                }
                Err(err) => err.code() == Some("unknown_job") || err.code() == Some("not_found"),
            };
            if gone && let Err(err) = forget(&self.runner.dir, job, true) {
                warn!(%job, %err, "cannot remove an old audit's files");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_types::hash::digest_hex;

    /// `(fuel, height, due height, running, threads busy, free slot)`.
    type Case = (u64, u64, u64, bool, usize, bool);

    /// Each case and the step expected.
    fn check(cases: &[(Case, Step)]) {
        for &((fuel, height, due_height, running, busy, free), expected) in cases {
            let drawn = Drawn {
                fuel,
                height,
                due_height,
                running,
            };
            let load = Load {
                fuel_per_second: 1_000_000,
                cores: 2,
                threads_busy: busy,
                free_slot: free,
                block_ms: 250,
            };
            assert_eq!(step(&drawn, &load), expected, "{drawn:?} {load:?}");
        }
    }

    #[test]
    fn an_audit_that_fits_starts_when_a_thread_is_free() {
        // 10^6 fuel at 2/3 of 10^6 fuel/s: 1.5 s, 6 blocks of 250 ms, after the safety blocks.
        let safe = AUDIT_SAFETY_BLOCKS;
        check(&[
            ((1_000_000, 100, 120, false, 0, true), Step::Start),
            ((1_000_000, 100, 120, false, 0, false), Step::Wait),
            (
                (1_000_000, 100, 100 + safe + 6, false, 1, true),
                Step::Start,
            ),
            (
                (1_000_000, 100, 100 + safe + 5, false, 1, true),
                Step::Decline,
            ),
        ]);
    }

    #[test]
    fn load_beyond_the_cores_slows_the_estimate() {
        // Three threads busy on two cores: the new one runs at half of two thirds of the
        // speed, 3 s = 12 blocks.
        let safe = AUDIT_SAFETY_BLOCKS;
        check(&[
            (
                (1_000_000, 100, 100 + safe + 12, false, 3, true),
                Step::Start,
            ),
            (
                (1_000_000, 100, 100 + safe + 11, false, 3, true),
                Step::Decline,
            ),
        ]);
    }

    #[test]
    fn near_its_deadline_an_audit_is_declined_even_while_it_runs() {
        let safe = AUDIT_SAFETY_BLOCKS;
        check(&[
            ((1, 100, 200, true, 1, false), Step::Wait),
            ((1, 100, 100 + safe + 1, true, 1, false), Step::Wait),
            ((1, 100, 100 + safe, true, 1, false), Step::Decline),
            // At or past its deadline nothing else is possible (the chain then refuses it).
            ((1, 300, 200, false, 0, true), Step::Decline),
        ]);
    }

    #[test]
    fn after_a_restart_the_time_left_decides() {
        // The chain granted 20 + 12 blocks (10^6 fuel at 10^6 fuel/s, 3x, 250 ms) from block
        // 100. Restarted at 110, 22 blocks are left: it starts again (6 needed). Restarted at
        // 122, 10 are left, too few after the safety blocks: it declines.
        check(&[
            ((1_000_000, 110, 132, false, 0, true), Step::Start),
            ((1_000_000, 122, 132, false, 0, true), Step::Decline),
        ]);
    }

    #[test]
    fn sealed_verdicts_and_declines_survive_on_disk() {
        let dir = std::env::temp_dir().join(format!("plexus-verifier-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let job = digest_hex(&plexus_types::hash(&[b"job".as_slice()]));
        assert!(read_sealed(&dir, &job).is_none());
        let verdict = Verdict::Light { disputed: Some(3) };
        write_sealed(&dir, &job, &verdict).unwrap();
        let (read, salt) = read_sealed(&dir, &job).unwrap();
        assert_eq!(read, verdict);
        assert_ne!(salt, Digest::from([0; 32]));
        // An unreadable file is dropped (and the audit re-run), never an error forever.
        std::fs::write(sealed_path(&dir, &job), b"{").unwrap();
        assert!(read_sealed(&dir, &job).is_none());
        assert!(!sealed_path(&dir, &job).exists());
        assert_eq!(read_declined(&dir, &job), None);
        write_atomic(&declined_path(&dir, &job), b"42").unwrap();
        assert_eq!(read_declined(&dir, &job), Some(42));
        forget(&dir, &job, false).unwrap();
        assert_eq!(read_declined(&dir, &job), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
