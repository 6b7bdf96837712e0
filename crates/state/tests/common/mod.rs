//! Helpers shared by the state tests that drive consensus-signed payloads (evidence,
//! participation) through whole blocks.

use commonware_cryptography::Signer;
use plexus_state::{State, apply_block, build_block};
use plexus_types::{Address, Payload, PrivateKey, SignedTransaction, Status, Transaction};

pub fn key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(i)
}

pub fn address(i: u64) -> Address {
    Address(key(i).public_key())
}

/// A transaction from key `from` on chain `chain` with the minimum default fee.
pub fn tx(chain: u64, from: u64, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: chain,
        sender: address(from),
        nonce,
        fee: 1_000,
        payload,
    }
    .sign(&key(from))
}

/// Builds and applies the next block of `txs`; returns each transaction's status.
pub fn run(state: &mut State, txs: Vec<SignedTransaction>) -> Vec<Status> {
    let block = build_block(state, txs, state.timestamp_ms + 1, key(0).public_key())
        .unwrap()
        .block;
    apply_block(state, &block)
        .unwrap()
        .into_iter()
        .map(|r| r.status)
        .collect()
}
