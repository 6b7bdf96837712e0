//! The content-addressed blob store: modules, model weights, job inputs and outputs, each named by
//! the BLAKE3 hash of its bytes.
//!
//! Blobs live as files under `DIR/xx/HASH` (the first byte of the hash as a fan-out directory).
//! A blob is written to a temporary file, synced and renamed into place, so a crash leaves either
//! the whole blob or nothing. Every read re-hashes the bytes: a file that no longer matches its
//! name is corruption and is reported as such, never served.
//!
//! Limits: one blob is at most `blob_bytes_max`; the store holds at most `store_bytes_max` in all
//! (checked against the bytes on disk at open and kept as a running sum). Erasure coding,
//! storage deals and retrievability proofs come with the storage market.

use plexus_types::Digest;
use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::Mutex,
};

/// The largest blob the store accepts by default (64 MiB): the executor's own limit on a blob.
pub const BLOB_BYTES_MAX: u64 = 64 << 20;
/// The most bytes a store holds by default (4 GiB).
pub const STORE_BYTES_MAX: u64 = 4 << 30;

/// The BLAKE3 hash that names `bytes`.
pub fn blob_hash(bytes: &[u8]) -> Digest {
    commonware_digest(blake3::hash(bytes).into())
}

fn commonware_digest(bytes: [u8; 32]) -> Digest {
    plexus_types::hash::digest_from_bytes(bytes)
}

/// What can go wrong storing or reading a blob.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the blob is {size} bytes, over the {max}-byte limit")]
    TooLarge { size: u64, max: u64 },
    #[error("the store is full: {used} of {max} bytes used, {size} more do not fit")]
    Full { used: u64, max: u64, size: u64 },
    #[error("the bytes hash to {actual}, not {expected}")]
    HashMismatch { expected: String, actual: String },
    #[error("stored blob {0} no longer matches its hash (corrupt storage)")]
    Corrupt(String),
    #[error("blob store I/O at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Limits of one store.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub blob_bytes_max: u64,
    pub store_bytes_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            blob_bytes_max: BLOB_BYTES_MAX,
            store_bytes_max: STORE_BYTES_MAX,
        }
    }
}

/// A directory of blobs named by their hashes.
pub struct BlobStore {
    dir: PathBuf,
    limits: Limits,
    /// Bytes stored; also serializes writers so the limit holds.
    used: Mutex<u64>,
}

