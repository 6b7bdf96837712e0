//! A caught job's dispute played with the real dissection game on a synthetic trace: the
//! defender's strategy for its own (wrong) trace against an honest challenger, counted in rounds,
//! moves and the bytes of the signed transactions that carry them.

use super::config::ProviderKind;
use super::draws::Faults;
use plexus_fueltrace::challenger::first_disagreement;
use plexus_fueltrace::defender::DefenderTrace;
use plexus_fueltrace::dissection::{self, Move, Role};
use plexus_types::ContentHash;
use plexus_types::audit::Verdict;
use plexus_types::codec::{EncodeSize as _, FixedSize as _};
use plexus_types::job::Commitment;
use plexus_types::trace;
use plexus_types::{Address, Payload, Signature, Transaction};

/// The job id every dispute transaction names, in bytes.
pub(super) const JOB_ID_BYTES: usize = 32;

/// One caught job's dispute, replayed with the real game.
pub(super) struct Game {
    pub(super) seed: u64,
    pub(super) kind: ProviderKind,
    pub(super) job: u64,
    pub(super) segments: u64,
    pub(super) seg_fuel: u64,
    pub(super) claimed_fuel: u64,
    pub(super) k: u32,
}

/// What playing one dispute showed.
pub(super) struct Played {
    pub(super) rounds: u32,
    /// Moves plus the opening's fields.
    pub(super) bytes: usize,
    /// Every signed transaction of the dispute.
    pub(super) chain_bytes: usize,
    /// The largest of them.
    pub(super) tx_bytes_max: usize,
    pub(super) moves: u32,
    /// The game ended at a segment the provider really got wrong.
    pub(super) resolved_at_fault: bool,
}

impl Game {
    /// The honest state root at checkpoint `i` (synthetic, seeded).
    pub(super) fn honest_root(&self, i: u64) -> ContentHash {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&self.seed.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.kind.index().to_le_bytes());
        bytes[16..24].copy_from_slice(&self.job.to_le_bytes());
        bytes[24..].copy_from_slice(&i.to_le_bytes());
        ContentHash::of(&bytes)
    }

    /// The honest checkpoint `i`: cumulative fuel and state root.
    pub(super) fn honest(&self, i: u64) -> (u64, ContentHash) {
        (i * self.seg_fuel, self.honest_root(i))
    }

    /// The provider's checkpoint `i`: honest up to its first faulty segment `first`, wrong from
    /// leaf `first + 1` on (another state, or for the bill inflator the inflated final fuel).
    pub(super) fn claimed(&self, i: u64, first: u64) -> (u64, ContentHash) {
        let (fuel, root) = self.honest(i);
        if i <= first {
            (fuel, root)
        } else if self.kind == ProviderKind::BillInflator {
            (self.claimed_fuel, root)
        } else {
            (fuel, ContentHash::of(root.as_ref()))
        }
    }

    /// Plays the dispute over the provider's trace: an honest defender strategy for its own
    /// (wrong) trace against an honest challenger holding the honest trace. A full audit opens
    /// over the whole trace; a light audit at `named`, `named + 1`.
    pub(super) fn play(&self, sender: &Address, faults: &Faults, named: u64, full: bool) -> Played {
        let first = faults.first().unwrap_or(named);
        let checkpoints: Vec<(u64, ContentHash)> = (0..=self.segments)
            .map(|i| self.claimed(i, first))
            .collect();
        let leaves = self.segments + 1;
        let played = DefenderTrace::new(&checkpoints).and_then(|defender| {
            let (lo, hi) = if full {
                (0, self.segments)
            } else {
                (named, named + 1)
            };
            let game = dissection::Dissection::open(self.k, leaves, lo, hi, defender.root())?;
            let (segment, rounds, moves) = self.play_moves(&defender, game)?;
            Ok((segment, rounds, moves, defender.root()))
        });
        let Ok((segment, rounds, moves, root)) = played else {
            // A refused move in a game both sides play by the rules is a defect of the model or
            // of the game: count it against the targets rather than hide it.
            return Played {
                rounds: u32::MAX,
                bytes: usize::MAX,
                chain_bytes: usize::MAX,
                tx_bytes_max: usize::MAX,
                moves: u32::MAX,
                resolved_at_fault: false,
            };
        };
        let job = plexus_types::hash(&[b"plexus/sim/job", self.job.to_le_bytes().as_slice()]);
        let verdict = if full {
            full_verdict(self.segments, self.seg_fuel, root.as_ref())
        } else {
            Verdict::Light {
                disputed: Some(named),
            }
        };
        let bytes = JOB_ID_BYTES
            + verdict.encode_size()
            + moves.iter().map(|step| step.encode_size()).sum::<usize>();
        let mut payloads = vec![Payload::AuditReveal {
            job,
            verdict,
            salt: job,
        }];
        let move_count = u32::try_from(moves.len()).unwrap_or(u32::MAX);
        payloads.extend(
            moves
                .into_iter()
                .map(|step| Payload::DisputeMove { job, step }),
        );
        payloads.push(Payload::DisputeSettle {
            job,
            manifest: ContentHash::of(job.as_ref()),
        });
        let sizes: Vec<usize> = payloads
            .into_iter()
            .map(|payload| signed_size(sender, payload))
            .collect();
        Played {
            rounds,
            bytes,
            chain_bytes: sizes.iter().sum(),
            tx_bytes_max: sizes.iter().copied().max().unwrap_or(0),
            moves: move_count,
            resolved_at_fault: faults.contains(segment),
        }
    }

    /// The moves until the game resolves: `(segment, rounds, moves)`. The defender answers
    /// from its own trace (`DefenderTrace::respond`); the challenger names the first revealed
    /// leaf that differs from its honest one.
    pub(super) fn play_moves(
        &self,
        defender: &DefenderTrace,
        mut game: dissection::Dissection,
    ) -> Result<(u64, u32, Vec<Move>), dissection::DissectionError> {
        let mut moves = Vec::new();
        // Each round is a reveal and a choice; then the proof.
        let moves_max = 2 * dissection::rounds_max(game.leaves(), game.k()) as usize + 1;
        while moves.len() < moves_max {
            let next = match game.to_move() {
                None => break,
                Some(Role::Defender) => match defender.respond(&game)? {
                    Some(next) => next,
                    None => break,
                },
                Some(Role::Challenger) => {
                    Move::Choose(first_disagreement(&game.revealed_points(), |i, leaf| {
                        let (fuel, root) = self.honest(i);
                        trace::leaf(i, fuel, &root) == *leaf
                    }))
                }
            };
            game.apply(next.clone())?;
            moves.push(next);
        }
        let segment = game.resolved().map_or(u64::MAX, |(lo, _)| lo.index);
        Ok((segment, game.round(), moves))
    }
}

