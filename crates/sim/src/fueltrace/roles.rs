//! What each party of the scenario does: the providers' commitments (honest, lazy, bill
//! inflator, targeted corrupter), the verifiers' verdicts (honest, lazy), and their dispute moves
//! by the real role strategies.

use super::job::{MAX_FUEL, SEG_FUEL, Trace, Work, trace_root};
use plexus_exec::{MemoryCheckpoints, PageSource as _};
use plexus_fueltrace::dissection::{Dissection, Move, RevealedLeaf};
use plexus_state::dispute::{AuditKind, transition_holds};
use plexus_types::ContentHash;
use plexus_types::Digest;
use plexus_types::audit::Verdict;
use plexus_types::job::Commitment;

use plexus_fueltrace::challenger::challenge;
use plexus_fueltrace::defender::defend;
// The chain's view of a re-run segment, made from an execution outcome.
use plexus_exec::honest::replayed;

/// How a provider treats the jobs it is matched with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProviderKind {
    /// Runs the job and commits to what it got.
    Honest,
    /// Commits without running: a fabricated trace (only leaf 0, the instantiated module that
    /// any input shares, is real) and an output nobody computed.
    Lazy,
    /// Runs honestly and claims a quarter more fuel than it used: the last leaf's fuel.
    BillInflator,
    /// On some inputs (an even third byte) runs the job on another input: a real trace of the
    /// wrong computation, wrong from segment 0 on, and a wrong output.
    TargetedCorrupter,
}

/// How a verifier treats the audits drawn to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum VerifierKind {
    /// Re-runs what it is drawn for and says what it finds.
    Honest,
    /// Seals agreement without re-running anything.
    Lazy,
}

/// What a provider committed to for one job, and what it can serve of it.
pub(super) struct Claim {
    pub(super) commitment: Commitment,
    /// Its leaves `(fuel, state_root)`, served to verifiers and played from in a dispute.
    pub(super) leaves: Vec<(u64, ContentHash)>,
    /// The checkpoints it really holds (none for a fabricated trace).
    pub(super) checkpoints: MemoryCheckpoints,
    /// The segments whose post leaf is not what re-running the segment from its pre leaf
    /// gives: empty for an honest claim.
    pub(super) faulty: Vec<u64>,
}

impl ProviderKind {
    /// What a provider of this kind commits to for job `id` on `input`. `leaf0` is the
    /// instantiated module's leaf (the same for every input).
    pub(super) fn claim(
        self,
        work: &Work,
        id: &Digest,
        input: &[u8],
        leaf0: (u64, ContentHash),
    ) -> Result<Claim, String> {
        match self {
            ProviderKind::Honest => Ok(honest(work.run(id, input)?)),
            ProviderKind::Lazy => Ok(fabricated(id, leaf0)),
            ProviderKind::BillInflator => Ok(inflated(work.run(id, input)?)),
            ProviderKind::TargetedCorrupter if input[2].is_multiple_of(2) => {
                let mut other = input.to_vec();
                other[1] ^= 0x5a;
                let mut claim = honest(work.run(id, &other)?);
                claim.faulty = vec![0];
                Ok(claim)
            }
            ProviderKind::TargetedCorrupter => Ok(honest(work.run(id, input)?)),
        }
    }
}

fn honest(trace: Trace) -> Claim {
    Claim {
        commitment: trace.commitment(),
        leaves: trace.leaves(),
        checkpoints: trace.checkpoints,
        faulty: Vec::new(),
    }
}

/// Six segments of invented states at whole segments of fuel, after the real leaf 0: a light
/// audit may miss segment 0, so its dispute opens on a fabricated pre-state nobody can upload.
fn fabricated(id: &Digest, leaf0: (u64, ContentHash)) -> Claim {
    const SEGMENTS: u64 = 6;
    let mut leaves = vec![leaf0];
    leaves.extend((1..=SEGMENTS).map(|i| {
        let root = ContentHash::of(&[id.as_ref(), &i.to_le_bytes()].concat());
        (i * SEG_FUEL, root)
    }));
    let output = ContentHash::of_parts(&[b"plexus/sim/fueltrace/lazy-output", id.as_ref()]);
    Claim {
        commitment: Commitment {
            output_hash: output,
            total_fuel: SEGMENTS * SEG_FUEL,
            segments: SEGMENTS as u32,
            trace_root: trace_root(&leaves),
            failed: false,
        },
        leaves,
        checkpoints: MemoryCheckpoints::default(),
        faulty: (0..SEGMENTS).collect(),
    }
}

