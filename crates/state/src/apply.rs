//! Block and transaction execution.

use crate::dispute::{self, NoContent, Replayer, SettleError};
use crate::market::{self, Posting};
use crate::registry::{self, Offer};
use crate::{State, staking};
use plexus_types::job::Commitment;
use plexus_types::{
    Amount, BeaconSignature, Block, Digest, Header, Payload, PublicKey, Reason, Receipt,
    SignedTransaction, Status, beacon, block::tx_root,
};

/// A block that no honest validator accepts (or, for `ContentUnavailable`, that this node cannot
/// apply yet). The state is left unchanged, except after `ContentUnavailable`: apply to a copy.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    #[error("block height {found} does not follow {expected}")]
    Height { expected: u64, found: u64 },
    #[error("block parent {found} is not the last block {expected}")]
    Parent { expected: Digest, found: Digest },
    #[error("block timestamp {found_ms} ms is before its parent's {parent_ms} ms")]
    Timestamp { parent_ms: u64, found_ms: u64 },
    #[error(
        "block {height} does not carry the committee's beacon signature over height {signed:?}"
    )]
    Beacon { height: u64, signed: Option<u64> },
    #[error("block tx root does not match its transactions")]
    TxRoot,
    #[error("block has {count} transactions, over the limit of {max}")]
    TooManyTxs { count: usize, max: usize },
    /// A dispute settlement in the block needs content this node does not have (yet). Not a
    /// verdict on the block: the node may fetch the content and apply the block again.
    #[error("transaction {tx} settles a dispute whose content is unavailable here: {what}")]
    ContentUnavailable { tx: Digest, what: String },
}

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
    crate::participation::remember_parent(state);
    if height.is_multiple_of(state.params.epoch_length_blocks.max(1)) {
        // The committee that takes over after this epoch, if this epoch's reshare succeeds.
        let elected = staking::elect_committee(state);
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
        .map(|tx| execute_tx(state, tx, height, &seed, replayer))
        .collect::<Result<Vec<_>, _>>()?;
    staking::release_unbondings(state, height);
    crate::market::end_block(state, height, &seed);
    let epoch_length = state.params.epoch_length_blocks.max(1);
    if (height + 1).is_multiple_of(epoch_length) {
        crate::rewards::emit(state, state.epoch_of(height));
        crate::reshare::conclude(state);
    }
    state.height = height;
    state.block_hash = block.digest();
    state.timestamp_ms = block.header.timestamp_ms;
    state.beacon = block.header.seed();
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
            crate::beacon::verify(state.beacon_sharing(), signed, signature)
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

/// Executes one transaction (signature already verified) at block `height`, whose beacon seed
/// is `seed`.
///
/// `Rejected` leaves the state untouched; `Failed` burns the fee and consumes the nonce.
fn execute_tx(
    state: &mut State,
    signed: &SignedTransaction,
    height: u64,
    seed: &Digest,
    replayer: &dyn Replayer,
) -> Result<Receipt, ApplyError> {
    let tx = &signed.tx;
    let tx_hash = signed.hash();
    let rejected = |reason| {
        Ok(Receipt {
            tx_hash,
            status: Status::Rejected(reason),
            fee_burned: 0,
        })
    };
    if tx.chain_id != state.chain_id {
        return rejected(Reason::WrongChain);
    }
    if tx.names_weak_key() {
        return rejected(Reason::WeakKey);
    }
    if tx.fee < state.params.fee_min {
        return rejected(Reason::FeeTooLow);
    }
    let sender = state.account(&tx.sender);
    if tx.nonce != sender.nonce {
        return rejected(Reason::BadNonce);
    }
    if sender.balance < tx.fee {
        return rejected(Reason::InsufficientFee);
    }
    // Charge: fee burned, nonce consumed. From here on the transaction is in the ledger.
    let account = state.accounts.entry(tx.sender.clone()).or_default();
    account.balance -= tx.fee;
    account.nonce += 1;
    state.supply.total -= tx.fee;
    state.supply.burned = state.supply.burned.saturating_add(tx.fee);
    let context = TxContext {
        height,
        seed,
        tx_hash,
    };
    let status = match execute_payload(state, tx.sender.clone(), &tx.payload, &context, replayer) {
        Ok(()) => Status::Success,
        Err(SettleError::Reason(reason)) => Status::Failed(reason),
        Err(SettleError::Unavailable(what)) => {
            return Err(ApplyError::ContentUnavailable { tx: tx_hash, what });
        }
    };
    Ok(Receipt {
        tx_hash,
        status,
        fee_burned: tx.fee,
    })
}

/// Where a transaction executes: its block's height and beacon seed, and its own hash (a
/// posted job's id).
struct TxContext<'a> {
    height: u64,
    seed: &'a Digest,
    tx_hash: Digest,
}

/// Runs a payload; on `Err` nothing it touched has changed (every check precedes every write).
fn execute_payload(
    state: &mut State,
    sender: plexus_types::Address,
    payload: &Payload,
    context: &TxContext<'_>,
    replayer: &dyn Replayer,
) -> Result<(), SettleError> {
    let height = context.height;
    if let Payload::DisputeSettle { job, manifest } = payload {
        return dispute::settle(state, &sender, *job, *manifest, height, replayer);
    }
    execute_domain(state, sender, payload, context).map_err(SettleError::Reason)
}

