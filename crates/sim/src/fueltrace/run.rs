//! One seed of the scenario: registrations, then blocks in which consumers post jobs, providers
//! commit, the drawn verifiers seal and reveal, and disputes are played move by move and
//! settled, until every job has ended; then the checks and the tally.

use super::chain::{Chain, address};
use super::job::{INPUT_BYTES, MAX_FUEL, Trace, Work, digest_hex};
use super::roles::{
    Claim, ProviderKind, VerifierKind, challenger_move, defender_move, light_audit, no_manifest,
};
use plexus_state::audit::AuditParams;
use plexus_state::dispute::{Audit, AuditKind, AuditStage, Dispute, DisputeEnd};
use plexus_state::{JobStatus, Params};
use plexus_types::audit::{Verdict, audit_seal};
// Moves to `plexus_fueltrace::dissection` (issue 13).
use plexus_fueltrace::dissection::Role;
use plexus_types::ContentHash;
use plexus_types::job::{AuditClass, Commitment, ResourceProfile};
use plexus_types::{Address, Amount, Digest, PLX, Payload, Status, hash};
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Providers by key: two honest ones and one of each kind of cheater.
const PROVIDERS: [(u64, ProviderKind); 5] = [
    (1, ProviderKind::Honest),
    (2, ProviderKind::Honest),
    (3, ProviderKind::Lazy),
    (4, ProviderKind::BillInflator),
    (5, ProviderKind::TargetedCorrupter),
];
/// Verifiers by key, with their bonds: the draw goes by bond, so the honest one is drawn for
/// two audits in three.
const VERIFIERS: [(u64, VerifierKind, Amount); 2] = [
    (6, VerifierKind::Honest, 2_000 * PLX),
    (7, VerifierKind::Lazy, 1_000 * PLX),
];
const CONSUMERS: [u64; 2] = [8, 9];
/// Keys `0..KEYS` are funded (key 0 is the validator).
const KEYS: u64 = 10;
/// Blocks in which consumers post, and jobs per block.
const POST_BLOCKS: u64 = 30;
const JOBS_PER_BLOCK: u64 = 2;
/// A run that has not drained by this height is stuck: a failure.
const BLOCKS_MAX: u64 = 400;
/// Blocks between the providers' heartbeats (the chain's interval is 20).
const HEARTBEAT_EVERY_BLOCKS: u64 = 10;
/// Every provider's ask and every consumer's cap, base units per million fuel.
const ASK_PER_MFUEL: Amount = 1_000_000;
const CAP_PER_MFUEL: Amount = 2_000_000;
/// One job in this many buys a full audit.
const FULL_AUDIT_BOUGHT_ONE_IN: u64 = 10;

/// The chain's parameters with audits frequent enough that every kind of cheater meets them:
/// light audits of two segments and the last, full audits, canaries.
pub(super) fn params() -> Params {
    Params {
        audit: AuditParams {
            seg_fuel: super::job::SEG_FUEL,
            light_audit_ppm: 450_000,
            full_audit_ppm: 250_000,
            light_audit_segments: 2,
            dissection_arity: 4,
            response_blocks: 4,
            canary_ppm: 150_000,
            ..AuditParams::default()
        },
        job_deadline_min_blocks: 10,
        ..Params::default()
    }
}

/// What one seed found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuelTraceOutcome {
    pub seed: u64,
    pub blocks: u64,
    pub jobs: u64,
    /// Jobs whose commitment was wrong.
    pub cheating_jobs: u64,
    /// Cheating jobs an honest verifier's audit covered (a full audit, or a light one that drew
    /// a wrong segment), and of them those refuted with the provider slashed: always all.
    pub cheaters_audited: u64,
    pub cheaters_refuted: u64,
    /// Cheating jobs that settled: no audit, the lazy verifier's, or a light audit that missed.
    pub cheaters_unaudited: u64,
    /// Cheating jobs refuted, by kind: lazy, bill inflator, targeted corrupter.
    pub refuted_by_kind: [u64; 3],
    pub disputes: u64,
    /// Disputes ended by the validators' re-run of one segment, and by a lapsed step.
    pub disputes_replayed: u64,
    pub disputes_lapsed: u64,
    /// Canaries drawn, those drawn to the lazy verifier, and those it passed (each slashed).
    pub canaries: u64,
    pub lazy_canaries: u64,
    pub lazy_canaries_passed: u64,
    pub lazy_verifier_slashed: Amount,
    /// Slashes of honest providers and of the honest verifier: always 0.
    pub honest_slashed: u64,
    /// The final state root, hex.
    pub state_root: String,
}

