//! Executing one transaction: the checks every transaction passes (chain, key, fee, nonce), the
//! fee's burn, then its payload, dispatched by concern (ledger and staking, market, FuelTrace).
//!
//! `Rejected` leaves the state untouched; `Failed` burns the fee and consumes the nonce. Each
//! payload's operation checks before it writes, so a failed payload changes nothing but the fee.

use crate::block::error::ApplyError;
use crate::fueltrace::disputes::{self, SettleError};
use crate::fueltrace::replay::Replayer;
use crate::fueltrace::{audits, verifiers};
use crate::governance::proposals;
use crate::ledger::state::State;
use crate::market::matching::{self, Posting};
use crate::market::registry::{self, Offer};
use crate::market::settlement;
use crate::staking::{bonds, evidence, participation, reshare, rewards as staking_rewards};
use crate::storage::deals::{self, Posting as DealPosting};
use crate::storage::{challenges, holders, offers};
use plexus_types::job::Commitment;
use plexus_types::{Address, Amount, Digest, Payload, Reason, Receipt, SignedTransaction, Status};

/// Executes one transaction (signature already verified) at block `height`, whose beacon seed
/// is `seed`.
///
/// `Rejected` leaves the state untouched; `Failed` burns the fee and consumes the nonce.
pub(crate) fn execute_tx(
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
    if let Some(posting) = deal_posting(&tx.payload)
        && let Err(reason) = deals::precheck(state, &tx.sender, &tx_hash, &posting, height, seed)
    {
        return rejected(reason);
    }
    // Charge: fee burned, nonce consumed. From here on the transaction is in the ledger.
    if state.charge_fee(&tx.sender, tx.fee).is_err() {
        return rejected(Reason::InsufficientFee);
    }
    state.consume_nonce(&tx.sender);
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
    sender: Address,
    payload: &Payload,
    context: &TxContext<'_>,
    replayer: &dyn Replayer,
) -> Result<(), SettleError> {
    let height = context.height;
    if let Payload::DisputeSettle { job, manifest } = payload {
        return disputes::settle(state, &sender, *job, *manifest, height, replayer)
            .map(|outcome| settlement::release(state, outcome, height));
    }
    execute_domain(state, sender, payload, context).map_err(SettleError::Reason)
}

/// Every payload but a dispute settlement: the outcome is a receipt's reason.
fn execute_domain(
    state: &mut State,
    sender: Address,
    payload: &Payload,
    context: &TxContext<'_>,
) -> Result<(), Reason> {
    if let Some(outcome) = execute_ledger(state, sender.clone(), payload, context.height) {
        return outcome;
    }
    if let Some(outcome) = execute_market(state, sender.clone(), payload, context) {
        return outcome;
    }
    if let Some(outcome) = execute_storage(state, sender.clone(), payload, context) {
        return outcome;
    }
    execute_fueltrace(state, sender, payload, context)
}

/// Transfers, staking, the reshare's dealer logs, evidence and participation; `None` for any
/// other payload.
fn execute_ledger(
    state: &mut State,
    sender: Address,
    payload: &Payload,
    height: u64,
) -> Option<Result<(), Reason>> {
    Some(match payload {
        Payload::Transfer { to, amount } => transfer(state, sender, to.clone(), *amount),
        Payload::Bond { amount } => bonds::bond(state, sender, *amount),
        Payload::Unbond { amount } => bonds::unbond(state, sender, *amount, height),
        Payload::Delegate { validator, amount } => {
            bonds::delegate(state, sender, validator.clone(), *amount)
        }
        Payload::Undelegate { validator, amount } => {
            bonds::undelegate(state, sender, validator.clone(), *amount, height)
        }
        Payload::DealerLog { epoch, log } => reshare::record(state, &sender, *epoch, log, height),
        Payload::CommissionSet { bps } => {
            staking_rewards::set_commission(state, &sender, *bps, height)
        }
        Payload::RewardsWithdraw => staking_rewards::withdraw(state, &sender),
        Payload::GovPropose {
            changes,
            title,
            description,
            deposit,
        } => {
            let draft = proposals::Draft {
                changes,
                title,
                description,
                deposit: *deposit,
            };
            proposals::propose(state, &sender, draft, height).map(|_| ())
        }
        Payload::GovVote { proposal, option } => {
            proposals::vote(state, &sender, *proposal, *option, height)
        }
        Payload::Evidence { evidence } => {
            evidence::verify(state, evidence).and_then(|(offender, epoch, view)| {
                bonds::slash(state, offender, epoch, view).map(|_| ())
            })
        }
        Payload::Participation {
            height,
            finalization,
        } => participation::record(state, *height, finalization),
        _ => return None,
    })
}

