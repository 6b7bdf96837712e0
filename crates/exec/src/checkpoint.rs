//! Checkpoints: the state of a job between two steps, and where their pages go.
//!
//! A checkpoint names its memory by page hashes; the bytes live in a content-addressed page store
//! shared by all checkpoints of a job, so a page that did not change since the previous
//! checkpoint is stored once. [`Snapshotter`] finds changed pages by comparing the memory with a
//! shadow copy of the previous checkpoint's bytes (a memcmp) and hashes only those, so the cost of
//! a checkpoint is one pass of comparison plus hashing proportional to the pages written.

use plexus_types::ContentHash;
use plexus_types::trace::{
    GlobalValue, PAGE_BYTES, globals_hash, leaf, memory_root, page_hash, state_root,
};
use std::{borrow::Cow, collections::BTreeMap, io, sync::Arc};

/// The state of a job at a segment boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Leaf index (0 = the instantiated module, before `init`).
    pub index: u64,
    /// Cumulative fuel consumed at this point.
    pub fuel: u64,
    /// Mutable globals in global-index order.
    pub globals: Vec<GlobalValue>,
    /// Hash of every memory page, in page order (`page_hash(bytes)`).
    pub pages: Vec<ContentHash>,
}

impl Checkpoint {
    /// The state root this checkpoint commits to.
    pub fn state_root(&self) -> ContentHash {
        state_root(&memory_root(&self.pages), &globals_hash(&self.globals))
    }

    /// The trace leaf of this checkpoint.
    pub fn leaf(&self) -> ContentHash {
        leaf(self.index, self.fuel, &self.state_root())
    }
}

/// A page the sink has not been given before in this run (its bytes changed since the previous
/// checkpoint, or this is checkpoint 0).
#[derive(Clone, Copy, Debug)]
pub struct NewPage<'a> {
    /// Page index in memory.
    pub index: u32,
    /// `page_hash(bytes)`.
    pub hash: ContentHash,
    /// The page's bytes (`PAGE_BYTES` long).
    pub bytes: &'a [u8],
}

