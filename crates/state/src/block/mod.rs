//! Blocks: building and applying one (`apply.rs`), executing its transactions
//! (`transactions.rs`), and the end-of-block pipeline (`end.rs`).

mod apply;
mod end;
mod error;
mod transactions;

pub use apply::{Built, apply_block, apply_block_with, build_block, build_block_with};
pub use error::ApplyError;
