//! FuelTrace's economics through whole blocks: burn-and-mint of consumer payments, the audit fee
//! pool and verifier pay, and the per-epoch emission on its halving schedule.
//!
//! The property tests run arbitrary blocks of bank, staking (delegations, commission changes,
//! reward withdrawals), provider, job, verifier, audit
//! (sealed agreeing or disagreeing verdicts), dispute and participation transactions over several
//! short epochs and check after every block: the ledger sums to the supply
//! (`recount() == total`), `total == minted - burned`, the supply is minted only at an epoch's
//! last block and by exactly what that epoch's emission paid (each share within its budget; the
//! validators' share exactly into the accrued staking rewards, which a withdrawal empties into
//! the sender's balance), the
//! audit pool equals the fees that entered it minus the verifier pay that left it, and every
//! settlement splits its payment as the parameters say. A chain without participation records
//! or audits mints nothing. The seeds are fixed (`RngSeed::Fixed`), so a run is reproducible.
//!
//! The scenario test pins the exact figures of one epoch: a payment's burn and fee, a verifier
//! paid from the pool, and each share of the emission.

mod common;

use common::{address, key};
use commonware_codec::{DecodeExt, Encode};
use commonware_consensus::{
    simplex::{
        scheme::ed25519::Scheme,
        types::{Finalization, Finalize, Proposal},
    },
    types::{Epoch, Round, View},
};
use commonware_cryptography::Signer;
use commonware_parallel::Sequential;
use commonware_utils::iter::NonEmpty;
use plexus_fueltrace::money::{bps_floor, emission};
use plexus_fueltrace::params::AuditParams;
use plexus_state::dispute::{AuditKind, AuditStage};
use plexus_state::fueltrace::Emission;
use plexus_state::{JobStatus, Params, State, apply_block, build_block, evidence};
use plexus_types::ContentHash;
use plexus_types::audit::{Verdict, audit_seal};
use plexus_types::job::{AuditClass, Commitment, ResourceProfile, fuel_cost_floor};
use plexus_types::{
    Address, Amount, CONSENSUS_NAMESPACE, Digest, PLX, Payload, SignedTransaction, Status, hash,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use std::collections::{BTreeMap, BTreeSet};

const CHAIN: u64 = 31;
/// Keys `0..KEYS` send transactions; key 0 is the only validator.
const KEYS: u64 = 6;
const EPOCH_BLOCKS: u64 = 4;

fn params() -> Params {
    Params {
        fee_min: 1,
        epoch_length_blocks: EPOCH_BLOCKS,
        provider_bond_min: 10 * PLX,
        provider_unbonding_blocks: 2,
        // Providers stay active without heartbeats.
        heartbeat_interval_blocks: 50,
        heartbeat_missed_max: 3,
        settlement_window_blocks: 1,
        job_deadline_max_blocks: 6,
        job_deadline_min_blocks: 1,
        job_retention_blocks: 3,
        bond_lock_multiple: 2,
        audit: AuditParams {
            seg_fuel: 1_000,
            light_audit_ppm: 400_000,
            full_audit_ppm: 200_000,
            light_audit_segments: 2,
            dissection_arity: 4,
            response_blocks: 2,
            verifier_bond_min: 10 * PLX,
            // Odd, so the shares and their pro-rata parts round.
            emission_per_epoch: 1_000 * PLX + 3,
            emission_halving_epochs: 2,
            ..AuditParams::default()
        },
        ..Params::default()
    }
}

fn genesis() -> State {
    common::genesis(CHAIN, params(), 1)
}

/// The key index of a test address.
fn index_of(who: &Address) -> Option<u64> {
    (0..KEYS).find(|i| address(*i) == *who)
}

/// The finalization of the block at `height` (hash `payload`) signed by validator 0, the whole
/// committee.
fn certificate(state: &State, height: u64, payload: Digest) -> Vec<u8> {
    let epoch = state.epoch_of(height);
    let committee = evidence::epoch_committee(state, epoch).expect("a recent epoch");
    let proposal = Proposal::new(
        Round::new(Epoch::new(epoch), View::new(height + 1)),
        View::new(height),
        payload,
    );
    let signer = Scheme::signer(CONSENSUS_NAMESPACE, committee.clone(), key(0)).expect("member");
    let vote = Finalize::sign(&signer, proposal).expect("signs");
    let verifier = Scheme::verifier(CONSENSUS_NAMESPACE, committee);
    Finalization::from_finalizes(
        &verifier,
        NonEmpty::try_new([vote].iter()).expect("one vote"),
        &Sequential,
    )
    .expect("a quorum")
    .encode()
    .to_vec()
}

/// The verdict a verifier seals: agreement with the provider's commitment, or a disagreement
/// that opens a dispute.
fn verdict(kind: &AuditKind, commitment: &Commitment, agree: bool) -> Verdict {
    match (kind, agree) {
        (AuditKind::Full, true) => Verdict::Full(commitment.clone()),
        (AuditKind::Full, false) => Verdict::Full(Commitment {
            output_hash: ContentHash::of_parts(&[b"another output"]),
            ..commitment.clone()
        }),
        (AuditKind::Light { .. }, true) => Verdict::Light { disputed: None },
        (AuditKind::Light { segments }, false) => Verdict::Light {
            disputed: segments.first().copied(),
        },
    }
}

/// (sender, kind, amount, fuel, small, pick): `pick` chooses a target account, job or audit.
type TxSpec = (u64, u8, Amount, u64, u64, usize);

fn arb_amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        1 => Just(0u128),
        2 => 1u128..(3 * PLX),
        5 => (10 * PLX)..(400 * PLX),
        1 => Just(u128::MAX),
    ]
}

