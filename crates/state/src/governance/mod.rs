//! On-chain governance: [`registry`], every parameter a vote may change with its bounds and the
//! rules across parameters no change may break; [`proposals`], the proposals, votes by bonded
//! stake, tallies and the changes a passed proposal applies.

pub mod proposals;
pub mod records;
pub mod registry;
