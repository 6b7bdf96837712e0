//! The provider's journal: one record per job it was assigned, so a restarted agent knows which
//! jobs it accepted or refused (decided once, never again: `acceptance`), and which it has run,
//! committed and been paid for.
//!
//! Records are small JSON files (`DIR/jobs/JOB.json`), written to a temporary file, synced and
//! renamed, so a crash leaves the old record or the new one. The journal is the agent's private
//! bookkeeping: the chain stays the authority on every job's status, and the agent reconciles
//! the two on every poll.
//!
//! Beside the records, [`Sends`] remembers in memory only what the agent sent that the chain may
//! not have taken yet (heartbeats, audit steps) and when it last swept: a restarted agent sends
//! those again, which the chain either takes or refuses.

use crate::acceptance::Decision;
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

/// What the provider committed to for a job (hex hashes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentRecord {
    pub output_hash: String,
    pub total_fuel: u64,
    pub segments: u32,
    pub trace_root: String,
    pub failed: bool,
    /// Why the job failed, when it did (a trap code or a fetch problem).
    #[serde(default)]
    pub failure: Option<String>,
}

/// Where a job stands for this provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Assigned on chain; not executed yet (or interrupted: it runs again from the start).
    Assigned,
    /// Executed; the commitment is ready to post.
    Executed { commitment: CommitmentRecord },
    /// The commitment transaction was submitted.
    CommitSent {
        commitment: CommitmentRecord,
        tx: String,
        sent_height: u64,
    },
    /// The chain recorded the commitment; waiting for settlement.
    Committed { commitment: CommitmentRecord },
    /// The chain settled the job and paid this provider.
    Settled {
        commitment: CommitmentRecord,
        paid: String,
    },
    /// The job ended without payment (deadline passed).
    Expired,
    /// The provider lost a dispute over the job: no payment, `slashed` taken from its bond.
    Refuted { slashed: String },
}

impl Phase {
    /// The commitment, once the job has been executed.
    pub fn commitment(&self) -> Option<&CommitmentRecord> {
        match self {
            Phase::Executed { commitment }
            | Phase::CommitSent { commitment, .. }
            | Phase::Committed { commitment }
            | Phase::Settled { commitment, .. } => Some(commitment),
            Phase::Assigned | Phase::Expired | Phase::Refuted { .. } => None,
        }
    }

    /// Whether nothing more will happen to the job.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Phase::Settled { .. } | Phase::Expired | Phase::Refuted { .. }
        )
    }

    /// The phase's name, as the provider API shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Assigned => "assigned",
            Phase::Executed { .. } => "executed",
            Phase::CommitSent { .. } => "commit_sent",
            Phase::Committed { .. } => "committed",
            Phase::Settled { .. } => "settled",
            Phase::Expired => "expired",
            Phase::Refuted { .. } => "refuted",
        }
    }
}

/// One job as the provider tracks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job id (hex).
    pub id: String,
    pub deadline_height: u64,
    pub phase: Phase,
    /// Whether the provider took the job on, decided once when it first saw the job and never
    /// again. `None` only in records written before decisions were kept: those jobs were
    /// accepted (a refused one had already moved on to its refusal commitment).
    #[serde(default)]
    pub decision: Option<Decision>,
}

/// An audit step a verifier sends (the chain's answer is the audit's next stage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditStep {
    /// The sealed verdict (`AuditCommit`), owed while the audit is drawn.
    Seal,
    /// The opened seal (`AuditReveal`), owed while the audit is sealed.
    Reveal,
}

/// What the agent sent and when, in memory only (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sends {
    /// The height of the last heartbeat submitted (or of the registration).
    pub heartbeat_height: u64,
    /// The last audit step sent per job (hex id) and the height it was sent at, so a step is
    /// sent once and again only if the chain has not moved on `RESEND_AFTER_BLOCKS` later.
    pub audit_steps: BTreeMap<String, (AuditStep, u64)>,
    /// The height of the last sweep of old audits' files.
    pub sweep_height: u64,
}

