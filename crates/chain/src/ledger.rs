//! The ledger: the finalized state plus the speculative post-states of unfinalized blocks.
//!
//! Consensus may ask to build on, or verify, a block whose parent is notarized but not finalized,
//! so every executed block keeps its post-state here, keyed by digest, until finalization makes
//! it the base or prunes it as a dead fork. All of it is synchronous and deterministic; the
//! callers own the locking and the clock.

use commonware_cryptography::{BatchEntry, BatchVerifier};
use commonware_parallel::Sequential;
use plexus_state::dispute::{NoContent, Replayer};
use plexus_state::{ApplyError, Built, State, apply_block_with, build_block_with};
use plexus_types::BeaconSignature;
use plexus_types::{
    Block, Digest, PublicKey, Receipt, SignedTransaction, TX_NAMESPACE, codec::Encode,
};
use std::{collections::HashMap, sync::Arc};

/// A block's execution: its post-state and receipts.
#[derive(Clone, Debug)]
pub struct Executed {
    pub block: Arc<Block>,
    pub state: State,
    pub receipts: Vec<Receipt>,
}

/// Why a block is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LedgerError {
    #[error("unknown parent {0}")]
    UnknownParent(Digest),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("state root mismatch: header {header}, computed {computed}")]
    StateRoot { header: Digest, computed: Digest },
    #[error("a transaction signature does not verify")]
    Signature,
}

/// Finalized state and speculative forks on top of it.
pub struct Ledger {
    finalized: Arc<Executed>,
    pending: HashMap<Digest, Arc<Executed>>,
    /// Re-runs disputed segments for block execution (the node's content store and executor).
    replayer: Arc<dyn Replayer>,
}

impl Ledger {
    /// Starts from a finalized block and its post-state (genesis or a recovered height).
    pub fn new(block: Block, state: State, receipts: Vec<Receipt>) -> Self {
        Ledger {
            finalized: Arc::new(Executed {
                block: Arc::new(block),
                state,
                receipts,
            }),
            pending: HashMap::new(),
            replayer: Arc::new(NoContent),
        }
    }

    /// Sets what re-runs disputed segments (without one, a block that settles a dispute cannot
    /// be applied).
    pub fn set_replayer(&mut self, replayer: Arc<dyn Replayer>) {
        self.replayer = replayer;
    }

    /// Starts a chain at its genesis: the height-0 block (no transactions) and state.
    pub fn genesis(genesis: &plexus_state::Genesis) -> Result<Self, plexus_state::GenesisError> {
        let (state, header) = genesis.build()?;
        let block = Block {
            header,
            txs: Vec::new(),
        };
        Ok(Ledger::new(block, state, Vec::new()))
    }

    /// The last finalized block's execution.
    pub fn finalized(&self) -> &Arc<Executed> {
        &self.finalized
    }

    /// The post-state of `digest` if it is finalized or executed speculatively.
    pub fn executed(&self, digest: &Digest) -> Option<&Arc<Executed>> {
        if *digest == self.finalized.state.block_hash {
            return Some(&self.finalized);
        }
        self.pending.get(digest)
    }

    /// Builds a block of `txs` on top of `parent`, executing it. The transactions must have been
    /// admitted by the mempool (signatures verified).
    pub fn build(
        &mut self,
        parent: &Digest,
        txs: Vec<SignedTransaction>,
        timestamp_ms: u64,
        proposer: PublicKey,
        beacon: Option<BeaconSignature>,
    ) -> Result<Arc<Executed>, LedgerError> {
        let base = self
            .executed(parent)
            .ok_or(LedgerError::UnknownParent(*parent))?;
        let Built {
            block,
            state,
            receipts,
        } = build_block_with(
            &base.state,
            txs,
            timestamp_ms,
            proposer,
            beacon,
            self.replayer.as_ref(),
        )?;
        let executed = Arc::new(Executed {
            block: Arc::new(block),
            state,
            receipts,
        });
        self.pending
            .insert(executed.state.block_hash, executed.clone());
        Ok(executed)
    }