fn arb_tx() -> impl Strategy<Value = TxSpec> {
    (
        0..KEYS,
        0u8..21,
        arb_amount(),
        prop_oneof![8 => 1u64..3_000_000, 1 => Just(0u64)],
        0u64..8,
        any::<usize>(),
    )
}

/// The test's side of the chain: jobs posted and verdicts sealed so far.
#[derive(Default)]
struct Book {
    jobs: Vec<Digest>,
    /// Job -> (verdict, salt) of the last seal sent for its audit.
    seals: BTreeMap<Digest, (Verdict, Digest)>,
}

/// Turns specs into one block's transactions. With `rewarded` false no verifier registers and
/// no participation is recorded (those specs become transfers), so no audit is ever drawn.
fn block_txs(
    state: &State,
    specs: Vec<TxSpec>,
    book: &mut Book,
    rewarded: bool,
) -> Vec<SignedTransaction> {
    let mut nonces: Vec<u64> = (0..KEYS)
        .map(|i| state.account(&address(i)).nonce)
        .collect();
    let mut txs = Vec::new();
    for (mut from, mut kind, amount, fuel, small, pick) in specs {
        if !rewarded && matches!(kind, 3 | 12..=14) {
            kind = 0;
        }
        let known_job = if book.jobs.is_empty() {
            hash(&[b"no such job"])
        } else {
            book.jobs[pick % book.jobs.len()]
        };
        let payload = match kind {
            0 => Payload::Transfer {
                to: address(pick as u64 % KEYS),
                amount,
            },
            1 | 2 => Payload::ProviderRegister {
                endpoint: "http://p".to_string(),
                profile: ResourceProfile::default(),
                fuel_per_second: 1_000_000_000,
                // Small asks so that jobs match; the amount is the bond.
                ask_per_mfuel: amount % (2 * PLX),
                bond: amount,
            },
            3 => Payload::VerifierRegister {
                bond: amount,
                // Sometimes too slow for the larger jobs (not drawn for them), sometimes
                // refused (zero speed or capacity).
                fuel_per_second: [0, 1_000, 1_000_000_000][small as usize % 3],
                capacity: (pick % 3) as u32,
            },
            4..=6 => Payload::JobPost {
                module: ContentHash::of_parts(&[b"m"]),
                blobs: Vec::new(),
                input: ContentHash::of_parts(&[b"i", &small.to_le_bytes()]),
                max_fuel: fuel.max(1),
                price_cap_per_mfuel: amount % (3 * PLX),
                audit: if pick.is_multiple_of(4) {
                    AuditClass::Full
                } else {
                    AuditClass::Standard
                },
                deadline_blocks: small.max(1),
            },
            7..=9 => {
                // Mostly an assigned job from its provider within its fuel.
                let assigned: Vec<_> = state
                    .jobs
                    .iter()
                    .filter(|(_, job)| job.status.name() == "assigned")
                    .collect();
                let (mut target, mut total_fuel) = (known_job, fuel);
                if !assigned.is_empty() && !pick.is_multiple_of(5) {
                    let (id, job) = assigned[pick % assigned.len()];
                    if let Some(i) = job.status.assignment().and_then(|a| index_of(&a.provider)) {
                        from = i;
                    }
                    target = *id;
                    total_fuel = fuel.min(job.max_fuel);
                }
                Payload::JobCommit {
                    job: target,
                    output_hash: ContentHash::of_parts(&[b"o"]),
                    total_fuel,
                    segments: (small % 4 + 1) as u32,
                    trace_root: ContentHash::of_parts(&[b"t", &small.to_le_bytes()]),
                    failed: pick.is_multiple_of(3),
                }
            }
            10 | 11 => {
                // The drawn verifier seals a verdict: mostly agreement.
                let drawn: Vec<_> = state
                    .audits
                    .iter()
                    .filter(|(_, audit)| audit.stage == AuditStage::Drawn)
                    .collect();
                let Some((id, audit)) = (!drawn.is_empty()).then(|| drawn[pick % drawn.len()])
                else {
                    continue;
                };
                let Some(commitment) = state.jobs.get(id).and_then(|j| j.status.commitment())
                else {
                    continue;
                };
                let verdict = verdict(&audit.kind, commitment, !pick.is_multiple_of(4));
                let salt = hash(&[b"salt", &pick.to_le_bytes()]);
                let seal = audit_seal(id, &audit.verifier, &verdict, &salt);
                book.seals.insert(*id, (verdict, salt));
                from = index_of(&audit.verifier).unwrap_or(from);
                Payload::AuditCommit { job: *id, seal }
            }
            12 => {
                let sealed: Vec<_> = state
                    .audits
                    .iter()
                    .filter(|(id, audit)| {
                        matches!(audit.stage, AuditStage::Sealed { .. })
                            && book.seals.contains_key(*id)
                    })
                    .collect();
                let Some((id, audit)) = (!sealed.is_empty()).then(|| sealed[pick % sealed.len()])
                else {
                    continue;
                };
                let (verdict, salt) = book.seals[id].clone();
                from = index_of(&audit.verifier).unwrap_or(from);
                Payload::AuditReveal {
                    job: *id,
                    verdict,
                    salt,
                }
            }
            13 | 14 => Payload::Participation {
                height: state.height,
                finalization: certificate(state, state.height, state.block_hash),
            },
            15 => {
                // The consumer disputes a committed job with a made-up result.
                let Some(job) = state.jobs.get(&known_job) else {
                    continue;
                };
                let Some(commitment) = job.status.commitment() else {
                    continue;
                };
                from = index_of(&job.consumer).unwrap_or(from);
                Payload::DisputeOpen {
                    job: known_job,
                    claim: Commitment {
                        output_hash: ContentHash::of_parts(&[b"the consumer's output"]),
                        ..commitment.clone()
                    },
                }
            }
            18 => {
                // The drawn verifier declines (mostly), or another account tries to.
                let drawn: Vec<_> = state
                    .audits
                    .iter()
                    .filter(|(_, audit)| audit.stage == AuditStage::Drawn)
                    .collect();
                let Some((id, audit)) = (!drawn.is_empty()).then(|| drawn[pick % drawn.len()])
                else {
                    continue;
                };
                if !pick.is_multiple_of(5) {
                    from = index_of(&audit.verifier).unwrap_or(from);
                }
                Payload::AuditDecline { job: *id }
            }
            16 => Payload::Delegate {
                validator: address(0),
                amount: amount % (50 * PLX),
            },
            // Mostly from the validator, sometimes above the maximum or from a delegator.
            19 => {
                if !pick.is_multiple_of(4) {
                    from = 0;
                }
                Payload::CommissionSet {
                    bps: (amount % 6_000) as u32,
                }
            }
            20 => Payload::RewardsWithdraw,
            _ => match pick % 3 {
                0 => Payload::Bond { amount },
                1 => Payload::Undelegate {
                    validator: address(0),
                    amount: amount % (50 * PLX),
                },
                _ => Payload::VerifierDeregister,
            },
        };
        let nonce = nonces[from as usize];
        nonces[from as usize] += 1;
        let tx = common::tx(CHAIN, from, nonce, payload);
        if matches!(tx.tx.payload, Payload::JobPost { .. }) {
            book.jobs.push(tx.hash());
        }
        txs.push(tx);
    }
    txs
}