/// The directory of job records, mirrored in memory.
pub struct Journal {
    /// Where records are written; `None`: an in-memory journal that keeps nothing on disk.
    dir: Option<PathBuf>,
    records: BTreeMap<String, JobRecord>,
    /// What was sent, in memory only.
    pub sends: Sends,
}

impl Journal {
    /// Opens (creating) the journal under `dir` and loads every record. A record that does not
    /// parse is corrupt storage: an error, not skipped.
    pub fn open(dir: &Path) -> io::Result<Self> {
        let dir = dir.join("jobs");
        fs::create_dir_all(&dir)?;
        let mut records = BTreeMap::new();
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = fs::read_to_string(&path)?;
            let record: JobRecord = serde_json::from_str(&text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("corrupt job record {}: {e}", path.display()),
                )
            })?;
            records.insert(record.id.clone(), record);
        }
        Ok(Journal {
            dir: Some(dir),
            records,
            sends: Sends::default(),
        })
    }

    /// A journal that keeps its records in memory only: a pure core's tests and simulations.
    pub fn in_memory() -> Self {
        Journal {
            dir: None,
            records: BTreeMap::new(),
            sends: Sends::default(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&JobRecord> {
        self.records.get(id)
    }

    /// Every record, by job id.
    pub fn records(&self) -> impl Iterator<Item = &JobRecord> {
        self.records.values()
    }

    /// Writes `record` durably (an in-memory journal: not at all), then keeps it in memory.
    pub fn put(&mut self, record: JobRecord) -> io::Result<()> {
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{}.json", record.id));
            let json = serde_json::to_string_pretty(&record).expect("records serialize");
            write_synced(&path, json.as_bytes())?;
        }
        self.records.insert(record.id.clone(), record);
        Ok(())
    }

    /// Moves job `id` to `phase` (durably).
    pub fn set_phase(&mut self, id: &str, phase: Phase) -> io::Result<()> {
        let Some(mut record) = self.records.get(id).cloned() else {
            return Ok(());
        };
        record.phase = phase;
        self.put(record)
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the new one, never a part:
/// a temporary file beside it, synced, then renamed over it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("plexus-journal-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut journal = Journal::open(&dir).unwrap();
        journal
            .put(JobRecord {
                id: "ab".into(),
                deadline_height: 9,
                phase: Phase::Assigned,
                decision: Some(Decision::Accepted {
                    height: 2,
                    fuel_per_second: 70_000_000,
                    block_ms: 250,
                }),
            })
            .unwrap();
        let commitment = CommitmentRecord {
            output_hash: "00".into(),
            total_fuel: 5,
            segments: 1,
            trace_root: "11".into(),
            failed: false,
            failure: None,
        };
        journal
            .set_phase(
                "ab",
                Phase::CommitSent {
                    commitment: commitment.clone(),
                    tx: "cd".into(),
                    sent_height: 3,
                },
            )
            .unwrap();
        let reopened = Journal::open(&dir).unwrap();
        let record = reopened.get("ab").unwrap();
        assert_eq!(record.phase.commitment(), Some(&commitment));
        assert_eq!(record.phase.name(), "commit_sent");
        // The decision outlives the phase it was made in.
        assert!(matches!(
            record.decision,
            Some(Decision::Accepted {
                fuel_per_second: 70_000_000,
                ..
            })
        ));
        // A record an older agent wrote, before decisions were kept, still opens.
        fs::write(
            dir.join("jobs").join("cd.json"),
            r#"{"id":"cd","deadline_height":7,"phase":{"phase":"assigned"}}"#,
        )
        .unwrap();
        let reopened = Journal::open(&dir).unwrap();
        let legacy = reopened.get("cd").unwrap();
        assert_eq!((&legacy.phase, &legacy.decision), (&Phase::Assigned, &None));
        fs::write(dir.join("jobs").join("zz.json"), "not json").unwrap();
        assert!(Journal::open(&dir).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