/// The provider registry and jobs; `None` for any other payload.
fn execute_market(
    state: &mut State,
    sender: Address,
    payload: &Payload,
    context: &TxContext<'_>,
) -> Option<Result<(), Reason>> {
    let height = context.height;
    Some(match payload {
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
            matching::post(
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
            settlement::commit(state, &sender, *job, commitment, height)
        }
        Payload::JobCancel { job } => settlement::cancel(state, &sender, *job, height),
        _ => return None,
    })
}

/// A `DealPost`'s fields as the storage module takes them; `None` for any other payload.
fn deal_posting(payload: &Payload) -> Option<DealPosting<'_>> {
    match payload {
        Payload::DealPost {
            segments,
            k,
            n,
            price_cap_per_gib_epoch,
            epochs,
            public,
        } => Some(DealPosting {
            segments,
            k: *k,
            n: *n,
            price_cap_per_gib_epoch: *price_cap_per_gib_epoch,
            epochs: *epochs,
            public: *public,
        }),
        _ => None,
    }
}

/// Storage offers and deals; `None` for any other payload.
fn execute_storage(
    state: &mut State,
    sender: Address,
    payload: &Payload,
    context: &TxContext<'_>,
) -> Option<Result<(), Reason>> {
    let height = context.height;
    if let Some(posting) = deal_posting(payload) {
        let id = context.tx_hash;
        return Some(deals::post(
            state,
            sender,
            id,
            posting,
            height,
            context.seed,
        ));
    }
    Some(match payload {
        Payload::StorageOffer {
            capacity_bytes,
            price_per_gib_epoch,
        } => offers::offer(state, sender, *capacity_bytes, *price_per_gib_epoch),
        Payload::ShardAccept {
            deal,
            segment,
            shard,
        } => holders::accept(state, &sender, (*deal, *segment, *shard), height).map(|repair| {
            if repair {
                state.storage_stats.repairs_done += 1;
            }
        }),
        Payload::StorageProof {
            deal,
            segment,
            shard,
            epoch,
            proof,
        } => challenges::prove(
            state,
            &sender,
            (*deal, *segment, *shard),
            *epoch,
            proof,
            (height, context.seed),
        ),
        Payload::FaultDeclare {
            deal,
            segment,
            shard,
        } => challenges::declare_fault(state, &sender, (*deal, *segment, *shard), height),
        Payload::DealExtend { deal, epochs } => {
            deals::extend(state, &sender, *deal, *epochs, height)
        }
        Payload::DealEnd { deal } => deals::end(state, &sender, *deal),
        _ => return None,
    })
}

/// Verifiers, audits and disputes (but a dispute's settlement, which needs the replayer).
fn execute_fueltrace(
    state: &mut State,
    sender: Address,
    payload: &Payload,
    context: &TxContext<'_>,
) -> Result<(), Reason> {
    let height = context.height;
    match payload {
        Payload::VerifierRegister {
            bond,
            fuel_per_second,
            capacity,
        } => {
            let offer = verifiers::VerifierOffer {
                bond: *bond,
                fuel_per_second: *fuel_per_second,
                capacity: *capacity,
            };
            verifiers::register(state, sender, offer, height)
        }
        Payload::VerifierDeregister => verifiers::deregister(state, &sender, height),
        Payload::AuditCommit { job, seal } => audits::commit(state, &sender, *job, *seal, height),
        Payload::AuditReveal { job, verdict, salt } => {
            audits::reveal(state, &sender, *job, verdict, salt, height)
                .map(|outcome| settlement::release(state, outcome, height))
        }
        Payload::DisputeOpen { job, claim } => {
            disputes::consumer_open(state, &sender, *job, claim, height)
        }
        Payload::DisputeMove { job, step } => disputes::play(state, &sender, *job, step, height),
        Payload::AuditDecline { job } => {
            audits::decline(state, &sender, *job, height, context.seed)
                .map(|outcome| settlement::release(state, outcome, height))
        }
        // Handled by `execute_payload` (it needs the replayer); every other payload by the
        // concerns before this one.
        _ => Err(Reason::NoDispute),
    }
}