impl BlobStore {
    /// Opens (creating) the store at `dir` and counts what it holds.
    pub fn open(dir: &Path, limits: Limits) -> Result<Self, BlobError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut used = 0u64;
        for fan in fs::read_dir(dir).map_err(io_error(dir))? {
            let fan = fan.map_err(io_error(dir))?.path();
            if !fan.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&fan).map_err(io_error(&fan))? {
                let entry = entry.map_err(io_error(&fan))?;
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "tmp") {
                    // An interrupted write: never renamed into place, so never a blob.
                    fs::remove_file(&path).map_err(io_error(&path))?;
                    continue;
                }
                used += entry.metadata().map_err(io_error(&path))?.len();
            }
        }
        Ok(BlobStore {
            dir: dir.to_path_buf(),
            limits,
            used: Mutex::new(used),
        })
    }

    /// The store's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn path(&self, hash: &Digest) -> PathBuf {
        let hex = plexus_types::hash::digest_hex(hash);
        self.dir.join(&hex[..2]).join(hex)
    }

    /// Stores `bytes` and returns their hash (storing the same bytes twice is a no-op).
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, BlobError> {
        let hash = blob_hash(bytes);
        self.write(&hash, bytes)?;
        Ok(hash)
    }

    /// Stores `bytes` under `expected`, refusing bytes that do not hash to it.
    pub fn put_expecting(&self, expected: &Digest, bytes: &[u8]) -> Result<(), BlobError> {
        let actual = blob_hash(bytes);
        if actual != *expected {
            return Err(BlobError::HashMismatch {
                expected: plexus_types::hash::digest_hex(expected),
                actual: plexus_types::hash::digest_hex(&actual),
            });
        }
        self.write(expected, bytes)
    }

    fn write(&self, hash: &Digest, bytes: &[u8]) -> Result<(), BlobError> {
        let size = bytes.len() as u64;
        if size > self.limits.blob_bytes_max {
            return Err(BlobError::TooLarge {
                size,
                max: self.limits.blob_bytes_max,
            });
        }
        let path = self.path(hash);
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if path.exists() {
            return Ok(());
        }
        if used.saturating_add(size) > self.limits.store_bytes_max {
            return Err(BlobError::Full {
                used: *used,
                max: self.limits.store_bytes_max,
                size,
            });
        }
        let parent = path.parent().expect("a blob path has a fan-out directory");
        fs::create_dir_all(parent).map_err(io_error(parent))?;
        let tmp = path.with_extension("tmp");
        let mut file = fs::File::create(&tmp).map_err(io_error(&tmp))?;
        file.write_all(bytes).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_error(&path))?;
        *used += size;
        Ok(())
    }

    /// The blob named `hash`, checked against its name; `None` if the store lacks it.
    pub fn get(&self, hash: &Digest) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.path(hash);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(BlobError::Io { path, source }),
        };
        if blob_hash(&bytes) != *hash {
            return Err(BlobError::Corrupt(plexus_types::hash::digest_hex(hash)));
        }
        Ok(Some(bytes))
    }

    /// Whether the store holds `hash`.
    pub fn contains(&self, hash: &Digest) -> bool {
        self.path(hash).exists()
    }

    /// Removes a blob (no-op when absent).
    pub fn remove(&self, hash: &Digest) -> Result<(), BlobError> {
        let path = self.path(hash);
        let size = match fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(BlobError::Io { path, source }),
        };
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        fs::remove_file(&path).map_err(io_error(&path))?;
        *used = used.saturating_sub(size);
        Ok(())
    }

    /// Bytes stored.
    pub fn used_bytes(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "plexus-blobs-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn stores_checks_and_survives_reopen() {
        let dir = tempdir("reopen");
        let store = BlobStore::open(&dir, Limits::default()).unwrap();
        let hash = store.put(b"weights").unwrap();
        assert_eq!(hash, blob_hash(b"weights"));
        assert_eq!(store.get(&hash).unwrap().unwrap(), b"weights");
        store.put(b"weights").unwrap();
        assert_eq!(store.used_bytes(), 7);
        assert_eq!(store.get(&blob_hash(b"absent")).unwrap(), None);
        let reopened = BlobStore::open(&dir, Limits::default()).unwrap();
        assert_eq!(reopened.used_bytes(), 7);
        assert!(reopened.contains(&hash));
        reopened.remove(&hash).unwrap();
        assert_eq!(reopened.used_bytes(), 0);
        assert!(!reopened.contains(&hash));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_mismatch_oversize_and_overfill_and_reports_corruption() {
        let dir = tempdir("limits");
        let store = BlobStore::open(
            &dir,
            Limits {
                blob_bytes_max: 8,
                store_bytes_max: 12,
            },
        )
        .unwrap();
        assert!(matches!(
            store.put_expecting(&blob_hash(b"a"), b"b"),
            Err(BlobError::HashMismatch { .. })
        ));
        assert!(matches!(
            store.put(b"123456789"),
            Err(BlobError::TooLarge { size: 9, max: 8 })
        ));
        store.put(b"12345678").unwrap();
        assert!(matches!(
            store.put(b"abcdefgh"),
            Err(BlobError::Full { used: 8, .. })
        ));
        let hash = blob_hash(b"12345678");
        fs::write(store.path(&hash), b"tampered").unwrap();
        assert!(matches!(store.get(&hash), Err(BlobError::Corrupt(_))));
        fs::remove_dir_all(&dir).unwrap();
    }
}