/// The honest trace with a quarter more fuel on the last leaf (fuel is cumulative, so the bill
/// shows only there), within the job's `max_fuel`.
fn inflated(trace: Trace) -> Claim {
    let mut claim = honest(trace);
    let last = claim.leaves.len() - 1;
    let fuel = claim.commitment.total_fuel;
    let claimed = (fuel + fuel / 4).min(MAX_FUEL);
    claim.leaves[last].0 = claimed;
    claim.commitment.total_fuel = claimed;
    claim.commitment.trace_root = trace_root(&claim.leaves);
    claim.faulty = vec![last as u64 - 1];
    claim
}

/// The provider's checkpoint `index` as it serves it: only one matching its own leaf.
fn served(claim: &Claim, index: u64) -> Option<&plexus_exec::Checkpoint> {
    let (fuel, root) = *claim.leaves.get(usize::try_from(index).ok()?)?;
    claim
        .checkpoints
        .checkpoints
        .iter()
        .find(|c| c.index == index && c.fuel == fuel && c.state_root() == root)
}

/// An honest light audit: each drawn segment re-run from the provider's own checkpoint (segment
/// 0 from the module) and its post leaf compared as the chain compares it. Returns the first
/// segment that fails, or whose pre-state the provider does not serve.
pub(super) fn light_audit(
    work: &Work,
    job: &plexus_exec::Job,
    claim: &Claim,
    segments: &[u64],
) -> Option<u64> {
    segments.iter().copied().find(|&segment| {
        let outcome = if segment == 0 {
            plexus_exec::replay_first_segment(&work.engine, job)
                .ok()
                .flatten()
        } else {
            served(claim, segment).and_then(|pre| {
                plexus_exec::replay_segment(&work.engine, job, pre, &claim.checkpoints).ok()
            })
        };
        let post = usize::try_from(segment + 1)
            .ok()
            .and_then(|i| claim.leaves.get(i));
        match (outcome, post) {
            (Some(outcome), Some(&(fuel, state_root))) => {
                let hi = RevealedLeaf {
                    index: segment + 1,
                    fuel,
                    state_root,
                };
                !transition_holds(&claim.commitment, &hi, &replayed(&outcome))
            }
            _ => true,
        }
    })
}

impl VerifierKind {
    /// This verifier's verdict on an audit of `kind` of a commitment `shown` (a canary's claim,
    /// or the job's commitment), with `own` its honest re-run of the job (the lazy verifier
    /// never makes one) and `claim` what the provider serves.
    pub(super) fn verdict(
        self,
        kind: &AuditKind,
        shown: &Commitment,
        own: Option<&Trace>,
        light: impl FnOnce(&[u64]) -> Option<u64>,
    ) -> Verdict {
        match (self, kind) {
            (VerifierKind::Lazy, AuditKind::Full) => Verdict::Full(shown.clone()),
            (VerifierKind::Lazy, AuditKind::Light { .. }) => Verdict::Light { disputed: None },
            (VerifierKind::Honest, AuditKind::Full) => {
                Verdict::Full(own.map_or_else(|| shown.clone(), Trace::commitment))
            }
            (VerifierKind::Honest, AuditKind::Light { segments }) => Verdict::Light {
                disputed: light(segments),
            },
        }
    }
}

/// The defender's next move from its claimed leaves (`None` when it is not its turn or the
/// game refuses its own trace).
pub(super) fn defender_move(game: &Dissection, claim: &Claim) -> Option<Move> {
    defend(game, &claim.leaves).ok().flatten()
}

/// The challenger's next move from its honest leaves.
pub(super) fn challenger_move(game: &Dissection, own: &Trace) -> Option<Move> {
    challenge(game, &own.leaves())
}

/// The page bytes of checkpoint `index` of `checkpoints`, in page order, and the checkpoint.
pub(super) fn pre_state(
    checkpoints: &MemoryCheckpoints,
    index: u64,
) -> Option<(&plexus_exec::Checkpoint, Vec<Vec<u8>>)> {
    let checkpoint = checkpoints.checkpoints.iter().find(|c| c.index == index)?;
    let pages = checkpoint
        .pages
        .iter()
        .map(|hash| {
            checkpoints
                .page(hash)
                .ok()
                .flatten()
                .map(|bytes| bytes.into_owned())
        })
        .collect::<Option<Vec<_>>>()?;
    Some((checkpoint, pages))
}

/// The zero manifest: what settling from leaf 0 names (no upload: the validators instantiate
/// the module themselves).
pub(super) fn no_manifest() -> ContentHash {
    ContentHash::ZERO
}
