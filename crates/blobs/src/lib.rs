//! The content-addressed blob store: modules, model weights, job inputs and outputs, each named by
//! the BLAKE3 hash of its bytes.
//!
//! Blobs live as files under `DIR/xx/HASH` (the first byte of the hash as a fan-out directory).
//! A blob is written to a temporary file, synced and renamed into place, so a crash leaves either
//! the whole blob or nothing. Every read re-hashes the bytes: a file that no longer matches its
//! name is corruption and is reported as such, never served.
//!
//! Limits: one blob is at most `blob_bytes_max` (by default the executor's `BLOB_BYTES_MAX`); the store holds at most `store_bytes_max` in all
//! (checked against the bytes on disk at open and kept as a running sum). Erasure coding,
//! storage deals and retrievability proofs come with the storage market.
//!
//! [`pieces`] splits content that exceeds one network message into pieces each checked on its
//! own against the content's name; [`BlobStore::read_range`] reads one such piece. A store can
//! also live in memory ([`BlobStore::in_memory`]): the deterministic simulation's validators keep
//! their content there.

pub mod pieces;

use plexus_types::ContentHash;
use plexus_types::limits::BLOB_BYTES_MAX;
use std::{
    collections::BTreeMap,
    fs,
    io::{self, Read, Seek, Write},
    path::{Path, PathBuf},
    sync::Mutex,
};

/// The most bytes a store holds by default (4 GiB).
pub const STORE_BYTES_MAX: u64 = 4 << 30;

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
    backend: Backend,
    limits: Limits,
    /// Bytes stored; also serializes writers so the limit holds.
    used: Mutex<u64>,
}