/// What a run saw, for the caller's own checks.
#[derive(Debug, Default)]
struct Seen {
    /// Supply minted since genesis.
    minted: Amount,
    /// Audits passed and verifier pay.
    audits_passed: u64,
    verifier_pay: Amount,
    /// Declines the chain accepted.
    declines: u64,
    /// Reward withdrawals that moved something, and commission changes accepted.
    withdrawals: u64,
    commissions: u64,
}

/// Runs `blocks` from genesis, checking the economics after every block (see the module doc).
fn run_checked(blocks: Vec<Vec<TxSpec>>, rewarded: bool) -> Result<Seen, TestCaseError> {
    let params = params();
    let mut state = genesis();
    let mut replica = genesis();
    let mut book = Book::default();
    // The pool as the test reckons it: fees in, verifier pay out.
    let mut pool: Amount = 0;
    let mut paid_audits = BTreeSet::<Digest>::new();
    let mut passed = BTreeSet::<Digest>::new();
    let mut seen = Seen::default();
    for specs in blocks {
        let txs = block_txs(&state, specs, &mut book, rewarded);
        let block = build_block(
            &state,
            txs,
            state.timestamp_ms + 1,
            key(0).public_key(),
            common::dev_beacon(1).block_signature(state.height + 1),
        )
        .expect("builds")
        .block;
        let minted_before = state.supply.minted();
        let accrued_before = state.rewards().clone();
        let receipts = apply_block(&mut state, &block).expect("applies");
        // A sender's first executed withdrawal of the block moves all it had accrued (the
        // block's emission comes after its transactions); a later one has nothing left.
        let mut withdrawn: Amount = 0;
        let mut emptied = BTreeSet::<Address>::new();
        for (tx, receipt) in block.txs.iter().zip(&receipts) {
            if !matches!(tx.tx.payload, Payload::RewardsWithdraw)
                || matches!(receipt.status, Status::Rejected(_))
            {
                continue;
            }
            let sender = &tx.tx.sender;
            let had = if emptied.insert(sender.clone()) {
                accrued_before.get(sender).copied().unwrap_or(0)
            } else {
                0
            };
            let expected = if had > 0 {
                Status::Success
            } else {
                Status::Failed(plexus_types::Reason::NothingToWithdraw)
            };
            prop_assert_eq!(receipt.status, expected);
            if had > 0 {
                withdrawn += had;
                seen.withdrawals += 1;
            }
        }
        seen.commissions += block
            .txs
            .iter()
            .zip(&receipts)
            .filter(|(tx, receipt)| {
                matches!(tx.tx.payload, Payload::CommissionSet { .. })
                    && receipt.status == Status::Success
            })
            .count() as u64;
        let accrued_sum = |map: &BTreeMap<Address, Amount>| map.values().sum::<Amount>();
        seen.declines += block
            .txs
            .iter()
            .zip(&receipts)
            .filter(|(tx, receipt)| {
                matches!(tx.tx.payload, Payload::AuditDecline { .. })
                    && receipt.status == Status::Success
            })
            .count() as u64;
        let height = state.height;
        prop_assert_eq!(state.recount(), Ok(state.supply.total()));
        prop_assert_eq!(
            state.supply.total() + state.supply.burned(),
            state.supply.minted()
        );

        // Minted only at an epoch's last block, by exactly what its emission paid.
        let minted = state.supply.minted() - minted_before;
        if (height + 1).is_multiple_of(EPOCH_BLOCKS) {
            let epoch = height / EPOCH_BLOCKS;
            let record = state.emissions().get(&epoch).cloned().unwrap_or_default();
            prop_assert_eq!(minted, record.total());
            // The validators' share accrued as staking rewards, none of it in balances.
            prop_assert_eq!(
                accrued_sum(state.rewards()) + withdrawn,
                accrued_sum(&accrued_before) + record.validators
            );
            let budget = emission(&params.audit, epoch);
            prop_assert!(record.validators <= bps_floor(budget, 4_000));
            prop_assert!(record.providers <= bps_floor(budget, 4_000));
            prop_assert!(record.total() <= budget);
            prop_assert!(state.epoch_audited_fuel().is_empty());
            prop_assert!(state.epoch_verifier_audits().is_empty());
        } else {
            prop_assert_eq!(minted, 0);
            prop_assert_eq!(
                accrued_sum(state.rewards()) + withdrawn,
                accrued_sum(&accrued_before)
            );
        }
        prop_assert!(state.emissions().len() <= plexus_state::PARTICIPATION_EPOCHS_KEPT as usize);

        // Each settlement this block splits its payment as the parameters say; its fee enters
        // the pool.
        for job in state.jobs.values() {
            if let JobStatus::Settled {
                paid,
                burned,
                audit_fee,
                refunded,
                height: settled,
                ..
            } = job.status
                && settled == height
            {
                prop_assert_eq!(paid + refunded, job.escrow);
                prop_assert_eq!(burned, bps_floor(paid, params.audit.payment_burn_bps));
                prop_assert_eq!(audit_fee, bps_floor(paid, params.audit.audit_fee_bps));
                prop_assert!(burned + audit_fee <= paid);
                pool += audit_fee;
            }
        }
        // Each verifier paid this block is paid at most its re-execution's value, out of the pool.
        for (id, audit) in &state.audits {
            if audit.stage == AuditStage::Passed && passed.insert(*id) {
                seen.audits_passed += 1;
            }
            if audit.paid > 0 && paid_audits.insert(*id) {
                let job = &state.jobs[id];
                let (assignment, commitment) = (
                    job.status.assignment().expect("assigned"),
                    job.status.commitment().expect("committed"),
                );
                let value = fuel_cost_floor(commitment.total_fuel, assignment.ask_per_mfuel);
                prop_assert!(Some(audit.paid) <= value);
                pool = pool
                    .checked_sub(audit.paid)
                    .expect("the pool is never overdrawn");
                seen.verifier_pay += audit.paid;
            }
        }
        prop_assert_eq!(state.audit_pool(), pool);

        apply_block(&mut replica, &block).expect("the replica applies");
        prop_assert_eq!(replica.root(), state.root());
    }
    prop_assert_eq!(&replica, &state);
    let decoded = State::decode(state.encode()).expect("a snapshot decodes");
    prop_assert_eq!(&decoded, &state);
    seen.minted = state.supply.minted() - genesis().supply.minted();
    Ok(seen)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        rng_seed: RngSeed::Fixed(0x5eed_2e3a),
        ..ProptestConfig::default()
    })]

    #[test]
    fn rewards_conserve_the_supply_and_mint_only_what_they_pay(
        blocks in prop::collection::vec(prop::collection::vec(arb_tx(), 0..12), 1..24)
    ) {
        run_checked(blocks, true)?;
    }

    #[test]
    fn a_chain_without_participation_or_audits_mints_nothing(
        blocks in prop::collection::vec(prop::collection::vec(arb_tx(), 0..12), 4..24)
    ) {
        let seen = run_checked(blocks, false)?;
        prop_assert_eq!(seen.minted, 0);
        prop_assert_eq!((seen.audits_passed, seen.verifier_pay), (0, 0));
    }
}