/// A full audit's verdict: the verifier's own commitment for the job (its trace root stands in
/// for the honest one; only the size matters).
pub(super) fn full_verdict(segments: u64, seg_fuel: u64, root: &[u8]) -> Verdict {
    Verdict::Full(Commitment {
        output_hash: plexus_types::ContentHash::of_parts(&[b"plexus/sim/output"]),
        total_fuel: segments * seg_fuel,
        segments: u32::try_from(segments).unwrap_or(u32::MAX),
        trace_root: plexus_types::ContentHash::of_parts(&[root]),
        failed: false,
    })
}

/// The encoded size of a signed transaction carrying `payload` (a signature is fixed-size, so
/// none is computed).
pub(super) fn signed_size(sender: &Address, payload: Payload) -> usize {
    let tx = Transaction {
        chain_id: crate::network::CHAIN_ID,
        sender: sender.clone(),
        nonce: 1_000,
        fee: 10_000,
        payload,
    };
    tx.encode_size() + Signature::SIZE
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer as _;
    use plexus_types::PrivateKey;
    /// The longest dispute the default job mix allows: a whole-trace game over 4096 segments,
    /// wherever the first fault is.
    #[test]
    fn whole_trace_disputes_at_4096_segments_fit_the_targets() {
        let sender = Address(PrivateKey::from_seed(0).public_key());
        for first in [0u64, 1, 255, 256, 2_047, 4_094, 4_095] {
            let game = Game {
                seed: 9,
                kind: ProviderKind::LazyFraction,
                job: first,
                segments: 4_096,
                seg_fuel: 1 << 26,
                claimed_fuel: 4_096 << 26,
                k: 16,
            };
            let faults = Faults::Listed(vec![first]);
            let played = game.play(&sender, &faults, first, true);
            assert!(played.resolved_at_fault, "first fault {first}");
            assert!(
                played.rounds <= 3,
                "first fault {first}: {} rounds",
                played.rounds
            );
            assert!(
                played.bytes <= 5_000,
                "first fault {first}: {} bytes",
                played.bytes
            );
            assert!(played.tx_bytes_max <= plexus_types::TX_SIZE_MAX);
            // A light audit's dispute starts at the failed segment: no rounds.
            let light = game.play(&sender, &faults, first, false);
            assert!(
                light.resolved_at_fault && light.rounds == 0,
                "first fault {first}"
            );
        }
        let inflator = Game {
            seed: 9,
            kind: ProviderKind::BillInflator,
            job: 1,
            segments: 4_096,
            seg_fuel: 1 << 26,
            claimed_fuel: 5_120 << 26,
            k: 16,
        };
        let played = inflator.play(&sender, &Faults::Listed(vec![4_095]), 4_095, true);
        assert!(played.resolved_at_fault && played.rounds <= 3);
    }
}