/// Runs one seed; `Err` names the seed and what broke.
pub fn run(seed: u64) -> Result<FuelTraceOutcome, String> {
    let work = Work::new()?;
    let mut run = Run::new(seed, &work)?;
    run.play()
        .map_err(|err| format!("fueltrace seed {seed}: {err}"))?;
    run.outcome()
        .map_err(|err| format!("fueltrace seed {seed}: {err}"))
}

/// A posted job as the run knows it.
struct Posted {
    input: Vec<u8>,
    /// The provider key and kind it was matched with, and what it committed to.
    claim: Option<(u64, ProviderKind, Claim)>,
}

struct Run<'a> {
    seed: u64,
    work: &'a Work,
    /// Leaf 0: the instantiated module, the same for every input.
    leaf0: (u64, ContentHash),
    module: ContentHash,
    chain: Chain,
    rng: ChaCha8Rng,
    jobs: BTreeMap<Digest, Posted>,
    /// The honest verifier's own runs, by job.
    own: BTreeMap<Digest, Trace>,
    /// Sealed verdicts and salts, by (audit, drawn height), until revealed.
    sealed: BTreeMap<(Digest, u64), (Verdict, Digest)>,
    /// Each job's audit when it was drawn: its kind and verifier.
    audits: BTreeMap<Digest, (AuditKind, Address)>,
    /// Every canary drawn, and its verifier.
    canaries: BTreeMap<Digest, Address>,
    settling: BTreeSet<Digest>,
    disputes: BTreeSet<Digest>,
}

impl<'a> Run<'a> {
    fn new(seed: u64, work: &'a Work) -> Result<Self, String> {
        let chain = Chain::new(seed, params(), KEYS)?;
        let module = chain.put(&work.wasm)?;
        let first = work.run(&hash(&[b"plexus/sim/fueltrace/leaf0"]), &[0; INPUT_BYTES])?;
        let leaf0 = first.leaves()[0];
        let key = hash(&[b"plexus/sim/fueltrace/run".as_slice(), &seed.to_le_bytes()]);
        Ok(Run {
            seed,
            work,
            leaf0,
            module,
            chain,
            rng: ChaCha8Rng::from_seed(key.0),
            jobs: BTreeMap::new(),
            own: BTreeMap::new(),
            sealed: BTreeMap::new(),
            audits: BTreeMap::new(),
            canaries: BTreeMap::new(),
            settling: BTreeSet::new(),
            disputes: BTreeSet::new(),
        })
    }

    /// Blocks until every job has ended and nothing is open.
    fn play(&mut self) -> Result<(), String> {
        let registered = self.chain.block(registrations())?;
        if registered
            .iter()
            .any(|(_, status)| *status != Status::Success)
        {
            return Err(format!("a registration failed: {registered:?}"));
        }
        loop {
            let height = self.chain.state.height + 1;
            if height > BLOCKS_MAX {
                return Err(format!("not drained after {BLOCKS_MAX} blocks"));
            }
            let mut payloads = self.market(height)?;
            payloads.extend(self.verifiers()?);
            payloads.extend(self.dispute_moves()?);
            let posts: Vec<Vec<u8>> = self.post(height, &mut payloads)?;
            let hashes = self.block(payloads)?;
            for (id, input) in hashes.into_iter().zip(posts) {
                self.jobs.insert(id, Posted { input, claim: None });
            }
            self.observe();
            if height > POST_BLOCKS && self.drained() {
                return Ok(());
            }
        }
    }

