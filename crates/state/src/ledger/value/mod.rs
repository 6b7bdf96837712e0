//! Value: the one module that moves value, and the only writer of every record that holds it.
//!
//! Tokens come into existence only through a mint (`State::mint_checked_to`: the genesis
//! allocation; `State::mint_to`: each epoch's emission to providers, verifiers and storage
//! holders; `State::mint_reward`: the validators' emission, into the accrued staking rewards) and leave it only through a burn (fees, slashes, the burned share of
//! consumer payments, a lapsed verifier's forfeit). Every other operation moves value between the
//! records that `State::recount` sums, so it cannot change the supply:
//! - between balances: `State::transfer` (refused with `ValueError::Short`, nothing
//!   changed, when the sender is short, like every move out of a balance), and out of one:
//!   `State::charge_fee` (burned);
//! - accrued staking rewards (`State::rewards`) to the owner's balance:
//!   `State::withdraw_rewards`;
//! - an account's `bonded` and `unbonding` stake: `State::bond_stake`, `State::unbond_stake`,
//!   `State::release_stake`, `State::burn_stake` (the validator and delegation records that
//!   mirror the stake are the staking module's bookkeeping, checked by the recount);
//! - a held record (`Held`: a provider's or a verifier's bond, a job's escrow, a consumer's
//!   dispute deposit, the audit pool, a storage deal's escrow, a governance proposal's deposit): `State::lock` (balance -> record), `State::unlock`
//!   (record -> a balance: back to its owner, or paid to a winner or a verifier),
//!   `State::burn_held`, and `State::pay_into_audit_pool` (a payment out of an escrow).
//!
//! This module is the only writer of `Account::{balance, bonded, unbonding}` and of the accrued
//! rewards (the ledger's accounts, the rewards and the audit pool are private to `ledger/`, so the rest of the crate reads them
//! through `State::accounts`, `State::account` and `State::audit_pool`; elsewhere in `ledger/`
//! only `State::consume_nonce` writes an account, its nonce, and the snapshot decoder builds a
//! whole state), of `Provider::bond`,
//! `Verifier::bond`, `Deal::escrow` and of the supply (`supply.rs`: its fields are private, its mint and burn
//! visible only here). A job's escrow, a consumer's dispute deposit and a voting proposal's deposit
//! (`Proposal::deposit_held`) are held by their
//! record's status (`Job::escrow_held`, `Dispute::deposit_held`), which their modules set when
//! they call `State::unlock` or `State::burn_held`.
//!
//! Invariant: `supply.total == minted - burned == State::recount()` after every block, asserted
//! in debug builds (every test, simulation and end-to-end run) at the end of `apply_block`.

mod moves;
mod supply;

pub(crate) use moves::Held;
pub use supply::Supply;
