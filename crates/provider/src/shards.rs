//! The provider's shard store: the shards of storage deals it holds, on disk in their wire form
//! (`plexus_storage::coding::Shard`'s codec, what the shard routes carry), one file per shard at
//! `DIR/shards/DEAL/SEGMENT/SLOT` (the deal's id in hex).
//!
//! A shard is written to a temporary file beside its place, synced, renamed over it and the
//! directory synced (and a new deal's or segment's directory with its parents), so a crash
//! leaves either no shard or the whole one, never a part: what the agent accepts on chain is on
//! disk. Temporary files a crash left behind are removed when the
//! store opens. Writing the same shard twice is harmless (the second replaces the first with
//! the same bytes), so a client that retries an upload never corrupts one.
//!
//! The store keeps no index of its own: the directory is the list. What it should hold is the
//! chain's to say (the agent's storage step reconciles the two and deletes what the chain no
//! longer draws to this provider); the store only keeps, lists, serves and deletes.

use commonware_codec::{Decode as _, Encode as _, RangeCfg};
use plexus_state::storage::ShardKey;
use plexus_storage::coding::{SHARD_WIRE_OVERHEAD_MAX, Shard};
use plexus_types::{
    Digest,
    hash::{digest_hex, parse_digest},
};
use std::{
    fs,
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

/// The suffix of a shard being written (a file with it is never a shard).
const TMP_SUFFIX: &str = "tmp";

/// The file beside a deal's segment directories that keeps the highest height at which this
/// provider's node showed it a slot of the deal ([`ShardStore::note_height`]).
const HEIGHT_FILE: &str = "height";

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ShardStoreError {
    #[error("shard store: {0}")]
    Io(#[from] io::Error),
    /// A stored file is not a shard's wire form: corrupt storage.
    #[error("stored shard {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: commonware_codec::Error,
    },
}

/// The shards this provider keeps, under its directory.
pub struct ShardStore {
    root: PathBuf,
    /// Makes each temporary file's name unique, so two uploads of one shard at once never
    /// write into the same temporary file.
    writes: AtomicU64,
}

impl ShardStore {
    /// Opens (creating) the store under `dir` (`dir/shards`) and removes the temporary files an
    /// interrupted write left.
    pub fn open(dir: &Path) -> io::Result<ShardStore> {
        let root = dir.join("shards");
        fs::create_dir_all(&root)?;
        let store = ShardStore {
            root,
            writes: AtomicU64::new(0),
        };
        for (dir, name) in store.files()? {
            if name.ends_with(TMP_SUFFIX) {
                fs::remove_file(dir.join(name))?;
            }
        }
        Ok(store)
    }

    fn path(&self, (deal, segment, slot): &ShardKey) -> PathBuf {
        self.root
            .join(digest_hex(deal))
            .join(segment.to_string())
            .join(slot.to_string())
    }

    /// Keeps `shard` as `key`'s, durably (see the module docs). The caller has checked it.
    pub fn put(&self, key: &ShardKey, shard: &Shard) -> io::Result<()> {
        let path = self.path(key);
        let dir = path.parent().expect("a shard's path has a parent");
        if !dir.is_dir() {
            // A new deal's or segment's directory: its entry is durable once its parents are.
            fs::create_dir_all(dir)?;
            let deal_dir = dir.parent().expect("a segment's directory has a parent");
            fs::File::open(deal_dir)?.sync_all()?;
            fs::File::open(&self.root)?.sync_all()?;
        }
        let write = self.writes.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            "{}.{}.{write}.{TMP_SUFFIX}",
            key.2,
            std::process::id()
        ));
        let result = (|| {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(&shard.encode())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)?;
            // The rename itself is durable only once the directory is.
            fs::File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// `key`'s shard in its wire form, as stored (`None`: not held here).
    pub fn get_wire(&self, key: &ShardKey) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `key`'s shard (`None`: not held here); a file that does not decode is corrupt storage.
    pub fn get(&self, key: &ShardKey) -> Result<Option<Shard>, ShardStoreError> {
        let Some(wire) = self.get_wire(key)? else {
            return Ok(None);
        };
        // The bytes are at most the file's length; the store wrote them, so any length is ours.
        let lengths = RangeCfg::from(..=wire.len());
        Shard::decode_cfg(bytes::Bytes::from(wire), &lengths)
            .map(Some)
            .map_err(|source| ShardStoreError::Corrupt {
                path: self.path(key),
                source,
            })
    }

    /// Whether `key`'s shard is held here.
    pub fn contains(&self, key: &ShardKey) -> bool {
        self.path(key).is_file()
    }

    /// Every shard held, in order (deal, segment, slot). Names that are not a shard's (a
    /// stranger's file under the directory) are skipped.
    pub fn list(&self) -> io::Result<Vec<ShardKey>> {
        let mut keys = Vec::new();
        for (segment_dir, name) in self.files()? {
            let Some(key) = parse_key(&segment_dir, &name) else {
                continue;
            };
            keys.push(key);
        }
        keys.sort();
        Ok(keys)
    }

    /// Deletes `key`'s shard (nothing if it is not held), and its segment's and deal's
    /// directories once empty.
    pub fn delete(&self, key: &ShardKey) -> io::Result<()> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
        }
        // Removing a directory fails while it holds anything (another shard, a write under way).
        let segment_dir = path.parent().expect("a shard's path has a parent");
        if fs::remove_dir(segment_dir).is_ok() {
            let deal_dir = segment_dir.parent().expect("a segment's has a parent");
            let segments_left = fs::read_dir(deal_dir)?
                .filter_map(Result::ok)
                .any(|entry| entry.path().is_dir());
            if !segments_left {
                let _ = fs::remove_file(deal_dir.join(HEIGHT_FILE));
                let _ = fs::remove_dir(deal_dir);
            }
        }
        Ok(())
    }

    /// Notes that this provider's node showed a slot of `deal` drawn to it at `height` (kept as
    /// the highest noted), before the shard is stored: a node below that height answers from
    /// before the draw, and the collection does not delete on its word.
    pub fn note_height(&self, deal: &Digest, height: u64) -> io::Result<()> {
        let deal_dir = self.root.join(digest_hex(deal));
        fs::create_dir_all(&deal_dir)?;
        if self
            .noted_height(deal)?
            .is_some_and(|noted| noted >= height)
        {
            return Ok(());
        }
        let write = self.writes.fetch_add(1, Ordering::Relaxed);
        let tmp = deal_dir.join(format!(
            "{HEIGHT_FILE}.{}.{write}.{TMP_SUFFIX}",
            std::process::id()
        ));
        let result = (|| {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(height.to_string().as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, deal_dir.join(HEIGHT_FILE))?;
            fs::File::open(&deal_dir)?.sync_all()?;
            fs::File::open(&self.root)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// The highest height noted for `deal` (`None`: none noted).
    pub fn noted_height(&self, deal: &Digest) -> io::Result<Option<u64>> {
        let path = self.root.join(digest_hex(deal)).join(HEIGHT_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map(Some).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("corrupt height file {}", path.display()),
                )
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Every file in the deal and segment directories: (its directory, its name). A deal
    /// directory's own files (its height, a temporary one) come with the deal's path.
    fn files(&self) -> io::Result<Vec<(PathBuf, String)>> {
        let mut files = Vec::new();
        for deal in fs::read_dir(&self.root)? {
            let deal = deal?.path();
            if !deal.is_dir() {
                continue;
            }
            for segment in fs::read_dir(&deal)? {
                let segment = segment?.path();
                if !segment.is_dir() {
                    let name = segment.file_name().unwrap_or_default();
                    files.push((deal.clone(), name.to_string_lossy().into_owned()));
                    continue;
                }
                for file in fs::read_dir(&segment)? {
                    let name = file?.file_name().to_string_lossy().into_owned();
                    files.push((segment.clone(), name));
                }
            }
        }
        Ok(files)
    }
}

/// The key a shard's file names: `DEAL/SEGMENT/SLOT`.
fn parse_key(segment_dir: &Path, name: &str) -> Option<ShardKey> {
    let segment = segment_dir.file_name()?.to_str()?.parse().ok()?;
    let deal = parse_digest(segment_dir.parent()?.file_name()?.to_str()?)?;
    let slot = name.parse().ok()?;
    Some((deal, segment, slot))
}

/// The most bytes a shard's wire form of `shard_bytes` may take: what the routes read at most.
pub fn wire_bytes_max(shard_bytes: u64) -> u64 {
    shard_bytes.saturating_add(SHARD_WIRE_OVERHEAD_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_storage::coding::{Shape, encode};
    use plexus_types::Digest;

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plexus-shards-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn shards() -> Vec<Shard> {
        let segment: Vec<u8> = (0..5_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let shape = Shape::new(2, 4).unwrap();
        encode(shape, &segment, &commonware_parallel::Sequential)
            .unwrap()
            .shards
    }

    #[test]
    fn shards_survive_reopen_and_are_listed_and_deleted() {
        let dir = tempdir("reopen");
        let shards = shards();
        let deal = Digest::from([7u8; 32]);
        let other = Digest::from([3u8; 32]);
        let store = ShardStore::open(&dir).unwrap();
        assert_eq!(store.list().unwrap(), vec![]);
        assert_eq!(store.noted_height(&deal).unwrap(), None);
        store.note_height(&deal, 7).unwrap();
        store.note_height(&deal, 5).unwrap();
        store.put(&(deal, 0, 1), &shards[1]).unwrap();
        store.put(&(deal, 2, 3), &shards[3]).unwrap();
        store.put(&(other, 0, 0), &shards[0]).unwrap();
        // The same shard twice is kept once.
        store.put(&(deal, 0, 1), &shards[1]).unwrap();
        drop(store);

        let store = ShardStore::open(&dir).unwrap();
        assert_eq!(
            store.list().unwrap(),
            vec![(other, 0, 0), (deal, 0, 1), (deal, 2, 3)]
        );
        // The highest height noted, kept across the reopen.
        assert_eq!(store.noted_height(&deal).unwrap(), Some(7));
        assert_eq!(store.get(&(deal, 0, 1)).unwrap(), Some(shards[1].clone()));
        assert_eq!(
            store.get_wire(&(deal, 2, 3)).unwrap(),
            Some(shards[3].encode().to_vec())
        );
        assert_eq!(store.get(&(deal, 0, 2)).unwrap(), None);
        assert!(store.contains(&(other, 0, 0)) && !store.contains(&(other, 0, 1)));

        store.delete(&(deal, 0, 1)).unwrap();
        store.delete(&(deal, 0, 1)).unwrap();
        assert_eq!(store.list().unwrap(), vec![(other, 0, 0), (deal, 2, 3)]);
        assert!(
            !dir.join("shards")
                .join(digest_hex(&deal))
                .join("0")
                .exists()
        );
        store.delete(&(other, 0, 0)).unwrap();
        assert!(!dir.join("shards").join(digest_hex(&other)).exists());
        // The deal's last shard takes its height and its directory with it.
        store.delete(&(deal, 2, 3)).unwrap();
        assert!(!dir.join("shards").join(digest_hex(&deal)).exists());
        assert_eq!(store.noted_height(&deal).unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_interrupted_write_leaves_no_shard_and_is_cleaned_up() {
        let dir = tempdir("interrupted");
        let shards = shards();
        let deal = Digest::from([9u8; 32]);
        let store = ShardStore::open(&dir).unwrap();
        store.put(&(deal, 0, 0), &shards[0]).unwrap();
        // A crash between the write and the rename: a partial temporary file beside the shard.
        let segment_dir = dir.join("shards").join(digest_hex(&deal)).join("0");
        let partial = segment_dir.join(format!("1.77.0.{TMP_SUFFIX}"));
        fs::write(&partial, &shards[1].encode()[..100]).unwrap();
        assert_eq!(store.list().unwrap(), vec![(deal, 0, 0)]);
        drop(store);
        let store = ShardStore::open(&dir).unwrap();
        assert!(!partial.exists());
        assert_eq!(store.list().unwrap(), vec![(deal, 0, 0)]);
        assert_eq!(store.get(&(deal, 0, 1)).unwrap(), None);
        // A file that is not a shard's wire form is corrupt storage, not a missing shard.
        fs::write(segment_dir.join("2"), b"not a shard").unwrap();
        assert!(matches!(
            store.get(&(deal, 0, 2)),
            Err(ShardStoreError::Corrupt { .. })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
