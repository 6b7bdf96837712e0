//! FuelTrace on chain through whole blocks: the verifier registry, beacon-drawn audits with
//! sealed verdicts, dissection disputes played move by move (`DisputeMove`), their end by a
//! re-run segment (`DisputeSettle`) or by a lapsed move, light audits, every rejection reason,
//! and determinism (the same blocks replayed, snapshots). Balances are asserted exactly, and
//! after every block the supply is recounted and the state survives a snapshot round trip.
//!
//! The re-execution is a test double at the [`Replayer`] trait boundary: [`Synthetic`] models
//! the honest execution of a synthetic job (leaf `i` = fuel `SEG_FUEL * i`, state root
//! `ContentHash::of(seed | i)`, a known output hash at the last leaf) and [`TestReplayer`] answers
//! a settlement with the honest leaf after the agreed one. The real replayer (wasmtime over
//! content fetched by hash) lives in the node (`crates/node`); it is not exercised here.

use commonware_codec::{DecodeExt, Encode};
use commonware_cryptography::Signer;
use plexus_fueltrace::challenger::first_disagreement;
use plexus_fueltrace::defender::DefenderTrace;
use plexus_fueltrace::dissection::{Choose, Move, Phase, Reveal, Role, rounds_max};
use plexus_fueltrace::params::{AuditParams, BPS, PPM};
use plexus_state::beacon::DevBeacon;
use plexus_state::dispute::{
    AUDIT_DRAW_DELAY_BLOCKS, Audit, AuditKind, AuditStage, DisputeEnd, ReplayEnd, ReplayError,
    ReplayRequest, Replayed, Replayer, Ruling, Verifier, canary_id, light_segments,
};
use plexus_state::{
    ApplyError, Built, Genesis, GenesisValidator, JobStatus, Params, REPUTATION_START, State,
    apply_block_with, build_block_with,
};
use plexus_types::ContentHash;
use plexus_types::audit::{Verdict, audit_seal};
use plexus_types::job::{AuditClass, Commitment, ResourceProfile, fuel_cost_ceil, fuel_cost_floor};
use plexus_types::{
    Address, Amount, Block, Digest, PLX, Payload, PrivateKey, Reason, SignedTransaction, Status,
    Transaction, hash,
};
use std::collections::BTreeMap;

const CHAIN: u64 = 78;
const FEE: Amount = 1_000;
const START: Amount = 100_000 * PLX;
/// Keys `0..KEYS` hold `START` at genesis; key 0 is the only validator.
const KEYS: usize = 10;

const PROVIDER: u64 = 1;
const CONSUMER: u64 = 2;
const VERIFIER: u64 = 3;
const OTHER: u64 = 4;
const OUTSIDER: u64 = 5;

/// Generous: a slash of `SLASH_MULTIPLE * R` (about 13 PLX) is never capped by the bond.
const PROVIDER_BOND: Amount = 1_000 * PLX;
const VERIFIER_BOND: Amount = 200 * PLX;
const VERIFIER_BOND_MIN: Amount = 100 * PLX;
/// The provider's ask; odd so the escrow, value and payment round.
const ASK: Amount = PLX + 7;
const CAP: Amount = 2 * PLX;
const MAX_FUEL: u64 = 1_000_003;
const SEG_FUEL: u64 = 1_000;
/// Segments of every synthetic job: 21 leaves, three rounds at arity 4.
const SEGMENTS: u64 = 20;
const ARITY: u32 = 4;
const LIGHT_SEGMENTS: u32 = 4;
const RESPONSE_BLOCKS: u64 = 3;
/// Equal to the draw delay: a job's settlement height is its audit's draw height.
const SETTLEMENT_WINDOW_BLOCKS: u64 = 2;
/// Long enough that no finished job is pruned inside a scenario unless it waits for it.
const RETENTION_BLOCKS: u64 = 20;
const UNBONDING_BLOCKS: u64 = 3;
const DEADLINE_BLOCKS: u64 = 50;
const SLASH_MULTIPLE: u32 = 13;
const WINNER_SHARE_BPS: u32 = 5_000;
/// A guard on the move loop: no game at these parameters takes more moves.
const MOVES_MAX: u32 = 16;
/// The speed test verifiers declare: fast enough that any audit of a synthetic job is granted
/// one block for its re-run (`rerun_blocks`), beside the response time.
const VERIFIER_SPEED: u64 = 1_000_000_000;
/// Room for every audit a scenario draws at once, unless it tests the capacity.
const VERIFIER_CAPACITY: u32 = plexus_types::audit::VERIFIER_CAPACITY_MAX;

fn key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(i)
}

fn address(i: u64) -> Address {
    Address(key(i).public_key())
}

fn params(light_audit_ppm: u32) -> Params {
    Params {
        provider_bond_min: 100 * PLX,
        provider_unbonding_blocks: UNBONDING_BLOCKS,
        heartbeat_interval_blocks: 100,
        heartbeat_missed_max: 10,
        settlement_window_blocks: SETTLEMENT_WINDOW_BLOCKS,
        job_deadline_max_blocks: 100,
        job_deadline_min_blocks: 2,
        job_retention_blocks: RETENTION_BLOCKS,
        bond_lock_multiple: 2,
        audit: AuditParams {
            seg_fuel: SEG_FUEL,
            light_audit_ppm,
            full_audit_ppm: 0,
            light_audit_segments: LIGHT_SEGMENTS,
            dissection_arity: ARITY,
            response_blocks: RESPONSE_BLOCKS,
            slash_multiple: SLASH_MULTIPLE,
            winner_share_bps: WINNER_SHARE_BPS,
            verifier_bond_min: VERIFIER_BOND_MIN,
            // Canaries have their own scenario; elsewhere they would only add noise.
            canary_ppm: 0,
            ..AuditParams::default()
        },
        ..Params::default()
    }
}

/// `R`: the job's value at the provider's ask, what slashes and deposits are counted in.
fn value() -> Amount {
    fuel_cost_ceil(MAX_FUEL, ASK).expect("fits")
}

fn escrow() -> Amount {
    fuel_cost_ceil(MAX_FUEL, CAP).expect("fits")
}

/// What an honest commitment is paid at settlement.
fn paid() -> Amount {
    fuel_cost_floor(SEG_FUEL * SEGMENTS, ASK).expect("fits")
}

/// Of a payment, the burned share (`payment_burn_bps`, rounded down).
fn burned(paid: Amount) -> Amount {
    paid * Amount::from(AuditParams::default().payment_burn_bps) / Amount::from(BPS)
}

/// Of a payment, the audit fee into the pool (`audit_fee_bps`, rounded down).
fn audit_fee(paid: Amount) -> Amount {
    paid * Amount::from(AuditParams::default().audit_fee_bps) / Amount::from(BPS)
}

/// Of a payment, what reaches the provider's balance.
fn earned(paid: Amount) -> Amount {
    paid - burned(paid) - audit_fee(paid)
}

/// The winner's share of a slash (rounded down; the rest is burned).
fn share(slashed: Amount) -> Amount {
    slashed * Amount::from(WINNER_SHARE_BPS) / Amount::from(BPS)
}

/// How a provider's commitment departs from the honest execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// The honest commitment.
    Honest,
    /// Leaves `j..` carry made-up state roots (and the output is made up too).
    From(u64),
    /// The honest trace with a made-up output hash: only the final-leaf check catches it.
    Output,
}

/// One synthetic job and its honest execution.
#[derive(Clone, Copy, Debug)]
struct Synthetic {
    seed: u64,
    segments: u64,
}

impl Synthetic {
    fn new(seed: u64) -> Self {
        Synthetic {
            seed,
            segments: SEGMENTS,
        }
    }

    /// The module hash: also how the replayer finds the job.
    fn module(&self) -> ContentHash {
        ContentHash::of_parts(&[b"module", &self.seed.to_le_bytes()])
    }

    fn root(&self, index: u64) -> ContentHash {
        ContentHash::of(&[self.seed.to_le_bytes(), index.to_le_bytes()].concat())
    }

    fn output(&self) -> ContentHash {
        ContentHash::of(&[b"output".as_slice(), &self.seed.to_le_bytes()].concat())
    }

    fn checkpoints(&self, fault: Fault) -> Vec<(u64, ContentHash)> {
        (0..=self.segments)
            .map(|index| {
                let root = match fault {
                    Fault::From(first) if index >= first => ContentHash::of(
                        &[
                            b"cheat".as_slice(),
                            &self.seed.to_le_bytes(),
                            &index.to_le_bytes(),
                        ]
                        .concat(),
                    ),
                    _ => self.root(index),
                };
                (SEG_FUEL * index, root)
            })
            .collect()
    }

    fn trace(&self, fault: Fault) -> DefenderTrace {
        DefenderTrace::new(&self.checkpoints(fault)).expect("a trace of SEGMENTS + 1 leaves")
    }

    fn commitment(&self, fault: Fault) -> Commitment {
        let output = match fault {
            Fault::Honest => self.output(),
            Fault::From(_) | Fault::Output => ContentHash::of(b"made-up output"),
        };
        Commitment {
            output_hash: output,
            total_fuel: SEG_FUEL * self.segments,
            segments: u32::try_from(self.segments).expect("few segments"),
            trace_root: self.trace(fault).root(),
            failed: false,
        }
    }

    /// Whether a revealed leaf hash is the honest one: an honest challenger's view.
    fn agrees(&self, index: u64, leaf: &ContentHash) -> bool {
        plexus_types::trace::leaf(index, SEG_FUEL * index, &self.root(index)) == *leaf
    }

    fn post(&self, audit: AuditClass) -> Payload {
        Payload::JobPost {
            module: self.module(),
            blobs: Vec::new(),
            input: ContentHash::of_parts(&[b"input", &self.seed.to_le_bytes()]),
            max_fuel: MAX_FUEL,
            price_cap_per_mfuel: CAP,
            audit,
            deadline_blocks: DEADLINE_BLOCKS,
        }
    }

    fn commit(&self, job: Digest, fault: Fault) -> Payload {
        let c = self.commitment(fault);
        Payload::JobCommit {
            job,
            output_hash: c.output_hash,
            total_fuel: c.total_fuel,
            segments: c.segments,
            trace_root: c.trace_root,
            failed: c.failed,
        }
    }
}

/// A `VerifierRegister` payload.
fn verifier_register(bond: Amount, fuel_per_second: u64, capacity: u32) -> Payload {
    Payload::VerifierRegister {
        bond,
        fuel_per_second,
        capacity,
    }
}

/// The manifest digest a settlement names; the test double accepts any other than
/// [`bad_manifest`].
fn good_manifest() -> ContentHash {
    ContentHash::of(b"manifest")
}

/// A manifest that does not describe the agreed pre-state: `ReplayError::Invalid` when the
/// pre-state is past leaf 0 (leaf 0 needs no manifest).
fn bad_manifest() -> ContentHash {
    ContentHash::of(b"bad manifest")
}

/// The honest executor of the synthetic jobs, at the trait boundary (see the module doc).
#[derive(Clone, Debug, Default)]
struct TestReplayer {
    /// Synthetic jobs by module hash.
    jobs: BTreeMap<ContentHash, Synthetic>,
    /// Withholds all content: every replay is `Unavailable`.
    unavailable: bool,
}

impl Replayer for TestReplayer {
    fn replay(&self, request: &ReplayRequest) -> Result<Replayed, ReplayError> {
        if self.unavailable {
            return Err(ReplayError::Unavailable("withheld by the test".into()));
        }
        let job = self
            .jobs
            .get(&request.module)
            .ok_or_else(|| ReplayError::Invalid("unknown module".into()))?;
        if request.pre.index > 0 && request.manifest == bad_manifest() {
            return Err(ReplayError::Invalid(
                "manifest does not match the leaf".into(),
            ));
        }
        if request.seg_fuel != SEG_FUEL || request.pre.index >= job.segments {
            return Err(ReplayError::Invalid("no such segment".into()));
        }
        let index = request.pre.index + 1;
        let end = if index == job.segments {
            ReplayEnd::Finished {
                output_hash: job.output(),
            }
        } else {
            ReplayEnd::Checkpoint
        };
        Ok(Replayed {
            fuel: SEG_FUEL * index,
            state_root: job.root(index),
            end,
        })
    }
}

