//! Keys and signing for the simulations that drive the state machine block by block (the
//! verifier-load case and the `fueltrace` scenario): party `i` signs with the dev key of seed
//! `i`, and a block's payloads are signed with each party's next nonces.

use commonware_cryptography::Signer as _;
use plexus_state::State;
use plexus_types::{Address, Amount, Payload, PrivateKey, SignedTransaction, Transaction};
use std::collections::BTreeMap;

/// Party `i`'s key.
pub(crate) fn key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(i)
}

/// Party `i`'s address.
pub(crate) fn address(i: u64) -> Address {
    Address(key(i).public_key())
}

/// Signs each `(party, payload)` in order on chain `chain_id` at `fee`, giving each party
/// consecutive nonces from its account's next one in `state`.
pub(crate) fn sign_all(
    state: &State,
    chain_id: u64,
    fee: Amount,
    payloads: Vec<(u64, Payload)>,
) -> Vec<SignedTransaction> {
    let mut nonces = BTreeMap::<u64, u64>::new();
    payloads
        .into_iter()
        .map(|(from, payload)| {
            let nonce = nonces
                .entry(from)
                .or_insert_with(|| state.account(&address(from)).nonce);
            let tx = Transaction {
                chain_id,
                sender: address(from),
                nonce: *nonce,
                fee,
                payload,
            }
            .sign(&key(from));
            *nonce += 1;
            tx
        })
        .collect()
}
