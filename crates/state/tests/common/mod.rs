//! Helpers shared by the state tests that drive consensus-signed payloads (evidence,
//! participation) through whole blocks.

use commonware_cryptography::Signer;
use plexus_state::{
    Genesis, GenesisValidator, Params, State, apply_block, beacon::DevBeacon, build_block,
};
use plexus_types::{Address, PLX, Payload, PrivateKey, SignedTransaction, Status, Transaction};

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

/// A chain whose keys `0..10` hold 100 000 PLX each and whose keys `0..validators` bond 10 000
/// PLX each as the genesis committee (with the beacon key of [`dev_beacon`]).
pub fn genesis(chain: u64, params: Params, validators: u64) -> State {
    Genesis {
        chain_id: chain,
        timestamp_ms: 0,
        params,
        allocations: (0..10).map(|i| (address(i), 100_000 * PLX)).collect(),
        validators: (0..validators)
            .map(|i| GenesisValidator {
                address: address(i),
                self_bond: 10_000 * PLX,
            })
            .collect(),
        beacon: dev_beacon(validators).output,
    }
    .build()
    .unwrap()
    .0
}

/// The beacon key of a test chain whose genesis committee is keys `0..n`.
pub fn dev_beacon(n: u64) -> DevBeacon {
    DevBeacon::deal(0, (0..n).map(|i| key(i).public_key()))
}

/// Builds and applies the next block of `txs`; returns each transaction's status. The chain's
/// genesis committee must be keys `0..n` with the key of [`dev_beacon`]`(n)`.
pub fn run(state: &mut State, txs: Vec<SignedTransaction>) -> Vec<Status> {
    let beacon = dev_beacon(state.beacon_key.players().len() as u64);
    let height = state.height + 1;
    let block = build_block(
        state,
        txs,
        state.timestamp_ms + 1,
        key(0).public_key(),
        beacon.block_signature(height),
    )
    .unwrap()
    .block;
    apply_block(state, &block)
        .unwrap()
        .into_iter()
        .map(|r| r.status)
        .collect()
}
