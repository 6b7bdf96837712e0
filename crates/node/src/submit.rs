//! Admitting client transactions: refuse what needs no signature to refuse, then verify the
//! signatures of what is left, then hand it to the mempool.
//!
//! The order is the point. A batch the chain has already finalized (every nonce replayed), a
//! batch for another chain, or a duplicate of what is pending costs its sender nothing, so it
//! must cost the node little: those checks read the finalized tip and the mempool and cost a
//! map lookup each, while a signature costs tens of microseconds. Only survivors are verified,
//! as one batch (one by one only if the batch fails, to name the bad ones).

use plexus_chain::{AdmitError, App};
use plexus_types::{Digest, SignedTransaction};

/// Why a transaction was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    BadSignature,
    Admit(AdmitError),
}

/// Checks and admits `txs`, in order: one outcome per transaction (its hash when admitted).
pub fn check_and_admit(app: &App, txs: Vec<SignedTransaction>) -> Vec<Result<Digest, Refusal>> {
    let hashed: Vec<(SignedTransaction, Digest)> = txs
        .into_iter()
        .map(|tx| {
            let hash = tx.hash();
            (tx, hash)
        })
        .collect();
    let prechecks = app.precheck(&hashed);
    let mut outcomes: Vec<Option<Result<Digest, Refusal>>> = prechecks
        .into_iter()
        .map(|check| check.err().map(|err| Err(Refusal::Admit(err))))
        .collect();
    let mut survivors = Vec::new();
    let mut positions = Vec::new();
    for (position, (item, outcome)) in hashed.into_iter().zip(&outcomes).enumerate() {
        if outcome.is_none() {
            survivors.push(item);
            positions.push(position);
        }
    }
    let all_valid = {
        let txs: Vec<&SignedTransaction> = survivors.iter().map(|(tx, _)| tx).collect();
        plexus_chain::ledger::verify_signatures(&txs)
    };
    let mut admissible = Vec::with_capacity(survivors.len());
    let mut admissible_positions = Vec::with_capacity(survivors.len());
    for ((tx, hash), position) in survivors.into_iter().zip(positions) {
        if all_valid || tx.verify_signature() {
            admissible.push((tx, hash));
            admissible_positions.push(position);
        } else {
            outcomes[position] = Some(Err(Refusal::BadSignature));
        }
    }
    for (result, position) in app
        .submit_batch(admissible)
        .into_iter()
        .zip(admissible_positions)
    {
        outcomes[position] = Some(result.map_err(Refusal::Admit));
    }
    outcomes
        .into_iter()
        .map(|outcome| outcome.expect("every transaction has an outcome"))
        .collect()
}
