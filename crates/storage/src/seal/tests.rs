//! Tests of sealing: round trips at chunk edges, and every damaged file refused.

use super::*;
use commonware_parallel::{Rayon, Sequential};
use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;

const SEED: u64 = 0x5ea1;
const CHUNK: usize = CHUNK_PLAIN_BYTES;

fn keys(seed: u64) -> (StaticSecret, PublicKey) {
    let secret = StaticSecret::random_from_rng(&mut ChaCha8Rng::seed_from_u64(seed));
    let public = PublicKey::from(&secret);
    (secret, public)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect()
}

fn sealed(plain: &[u8]) -> (StaticSecret, Vec<u8>) {
    let (secret, public) = keys(SEED);
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);
    (
        secret,
        seal_bytes(&public, &mut rng, plain, &Sequential).unwrap(),
    )
}

#[test]
fn every_edge_size_round_trips() {
    let batch = BATCH_CHUNKS * CHUNK;
    for len in [
        0,
        1,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        2 * CHUNK,
        3 * CHUNK + 17,
        batch - 1,
        batch,
        batch + 1,
        batch + CHUNK,
        2 * batch,
        2 * batch + 5,
    ] {
        let plain = pattern(len);
        let (secret, sealed) = sealed(&plain);
        assert_eq!(sealed.len() as u64, sealed_len(len as u64), "{len} bytes");
        assert_eq!(
            open_bytes(&secret, &sealed, &Sequential).unwrap(),
            plain,
            "{len} bytes"
        );
        if len >= 64 {
            let needle = &plain[len / 2..len / 2 + 32];
            assert!(
                !sealed.windows(32).any(|window| window == needle),
                "{len} bytes: plaintext in the ciphertext"
            );
        }
    }
}

#[test]
fn the_same_file_seals_differently_each_time() {
    let (_, public) = keys(SEED);
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let first = seal_bytes(&public, &mut rng, b"same", &Sequential).unwrap();
    let second = seal_bytes(&public, &mut rng, b"same", &Sequential).unwrap();
    assert_ne!(
        first, second,
        "no convergent encryption: equal files must not look equal"
    );
}

#[test]
fn truncated_files_are_refused() {
    let plain = pattern(3 * CHUNK + 17);
    let (secret, sealed) = sealed(&plain);
    let boundary = |chunks: usize| HEADER_BYTES + chunks * CHUNK_SEALED_BYTES;
    for end in [
        0,
        7,
        HEADER_BYTES - 1,
        HEADER_BYTES,
        HEADER_BYTES + 10,
        boundary(1),
        boundary(2),
        boundary(3),
        boundary(3) + 16,
        sealed.len() - 1,
    ] {
        let result = open_bytes(&secret, &sealed[..end], &Sequential);
        assert!(
            matches!(result, Err(SealError::Header | SealError::Corrupt { .. })),
            "cut at {end}: {result:?}"
        );
    }
    // The streaming reader writes the authenticated chunks before it meets the cut, and says
    // the output is not whole.
    let mut partial = Vec::new();
    let result = open(&secret, &sealed[..boundary(2)], &mut partial, &Sequential);
    assert!(matches!(result, Err(SealError::Corrupt { chunk: 1 })));
    assert_eq!(partial, plain[..CHUNK]);
}

#[test]
fn reordered_appended_and_tampered_files_are_refused() {
    let plain = pattern(3 * CHUNK + 17);
    let (secret, sealed) = sealed(&plain);
    let chunk = |i: usize| HEADER_BYTES + i * CHUNK_SEALED_BYTES;

    let mut reordered = sealed[..HEADER_BYTES].to_vec();
    reordered.extend_from_slice(&sealed[chunk(1)..chunk(2)]);
    reordered.extend_from_slice(&sealed[chunk(0)..chunk(1)]);
    reordered.extend_from_slice(&sealed[chunk(2)..]);
    assert!(matches!(
        open_bytes(&secret, &reordered, &Sequential),
        Err(SealError::Corrupt { chunk: 0 })
    ));

    let mut appended = sealed.clone();
    appended.extend_from_slice(&sealed[chunk(3)..]);
    assert!(matches!(
        open_bytes(&secret, &appended, &Sequential),
        Err(SealError::Corrupt { .. })
    ));

    for (at, expect_header) in [
        (0, true),
        (MAGIC.len() + 3, false),
        (50, false),
        (HEADER_BYTES - 1, false),
        (chunk(0) + 5, false),
        (chunk(1) + CHUNK + 3, false),
        (sealed.len() - 1, false),
    ] {
        let mut tampered = sealed.clone();
        tampered[at] ^= 0x01;
        let result = open_bytes(&secret, &tampered, &Sequential);
        let refused = match result {
            Err(SealError::Header) => expect_header,
            Err(SealError::WrongKey | SealError::Corrupt { .. }) => !expect_header,
            _ => false,
        };
        assert!(refused, "byte {at} changed: {result:?}");
    }
}

