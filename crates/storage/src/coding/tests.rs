//! Tests of the erasure code: known answers, round trips over sizes and shapes, refusals.

use super::*;
use commonware_parallel::Sequential;
use commonware_storage::bmt;
use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

/// Deterministic bytes that differ from position to position.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect()
}

fn shape(k: u16, n: u16) -> Shape {
    Shape::new(k, n).unwrap()
}

/// Shard digests and commitments of fixed inputs. Repair depends on a repairer re-encoding
/// byte for byte the shard that was lost, so if a Commonware upgrade changes any of these
/// values it is a PROTOCOL CHANGE: stored segments' commitments would no longer match their
/// re-encodings. Do not re-bless these without a migration of every deal.
#[test]
fn known_answers_pin_the_shard_bytes() {
    let data = pattern(1_000);
    let encoded = encode(shape(2, 4), &data, &Sequential).unwrap();
    let digests: Vec<String> = encoded.shards.iter().map(|s| s.digest().to_hex()).collect();
    assert_eq!(
        digests,
        [
            "f560bd9c3ffd6b7430c480180426a28255c83ac76c4346093d831ad6933e8c4e",
            "168ce5df5deb2b9938432ca3888613727d0bcca19b8799d867edd9329c98239b",
            "9d66a8302b6c01973addc17ae079d1b3db2c5994c52a6459816f548e14513dc3",
            "7803bfd1468212b1eaa3494ae6c6e3044dafa0345b79c1a78087a3081b85be4f",
        ]
    );
    assert_eq!(
        encoded.commitment.to_hex(),
        "03d6fdf17f5ffa7670872158a4ed08d9c00127da0114bdc7f06b824915267987"
    );
    // The layout the module documents, recomputed here: shard 0 is the big-endian length and
    // the first bytes, shard 1 the rest and a zero pad (1,004 bytes in two shards of 502), and
    // the commitment is a BMT over the shard digests.
    let mut systematic = 1_000u32.to_be_bytes().to_vec();
    systematic.extend_from_slice(&data);
    assert_eq!(encoded.shards[0].bytes, systematic[..502]);
    assert_eq!(encoded.shards[1].bytes, systematic[502..]);
    let mut builder = bmt::Builder::<ContentHasher>::new(4);
    for shard in &encoded.shards {
        builder.add(&ContentHash::of(&shard.bytes));
    }
    assert_eq!(builder.build().root(), encoded.commitment);

    let wide = encode(shape(16, 40), &pattern(100_000), &Sequential).unwrap();
    assert_eq!(
        wide.commitment.to_hex(),
        "d0585ee0d4b7d87e59c35fa7703af0307afd614d3e6224987f4b819486434b8d"
    );
    assert_eq!(
        wide.shards[39].digest().to_hex(),
        "76d29e388aef975cd26ff25030f72179ab62f2834b48466fb3d7b382287d8732"
    );
    let empty = encode(shape(16, 40), &[], &Sequential).unwrap();
    assert_eq!(
        empty.commitment.to_hex(),
        "e679a88786ce76e63717a9950f6e568c1d7b74a831a4283061781633d2937bf4"
    );
}