/// A test chain with validator 0; keys `0..KEYS` hold `START` at genesis.
#[derive(Clone)]
struct Chain {
    genesis: State,
    state: State,
    beacon: DevBeacon,
    blocks: Vec<Block>,
    nonces: [u64; KEYS],
    /// Fees charged per key (every receipt that is not `Rejected`).
    fees: [Amount; KEYS],
    /// The burned shares of the payments of every job settled so far.
    payment_burns: Amount,
    replayer: TestReplayer,
}

impl Chain {
    fn new(light_audit_ppm: u32) -> Self {
        Chain::with_params(params(light_audit_ppm))
    }

    fn with_params(params: Params) -> Self {
        let beacon = DevBeacon::deal(0, [key(0).public_key()]);
        let genesis = Genesis {
            chain_id: CHAIN,
            timestamp_ms: 0,
            params,
            allocations: (0..KEYS as u64).map(|i| (address(i), START)).collect(),
            validators: vec![GenesisValidator {
                address: address(0),
                self_bond: 10_000 * PLX,
            }],
            beacon: beacon.output.clone(),
        }
        .build()
        .expect("genesis builds")
        .0;
        Chain {
            state: genesis.clone(),
            genesis,
            beacon,
            blocks: Vec::new(),
            nonces: [0; KEYS],
            fees: [0; KEYS],
            payment_burns: 0,
            replayer: TestReplayer::default(),
        }
    }

    fn tx(&mut self, from: u64, payload: Payload) -> SignedTransaction {
        let index = from as usize;
        let nonce = self.nonces[index];
        self.nonces[index] += 1;
        Transaction {
            chain_id: CHAIN,
            sender: address(from),
            nonce,
            fee: FEE,
            payload,
        }
        .sign(&key(from))
    }

    /// The seed block `height` will carry.
    fn seed_at(&self, height: u64) -> Digest {
        plexus_types::beacon::seed(height, self.beacon.block_signature(height).as_ref())
    }

    /// Builds the next block with the chain's replayer, without accepting it.
    fn build(&self, txs: Vec<SignedTransaction>) -> Result<Built, ApplyError> {
        let height = self.state.height + 1;
        build_block_with(
            &self.state,
            txs,
            self.state.timestamp_ms + 1,
            key(0).public_key(),
            self.beacon.block_signature(height),
            &self.replayer,
        )
    }

    /// Accepts a built block: applies it again to a copy (the validators' path) and checks that
    /// both agree, then the supply, the market index and a snapshot round trip.
    fn accept(&mut self, built: Built) -> Vec<Status> {
        let mut applied = self.state.clone();
        let receipts =
            apply_block_with(&mut applied, &built.block, &self.replayer).expect("block applies");
        assert_eq!(receipts, built.receipts);
        assert_eq!(applied, built.state);
        assert_eq!(applied.root(), built.block.header.state_root);
        for (tx, receipt) in built.block.txs.iter().zip(&receipts) {
            let sender = (0..KEYS as u64)
                .find(|i| address(*i) == tx.tx.sender)
                .expect("a test key");
            self.fees[sender as usize] += receipt.fee_burned;
        }
        self.state = built.state;
        self.blocks.push(built.block);
        for job in self.state.jobs.values() {
            if let JobStatus::Settled { burned, height, .. } = job.status
                && height == self.state.height
            {
                self.payment_burns += burned;
            }
        }
        assert_eq!(self.state.recount(), Ok(self.state.supply.total()));
        assert_eq!(
            self.state.supply.minted() - self.state.supply.burned(),
            self.state.supply.total()
        );
        let decoded = State::decode(self.state.encode()).expect("a snapshot decodes");
        assert_eq!(decoded, self.state, "snapshot round trip");
        receipts.into_iter().map(|r| r.status).collect()
    }

    fn block(&mut self, txs: Vec<SignedTransaction>) -> Vec<Status> {
        let built = self.build(txs).expect("block builds");
        self.accept(built)
    }

    /// One transaction in its own block.
    fn one(&mut self, from: u64, payload: Payload) -> Status {
        let tx = self.tx(from, payload);
        let status = self.block(vec![tx])[0];
        if matches!(status, Status::Rejected(_)) {
            self.nonces[from as usize] -= 1;
        }
        status
    }

    fn ok(&mut self, from: u64, payload: Payload) {
        let name = payload.kind();
        assert_eq!(
            self.one(from, payload),
            Status::Success,
            "{name} from {from}"
        );
    }

    /// One transaction that fails with `reason` and changes nothing but the sender's fee and
    /// nonce (and the block's own bookkeeping). The block must have no end-of-block work due.
    fn fails(&mut self, from: u64, payload: Payload, reason: Reason) {
        let before = self.state.clone();
        let name = payload.kind();
        assert_eq!(
            self.one(from, payload),
            Status::Failed(reason),
            "{name} from {from}"
        );
        let after = &self.state;
        let mut expected = before;
        expected.height = after.height;
        expected.block_hash = after.block_hash;
        expected.timestamp_ms = after.timestamp_ms;
        expected.beacon = after.beacon;
        expected.recent_blocks = after.recent_blocks.clone();
        let account = expected
            .accounts
            .get_mut(&address(from))
            .expect("the sender has an account");
        account.balance -= FEE;
        account.nonce += 1;
        // The fee's burn is the supply's only change (its fields are written by the burn alone).
        let burned_fee = after.supply.total() == expected.supply.total() - FEE
            && after.supply.burned() == expected.supply.burned() + FEE
            && after.supply.minted() == expected.supply.minted();
        if burned_fee {
            expected.supply = after.supply.clone();
        }
        let changed: Vec<&str> = [
            ("accounts", after.accounts == expected.accounts),
            ("supply", burned_fee),
            ("providers", after.providers == expected.providers),
            ("jobs", after.jobs == expected.jobs),
            (
                "market_index",
                after.market_index() == expected.market_index(),
            ),
            ("verifiers", after.verifiers == expected.verifiers),
            ("audits", after.audits == expected.audits),
            ("disputes", after.disputes == expected.disputes),
        ]
        .into_iter()
        .filter_map(|(field, same)| (!same).then_some(field))
        .collect();
        assert!(
            *after == expected,
            "{name} failing with {reason:?} changed more than the fee and the nonce: {changed:?}"
        );
    }

    fn empty(&mut self, blocks: u64) {
        for _ in 0..blocks {
            self.block(Vec::new());
        }
    }

    /// Empty blocks until the chain is at `height`.
    fn until(&mut self, height: u64) {
        assert!(self.state.height <= height);
        self.empty(height - self.state.height);
    }

    fn balance(&self, i: u64) -> Amount {
        self.state.account(&address(i)).balance
    }

    /// Slashes burned so far: everything burned since genesis but the fees and the burned
    /// shares of payments.
    fn slash_burned(&self) -> Amount {
        self.state.supply.burned()
            - self.genesis.supply.burned()
            - self.fees.iter().sum::<Amount>()
            - self.payment_burns
    }

    fn status(&self, id: &Digest) -> &JobStatus {
        &self.state.jobs[id].status
    }

    fn verifier(&self, i: u64) -> &Verifier {
        &self.state.verifiers[&address(i)]
    }

    fn register_provider(&mut self) {
        self.ok(
            PROVIDER,
            Payload::ProviderRegister {
                endpoint: "http://provider.test:7000".into(),
                profile: ResourceProfile {
                    cores: 64,
                    memory_mb: 16_384,
                    gpus: 0,
                    gpu_model: String::new(),
                    storage_gb: 100,
                },
                fuel_per_second: 50_000_000,
                ask_per_mfuel: ASK,
                bond: PROVIDER_BOND,
            },
        );
    }

    fn register_verifier(&mut self, i: u64, bond: Amount) {
        self.ok(
            i,
            verifier_register(bond, VERIFIER_SPEED, VERIFIER_CAPACITY),
        );
    }

    /// The consumer posts a synthetic job (matched to the provider in the same block).
    fn post(&mut self, seed: u64, audit: AuditClass) -> (Digest, Synthetic) {
        let job = Synthetic::new(seed);
        self.replayer.jobs.insert(job.module(), job);
        let tx = self.tx(CONSUMER, job.post(audit));
        let id = tx.hash();
        assert_eq!(self.block(vec![tx]), vec![Status::Success]);
        let provider = self.status(&id).assignment().map(|a| a.provider.clone());
        assert_eq!(provider, Some(address(PROVIDER)));
        (id, job)
    }

    /// The provider commits; returns the commitment's height.
    fn commit(&mut self, id: Digest, job: &Synthetic, fault: Fault) -> u64 {
        self.ok(PROVIDER, job.commit(id, fault));
        self.state.height
    }

    /// Verifier `i` seals `verdict` (one block), then reveals it (the next); the reveal's status.
    fn seal_and_reveal(&mut self, i: u64, id: Digest, verdict: Verdict) -> Status {
        let salt = hash(&[b"salt", id.as_ref()]);
        let seal = audit_seal(&id, &address(i), &verdict, &salt);
        self.ok(i, Payload::AuditCommit { job: id, seal });
        self.one(
            i,
            Payload::AuditReveal {
                job: id,
                verdict,
                salt,
            },
        )
    }

    /// A bought full audit: post, commit with `fault`, let the draw pick `VERIFIER`, and have it
    /// reveal the commitment `claim` describes. Returns the job and the commitment height.
    fn audited(&mut self, seed: u64, fault: Fault, claim: Fault) -> (Digest, Synthetic, u64) {
        let (id, job) = self.post(seed, AuditClass::Full);
        let committed = self.commit(id, &job, fault);
        self.empty(AUDIT_DRAW_DELAY_BLOCKS);
        assert_eq!(self.state.audits[&id].verifier, address(VERIFIER));
        let verdict = Verdict::Full(job.commitment(claim));
        assert_eq!(self.seal_and_reveal(VERIFIER, id, verdict), Status::Success);
        (id, job, committed)
    }

    /// Plays the dispute over `id` to its resolution, one move a block: the provider answers
    /// from `defender`, the challenger chooses the first revealed leaf `agrees` rejects.
    /// Returns the rounds played.
    fn play(
        &mut self,
        id: Digest,
        defender: &DefenderTrace,
        challenger: u64,
        agrees: &dyn Fn(u64, &ContentHash) -> bool,
    ) -> u32 {
        for _ in 0..MOVES_MAX {
            let game = self.state.disputes[&id].game.clone();
            let (from, step) = match game.to_move() {
                None => return game.round(),
                Some(Role::Defender) => {
                    let step = defender.respond(&game).expect("its own game");
                    (PROVIDER, step.expect("the defender's turn"))
                }
                Some(Role::Challenger) => {
                    let points = game.revealed_points();
                    let choice = first_disagreement(&points, |i, leaf| agrees(i, leaf));
                    (challenger, Move::Choose(choice))
                }
            };
            self.ok(from, Payload::DisputeMove { job: id, step });
        }
        panic!("the game over {id} did not resolve in {MOVES_MAX} moves");
    }

    fn settle(&mut self, from: u64, id: Digest) -> Status {
        self.one(
            from,
            Payload::DisputeSettle {
                job: id,
                manifest: good_manifest(),
            },
        )
    }
}