/// The generator reaches what the properties are about: over a fixed set of runs, audits pass,
/// verifiers are paid from the pool and epochs mint (guards against vacuous properties).
#[test]
fn the_random_chains_pass_audits_pay_verifiers_and_mint() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        rng_seed: RngSeed::Fixed(7),
        ..Config::default()
    });
    let strategy = prop::collection::vec(prop::collection::vec(arb_tx(), 4..12), 16..24);
    let mut total = Seen::default();
    for _ in 0..16 {
        let blocks = strategy.new_tree(&mut runner).expect("a case").current();
        let seen = run_checked(blocks, true).expect("the properties hold");
        total.minted += seen.minted;
        total.audits_passed += seen.audits_passed;
        total.verifier_pay += seen.verifier_pay;
        total.declines += seen.declines;
        total.withdrawals += seen.withdrawals;
        total.commissions += seen.commissions;
    }
    eprintln!("over 16 seeded runs: {total:?}");
    assert!(total.minted > 0 && total.audits_passed > 0 && total.verifier_pay > 0);
    assert!(total.declines > 0, "no decline was accepted");
    assert!(total.withdrawals > 0, "no reward withdrawal moved anything");
    assert!(total.commissions > 0, "no commission change was accepted");
}

// ---------------------------------------------------------------------------------------------
// One epoch with exact figures.

