//! FuelTrace's economics on chain: burn-and-mint of consumer payments, the audit fee pool that
//! pays verifiers, and the per-epoch emission on a halving schedule (DESIGN.md "Economics",
//! FUELTRACE.md "The economics").
//!
//! Three flows, all in integer base units, every division rounding down:
//! - Settlement (`market::settlement::settle` calls [`take_from_payment`]): of a job's payment `paid`,
//!   `burned = floor(paid * payment_burn_bps / 10^4)` leaves the supply and
//!   `audit_fee = floor(paid * audit_fee_bps / 10^4)` goes to `State::audit_pool`; the provider
//!   gets the rest.
//! - Verifier pay (`audits::pass_audit`, `canaries::close_canary`, and `disputes::rule` for a verifier that wins the
//!   dispute its audit opened, call [`pay_verifier`]): `min(pool, floor(reexecuted_fuel * ask /
//!   10^6))` moves from the pool to the verifier's balance, where `reexecuted_fuel` is the job's
//!   `total_fuel` for a full audit and `min(total_fuel, seg_fuel * segments drawn)` for a light
//!   one. The pool pays what it has and is never overdrawn.
//! - Emission ([`emit`], at each epoch's last block): `E(e) = emission_per_epoch >> (e /
//!   emission_halving_epochs)` (zero from the `HALVINGS_MAX`th halving on) splits into the
//!   validators' share (`emission_validators_bps`, by their signatures in the epoch's recorded
//!   finalization certificates, `State::participation`; each validator's part is then split
//!   with its delegators after its commission and accrues as claimable staking rewards,
//!   `staking::rewards`), the providers' share
//!   (`emission_providers_bps`, by the fuel of their completed jobs whose audit passed in the
//!   epoch: a failed job's bill measures no work) and the
//!   verifiers' share (the rest, by audits passed plus disputes won in the epoch). Before them,
//!   when any storage holder proved a challenge in the epoch, the storage share
//!   (`StorageParams::emission_bps` of `E(e)`, 20% by default and on devnets) goes to the
//!   holders by the byte-epochs they proved, and the three shares split what is left. Each share
//!   is split pro rata with floor division ([`pro_rata`]).
//!
//! Conservation: a settlement splits `paid` (taken from an escrow) between the provider, the pool
//! and the burn (`burned + audit_fee <= paid`); verifier pay moves value out of the pool; an
//! emission mints exactly what it credits (`supply.minted` and `supply.total` move
//! together), so the rounding dust of a share and a share without recipients (no participation
//! recorded, no audits passed) are never minted. The validators' parts are minted into the
//! accrued staking rewards (`State::rewards`), the other shares into balances. Hence `supply.total == State::recount()` and
//! `total == minted - burned` after every block (pinned by `tests/rewards_properties.rs`).
//!
//! Known limit: the finalization certificates of an epoch's last blocks are usually recorded in
//! the next epoch, after that epoch's emission was paid: they count in `State::participation`
//! but in no payout.

use crate::fueltrace::records::Emission;
use crate::ledger::state::{PARTICIPATION_EPOCHS_KEPT, State};
use crate::ledger::value::Held;
use crate::staking::rewards as staking_rewards;
use plexus_fueltrace::draws::rerun_fuel;
use plexus_fueltrace::money::{PaymentSplit, bps_floor, emission, pro_rata, split_payment};
use plexus_types::job::fuel_cost_floor;
use plexus_types::{Address, Amount, Digest};

/// Takes the burn and the audit fee out of a settled job's payment `paid` (already out of the
/// escrow, split by [`split_payment`]): the burn leaves the supply, the fee enters the pool. The
/// caller pays the provider its part.
pub(crate) fn take_from_payment(state: &mut State, paid: Amount) -> PaymentSplit {
    let split = split_payment(paid, &state.params.audit);
    // `paid` was part of the supply (an escrow), so the burn cannot underflow it.
    state.burn_held(Held::Escrow, split.burned);
    state.pay_into_audit_pool(split.audit_fee);
    split
}