/// Encodes, checks and reads back `data` under `shape` every way a reader can: systematic,
/// strict from the last `k` shards (no systematic shard when `n >= 2k`), and from a random `k`.
fn round_trip(shape: Shape, data: &[u8], rng: &mut ChaCha8Rng, context: &str) {
    let (k, n) = (usize::from(shape.k()), usize::from(shape.n()));
    let len = data.len() as u64;
    let encoded = encode(shape, data, &Sequential).unwrap();
    assert_eq!(encoded.shards.len(), n, "{context}");
    for (i, shard) in encoded.shards.iter().enumerate() {
        assert_eq!(usize::from(shard.index), i, "{context}");
        assert_eq!(
            Some(shard.bytes.len() as u64),
            shape.shard_len(len),
            "{context}"
        );
        check(shape, len, &encoded.commitment, shard).unwrap();
    }
    let systematic = read_systematic(
        shape,
        &encoded.commitment,
        &encoded.shards[..k],
        &Sequential,
    );
    assert_eq!(systematic.unwrap().concat(), data, "{context}: systematic");
    let last = decode(
        shape,
        &encoded.commitment,
        &encoded.shards[n - k..],
        &Sequential,
    );
    assert_eq!(last.unwrap(), data, "{context}: last k");
    let mut picked = encoded.shards.clone();
    for i in 0..k {
        let j = rng.random_range(i..n);
        picked.swap(i, j);
    }
    picked.truncate(k);
    let random = decode(shape, &encoded.commitment, &picked, &Sequential);
    assert_eq!(random.unwrap(), data, "{context}: random k");
    assert!(
        matches!(
            decode(shape, &encoded.commitment, &picked[1..], &Sequential),
            Err(CodingError::NotEnough { .. })
        ),
        "{context}: k - 1 shards"
    );
}

#[test]
fn every_size_round_trips_under_every_shape() {
    let seed = 0x5eed_c0de;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (k, n) in [(1, 2), (2, 4), (3, 5), (4, 10), (16, 40)] {
        let shape = shape(k, n);
        let k = usize::from(k);
        let mut sizes = vec![0, 1, k - 1, k, k + 1, 2 * k + 3, 1_000, 4_097, 65_537];
        sizes.extend((0..3).map(|_| rng.random_range(0..300_000)));
        for len in sizes {
            let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            round_trip(
                shape,
                &data,
                &mut rng,
                &format!("seed {seed}, {shape:?}, {len} bytes"),
            );
        }
    }
}

#[test]
fn shard_lengths_follow_the_documented_layout() {
    for (k, n) in [(1, 2), (2, 4), (5, 7), (16, 40)] {
        let shape = shape(k, n);
        for len in [0u64, 1, 2, 3, 4, 5, 31, 32, 33, 1_023, 1_024, 10_001] {
            let encoded = encode(shape, &pattern(len as usize), &Sequential).unwrap();
            let real = encoded.shards[0].bytes.len() as u64;
            let prefixed = (len + 4).div_ceil(u64::from(k));
            assert_eq!(Some(real), shape.shard_len(len), "{shape:?}, {len} bytes");
            assert_eq!(real, prefixed + prefixed % 2, "{shape:?}, {len} bytes");
        }
    }
    assert_eq!(shape(16, 40).shard_len(SEGMENT_BYTES_MAX), Some(4_194_306));
    assert_eq!(shape(16, 40).shard_len(SEGMENT_BYTES_MAX + 1), None);
}

#[test]
fn shapes_outside_the_code_are_refused() {
    for (k, n) in [(0, 4), (4, 4), (5, 4), (1, 1)] {
        assert!(
            matches!(Shape::new(k, n), Err(CodingError::Shape { .. })),
            "{k} of {n}"
        );
    }
    assert!(Shape::new(2, 4).is_ok());
}

