//! A job's FuelTrace leaves on disk: `(fuel, state_root)` per leaf, the whole trace (trap leaf
//! included, which no checkpoint holds), written by the runner and read by the agent's dispute
//! moves and the provider's API.

use plexus_types::ContentHash;
use plexus_types::{Digest, trace};
use std::path::Path;
use std::{fs, io};

/// The leaves file of a job: its whole trace, trap leaf included (which no checkpoint holds).
fn leaves_path(dir: &Path, job: &Digest) -> std::path::PathBuf {
    dir.join("checkpoints")
        .join(plexus_types::hash::digest_hex(job))
        .join("leaves")
}

/// `(fuel u64 LE | state_root [32])` per leaf.
pub fn encode_leaves(leaves: &[(u64, ContentHash)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(leaves.len() * 40);
    for (fuel, root) in leaves {
        bytes.extend_from_slice(&fuel.to_le_bytes());
        bytes.extend_from_slice(&root.0);
    }
    bytes
}

/// The inverse of [`encode_leaves`]; `None` for a torn encoding.
pub fn decode_leaves(bytes: &[u8]) -> Option<Vec<(u64, ContentHash)>> {
    if !bytes.len().is_multiple_of(40) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(40)
            .map(|chunk| {
                let mut fuel = [0u8; 8];
                fuel.copy_from_slice(&chunk[..8]);
                let mut root = [0u8; 32];
                root.copy_from_slice(&chunk[8..]);
                (u64::from_le_bytes(fuel), ContentHash::from_bytes(root))
            })
            .collect(),
    )
}

/// The trace root of leaves `(fuel, state_root)`.
pub fn leaves_root(leaves: &[(u64, ContentHash)]) -> ContentHash {
    let hashes: Vec<ContentHash> = (0u64..)
        .zip(leaves)
        .map(|(index, (fuel, root))| trace::leaf(index, *fuel, root))
        .collect();
    trace::trace_root(&hashes)
}

/// Stores a job's leaves `(fuel, state_root)` in index order.
pub fn write_leaves(dir: &Path, job: &Digest, leaves: &[(u64, ContentHash)]) -> io::Result<()> {
    let path = leaves_path(dir, job);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, encode_leaves(leaves))?;
    fs::rename(tmp, path)
}

/// A job's stored leaves, if any.
pub fn read_leaves(dir: &Path, job: &Digest) -> io::Result<Option<Vec<(u64, ContentHash)>>> {
    let bytes = match fs::read(leaves_path(dir, job)) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    decode_leaves(&bytes)
        .map(Some)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "corrupt leaves file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(i: u8) -> ContentHash {
        ContentHash::of(&[i])
    }

    #[test]
    fn leaves_round_trip_and_a_torn_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("plexus-leaves-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let job = plexus_types::hash(&[b"job".as_slice()]);
        assert!(read_leaves(&dir, &job).unwrap().is_none());
        let leaves = vec![(0, root(0)), (100, root(1)), (250, root(2))];
        write_leaves(&dir, &job, &leaves).unwrap();
        assert_eq!(read_leaves(&dir, &job).unwrap().unwrap(), leaves);
        fs::write(leaves_path(&dir, &job), [1u8; 41]).unwrap();
        assert!(read_leaves(&dir, &job).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