/// Pays the verifier of job `id`'s audit for its re-execution from the audit pool (at most what
/// the pool holds), records the pay on the audit and the verifier, and counts the audit for the
/// verifiers' emission. Called once per audit: when it passes or when its verifier wins the
/// dispute it opened. Returns the amount paid.
pub(crate) fn pay_verifier(state: &mut State, id: &Digest, verifier: &Address) -> Amount {
    // A canary's audit is keyed by the canary's id; the work is the job it copies.
    let job_id = state
        .audits
        .get(id)
        .and_then(|audit| audit.canary.as_ref())
        .map_or(*id, |canary| canary.of);
    let Some(job) = state.jobs.get(&job_id) else {
        return 0;
    };
    let (Some(assignment), Some(commitment)) = (job.status.assignment(), job.status.commitment())
    else {
        return 0;
    };
    let Some(audit) = state.audits.get(id).filter(|a| a.verifier == *verifier) else {
        return 0;
    };
    let reexecuted_fuel = rerun_fuel(&state.params.audit, &audit.kind, commitment.total_fuel);
    // An overflowing value is more than any pool holds: the pool pays what it has.
    let pay = fuel_cost_floor(reexecuted_fuel, assignment.ask_per_mfuel)
        .unwrap_or(Amount::MAX)
        .min(state.audit_pool());
    state.unlock(Held::AuditPool, verifier, pay);
    if let Some(audit) = state.audits.get_mut(id) {
        audit.paid = pay;
    }
    if let Some(record) = state.verifiers.get_mut(verifier) {
        record.earned += pay;
    }
    let count = state
        .epoch_verifier_audits
        .entry(verifier.clone())
        .or_default();
    *count = count.saturating_add(1);
    pay
}

/// Counts job `id`'s fuel for its provider's share of the epoch emission (its audit passed).
/// Only a completed job's fuel is work the audit verified: a failed job's bill is not a measure
/// of work (a trap bills `max_fuel` however early it fired, `plexus_exec::run`), and counting it
/// would let a consumer and a provider mint emission weight with a job that traps at once.
pub(crate) fn credit_audited_fuel(state: &mut State, id: &Digest) {
    let Some(job) = state.jobs.get(id) else {
        return;
    };
    let (Some(assignment), Some(commitment)) = (job.status.assignment(), job.status.commitment())
    else {
        return;
    };
    if commitment.total_fuel == 0 || commitment.failed {
        return;
    }
    let (provider, fuel) = (assignment.provider.clone(), commitment.total_fuel);
    let entry = state.epoch_audited_fuel.entry(provider).or_default();
    *entry = entry.saturating_add(u128::from(fuel));
}

/// Mints each part into its account's balance (providers, verifiers, storage holders); returns
/// their sum.
fn mint_parts(state: &mut State, parts: Vec<(Address, Amount)>) -> Amount {
    let mut paid: Amount = 0;
    for (address, part) in parts {
        state.mint_to(&address, part);
        paid += part;
    }
    paid
}

