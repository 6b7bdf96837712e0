//! Posting a job and matching it: the escrow leaves the consumer's balance, and a lottery over the
//! eligible providers, weighted by bond and reputation and drawn from the block's beacon seed,
//! assigns it. That seed (the signature over `h - 2`) is public before the block is built, so a
//! consumer that grinds its job id can aim at a provider; ARCHITECTURE.md records the limit and
//! why aiming cannot make an honest provider miss a deadline.

use crate::ledger::state::State;
use crate::ledger::value::Held;
use crate::market::jobs::{Assignment, Job, JobStatus};
use crate::market::providers::Provider;
use plexus_fueltrace::draws::weighted_pick;
use plexus_fueltrace::params::PPM;
use plexus_types::job::{AuditClass, fuel_cost_ceil};
use plexus_types::limits::{JOB_BLOBS_MAX, JOB_FUEL_MAX};
use plexus_types::{Address, Amount, ContentHash, Digest, Reason, hash};

/// A job as `Payload::JobPost` describes it.
pub(crate) struct Posting<'a> {
    pub module: ContentHash,
    pub blobs: &'a [ContentHash],
    pub input: ContentHash,
    pub max_fuel: u64,
    pub price_cap_per_mfuel: Amount,
    pub audit: AuditClass,
    pub deadline_blocks: u64,
}

/// Posts job `id` (the posting transaction's hash), takes its escrow and matches it with the
/// block's `seed`.
pub(crate) fn post(
    state: &mut State,
    consumer: Address,
    id: Digest,
    posting: Posting<'_>,
    height: u64,
    seed: &Digest,
) -> Result<(), Reason> {
    if !(1..=JOB_FUEL_MAX).contains(&posting.max_fuel)
        || posting.blobs.len() > JOB_BLOBS_MAX
        || !(state.params.job_deadline_min_blocks.max(1)..=state.params.job_deadline_max_blocks)
            .contains(&posting.deadline_blocks)
    {
        return Err(Reason::InvalidJob);
    }
    let escrow =
        fuel_cost_ceil(posting.max_fuel, posting.price_cap_per_mfuel).ok_or(Reason::Overflow)?;
    // Refused (nothing changed) when the consumer is short; the job below holds the escrow.
    state.lock(&consumer, Held::Escrow, escrow)?;
    // Transaction hashes are unique (sender and nonce are signed), so `id` is new.
    let deadline_height = height.saturating_add(posting.deadline_blocks);
    let mut job = Job {
        consumer,
        module: posting.module,
        blobs: posting.blobs.to_vec(),
        input: posting.input,
        max_fuel: posting.max_fuel,
        price_cap_per_mfuel: posting.price_cap_per_mfuel,
        audit: posting.audit,
        posted_height: height,
        deadline_height,
        escrow,
        status: JobStatus::Posted,
    };
    if let Some(assignment) = draw_provider(state, &id, &job, height, seed) {
        let value = fuel_cost_ceil(job.max_fuel, assignment.ask_per_mfuel).unwrap_or(0);
        if let Some(provider) = state.providers.get_mut(&assignment.provider) {
            provider.bond_locked += assignment.bond_locked;
            provider.jobs_in_flight += 1;
            provider.largest_in_flight = provider.largest_in_flight.max(value);
        }
        job.status = JobStatus::Assigned(assignment);
    }
    state.jobs.insert(id, job);
    state.market_index.deadlines.insert((deadline_height, id));
    Ok(())
}

/// The lock a provider at `ask` puts up for `job`, if it fits in 128 bits.
fn lock_for(state: &State, job: &Job, ask: Amount) -> Option<Amount> {
    fuel_cost_ceil(job.max_fuel, ask)?.checked_mul(u128::from(state.params.bond_lock_multiple))
}

/// FUELTRACE.md's bond rule, `B >= (m + 1/p) * G_max`, for `provider` taking `job`: `m` its jobs
/// in flight with this one, `G_max` the largest value among them (at its ask, for the job's
/// whole `max_fuel`), `p` the audit probability `p_L + p_F`. It caps the value a provider holds
/// in flight so that, at any moment, its bond covers a slash for each job plus the deterrent
/// `G_max / p`. With audits off (`p = 0`) there is nothing to size the bond for.
fn bond_rule_holds(state: &State, job: &Job, provider: &Provider) -> bool {
    let p = u128::from(state.params.audit.audit_ppm());
    if p == 0 {
        return true;
    }
    let Some(value) = fuel_cost_ceil(job.max_fuel, provider.ask_per_mfuel) else {
        return false;
    };
    let largest = provider.largest_in_flight.max(value);
    let m = u128::from(provider.jobs_in_flight) + 1;
    // (m + PPM / p) * G <= B, as m * G + G * PPM / p (rounded up) <= B, overflow refused.
    let deterrent = largest.checked_mul(u128::from(PPM)).map(|x| x.div_ceil(p));
    m.checked_mul(largest)
        .zip(deterrent)
        .and_then(|(a, b)| a.checked_add(b))
        .is_some_and(|needed| needed <= provider.bond)
}

/// The providers that may take `job` at `height`, in address order, with their lock and weight
/// `bond * (reputation + 1)` (saturating: a weight that large only happens with a bond above
/// 10^34 base units, and saturating keeps the draw deterministic).
fn candidates(state: &State, job: &Job, height: u64) -> Vec<(Address, Amount, Amount, u128)> {
    state
        .providers
        .iter()
        // Never its own job: that would farm reputation for the price of a fee.
        .filter(|(address, provider)| {
            **address != job.consumer
                && provider.is_active(&state.params, height)
                && provider.ask_per_mfuel <= job.price_cap_per_mfuel
                // A provider slashed below the minimum bond takes no new work until topped up.
                && provider.bond >= state.params.provider_bond_min
                && provider.jobs_in_flight < provider.capacity()
        })
        .filter_map(|(address, provider)| {
            let lock = lock_for(state, job, provider.ask_per_mfuel)?;
            if provider.bond_free() < lock || !bond_rule_holds(state, job, provider) {
                return None;
            }
            let weight = provider.draw_weight();
            Some((address.clone(), provider.ask_per_mfuel, lock, weight))
        })
        .collect()
}

/// The lottery: `draw = u128(first 16 bytes of SHA-256("plexus/match" | seed | job id)) mod
/// total weight`, then the first candidate whose cumulative weight exceeds the draw. `None` when
/// nobody is eligible (or every eligible weight is zero).
fn draw_provider(
    state: &State,
    id: &Digest,
    job: &Job,
    height: u64,
    seed: &Digest,
) -> Option<Assignment> {
    let candidates = candidates(state, job, height);
    let total = candidates
        .iter()
        .fold(0u128, |sum, (_, _, _, weight)| sum.saturating_add(*weight));
    if total == 0 {
        return None;
    }
    let digest = hash(&[b"plexus/match", seed.as_ref(), id.as_ref()]);
    let mut head = [0u8; 16];
    head.copy_from_slice(&digest.as_ref()[..16]);
    let draw = u128::from_be_bytes(head) % total;
    let index = weighted_pick(candidates.iter().map(|candidate| candidate.3), draw)?;
    let (provider, ask_per_mfuel, bond_locked, _) = candidates.into_iter().nth(index)?;
    Some(Assignment {
        provider,
        ask_per_mfuel,
        bond_locked,
        height,
    })
}
