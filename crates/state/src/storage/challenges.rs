//! Proofs of storage on chain: each epoch's challenge of every active shard, the holder's
//! `StorageProof`, the judgement of a challenge nobody answered, declared faults, and the loss
//! of a shard (which draws its repairer, `holders::repair`).
//!
//! The schedule. Epoch `e` is the heights `F(e) ..= F(e) + L - 1` (its first height and its
//! length in the chain's epoch schedule, `ledger::epochs`); a challenge opened at the end of
//! block `h` may be answered in blocks `h + 1 ..= h + W` (`W` = `proof_window_blocks`) and is
//! judged at the end of block `h + W`, so that every challenge of `e` is settled before `e`'s pay
//! at its last block: challenges open in blocks from `F(e)` to `F(e) + L - 1 - W`
//! ([`opening_heights`]). The shards to challenge are `StorageIndex::unchallenged`, in
//! key order (deal id, segment, slot; deal ids are hashes, so the order is no one's choice): all
//! active shards at the epoch's start, plus those accepted during it. At the end of opening
//! block `h` the chain opens `min(challenges_per_block_max, ceil(queued / opening blocks left))`
//! of them, so the openings spread evenly over the epoch and each block verifies at most
//! `challenges_per_block_max` proofs from them. The chunk is
//! `plexus_storage::draws::challenge_chunk` with block `h`'s seed, so nobody knows it before
//! `h`'s beacon. It fits: a deal is refused (`storage_full`) when the shards of the open deals
//! would pass `challenges_per_block_max * (L - W)`, `L` the shortest epoch from the current one
//! on. When it still does not (a shard accepted after the last opening block, or epochs a vote
//! shortened), the shards left are not challenged that epoch: not paid, not burned, and first in
//! the next epoch's queue only by key order. A chain whose proof window is
//! not shorter than its epoch opens no challenge at all: its capacity is zero, so every deal is
//! refused (`storage_full`) rather than held unpaid.
//!
//! The judgement. A proof that verifies (`plexus_storage::proof::verify` against the segment's
//! commitment, for the challenge's chunk) marks the challenge proven, resets the misses and ends
//! a declared fault; the epoch's pay goes only to shards proven in it (`deals::pay_epoch`). A
//! proof shaped for the shard that does not reach the commitment is a wrong proof: the shard's
//! whole collateral is burned and the shard is lost (the receipt is a success: the proof was
//! taken, as evidence). An honest agent checks its proof with the same `verify` before sending,
//! and declares a fault instead when it cannot prove. A challenge nobody proved is judged at the
//! end of its due block: excused (nothing burned, not paid) while a declared fault covers its
//! epoch, else missed: `miss_burn_multiple` times the shard's pay burned from its collateral, one
//! more miss in a row, and the shard lost at `misses_before_lost` in a row or when its
//! collateral is gone.

use crate::ledger::epochs::EpochSchedule;
use crate::ledger::state::State;
use crate::ledger::value::Held;
use crate::market::index::take_due;
use crate::storage::holders;
use crate::storage::records::{Challenge, ChallengeOutcome, Shard, ShardKey, ShardState};
use plexus_storage::draws::challenge_chunk;
use plexus_storage::money::epoch_pay_floor;
use plexus_storage::proof::{self, ProofError};
use plexus_types::storage::ChunkProof;
use plexus_types::{Address, Amount, Digest, Reason};
use std::ops::RangeInclusive;

/// The heights of `epoch` (as `epochs` places it) at whose end challenges open, for a window
/// of `proof_window_blocks`: empty when the window is not shorter than the epoch.
pub fn opening_heights(
    epochs: &EpochSchedule,
    proof_window_blocks: u64,
    epoch: u64,
) -> RangeInclusive<u64> {
    let first = epochs.first_height(epoch);
    let last = epochs.last_height(epoch);
    match last
        .checked_sub(proof_window_blocks)
        .filter(|last_open| *last_open >= first)
    {
        Some(last_open) => first..=last_open,
        None => {
            // An exhausted range: empty, and `contains` nothing.
            let mut empty = 0..=0;
            empty.next();
            empty
        }
    }
}

/// The most shards the schedule challenges in an epoch: in the shortest epoch from the current
/// one on (a vote may have shortened the epochs from a coming one).
pub(crate) fn capacity(state: &State) -> u64 {
    let params = &state.params;
    let shortest = state
        .epochs()
        .shortest_from(state.epoch_of(state.height + 1));
    let blocks = shortest.saturating_sub(params.storage.proof_window_blocks);
    blocks.saturating_mul(u64::from(params.storage.challenges_per_block_max))
}