/// The job and provider records after the provider of `id` lost its dispute at `height`: the
/// whole escrow refunded, `SLASH_MULTIPLE * R` taken from a bond that covers it, the lock
/// released, reputation zeroed.
fn assert_refuted(chain: &Chain, id: &Digest, height: u64) {
    let JobStatus::Refuted {
        refunded,
        slashed,
        height: at,
        ..
    } = chain.status(id).clone()
    else {
        panic!("not refuted: {:?}", chain.status(id));
    };
    let slash = value() * Amount::from(SLASH_MULTIPLE);
    assert_eq!((refunded, slashed, at), (escrow(), slash, height));
    let p = &chain.state.providers[&address(PROVIDER)];
    assert_eq!(p.bond, PROVIDER_BOND - slash);
    assert_eq!((p.bond_locked, p.jobs_in_flight, p.slashed), (0, 0, slash));
    assert_eq!((p.disputes_lost, p.reputation, p.jobs_done), (1, 0, 0));
}

/// Scenario 1: bonds, top-ups, busy, deregistration and release.
#[test]
fn the_verifier_registry_bonds_refuses_a_busy_exit_and_releases() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    let register = |bond| verifier_register(bond, VERIFIER_SPEED, VERIFIER_CAPACITY);
    chain.fails(VERIFIER, register(0), Reason::ZeroAmount);
    chain.fails(
        VERIFIER,
        register(VERIFIER_BOND_MIN - 1),
        Reason::BondTooSmall,
    );
    chain.fails(VERIFIER, register(START), Reason::InsufficientBalance);
    chain.fails(
        VERIFIER,
        Payload::VerifierDeregister,
        Reason::UnknownVerifier,
    );
    chain.register_verifier(VERIFIER, VERIFIER_BOND_MIN);
    let registered = chain.state.height;
    assert_eq!(
        chain.verifier(VERIFIER),
        &Verifier {
            bond: VERIFIER_BOND_MIN,
            fuel_per_second: VERIFIER_SPEED,
            capacity: VERIFIER_CAPACITY,
            registered_height: registered,
            ..Verifier::default()
        }
    );
    // A top-up counts with the bond already there, so it may be below the minimum.
    chain.register_verifier(VERIFIER, PLX);
    let bond = VERIFIER_BOND_MIN + PLX;
    assert_eq!(chain.verifier(VERIFIER).bond, bond);
    assert_eq!(chain.verifier(VERIFIER).registered_height, registered);
    assert_eq!(chain.balance(VERIFIER), START - bond - chain.fees[3]);

    // Busy while its audit is open.
    let (id, job) = chain.post(1, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert_eq!(chain.state.audits[&id].verifier, address(VERIFIER));
    assert_eq!(chain.verifier(VERIFIER).open, 1);
    chain.fails(VERIFIER, Payload::VerifierDeregister, Reason::VerifierBusy);
    assert_eq!(chain.status(&id).name(), "committed");
    let agree = Verdict::Full(job.commitment(Fault::Honest));
    assert_eq!(chain.seal_and_reveal(VERIFIER, id, agree), Status::Success);
    assert_eq!(chain.verifier(VERIFIER).open, 0);

    // A job committed while the verifier is leaving gets no audit (nobody else is eligible).
    let (late, late_job) = chain.post(2, AuditClass::Full);
    chain.ok(VERIFIER, Payload::VerifierDeregister);
    let release = chain.state.height + UNBONDING_BLOCKS;
    assert_eq!(chain.verifier(VERIFIER).unbonding_release, Some(release));
    chain.commit(late, &late_job, Fault::Honest);
    chain.fails(VERIFIER, register(PLX), Reason::ProviderDeregistering);
    assert_eq!(chain.state.height, release - 1);
    assert_eq!(chain.balance(VERIFIER), START - bond - chain.fees[3]);
    // The late job's draw and settlement (at its commitment + 2) and the release fall in this
    // block: no audit, so it settles at once.
    chain.empty(1);
    assert!(!chain.state.audits.contains_key(&late));
    assert_eq!(chain.status(&late).name(), "settled");
    assert!(!chain.state.verifiers.contains_key(&address(VERIFIER)));
    assert_eq!(chain.balance(VERIFIER), START - chain.fees[3]);
    chain.fails(
        VERIFIER,
        Payload::VerifierDeregister,
        Reason::UnknownVerifier,
    );
    // Three refused registrations, a refused exit, register, top-up, the refused busy exit,
    // seal, reveal, exit, the refused top-up, the refused exit after the release.
    assert_eq!(chain.fees[3], 12 * FEE);
}

/// Scenario 2: a bought full audit of an honest provider, with the provider and the consumer
/// registered as verifiers too, and the audit's rejections.
#[test]
fn an_agreeing_full_audit_passes_and_the_job_settles() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    for i in [PROVIDER, CONSUMER, VERIFIER] {
        chain.register_verifier(i, VERIFIER_BOND);
    }
    let (id, job) = chain.post(1, AuditClass::Full);
    let committed = chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS - 1);
    assert!(!chain.state.audits.contains_key(&id));
    chain.empty(1);
    let drawn = committed + AUDIT_DRAW_DELAY_BLOCKS;
    assert_eq!(
        chain.state.audits[&id],
        Audit {
            kind: AuditKind::Full,
            verifier: address(VERIFIER),
            drawn_height: drawn,
            // The response time, plus one block for re-running its max fuel (10^6) at 10^9
            // fuel/s with the margin.
            due_height: drawn + RESPONSE_BLOCKS + 1,
            stage: AuditStage::Drawn,
            paid: 0,
            canary: None,
            declined: Vec::new(),
        }
    );
    assert_eq!(chain.verifier(VERIFIER).open, 1);
    // The settlement height (the draw's) has passed; the audit holds the job.
    assert_eq!(committed + SETTLEMENT_WINDOW_BLOCKS, drawn);
    assert_eq!(chain.status(&id).name(), "committed");

    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    let salt = hash(&[b"salt"]);
    let seal = audit_seal(&id, &address(VERIFIER), &verdict, &salt);
    let reveal = |salt| Payload::AuditReveal {
        job: id,
        verdict: verdict.clone(),
        salt,
    };
    let commit_seal = || Payload::AuditCommit { job: id, seal };
    chain.fails(VERIFIER, reveal(salt), Reason::AuditClosed);
    chain.fails(OUTSIDER, commit_seal(), Reason::NotAuditor);
    assert_eq!(chain.state.height, drawn + RESPONSE_BLOCKS - 1);
    chain.ok(VERIFIER, Payload::AuditCommit { job: id, seal });
    let sealed = chain.state.height;
    assert_eq!(chain.state.audits[&id].stage, AuditStage::Sealed { seal });
    assert_eq!(chain.state.audits[&id].due_height, sealed + RESPONSE_BLOCKS);
    chain.fails(PROVIDER, commit_seal(), Reason::NotAuditor);
    chain.fails(VERIFIER, reveal(hash(&[b"pepper"])), Reason::SealMismatch);
    assert_eq!(chain.state.height, sealed + RESPONSE_BLOCKS - 1);
    chain.ok(VERIFIER, reveal(salt));
    assert_eq!(chain.state.audits[&id].stage, AuditStage::Passed);
    chain.fails(VERIFIER, reveal(salt), Reason::AuditClosed);
    chain.fails(VERIFIER, commit_seal(), Reason::AuditClosed);
    chain.fails(CONSUMER, commit_seal(), Reason::NotAuditor);

    // Settled in the reveal's block, paid as usual.
    let JobStatus::Settled {
        paid: p_paid,
        burned: p_burned,
        audit_fee: p_fee,
        refunded,
        height,
        ..
    } = chain.status(&id).clone()
    else {
        panic!("not settled: {:?}", chain.status(&id));
    };
    assert_eq!(
        (p_paid, refunded, height),
        (paid(), escrow() - paid(), sealed + RESPONSE_BLOCKS)
    );
    assert_eq!(paid(), 20_000_000); // floor(20_000 * (10^9 + 7) / 10^6)
    // 10% burned, 2% to the audit pool, the provider gets the rest.
    assert_eq!((p_burned, p_fee), (2_000_000, 400_000));
    assert_eq!((burned(paid()), audit_fee(paid())), (p_burned, p_fee));
    assert_eq!(chain.payment_burns, p_burned);
    // The audit passed before its job settled, while the pool was still empty: nothing to pay.
    // Its fuel and the audit count toward the epoch's emission.
    assert_eq!(chain.state.audits[&id].paid, 0);
    assert_eq!(chain.state.audit_pool, p_fee);
    assert_eq!(
        chain.state.epoch_audited_fuel().get(&address(PROVIDER)),
        Some(&u128::from(SEG_FUEL * SEGMENTS))
    );
    assert_eq!(
        chain.state.epoch_verifier_audits().get(&address(VERIFIER)),
        Some(&1)
    );
    assert_eq!(escrow(), 2_000_006_000); // ceil(1_000_003 * 2 * 10^9 / 10^6)
    let p = &chain.state.providers[&address(PROVIDER)];
    assert_eq!((p.audits_passed, p.jobs_done, p.bond_locked), (1, 1, 0));
    assert_eq!(
        p.reputation,
        REPUTATION_START + params(0).reputation_done_gain
    );
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.audits_done, v.audits_missed, v.open), (1, 0, 0));
    assert_eq!((v.bond, v.locked, v.earned), (VERIFIER_BOND, 0, 0));
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - VERIFIER_BOND - chain.fees[1] + earned(paid())
    );
    assert_eq!(
        chain.balance(CONSUMER),
        START - VERIFIER_BOND - chain.fees[2] - paid()
    );
    assert_eq!(
        chain.balance(VERIFIER),
        START - VERIFIER_BOND - chain.fees[3]
    );
    assert_eq!(chain.slash_burned(), 0);
}

/// Scenario 2, the draw: over many jobs and seeds the verifier is never the job's provider or
/// consumer; with one other verifier it is always that one, with two both are drawn.
#[test]
fn the_verifier_is_never_the_provider_or_the_consumer() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    for i in [PROVIDER, CONSUMER, VERIFIER] {
        chain.register_verifier(i, VERIFIER_BOND);
    }
    let jobs_per_round = 8;
    let mut drawn = BTreeMap::<Address, usize>::new();
    let mut drawn_of_two = BTreeMap::<Address, usize>::new();
    for round in 0..3u64 {
        if round == 1 {
            chain.register_verifier(OTHER, 3 * VERIFIER_BOND);
        }
        let jobs: Vec<_> = (0..jobs_per_round)
            .map(|i| Synthetic::new(1_000 + round * jobs_per_round + i))
            .collect();
        let posts: Vec<_> = jobs
            .iter()
            .map(|job| chain.tx(CONSUMER, job.post(AuditClass::Full)))
            .collect();
        let ids: Vec<_> = posts.iter().map(SignedTransaction::hash).collect();
        assert!(chain.block(posts).iter().all(|s| *s == Status::Success));
        let commits: Vec<_> = ids
            .iter()
            .zip(&jobs)
            .map(|(id, job)| chain.tx(PROVIDER, job.commit(*id, Fault::Honest)))
            .collect();
        assert!(chain.block(commits).iter().all(|s| *s == Status::Success));
        chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
        for id in &ids {
            let audit = &chain.state.audits[id];
            assert_eq!(audit.kind, AuditKind::Full);
            assert_ne!(audit.verifier, address(PROVIDER));
            assert_ne!(audit.verifier, address(CONSUMER));
            if round == 0 {
                assert_eq!(audit.verifier, address(VERIFIER));
            } else {
                *drawn_of_two.entry(audit.verifier.clone()).or_default() += 1;
            }
            *drawn.entry(audit.verifier.clone()).or_default() += 1;
        }
    }
    eprintln!("verifier draws with two eligible: {drawn_of_two:?}");
    assert_eq!(drawn.values().sum::<usize>(), 24);
    assert_eq!(drawn_of_two.len(), 2, "both eligible verifiers are drawn");
    // Nobody revealed: every audit lapses (after the response time and a block for the
    // re-run) and the jobs settle unaudited.
    chain.empty(RESPONSE_BLOCKS + 1);
    let missed: u64 = [VERIFIER, OTHER]
        .iter()
        .map(|i| chain.verifier(*i).audits_missed)
        .sum();
    assert_eq!(missed, 24);
    assert!(
        chain
            .state
            .jobs
            .values()
            .all(|job| job.status.name() == "settled")
    );
}