#[test]
fn a_wrong_shard_is_refused_by_the_provider_and_the_reader() {
    let shape = shape(2, 4);
    let data = pattern(5_000);
    let encoded = encode(shape, &data, &Sequential).unwrap();
    let (commitment, len) = (encoded.commitment, data.len() as u64);

    let mut flipped = encoded.shards[1].clone();
    let mut bytes = flipped.bytes.to_vec();
    bytes[100] ^= 1;
    flipped.bytes = bytes.into();
    assert!(matches!(
        check(shape, len, &commitment, &flipped),
        Err(CodingError::Mismatch { index: 1 })
    ));
    let mut moved = encoded.shards[1].clone();
    moved.index = 2;
    assert!(matches!(
        check(shape, len, &commitment, &moved),
        Err(CodingError::Mismatch { index: 2 })
    ));
    let mut outside = encoded.shards[1].clone();
    outside.index = 4;
    assert!(matches!(
        check(shape, len, &commitment, &outside),
        Err(CodingError::Index { index: 4, n: 4 })
    ));
    assert!(matches!(
        check(shape, len + 10, &commitment, &encoded.shards[1]),
        Err(CodingError::Length { index: 1, .. })
    ));
    let other = encode(shape, &pattern(4_999), &Sequential).unwrap();
    assert!(matches!(
        check(shape, len, &commitment, &other.shards[1]),
        Err(CodingError::Mismatch { index: 1 })
    ));

    let with_flipped = [encoded.shards[0].clone(), flipped];
    assert!(matches!(
        decode(shape, &commitment, &with_flipped, &Sequential),
        Err(CodingError::Mismatch { index: 1 })
    ));
    assert!(matches!(
        read_systematic(shape, &commitment, &with_flipped, &Sequential),
        Err(CodingError::Mismatch { index: 1 })
    ));
    let twice = [encoded.shards[3].clone(), encoded.shards[3].clone()];
    assert!(matches!(
        decode(shape, &commitment, &twice, &Sequential),
        Err(CodingError::Duplicate { index: 3 })
    ));
    let reversed = [encoded.shards[1].clone(), encoded.shards[0].clone()];
    assert!(matches!(
        read_systematic(shape, &commitment, &reversed, &Sequential),
        Err(CodingError::NotSystematic { k: 2 })
    ));
}

/// An uploader that commits to shards that are not one encoding (here: a recovery shard
/// replaced, and the commitment rebuilt over the digests) passes each provider's check, and the
/// strict decode refuses it, as Commonware's re-encoding promises.
#[test]
fn an_inconsistent_upload_passes_each_check_but_not_the_strict_decode() {
    let shape = shape(2, 4);
    let data = pattern(3_000);
    let honest = encode(shape, &data, &Sequential).unwrap();
    let mut shards = honest.shards.clone();
    let mut bytes = shards[3].bytes.to_vec();
    bytes[7] ^= 0x40;
    shards[3].bytes = bytes.into();
    let mut builder = bmt::Builder::<ContentHasher>::new(4);
    for shard in &shards {
        builder.add(&shard.digest());
    }
    let tree = builder.build();
    let commitment = tree.root();
    for shard in &mut shards {
        shard.proof = tree.proof(u32::from(shard.index)).unwrap();
        check(shape, data.len() as u64, &commitment, shard).unwrap();
    }
    assert_eq!(
        read_systematic(shape, &commitment, &shards[..2], &Sequential)
            .unwrap()
            .concat(),
        data,
        "the committed systematic shards still read"
    );
    assert!(matches!(
        decode(shape, &commitment, &shards[2..], &Sequential),
        Err(CodingError::Inconsistent)
    ));
    assert!(matches!(
        decode(
            shape,
            &commitment,
            &[shards[0].clone(), shards[3].clone()],
            &Sequential
        ),
        Err(CodingError::Inconsistent)
    ));
    // The same shards under another k re-encode to another root.
    let other = Shape::new(1, 4).unwrap();
    assert!(decode(other, &honest.commitment, &honest.shards[..1], &Sequential).is_err());
}

#[test]
fn a_segment_above_the_maximum_is_refused() {
    let too_long = vec![0u8; SEGMENT_BYTES_MAX as usize + 1];
    assert!(matches!(
        encode(shape(2, 4), &too_long, &Sequential),
        Err(CodingError::TooLong { .. })
    ));
}

/// The systematic read copies nothing: its parts are slices of the shards' own buffers.
#[test]
fn the_systematic_read_shares_the_shards_bytes() {
    let shape = shape(4, 6);
    let data = pattern(10_000);
    let encoded = encode(shape, &data, &Sequential).unwrap();
    let parts = read_systematic(
        shape,
        &encoded.commitment,
        &encoded.shards[..4],
        &Sequential,
    )
    .unwrap();
    assert_eq!(parts.len(), 4);
    for (part, shard) in parts.iter().zip(&encoded.shards) {
        let within = shard.bytes.as_ptr_range();
        assert!(within.contains(&part.as_ptr()), "shard {}", shard.index);
    }
    assert_eq!(parts.concat(), data);
}