fn transfer(state: &mut State, from: Address, to: Address, amount: Amount) -> Result<(), Reason> {
    if amount == 0 {
        return Err(Reason::ZeroAmount);
    }
    Ok(state.transfer(&from, &to, amount)?)
}

#[cfg(test)]
mod tests {
    use crate::beacon::DevBeacon;
    use crate::{Genesis, GenesisValidator, Params, State, apply_block, build_block};
    use commonware_codec::DecodeExt;
    use commonware_cryptography::Signer;
    use plexus_types::{
        Address, PLX, Payload, PrivateKey, Reason, SignedTransaction, Status, Transaction,
    };

    const CHAIN: u64 = 42;

    fn address(i: u64) -> Address {
        Address(PrivateKey::from_seed(i).public_key())
    }

    fn tx(from: u64, payload: Payload) -> SignedTransaction {
        Transaction {
            chain_id: CHAIN,
            sender: address(from),
            nonce: 0,
            fee: 1_000,
            payload,
        }
        .sign(&PrivateKey::from_seed(from))
    }

    fn statuses(state: &mut State, txs: Vec<SignedTransaction>) -> Vec<Status> {
        let beacon = DevBeacon::deal(0, [PrivateKey::from_seed(0).public_key()]);
        let height = state.height + 1;
        let block = build_block(
            state,
            txs,
            state.timestamp_ms + 300,
            PrivateKey::from_seed(0).public_key(),
            beacon.block_signature(height),
        )
        .unwrap()
        .block;
        let receipts = apply_block(state, &block).unwrap();
        receipts.into_iter().map(|r| r.status).collect()
    }

    /// The all-zero key and every other small-order key: its forged "signature" verifies under
    /// ZIP-215, so a block that spends from it must not move anything, and nothing may be sent
    /// or delegated to one (issue 12, finding 1). A unit test: funds on a weak key (the issue's
    /// attack sent it 1 PLX before this rule) are a state no public path reaches now.
    #[test]
    fn small_order_keys_can_neither_spend_nor_receive() {
        let mut state = Genesis {
            chain_id: CHAIN,
            timestamp_ms: 1_000,
            params: Params {
                unbonding_period_blocks: 3,
                epoch_length_blocks: 2,
                ..Params::default()
            },
            allocations: (0..4).map(|i| (address(i), 1_000_000 * PLX)).collect(),
            validators: vec![GenesisValidator {
                address: address(0),
                self_bond: 10_000 * PLX,
            }],
            beacon: DevBeacon::deal(0, [PrivateKey::from_seed(0).public_key()]).output,
        }
        .build()
        .unwrap()
        .0;
        let weak = Address::from_bytes(&[0u8; 32]).unwrap();
        assert!(weak.is_weak());
        // Moved from another account so that the ledger still sums to the supply.
        let funder = state
            .accounts()
            .iter()
            .find(|(_, account)| account.balance >= PLX)
            .map(|(address, _)| address.clone())
            .expect("a funded account");
        state.transfer(&funder, &weak, PLX).unwrap();
        let forged =
            plexus_types::Signature::decode(commonware_codec::Copying(&[0u8; 64][..])).unwrap();
        let theft = SignedTransaction {
            tx: Transaction {
                chain_id: CHAIN,
                sender: weak.clone(),
                nonce: 0,
                fee: 1_000,
                payload: Payload::Transfer {
                    to: address(3),
                    amount: PLX / 2,
                },
            },
            signature: forged,
        };
        // The forgery passes the signature check: only the weak-key rule stops it.
        assert!(theft.verify_signature());
        let before = state.account(&address(3)).balance;
        let to_weak = tx(
            1,
            Payload::Transfer {
                to: weak.clone(),
                amount: PLX,
            },
        );
        let delegate_weak = tx(
            2,
            Payload::Delegate {
                validator: weak.clone(),
                amount: PLX,
            },
        );
        assert_eq!(
            statuses(&mut state, vec![theft, to_weak, delegate_weak]),
            vec![Status::Rejected(Reason::WeakKey); 3]
        );
        assert_eq!(state.account(&weak).balance, PLX);
        assert_eq!(state.account(&weak).nonce, 0);
        assert_eq!(state.account(&address(3)).balance, before);
        assert_eq!(state.account(&address(1)).nonce, 0, "rejected, not charged");
    }
}
