//! JSON shapes of the node API. Amounts are decimal strings of base units; hashes are hex.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every 4xx/5xx body.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `bad_signature`.
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SubmitResponse {
    pub hash: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReceiptDto {
    pub tx_hash: String,
    /// `success`, `failed` (fee charged, no effect) or `rejected` (nothing charged).
    pub status: String,
    pub reason: Option<String>,
    pub fee_burned: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TxStatusDto {
    pub hash: String,
    /// `pending` or `finalized` (unknown transactions are a 404).
    pub status: String,
    pub height: Option<u64>,
    pub index: Option<u32>,
    pub receipt: Option<ReceiptDto>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AccountDto {
    pub address: String,
    pub balance: String,
    /// The nonce of the next transaction the chain will execute from this account.
    pub nonce: u64,
    /// The nonce a new transaction must carry: `nonce` plus the account's pending transactions.
    pub next_nonce: u64,
    pub bonded: String,
    pub unbonding: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProofDto {
    pub address: String,
    pub balance: String,
    pub nonce: u64,
    pub bonded: String,
    pub unbonding: String,
    /// The finalized height whose state root the proof is against.
    pub height: u64,
    pub state_root: String,
    pub position: u32,
    /// Hex of the encoded Merkle proof.
    pub proof: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TxDto {
    pub hash: String,
    pub sender: String,
    pub nonce: u64,
    pub fee: String,
    /// `transfer`, `bond`, `unbond`, `delegate` or `undelegate`.
    pub kind: String,
    /// Recipient (transfer) or validator (delegate, undelegate).
    pub target: Option<String>,
    pub amount: String,
    pub receipt: Option<ReceiptDto>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockDto {
    pub height: u64,
    pub hash: String,
    pub parent: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    pub proposer: String,
    pub tx_root: String,
    pub state_root: String,
    /// The block's random seed: SHA-256 of its beacon signature (hex).
    pub seed: String,
    /// The committee's threshold BLS signature (BLS12-381 G1, hex) over `beacon_height`,
    /// verifiable with the status's `beacon_key`; absent in the first blocks.
    pub beacon_signature: Option<String>,
    /// The height the beacon signature signs (`height - 2`).
    pub beacon_height: Option<u64>,
    pub txs: Vec<TxDto>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BlockEventDto {
    pub height: u64,
    pub hash: String,
    pub timestamp: u64,
    pub state_root: String,
    pub txs: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ValidatorDto {
    pub address: String,
    pub self_bond: String,
    pub delegated: String,
    pub stake: String,
    pub in_committee: bool,
    /// Elected at this epoch's first block: in the committee from the next epoch if this
    /// epoch's beacon reshare succeeds.
    #[serde(default)]
    pub in_next_committee: bool,
    /// Slashed for equivocation and never elected again.
    #[serde(default)]
    pub jailed: bool,
    /// Total burned from this validator's stake by slashing, in base units.
    #[serde(default)]
    pub slashed: String,
    /// Signatures of this validator in the finalization certificates recorded so far in the
    /// current epoch.
    #[serde(default)]
    pub epoch_signatures: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SupplyDto {
    pub total: String,
    pub minted: String,
    pub burned: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusDto {
    pub chain_id: u64,
    pub height: u64,
    pub block_hash: String,
    pub state_root: String,
    pub timestamp: u64,
    pub mempool_size: usize,
    pub validators: usize,
    pub committee: usize,
    /// The epoch of the next block (`height + 1`), and the epoch length in blocks.
    #[serde(default)]
    pub epoch: u64,
    #[serde(default)]
    pub epoch_length: u64,
    /// Members of the committee elected for the next epoch.
    #[serde(default)]
    pub next_committee: usize,
    /// Dealer logs recorded so far in this epoch's beacon reshare.
    #[serde(default)]
    pub reshare_logs: usize,
    pub fee_min: String,
    pub supply: SupplyDto,
    pub faucet: bool,
    /// The latest block's random seed (hex).
    pub seed: String,
    /// The committee's beacon group key (BLS12-381 G2, hex): every beacon signature verifies
    /// against it under the namespace `_PLEXUS_BEACON` over the signed height as 8 big-endian bytes.
    pub beacon_key: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FaucetRequest {
    pub address: String,
    /// Base units or `1.5plx`; defaults to 100 PLX.
    pub amount: Option<String>,
}

/// One transaction's outcome in a batch submission: a hash, or the error a single submission
/// would have returned.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchItemDto {
    pub hash: Option<String>,
    pub error: Option<ErrorBody>,
}
