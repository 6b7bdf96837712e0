//! Where a provider keeps the checkpoints of its jobs until they settle: per job, one manifest
//! file per checkpoint under `DIR/checkpoints/JOB/INDEX` and the page bytes under
//! `DIR/checkpoints/JOB/pages/xx/PAGEHASH`, shared by that job's checkpoints (a page that did not
//! change, and identical pages such as zero pages, are stored once). Deleting a settled or
//! expired job's directory frees everything it used.
//!
//! Pages are not synced to disk one by one: a job's checkpoints are a deterministic function of
//! the job, so anything a crash loses is recomputed by running the job again. The manifests use
//! a small fixed binary layout (below); pages are read back through [`PageSource`], which the
//! executor checks against each page's hash when it restores a checkpoint.

use plexus_exec::{Checkpoint, CheckpointSink, GlobalValue, NewPage, PageSource};
use plexus_types::ContentHash;
use plexus_types::hash::digest_hex;
use std::{
    borrow::Cow,
    fs, io,
    path::{Path, PathBuf},
};

/// The directory of job `job`'s checkpoints under the provider directory `dir`.
fn job_dir(dir: &Path, job: &plexus_types::Digest) -> PathBuf {
    dir.join("checkpoints").join(digest_hex(job))
}

/// The file of page `hash` in a job's directory.
fn page_path(job_dir: &Path, hash: &ContentHash) -> PathBuf {
    let hex: String = hash.0.iter().map(|b| format!("{b:02x}")).collect();
    job_dir.join("pages").join(&hex[..2]).join(hex)
}

/// The checkpoints of one job, as a run writes them.
pub struct DiskCheckpoints {
    dir: PathBuf,
    /// Checkpoints written by this sink.
    pub written: u64,
    /// Distinct new page bytes written by this sink.
    pub page_bytes: u64,
}

impl DiskCheckpoints {
    /// The checkpoints of job `job` under `dir` (an earlier run's are replaced).
    pub fn create(dir: &Path, job: &plexus_types::Digest) -> io::Result<Self> {
        let dir = job_dir(dir, job);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        Ok(DiskCheckpoints {
            dir,
            written: 0,
            page_bytes: 0,
        })
    }
}

impl CheckpointSink for DiskCheckpoints {
    fn checkpoint(&mut self, checkpoint: &Checkpoint, new_pages: &[NewPage<'_>]) -> io::Result<()> {
        for page in new_pages {
            let path = page_path(&self.dir, &page.hash);
            if path.exists() {
                continue;
            }
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            // One run writes a job's directory at a time, so this name is never shared.
            let tmp = path.with_extension("tmp");
            fs::write(&tmp, page.bytes)?;
            fs::rename(&tmp, &path)?;
            self.page_bytes += page.bytes.len() as u64;
        }
        fs::write(
            self.dir.join(checkpoint.index.to_string()),
            encode(checkpoint),
        )?;
        self.written += 1;
        Ok(())
    }
}

/// Reads stored checkpoints and pages.
pub struct CheckpointReader {
    dir: PathBuf,
}

impl CheckpointReader {
    pub fn new(dir: &Path) -> Self {
        CheckpointReader {
            dir: dir.to_path_buf(),
        }
    }

    /// The provider directory it reads under.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checkpoint `index` of job `job`, if stored.
    pub fn checkpoint(
        &self,
        job: &plexus_types::Digest,
        index: u64,
    ) -> io::Result<Option<Checkpoint>> {
        let path = job_dir(&self.dir, job).join(index.to_string());
        match fs::read(&path) {
            Ok(bytes) => decode(&bytes).map(Some).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("corrupt checkpoint manifest {}", path.display()),
                )
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The pages of job `job`, as a [`PageSource`].
    pub fn pages(&self, job: &plexus_types::Digest) -> JobPages {
        JobPages {
            dir: job_dir(&self.dir, job),
        }
    }

    /// Deletes a job's checkpoints and pages.
    pub fn remove_job(&self, job: &plexus_types::Digest) -> io::Result<()> {
        match fs::remove_dir_all(job_dir(&self.dir, job)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}

/// The stored pages of one job.
pub struct JobPages {
    dir: PathBuf,
}

impl PageSource for JobPages {
    fn page(&self, hash: &ContentHash) -> io::Result<Option<Cow<'_, [u8]>>> {
        match fs::read(page_path(&self.dir, hash)) {
            Ok(bytes) => Ok(Some(Cow::Owned(bytes))),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// `index u64 | fuel u64 | globals u32 | (tag u8 | value u128)* | pages u32 | hash[32]*`, all LE.
pub fn encode(checkpoint: &Checkpoint) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(24 + checkpoint.globals.len() * 17 + checkpoint.pages.len() * 32);
    out.extend_from_slice(&checkpoint.index.to_le_bytes());
    out.extend_from_slice(&checkpoint.fuel.to_le_bytes());
    out.extend_from_slice(&(checkpoint.globals.len() as u32).to_le_bytes());
    for global in &checkpoint.globals {
        let (tag, value): (u8, u128) = match *global {
            GlobalValue::I32(v) => (0, u128::from(v as u32)),
            GlobalValue::I64(v) => (1, u128::from(v as u64)),
            GlobalValue::F32(v) => (2, u128::from(v)),
            GlobalValue::F64(v) => (3, u128::from(v)),
            GlobalValue::V128(v) => (4, v),
        };
        out.push(tag);
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(&(checkpoint.pages.len() as u32).to_le_bytes());
    for page in &checkpoint.pages {
        out.extend_from_slice(&page.0);
    }
    out
}

/// The inverse of [`encode`]; `None` for bytes it did not produce.
pub fn decode(bytes: &[u8]) -> Option<Checkpoint> {
    let mut rest = bytes;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head)
    };
    let index = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let fuel = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let count = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    let mut globals = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let tag = take(1)?[0];
        let value = u128::from_le_bytes(take(16)?.try_into().ok()?);
        globals.push(match tag {
            0 => GlobalValue::I32(value as u32 as i32),
            1 => GlobalValue::I64(value as u64 as i64),
            2 => GlobalValue::F32(value as u32),
            3 => GlobalValue::F64(value as u64),
            4 => GlobalValue::V128(value),
            _ => return None,
        });
    }
    let count = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    let mut pages = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let hash: [u8; 32] = take(32)?.try_into().ok()?;
        pages.push(ContentHash::from_bytes(hash));
    }
    if !rest.is_empty() {
        return None;
    }
    Some(Checkpoint {
        index,
        fuel,
        globals,
        pages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_refuse_garbage() {
        let checkpoint = Checkpoint {
            index: 7,
            fuel: 123_456,
            globals: vec![
                GlobalValue::I32(-5),
                GlobalValue::I64(i64::MIN),
                GlobalValue::F32(0x7fc0_0000),
                GlobalValue::F64(1),
                GlobalValue::V128(u128::MAX),
            ],
            pages: vec![plexus_types::trace::page_hash(&[1u8; 16])],
        };
        let bytes = encode(&checkpoint);
        assert_eq!(decode(&bytes), Some(checkpoint));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode(&extra), None);
        let mut bad_tag = bytes;
        bad_tag[20] = 9;
        assert_eq!(decode(&bad_tag), None);
    }
}
