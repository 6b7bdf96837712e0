//! The node's finalized store: blocks, receipts and a transaction index, in one embedded redb
//! database. It is the API's read model and the source the ledger is rebuilt from on restart.
//!
//! One write transaction per finalized block, committed (fsync) before marshal is acknowledged, so
//! after SIGKILL the store holds every acknowledged block and marshal redelivers the rest.

use commonware_codec::{Decode, DecodeExt, Encode, ReadExt};
use plexus_state::State;
use plexus_types::{BLOCK_TXS_MAX, Block, Digest, Receipt, Status};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
const TXS: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("txs");
/// The latest state snapshot, under `SNAPSHOT_KEY`.
const SNAPSHOTS: TableDefinition<u8, &[u8]> = TableDefinition::new("snapshots");
const SNAPSHOT_KEY: u8 = 0;

/// A store failure. Corruption is fatal for the node: it stops rather than serve wrong data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] redb::DatabaseError),
    #[error("transaction: {0}")]
    Transaction(#[from] redb::TransactionError),
    #[error("table: {0}")]
    Table(#[from] redb::TableError),
    #[error("storage: {0}")]
    Storage(#[from] redb::StorageError),
    #[error("commit: {0}")]
    Commit(#[from] redb::CommitError),
    #[error("corrupt record at height {height}: {source}")]
    Corrupt {
        height: u64,
        source: commonware_codec::Error,
    },
    #[error("corrupt state snapshot: {0}")]
    CorruptSnapshot(commonware_codec::Error),
    #[error("block {found} does not follow the stored tip {tip}")]
    Gap { tip: u64, found: u64 },
}

/// Where a transaction landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}

pub struct Store {
    db: Database,
}

/// redb's page cache. Its default (1 GiB) is what a node's resident memory grew to under
/// sustained load; the API reads recent blocks and single transactions, which a small cache
/// serves, and the OS page cache holds the rest of the file.
pub const STORE_CACHE_BYTES: usize = 64 * 1024 * 1024;

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(BLOCKS)?;
        txn.open_table(RECEIPTS)?;
        txn.open_table(TXS)?;
        txn.open_table(SNAPSHOTS)?;
        txn.commit()?;
        Ok(Store { db })
    }

    /// The highest stored height, if any block (genesis included) is stored.
    pub fn tip(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCKS)?;
        Ok(table.last()?.map(|(k, _)| k.value()))
    }

    /// Stores a finalized block with its receipts, atomically and durably.
    pub fn put(&self, block: &Block, receipts: &[Receipt]) -> Result<(), StoreError> {
        let height = block.header.height;
        if let Some(tip) = self.tip()?
            && height != tip + 1
        {
            return Err(StoreError::Gap { tip, found: height });
        }
        let txn = self.db.begin_write()?;
        {
            let mut blocks = txn.open_table(BLOCKS)?;
            blocks.insert(height, block.encode().as_ref())?;
            let mut encoded = Vec::with_capacity(receipts.len() * 66);
            for receipt in receipts {
                encoded.extend_from_slice(&receipt.encode());
            }
            txn.open_table(RECEIPTS)?
                .insert(height, encoded.as_slice())?;
            let mut txs = txn.open_table(TXS)?;
            for (index, receipt) in receipts.iter().enumerate() {
                // A transaction that executed keeps its location: a later inclusion of the same
                // bytes can only be a rejection (its nonce is spent) and must not hide it.
                if matches!(receipt.status, Status::Rejected(_))
                    && txs.get(&receipt.tx_hash.0)?.is_some()
                {
                    continue;
                }
                txs.insert(&receipt.tx_hash.0, (height, index as u32))?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Stores a state-synced block and its state on a store that holds only genesis: the
    /// heights in between stay absent (the API answers `unknown_block` for them), and restarts
    /// recover from the snapshot.
    pub fn put_synced(&self, block: &Block, state: &State) -> Result<(), StoreError> {
        if let Some(tip) = self.tip()?
            && tip != 0
        {
            return Err(StoreError::Gap {
                tip,
                found: block.header.height,
            });
        }
        let txn = self.db.begin_write()?;
        txn.open_table(BLOCKS)?
            .insert(block.header.height, block.encode().as_ref())?;
        txn.open_table(RECEIPTS)?
            .insert(block.header.height, [].as_slice())?;
        txn.open_table(SNAPSHOTS)?
            .insert(SNAPSHOT_KEY, state.encode().as_ref())?;
        txn.commit()?;
        Ok(())
    }

    /// Replaces the stored snapshot with `state` (the state after block `state.height`).
    pub fn put_snapshot(&self, state: &State) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(SNAPSHOTS)?
            .insert(SNAPSHOT_KEY, state.encode().as_ref())?;
        txn.commit()?;
        Ok(())
    }

    /// The latest snapshot, if one was taken.
    pub fn snapshot(&self) -> Result<Option<State>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SNAPSHOTS)?;
        let Some(bytes) = table.get(SNAPSHOT_KEY)? else {
            return Ok(None);
        };
        State::decode(commonware_codec::Copying(bytes.value()))
            .map(Some)
            .map_err(StoreError::CorruptSnapshot)
    }

    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCKS)?;
        let Some(bytes) = table.get(height)? else {
            return Ok(None);
        };
        Block::decode_cfg(commonware_codec::Copying(bytes.value()), &BLOCK_TXS_MAX)
            .map(Some)
            .map_err(|source| StoreError::Corrupt { height, source })
    }

    pub fn receipts(&self, height: u64) -> Result<Vec<Receipt>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECEIPTS)?;
        let Some(bytes) = table.get(height)? else {
            return Ok(Vec::new());
        };
        let mut buf = commonware_codec::Copying(bytes.value());
        let mut receipts = Vec::new();
        while bytes::Buf::has_remaining(&buf) {
            receipts.push(
                Receipt::read(&mut buf).map_err(|source| StoreError::Corrupt { height, source })?,
            );
        }
        Ok(receipts)
    }

    pub fn tx_location(&self, hash: &Digest) -> Result<Option<TxLocation>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TXS)?;
        Ok(table.get(&hash.0)?.map(|v| {
            let (height, index) = v.value();
            TxLocation { height, index }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use plexus_state::{Genesis, GenesisValidator, Params};
    use plexus_types::{Address, Header, PLX, PrivateKey, block::tx_root, hash};

    fn block(height: u64) -> Block {
        let key = PrivateKey::from_seed(1);
        Block {
            header: Header {
                parent: hash(&[b"p"]),
                height,
                timestamp_ms: height,
                proposer: key.public_key(),
                tx_root: tx_root(&[]),
                state_root: hash(&[b"s"]),
                beacon: None,
            },
            txs: Vec::new(),
        }
    }

    #[test]
    fn blocks_receipts_and_index_round_trip_and_gaps_are_refused() {
        let path =
            std::env::temp_dir().join(format!("plexus-store-test-{}.redb", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path).unwrap();
        assert_eq!(store.tip().unwrap(), None);
        let genesis = Genesis {
            chain_id: 1,
            timestamp_ms: 0,
            params: Params::default(),
            allocations: vec![(Address(PrivateKey::from_seed(1).public_key()), 20_000 * PLX)],
            validators: vec![GenesisValidator {
                address: Address(PrivateKey::from_seed(1).public_key()),
                self_bond: 10_000 * PLX,
            }],
            beacon: plexus_state::beacon::DevBeacon::deal(
                0,
                [PrivateKey::from_seed(1).public_key()],
            )
            .output,
        };
        let (_, header) = genesis.build().unwrap();
        let zero = Block {
            header,
            txs: Vec::new(),
        };
        store.put(&zero, &[]).unwrap();
        assert!(matches!(
            store.put(&block(2), &[]),
            Err(StoreError::Gap { tip: 0, found: 2 })
        ));
        let receipt = Receipt {
            tx_hash: hash(&[b"t"]),
            status: Status::Success,
            fee_burned: 7,
        };
        store
            .put(&block(1), std::slice::from_ref(&receipt))
            .unwrap();
        assert_eq!(store.tip().unwrap(), Some(1));
        assert_eq!(store.block(0).unwrap(), Some(zero));
        assert_eq!(store.block(1).unwrap(), Some(block(1)));
        assert_eq!(store.receipts(1).unwrap(), vec![receipt.clone()]);
        assert_eq!(
            store.tx_location(&receipt.tx_hash).unwrap(),
            Some(TxLocation {
                height: 1,
                index: 0
            })
        );
        assert_eq!(store.tx_location(&hash(&[b"other"])).unwrap(), None);
        // The same bytes included again and rejected (spent nonce) do not hide the execution.
        let replayed = Receipt {
            status: Status::Rejected(plexus_types::Reason::BadNonce),
            fee_burned: 0,
            ..receipt.clone()
        };
        store
            .put(&block(2), std::slice::from_ref(&replayed))
            .unwrap();
        assert_eq!(
            store.tx_location(&receipt.tx_hash).unwrap(),
            Some(TxLocation {
                height: 1,
                index: 0
            })
        );
        drop(store);
        // Reopening sees the same data.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.tip().unwrap(), Some(2));
        let _ = std::fs::remove_file(&path);
    }
}