/// Pays `epoch`'s emission (called at its last block), mints exactly what it paid, records it
/// and clears the epoch's provider and verifier weights. `proven` is each storage holder's
/// byte-epochs proven in the epoch: when anyone proved anything, the storage share
/// (`StorageParams::emission_bps` of the whole) is theirs pro rata, and the other shares split
/// what is left; else they split the whole.
pub(crate) fn emit(state: &mut State, epoch: u64, proven: Vec<(Address, u128)>) {
    let params = &state.params.audit;
    let whole = emission(params, epoch);
    let storage_share = if proven.iter().any(|(_, bytes)| *bytes > 0) {
        bps_floor(whole, state.params.storage.emission_bps).min(whole)
    } else {
        0
    };
    let total = whole - storage_share;
    let validators_share = bps_floor(total, params.emission_validators_bps);
    // `check` keeps the two bps shares within 10^4 together; the `min` guards the rest.
    let providers_share =
        bps_floor(total, params.emission_providers_bps).min(total - validators_share);
    let verifiers_share = total - validators_share - providers_share;
    let signatures: Vec<(Address, u128)> = state
        .participation
        .iter()
        .filter(|((e, _), _)| *e == epoch)
        .map(|((_, validator), count)| (validator.clone(), u128::from(*count)))
        .collect();
    let fuel: Vec<(Address, u128)> = std::mem::take(&mut state.epoch_audited_fuel)
        .into_iter()
        .collect();
    let audits: Vec<(Address, u128)> = std::mem::take(&mut state.epoch_verifier_audits)
        .into_iter()
        .map(|(verifier, count)| (verifier, u128::from(count)))
        .collect();
    let minted = Emission {
        validators: staking_rewards::credit_parts(state, pro_rata(validators_share, &signatures)),
        providers: mint_parts(state, pro_rata(providers_share, &fuel)),
        verifiers: mint_parts(state, pro_rata(verifiers_share, &audits)),
        storage: mint_parts(state, pro_rata(storage_share, &proven)),
    };
    state.emissions.insert(epoch, minted);
    state
        .emissions
        .retain(|e, _| e.saturating_add(PARTICIPATION_EPOCHS_KEPT) > epoch);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Genesis, Params};
    use commonware_cryptography::Signer;
    use plexus_types::{PLX, PrivateKey};

    fn address(i: u64) -> Address {
        Address(PrivateKey::from_seed(i).public_key())
    }

    fn state(emission_per_epoch: Amount) -> State {
        let mut params = Params::default();
        params.audit.emission_per_epoch = emission_per_epoch;
        Genesis {
            chain_id: 1,
            timestamp_ms: 0,
            params,
            allocations: vec![(address(0), 10_000 * PLX)],
            validators: vec![crate::GenesisValidator {
                address: address(0),
                self_bond: 1_000 * PLX,
            }],
            beacon: crate::beacon::DevBeacon::deal(0, [PrivateKey::from_seed(0).public_key()])
                .output,
        }
        .build()
        .expect("genesis builds")
        .0
    }

    #[test]
    fn an_epoch_pays_each_share_by_its_weights_and_mints_what_it_paid() {
        // E = 1003: validators 40% = 401, providers 40% = 401, verifiers the rest = 201.
        let mut state = state(1_003);
        state.participation.insert((3, address(1)), 2);
        state.participation.insert((3, address(2)), 1);
        state.participation.insert((2, address(3)), 50);
        state.epoch_audited_fuel.insert(address(4), 1_000);
        state.epoch_verifier_audits.insert(address(5), 1);
        state.epoch_verifier_audits.insert(address(6), 2);
        let (minted, total) = (state.supply.minted(), state.supply.total());
        emit(&mut state, 3, Vec::new());
        let balance = |i| state.account(&address(i)).balance;
        let accrued = |i| state.accrued_rewards(&address(i));
        // 401 * 2/3 = 267, 401 / 3 = 133: one unit of dust. The validators' parts accrue as
        // staking rewards (these signers are not registered: no commission split), not balances.
        assert_eq!((accrued(1), accrued(2), accrued(3)), (267, 133, 0));
        assert_eq!((balance(1), balance(2), balance(3)), (0, 0, 0));
        assert_eq!(balance(4), 401);
        assert_eq!((balance(5), balance(6)), (67, 134));
        let expected = Emission {
            validators: 400,
            providers: 401,
            verifiers: 201,
            storage: 0,
        };
        assert_eq!(state.emissions[&3], expected);
        assert_eq!(state.supply.minted(), minted + 1_002);
        assert_eq!(state.supply.total(), total + 1_002);
        assert_eq!(state.recount(), Ok(state.supply.total()));
        assert!(state.epoch_audited_fuel.is_empty() && state.epoch_verifier_audits.is_empty());
        // The participation record stays: it is the API's and the certificates' window.
        assert_eq!(state.participation.len(), 3);
    }

    #[test]
    fn an_epoch_without_work_mints_nothing_and_the_record_is_bounded() {
        let mut state = state(1_000 * PLX);
        let minted = state.supply.minted();
        for epoch in 0..10 {
            emit(&mut state, epoch, Vec::new());
        }
        assert_eq!(state.supply.minted(), minted);
        assert_eq!(
            state.emissions.keys().copied().collect::<Vec<_>>(),
            (10 - PARTICIPATION_EPOCHS_KEPT..10).collect::<Vec<_>>()
        );
        assert!(state.emissions.values().all(|e| e.total() == 0));
        // Only the providers worked: only their share is minted.
        state.epoch_audited_fuel.insert(address(4), 7);
        emit(&mut state, 10, Vec::new());
        assert_eq!(state.supply.minted(), minted + 400 * PLX);
        assert_eq!(state.account(&address(4)).balance, 400 * PLX);
    }

    #[test]
    fn only_completed_jobs_earn_emission_weight() {
        use crate::market::{Assignment, Job, JobStatus};
        let mut state = state(1_000);
        let job = |failed| Job {
            consumer: address(1),
            module: plexus_types::ContentHash::of_parts(&[b"module".as_slice()]),
            blobs: Vec::new(),
            input: plexus_types::ContentHash::of_parts(&[b"input".as_slice()]),
            max_fuel: 5_000_000,
            price_cap_per_mfuel: 1,
            audit: plexus_types::job::AuditClass::Standard,
            posted_height: 1,
            deadline_height: 100,
            escrow: 5,
            status: JobStatus::Committed {
                assignment: Assignment {
                    provider: address(4),
                    ask_per_mfuel: 1,
                    bond_locked: 0,
                    height: 1,
                },
                commitment: plexus_types::job::Commitment {
                    output_hash: plexus_types::ContentHash::of_parts(&[b"output".as_slice()]),
                    total_fuel: 5_000_000,
                    segments: 1,
                    trace_root: plexus_types::ContentHash::of_parts(&[b"trace".as_slice()]),
                    failed,
                },
                committed_height: 2,
                settle_height: 10,
            },
        };
        let (completed, trapped) = (
            plexus_types::hash(&[b"completed".as_slice()]),
            plexus_types::hash(&[b"trapped".as_slice()]),
        );
        state.jobs.insert(completed, job(false));
        state.jobs.insert(trapped, job(true));
        // A trap bills max_fuel however early it fired: no measure of work, no emission weight.
        credit_audited_fuel(&mut state, &trapped);
        assert!(state.epoch_audited_fuel.is_empty());
        credit_audited_fuel(&mut state, &completed);
        assert_eq!(state.epoch_audited_fuel.get(&address(4)), Some(&5_000_000));
    }
}