const PROVIDER: u64 = 1;
const CONSUMER: u64 = 2;
const VERIFIER: u64 = 3;
const ASK: Amount = PLX + 7;
const CAP: Amount = 2 * PLX;
const SCENARIO_EPOCH_BLOCKS: u64 = 20;
const EMISSION: Amount = 1_000 * PLX + 1;

struct Scenario {
    state: State,
    nonces: [u64; 10],
}

impl Scenario {
    fn new() -> Self {
        let params = Params {
            epoch_length_blocks: SCENARIO_EPOCH_BLOCKS,
            heartbeat_interval_blocks: 100,
            settlement_window_blocks: 2,
            job_deadline_min_blocks: 2,
            audit: AuditParams {
                light_audit_ppm: 0,
                full_audit_ppm: 0,
                // No canaries: one that lapses would cost the verifier bond this scenario counts.
                canary_ppm: 0,
                response_blocks: 3,
                emission_per_epoch: EMISSION,
                ..AuditParams::default()
            },
            ..Params::default()
        };
        Scenario {
            state: common::genesis(CHAIN, params, 1),
            nonces: [0; 10],
        }
    }

    fn ok(&mut self, from: u64, payload: Payload) -> Digest {
        let nonce = self.nonces[from as usize];
        self.nonces[from as usize] += 1;
        let tx = common::tx(CHAIN, from, nonce, payload);
        let id = tx.hash();
        assert_eq!(
            common::run(&mut self.state, vec![tx]),
            vec![Status::Success]
        );
        self.check();
        id
    }

