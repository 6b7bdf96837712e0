//! Checkpoints: what replay refuses (bad pages, foreign checkpoints) and how little a run
//! stores.

use crate::{COUNTER, engine, job, run_job};
use plexus_exec::{Checkpoint, ExecError, MemoryCheckpoints, PageSource, replay_segment};
use plexus_types::ContentHash;
use std::{borrow::Cow, io};

#[test]
fn replay_rejects_bad_pages_and_foreign_checkpoints() {
    let engine = engine();
    let job = job(&engine, COUNTER, b"abc", 100_000_000, 1_000_000);
    let (execution, store) = run_job(&engine, &job);
    let pre = &store.checkpoints[1];

    /// A page source that returns wrong bytes for one page and nothing for another.
    struct Corrupt<'a>(&'a MemoryCheckpoints, ContentHash, ContentHash);
    impl PageSource for Corrupt<'_> {
        fn page(&self, hash: &ContentHash) -> io::Result<Option<Cow<'_, [u8]>>> {
            if *hash == self.1 {
                return Ok(Some(Cow::Owned(vec![1; 65_536])));
            }
            if *hash == self.2 {
                return Ok(None);
            }
            self.0.page(hash)
        }
    }
    let err = replay_segment(
        &engine,
        &job,
        pre,
        &Corrupt(&store, pre.pages[0], ContentHash::from([0; 32])),
    )
    .unwrap_err();
    assert!(
        matches!(err, ExecError::PageMismatch { page: 0, .. }),
        "{err}"
    );
    let err = replay_segment(
        &engine,
        &job,
        pre,
        &Corrupt(&store, ContentHash::from([0; 32]), pre.pages[1]),
    )
    .unwrap_err();
    assert!(
        matches!(err, ExecError::MissingPage { page: 1, .. }),
        "{err}"
    );

    let over = Checkpoint {
        fuel: job.max_fuel + 1,
        ..pre.clone()
    };
    assert!(matches!(
        replay_segment(&engine, &job, &over, &store),
        Err(ExecError::CheckpointShape { .. })
    ));
    let no_globals = Checkpoint {
        globals: vec![],
        ..pre.clone()
    };
    assert!(matches!(
        replay_segment(&engine, &job, &no_globals, &store),
        Err(ExecError::CheckpointShape { .. })
    ));
    // A tampered global replays, but to a leaf that differs from the committed one.
    let mut tampered = pre.clone();
    tampered.globals[1] = plexus_exec::GlobalValue::I64(12345);
    let outcome = replay_segment(&engine, &job, &tampered, &store).unwrap();
    assert_ne!(outcome.leaf, execution.leaves[2]);
}

#[test]
fn checkpoints_store_only_changed_pages() {
    let engine = engine();
    let job = job(&engine, COUNTER, b"abc", 100_000_000, 1_000_000);
    let (execution, store) = run_job(&engine, &job);
    // Memory is 2 pages, then 3; each checkpoint after the first changes at most 2 pages, so
    // the store holds far fewer pages than checkpoints × pages.
    let distinct = store.pages.len();
    let referenced: usize = store.checkpoints.iter().map(|c| c.pages.len()).sum();
    assert!(distinct < referenced, "{distinct} distinct of {referenced}");
    assert!(distinct <= 3 + 2 * execution.segments as usize);
}
