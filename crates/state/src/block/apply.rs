//! Block and transaction execution.

use crate::block::error::ApplyError;
use crate::block::{end, transactions};
use crate::fueltrace::replay::{NoContent, Replayer};
use crate::ledger::state::State;
use crate::staking::{beacon as beacon_key, bonds, participation};
use plexus_types::{
    BeaconSignature, Block, Header, PublicKey, Receipt, SignedTransaction, beacon, block::tx_root,
};

/// A proposal: the sealed block, the state after it and its receipts.
pub struct Built {
    pub block: Block,
    pub state: State,
    pub receipts: Vec<Receipt>,
}

/// Executes `txs` as the next block on top of `parent` and seals it: parent hash and height come
/// from the parent, the state root from the execution. `beacon` is the committee's signature
/// over height `height - BEACON_LAG` (none in the first blocks). The timestamp never goes below
/// the parent's.
pub fn build_block(
    parent: &State,
    txs: Vec<SignedTransaction>,
    timestamp_ms: u64,
    proposer: PublicKey,
    beacon: Option<BeaconSignature>,
) -> Result<Built, ApplyError> {
    build_block_with(parent, txs, timestamp_ms, proposer, beacon, &NoContent)
}

/// [`build_block`] with the content a dispute settlement re-runs from `replayer`. Settlements
/// whose content the replayer lacks are dropped from the block (each drop re-executes the rest).
pub fn build_block_with(
    parent: &State,
    txs: Vec<SignedTransaction>,
    timestamp_ms: u64,
    proposer: PublicKey,
    beacon: Option<BeaconSignature>,
    replayer: &dyn Replayer,
) -> Result<Built, ApplyError> {
    let height = parent.height + 1;
    let mut block = Block {
        header: Header {
            parent: parent.block_hash,
            height,
            timestamp_ms: timestamp_ms.max(parent.timestamp_ms),
            proposer,
            tx_root: tx_root(&txs),
            // Unknown until executed; the header is sealed below.
            state_root: commonware_cryptography::sha256::Digest([0u8; 32]),
            beacon,
        },
        txs,
    };
    // A dispute settlement whose content this node lacks is left out (it stays in the mempool
    // for a proposer that has it): one such transaction must not stop block production.
    let (mut state, receipts) = loop {
        let mut state = parent.clone();
        match apply_block_with(&mut state, &block, replayer) {
            Ok(receipts) => break (state, receipts),
            Err(ApplyError::ContentUnavailable { tx, .. }) => {
                block.txs.retain(|signed| signed.hash() != tx);
                block.header.tx_root = tx_root(&block.txs);
            }
            Err(other) => return Err(other),
        }
    };
    block.header.state_root = state.root();
    state.block_hash = block.digest();
    Ok(Built {
        block,
        state,
        receipts,
    })
}

/// Applies `block` to `state` and returns one receipt per transaction, in order.
///
/// The header's `state_root` is not checked here (computing it is the caller's choice of when):
/// the chain layer compares `state.root()` with it after this returns.
pub fn apply_block(state: &mut State, block: &Block) -> Result<Vec<Receipt>, ApplyError> {
    apply_block_with(state, block, &NoContent)
}

/// [`apply_block`] with the content a dispute settlement re-runs from `replayer`. On
/// `ContentUnavailable` the state is left partly applied: callers apply to a copy.
pub fn apply_block_with(
    state: &mut State,
    block: &Block,
    replayer: &dyn Replayer,
) -> Result<Vec<Receipt>, ApplyError> {
    check_header(state, block)?;
    let height = block.header.height;
    participation::remember_parent(state);
    if state.epochs().is_first(height) {
        // The committee that takes over after this epoch, if this epoch's reshare succeeds.
        let elected = bonds::elect_committee(state);
        if !elected.is_empty() {
            state.next_committee = elected;
        }
        state.dealer_logs.clear();
        state.epoch_boundary = block.header.parent;
    }
    let seed = block.header.seed();
    let receipts = block
        .txs
        .iter()
        .map(|tx| transactions::execute_tx(state, tx, height, &seed, replayer))
        .collect::<Result<Vec<_>, _>>()?;
    end::end_block(state, height, &seed);
    state.height = height;
    state.block_hash = block.digest();
    state.timestamp_ms = block.header.timestamp_ms;
    state.beacon = block.header.seed();
    // The supply rule, checked after every block in debug builds (every test, simulation and
    // end-to-end run): the ledger sums to the supply, and the supply is what was minted less
    // what was burned. A release build leaves the recount to the tests and audits.
    debug_assert_eq!(
        state.recount(),
        Ok(state.supply.total()),
        "block {height}: the ledger does not sum to the supply"
    );
    debug_assert_eq!(
        state.supply.minted().checked_sub(state.supply.burned()),
        Some(state.supply.total()),
        "block {height}: the supply is not minted less burned"
    );
    Ok(receipts)
}

fn check_header(state: &State, block: &Block) -> Result<(), ApplyError> {
    let header = &block.header;
    let expected = state.height + 1;
    if header.height != expected {
        return Err(ApplyError::Height {
            expected,
            found: header.height,
        });
    }
    if header.parent != state.block_hash {
        return Err(ApplyError::Parent {
            expected: state.block_hash,
            found: header.parent,
        });
    }
    if header.timestamp_ms < state.timestamp_ms {
        return Err(ApplyError::Timestamp {
            parent_ms: state.timestamp_ms,
            found_ms: header.timestamp_ms,
        });
    }
    let signed = beacon::signed_height(header.height);
    let beacon_valid = match (signed, &header.beacon) {
        (None, None) => true,
        (Some(signed), Some(signature)) => {
            beacon_key::verify(state.beacon_sharing(), signed, signature)
        }
        _ => false,
    };
    if !beacon_valid {
        return Err(ApplyError::Beacon {
            height: header.height,
            signed,
        });
    }
    if block.txs.len() > plexus_types::BLOCK_TXS_MAX {
        return Err(ApplyError::TooManyTxs {
            count: block.txs.len(),
            max: plexus_types::BLOCK_TXS_MAX,
        });
    }
    if !block.tx_root_matches() {
        return Err(ApplyError::TxRoot);
    }
    Ok(())
}