    fn until(&mut self, height: u64) {
        while self.state.height < height {
            common::run(&mut self.state, Vec::new());
            self.check();
        }
    }

    fn check(&self) {
        assert_eq!(self.state.recount(), Ok(self.state.supply.total()));
        assert_eq!(
            self.state.supply.total() + self.state.supply.burned(),
            self.state.supply.minted()
        );
    }

    fn balance(&self, i: u64) -> Amount {
        self.state.account(&address(i)).balance
    }

    /// Posts a job of `fuel` and commits it from the provider; returns its id.
    fn job(&mut self, fuel: u64, audit: AuditClass) -> (Digest, Commitment) {
        let id = self.ok(
            CONSUMER,
            Payload::JobPost {
                module: ContentHash::of_parts(&[b"m"]),
                blobs: Vec::new(),
                input: ContentHash::of_parts(&[b"i", &fuel.to_le_bytes()]),
                max_fuel: fuel,
                price_cap_per_mfuel: CAP,
                audit,
                deadline_blocks: 10,
            },
        );
        let commitment = Commitment {
            output_hash: ContentHash::of_parts(&[b"o"]),
            total_fuel: fuel,
            segments: 1,
            trace_root: ContentHash::of_parts(&[b"t"]),
            failed: false,
        };
        self.ok(
            PROVIDER,
            Payload::JobCommit {
                job: id,
                output_hash: commitment.output_hash,
                total_fuel: commitment.total_fuel,
                segments: commitment.segments,
                trace_root: commitment.trace_root,
                failed: commitment.failed,
            },
        );
        (id, commitment)
    }
}