#[test]
fn the_shard_wire_form_round_trips_and_bounds_what_it_reads() {
    use commonware_codec::{Decode as _, Encode as _, EncodeSize as _};
    let shape = shape(2, 4);
    let encoded = encode(shape, &pattern(10_000), &Sequential).unwrap();
    let len = shape.shard_len(10_000).unwrap() as usize;
    for shard in &encoded.shards {
        let wire = shard.encode();
        assert_eq!(wire.len(), shard.encode_size());
        let exact = RangeCfg::from(len..=len);
        let back = Shard::decode_cfg(wire.clone(), &exact).unwrap();
        assert_eq!(&back, shard);
        check(shape, 10_000, &encoded.commitment, &back).unwrap();
        // A reader that expects another length refuses before it allocates.
        let shorter = RangeCfg::from(0..=len - 1);
        assert!(Shard::decode_cfg(wire.clone(), &shorter).is_err());
        // Truncated or padded wire forms are refused.
        for cut in [0, 1, 6, wire.len() - 1] {
            assert!(
                Shard::decode_cfg(wire.slice(..cut), &exact).is_err(),
                "cut {cut}"
            );
        }
        let mut extra = wire.to_vec();
        extra.push(0);
        assert!(Shard::decode_cfg(bytes::Bytes::from(extra), &exact).is_err());
    }
}

#[test]
fn a_repairer_rebuilds_exactly_the_committed_shards_from_any_k_others() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eb);
    for (k, n) in [(1, 2), (2, 4), (3, 6), (4, 9)] {
        let shape = shape(k, n);
        let len = rng.random_range(1..20_000usize);
        let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let encoded = encode(shape, &data, &Sequential).unwrap();
        let context = format!("k = {k}, n = {n}, {len} bytes (seed 0x5eb)");
        // Lose the first n - k shards (the systematic ones first: the hardest case), rebuild
        // them from the rest.
        let lost: Vec<u16> = (0..n - k).collect();
        let kept: Vec<Shard> = encoded.shards[usize::from(n - k)..].to_vec();
        let rebuilt = rebuild(shape, &encoded.commitment, &kept, &lost, &Sequential)
            .unwrap_or_else(|e| panic!("{context}: {e}"));
        for (index, shard) in lost.iter().zip(&rebuilt) {
            let original = &encoded.shards[usize::from(*index)];
            assert_eq!(shard.index, *index, "{context}");
            assert_eq!(shard.bytes, original.bytes, "{context}: shard {index}");
            assert_eq!(
                shard.proof, original.proof,
                "{context}: shard {index}'s proof"
            );
            check(shape, len as u64, &encoded.commitment, shard).unwrap();
        }
    }
    // Fewer than k, an index outside the code, a shard of another segment: refused.
    let shape = shape(2, 4);
    let encoded = encode(shape, &pattern(5_000), &Sequential).unwrap();
    let one = &encoded.shards[3..];
    assert!(matches!(
        rebuild(shape, &encoded.commitment, one, &[0], &Sequential),
        Err(CodingError::NotEnough { got: 1, k: 2 })
    ));
    let two = &encoded.shards[2..];
    assert!(matches!(
        rebuild(shape, &encoded.commitment, two, &[4], &Sequential),
        Err(CodingError::Index { index: 4, n: 4 })
    ));
    let other = encode(shape, &pattern(5_001), &Sequential).unwrap();
    assert!(matches!(
        rebuild(shape, &other.commitment, two, &[0], &Sequential),
        Err(CodingError::Mismatch { .. })
    ));
}
