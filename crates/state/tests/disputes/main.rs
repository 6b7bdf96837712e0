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
//!
//! This file is the harness (the parameters, the synthetic jobs, the replayer and [`Chain`]);
//! the scenarios are by what they test: `verifiers.rs` (the registry and the audit load: draws,
//! capacity, seal deadlines, declines), `audits.rs` (audits that end without a game, light
//! audits, canaries), `games.rs` (dissection games to their end) and `determinism.rs`.

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

mod audits;
mod determinism;
mod games;
mod verifiers;

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
    ///
    /// What else the state may hold is the same block with a transfer of nothing from the same
    /// sender in its place (it fails too, so it only charges the fee and the nonce): the ledger's
    /// accounts are written only by its value moves, so the expected state is made by a block.
    fn fails(&mut self, from: u64, payload: Payload, reason: Reason) {
        let before = self.state.clone();
        let mut control = self.clone();
        let name = payload.kind();
        assert_eq!(
            self.one(from, payload),
            Status::Failed(reason),
            "{name} from {from}"
        );
        let nothing = Payload::Transfer {
            to: address(from),
            amount: 0,
        };
        assert_eq!(
            control.one(from, nothing),
            Status::Failed(Reason::ZeroAmount)
        );
        let after = &self.state;
        let sender = address(from);
        let (was, charged) = (before.account(&sender), after.account(&sender));
        assert_eq!(
            (charged.balance, charged.nonce),
            (was.balance - FEE, was.nonce + 1),
            "{name} from {from}: the fee and the nonce"
        );
        assert_eq!(after.supply.burned(), before.supply.burned() + FEE);
        let mut expected = control.state;
        expected.height = after.height;
        expected.block_hash = after.block_hash;
        expected.timestamp_ms = after.timestamp_ms;
        expected.beacon = after.beacon;
        expected.recent_blocks = after.recent_blocks.clone();
        let changed: Vec<&str> = [
            ("accounts", after.accounts() == expected.accounts()),
            ("supply", after.supply == expected.supply),
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

/// The key index of a test address.
fn key_of(who: &Address) -> u64 {
    (0..KEYS as u64)
        .find(|i| address(*i) == *who)
        .expect("a test key")
}

/// The declared speed of a test verifier (`verifiers.rs`).
fn chain_speed(i: u64) -> u64 {
    if i == VERIFIER {
        VERIFIER_SPEED
    } else {
        1_000_000
    }
}
