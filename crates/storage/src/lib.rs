//! The storage market's protocol, as pure functions and values.
//!
//! What every party of a storage deal must agree on lives here once: how a file becomes segments
//! and a segment becomes `n` shards of which any `k` rebuild it (Commonware's systematic
//! Reed-Solomon over BLAKE3), the commitment a deal names, the chunk proofs a holder answers a
//! challenge with and their verification, the beacon draws of holders and challenges, and the
//! money math of escrow and pay. The chain's state machine (`plexus-state`) applies these rules;
//! the CLI, the provider agent and the simulation play them. No I/O, no clock, no async runtime,
//! no floats, no hash maps. The design is `../shared/STORAGE.md`.

pub mod access;
pub mod coding;
pub mod draws;
pub mod money;
pub mod params;
pub mod proof;
pub mod seal;
pub mod segment;
