//! Deals: posting one with its escrow and its holders, extending it, ending it early, paying its
//! holders at every epoch's end and finishing it after its last paid epoch. Money math is
//! `plexus_storage::money`'s; value moves only through `ledger/value`.

use crate::ledger::state::State;
use crate::ledger::value::Held;
use crate::storage::records::{ChallengeOutcome, Deal, Segment, ShardState};
use crate::storage::{challenges, holders};
use plexus_storage::money::{cost_ceil, deal_escrow_ceil, epoch_pay_floor};
use plexus_types::deal::{DEAL_SEGMENTS_MAX, DealSegment};
use plexus_types::{Address, Amount, Digest, Reason};

/// A deal as `Payload::DealPost` describes it.
pub(crate) struct Posting<'a> {
    pub segments: &'a [DealSegment],
    pub k: u16,
    pub n: u16,
    pub price_cap_per_gib_epoch: Amount,
    pub epochs: u64,
    pub public: bool,
}

/// The posting's escrow, or why it is not a deal the chain takes: segments in range (a length
/// of 1..=`SEGMENT_BYTES_MAX`, and exactly the code's shard length for it), the chain's `k` and
/// `n`, a length in `deal_epochs_min..=deal_epochs_max`, an escrow that fits 128 bits.
fn escrow_of(state: &State, posting: &Posting<'_>) -> Result<Amount, Reason> {
    let params = &state.params.storage;
    let shape = params.shape().ok_or(Reason::InvalidDeal)?;
    let segments_fit = posting.segments.iter().all(|segment| {
        segment.size_bytes >= 1 && shape.shard_len(segment.size_bytes) == Some(segment.shard_bytes)
    });
    if posting.segments.is_empty()
        || posting.segments.len() > DEAL_SEGMENTS_MAX
        || !segments_fit
        || u32::from(posting.k) != params.k
        || u32::from(posting.n) != params.n
        || !(params.deal_epochs_min..=params.deal_epochs_max).contains(&posting.epochs)
    {
        return Err(Reason::InvalidDeal);
    }
    deal_escrow_ceil(
        posting.price_cap_per_gib_epoch,
        posting.segments,
        posting.n,
        posting.epochs,
    )
    .ok_or(Reason::Overflow)
}

/// Checked before the post's fee is charged: a well-formed deal whose segments no set of `n`
/// distinct providers can hold, or whose shards the challenge schedule cannot fit beside the
/// open deals' (`challenges::capacity`), is refused outright (`Rejected`: nothing charged, not
/// even the fee). Anything else wrong with it is the post's to fail. The fee cannot change the
/// draw: it leaves a balance, never a bond or an offer.
pub(crate) fn precheck(
    state: &State,
    owner: &Address,
    id: &Digest,
    posting: &Posting<'_>,
    height: u64,
    seed: &Digest,
) -> Result<(), Reason> {
    if escrow_of(state, posting).is_err() {
        return Ok(());
    }
    let shards = (posting.segments.len() as u64).saturating_mul(u64::from(posting.n));
    if state.storage_index.shards.saturating_add(shards) > challenges::capacity(state) {
        return Err(Reason::StorageFull);
    }
    let cap = posting.price_cap_per_gib_epoch;
    holders::draw_deal(state, id, owner, cap, posting.segments, height, seed)
        .map(|_| ())
        .ok_or(Reason::NoStorageHolders)
}

/// Posts deal `id` (the posting transaction's hash): the escrow leaves the owner's balance and
/// every segment's `n` holders are drawn from the block's `seed`, each reserving its shard.
pub(crate) fn post(
    state: &mut State,
    owner: Address,
    id: Digest,
    posting: Posting<'_>,
    height: u64,
    seed: &Digest,
) -> Result<(), Reason> {
    let escrow = escrow_of(state, &posting)?;
    let balance = state.account(&owner).balance;
    if balance < escrow {
        return Err(Reason::InsufficientBalance);
    }
    let cap = posting.price_cap_per_gib_epoch;
    let drawn = holders::draw_deal(state, &id, &owner, cap, posting.segments, height, seed)
        .ok_or(Reason::NoStorageHolders)?;
    let shards = drawn.iter().map(|shards| shards.len() as u64).sum::<u64>();
    if state.storage_index.shards.saturating_add(shards) > challenges::capacity(state) {
        return Err(Reason::StorageFull);
    }
    let start_epoch = state.epoch_of(height) + 1;
    let segments: Vec<Segment> = posting
        .segments
        .iter()
        .zip(drawn)
        .map(|(segment, shards)| Segment {
            commitment: segment.commitment,
            size_bytes: segment.size_bytes,
            shard_bytes: segment.shard_bytes,
            shards,
        })
        .collect();
    let deal = Deal {
        owner: owner.clone(),
        public: posting.public,
        k: posting.k,
        price_cap_per_gib_epoch: cap,
        posted_height: height,
        start_epoch,
        end_epoch: start_epoch.saturating_add(posting.epochs),
        escrow: 0,
        paid: 0,
        segments,
    };
    let reservations: Vec<_> = deal
        .segments
        .iter()
        .enumerate()
        .flat_map(|(index, segment)| {
            segment.shards.iter().enumerate().map(move |(slot, shard)| {
                (
                    shard.clone(),
                    segment.shard_bytes,
                    (id, index as u32, slot as u16),
                )
            })
        })
        .collect();
    // Transaction hashes are unique, so `id` is new. The record holds the escrow, so it exists
    // before the lock; a refused lock (the balance was checked) takes it out again.
    state.deals.insert(id, deal);
    if let Err(error) = state.lock(&owner, Held::DealEscrow(&id), escrow) {
        state.deals.remove(&id);
        return Err(error.into());
    }
    state.storage_index.shards += shards;
    state.storage_stats.deals_posted += 1;
    for (shard, shard_bytes, key) in reservations {
        holders::reserve(state, &shard, shard_bytes);
        if let ShardState::Drawn { accept_due, .. } = shard.state {
            state.storage_index.accept_dues.insert((accept_due, key));
        }
    }
    Ok(())
}