/// Every payload but a dispute settlement: the outcome is a receipt's reason.
fn execute_domain(
    state: &mut State,
    sender: plexus_types::Address,
    payload: &Payload,
    context: &TxContext<'_>,
) -> Result<(), Reason> {
    let height = context.height;
    match payload {
        Payload::Transfer { to, amount } => transfer(state, sender, to.clone(), *amount),
        Payload::Bond { amount } => staking::bond(state, sender, *amount),
        Payload::Unbond { amount } => staking::unbond(state, sender, *amount, height),
        Payload::Delegate { validator, amount } => {
            staking::delegate(state, sender, validator.clone(), *amount)
        }
        Payload::Undelegate { validator, amount } => {
            staking::undelegate(state, sender, validator.clone(), *amount, height)
        }
        Payload::DealerLog { epoch, log } => {
            crate::reshare::record(state, &sender, *epoch, log, height)
        }
        Payload::Evidence { evidence } => {
            let (offender, epoch, view) = crate::evidence::verify(state, evidence)?;
            staking::slash(state, offender, epoch, view).map(|_| ())
        }
        Payload::Participation {
            height,
            finalization,
        } => crate::participation::record(state, *height, finalization),
        Payload::ProviderRegister {
            endpoint,
            profile,
            fuel_per_second,
            ask_per_mfuel,
            bond,
        } => {
            let offer = Offer {
                endpoint,
                profile,
                fuel_per_second: *fuel_per_second,
                ask_per_mfuel: *ask_per_mfuel,
            };
            registry::register(state, sender, offer, *bond, height)
        }
        Payload::ProviderUpdate {
            endpoint,
            profile,
            fuel_per_second,
            ask_per_mfuel,
            bond_add,
        } => {
            let offer = Offer {
                endpoint,
                profile,
                fuel_per_second: *fuel_per_second,
                ask_per_mfuel: *ask_per_mfuel,
            };
            registry::update(state, sender, offer, *bond_add, height)
        }
        Payload::ProviderHeartbeat => registry::heartbeat(state, sender, height),
        Payload::ProviderDeregister => registry::deregister(state, sender, height),
        Payload::JobPost {
            module,
            blobs,
            input,
            max_fuel,
            price_cap_per_mfuel,
            audit,
            deadline_blocks,
        } => {
            let posting = Posting {
                module: *module,
                blobs,
                input: *input,
                max_fuel: *max_fuel,
                price_cap_per_mfuel: *price_cap_per_mfuel,
                audit: *audit,
                deadline_blocks: *deadline_blocks,
            };
            market::post(
                state,
                sender,
                context.tx_hash,
                posting,
                height,
                context.seed,
            )
        }
        Payload::JobCommit {
            job,
            output_hash,
            total_fuel,
            segments,
            trace_root,
            failed,
        } => {
            let commitment = Commitment {
                output_hash: *output_hash,
                total_fuel: *total_fuel,
                segments: *segments,
                trace_root: *trace_root,
                failed: *failed,
            };
            market::commit(state, &sender, *job, commitment, height)
        }
        Payload::JobCancel { job } => market::cancel(state, &sender, *job, height),
        Payload::VerifierRegister {
            bond,
            fuel_per_second,
            capacity,
        } => {
            let offer = dispute::VerifierOffer {
                bond: *bond,
                fuel_per_second: *fuel_per_second,
                capacity: *capacity,
            };
            dispute::register(state, sender, offer, height)
        }
        Payload::VerifierDeregister => dispute::deregister(state, &sender, height),
        Payload::AuditCommit { job, seal } => dispute::commit(state, &sender, *job, *seal, height),
        Payload::AuditReveal { job, verdict, salt } => {
            dispute::reveal(state, &sender, *job, verdict, salt, height)
        }
        Payload::DisputeOpen { job, claim } => {
            dispute::consumer_open(state, &sender, *job, claim, height)
        }
        Payload::DisputeMove { job, step } => dispute::play(state, &sender, *job, step, height),
        Payload::AuditDecline { job } => {
            dispute::decline(state, &sender, *job, height, context.seed)
        }
        // Handled by `execute_payload` (it needs the replayer).
        Payload::DisputeSettle { .. } => Err(Reason::NoDispute),
    }
}

fn transfer(
    state: &mut State,
    from: plexus_types::Address,
    to: plexus_types::Address,
    amount: Amount,
) -> Result<(), Reason> {
    if amount == 0 {
        return Err(Reason::ZeroAmount);
    }
    let sender = state.account(&from);
    if sender.balance < amount {
        return Err(Reason::InsufficientBalance);
    }
    if from == to {
        return Ok(());
    }
    let receiver = state.account(&to);
    // Cannot overflow while the supply invariant holds, but a broken invariant must not wrap.
    let credited = receiver
        .balance
        .checked_add(amount)
        .ok_or(Reason::Overflow)?;
    state.accounts.entry(from).or_default().balance -= amount;
    state.accounts.entry(to).or_default().balance = credited;
    Ok(())
}
