//! Decoders meet arbitrary bytes: they never panic, and whatever they accept is canonical
//! (re-encoding gives back exactly the input), so one transaction has one hash. Every payload
//! kind, dissection move, verdict, receipt and checkpoint manifest is mutated byte by byte; the
//! fuzz targets in `fuzz/` search further.

use commonware_codec::{Decode, DecodeExt, Encode};
use commonware_cryptography::Signer;
use plexus_types::audit::{Manifest, Verdict};
use plexus_types::deal::DealSegment;
use plexus_types::dissection::{Choose, Move, Prove, Reveal, RevealedLeaf};
use plexus_types::job::{AuditClass, Commitment, ResourceProfile};
use plexus_types::trace::{self, GlobalValue};
use plexus_types::{
    Address, BLOCK_TXS_MAX, Block, ContentHash, Header, PLX, Payload, PrivateKey, Reason, Receipt,
    SignedTransaction, Status, Transaction, block::tx_root, hash,
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

/// The position of `payload`'s kind in [`samples`]. Exhaustive on purpose: a new kind does not
/// compile here until it is given a sample (and so is mutated by the tests below).
fn kind_index(payload: &Payload) -> usize {
    match payload {
        Payload::Transfer { .. } => 0,
        Payload::Bond { .. } => 1,
        Payload::Unbond { .. } => 2,
        Payload::Delegate { .. } => 3,
        Payload::Undelegate { .. } => 4,
        Payload::Evidence { .. } => 5,
        Payload::Participation { .. } => 6,
        Payload::DealerLog { .. } => 7,
        Payload::ProviderRegister { .. } => 8,
        Payload::ProviderUpdate { .. } => 9,
        Payload::ProviderHeartbeat => 10,
        Payload::ProviderDeregister => 11,
        Payload::JobPost { .. } => 12,
        Payload::JobCommit { .. } => 13,
        Payload::JobCancel { .. } => 14,
        Payload::VerifierRegister { .. } => 15,
        Payload::VerifierDeregister => 16,
        Payload::AuditCommit { .. } => 17,
        Payload::AuditReveal { .. } => 18,
        Payload::DisputeOpen { .. } => 19,
        Payload::DisputeMove { .. } => 20,
        Payload::DisputeSettle { .. } => 21,
        Payload::AuditDecline { .. } => 22,
        Payload::StorageOffer { .. } => 23,
        Payload::DealPost { .. } => 24,
        Payload::ShardAccept { .. } => 25,
        Payload::DealExtend { .. } => 26,
        Payload::DealEnd { .. } => 27,
        Payload::StorageProof { .. } => 28,
        Payload::FaultDeclare { .. } => 29,
        Payload::CommissionSet { .. } => 30,
        Payload::RewardsWithdraw => 31,
        Payload::GovPropose { .. } => 32,
        Payload::GovVote { .. } => 33,
    }
}

/// How many payload kinds there are (one more than the largest [`kind_index`]).
const PAYLOAD_KINDS: usize = 34;

fn commitment() -> Commitment {
    Commitment {
        output_hash: ContentHash::of(b"output"),
        total_fuel: 77_000,
        segments: 9,
        trace_root: ContentHash::of(b"trace"),
        failed: false,
    }
}

fn revealed_leaf(index: u64) -> RevealedLeaf {
    RevealedLeaf {
        index,
        fuel: index * 100,
        state_root: ContentHash::of(&index.to_le_bytes()),
    }
}

/// One move of each kind, the proof a real one.
fn moves() -> Vec<Move> {
    let leaves: Vec<ContentHash> = (0..10).map(|index| revealed_leaf(index).leaf()).collect();
    vec![
        Move::Reveal(Reveal {
            points: leaves[1..4].to_vec(),
        }),
        Move::Choose(Choose { sub_interval: 1 }),
        Move::Prove(Prove {
            lo: revealed_leaf(4),
            hi: revealed_leaf(5),
            proof: trace::prove_leaf(&leaves, 4).unwrap(),
        }),
    ]
}

/// At least one payload of every kind, each move and verdict kind among them.
fn samples() -> Vec<Payload> {
    let mut samples = bank_samples();
    samples.extend(market_samples());
    samples.extend(fueltrace_samples());
    samples.extend(storage_samples());
    samples
}

/// Storage-market payloads: an offer, a deal of two segments, an accept, an extension, an end,
/// a proof, a fault.
fn storage_samples() -> Vec<Payload> {
    let deal = hash(&[b"deal"]);
    let segment = |label: &[u8]| DealSegment {
        commitment: ContentHash::of(label),
        size_bytes: 1 << 20,
        shard_bytes: 1 << 19,
    };
    vec![
        Payload::StorageOffer {
            capacity_bytes: 1 << 40,
            price_per_gib_epoch: 7,
        },
        Payload::DealPost {
            segments: vec![segment(b"one"), segment(b"two")],
            k: 2,
            n: 4,
            price_cap_per_gib_epoch: 9,
            epochs: 30,
            public: true,
        },
        Payload::ShardAccept {
            deal,
            segment: 1,
            shard: 3,
        },
        Payload::DealExtend { deal, epochs: 5 },
        Payload::DealEnd { deal },
        Payload::StorageProof {
            deal,
            segment: 1,
            shard: 3,
            epoch: 12,
            proof: plexus_types::storage::ChunkProof {
                chunk: (0..100u8).collect(),
                path: vec![[7u8; 32]; 3],
                commitment_path: plexus_types::storage::CommitmentProof {
                    leaf_count: 4,
                    siblings: vec![ContentHash::of(b"left"), ContentHash::of(b"up")],
                },
            },
        },
        Payload::FaultDeclare {
            deal,
            segment: 0,
            shard: 2,
        },
    ]
}

/// Bank, staking and consensus payloads.
fn bank_samples() -> Vec<Payload> {
    let other = Address(PrivateKey::from_seed(2).public_key());
    vec![
        Payload::Transfer {
            to: other.clone(),
            amount: 5,
        },
        Payload::Bond { amount: PLX },
        Payload::Unbond { amount: 1 },
        Payload::Delegate {
            validator: other.clone(),
            amount: 9,
        },
        Payload::Undelegate {
            validator: other,
            amount: 3,
        },
        Payload::Evidence {
            evidence: vec![4; 40],
        },
        Payload::Participation {
            height: 8,
            finalization: vec![6; 40],
        },
        Payload::DealerLog {
            epoch: 2,
            log: vec![8; 40],
        },
        Payload::CommissionSet { bps: 1_500 },
        Payload::RewardsWithdraw,
        Payload::GovPropose {
            changes: vec![("audit.light_audit_ppm".into(), 150_000)],
            title: "t".into(),
            description: "d".into(),
            deposit: 100 * PLX,
        },
        Payload::GovVote {
            proposal: 3,
            option: plexus_types::gov::VoteOption::Abstain,
        },
    ]
}

/// Compute-market payloads.
fn market_samples() -> Vec<Payload> {
    let job = hash(&[b"job"]);
    let profile = ResourceProfile {
        cores: 4,
        memory_mb: 8_192,
        gpus: 0,
        gpu_model: "none".into(),
        storage_gb: 64,
    };
    vec![
        Payload::ProviderRegister {
            endpoint: "http://provider:7070".into(),
            profile: profile.clone(),
            fuel_per_second: 1_000,
            ask_per_mfuel: 2,
            bond: 100 * PLX,
        },
        Payload::ProviderUpdate {
            endpoint: "http://provider:7071".into(),
            profile,
            fuel_per_second: 2_000,
            ask_per_mfuel: 3,
            bond_add: 0,
        },
        Payload::ProviderHeartbeat,
        Payload::ProviderDeregister,
        Payload::JobPost {
            module: ContentHash::of(b"module"),
            blobs: vec![ContentHash::of(b"blob")],
            input: ContentHash::of(b"input"),
            max_fuel: 1 << 30,
            price_cap_per_mfuel: 4,
            audit: AuditClass::Full,
            deadline_blocks: 60,
        },
        Payload::JobCommit {
            job,
            output_hash: ContentHash::of(b"output"),
            total_fuel: 77_000,
            segments: 9,
            trace_root: ContentHash::of(b"trace"),
            failed: true,
        },
        Payload::JobCancel { job },
    ]
}

/// FuelTrace payloads: verifiers, audits and disputes, with every verdict and move kind.
fn fueltrace_samples() -> Vec<Payload> {
    let job = hash(&[b"job"]);
    let mut samples = vec![
        Payload::VerifierRegister {
            bond: 50 * PLX,
            fuel_per_second: 3_000,
            capacity: 2,
        },
        Payload::VerifierDeregister,
        Payload::AuditCommit {
            job,
            seal: hash(&[b"seal"]),
        },
        Payload::AuditReveal {
            job,
            verdict: Verdict::Full(commitment()),
            salt: hash(&[b"salt"]),
        },
        Payload::AuditReveal {
            job,
            verdict: Verdict::Light { disputed: Some(3) },
            salt: hash(&[b"salt"]),
        },
        Payload::DisputeOpen {
            job,
            claim: commitment(),
        },
        Payload::DisputeSettle {
            job,
            manifest: ContentHash::of(b"manifest"),
        },
        Payload::AuditDecline { job },
    ];
    samples.extend(
        moves()
            .into_iter()
            .map(|step| Payload::DisputeMove { job, step }),
    );
    samples
}

fn sample_tx(index: usize) -> SignedTransaction {
    let samples = samples();
    let key = PrivateKey::from_seed(index as u64);
    Transaction {
        chain_id: 1,
        sender: Address(key.public_key()),
        nonce: index as u64,
        fee: 1_000,
        payload: samples[index % samples.len()].clone(),
    }
    .sign(&key)
}

fn manifest() -> Manifest {
    Manifest {
        index: 3,
        fuel: 300,
        globals: vec![GlobalValue::I32(1), GlobalValue::V128(2)],
        pages: vec![ContentHash::of(b"page")],
        locators: vec![ContentHash::of(b"locator")],
    }
}

/// A decoder run on bytes: it must not panic.
type Decoder = fn(&[u8]);

/// The encodings of the FuelTrace and receipt types a node decodes from peers, the content
/// store or its own storage, each with the decoder that must never panic on a mutation of it.
fn wire_samples() -> Vec<(Vec<u8>, Decoder)> {
    fn canonical<T: Decode<Cfg = ()> + Encode>(bytes: &[u8]) {
        if let Ok(value) = T::decode(commonware_codec::Copying(bytes)) {
            assert_eq!(
                value.encode().as_ref(),
                bytes,
                "non-canonical value accepted"
            );
        }
    }
    let receipt = Receipt {
        tx_hash: hash(&[b"tx"]),
        status: Status::Failed(Reason::InsufficientBalance),
        fee_burned: 1_000,
    };
    let mut samples: Vec<(Vec<u8>, Decoder)> = vec![
        (receipt.encode().to_vec(), canonical::<Receipt>),
        (manifest().encode().to_vec(), canonical::<Manifest>),
        (commitment().encode().to_vec(), canonical::<Commitment>),
        (
            Verdict::Full(commitment()).encode().to_vec(),
            canonical::<Verdict>,
        ),
        (
            Verdict::Light { disputed: None }.encode().to_vec(),
            canonical::<Verdict>,
        ),
    ];
    for step in moves() {
        samples.push((step.encode().to_vec(), canonical::<Move>));
    }
    samples
}

#[test]
fn the_samples_cover_every_payload_kind() {
    let mut covered = [false; PAYLOAD_KINDS];
    for payload in samples() {
        covered[kind_index(&payload)] = true;
    }
    let missing: Vec<usize> = (0..PAYLOAD_KINDS).filter(|i| !covered[*i]).collect();
    assert!(missing.is_empty(), "no sample of payload kinds {missing:?}");
    for (index, payload) in samples().into_iter().enumerate() {
        let tx = sample_tx(index);
        assert_eq!(tx.tx.payload, payload);
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
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

    #[test]
    fn mutated_payloads_of_every_kind_never_panic(
        sample in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = sample_tx(sample.index(samples().len())).encode().to_vec();
        let i = position.index(bytes.len());
        bytes[i] = byte;
        check_tx(&bytes);
        bytes.truncate(i);
        check_tx(&bytes);
    }

    #[test]
    fn mutated_moves_receipts_and_manifests_never_panic(
        sample in any::<prop::sample::Index>(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let samples = wire_samples();
        let (mut bytes, check) = samples[sample.index(samples.len())].clone();
        let i = position.index(bytes.len());
        bytes[i] = byte;
        check(&bytes);
        bytes.truncate(i);
        check(&bytes);
    }

    #[test]
    fn random_bytes_never_panic_the_fueltrace_decoders(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        for (_, check) in wire_samples() {
            check(&bytes);
        }
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
