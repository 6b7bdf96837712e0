//! FuelTrace, the verification protocol, as pure functions and values.
//!
//! What every party of a job must agree on lives here once: the dissection game and its sizing,
//! the audit and canary draws, the money math in basis points, and each role's strategy (the
//! defender, the challenger, the verifier) as a function from what it sees to what it does next.
//! The chain's state machine (`plexus-state`) applies these rules; the provider agent, the CLI and
//! the simulation play them. No I/O, no clock, no async runtime, no floats, no hash maps: the
//! same inputs give the same outputs on every machine. `plexus-types` keeps the wire types
//! (moves, payloads) and their codec; the protocol is in docs/FUELTRACE.md.

pub mod challenger;
pub mod defender;
pub mod dissection;
pub mod draws;
pub mod money;
pub mod params;

#[cfg(test)]
mod tests;