#[test]
fn another_key_cannot_open_and_a_low_order_recipient_is_refused() {
    let (_, sealed) = sealed(b"for one reader only");
    let (other, _) = keys(SEED + 7);
    assert!(matches!(
        open_bytes(&other, &sealed, &Sequential),
        Err(SealError::WrongKey)
    ));
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    assert!(matches!(
        seal_bytes(&PublicKey::from([0u8; 32]), &mut rng, b"x", &Sequential),
        Err(SealError::Recipient)
    ));
}

/// An account key opens what was sealed to its address: the X25519 secret of an ed25519 key
/// has the X25519 public key of its public key, and another account's key does not open it.
#[test]
fn an_account_key_opens_what_is_sealed_to_its_address() {
    use commonware_cryptography::Signer as _;
    let owner = plexus_types::PrivateKey::from_seed(SEED);
    let secret = x25519_secret(&owner);
    let public = x25519_public(&owner.public_key()).expect("a point");
    assert_eq!(PublicKey::from(&secret).as_bytes(), public.as_bytes());
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 2);
    let plain = pattern(CHUNK + 3);
    let sealed = seal_bytes(&public, &mut rng, &plain, &Sequential).unwrap();
    assert_eq!(open_bytes(&secret, &sealed, &Sequential).unwrap(), plain);
    let stranger = x25519_secret(&plexus_types::PrivateKey::from_seed(SEED + 1));
    assert!(matches!(
        open_bytes(&stranger, &sealed, &Sequential),
        Err(SealError::WrongKey)
    ));
}

#[test]
fn every_strategy_seals_the_same_bytes_and_opens_them() {
    let pool = Rayon::new(std::num::NonZeroUsize::new(3).unwrap()).unwrap();
    let (secret, public) = keys(SEED);
    for len in [
        0,
        CHUNK + 1,
        BATCH_CHUNKS * CHUNK,
        3 * BATCH_CHUNKS * CHUNK + 77,
    ] {
        let plain = pattern(len);
        let sequential = seal_bytes(
            &public,
            &mut ChaCha8Rng::seed_from_u64(SEED),
            &plain,
            &Sequential,
        )
        .unwrap();
        let parallel =
            seal_bytes(&public, &mut ChaCha8Rng::seed_from_u64(SEED), &plain, &pool).unwrap();
        assert!(
            sequential == parallel,
            "{len} bytes: the strategies seal differently"
        );
        assert!(
            open_bytes(&secret, &parallel, &pool).unwrap() == plain,
            "{len} bytes"
        );
    }
    // A chunk tampered in a later batch: refused at its index on both, after the chunks before
    // it were written.
    let plain = pattern(2 * BATCH_CHUNKS * CHUNK + 9);
    let mut sealed =
        seal_bytes(&public, &mut ChaCha8Rng::seed_from_u64(SEED), &plain, &pool).unwrap();
    let chunk = BATCH_CHUNKS + 3;
    sealed[HEADER_BYTES + chunk * CHUNK_SEALED_BYTES + 9] ^= 0x80;
    let check = |result: Result<u64, SealError>, written: Vec<u8>| {
        assert!(
            matches!(result, Err(SealError::Corrupt { chunk: c }) if c == chunk as u64),
            "{result:?}"
        );
        assert!(
            written == plain[..chunk * CHUNK],
            "the chunks before the tampered one"
        );
    };
    let mut written = Vec::new();
    check(open(&secret, &sealed[..], &mut written, &pool), written);
    let mut written = Vec::new();
    check(
        open(&secret, &sealed[..], &mut written, &Sequential),
        written,
    );
}
