//! Decoders meet arbitrary bytes: they never panic, and whatever they accept is canonical
//! (re-encoding gives back exactly the input), so one transaction has one hash.

use commonware_codec::{Decode, DecodeExt, Encode};
use commonware_cryptography::Signer;
use plexus_types::{
    Address, BLOCK_TXS_MAX, Block, Header, Payload, PrivateKey, Receipt, SignedTransaction,
    Transaction, block::tx_root, hash,
};
use proptest::prelude::*;

fn valid_tx(seed: u64) -> SignedTransaction {
    let key = PrivateKey::from_seed(seed);
    Transaction {
        chain_id: 1,
        sender: Address(key.public_key()),
        nonce: seed,
        fee: 1_000,
        payload: Payload::Delegate {
            validator: Address(PrivateKey::from_seed(seed + 1).public_key()),
            amount: 5,
        },
    }
    .sign(&key)
}

fn valid_block() -> Block {
    let txs = vec![valid_tx(1), valid_tx(2)];
    Block {
        header: Header {
            parent: hash(&[b"p"]),
            height: 3,
            timestamp_ms: 4,
            proposer: PrivateKey::from_seed(5).public_key(),
            tx_root: tx_root(&txs),
            state_root: hash(&[b"s"]),
            beacon: Some(beacon_signature(1)),
        },
        txs,
    }
}

fn check_tx(bytes: &[u8]) {
    if let Ok(tx) = SignedTransaction::decode_untrusted(bytes) {
        assert_eq!(
            tx.encode().as_ref(),
            bytes,
            "non-canonical transaction accepted"
        );
    }
}

fn check_block(bytes: &[u8]) {
    if let Ok(block) = Block::decode_cfg(commonware_codec::Copying(bytes), &BLOCK_TXS_MAX) {
        assert_eq!(
            block.encode().as_ref(),
            bytes,
            "non-canonical block accepted"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check_tx(&bytes);
        check_block(&bytes);
        let _ = Receipt::decode(commonware_codec::Copying(bytes.as_slice()));
    }

    #[test]
    fn mutated_transactions_never_panic(seed in 0u64..50, position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = valid_tx(seed).encode().to_vec();
        let i = position.index(bytes.len());
        bytes[i] = byte;
        check_tx(&bytes);
        bytes.truncate(i);
        check_tx(&bytes);
    }

    #[test]
    fn mutated_blocks_never_panic(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = valid_block().encode().to_vec();
        let i = position.index(bytes.len());
        bytes[i] = byte;
        check_block(&bytes);
        bytes.truncate(i);
        check_block(&bytes);
    }
}

/// A fixed BLS signature over `height` in the beacon's domain (from a fixed key).
fn beacon_signature(height: u64) -> plexus_types::BeaconSignature {
    use commonware_cryptography::bls12381::primitives::ops;
    use rand::SeedableRng;
    let (private, _) = ops::keypair::<_, plexus_types::beacon::BeaconVariant>(
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(42),
    );
    ops::sign_message::<plexus_types::beacon::BeaconVariant>(
        &private,
        plexus_types::beacon::BEACON_NAMESPACE,
        &plexus_types::beacon::message(height),
    )
}