/// The open deal `id` if `sender` owns it.
fn owned<'a>(state: &'a State, sender: &Address, id: &Digest) -> Result<&'a Deal, Reason> {
    let deal = state.deals.get(id).ok_or(Reason::UnknownDeal)?;
    if deal.owner != *sender {
        return Err(Reason::NotDealOwner);
    }
    Ok(deal)
}

/// The owner lengthens deal `id` by `epochs`, escrowing them at its cap; the deal may not then
/// run more than `deal_epochs_max` epochs past the current one.
pub(crate) fn extend(
    state: &mut State,
    sender: &Address,
    id: Digest,
    epochs: u64,
    height: u64,
) -> Result<(), Reason> {
    let deal = owned(state, sender, &id)?;
    let end_epoch = deal
        .end_epoch
        .checked_add(epochs)
        .ok_or(Reason::InvalidDeal)?;
    let left = end_epoch.saturating_sub(state.epoch_of(height));
    if epochs == 0 || left > state.params.storage.deal_epochs_max {
        return Err(Reason::InvalidDeal);
    }
    let bytes = deal
        .segments
        .iter()
        .try_fold(0u128, |sum, segment| {
            let shards = u128::try_from(segment.shards.len()).ok()?;
            sum.checked_add(u128::from(segment.shard_bytes).checked_mul(shards)?)
        })
        .ok_or(Reason::Overflow)?;
    let more = cost_ceil(deal.price_cap_per_gib_epoch, bytes, epochs).ok_or(Reason::Overflow)?;
    state.lock(sender, Held::DealEscrow(&id), more)?;
    if let Some(deal) = state.deals.get_mut(&id) {
        deal.end_epoch = end_epoch;
    }
    Ok(())
}

/// The owner ends deal `id` now: its holders keep what they were paid, the rest of the escrow
/// returns (the current epoch is not paid).
pub(crate) fn end(state: &mut State, sender: &Address, id: Digest) -> Result<(), Reason> {
    owned(state, sender, &id)?;
    finish(state, id);
    Ok(())
}

/// Removes deal `id`: the escrow left returns to its owner, every shard's reservation and
/// collateral is released, and its shards leave the index (accepts, open challenges, the
/// challenge queue).
fn finish(state: &mut State, id: Digest) {
    let Some(deal) = state.deals.get(&id).cloned() else {
        return;
    };
    state.unlock(Held::DealEscrow(&id), &deal.owner, deal.escrow);
    for (index, segment) in deal.segments.iter().enumerate() {
        for (slot, shard) in segment.shards.iter().enumerate() {
            holders::release(state, shard, segment.shard_bytes);
            let key = (id, index as u32, slot as u16);
            let storage_index = &mut state.storage_index;
            if let Some(due) = shard.state.accept_due() {
                storage_index.accept_dues.remove(&(due, key));
            }
            if let Some(challenge) = shard.open_challenge() {
                storage_index
                    .proof_dues
                    .remove(&(challenge.due_height, key));
            }
            storage_index.unchallenged.remove(&key);
            storage_index.shards -= 1;
        }
    }
    state.deals.remove(&id);
}

/// At the end of `epoch`: every deal running in it pays each active shard whose challenge of
/// `epoch` was proven one epoch at the holder's price (rounded down, never more than the escrow
/// holds; a shard missed, excused, unchallenged or not active is not paid and its pay stays in
/// the escrow), and every deal whose last paid epoch this was finishes. Returns the byte-epochs
/// each holder proved in `epoch` (its storage emission weight).
pub(crate) fn pay_epoch(state: &mut State, epoch: u64) -> Vec<(Address, u128)> {
    let mut proven = std::collections::BTreeMap::<Address, u128>::new();
    let running: Vec<Digest> = state
        .deals
        .iter()
        .filter(|(_, deal)| deal.start_epoch <= epoch && epoch < deal.end_epoch)
        .map(|(id, _)| *id)
        .collect();
    for id in running {
        let Some(deal) = state.deals.get(&id) else {
            continue;
        };
        let mut pays: Vec<(Address, Amount)> = Vec::new();
        for segment in &deal.segments {
            for shard in &segment.shards {
                let paid = matches!(shard.state, ShardState::Active { .. })
                    && shard.challenge.is_some_and(|c| {
                        c.epoch == epoch && matches!(c.outcome, ChallengeOutcome::Proven { .. })
                    });
                if paid {
                    let pay = epoch_pay_floor(shard.price_per_gib_epoch, segment.shard_bytes)
                        .unwrap_or(0);
                    pays.push((shard.holder.clone(), pay));
                    let weight = proven.entry(shard.holder.clone()).or_default();
                    *weight = weight.saturating_add(u128::from(segment.shard_bytes));
                }
            }
        }
        let last = deal.end_epoch == epoch + 1;
        for (holder, pay) in pays {
            let held = state.deals.get(&id).map_or(0, |deal| deal.escrow);
            let pay = pay.min(held);
            state.unlock(Held::DealEscrow(&id), &holder, pay);
            if let Some(deal) = state.deals.get_mut(&id) {
                deal.paid += pay;
            }
        }
        if last {
            finish(state, id);
        }
    }
    proven.into_iter().collect()
}
