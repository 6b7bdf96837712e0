//! Why a block cannot be applied.

use plexus_types::Digest;

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
