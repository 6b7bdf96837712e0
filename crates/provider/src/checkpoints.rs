//! Where a provider keeps the checkpoints of its jobs until they settle: one manifest file per
//! checkpoint under `DIR/checkpoints/JOB/INDEX` and the page bytes, shared by every checkpoint and
//! every job, under `DIR/pages/xx/PAGEHASH`.
//!
//! Pages are not synced to disk one by one: a job's checkpoints are a deterministic function of
//! the job, so anything a crash loses is recomputed by running the job again. The manifests use
//! a small fixed binary layout (below); pages are read back through [`PageSource`], which the
//! executor checks against each page's hash when it restores a checkpoint.

use plexus_exec::{Checkpoint, CheckpointSink, Digest32, GlobalValue, NewPage, PageSource};
use plexus_types::hash::digest_hex;
use std::{
    borrow::Cow,
    fs, io,
    path::{Path, PathBuf},
};

/// Checkpoints of one job and the shared page directory.
pub struct DiskCheckpoints {
    manifests: PathBuf,
    pages: PathBuf,
    /// Checkpoints written by this sink.
    pub written: u64,
    /// Distinct new page bytes written by this sink.
    pub page_bytes: u64,
}

fn blake3_hex(digest: &Digest32) -> String {
    digest.0.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file of page `hash` under `pages`.
fn page_path(pages: &Path, hash: &Digest32) -> PathBuf {
    let hex = blake3_hex(hash);
    pages.join(&hex[..2]).join(hex)
}

impl DiskCheckpoints {
    /// The checkpoints of job `job` under `dir` (any earlier run's manifests are replaced).
    pub fn create(dir: &Path, job: &plexus_types::Digest) -> io::Result<Self> {
        let manifests = dir.join("checkpoints").join(digest_hex(job));
        if manifests.exists() {
            fs::remove_dir_all(&manifests)?;
        }
        fs::create_dir_all(&manifests)?;
        Ok(DiskCheckpoints {
            manifests,
            pages: dir.join("pages"),
            written: 0,
            page_bytes: 0,
        })
    }
}

impl CheckpointSink for DiskCheckpoints {
    fn checkpoint(&mut self, checkpoint: &Checkpoint, new_pages: &[NewPage<'_>]) -> io::Result<()> {
        for page in new_pages {
            let path = page_path(&self.pages, &page.hash);
            if path.exists() {
                continue;
            }
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            let tmp = path.with_extension("tmp");
            fs::write(&tmp, page.bytes)?;
            fs::rename(&tmp, &path)?;
            self.page_bytes += page.bytes.len() as u64;
        }
        let path = self.manifests.join(checkpoint.index.to_string());
        fs::write(&path, encode(checkpoint))?;
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

    /// Checkpoint `index` of job `job`, if stored.
    pub fn checkpoint(
        &self,
        job: &plexus_types::Digest,
        index: u64,
    ) -> io::Result<Option<Checkpoint>> {
        let path = self
            .dir
            .join("checkpoints")
            .join(digest_hex(job))
            .join(index.to_string());
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

    /// Deletes a job's checkpoint manifests (its pages may be shared and stay until `prune_pages`).
    pub fn remove_job(&self, job: &plexus_types::Digest) -> io::Result<()> {
        let path = self.dir.join("checkpoints").join(digest_hex(job));
        match fs::remove_dir_all(path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}

impl PageSource for CheckpointReader {
    fn page(&self, hash: &Digest32) -> io::Result<Option<Cow<'_, [u8]>>> {
        match fs::read(page_path(&self.dir.join("pages"), hash)) {
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
        pages.push(commonware_cryptography::blake3::Digest(hash));
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