/// The shard at `key` for a holder's transaction: `UnknownDeal` without the deal,
/// `NotShardHolder` when the slot does not exist or is not `sender`'s.
fn held_by(state: &State, sender: &Address, key: ShardKey) -> Result<(u64, Shard), Reason> {
    if !state.deals.contains_key(&key.0) {
        return Err(Reason::UnknownDeal);
    }
    holders::shard_at(state, key)
        .filter(|(_, shard)| shard.holder == *sender)
        .ok_or(Reason::NotShardHolder)
}

/// The shard at `key`, to write.
fn shard_mut(state: &mut State, (id, segment, slot): ShardKey) -> Option<&mut Shard> {
    state
        .deals
        .get_mut(&id)?
        .segments
        .get_mut(segment as usize)?
        .shards
        .get_mut(usize::from(slot))
}

/// Opens this block's share of the epoch's challenges (module doc), from the block's `seed`.
pub(crate) fn open_due(state: &mut State, height: u64, seed: &Digest) {
    let params = &state.params;
    let epoch = state.epoch_of(height);
    let window = params.storage.proof_window_blocks;
    let opening = opening_heights(state.epochs(), window, epoch);
    if !opening.contains(&height) {
        return;
    }
    let blocks_left = opening.end() - height + 1;
    let queued = state.storage_index.unchallenged.len() as u64;
    let count = queued
        .div_ceil(blocks_left)
        .min(u64::from(params.storage.challenges_per_block_max));
    for _ in 0..count {
        let Some(key) = state.storage_index.unchallenged.pop_first() else {
            break;
        };
        let Some((shard_bytes, _)) = holders::shard_at(state, key) else {
            continue;
        };
        let (id, segment, slot) = key;
        let challenge = Challenge {
            epoch,
            chunk: challenge_chunk(seed, &id, segment, slot, shard_bytes),
            opened_height: height,
            due_height: height.saturating_add(window),
            outcome: ChallengeOutcome::Open,
        };
        if let Some(shard) = shard_mut(state, key) {
            shard.challenge = Some(challenge);
            state
                .storage_index
                .proof_dues
                .insert((challenge.due_height, key));
            state.storage_stats.challenges_opened += 1;
        }
    }
}

/// Judges every challenge due at `height` that nobody proved (module doc); a shard this loses
/// draws its repairer from the block's `seed`.
pub(crate) fn judge_due(state: &mut State, height: u64, seed: &Digest) {
    let storage = state.params.storage.clone();
    for key in take_due(&mut state.storage_index.proof_dues, height) {
        let Some((shard_bytes, shard)) = holders::shard_at(state, key) else {
            continue;
        };
        let Some(challenge) = shard.open_challenge().copied() else {
            continue;
        };
        let excused = shard.fault_epoch.is_some_and(|fault| {
            challenge.epoch < fault.saturating_add(storage.fault_excuse_epochs_max)
        });
        let pay = epoch_pay_floor(shard.price_per_gib_epoch, shard_bytes).unwrap_or(0);
        let burn = pay
            .saturating_mul(u128::from(storage.miss_burn_multiple))
            .min(shard.collateral);
        let Some(record) = shard_mut(state, key) else {
            continue;
        };
        let outcome = if excused {
            ChallengeOutcome::Excused
        } else {
            record.misses = record.misses.saturating_add(1);
            ChallengeOutcome::Missed
        };
        record.challenge = Some(Challenge {
            outcome,
            ..challenge
        });
        if excused {
            continue;
        }
        let misses = record.misses;
        state.storage_stats.proofs_missed += 1;
        burn_collateral(state, key, &shard.holder, burn);
        let collateral_left = holders::shard_at(state, key).map_or(0, |(_, s)| s.collateral);
        if misses >= storage.misses_before_lost || collateral_left == 0 {
            lose(state, key, height, seed);
        }
    }
}

/// Burns `amount` of shard `key`'s collateral out of its holder's bond (the lock shrinks with
/// it).
fn burn_collateral(state: &mut State, key: ShardKey, holder: &Address, amount: Amount) {
    if let Some(shard) = shard_mut(state, key) {
        shard.collateral -= amount;
    }
    if let Some(provider) = state.providers.get_mut(holder) {
        provider.bond_locked -= amount;
    }
    state.burn_held(Held::ProviderBond(holder), amount);
}

/// Declares shard `key` lost at `height`: its holder's remaining collateral is released and it
/// is paid no more; the repairer is drawn from `seed` now (`holders::repair`) and paid, on its
/// accept, one epoch of the lost holder's pay, which the escrow kept from the epoch the loss
/// went unpaid.
fn lose(state: &mut State, key: ShardKey, height: u64, seed: &Digest) {
    let Some((shard_bytes, lost)) = holders::shard_at(state, key) else {
        return;
    };
    let fee = epoch_pay_floor(lost.price_per_gib_epoch, shard_bytes).unwrap_or(0);
    state.storage_stats.shards_lost += 1;
    holders::repair(state, key, shard_bytes, &lost, fee, height, seed);
}