    /// Builds the block; returns the ids of the jobs it posted, in order. An honest party's
    /// transaction that fails is a failure of the run.
    fn block(&mut self, payloads: Vec<(u64, Payload)>) -> Result<Vec<Digest>, String> {
        let results = self.chain.block(payloads.clone())?;
        let mut posted = Vec::new();
        for ((from, payload), (hash, status)) in payloads.iter().zip(results) {
            if is_honest(*from) && status != Status::Success {
                return Err(format!(
                    "block {}: an honest party's {} failed: {status:?}",
                    self.chain.state.height,
                    payload.kind()
                ));
            }
            if matches!(payload, Payload::JobPost { .. }) {
                posted.push(hash);
            }
        }
        Ok(posted)
    }

    /// The consumers' posts this block (inputs uploaded first, as `plexus job run` does);
    /// returns their inputs in posting order.
    fn post(
        &mut self,
        height: u64,
        payloads: &mut Vec<(u64, Payload)>,
    ) -> Result<Vec<Vec<u8>>, String> {
        if height > POST_BLOCKS {
            return Ok(Vec::new());
        }
        let mut inputs = Vec::new();
        for n in 0..JOBS_PER_BLOCK {
            let input: Vec<u8> = (0..INPUT_BYTES).map(|_| self.rng.random()).collect();
            let audit = if self.rng.random_range(0..FULL_AUDIT_BOUGHT_ONE_IN) == 0 {
                AuditClass::Full
            } else {
                AuditClass::Standard
            };
            payloads.push((
                CONSUMERS[n as usize % CONSUMERS.len()],
                Payload::JobPost {
                    module: self.module,
                    blobs: Vec::new(),
                    input: self.chain.put(&input)?,
                    max_fuel: MAX_FUEL,
                    price_cap_per_mfuel: CAP_PER_MFUEL,
                    audit,
                    deadline_blocks: 20,
                },
            ));
            inputs.push(input);
        }
        Ok(inputs)
    }

    /// The providers' heartbeats and their commitments to the jobs matched to them.
    fn market(&mut self, height: u64) -> Result<Vec<(u64, Payload)>, String> {
        let mut payloads = Vec::new();
        if height.is_multiple_of(HEARTBEAT_EVERY_BLOCKS) {
            payloads.extend(PROVIDERS.map(|(key, _)| (key, Payload::ProviderHeartbeat)));
        }
        let assigned: Vec<(Digest, Address)> = self
            .chain
            .state
            .jobs
            .iter()
            .filter_map(|(id, job)| match &job.status {
                JobStatus::Assigned(a) => Some((*id, a.provider.clone())),
                _ => None,
            })
            .collect();
        for (id, provider) in assigned {
            let Some(posted) = self.jobs.get_mut(&id) else {
                continue;
            };
            let Some(&(key, kind)) = PROVIDERS.iter().find(|(k, _)| address(*k) == provider) else {
                continue;
            };
            if posted.claim.is_some() {
                continue;
            }
            let claim = kind.claim(self.work, &id, &posted.input, self.leaf0)?;
            payloads.push((key, commit_payload(id, &claim.commitment)));
            posted.claim = Some((key, kind, claim));
        }
        Ok(payloads)
    }
}

/// Whether key `key` is an honest party: an honest provider, the honest verifier, a consumer.
fn is_honest(key: u64) -> bool {
    PROVIDERS
        .iter()
        .any(|&(k, kind)| k == key && kind == ProviderKind::Honest)
        || VERIFIERS
            .iter()
            .any(|&(k, kind, _)| k == key && kind == VerifierKind::Honest)
        || CONSUMERS.contains(&key)
}

/// Every provider and verifier registers in the first block.
fn registrations() -> Vec<(u64, Payload)> {
    let mut payloads: Vec<(u64, Payload)> = PROVIDERS
        .iter()
        .map(|&(key, _)| {
            (
                key,
                Payload::ProviderRegister {
                    endpoint: format!("http://provider-{key}.sim"),
                    profile: ResourceProfile {
                        cores: 100_000,
                        ..ResourceProfile::default()
                    },
                    fuel_per_second: 1_000_000_000,
                    ask_per_mfuel: ASK_PER_MFUEL,
                    bond: 10_000 * PLX,
                },
            )
        })
        .collect();
    payloads.extend(VERIFIERS.iter().map(|&(key, _, bond)| {
        (
            key,
            Payload::VerifierRegister {
                bond,
                fuel_per_second: 1_000_000_000,
                capacity: plexus_types::audit::VERIFIER_CAPACITY_MAX,
            },
        )
    }));
    payloads
}