/// Receives the checkpoints of a run, in order (the provider persists them until settlement).
pub trait CheckpointSink {
    /// Stores `checkpoint` and the pages that are new since the previous one.
    fn checkpoint(&mut self, checkpoint: &Checkpoint, new_pages: &[NewPage<'_>]) -> io::Result<()>;
}

/// Serves page bytes by hash, to restore a checkpoint.
pub trait PageSource {
    /// The bytes of the page with this hash, if known.
    fn page(&self, hash: &ContentHash) -> io::Result<Option<Cow<'_, [u8]>>>;
}

/// A sink that keeps nothing (for runs whose checkpoints are not needed, e.g. benchmarks of the
/// hashing cost alone).
#[derive(Clone, Copy, Debug, Default)]
pub struct DiscardCheckpoints;

impl CheckpointSink for DiscardCheckpoints {
    fn checkpoint(&mut self, _: &Checkpoint, _: &[NewPage<'_>]) -> io::Result<()> {
        Ok(())
    }
}

/// Checkpoints and pages kept in memory (tests, benchmarks, small jobs).
#[derive(Clone, Debug, Default)]
pub struct MemoryCheckpoints {
    /// Every checkpoint received, in order.
    pub checkpoints: Vec<Checkpoint>,
    /// Page bytes by hash (each distinct page once).
    pub pages: BTreeMap<ContentHash, Arc<[u8]>>,
}

impl MemoryCheckpoints {
    /// Total bytes of distinct pages stored.
    pub fn page_bytes(&self) -> usize {
        self.pages.values().map(|page| page.len()).sum()
    }

    /// Bytes of `checkpoint`'s distinct pages (each identical page once, as a pre-state upload
    /// sends them), or `None` if it names a page not kept here.
    pub fn distinct_page_bytes(&self, checkpoint: &Checkpoint) -> Option<usize> {
        let distinct: std::collections::BTreeSet<&ContentHash> = checkpoint.pages.iter().collect();
        distinct
            .into_iter()
            .map(|hash| self.pages.get(hash).map(|page| page.len()))
            .sum()
    }
}

impl CheckpointSink for MemoryCheckpoints {
    fn checkpoint(&mut self, checkpoint: &Checkpoint, new_pages: &[NewPage<'_>]) -> io::Result<()> {
        for page in new_pages {
            self.pages
                .entry(page.hash)
                .or_insert_with(|| Arc::from(page.bytes));
        }
        self.checkpoints.push(checkpoint.clone());
        Ok(())
    }
}

impl PageSource for MemoryCheckpoints {
    fn page(&self, hash: &ContentHash) -> io::Result<Option<Cow<'_, [u8]>>> {
        Ok(self.pages.get(hash).map(|page| Cow::Borrowed(&page[..])))
    }
}

/// Incremental page hashing: remembers the bytes and hashes of the previous checkpoint.
#[derive(Default)]
pub(crate) struct Snapshotter {
    shadow: Vec<u8>,
    hashes: Vec<ContentHash>,
    changed: Vec<u32>,
    /// Time spent hashing pages so far (benchmarks report it; never part of a commitment).
    pub hash_time: std::time::Duration,
}

impl Snapshotter {
    /// Starts from a known state (a restored checkpoint) instead of from nothing.
    pub fn with_state(memory: &[u8], hashes: Vec<ContentHash>) -> Self {
        Self {
            shadow: memory.to_vec(),
            hashes,
            changed: Vec::new(),
            hash_time: std::time::Duration::ZERO,
        }
    }

    /// Brings the hashes up to date with `memory`; returns the page hashes and the indices of
    /// the pages that changed (or appeared) since the last call.
    pub fn update(&mut self, memory: &[u8]) -> (&[ContentHash], &[u32]) {
        self.changed.clear();
        let pages = memory.len() / PAGE_BYTES;
        let known = self.hashes.len().min(pages);
        for (index, page) in memory.chunks_exact(PAGE_BYTES).enumerate() {
            let start = index * PAGE_BYTES;
            if index < known && self.shadow[start..start + PAGE_BYTES] == *page {
                continue;
            }
            // Memory never exceeds MEMORY_PAGES_MAX pages, so the index fits u32.
            let index32 = index as u32;
            let started = std::time::Instant::now();
            let hash = page_hash(page);
            self.hash_time += started.elapsed();
            if index < self.hashes.len() {
                self.hashes[index] = hash;
            } else {
                self.hashes.push(hash);
            }
            self.changed.push(index32);
        }
        // Memory only grows; the copy keeps the shadow equal to the memory for the next diff.
        self.hashes.truncate(pages);
        if self.shadow.len() != memory.len() {
            self.shadow.resize(memory.len(), 0);
        }
        for index in &self.changed {
            let start = *index as usize * PAGE_BYTES;
            self.shadow[start..start + PAGE_BYTES]
                .copy_from_slice(&memory[start..start + PAGE_BYTES]);
        }
        (&self.hashes, &self.changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshotter_hashes_only_changed_pages() {
        let mut memory = vec![0u8; 3 * PAGE_BYTES];
        let mut snapshotter = Snapshotter::default();
        let (hashes, changed) = snapshotter.update(&memory);
        assert_eq!(hashes.len(), 3);
        assert_eq!(changed, &[0, 1, 2]);

        memory[PAGE_BYTES + 5] = 9;
        let (hashes, changed) = snapshotter.update(&memory);
        assert_eq!(changed, &[1]);
        assert_eq!(hashes[1], page_hash(&memory[PAGE_BYTES..2 * PAGE_BYTES]));
        let first = hashes.to_vec();

        // Growth adds pages; unchanged ones are not rehashed.
        memory.resize(4 * PAGE_BYTES, 0);
        let (hashes, changed) = snapshotter.update(&memory);
        assert_eq!(changed, &[3]);
        assert_eq!(&hashes[..3], &first[..]);

        let (_, changed) = snapshotter.update(&memory);
        assert!(changed.is_empty());

        // A snapshotter started from a known state agrees with one that saw everything.
        let all: Vec<ContentHash> = memory.chunks_exact(PAGE_BYTES).map(page_hash).collect();
        let mut resumed = Snapshotter::with_state(&memory, all.clone());
        memory[7] = 1;
        let (hashes, changed) = resumed.update(&memory);
        assert_eq!(changed, &[0]);
        assert_eq!(hashes[0], page_hash(&memory[..PAGE_BYTES]));
        assert_eq!(&hashes[1..], &all[1..]);
    }

    #[test]
    fn memory_checkpoints_store_each_page_once() {
        let bytes = vec![1u8; PAGE_BYTES];
        let page = NewPage {
            index: 0,
            hash: page_hash(&bytes),
            bytes: &bytes,
        };
        let checkpoint = Checkpoint {
            index: 0,
            fuel: 0,
            globals: vec![],
            pages: vec![page.hash],
        };
        let mut store = MemoryCheckpoints::default();
        store.checkpoint(&checkpoint, &[page]).unwrap();
        store.checkpoint(&checkpoint, &[page]).unwrap();
        assert_eq!(store.checkpoints.len(), 2);
        assert_eq!(store.page_bytes(), PAGE_BYTES);
        assert_eq!(store.page(&page.hash).unwrap().as_deref(), Some(&bytes[..]));
        assert_eq!(store.page(&page_hash(&[2u8; PAGE_BYTES])).unwrap(), None);
    }
}