/// Scenario 3: a verifier's full audit catches a cheating provider; the game ends at the first
/// faked leaf (or, for a made-up output over the honest trace, at the final leaf).
#[test]
fn a_cheating_provider_loses_the_game_and_its_slash() {
    let middle = SEGMENTS / 2;
    for (fault, segment) in [
        (Fault::From(1), 0),
        (Fault::From(middle), middle - 1),
        (Fault::From(SEGMENTS), SEGMENTS - 1),
        (Fault::Output, SEGMENTS - 1),
    ] {
        let mut chain = Chain::new(0);
        chain.register_provider();
        chain.register_verifier(VERIFIER, VERIFIER_BOND);
        let (id, job, _) = chain.audited(7, fault, Fault::Honest);
        let opened = chain.state.height;
        let dispute = &chain.state.disputes[&id];
        assert_eq!(dispute.challenger, address(VERIFIER));
        assert!(dispute.by_verifier);
        assert_eq!(dispute.deposit, value());
        assert_eq!(dispute.deposit_held(), 0);
        assert_eq!(
            (dispute.opened_height, dispute.due_height),
            (opened, opened + RESPONSE_BLOCKS)
        );
        assert_eq!((dispute.game.lo(), dispute.game.hi()), (0, SEGMENTS));
        assert_eq!(dispute.game.phase(), &Phase::AwaitingReveal);
        assert_eq!(chain.state.audits[&id].stage, AuditStage::Disputed);
        let v = chain.verifier(VERIFIER);
        assert_eq!((v.bond, v.locked, v.open), (VERIFIER_BOND, value(), 1));

        let rounds = chain.play(id, &job.trace(fault), VERIFIER, &|i, leaf| {
            job.agrees(i, leaf)
        });
        assert!(
            (1..=rounds_max(SEGMENTS + 1, ARITY)).contains(&rounds),
            "{fault:?}"
        );
        let (lo, hi) = chain.state.disputes[&id].game.resolved().expect("resolved");
        assert_eq!((lo.index, hi.index), (segment, segment + 1), "{fault:?}");
        assert_eq!(chain.status(&id).name(), "committed");

        assert_eq!(chain.settle(VERIFIER, id), Status::Success);
        let height = chain.state.height;
        let slash = value() * Amount::from(SLASH_MULTIPLE);
        assert_eq!(
            chain.state.disputes[&id].ruling,
            Some(Ruling {
                provider_lost: true,
                end: DisputeEnd::Replay,
                slashed: slash,
                to_winner: share(slash),
                height,
            })
        );
        assert_refuted(&chain, &id, height);
        let v = chain.verifier(VERIFIER);
        assert_eq!((v.bond, v.locked, v.open), (VERIFIER_BOND, 0, 0));
        assert_eq!((v.disputes_won, v.disputes_lost, v.slashed), (1, 0, 0));
        assert_eq!(
            chain.balance(PROVIDER),
            START - PROVIDER_BOND - chain.fees[1]
        );
        assert_eq!(chain.balance(CONSUMER), START - chain.fees[2]);
        assert_eq!(
            chain.balance(VERIFIER),
            START - VERIFIER_BOND - chain.fees[3] + share(slash)
        );
        assert_eq!(chain.slash_burned(), slash - share(slash));
        // A ruled dispute takes no more moves, and the job is done.
        let defender = job.trace(fault);
        chain.fails(
            PROVIDER,
            Payload::DisputeMove {
                job: id,
                step: Move::Prove(defender.prove(segment).expect("a segment")),
            },
            Reason::NoDispute,
        );
    }
    // R = ceil(1_000_003 * (10^9 + 7) / 10^6) = ceil(1_000_003_007.000021).
    assert_eq!(value(), 1_000_003_008);
}

/// Scenario 4: an honest provider against a verifier that reveals a made-up commitment and
/// steers the game to the first segment: the verifier loses its deposit, the job settles.
#[test]
fn a_lying_verifier_loses_its_deposit_and_the_provider_is_paid() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, job, committed) = chain.audited(8, Fault::Honest, Fault::Output);
    assert_eq!(chain.verifier(VERIFIER).locked, value());
    chain.fails(VERIFIER, Payload::VerifierDeregister, Reason::VerifierBusy);
    // Always the first sub-interval: [0, 20] -> [0, 5] -> [0, 1].
    let rounds = chain.play(id, &job.trace(Fault::Honest), VERIFIER, &|_, _| false);
    assert_eq!(rounds, 2);
    let (lo, _) = chain.state.disputes[&id].game.resolved().expect("resolved");
    assert_eq!(lo.index, 0);
    // Held past its settlement height until the ruling.
    assert!(chain.state.height > committed + SETTLEMENT_WINDOW_BLOCKS);
    assert_eq!(chain.status(&id).name(), "committed");

    assert_eq!(chain.settle(PROVIDER, id), Status::Success);
    let height = chain.state.height;
    let deposit = value();
    assert_eq!(
        chain.state.disputes[&id].ruling,
        Some(Ruling {
            provider_lost: false,
            end: DisputeEnd::Replay,
            slashed: deposit,
            to_winner: share(deposit),
            height,
        })
    );
    let JobStatus::Settled {
        paid: p_paid,
        height: settled,
        ..
    } = chain.status(&id).clone()
    else {
        panic!("not settled: {:?}", chain.status(&id));
    };
    assert_eq!((p_paid, settled), (paid(), height));
    let v = chain.verifier(VERIFIER);
    assert_eq!(
        (v.bond, v.locked, v.open, v.slashed),
        (VERIFIER_BOND - deposit, 0, 0, deposit)
    );
    assert_eq!((v.disputes_won, v.disputes_lost), (0, 1));
    let p = &chain.state.providers[&address(PROVIDER)];
    assert_eq!(
        (p.bond, p.bond_locked, p.jobs_in_flight),
        (PROVIDER_BOND, 0, 0)
    );
    assert_eq!((p.disputes_lost, p.jobs_done), (0, 1));
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + earned(paid()) + share(deposit)
    );
    assert_eq!(chain.balance(CONSUMER), START - chain.fees[2] - paid());
    assert_eq!(
        chain.balance(VERIFIER),
        START - VERIFIER_BOND - chain.fees[3]
    );
    assert_eq!(chain.slash_burned(), deposit - share(deposit));
    // No longer busy: it may leave with what is left of its bond.
    chain.ok(VERIFIER, Payload::VerifierDeregister);
    chain.empty(UNBONDING_BLOCKS);
    assert_eq!(chain.balance(VERIFIER), START - deposit - chain.fees[3]);
}

/// Scenario 5: the consumer disputes a cheater with its own result, deposit from its balance.
#[test]
fn a_consumer_dispute_refunds_the_escrow_and_the_deposit_with_a_share() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    let (id, job) = chain.post(9, AuditClass::Standard);
    chain.commit(id, &job, Fault::From(7));
    let before = chain.balance(CONSUMER);
    chain.ok(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: job.commitment(Fault::Honest),
        },
    );
    assert_eq!(chain.balance(CONSUMER), before - FEE - value());
    let dispute = &chain.state.disputes[&id];
    assert_eq!(dispute.challenger, address(CONSUMER));
    assert!(!dispute.by_verifier);
    assert_eq!(
        (dispute.deposit, dispute.deposit_held()),
        (value(), value())
    );
    // No audit was drawn (no verifier and no random audits), so nothing else holds the job.
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert!(chain.state.audits.is_empty());
    let rounds = chain.play(id, &job.trace(Fault::From(7)), CONSUMER, &|i, leaf| {
        job.agrees(i, leaf)
    });
    assert!(rounds <= rounds_max(SEGMENTS + 1, ARITY));
    let (lo, _) = chain.state.disputes[&id].game.resolved().expect("resolved");
    assert_eq!(lo.index, 6);
    assert_eq!(chain.settle(CONSUMER, id), Status::Success);
    let height = chain.state.height;
    assert_refuted(&chain, &id, height);
    let slash = value() * Amount::from(SLASH_MULTIPLE);
    let dispute = &chain.state.disputes[&id];
    assert_eq!(dispute.deposit_held(), 0);
    assert_eq!(
        dispute
            .ruling
            .as_ref()
            .map(|r| (r.provider_lost, r.to_winner)),
        Some((true, share(slash)))
    );
    assert_eq!(
        chain.balance(CONSUMER),
        START - chain.fees[2] + share(slash)
    );
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1]
    );
    assert_eq!(chain.slash_burned(), slash - share(slash));
}

/// Scenario 6: whoever lets a move lapse loses; an unsettled resolved game is the provider's loss.
#[test]
fn a_lapsed_move_loses_the_dispute() {
    let slash = value() * Amount::from(SLASH_MULTIPLE);

    // The defender never reveals.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, _, _) = chain.audited(10, Fault::From(3), Fault::Honest);
    let due = chain.state.disputes[&id].due_height;
    assert_eq!(due, chain.state.height + RESPONSE_BLOCKS);
    chain.until(due - 1);
    assert_eq!(chain.state.disputes[&id].ruling, None);
    chain.empty(1);
    assert_eq!(
        chain.state.disputes[&id].ruling,
        Some(Ruling {
            provider_lost: true,
            end: DisputeEnd::Timeout,
            slashed: slash,
            to_winner: share(slash),
            height: due,
        })
    );
    assert_refuted(&chain, &id, due);
    assert_eq!(
        chain.balance(VERIFIER),
        START - VERIFIER_BOND - chain.fees[3] + share(slash)
    );
    assert_eq!(chain.verifier(VERIFIER).locked, 0);
    assert_eq!(chain.balance(CONSUMER), START - chain.fees[2]);
    assert_eq!(chain.slash_burned(), slash - share(slash));

    // The challenger (a consumer with a made-up claim) never chooses: its deposit is lost.
    let mut chain = Chain::new(0);
    chain.register_provider();
    let (id, job) = chain.post(11, AuditClass::Standard);
    chain.commit(id, &job, Fault::Honest);
    chain.ok(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: job.commitment(Fault::Output),
        },
    );
    let game = chain.state.disputes[&id].game.clone();
    let reveal = job.trace(Fault::Honest).respond(&game).expect("own game");
    chain.ok(
        PROVIDER,
        Payload::DisputeMove {
            job: id,
            step: reveal.expect("a reveal is due"),
        },
    );
    let due = chain.state.height + RESPONSE_BLOCKS;
    assert_eq!(chain.state.disputes[&id].due_height, due);
    chain.until(due - 1);
    assert_eq!(chain.status(&id).name(), "committed");
    chain.empty(1);
    let deposit = value();
    assert_eq!(
        chain.state.disputes[&id].ruling,
        Some(Ruling {
            provider_lost: false,
            end: DisputeEnd::Timeout,
            slashed: deposit,
            to_winner: share(deposit),
            height: due,
        })
    );
    assert_eq!(chain.status(&id).name(), "settled");
    assert_eq!(
        chain.balance(CONSUMER),
        START - chain.fees[2] - paid() - deposit
    );
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + earned(paid()) + share(deposit)
    );
    assert_eq!(chain.slash_burned(), deposit - share(deposit));

    // A resolved game that nobody settles: the provider owed the settlement.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, job, _) = chain.audited(12, Fault::From(SEGMENTS), Fault::Honest);
    chain.play(
        id,
        &job.trace(Fault::From(SEGMENTS)),
        VERIFIER,
        &|i, leaf| job.agrees(i, leaf),
    );
    let due = chain.state.height + RESPONSE_BLOCKS;
    assert_eq!(chain.state.disputes[&id].due_height, due);
    chain.until(due - 1);
    assert_eq!(chain.state.disputes[&id].ruling, None);
    chain.empty(1);
    let ruling = chain.state.disputes[&id].ruling.clone().expect("ruled");
    assert_eq!(
        (ruling.provider_lost, ruling.end, ruling.height),
        (true, DisputeEnd::Timeout, due)
    );
    assert_refuted(&chain, &id, due);
    assert_eq!(chain.slash_burned(), slash - share(slash));
}

