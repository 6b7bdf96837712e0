//! The beacon draws of the storage market: who holds each shard of a segment, and which chunk of
//! a shard a challenge asks for.
//!
//! A slot's holder is drawn like a job's provider: from the block's beacon seed, by the chain's
//! one lottery walk (`plexus_fueltrace::draws::weighted_pick`) over the candidates' weights in
//! their fixed (address) order. The draw number is `SHA-256("plexus/holder" | seed | deal |
//! segment << 32 | slot)`'s first 16 bytes modulo the total weight
//! (`plexus_fueltrace::draws::draw`), so every slot of every segment has its own draw, and a
//! slot redrawn in a later block draws from that block's seed.
//!
//! The weights are the caller's (the chain's `Provider::draw_weight`, zero for a provider that
//! cannot take the slot); a segment's holders are distinct because the caller zeroes the weight
//! of every provider already holding a shard of it before each slot's draw.

use crate::proof::chunk_count;
use plexus_fueltrace::draws::{draw, weighted_pick};
use plexus_types::Digest;

/// The candidate drawn for slot `slot` of segment `segment` of deal `deal`, as an index into
/// `weights`; `None` when every weight is zero.
pub fn draw_slot(
    seed: &Digest,
    deal: &Digest,
    segment: u32,
    slot: u16,
    weights: &[u128],
) -> Option<usize> {
    let total = weights
        .iter()
        .fold(0u128, |sum, weight| sum.saturating_add(*weight));
    if total == 0 {
        return None;
    }
    let counter = (u64::from(segment) << 32) | u64::from(slot);
    let target = draw(b"plexus/holder", seed, deal, counter, total);
    weighted_pick(weights.iter().copied(), target)
}

/// The chunk the challenge of shard `slot` of segment `segment` of `deal` asks for in `epoch`:
/// uniform over the shard's `proof::chunk_count(shard_bytes)` chunks, from
/// `SHA-256("plexus/challenge" | seed | deal | segment << 32 | slot)` with the epoch's opening
/// block's `seed` (public only once that block's beacon is, so a holder cannot know which chunk
/// it must keep before the challenge opens). Chunk 0 for a length of 0 (no deal has an empty
/// shard: the code's shards are at least 2 bytes).
pub fn challenge_chunk(
    seed: &Digest,
    deal: &Digest,
    segment: u32,
    slot: u16,
    shard_bytes: u64,
) -> u64 {
    let chunks = chunk_count(shard_bytes).max(1);
    let counter = (u64::from(segment) << 32) | u64::from(slot);
    draw(b"plexus/challenge", seed, deal, counter, u128::from(chunks)) as u64
}

/// `n` distinct holders for segment `segment`: slot after slot, each drawn among the
/// candidates not drawn yet; `None` when fewer than `n` candidates have weight. `weights` are
/// fixed for the segment (the chain redraws with fresh weights when they change).
pub fn draw_distinct(
    seed: &Digest,
    deal: &Digest,
    segment: u32,
    n: u16,
    weights: &[u128],
) -> Option<Vec<usize>> {
    let mut left = weights.to_vec();
    let mut drawn = Vec::with_capacity(usize::from(n));
    for slot in 0..n {
        let index = draw_slot(seed, deal, segment, slot, &left)?;
        left[index] = 0;
        drawn.push(index);
    }
    Some(drawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_types::hash;
    use std::collections::BTreeSet;

    #[test]
    fn holders_are_distinct_and_only_among_weighted_candidates() {
        let weights = [5, 0, 1, 7, 0, 3];
        for round in 0..200u32 {
            let seed = hash(&[b"seed", &round.to_be_bytes()]);
            let drawn = draw_distinct(&seed, &hash(&[b"deal"]), round, 4, &weights).unwrap();
            let unique: BTreeSet<_> = drawn.iter().collect();
            assert_eq!(unique.len(), 4, "seed {round}: {drawn:?}");
            assert!(
                drawn.iter().all(|i| weights[*i] > 0),
                "seed {round}: {drawn:?}"
            );
        }
        // Five slots among four weighted candidates: impossible.
        assert_eq!(
            draw_distinct(&hash(&[b"s"]), &hash(&[b"d"]), 0, 5, &weights),
            None
        );
        assert_eq!(
            draw_slot(&hash(&[b"s"]), &hash(&[b"d"]), 0, 0, &[0, 0]),
            None
        );
    }

    #[test]
    fn a_draw_follows_the_weights() {
        // 3 000 draws over weights 1:3: the heavy candidate wins about three quarters.
        let weights = [1, 3];
        let heavy = (0..3_000u32)
            .filter(|i| {
                let seed = hash(&[b"seed", &i.to_be_bytes()]);
                draw_slot(&seed, &hash(&[b"deal"]), 0, 0, &weights) == Some(1)
            })
            .count();
        assert!((2_100..2_400).contains(&heavy), "{heavy} of 3000");
    }

    #[test]
    fn a_challenge_asks_for_a_chunk_of_the_shard_and_reaches_every_chunk() {
        let deal = hash(&[b"deal"]);
        // A shard of 5 chunks and a bit: 6 chunks, each drawn over 600 seeds, none outside.
        let shard_bytes = 5 * 1_024 + 1;
        let mut seen = [0u32; 6];
        for i in 0..600u32 {
            let seed = hash(&[b"seed", &i.to_be_bytes()]);
            let chunk = challenge_chunk(&seed, &deal, 1, 2, shard_bytes);
            seen[usize::try_from(chunk).unwrap()] += 1;
        }
        assert!(seen.iter().all(|count| *count > 50), "{seen:?}");
        let seed = hash(&[b"seed"]);
        assert_eq!(challenge_chunk(&seed, &deal, 0, 0, 1_024), 0);
        assert_eq!(challenge_chunk(&seed, &deal, 0, 0, 0), 0);
        // Another slot or segment, another draw.
        let draws: BTreeSet<u64> = (0..16u16)
            .map(|slot| challenge_chunk(&seed, &deal, 0, slot, 1 << 22))
            .collect();
        assert!(draws.len() > 8, "{draws:?}");
    }

    #[test]
    fn each_slot_and_segment_draws_on_its_own() {
        let weights = vec![1u128; 64];
        let seed = hash(&[b"seed"]);
        let deal = hash(&[b"deal"]);
        let picks: BTreeSet<_> = (0..8u32)
            .map(|segment| draw_slot(&seed, &deal, segment, 0, &weights))
            .collect();
        assert!(picks.len() > 1, "every segment drew the same holder");
    }
}
