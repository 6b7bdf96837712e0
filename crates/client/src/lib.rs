//! The Plexus Rust SDK.
//!
//! - `dto`: the JSON shapes of the node's HTTP API (the node serves them, this crate reads them).
//! - `dispute`: the one dispute-play loop of the agent and `plexus job verify --dispute`.
//! - `Client`: a typed, blocking client of that API.
//! - `TxBuilder`: builds and signs transactions.
//! - `verify_proof`: checks an account proof from the API against a state root.

pub mod client;
pub mod dispute;
pub mod dto;

pub use client::{Client, ClientError, RetryPolicy};

use plexus_types::{Address, Amount, ChainId, Payload, PrivateKey, SignedTransaction, Transaction};

/// The default fee: the genesis minimum of the devnet.
pub const FEE_DEFAULT: Amount = 1_000;

/// Builds and signs transactions for one key.
pub struct TxBuilder<'a> {
    pub key: &'a PrivateKey,
    pub chain_id: ChainId,
    pub fee: Amount,
}

impl TxBuilder<'_> {
    pub fn sender(&self) -> Address {
        use commonware_cryptography::Signer;
        Address(self.key.public_key())
    }

    pub fn build(&self, nonce: u64, payload: Payload) -> SignedTransaction {
        Transaction {
            chain_id: self.chain_id,
            sender: self.sender(),
            nonce,
            fee: self.fee,
            payload,
        }
        .sign(self.key)
    }
}

/// Checks an account proof served by `GET /v1/accounts/{address}/proof` against `state_root`
/// (which the caller should take from a finalized header it trusts).
pub fn verify_proof(
    proof: &dto::ProofDto,
    state_root: &plexus_types::Digest,
) -> Result<(), ClientError> {
    let account = plexus_state::Account {
        balance: parse_u128(&proof.balance)?,
        nonce: proof.nonce,
        bonded: parse_u128(&proof.bonded)?,
        unbonding: parse_u128(&proof.unbonding)?,
    };
    let address: Address = proof
        .address
        .parse()
        .map_err(|e| ClientError::Invalid(format!("address: {e}")))?;
    let bytes = hex_decode(&proof.proof).ok_or_else(|| ClientError::Invalid("proof hex".into()))?;
    let proof = plexus_state::AccountProof {
        address,
        account,
        position: proof.position,
        proof: bytes,
    };
    plexus_state::verify_account_proof(&proof, state_root)
        .map_err(|e| ClientError::Invalid(format!("proof: {e}")))
}

fn parse_u128(text: &str) -> Result<u128, ClientError> {
    text.parse()
        .map_err(|_| ClientError::Invalid(format!("amount {text:?}")))
}

/// Lower-case hex, and its inverse (either case): defined once, in `plexus_types::hash`.
pub use plexus_types::hash::{from_hex as hex_decode, to_hex as hex_encode};