/// Scenario 7: every bad dispute input is a failed receipt that changes nothing but the fee and
/// the nonce; content a node lacks stops the block instead.
#[test]
fn bad_dispute_inputs_fail_without_effect() {
    // Room for a dozen refused moves before any move is due.
    let mut chain = Chain::with_params(Params {
        audit: AuditParams {
            response_blocks: 20,
            ..params(0).audit
        },
        ..params(0)
    });
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let fault = Fault::From(SEGMENTS / 2);
    let (id, job, _) = chain.audited(13, fault, Fault::Honest);
    let defender = job.trace(fault);
    let game = chain.state.disputes[&id].game.clone();
    let mv = |step| Payload::DisputeMove { job: id, step };
    let choose = |sub_interval| mv(Move::Choose(Choose { sub_interval }));

    // Awaiting the provider's reveal.
    chain.fails(VERIFIER, choose(0), Reason::NotYourMove);
    chain.fails(
        OUTSIDER,
        mv(defender.respond(&game).unwrap().unwrap()),
        Reason::NotYourMove,
    );
    let Some(Move::Reveal(reveal)) = defender.respond(&game).unwrap() else {
        panic!("a reveal is due");
    };
    let mut points = reveal.points.clone();
    points.push(points[0]);
    chain.fails(
        PROVIDER,
        mv(Move::Reveal(Reveal { points })),
        Reason::InvalidMove,
    );
    chain.fails(
        PROVIDER,
        mv(Move::Prove(defender.prove(0).unwrap())),
        Reason::InvalidMove,
    );
    chain.fails(
        VERIFIER,
        Payload::DisputeSettle {
            job: id,
            manifest: good_manifest(),
        },
        Reason::InvalidMove,
    );
    // One dispute per job; only the consumer opens one; a claim must differ.
    let claim = job.commitment(Fault::Honest);
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: claim.clone(),
        },
        Reason::NotDisputable,
    );
    chain.fails(
        OUTSIDER,
        Payload::DisputeOpen {
            job: id,
            claim: claim.clone(),
        },
        Reason::NotConsumer,
    );
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: hash(&[b"no such job"]),
            claim: claim.clone(),
        },
        Reason::UnknownJob,
    );
    chain.fails(
        PROVIDER,
        Payload::DisputeMove {
            job: hash(&[b"no such job"]),
            step: Move::Reveal(reveal.clone()),
        },
        Reason::NoDispute,
    );

    // Play to the proof.
    chain.ok(PROVIDER, mv(Move::Reveal(reveal)));
    chain.fails(PROVIDER, choose(0), Reason::NotYourMove);
    chain.fails(VERIFIER, choose(ARITY), Reason::InvalidMove);
    while chain.state.disputes[&id].game.phase() != &Phase::AwaitingProof {
        let game = chain.state.disputes[&id].game.clone();
        let step = match game.to_move() {
            Some(Role::Defender) => (PROVIDER, defender.respond(&game).unwrap().unwrap()),
            _ => {
                let points = game.revealed_points();
                let choice = first_disagreement(&points, |i, l| job.agrees(i, l));
                (VERIFIER, Move::Choose(choice))
            }
        };
        chain.ok(step.0, mv(step.1));
    }
    let lo = chain.state.disputes[&id].game.lo();
    assert_eq!(lo, SEGMENTS / 2 - 1);
    let good = defender.prove(lo).unwrap();
    let mut inflated = good.clone();
    inflated.hi.fuel += 1;
    chain.fails(PROVIDER, mv(Move::Prove(inflated)), Reason::InvalidMove);
    let mut forged = good.clone();
    forged.proof.siblings[0] = ContentHash::of(b"forged sibling");
    chain.fails(PROVIDER, mv(Move::Prove(forged)), Reason::InvalidMove);
    let honest = job.trace(Fault::Honest).prove(lo).unwrap();
    chain.fails(PROVIDER, mv(Move::Prove(honest)), Reason::InvalidMove);
    chain.fails(VERIFIER, choose(0), Reason::NotYourMove);
    chain.ok(PROVIDER, mv(Move::Prove(good.clone())));

    // Resolved: a manifest that does not fit the agreed leaf fails on every node.
    chain.fails(
        VERIFIER,
        Payload::DisputeSettle {
            job: id,
            manifest: bad_manifest(),
        },
        Reason::ContentInvalid,
    );
    chain.fails(PROVIDER, mv(Move::Prove(good.clone())), Reason::NotYourMove);
    // Only the two sides may make the validators re-run (the consumer is not one here).
    chain.fails(
        CONSUMER,
        Payload::DisputeSettle {
            job: id,
            manifest: good_manifest(),
        },
        Reason::NotYourMove,
    );
    // Content this node lacks: not a receipt, the block cannot be built or applied here.
    let settle = chain.tx(
        VERIFIER,
        Payload::DisputeSettle {
            job: id,
            manifest: good_manifest(),
        },
    );
    let settle_hash = settle.hash();
    chain.replayer.unavailable = true;
    // A proposer without the content leaves the settlement out and still builds (regression:
    // one such transaction in every mempool stopped block production).
    let without = chain
        .build(vec![settle.clone()])
        .expect("builds without the settlement");
    assert!(without.block.txs.is_empty());
    assert!(without.receipts.is_empty());
    chain.replayer.unavailable = false;
    let built = chain.build(vec![settle]).expect("builds with the content");
    let withheld = TestReplayer {
        unavailable: true,
        ..TestReplayer::default()
    };
    let mut copy = chain.state.clone();
    match apply_block_with(&mut copy, &built.block, &withheld) {
        Err(ApplyError::ContentUnavailable { tx, .. }) => assert_eq!(tx, settle_hash),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(chain.accept(built), vec![Status::Success]);
    assert_refuted(&chain, &id, chain.state.height);

    // After the ruling.
    chain.fails(PROVIDER, mv(Move::Prove(good)), Reason::NoDispute);
    chain.fails(VERIFIER, choose(0), Reason::NoDispute);
    chain.fails(
        VERIFIER,
        Payload::DisputeSettle {
            job: id,
            manifest: good_manifest(),
        },
        Reason::NoDispute,
    );
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: claim.clone(),
        },
        Reason::NotDisputable,
    );

    // A consumer's claim equal to the commitment; a dispute of a settled job, then a pruned one.
    let (settled, settled_job) = chain.post(14, AuditClass::Standard);
    chain.commit(settled, &settled_job, Fault::Honest);
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: settled,
            claim: settled_job.commitment(Fault::Honest),
        },
        Reason::InvalidVerdict,
    );
    chain.empty(SETTLEMENT_WINDOW_BLOCKS - 1);
    assert_eq!(chain.status(&settled).name(), "settled");
    let claim = settled_job.commitment(Fault::Output);
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: settled,
            claim: claim.clone(),
        },
        Reason::NotDisputable,
    );
    chain.empty(RETENTION_BLOCKS);
    assert!(!chain.state.jobs.contains_key(&settled));
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: settled,
            claim,
        },
        Reason::UnknownJob,
    );
}

/// Scenario 8: light audits draw `k` distinct segments plus the last; a disputed drawn segment
/// opens the game at that segment; an undrawn one (or a full verdict) is refused.
#[test]
fn light_audits_draw_segments_and_dispute_one() {
    let mut chain = Chain::new(PPM);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let drawn_segments = |chain: &Chain, id: &Digest| -> Vec<u64> {
        let audit = &chain.state.audits[id];
        let AuditKind::Light { segments } = &audit.kind else {
            panic!("not a light audit: {audit:?}");
        };
        assert_eq!(segments.len(), LIGHT_SEGMENTS as usize + 1);
        assert!(segments.windows(2).all(|w| w[0] < w[1]), "{segments:?}");
        assert_eq!(segments.last(), Some(&(SEGMENTS - 1)));
        let seed = chain.seed_at(audit.drawn_height);
        assert_eq!(
            segments,
            &light_segments(&seed, id, SEGMENTS, LIGHT_SEGMENTS)
        );
        segments.clone()
    };

    // Four jobs: one faked at a drawn segment, one honest, two whose verdicts are refused.
    let (cheated, cheated_job) = chain.post(20, AuditClass::Standard);
    let (honest, honest_job) = chain.post(21, AuditClass::Standard);
    let (undrawn, undrawn_job) = chain.post(22, AuditClass::Standard);
    let (full, full_job) = chain.post(23, AuditClass::Standard);
    // The cheater's segment is predicted from the seed of its draw block (the beacon signature
    // over a height after the commitment, which a real provider cannot know) and faked there.
    let commit_height = chain.state.height + 1;
    let seed = chain.seed_at(commit_height + AUDIT_DRAW_DELAY_BLOCKS);
    let predicted = light_segments(&seed, &cheated, SEGMENTS, LIGHT_SEGMENTS);
    let faked = predicted[..predicted.len() - 1]
        .iter()
        .copied()
        .rfind(|s| *s > 0)
        .expect("a drawn segment before the last");
    let fault = Fault::From(faked + 1);
    let commits = vec![
        chain.tx(PROVIDER, cheated_job.commit(cheated, fault)),
        chain.tx(PROVIDER, honest_job.commit(honest, Fault::Honest)),
        chain.tx(PROVIDER, undrawn_job.commit(undrawn, Fault::Honest)),
        chain.tx(PROVIDER, full_job.commit(full, Fault::Honest)),
    ];
    assert_eq!(chain.block(commits), vec![Status::Success; 4]);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    for id in [honest, undrawn, full] {
        drawn_segments(&chain, &id);
    }
    assert_eq!(drawn_segments(&chain, &cheated), predicted);
    eprintln!("light audit segments {predicted:?}; faked segment {faked}");

    let salt = hash(&[b"light salt"]);
    let undrawn_segments = drawn_segments(&chain, &undrawn);
    let not_drawn = (0..SEGMENTS)
        .find(|s| !undrawn_segments.contains(s))
        .expect("an undrawn segment");
    let verdicts = [
        (honest, Verdict::Light { disputed: None }),
        (
            undrawn,
            Verdict::Light {
                disputed: Some(not_drawn),
            },
        ),
        (full, Verdict::Full(full_job.commitment(Fault::Honest))),
        (
            cheated,
            Verdict::Light {
                disputed: Some(faked),
            },
        ),
    ];
    let seals = verdicts
        .iter()
        .map(|(id, verdict)| {
            let seal = audit_seal(id, &address(VERIFIER), verdict, &salt);
            chain.tx(VERIFIER, Payload::AuditCommit { job: *id, seal })
        })
        .collect();
    assert_eq!(chain.block(seals), vec![Status::Success; 4]);
    let reveal = |(id, verdict): &(Digest, Verdict)| Payload::AuditReveal {
        job: *id,
        verdict: verdict.clone(),
        salt,
    };
    chain.fails(VERIFIER, reveal(&verdicts[1]), Reason::InvalidVerdict);
    chain.fails(VERIFIER, reveal(&verdicts[2]), Reason::InvalidVerdict);
    let reveals = vec![
        chain.tx(VERIFIER, reveal(&verdicts[0])),
        chain.tx(VERIFIER, reveal(&verdicts[3])),
    ];
    assert_eq!(chain.block(reveals), vec![Status::Success; 2]);
    let reveal_height = chain.state.height;

    // The honest job passed and settled; the refused verdicts' audits lapsed at their due
    // height (this block) and those jobs settled unaudited.
    assert_eq!(chain.state.audits[&honest].stage, AuditStage::Passed);
    assert_eq!(chain.status(&honest).name(), "settled");
    for id in [undrawn, full] {
        assert_eq!(chain.state.audits[&id].stage, AuditStage::Missed);
        assert_eq!(chain.status(&id).name(), "settled");
    }
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.audits_done, v.audits_missed, v.open), (1, 2, 1));
    // Each lapsed audit cost the verifier the job's value, burned.
    assert_eq!(
        (v.slashed, v.bond),
        (2 * value(), VERIFIER_BOND - 2 * value())
    );

    // The dispute opens on the drawn segment, the proof due at once.
    let game = chain.state.disputes[&cheated].game.clone();
    assert_eq!((game.lo(), game.hi()), (faked, faked + 1));
    assert_eq!(game.phase(), &Phase::AwaitingProof);
    assert_eq!(chain.state.disputes[&cheated].opened_height, reveal_height);
    let rounds = chain.play(cheated, &cheated_job.trace(fault), VERIFIER, &|_, _| {
        unreachable!("no choice in a one-segment game")
    });
    assert_eq!(rounds, 0);
    let (lo, hi) = chain.state.disputes[&cheated].game.resolved().unwrap();
    assert_eq!(lo.state_root, cheated_job.root(faked));
    assert_ne!(hi.state_root, cheated_job.root(faked + 1));
    assert_eq!(chain.settle(VERIFIER, cheated), Status::Success);
    let JobStatus::Refuted { slashed, .. } = chain.status(&cheated).clone() else {
        panic!("not refuted: {:?}", chain.status(&cheated));
    };
    let slash = value() * Amount::from(SLASH_MULTIPLE);
    assert_eq!(slashed, slash);
    let p = &chain.state.providers[&address(PROVIDER)];
    assert_eq!(
        (p.bond, p.bond_locked, p.jobs_in_flight),
        (PROVIDER_BOND - slash, 0, 0)
    );
    assert_eq!((p.audits_passed, p.disputes_lost, p.jobs_done), (1, 1, 3));
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + 3 * earned(paid())
    );
    // The winning verifier is paid for its light re-execution (5 segments of 1 000 fuel at the
    // ask: 5 PLX) from the pool, which holds the fees of the three settled jobs: all of it.
    let pool = 3 * audit_fee(paid());
    assert_eq!(chain.state.audits[&cheated].paid, pool);
    assert_eq!(chain.state.audit_pool, 0);
    assert_eq!(chain.verifier(VERIFIER).earned, pool);
    assert_eq!(
        chain.balance(VERIFIER),
        START - VERIFIER_BOND - chain.fees[3] + share(slash) + pool
    );
    assert_eq!(chain.balance(CONSUMER), START - chain.fees[2] - 3 * paid());
    assert_eq!(chain.slash_burned(), slash - share(slash) + 2 * value());
}

