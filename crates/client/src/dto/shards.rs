//! What a provider's shard routes answer in JSON (`plexus_storage::access` has the routes).

use super::HexContentHash;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A provider's answer to `PUT /v1/shards/{deal}/{segment}/{slot}`: the shard matched the
/// deal's commitment and is stored; the provider's accept follows on chain.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ShardStoredDto {
    /// The shard's BLAKE3 digest: its leaf in the commitment.
    pub digest: HexContentHash,
}