#[test]
fn one_epoch_burns_pays_the_verifier_from_the_pool_and_mints_each_share() {
    let mut chain = Scenario::new();
    chain.ok(
        PROVIDER,
        Payload::ProviderRegister {
            endpoint: "http://provider.test".into(),
            profile: ResourceProfile::default(),
            fuel_per_second: 1_000_000_000,
            ask_per_mfuel: ASK,
            bond: 1_000 * PLX,
        },
    );
    chain.ok(
        VERIFIER,
        Payload::VerifierRegister {
            bond: 100 * PLX,
            fuel_per_second: 1_000_000_000,
            capacity: 1,
        },
    );
    // Validator 0 signed the finalizations of blocks 1 and 2.
    for height in [1, 2] {
        let hash = chain.state.recent_blocks[&height].0;
        let finalization = certificate(&chain.state, height, hash);
        chain.ok(
            4,
            Payload::Participation {
                height,
                finalization,
            },
        );
    }

    // An unaudited job (no random audits) settles and fills the pool: of the payment
    // floor(3_000_000 * (10^9 + 7) / 10^6) = 3_000_000_021, 10% is burned and 2% pooled.
    let (first, _) = chain.job(3_000_000, AuditClass::Standard);
    let provider_before = chain.balance(PROVIDER);
    let burned_before = chain.state.supply.burned();
    chain.until(chain.state.height + 2);
    let JobStatus::Settled {
        paid,
        burned,
        audit_fee,
        ..
    } = chain.state.jobs[&first].status.clone()
    else {
        panic!("not settled: {:?}", chain.state.jobs[&first].status);
    };
    assert_eq!(
        (paid, burned, audit_fee),
        (3_000_000_021, 300_000_002, 60_000_000)
    );
    assert_eq!(chain.balance(PROVIDER), provider_before + 2_640_000_019);
    assert_eq!(chain.state.supply.burned(), burned_before + burned);
    assert_eq!(chain.state.audit_pool(), 60_000_000);

    // A bought full audit of 1 000 000 fuel: its value at the ask (1_000_000_007) is more than
    // the pool, so the verifier is paid the whole pool when the audit passes.
    let (second, commitment) = chain.job(1_000_000, AuditClass::Full);
    chain.until(chain.state.height + 2);
    let audit = chain.state.audits[&second].clone();
    assert_eq!(
        (audit.kind.clone(), audit.verifier.clone()),
        (AuditKind::Full, address(VERIFIER))
    );
    let verdict = Verdict::Full(commitment);
    let salt = hash(&[b"salt"]);
    let seal = audit_seal(&second, &address(VERIFIER), &verdict, &salt);
    chain.ok(VERIFIER, Payload::AuditCommit { job: second, seal });
    let verifier_before = chain.balance(VERIFIER);
    chain.ok(
        VERIFIER,
        Payload::AuditReveal {
            job: second,
            verdict,
            salt,
        },
    );
    let audit = &chain.state.audits[&second];
    assert_eq!(
        (audit.stage.clone(), audit.paid),
        (AuditStage::Passed, 60_000_000)
    );
    assert_eq!(chain.state.verifiers[&address(VERIFIER)].earned, 60_000_000);
    // The reveal's fee was 1_000; the second job settled in the same block and refilled the
    // pool with 2% of floor(1_000_000 * (10^9 + 7) / 10^6) = 1_000_000_007.
    assert_eq!(
        chain.balance(VERIFIER),
        verifier_before - 1_000 + 60_000_000
    );
    assert_eq!(chain.state.jobs[&second].status.name(), "settled");
    assert_eq!(chain.state.audit_pool(), 20_000_000);
    assert_eq!(
        *chain.state.epoch_audited_fuel(),
        BTreeMap::from([(address(PROVIDER), 1_000_000)])
    );
    assert_eq!(
        *chain.state.epoch_verifier_audits(),
        BTreeMap::from([(address(VERIFIER), 1)])
    );

    // The epoch's last block pays E(0) = 1_000 PLX + 1: 40% to validator 0 (the only signer),
    // 40% to the provider (the only audited fuel), the rest to the verifier; the shares have one
    // recipient each, so there is no dust and all of E(0) is minted.
    let last = SCENARIO_EPOCH_BLOCKS - 1;
    chain.until(last - 1);
    let (validator, provider, verifier) = (
        chain.balance(0),
        chain.balance(PROVIDER),
        chain.balance(VERIFIER),
    );
    let minted = chain.state.supply.minted();
    chain.until(last);
    let expected = Emission {
        validators: 400 * PLX,
        providers: 400 * PLX,
        verifiers: 200 * PLX + 1,
        storage: 0,
    };
    assert_eq!(expected.total(), EMISSION);
    assert_eq!(chain.state.emissions()[&0], expected);
    assert_eq!(chain.state.supply.minted(), minted + EMISSION);
    // The validators' share accrues to validator 0 (no delegators: commission and stake share
    // alike are its own) as claimable rewards, not into its balance; a withdrawal claims it.
    assert_eq!(chain.balance(0), validator);
    assert_eq!(
        chain.state.accrued_rewards(&address(0)),
        expected.validators
    );
    chain.ok(0, Payload::RewardsWithdraw);
    assert_eq!(chain.balance(0), validator - 1_000 + expected.validators);
    assert_eq!(chain.state.accrued_rewards(&address(0)), 0);
    assert_eq!(chain.balance(PROVIDER), provider + expected.providers);
    assert_eq!(chain.balance(VERIFIER), verifier + expected.verifiers);
    assert!(chain.state.epoch_audited_fuel().is_empty());
    assert!(chain.state.epoch_verifier_audits().is_empty());

    // The next epoch has no work: its last block mints nothing.
    chain.until(2 * SCENARIO_EPOCH_BLOCKS - 1);
    assert_eq!(chain.state.emissions()[&1], Emission::default());
    assert_eq!(chain.state.supply.minted(), minted + EMISSION);
}