/// A holder's proof of the challenge of shard `key` in `epoch` (module doc).
pub(crate) fn prove(
    state: &mut State,
    sender: &Address,
    key: ShardKey,
    epoch: u64,
    proof: &ChunkProof,
    (height, seed): (u64, &Digest),
) -> Result<(), Reason> {
    let (shard_bytes, shard) = held_by(state, sender, key)?;
    let challenge = shard
        .challenge
        .filter(|c| c.epoch == epoch && matches!(shard.state, ShardState::Active { .. }))
        .ok_or(Reason::NoOpenChallenge)?;
    match challenge.outcome {
        ChallengeOutcome::Proven { .. } => return Err(Reason::AlreadyProven),
        ChallengeOutcome::Missed | ChallengeOutcome::Excused => {
            return Err(Reason::ProofWindowOver);
        }
        ChallengeOutcome::Open if height > challenge.due_height => {
            return Err(Reason::ProofWindowOver);
        }
        ChallengeOutcome::Open => {}
    }
    let (id, segment, slot) = key;
    let record = &state.deals[&id].segments[segment as usize];
    let n = u16::try_from(record.shards.len()).map_err(|_| Reason::MalformedStorageProof)?;
    let commitment = record.commitment;
    match proof::verify(&commitment, n, slot, shard_bytes, challenge.chunk, proof) {
        Ok(()) => {
            if let Some(shard) = shard_mut(state, key) {
                shard.challenge = Some(Challenge {
                    outcome: ChallengeOutcome::Proven { height },
                    ..challenge
                });
                shard.last_proof_height = height;
                shard.misses = 0;
                shard.fault_epoch = None;
            }
            let index = &mut state.storage_index;
            index.proof_dues.remove(&(challenge.due_height, key));
            state.storage_stats.proofs_passed += 1;
            Ok(())
        }
        Err(ProofError::Mismatch) => {
            state.storage_stats.proofs_wrong += 1;
            burn_collateral(state, key, sender, shard.collateral);
            lose(state, key, height, seed);
            Ok(())
        }
        Err(_) => Err(Reason::MalformedStorageProof),
    }
}

/// The holder declares shard `key` faulty at `height`, before its next challenge opens: the
/// excuse covers the epochs from that challenge's (this one if its challenge has not opened
/// yet, else the next) for `fault_excuse_epochs_max` epochs, and lasts until a proof.
pub(crate) fn declare_fault(
    state: &mut State,
    sender: &Address,
    key: ShardKey,
    height: u64,
) -> Result<(), Reason> {
    let (_, shard) = held_by(state, sender, key)?;
    if !matches!(shard.state, ShardState::Active { .. }) {
        return Err(Reason::ShardNotActive);
    }
    if shard.fault_epoch.is_some() {
        return Err(Reason::ShardFaulty);
    }
    if shard.open_challenge().is_some() {
        return Err(Reason::ChallengeOpen);
    }
    let epoch = state.epoch_of(height);
    let challenged = shard.challenge.is_some_and(|c| c.epoch >= epoch);
    let first = if challenged { epoch + 1 } else { epoch };
    if let Some(shard) = shard_mut(state, key) {
        shard.fault_epoch = Some(first);
    }
    Ok(())
}

/// At an epoch's end: every active shard is challenged in the next epoch.
pub(crate) fn queue_next_epoch(state: &mut State) {
    let mut queue = std::collections::BTreeSet::new();
    for (id, deal) in &state.deals {
        for (index, segment) in deal.segments.iter().enumerate() {
            for (slot, shard) in segment.shards.iter().enumerate() {
                if matches!(shard.state, ShardState::Active { .. }) {
                    queue.insert((*id, index as u32, slot as u16));
                }
            }
        }
    }
    state.storage_index.unchallenged = queue;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_open_early_enough_to_close_inside_their_epoch() {
        let tens = EpochSchedule::new(10);
        assert_eq!(opening_heights(&tens, 3, 0), 0..=6);
        assert_eq!(opening_heights(&tens, 3, 2), 20..=26);
        assert_eq!(opening_heights(&tens, 9, 1), 10..=10);
        assert_eq!(opening_heights(&tens, 10, 1).count(), 0);
        assert_eq!(opening_heights(&tens, 11, 0).count(), 0);
        // Epochs of 4 blocks from epoch 3 (height 30): a window of 3 leaves one opening block,
        // and 4 none.
        let mut shortened = tens.clone();
        shortened.change_from(3, 4);
        assert_eq!(opening_heights(&shortened, 3, 2), 20..=26);
        assert_eq!(opening_heights(&shortened, 3, 3), 30..=30);
        assert_eq!(opening_heights(&shortened, 3, 5), 38..=38);
        assert_eq!(opening_heights(&shortened, 4, 4).count(), 0);
    }
}