    /// Verifies a block proposed by someone else: signatures (batched), header, execution and
    /// state root. On success the post-state is kept for children and finalization.
    pub fn verify(&mut self, block: Arc<Block>) -> Result<Arc<Executed>, LedgerError> {
        let digest = block.digest();
        if let Some(executed) = self.executed(&digest) {
            return Ok(executed.clone());
        }
        let parent = self
            .executed(&block.header.parent)
            .ok_or(LedgerError::UnknownParent(block.header.parent))?;
        if !verify_signatures(&block.txs) {
            return Err(LedgerError::Signature);
        }
        let mut state = parent.state.clone();
        let receipts = apply_block_with(&mut state, &block, self.replayer.as_ref())?;
        let computed = state.root();
        if computed != block.header.state_root {
            return Err(LedgerError::StateRoot {
                header: block.header.state_root,
                computed,
            });
        }
        let executed = Arc::new(Executed {
            block,
            state,
            receipts,
        });
        self.pending.insert(digest, executed.clone());
        Ok(executed)
    }

    /// Makes `block` the finalized tip (executing it first if it was never seen) and prunes every
    /// speculative state at or below its height.
    pub fn finalize(&mut self, block: Arc<Block>) -> Result<Arc<Executed>, LedgerError> {
        let executed = self.verify(block)?;
        Ok(self.advance(executed))
    }

    /// Re-applies a block from the node's own finalized store on restart. The signatures were
    /// verified before the block was stored, so only execution is repeated, and the state root
    /// (an O(state) computation) is compared only when `check_root` is set: the caller sets it for
    /// the last stored block, which transitively checks the whole replay.
    pub fn replay(&mut self, block: Block, check_root: bool) -> Result<Arc<Executed>, LedgerError> {
        // In place: during recovery nobody else holds the finalized state, so no clone is made.
        // `apply_block` fails before it mutates anything, except for content it cannot find
        // (which the node stored when it first executed the block); a root mismatch is fatal.
        let current = Arc::make_mut(&mut self.finalized);
        current.receipts = apply_block_with(&mut current.state, &block, self.replayer.as_ref())?;
        current.block = Arc::new(block);
        if check_root {
            let computed = current.state.root();
            if computed != current.block.header.state_root {
                return Err(LedgerError::StateRoot {
                    header: current.block.header.state_root,
                    computed,
                });
            }
        }
        self.pending.clear();
        Ok(self.finalized.clone())
    }

    /// Makes an executed block the finalized tip and prunes speculative states at or below it.
    pub fn advance(&mut self, executed: Arc<Executed>) -> Arc<Executed> {
        let height = executed.state.height;
        self.pending.retain(|_, e| e.state.height > height);
        self.finalized = executed.clone();
        executed
    }
}