/// Scenario 9: the same blocks give the same states (and roots) on a second chain, whatever
/// happened in them; every state also survived a snapshot round trip (`Chain::accept`).
#[test]
fn the_same_blocks_give_the_same_states() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (cheated, job, _) = chain.audited(30, Fault::From(4), Fault::Honest);
    chain.play(cheated, &job.trace(Fault::From(4)), VERIFIER, &|i, leaf| {
        job.agrees(i, leaf)
    });
    // Only the two sides may settle.
    assert_eq!(
        chain.settle(OUTSIDER, cheated),
        Status::Failed(Reason::NotYourMove)
    );
    assert_eq!(chain.settle(VERIFIER, cheated), Status::Success);
    // A second dispute, lost by a challenger that stops choosing.
    let (lied, lied_job, _) = chain.audited(31, Fault::Honest, Fault::Output);
    let game = chain.state.disputes[&lied].game.clone();
    let step = lied_job
        .trace(Fault::Honest)
        .respond(&game)
        .unwrap()
        .unwrap();
    chain.ok(PROVIDER, Payload::DisputeMove { job: lied, step });
    chain.empty(RESPONSE_BLOCKS);
    assert_eq!(chain.status(&cheated).name(), "refuted");
    assert_eq!(chain.status(&lied).name(), "settled");
    let ruling = chain.state.disputes[&lied].ruling.clone().expect("ruled");
    assert_eq!(
        (ruling.provider_lost, ruling.end),
        (false, DisputeEnd::Timeout)
    );

    let mut replica = chain.genesis.clone();
    for block in &chain.blocks {
        apply_block_with(&mut replica, block, &chain.replayer).expect("replays");
        assert_eq!(replica.root(), block.header.state_root);
    }
    assert_eq!(replica, chain.state);
    assert_eq!(replica.root(), chain.state.root());
    let decoded = State::decode(replica.encode()).unwrap();
    assert_eq!(decoded.root(), chain.state.root());
}

/// Regression: `MarketIndex::derive` used to list the settlement of a job held by an audit past
/// its settlement height, which the live index had already taken, so `State::recount` failed
/// with `MarketIndex` and a state decoded from a snapshot differed from the live one.
#[test]
fn a_settlement_held_by_an_audit_keeps_the_index_derivable() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, _) = chain.post(40, AuditClass::Full);
    let job = Synthetic::new(40);
    let committed = chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert!(chain.state.height >= committed + SETTLEMENT_WINDOW_BLOCKS);
    assert_eq!(chain.status(&id).name(), "committed");
    assert!(chain.state.audits[&id].is_open());
    assert_eq!(
        plexus_state::MarketIndex::derive(&chain.state),
        *chain.state.market_index()
    );
    assert_eq!(chain.state.recount(), Ok(chain.state.supply.total()));
    let decoded = State::decode(chain.state.encode()).unwrap();
    assert_eq!(decoded, chain.state);
    // A node restored from the snapshot goes on exactly like the live one.
    let mut restored = chain.clone();
    restored.state = decoded;
    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    for c in [&mut chain, &mut restored] {
        assert_eq!(
            c.seal_and_reveal(VERIFIER, id, verdict.clone()),
            Status::Success
        );
        assert_eq!(c.status(&id).name(), "settled");
    }
    assert_eq!(chain.state, restored.state);
}

/// Scenario 10: canaries. Every committed job gets one (rho = 100%): a full audit of a copy of
/// the job under its own id, whose claimed output nobody computed. The verifier that re-runs
/// and disagrees is paid like any auditor; the one that echoes the claim is slashed
/// `verifier_slash_multiple` times the job's value, all of it burned. The canary never holds
/// the real job, and is pruned like a finished job.
#[test]
fn canaries_pay_the_verifier_that_flags_them_and_slash_the_one_that_agrees() {
    let base = params(0);
    let mut chain = Chain::with_params(Params {
        audit: AuditParams {
            canary_ppm: 1_000_000,
            ..base.audit.clone()
        },
        ..base
    });
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);

    // An honest verifier flags its canary.
    let (id, job) = chain.post(40, AuditClass::Standard);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let canary = canary_id(&id);
    let audit = chain.state.audits[&canary].clone();
    assert_eq!(audit.verifier, address(VERIFIER));
    assert_eq!(audit.kind, AuditKind::Full);
    let claim = audit.canary.clone().expect("a canary").claim;
    assert_ne!(claim, job.commitment(Fault::Honest), "known wrong");
    assert!(
        !chain.state.audits.contains_key(&id),
        "no audit of the job itself"
    );
    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    assert_eq!(
        chain.seal_and_reveal(VERIFIER, canary, verdict),
        Status::Success
    );
    let audit = &chain.state.audits[&canary];
    assert_eq!(audit.canary.as_ref().unwrap().flagged, Some(true));
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.canaries_flagged, v.canaries_passed, v.open), (1, 0, 0));
    assert_eq!((v.slashed, v.earned), (0, audit.paid));
    // The real job settled as if unaudited.
    assert_eq!(chain.status(&id).name(), "settled");

    // A lazy verifier echoes the claim it is shown, and pays for it.
    let (id2, job2) = chain.post(41, AuditClass::Standard);
    chain.commit(id2, &job2, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let canary2 = canary_id(&id2);
    let claim = chain.state.audits[&canary2].canary.clone().unwrap().claim;
    let bond_before = chain.verifier(VERIFIER).bond;
    assert_eq!(
        chain.seal_and_reveal(VERIFIER, canary2, Verdict::Full(claim)),
        Status::Success
    );
    let slash = value() * Amount::from(AuditParams::default().verifier_slash_multiple);
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.canaries_flagged, v.canaries_passed), (1, 1));
    assert_eq!((v.bond, v.slashed), (bond_before - slash, slash));
    let audit = &chain.state.audits[&canary2];
    assert_eq!(audit.canary.as_ref().unwrap().flagged, Some(false));
    assert_eq!(audit.paid, 0);

    // Both canaries go with the retention of a finished job.
    chain.empty(RETENTION_BLOCKS + 1);
    assert!(!chain.state.audits.contains_key(&canary));
    assert!(!chain.state.audits.contains_key(&canary2));
}

/// Regression (review): an audit still open when the consumer's dispute refutes the job ends
/// without pay, and frees its verifier; agreeing with the refuted commitment earns nothing.
#[test]
fn a_refutation_closes_the_jobs_open_audit_without_pay() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, job) = chain.post(12, AuditClass::Full);
    chain.commit(id, &job, Fault::From(3));
    chain.ok(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: job.commitment(Fault::Honest),
        },
    );
    // The bought full audit is drawn while the consumer's dispute runs.
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert_eq!(chain.state.audits[&id].verifier, address(VERIFIER));
    assert_eq!(chain.verifier(VERIFIER).open, 1);
    chain.play(id, &job.trace(Fault::From(3)), CONSUMER, &|i, leaf| {
        job.agrees(i, leaf)
    });
    assert_eq!(chain.settle(CONSUMER, id), Status::Success);
    assert_eq!(chain.status(&id).name(), "refuted");
    let audit = &chain.state.audits[&id];
    assert!(!audit.is_open());
    assert_eq!(audit.paid, 0);
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.open, v.earned, v.audits_done), (0, 0, 0));
    assert_eq!(chain.state.providers[&address(PROVIDER)].audits_passed, 0);
    // Its seal comes too late.
    let seal = audit_seal(
        &id,
        &address(VERIFIER),
        &Verdict::Full(job.commitment(Fault::From(3))),
        &hash(&[b"salt".as_slice()]),
    );
    chain.fails(
        VERIFIER,
        Payload::AuditCommit { job: id, seal },
        Reason::AuditClosed,
    );
    // And the verifier, no longer busy, may leave.
    chain.ok(VERIFIER, Payload::VerifierDeregister);
}

// ---------------------------------------------------------------------------------------------
// Audit load (issue 12): deadlines that follow the work, draws limited by capacity, declines.

/// The key index of a test address.
fn key_of(who: &Address) -> u64 {
    (0..KEYS as u64)
        .find(|i| address(*i) == *who)
        .expect("a test key")
}