fn commit_payload(id: Digest, commitment: &Commitment) -> Payload {
    Payload::JobCommit {
        job: id,
        output_hash: commitment.output_hash,
        total_fuel: commitment.total_fuel,
        segments: commitment.segments,
        trace_root: commitment.trace_root,
        failed: commitment.failed,
    }
}

/// What an audit shows its verifier: the job it re-runs (a canary's copy of another) and the
/// commitment to judge (a canary's claim, or the job's).
fn shown(state: &plexus_state::State, id: &Digest, audit: &Audit) -> Option<(Digest, Commitment)> {
    match &audit.canary {
        Some(canary) => Some((canary.of, canary.claim.clone())),
        None => state
            .jobs
            .get(id)
            .and_then(|job| job.status.commitment())
            .map(|c| (*id, c.clone())),
    }
}

impl Run<'_> {
    /// The honest verifier's own run of job `id` (made once).
    fn own_run(&mut self, id: &Digest) -> Result<&Trace, String> {
        if !self.own.contains_key(id) {
            let input = &self
                .jobs
                .get(id)
                .ok_or_else(|| format!("unknown job {}", digest_hex(id)))?
                .input;
            let trace = self.work.run(id, input)?;
            self.own.insert(*id, trace);
        }
        Ok(&self.own[id])
    }

    /// Each verifier's seal or reveal for every open audit drawn to it.
    fn verifiers(&mut self) -> Result<Vec<(u64, Payload)>, String> {
        let mut payloads = Vec::new();
        for (key, kind, _) in VERIFIERS {
            let me = address(key);
            let open: Vec<(Digest, Audit)> = self
                .chain
                .state
                .audits
                .iter()
                .filter(|(_, audit)| audit.verifier == me && audit.is_open())
                .map(|(id, audit)| (*id, audit.clone()))
                .collect();
            for (id, audit) in open {
                let slot = (id, audit.drawn_height);
                match audit.stage {
                    AuditStage::Drawn if !self.sealed.contains_key(&slot) => {
                        let verdict = self.verdict(kind, &id, &audit)?;
                        let salt =
                            hash(&[b"plexus/sim/fueltrace/salt", id.as_ref(), me.0.as_ref()]);
                        let seal = audit_seal(&id, &me, &verdict, &salt);
                        self.sealed.insert(slot, (verdict, salt));
                        payloads.push((key, Payload::AuditCommit { job: id, seal }));
                    }
                    AuditStage::Sealed { .. } => {
                        if let Some((verdict, salt)) = self.sealed.remove(&slot) {
                            payloads.push((
                                key,
                                Payload::AuditReveal {
                                    job: id,
                                    verdict,
                                    salt,
                                },
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(payloads)
    }

    /// Verifier `kind`'s verdict on audit `id`.
    fn verdict(
        &mut self,
        kind: VerifierKind,
        id: &Digest,
        audit: &Audit,
    ) -> Result<Verdict, String> {
        let (job, shown) = shown(&self.chain.state, id, audit)
            .ok_or_else(|| format!("audit {} shows no commitment", digest_hex(id)))?;
        if kind == VerifierKind::Lazy {
            return Ok(kind.verdict(&audit.kind, &shown, None, |_| None));
        }
        self.own_run(&job)?;
        let posted = self
            .jobs
            .get(&job)
            .ok_or_else(|| format!("unknown job {}", digest_hex(&job)))?;
        let exec_job = self.work.job(&job, &posted.input);
        let claim = posted.claim.as_ref().map(|(_, _, claim)| claim);
        let work = self.work;
        Ok(
            kind.verdict(&audit.kind, &shown, self.own.get(&job), |segments| {
                claim.and_then(|claim| light_audit(work, &exec_job, claim, segments))
            }),
        )
    }
}

impl Run<'_> {
    /// Every open dispute's next step: a settlement once the game is resolved (by the
    /// challenger from its own checkpoint, else by the defender from its own; by nobody when
    /// neither holds the agreed pre-state, so the provider loses at the deadline), else the
    /// move of the side whose turn it is, by its strategy.
    fn dispute_moves(&mut self) -> Result<Vec<(u64, Payload)>, String> {
        let open: Vec<(Digest, Dispute)> = self
            .chain
            .state
            .disputes
            .iter()
            .filter(|(_, dispute)| dispute.ruling.is_none())
            .map(|(id, dispute)| (*id, dispute.clone()))
            .collect();
        let mut payloads = Vec::new();
        for (id, dispute) in open {
            self.disputes.insert(id);
            let challenger = VERIFIERS
                .iter()
                .find(|(key, _, _)| address(*key) == dispute.challenger)
                .map(|(key, _, _)| *key)
                .ok_or_else(|| format!("dispute {} by a stranger", digest_hex(&id)))?;
            self.own_run(&id)?;
            let posted = self.jobs.get(&id).ok_or("a dispute over an unknown job")?;
            let (defender, _, claim) = posted.claim.as_ref().ok_or("a dispute over no claim")?;
            let own = &self.own[&id];
            if let Some((lo, _)) = dispute.game.resolved() {
                if !self.settling.insert(id) {
                    continue;
                }
                let held = |checkpoints: &plexus_exec::MemoryCheckpoints| {
                    checkpoints.checkpoints.iter().any(|c| {
                        c.index == lo.index && c.fuel == lo.fuel && c.state_root() == lo.state_root
                    })
                };
                let settler = if lo.index == 0 {
                    Some((challenger, no_manifest()))
                } else if held(&own.checkpoints) {
                    self.chain
                        .upload_pre_state(&own.checkpoints, lo.index)?
                        .map(|manifest| (challenger, manifest))
                } else if held(&claim.checkpoints) {
                    self.chain
                        .upload_pre_state(&claim.checkpoints, lo.index)?
                        .map(|manifest| (*defender, manifest))
                } else {
                    None
                };
                if let Some((key, manifest)) = settler {
                    payloads.push((key, Payload::DisputeSettle { job: id, manifest }));
                }
                continue;
            }
            let step = match dispute.game.to_move() {
                Some(Role::Defender) => {
                    defender_move(&dispute.game, claim).map(|step| (*defender, step))
                }
                Some(Role::Challenger) => {
                    challenger_move(&dispute.game, own).map(|step| (challenger, step))
                }
                None => None,
            };
            if let Some((key, step)) = step {
                payloads.push((key, Payload::DisputeMove { job: id, step }));
            }
        }
        Ok(payloads)
    }

    /// Notes each job's audit as drawn, and the canaries.
    fn observe(&mut self) {
        for (id, audit) in &self.chain.state.audits {
            if audit.canary.is_some() {
                self.canaries.insert(*id, audit.verifier.clone());
            } else if self.jobs.contains_key(id) && !self.audits.contains_key(id) {
                self.audits
                    .insert(*id, (audit.kind.clone(), audit.verifier.clone()));
            }
        }
    }

    /// Whether every posted job has ended and no audit or dispute is open.
    fn drained(&self) -> bool {
        let state = &self.chain.state;
        self.jobs.keys().all(|id| {
            state
                .jobs
                .get(id)
                .is_some_and(|job| job.status.finished_height().is_some())
        }) && state.audits.values().all(|audit| !audit.is_open())
            && state.disputes.values().all(|d| d.ruling.is_some())
    }

    /// The checks on the final state, and the tally.
    fn outcome(&self) -> Result<FuelTraceOutcome, String> {
        let state = &self.chain.state;
        let honest_verifier = address(VERIFIERS[0].0);
        let mut out = FuelTraceOutcome {
            seed: self.seed,
            blocks: state.height,
            jobs: self.jobs.len() as u64,
            cheating_jobs: 0,
            cheaters_audited: 0,
            cheaters_refuted: 0,
            cheaters_unaudited: 0,
            refuted_by_kind: [0; 3],
            disputes: self.disputes.len() as u64,
            disputes_replayed: 0,
            disputes_lapsed: 0,
            canaries: self.canaries.len() as u64,
            lazy_canaries: 0,
            lazy_canaries_passed: 0,
            lazy_verifier_slashed: 0,
            honest_slashed: 0,
            state_root: plexus_types::hash::digest_hex(&state.root()),
        };
        for (id, posted) in &self.jobs {
            let Some((_, kind, claim)) = &posted.claim else {
                continue;
            };
            let status = &state.jobs[id].status;
            let refuted = matches!(status, JobStatus::Refuted { slashed, .. } if *slashed > 0);
            if claim.faulty.is_empty() {
                if refuted {
                    return Err(format!(
                        "the {kind:?} provider's honest job {} was refuted",
                        digest_hex(id)
                    ));
                }
                continue;
            }
            out.cheating_jobs += 1;
            let covered = self.audits.get(id).is_some_and(|(audit, verifier)| {
                *verifier == honest_verifier
                    && match audit {
                        AuditKind::Full => true,
                        AuditKind::Light { segments } => {
                            segments.iter().any(|s| claim.faulty.contains(s))
                        }
                    }
            });
            if covered && !refuted {
                return Err(format!(
                    "the {kind:?} provider's wrong job {} was audited ({:?}) and ended {}",
                    digest_hex(id),
                    self.audits.get(id).map(|(audit, _)| audit),
                    status.name()
                ));
            }
            if covered || refuted {
                out.cheaters_audited += 1;
                out.cheaters_refuted += u64::from(refuted);
                let kind_index = match kind {
                    ProviderKind::Lazy => 0,
                    ProviderKind::BillInflator => 1,
                    _ => 2,
                };
                out.refuted_by_kind[kind_index] += u64::from(refuted);
            } else {
                out.cheaters_unaudited += 1;
            }
        }
        for ruling in state.disputes.values().filter_map(|d| d.ruling.as_ref()) {
            match ruling.end {
                DisputeEnd::Replay => out.disputes_replayed += 1,
                DisputeEnd::Timeout => out.disputes_lapsed += 1,
            }
        }
        self.parties(&mut out)?;
        Ok(out)
    }

    /// The honest parties' records (never slashed, never a lost dispute) and the lazy
    /// verifier's canaries.
    fn parties(&self, out: &mut FuelTraceOutcome) -> Result<(), String> {
        let state = &self.chain.state;
        for (key, kind) in PROVIDERS {
            let slashed = state.providers.get(&address(key)).map_or(0, |p| p.slashed);
            if kind == ProviderKind::Honest && slashed > 0 {
                out.honest_slashed += 1;
                return Err(format!("honest provider {key} was slashed {slashed}"));
            }
        }
        for (key, kind, _) in VERIFIERS {
            let verifier = state
                .verifiers
                .get(&address(key))
                .cloned()
                .unwrap_or_default();
            match kind {
                VerifierKind::Honest if verifier.slashed > 0 || verifier.disputes_lost > 0 => {
                    out.honest_slashed += 1;
                    return Err(format!(
                        "the honest verifier was slashed {} (disputes lost {}, canaries passed {})",
                        verifier.slashed, verifier.disputes_lost, verifier.canaries_passed
                    ));
                }
                VerifierKind::Honest => {}
                VerifierKind::Lazy => {
                    let me = address(key);
                    out.lazy_canaries = self.canaries.values().filter(|v| **v == me).count() as u64;
                    out.lazy_canaries_passed = verifier.canaries_passed;
                    out.lazy_verifier_slashed = verifier.slashed;
                    // A verifier that agrees without re-running is caught by every canary.
                    if verifier.canaries_passed != out.lazy_canaries
                        || (out.lazy_canaries > 0) != (verifier.slashed > 0)
                    {
                        return Err(format!(
                            "the lazy verifier passed {} of its {} canaries, slashed {}",
                            verifier.canaries_passed, out.lazy_canaries, verifier.slashed
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