/// Where the blobs are.
enum Backend {
    Dir(PathBuf),
    /// Lost with the process: for the simulation and tests.
    Memory(Mutex<BTreeMap<ContentHash, Vec<u8>>>),
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
            backend: Backend::Dir(dir.to_path_buf()),
            limits,
            used: Mutex::new(used),
        })
    }

    /// An empty store in memory.
    pub fn in_memory(limits: Limits) -> Self {
        BlobStore {
            backend: Backend::Memory(Mutex::new(BTreeMap::new())),
            limits,
            used: Mutex::new(0),
        }
    }

    /// The store's limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The file of `hash` in a directory store.
    fn path(dir: &Path, hash: &ContentHash) -> PathBuf {
        let hex = hash.to_hex();
        dir.join(&hex[..2]).join(hex)
    }

    /// Stores `bytes` and returns their hash (storing the same bytes twice is a no-op).
    pub fn put(&self, bytes: &[u8]) -> Result<ContentHash, BlobError> {
        let hash = ContentHash::of(bytes);
        self.write(&hash, bytes)?;
        Ok(hash)
    }

    /// Stores `bytes` under `expected`, refusing bytes that do not hash to it.
    pub fn put_expecting(&self, expected: &ContentHash, bytes: &[u8]) -> Result<(), BlobError> {
        let actual = ContentHash::of(bytes);
        if actual != *expected {
            return Err(BlobError::HashMismatch {
                expected: expected.to_hex(),
                actual: actual.to_hex(),
            });
        }
        self.write(expected, bytes)
    }

    fn write(&self, hash: &ContentHash, bytes: &[u8]) -> Result<(), BlobError> {
        let size = bytes.len() as u64;
        if size > self.limits.blob_bytes_max {
            return Err(BlobError::TooLarge {
                size,
                max: self.limits.blob_bytes_max,
            });
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if self.contains(hash) {
            return Ok(());
        }
        if used.saturating_add(size) > self.limits.store_bytes_max {
            return Err(BlobError::Full {
                used: *used,
                max: self.limits.store_bytes_max,
                size,
            });
        }
        let dir = match &self.backend {
            Backend::Dir(dir) => dir,
            Backend::Memory(blobs) => {
                lock(blobs).insert(*hash, bytes.to_vec());
                *used += size;
                return Ok(());
            }
        };
        let path = Self::path(dir, hash);
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
    pub fn get(&self, hash: &ContentHash) -> Result<Option<Vec<u8>>, BlobError> {
        let dir = match &self.backend {
            Backend::Dir(dir) => dir,
            Backend::Memory(blobs) => return Ok(lock(blobs).get(hash).cloned()),
        };
        let path = Self::path(dir, hash);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(BlobError::Io { path, source }),
        };
        if ContentHash::of(&bytes) != *hash {
            return Err(BlobError::Corrupt(hash.to_hex()));
        }
        Ok(Some(bytes))
    }

    /// Whether the store holds `hash`.
    pub fn contains(&self, hash: &ContentHash) -> bool {
        match &self.backend {
            Backend::Dir(dir) => Self::path(dir, hash).exists(),
            Backend::Memory(blobs) => lock(blobs).contains_key(hash),
        }
    }

    /// The size of blob `hash`; `None` if the store lacks it.
    pub fn size(&self, hash: &ContentHash) -> Result<Option<u64>, BlobError> {
        let dir = match &self.backend {
            Backend::Dir(dir) => dir,
            Backend::Memory(blobs) => return Ok(lock(blobs).get(hash).map(|b| b.len() as u64)),
        };
        let path = Self::path(dir, hash);
        match fs::metadata(&path) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BlobError::Io { path, source }),
        }
    }

    /// Bytes `range` of blob `hash` (cut at its end); `None` if the store lacks it. Unlike
    /// [`get`](Self::get) this does not re-hash the blob: the caller checks what it reads (a
    /// piece against its [`pieces::Outline`]).
    pub fn read_range(
        &self,
        hash: &ContentHash,
        range: std::ops::Range<u64>,
    ) -> Result<Option<Vec<u8>>, BlobError> {
        let dir = match &self.backend {
            Backend::Dir(dir) => dir,
            Backend::Memory(blobs) => {
                return Ok(lock(blobs).get(hash).map(|bytes| {
                    let end = (range.end as usize).min(bytes.len());
                    bytes[(range.start as usize).min(end)..end].to_vec()
                }));
            }
        };
        let path = Self::path(dir, hash);
        let mut file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(BlobError::Io { path, source }),
        };
        let mut bytes = Vec::new();
        file.seek(io::SeekFrom::Start(range.start))
            .and_then(|_| {
                file.take(range.end.saturating_sub(range.start))
                    .read_to_end(&mut bytes)
            })
            .map_err(io_error(&path))?;
        Ok(Some(bytes))
    }

    /// Removes a blob (no-op when absent).
    pub fn remove(&self, hash: &ContentHash) -> Result<(), BlobError> {
        let dir = match &self.backend {
            Backend::Dir(dir) => dir,
            Backend::Memory(blobs) => {
                let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(bytes) = lock(blobs).remove(hash) {
                    *used = used.saturating_sub(bytes.len() as u64);
                }
                return Ok(());
            }
        };
        let path = Self::path(dir, hash);
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
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
        assert_eq!(hash, ContentHash::of(b"weights"));
        assert_eq!(store.get(&hash).unwrap().unwrap(), b"weights");
        store.put(b"weights").unwrap();
        assert_eq!(store.used_bytes(), 7);
        assert_eq!(store.get(&ContentHash::of(b"absent")).unwrap(), None);
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
            store.put_expecting(&ContentHash::of(b"a"), b"b"),
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
        let hash = ContentHash::of(b"12345678");
        fs::write(BlobStore::path(&dir, &hash), b"tampered").unwrap();
        assert!(matches!(store.get(&hash), Err(BlobError::Corrupt(_))));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ranges_and_sizes_read_alike_from_disk_and_memory() {
        let dir = tempdir("ranges");
        let stores = [
            BlobStore::open(&dir, Limits::default()).unwrap(),
            BlobStore::in_memory(Limits {
                blob_bytes_max: 16,
                store_bytes_max: 20,
            }),
        ];
        for store in &stores {
            let hash = store.put(b"0123456789").unwrap();
            assert_eq!(store.size(&hash).unwrap(), Some(10));
            assert_eq!(store.read_range(&hash, 2..5).unwrap().unwrap(), b"234");
            assert_eq!(store.read_range(&hash, 8..64).unwrap().unwrap(), b"89");
            assert_eq!(store.read_range(&hash, 12..14).unwrap().unwrap(), b"");
            assert_eq!(store.get(&hash).unwrap().unwrap(), b"0123456789");
            let absent = ContentHash::of(b"absent");
            assert_eq!(store.size(&absent).unwrap(), None);
            assert_eq!(store.read_range(&absent, 0..1).unwrap(), None);
            assert!(matches!(
                store.put_expecting(&absent, b"other"),
                Err(BlobError::HashMismatch { .. })
            ));
            store.remove(&hash).unwrap();
            assert!(!store.contains(&hash));
            assert_eq!(store.used_bytes(), 0);
        }
        // The memory store keeps its limits too.
        let memory = &stores[1];
        assert!(matches!(
            memory.put(&[0; 17]),
            Err(BlobError::TooLarge { size: 17, max: 16 })
        ));
        memory.put(&[1; 16]).unwrap();
        assert!(matches!(memory.put(&[2; 5]), Err(BlobError::Full { .. })));
        fs::remove_dir_all(&dir).unwrap();
    }
}