/// The seal deadline is the response time plus the blocks the drawn fuel takes at the drawn
/// verifier's declared speed, times the margin, over the assumed block time, rounded up; a
/// verifier too slow for the cap is not drawn, and one that lied about being fast risks only
/// its own bond.
#[test]
fn the_seal_deadline_follows_the_drawn_fuel_over_the_verifiers_speed() {
    let params = params(0).audit;
    // 10^6 fuel/s: a full audit re-runs the job's max fuel, 1_000_003:
    // ceil(1_000_003 * 1000 * 3 / 10^6) = 3_001 ms, ceil(3_001 / 250) = 13 blocks.
    assert_eq!(
        plexus_state::dispute::rerun_blocks(&params, MAX_FUEL, 1_000_000),
        Some(13)
    );
    // A light audit of k + 1 = 5 segments of 1_000 fuel: 15 ms, one block.
    let light = AuditKind::Light {
        segments: vec![1, 2, 3, 4, 19],
    };
    let light_fuel = plexus_state::dispute::rerun_fuel(&params, &light, MAX_FUEL);
    assert_eq!(light_fuel, 5 * SEG_FUEL);
    assert_eq!(
        plexus_state::dispute::rerun_blocks(&params, light_fuel, 1_000_000),
        Some(1)
    );
    // Over `audit_rerun_blocks_max` (20_000 blocks = 5_000 s at 250 ms): not drawn.
    assert_eq!(
        plexus_state::dispute::rerun_blocks(&params, MAX_FUEL, 600),
        None
    );
    assert_eq!(
        plexus_state::dispute::seal_blocks(&params, MAX_FUEL, 1_000_000),
        Some(RESPONSE_BLOCKS + 13)
    );

    // On chain: the slow verifier's seal is due 13 blocks after the response time.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, 1_000_000, 1));
    let (id, job) = chain.post(60, AuditClass::Full);
    let committed = chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let drawn = committed + AUDIT_DRAW_DELAY_BLOCKS;
    let audit = chain.state.audits[&id].clone();
    assert_eq!(audit.verifier, address(VERIFIER));
    assert_eq!(
        (audit.drawn_height, audit.due_height),
        (drawn, drawn + RESPONSE_BLOCKS + 13)
    );
    // It takes its time and still passes.
    chain.until(audit.due_height - 1);
    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    assert_eq!(
        chain.seal_and_reveal(VERIFIER, id, verdict),
        Status::Success
    );
    assert_eq!(chain.state.audits[&id].stage, AuditStage::Passed);
    assert_eq!(chain.verifier(VERIFIER).slashed, 0);

    // A verifier too slow to re-run the job within the cap is not drawn: the job settles
    // unaudited at its settlement height.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, 600, 1));
    let (id, job) = chain.post(61, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert!(!chain.state.audits.contains_key(&id));
    assert_eq!(chain.status(&id).name(), "settled");

    // A verifier that declared itself faster than it is gets the shortest deadline, lets it
    // lapse and forfeits the job's value from its own bond; the provider and the consumer lose
    // nothing: the job settles as if unaudited.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, u64::MAX, 1));
    let (id, job) = chain.post(62, AuditClass::Full);
    let committed = chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let drawn = committed + AUDIT_DRAW_DELAY_BLOCKS;
    assert_eq!(
        chain.state.audits[&id].due_height,
        drawn + RESPONSE_BLOCKS + 1
    );
    chain.until(drawn + RESPONSE_BLOCKS + 1);
    assert_eq!(chain.state.audits[&id].stage, AuditStage::Missed);
    assert_eq!(chain.status(&id).name(), "settled");
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.slashed, v.bond), (value(), VERIFIER_BOND - value()));
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + earned(paid())
    );
    assert_eq!(chain.balance(CONSUMER), START - chain.fees[2] - paid());
}

/// Regression (issue 12, finding 3): an honest verifier drawn for two full audits at once re-ran
/// them one after the other and the second lapsed, taking the job's value from its bond. A
/// verifier is now drawn only while its open audits are below its declared capacity, and its
/// deadline follows its declared speed: this one (capacity 1, working through the audits drawn
/// to it one at a time at that speed) gets the first audit, the second job goes unaudited, and
/// nothing lapses.
#[test]
fn two_audits_at_once_never_make_a_slow_verifier_lapse() {
    const SPEED: u64 = 30_000;
    // Its re-run of one job: 20_000 fuel at 30_000 fuel/s, 667 ms, in 250 ms blocks.
    let work_blocks = (SEG_FUEL * SEGMENTS * 1_000).div_ceil(SPEED * 250);
    assert_eq!(work_blocks, 3);
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, SPEED, 1));
    let jobs: Vec<Synthetic> = (70..72).map(Synthetic::new).collect();
    let posts: Vec<_> = jobs
        .iter()
        .map(|job| {
            chain.replayer.jobs.insert(job.module(), *job);
            chain.tx(CONSUMER, job.post(AuditClass::Full))
        })
        .collect();
    let ids: Vec<Digest> = posts.iter().map(SignedTransaction::hash).collect();
    assert_eq!(chain.block(posts), vec![Status::Success; 2]);
    let commits: Vec<_> = ids
        .iter()
        .zip(&jobs)
        .map(|(id, job)| chain.tx(PROVIDER, job.commit(*id, Fault::Honest)))
        .collect();
    assert_eq!(chain.block(commits), vec![Status::Success; 2]);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    // The verifier works through the audits drawn to it one at a time, sealing each when its
    // re-run is done (if it has not lapsed meanwhile) and revealing in the next block.
    let queue: Vec<(Digest, Synthetic)> = ids
        .iter()
        .copied()
        .zip(jobs.iter().copied())
        .filter(|(id, _)| {
            chain
                .state
                .audits
                .get(id)
                .is_some_and(|a| a.verifier == address(VERIFIER))
        })
        .collect();
    for (id, job) in &queue {
        chain.empty(work_blocks);
        if chain.state.audits[id].stage == AuditStage::Drawn {
            let verdict = Verdict::Full(job.commitment(Fault::Honest));
            assert_eq!(
                chain.seal_and_reveal(VERIFIER, *id, verdict),
                Status::Success
            );
        }
    }
    let v = chain.verifier(VERIFIER);
    assert_eq!(
        (v.audits_missed, v.slashed),
        (0, 0),
        "an honest verifier lost its bond to load"
    );
    assert_eq!(queue.len(), 1, "drawn for one audit only: its capacity");
    for id in &ids {
        assert_eq!(chain.status(id).name(), "settled");
        assert!(
            chain
                .state
                .audits
                .get(id)
                .is_none_or(|a| a.stage == AuditStage::Passed),
            "{:?}",
            chain.state.audits.get(id)
        );
    }
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.audits_done, v.audits_missed, v.slashed), (1, 0, 0));
    assert_eq!(chain.slash_burned(), 0);
}

/// Draws count each verifier's open audits against its capacity: with room for two and one,
/// four audits committed at once go two, one and none (that job settles unaudited); a closed
/// audit makes room again.
#[test]
fn a_verifier_is_drawn_only_while_its_open_audits_are_below_its_capacity() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    // Slow enough that its audits stay open through the scenario.
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, 1_000_000, 2));
    chain.ok(OTHER, verifier_register(VERIFIER_BOND, VERIFIER_SPEED, 1));
    let jobs: Vec<Synthetic> = (80..84).map(Synthetic::new).collect();
    let posts: Vec<_> = jobs
        .iter()
        .map(|job| {
            chain.replayer.jobs.insert(job.module(), *job);
            chain.tx(CONSUMER, job.post(AuditClass::Full))
        })
        .collect();
    let ids: Vec<Digest> = posts.iter().map(SignedTransaction::hash).collect();
    assert_eq!(chain.block(posts), vec![Status::Success; 4]);
    let commits: Vec<_> = ids
        .iter()
        .zip(&jobs)
        .map(|(id, job)| chain.tx(PROVIDER, job.commit(*id, Fault::Honest)))
        .collect();
    assert_eq!(chain.block(commits), vec![Status::Success; 4]);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let mut drawn = BTreeMap::<u64, Vec<usize>>::new();
    let mut unaudited = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        match chain.state.audits.get(id) {
            Some(audit) => drawn.entry(key_of(&audit.verifier)).or_default().push(n),
            None => unaudited.push(n),
        }
    }
    assert_eq!(drawn.get(&VERIFIER).map(Vec::len), Some(2), "{drawn:?}");
    assert_eq!(drawn.get(&OTHER).map(Vec::len), Some(1), "{drawn:?}");
    assert_eq!(unaudited.len(), 1);
    assert_eq!(chain.status(&ids[unaudited[0]]).name(), "settled");
    assert_eq!(
        (chain.verifier(VERIFIER).open, chain.verifier(OTHER).open),
        (2, 1)
    );

    // OTHER passes its audit: it has room again and takes the next job's audit (VERIFIER is
    // still full).
    let n = drawn[&OTHER][0];
    let verdict = Verdict::Full(jobs[n].commitment(Fault::Honest));
    assert_eq!(
        chain.seal_and_reveal(OTHER, ids[n], verdict),
        Status::Success
    );
    assert_eq!(chain.verifier(OTHER).open, 0);
    let (next, next_job) = chain.post(85, AuditClass::Full);
    chain.commit(next, &next_job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert_eq!(chain.state.audits[&next].verifier, address(OTHER));
}

/// A decline before the seal is due costs nothing but the fee: the audit goes to another
/// verifier with a fresh deadline at that verifier's speed; when nobody else can take it, it
/// closes as declined and the job settles unaudited. A canary is redrawn the same way.
#[test]
fn a_declined_audit_is_drawn_again_without_a_slash() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(
        VERIFIER,
        verifier_register(VERIFIER_BOND, VERIFIER_SPEED, 4),
    );
    chain.ok(OTHER, verifier_register(VERIFIER_BOND, 1_000_000, 4));
    let (id, job) = chain.post(90, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let first = key_of(&chain.state.audits[&id].verifier);
    let second = if first == VERIFIER { OTHER } else { VERIFIER };
    let speed = |i| chain_speed(i);
    let bond_before = chain.verifier(first).bond;
    chain.ok(first, Payload::AuditDecline { job: id });
    let declined_at = chain.state.height;
    let audit = chain.state.audits[&id].clone();
    assert_eq!(audit.verifier, address(second));
    assert_eq!(audit.stage, AuditStage::Drawn);
    assert_eq!(audit.declined, vec![address(first)]);
    let audit_params = params(0).audit;
    let blocks =
        plexus_state::dispute::seal_blocks(&audit_params, MAX_FUEL, speed(second)).unwrap();
    assert_eq!(
        (audit.drawn_height, audit.due_height),
        (declined_at, declined_at + blocks)
    );
    let v = chain.verifier(first);
    assert_eq!((v.bond, v.slashed, v.open), (bond_before, 0, 0));
    assert_eq!((v.audits_declined, v.audits_missed), (1, 0));
    assert_eq!(chain.verifier(second).open, 1);
    // The first verifier is no longer its auditor.
    chain.fails(first, Payload::AuditDecline { job: id }, Reason::NotAuditor);
    assert_eq!(chain.status(&id).name(), "committed");

    // The second declines too: nobody else may take it (the provider and the consumer never
    // do), so it closes and the job settles unaudited in that block.
    chain.ok(second, Payload::AuditDecline { job: id });
    let audit = &chain.state.audits[&id];
    assert_eq!(audit.stage, AuditStage::Declined);
    assert_eq!(audit.declined, vec![address(first), address(second)]);
    assert_eq!(chain.status(&id).name(), "settled");
    for i in [VERIFIER, OTHER] {
        let v = chain.verifier(i);
        assert_eq!((v.slashed, v.open, v.audits_declined), (0, 0, 1));
    }
    assert_eq!(chain.slash_burned(), 0);
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + earned(paid())
    );

    // A canary is declined and redrawn like any audit, and closes without a slash.
    let base = params(0);
    let mut chain = Chain::with_params(Params {
        audit: AuditParams {
            canary_ppm: 1_000_000,
            ..base.audit.clone()
        },
        ..base
    });
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    chain.register_verifier(OTHER, VERIFIER_BOND);
    let (id, job) = chain.post(91, AuditClass::Standard);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let canary = canary_id(&id);
    let first = key_of(&chain.state.audits[&canary].verifier);
    let second = if first == VERIFIER { OTHER } else { VERIFIER };
    chain.ok(first, Payload::AuditDecline { job: canary });
    assert_eq!(chain.state.audits[&canary].verifier, address(second));
    chain.ok(second, Payload::AuditDecline { job: canary });
    assert_eq!(chain.state.audits[&canary].stage, AuditStage::Declined);
    // Closed canaries go with the retention of a finished job.
    chain.empty(RETENTION_BLOCKS + 1);
    assert!(!chain.state.audits.contains_key(&canary));
    assert_eq!(chain.slash_burned(), 0);
}

/// The declared speed of a test verifier (see the scenarios above).
fn chain_speed(i: u64) -> u64 {
    if i == VERIFIER {
        VERIFIER_SPEED
    } else {
        1_000_000
    }
}