/// Batch-verifies every signature; `true` for an empty list.
pub fn verify_signatures<T: std::borrow::Borrow<SignedTransaction>>(txs: &[T]) -> bool {
    if txs.is_empty() {
        return true;
    }
    let messages: Vec<_> = txs.iter().map(|t| t.borrow().tx.encode()).collect();
    let items: Vec<(&SignedTransaction, &[u8])> = txs
        .iter()
        .map(|t| t.borrow())
        .zip(messages.iter().map(|m| m.as_ref()))
        .collect();
    PublicKey::verify_batch(
        &mut rand::rng(),
        &items,
        |_, (tx, message)| BatchEntry {
            namespace: TX_NAMESPACE,
            message,
            public_key: &tx.tx.sender.0,
            signature: &tx.signature,
        },
        &Sequential,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use plexus_state::{Genesis, GenesisValidator, Params};
    use plexus_types::{Address, PLX, Payload, PrivateKey, Transaction};

    fn key(i: u64) -> PrivateKey {
        PrivateKey::from_seed(i)
    }

    fn ledger() -> Ledger {
        Ledger::genesis(&Genesis {
            chain_id: 3,
            timestamp_ms: 10,
            params: Params::default(),
            allocations: (0..3)
                .map(|i| (Address(key(i).public_key()), 100_000 * PLX))
                .collect(),
            validators: vec![GenesisValidator {
                address: Address(key(0).public_key()),
                self_bond: 10_000 * PLX,
            }],
            beacon: plexus_state::beacon::DevBeacon::deal(0, [key(0).public_key()]).output,
        })
        .unwrap()
    }

    fn transfer(from: u64, nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id: 3,
            sender: Address(key(from).public_key()),
            nonce,
            fee: 1_000,
            payload: Payload::Transfer {
                to: Address(key(2).public_key()),
                amount: PLX,
            },
        }
        .sign(&key(from))
    }

    #[test]
    fn builds_verifies_and_finalizes_forks() {
        let mut proposer = ledger();
        let mut follower = ledger();
        let genesis = proposer.finalized().state.block_hash;
        let a = proposer
            .build(
                &genesis,
                vec![transfer(1, 0)],
                20,
                key(0).public_key(),
                None,
            )
            .unwrap();
        // A sibling fork at the same height, then a child of `a`.
        let b = proposer
            .build(&genesis, vec![], 21, key(0).public_key(), None)
            .unwrap();
        let a_hash = a.state.block_hash;
        let child = proposer
            .build(&a_hash, vec![transfer(1, 1)], 30, key(0).public_key(), None)
            .unwrap();
        // The follower re-executes and agrees on every root.
        for executed in [&a, &b, &child] {
            let verified = follower.verify(executed.block.clone()).unwrap();
            assert_eq!(verified.state.root(), executed.block.header.state_root);
        }
        follower.finalize(a.block.clone()).unwrap();
        assert!(
            follower.executed(&b.state.block_hash).is_none(),
            "the dead fork is pruned"
        );
        assert!(follower.executed(&child.state.block_hash).is_some());
        follower.finalize(child.block.clone()).unwrap();
        assert_eq!(
            follower
                .finalized()
                .state
                .account(&Address(key(1).public_key()))
                .nonce,
            2
        );
    }

    #[test]
    fn refuses_wrong_root_bad_signature_and_unknown_parent() {
        let mut proposer = ledger();
        let mut follower = ledger();
        let genesis = proposer.finalized().state.block_hash;
        let good = proposer
            .build(
                &genesis,
                vec![transfer(1, 0)],
                20,
                key(0).public_key(),
                None,
            )
            .unwrap();

        let mut wrong_root = (*good.block).clone();
        wrong_root.header.state_root = plexus_types::hash(&[b"lie"]);
        assert!(matches!(
            follower.verify(Arc::new(wrong_root)),
            Err(LedgerError::StateRoot { .. })
        ));

        let mut forged = (*good.block).clone();
        forged.txs[0].tx.payload = Payload::Transfer {
            to: Address(key(1).public_key()),
            amount: 99 * PLX,
        };
        forged.header.tx_root = plexus_types::block::tx_root(&forged.txs);
        assert!(matches!(
            follower.verify(Arc::new(forged)),
            Err(LedgerError::Signature)
        ));

        let mut orphan = (*good.block).clone();
        orphan.header.parent = plexus_types::hash(&[b"nowhere"]);
        assert!(matches!(
            follower.verify(Arc::new(orphan)),
            Err(LedgerError::UnknownParent(_))
        ));

        // After all that, the honest block still verifies.
        assert!(follower.verify(good.block.clone()).is_ok());
    }

    #[test]
    fn replay_reaches_the_same_state_and_checks_the_final_root() {
        let mut proposer = ledger();
        let genesis = proposer.finalized().state.block_hash;
        let first = proposer
            .build(
                &genesis,
                vec![transfer(1, 0)],
                20,
                key(0).public_key(),
                None,
            )
            .unwrap();
        let second = proposer
            .build(
                &first.state.block_hash,
                vec![transfer(1, 1)],
                30,
                key(0).public_key(),
                None,
            )
            .unwrap();
        let mut restarted = ledger();
        restarted.replay((*first.block).clone(), false).unwrap();
        restarted.replay((*second.block).clone(), true).unwrap();
        assert_eq!(restarted.finalized().state, second.state);

        let mut corrupt = ledger();
        let mut lying = (*first.block).clone();
        lying.header.state_root = plexus_types::hash(&[b"lie"]);
        assert!(matches!(
            corrupt.replay(lying, true),
            Err(LedgerError::StateRoot { .. })
        ));
    }
}
