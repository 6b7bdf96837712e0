//! On-chain governance. So far: [`registry`], every parameter a vote may change with its
//! bounds and the rules across parameters no change may break. Proposals, votes and their
//! tallies come next (issue 16).

pub mod registry;