/// One audit is declined at most `AUDIT_DECLINES_MAX` times: the last decline closes it even
/// while other verifiers could take it, so declining verifiers hold a settlement for a bounded
/// number of seal windows.
#[test]
fn declines_per_audit_are_capped() {
    use plexus_state::dispute::AUDIT_DECLINES_MAX;
    let mut chain = Chain::new(0);
    chain.register_provider();
    let verifiers = [VERIFIER, OTHER, OUTSIDER, 6, 7, 8];
    assert!(verifiers.len() > AUDIT_DECLINES_MAX);
    for i in verifiers {
        chain.register_verifier(i, VERIFIER_BOND);
    }
    let (id, job) = chain.post(95, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let mut decliners = Vec::new();
    for n in 0..AUDIT_DECLINES_MAX {
        let audit = chain.state.audits[&id].clone();
        assert_eq!(audit.stage, AuditStage::Drawn, "decline {n}");
        assert!(
            !decliners.contains(&audit.verifier),
            "a decliner is never drawn again"
        );
        let who = key_of(&audit.verifier);
        chain.ok(who, Payload::AuditDecline { job: id });
        decliners.push(audit.verifier);
    }
    let audit = &chain.state.audits[&id];
    assert_eq!(audit.stage, AuditStage::Declined);
    assert_eq!(audit.declined, decliners);
    assert_eq!(chain.status(&id).name(), "settled");
    let open: u32 = verifiers.iter().map(|i| chain.verifier(*i).open).sum();
    assert_eq!(open, 0);
    assert_eq!(chain.slash_burned(), 0);
}

/// Refused declines and offers: by an account that was not drawn, after sealing, at the height
/// the seal is due (the audit then lapses as before), and registrations with no speed or a
/// capacity outside `1..=VERIFIER_CAPACITY_MAX`. A registered verifier updates its speed and
/// capacity with a zero bond.
#[test]
fn bad_declines_and_verifier_offers_are_refused() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    for (speed, capacity) in [
        (0, 1),
        (VERIFIER_SPEED, 0),
        (
            VERIFIER_SPEED,
            plexus_types::audit::VERIFIER_CAPACITY_MAX + 1,
        ),
    ] {
        chain.fails(
            VERIFIER,
            verifier_register(VERIFIER_BOND, speed, capacity),
            Reason::InvalidVerifierOffer,
        );
    }
    chain.ok(
        VERIFIER,
        verifier_register(VERIFIER_BOND, VERIFIER_SPEED, 1),
    );
    // An update: no bond added, the new speed and capacity replace the old.
    chain.ok(VERIFIER, verifier_register(0, 1_000_000, 3));
    let v = chain.verifier(VERIFIER);
    assert_eq!(
        (v.bond, v.fuel_per_second, v.capacity),
        (VERIFIER_BOND, 1_000_000, 3)
    );
    chain.fails(
        VERIFIER,
        verifier_register(0, 0, 3),
        Reason::InvalidVerifierOffer,
    );

    let (id, job) = chain.post(96, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert_eq!(chain.state.audits[&id].verifier, address(VERIFIER));
    for who in [OUTSIDER, PROVIDER, CONSUMER] {
        chain.fails(who, Payload::AuditDecline { job: id }, Reason::NotAuditor);
    }
    chain.fails(
        VERIFIER,
        Payload::AuditDecline {
            job: hash(&[b"no such job"]),
        },
        Reason::NotAuditor,
    );
    // Sealed: the verdict is bound; it can only be revealed.
    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    let salt = hash(&[b"salt"]);
    let seal = audit_seal(&id, &address(VERIFIER), &verdict, &salt);
    chain.ok(VERIFIER, Payload::AuditCommit { job: id, seal });
    chain.fails(
        VERIFIER,
        Payload::AuditDecline { job: id },
        Reason::AuditClosed,
    );
    chain.ok(
        VERIFIER,
        Payload::AuditReveal {
            job: id,
            verdict,
            salt,
        },
    );
    chain.fails(
        VERIFIER,
        Payload::AuditDecline { job: id },
        Reason::AuditClosed,
    );

    // At the height its seal is due a decline is too late; the audit lapses at that block's end.
    let (late, late_job) = chain.post(97, AuditClass::Full);
    chain.commit(late, &late_job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let due = chain.state.audits[&late].due_height;
    chain.until(due - 1);
    assert_eq!(
        chain.one(VERIFIER, Payload::AuditDecline { job: late }),
        Status::Failed(Reason::DeclineTooLate)
    );
    assert_eq!(chain.state.height, due);
    assert_eq!(chain.state.audits[&late].stage, AuditStage::Missed);
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.audits_declined, v.audits_missed), (0, 1));
}

/// A slow verifier's canary can outlast the retention of the job it copies; when that job is
/// pruned the canary is withdrawn (the verifier could no longer read what to re-run): no pay, no
/// charge, and the verifier's capacity is free again.
#[test]
fn a_canary_outlasting_its_jobs_retention_is_withdrawn_without_a_charge() {
    let base = params(0);
    let mut chain = Chain::with_params(Params {
        audit: AuditParams {
            canary_ppm: 1_000_000,
            ..base.audit.clone()
        },
        ..base
    });
    chain.register_provider();
    // 10^5 fuel/s: the canary's window is 3 + 121 blocks, longer than the retention (20).
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, 100_000, 1));
    let (id, job) = chain.post(98, AuditClass::Standard);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let canary = canary_id(&id);
    let due = chain.state.audits[&canary].due_height;
    let JobStatus::Settled {
        height: settled, ..
    } = chain.status(&id).clone()
    else {
        panic!("the job settles unaudited: {:?}", chain.status(&id));
    };
    assert!(due > settled + RETENTION_BLOCKS);
    chain.until(settled + RETENTION_BLOCKS);
    assert!(!chain.state.jobs.contains_key(&id), "pruned");
    let audit = &chain.state.audits[&canary];
    assert_eq!(audit.stage, AuditStage::Withdrawn);
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.open, v.audits_missed, v.slashed), (0, 0, 0));
    // The withdrawn canary goes with the retention of a finished job too.
    chain.empty(RETENTION_BLOCKS + 1);
    assert!(!chain.state.audits.contains_key(&canary));
    assert_eq!(chain.slash_burned(), 0);
}

/// Regression (issue 12, finding 3), the incident itself: an honest verifier with room for two
/// audits is drawn for two full audits in one block. Its machine re-runs both at once, sharing
/// one core (30_000 fuel/s: each re-run of 20_000 fuel takes 1.33 s, 6 blocks of 250 ms), and
/// restarts mid-audit (down 2 blocks, then both re-runs start over). Its seals land 12 blocks
/// after the draw. The seal deadline follows the drawn fuel at its declared speed (the job's
/// max fuel, 401 blocks), so both pass and nothing is taken from it. Under the former rule
/// (response time plus the committed fuel at a fixed 10^8 fuel per block: 4 blocks here) both
/// seals came too late and both lapses took the job's value from the bond.
#[test]
fn two_full_audits_drawn_at_once_to_a_slow_restarting_verifier_both_pass() {
    const SPEED: u64 = 30_000;
    const CORES: u64 = 1;
    const DOWN_BLOCKS: u64 = 2;
    // Two re-runs of 20_000 fuel sharing one core at SPEED, in 250 ms blocks.
    let rerun_blocks = (2 * SEG_FUEL * SEGMENTS * 1_000).div_ceil(SPEED * CORES * 250);
    assert_eq!(rerun_blocks, 6);
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, SPEED, 2));
    let jobs: Vec<Synthetic> = (80..82).map(Synthetic::new).collect();
    let posts: Vec<_> = jobs
        .iter()
        .map(|job| {
            chain.replayer.jobs.insert(job.module(), *job);
            chain.tx(CONSUMER, job.post(AuditClass::Full))
        })
        .collect();
    let ids: Vec<Digest> = posts.iter().map(SignedTransaction::hash).collect();
    assert_eq!(chain.block(posts), vec![Status::Success; 2]);
    let commits: Vec<_> = ids
        .iter()
        .zip(&jobs)
        .map(|(id, job)| chain.tx(PROVIDER, job.commit(*id, Fault::Honest)))
        .collect();
    assert_eq!(chain.block(commits), vec![Status::Success; 2]);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let drawn = chain.state.height;
    for id in &ids {
        let audit = &chain.state.audits[id];
        assert_eq!(
            (&audit.verifier, audit.drawn_height),
            (&address(VERIFIER), drawn),
            "both audits drawn to the one verifier in one block"
        );
    }
    // Half-way through, the machine restarts: the re-runs in flight are lost and start over.
    chain.empty(rerun_blocks / 2 + DOWN_BLOCKS + rerun_blocks);
    let salt = hash(&[b"salt", b"two at once"]);
    let verdicts: Vec<Verdict> = jobs
        .iter()
        .map(|job| Verdict::Full(job.commitment(Fault::Honest)))
        .collect();
    let seals: Vec<_> = ids
        .iter()
        .zip(&verdicts)
        .map(|(id, verdict)| {
            let seal = audit_seal(id, &address(VERIFIER), verdict, &salt);
            chain.tx(VERIFIER, Payload::AuditCommit { job: *id, seal })
        })
        .collect();
    assert_eq!(
        chain.block(seals),
        vec![Status::Success; 2],
        "both seals land before their deadlines: {:?}",
        ids.iter()
            .map(|id| chain.state.audits[id].due_height)
            .collect::<Vec<_>>()
    );
    let reveals: Vec<_> = ids
        .iter()
        .zip(verdicts)
        .map(|(id, verdict)| {
            chain.tx(
                VERIFIER,
                Payload::AuditReveal {
                    job: *id,
                    verdict,
                    salt,
                },
            )
        })
        .collect();
    assert_eq!(chain.block(reveals), vec![Status::Success; 2]);
    for id in &ids {
        assert_eq!(chain.state.audits[id].stage, AuditStage::Passed);
    }
    chain.empty(SETTLEMENT_WINDOW_BLOCKS + 1);
    for id in &ids {
        assert_eq!(chain.status(id).name(), "settled");
    }
    let v = chain.verifier(VERIFIER);
    assert_eq!(
        (v.audits_done, v.audits_missed, v.slashed, v.bond),
        (2, 0, 0, VERIFIER_BOND),
        "an honest verifier lost its bond to load"
    );
    assert_eq!(chain.slash_burned(), 0);
}

/// A snapshot mid-dispute (a provider, a job, a verifier, its audit and a dissection game
/// awaiting a choice) meets mutated and truncated bytes: the decoder returns an error or a state
/// that round-trips, never a panic. State sync will feed it bytes from a peer; the fuzz target
/// `decode_snapshot` searches further.
#[test]
fn a_snapshot_mid_dispute_survives_mutated_bytes() {
    use commonware_codec::Copying;
    use rand::{RngExt as _, SeedableRng as _};
    use rand_chacha::ChaCha8Rng;

    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let fault = Fault::From(SEGMENTS / 2);
    let (id, job, _) = chain.audited(7, fault, Fault::Honest);
    let reveal = job
        .trace(fault)
        .respond(&chain.state.disputes[&id].game)
        .unwrap()
        .unwrap();
    chain.ok(
        PROVIDER,
        Payload::DisputeMove {
            job: id,
            step: reveal,
        },
    );
    assert!(matches!(
        chain.state.disputes[&id].game.phase(),
        Phase::AwaitingChoice { .. }
    ));
    let bytes = chain.state.encode().to_vec();
    assert_eq!(State::decode(Copying(&bytes[..])).unwrap(), chain.state);

    let seed = 13;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // The market and FuelTrace records are encoded last: half the mutations land among them.
    let tail = bytes.len().saturating_sub(4_096);
    for case in 0..1_000 {
        let start = if case % 2 == 0 { 0 } else { tail };
        let at = rng.random_range(start..bytes.len());
        let mut mutated = bytes.clone();
        mutated[at] = rng.random();
        for candidate in [&mutated[..], &mutated[..at]] {
            if let Ok(state) = State::decode(Copying(candidate)) {
                let again = State::decode(state.encode()).unwrap_or_else(|err| {
                    panic!("seed {seed} case {case} byte {at}: accepted, then refused: {err}")
                });
                assert_eq!(again, state, "seed {seed} case {case} byte {at}");
            }
        }
    }
}
