//! Golden fixtures: the canonical encodings of a transaction, a block and a receipt are frozen.
//!
//! A failure here means the wire or storage format changed, which forks every existing chain. If
//! that is intended, regenerate with `PLEXUS_BLESS=1 cargo test -p plexus-types --test golden` and
//! say why in the commit message.

use commonware_codec::{Decode, DecodeExt, Encode, EncodeSize};
use commonware_cryptography::Signer;
use plexus_types::{
    Address, BLOCK_TXS_MAX, Block, ContentHash, Header, PLX, Payload, PrivateKey, Reason, Receipt,
    SignedTransaction, Status, Transaction, block::tx_root, hash,
};
use std::path::PathBuf;

fn check(name: &str, encoded: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.hex"));
    let hex: String = encoded.iter().map(|b| format!("{b:02x}")).collect();
    if std::env::var_os("PLEXUS_BLESS").is_some() {
        std::fs::write(&path, format!("{hex}\n")).unwrap();
    }
    let frozen = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("missing fixture {}: {e}", path.display()));
    assert_eq!(frozen.trim(), hex, "encoding of {name} changed");
}

/// A content hash for a fixture: the fixtures were frozen with these 32 bytes (the SHA-256 of the
/// label) in the BLAKE3 fields, and any 32 bytes encode the same way.
fn frozen(label: &[u8]) -> ContentHash {
    ContentHash::from_bytes(hash(&[label]).0)
}

fn signed(nonce: u64, payload: Payload) -> SignedTransaction {
    let key = PrivateKey::from_seed(1);
    Transaction {
        chain_id: 1337,
        sender: Address(key.public_key()),
        nonce,
        fee: 1_000,
        payload,
    }
    .sign(&key)
}

fn payloads() -> Vec<Payload> {
    let other = Address(PrivateKey::from_seed(2).public_key());
    vec![
        Payload::Transfer {
            to: other.clone(),
            amount: 3 * PLX / 2,
        },
        Payload::Bond {
            amount: 1_000 * PLX,
        },
        Payload::Unbond { amount: 1 },
        Payload::Delegate {
            validator: other.clone(),
            amount: u128::MAX,
        },
        Payload::Undelegate {
            validator: other,
            amount: 7,
        },
    ]
}

#[test]
fn transactions_are_frozen() {
    for (nonce, payload) in payloads().into_iter().enumerate() {
        let tx = signed(nonce as u64, payload);
        let name = format!("tx_{}", tx.tx.payload.kind());
        check(&name, &tx.encode());
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
        );
        assert!(tx.verify_signature());
    }
}

#[test]
fn block_is_frozen() {
    let txs: Vec<_> = payloads()
        .into_iter()
        .enumerate()
        .map(|(n, p)| signed(n as u64, p))
        .collect();
    let block = Block {
        header: Header {
            parent: hash(&[b"parent"]),
            height: 12,
            timestamp_ms: 1_764_000_000_000,
            proposer: PrivateKey::from_seed(3).public_key(),
            tx_root: tx_root(&txs),
            state_root: hash(&[b"state"]),
            beacon: Some(beacon_signature(10)),
        },
        txs,
    };
    check("block", &block.encode());
    check("block_hash", block.digest().as_ref());
    assert_eq!(
        Block::decode_cfg(block.encode(), &BLOCK_TXS_MAX).unwrap(),
        block
    );
    // The transaction-count limit is enforced while decoding.
    assert!(Block::decode_cfg(block.encode(), &4).is_err());
}

#[test]
fn receipts_are_frozen() {
    let receipts = [
        Receipt {
            tx_hash: hash(&[b"a"]),
            status: Status::Success,
            fee_burned: 1_000,
        },
        Receipt {
            tx_hash: hash(&[b"b"]),
            status: Status::Failed(Reason::InsufficientBalance),
            fee_burned: 1_000,
        },
        Receipt {
            tx_hash: hash(&[b"c"]),
            status: Status::Rejected(Reason::BadNonce),
            fee_burned: 0,
        },
    ];
    let encoded: Vec<u8> = receipts.iter().flat_map(|r| r.encode().to_vec()).collect();
    check("receipts", &encoded);
    for receipt in receipts {
        assert_eq!(Receipt::decode(receipt.encode()).unwrap(), receipt);
    }
    // An unknown status tag or reason is refused.
    let mut bad = receipts_bytes_with(3, 0);
    assert!(Receipt::decode(commonware_codec::Copying(bad.as_slice())).is_err());
    bad = receipts_bytes_with(1, 250);
    assert!(Receipt::decode(commonware_codec::Copying(bad.as_slice())).is_err());
}

fn receipts_bytes_with(tag: u8, reason: u8) -> Vec<u8> {
    let mut bytes = hash(&[b"x"]).as_ref().to_vec();
    bytes.extend([tag, reason]);
    bytes.extend([0u8; 16]);
    bytes
}

#[test]
fn evidence_participation_and_dealer_log_transactions_are_frozen() {
    let evidence = Payload::Evidence {
        evidence: (0u8..=200).collect(),
    };
    let participation = Payload::Participation {
        height: 41,
        finalization: vec![9; 300],
    };
    let dealer_log = Payload::DealerLog {
        epoch: 3,
        log: vec![5; 700],
    };
    for (nonce, payload) in [evidence, participation, dealer_log]
        .into_iter()
        .enumerate()
    {
        let tx = signed(nonce as u64, payload);
        check(&format!("tx_{}", tx.tx.payload.kind()), &tx.encode());
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
        );
    }
    // Empty or oversized evidence does not decode.
    for size in [0, plexus_types::EVIDENCE_SIZE_MAX + 1] {
        let tx = signed(
            0,
            Payload::Evidence {
                evidence: vec![1; size],
            },
        );
        assert!(SignedTransaction::decode_untrusted(&tx.encode()).is_err());
    }
}

/// The delegators' rewards transactions: a validator's commission and a withdrawal of accrued
/// rewards (tags 8 and 9).
#[test]
fn staking_rewards_transactions_are_frozen() {
    let payloads = [
        Payload::CommissionSet { bps: 1_250 },
        Payload::RewardsWithdraw,
    ];
    for (nonce, payload) in payloads.into_iter().enumerate() {
        let tx = signed(nonce as u64, payload);
        check(&format!("tx_{}", tx.tx.payload.kind()), &tx.encode());
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
        );
    }
}

/// Governance (tags 64 and 65): a proposal with two changes, and a vote.
#[test]
fn governance_transactions_are_frozen() {
    let payloads = [
        Payload::GovPropose {
            changes: vec![
                ("audit.light_audit_ppm".into(), 150_000),
                ("chain.fee_min".into(), 2_000),
            ],
            title: "More light audits".into(),
            description: "Raise the light audit rate to 15%.".into(),
            deposit: 100 * PLX,
        },
        Payload::GovVote {
            proposal: 7,
            option: plexus_types::gov::VoteOption::Veto,
        },
    ];
    for (nonce, payload) in payloads.into_iter().enumerate() {
        let tx = signed(nonce as u64, payload);
        assert_eq!(tx.encode().len(), tx.encode_size());
        check(&format!("tx_{}", tx.tx.payload.kind()), &tx.encode());
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
        );
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

#[test]
fn market_transactions_are_frozen() {
    use plexus_types::job::{AuditClass, ENDPOINT_SIZE_MAX, ResourceProfile};
    use plexus_types::limits::JOB_BLOBS_MAX;
    let profile = ResourceProfile {
        cores: 8,
        memory_mb: 32_768,
        gpus: 1,
        gpu_model: "RTX 4090".into(),
        storage_gb: 512,
    };
    let payloads = [
        Payload::ProviderRegister {
            endpoint: "https://provider.example:7070".into(),
            profile: profile.clone(),
            fuel_per_second: 1_250_000_000,
            ask_per_mfuel: 3 * PLX / 1_000,
            bond: 500 * PLX,
        },
        Payload::ProviderUpdate {
            endpoint: "http://10.0.0.7:7070".into(),
            profile,
            fuel_per_second: 9,
            ask_per_mfuel: 1,
            bond_add: 0,
        },
        Payload::ProviderHeartbeat,
        Payload::ProviderDeregister,
        Payload::JobPost {
            module: frozen(b"module"),
            blobs: vec![frozen(b"weights"), frozen(b"vocab")],
            input: frozen(b"input"),
            max_fuel: 1_000_000_000_000,
            price_cap_per_mfuel: 5 * PLX,
            audit: AuditClass::Full,
            deadline_blocks: 600,
        },
        Payload::JobCommit {
            job: hash(&[b"job"]),
            output_hash: frozen(b"output"),
            total_fuel: 123_456_789,
            segments: 42,
            trace_root: frozen(b"trace"),
            failed: false,
        },
        Payload::JobCancel {
            job: hash(&[b"job"]),
        },
    ];
    for (nonce, payload) in payloads.into_iter().enumerate() {
        let tx = signed(nonce as u64, payload);
        check(&format!("tx_{}", tx.tx.payload.kind()), &tx.encode());
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
        );
    }
    // Over-long endpoints, too many blobs and unknown audit classes do not decode.
    let refused = [
        Payload::ProviderRegister {
            endpoint: "h".repeat(ENDPOINT_SIZE_MAX + 1),
            profile: ResourceProfile::default(),
            fuel_per_second: 1,
            ask_per_mfuel: 1,
            bond: 1,
        },
        Payload::JobPost {
            module: frozen(b"m"),
            blobs: vec![frozen(b"b"); JOB_BLOBS_MAX + 1],
            input: frozen(b"i"),
            max_fuel: 1,
            price_cap_per_mfuel: 1,
            audit: AuditClass::Standard,
            deadline_blocks: 1,
        },
    ];
    for payload in refused {
        let tx = signed(0, payload);
        assert!(SignedTransaction::decode_untrusted(&tx.encode()).is_err());
    }
    let mut bad_audit = signed(
        0,
        Payload::JobPost {
            module: frozen(b"m"),
            blobs: Vec::new(),
            input: frozen(b"i"),
            max_fuel: 1,
            price_cap_per_mfuel: 1,
            audit: AuditClass::Standard,
            deadline_blocks: 1,
        },
    )
    .encode()
    .to_vec();
    // chain id, sender, nonce, fee, tag, module, blob count, input, fuel, cap: the audit byte.
    let audit_at = 8 + 32 + 8 + 16 + 1 + 32 + 1 + 32 + 8 + 16;
    assert_eq!(bad_audit[audit_at], 0);
    bad_audit[audit_at] = 2;
    assert!(SignedTransaction::decode_untrusted(&bad_audit).is_err());
}

#[test]
fn verifier_transactions_are_frozen() {
    let payloads = [
        Payload::VerifierRegister {
            bond: 500 * PLX,
            fuel_per_second: 1_500_000_000,
            capacity: 2,
        },
        Payload::AuditDecline {
            job: hash(&[b"job"]),
        },
    ];
    for (nonce, payload) in payloads.into_iter().enumerate() {
        let tx = signed(nonce as u64, payload);
        check(&format!("tx_{}", tx.tx.payload.kind()), &tx.encode());
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
        );
    }
}

/// The FuelTrace transactions: a verifier leaving, an audit's seal and both kinds of verdict, a
/// consumer's dispute, each kind of dissection move and a settlement.
#[test]
fn fueltrace_transactions_are_frozen() {
    use plexus_types::audit::Verdict;
    use plexus_types::dissection::{Choose, Move, Prove, Reveal, RevealedLeaf};
    use plexus_types::job::Commitment;
    use plexus_types::trace;

    let commitment = Commitment {
        output_hash: frozen(b"output"),
        total_fuel: 123_456_789,
        segments: 42,
        trace_root: frozen(b"trace"),
        failed: false,
    };
    let leaf = |index: u64| RevealedLeaf {
        index,
        fuel: index * 1_000,
        state_root: ContentHash::of(&index.to_le_bytes()),
    };
    let leaves: Vec<ContentHash> = (0..43).map(|index| leaf(index).leaf()).collect();
    let job = hash(&[b"job"]);
    let step = |name: &'static str, step: Move| (name, Payload::DisputeMove { job, step });
    let mut named = vec![
        ("verifier_deregister", Payload::VerifierDeregister),
        (
            "audit_commit",
            Payload::AuditCommit {
                job,
                seal: hash(&[b"seal"]),
            },
        ),
        (
            "audit_reveal_light",
            Payload::AuditReveal {
                job,
                verdict: Verdict::Light { disputed: Some(17) },
                salt: hash(&[b"salt"]),
            },
        ),
        (
            "audit_reveal_full",
            Payload::AuditReveal {
                job,
                verdict: Verdict::Full(commitment.clone()),
                salt: hash(&[b"salt"]),
            },
        ),
        (
            "dispute_open",
            Payload::DisputeOpen {
                job,
                claim: Commitment {
                    failed: true,
                    ..commitment
                },
            },
        ),
        (
            "dispute_settle",
            Payload::DisputeSettle {
                job,
                manifest: frozen(b"manifest"),
            },
        ),
    ];
    named.extend([
        step(
            "dispute_move_reveal",
            Move::Reveal(Reveal {
                points: leaves[1..16].to_vec(),
            }),
        ),
        step(
            "dispute_move_choose",
            Move::Choose(Choose { sub_interval: 7 }),
        ),
        step(
            "dispute_move_prove",
            Move::Prove(Prove {
                lo: leaf(20),
                hi: leaf(21),
                proof: trace::prove_leaf(&leaves, 20).unwrap(),
            }),
        ),
    ]);
    for (nonce, (name, payload)) in named.into_iter().enumerate() {
        let tx = signed(nonce as u64, payload);
        assert!(name.starts_with(tx.tx.payload.kind()), "{name}");
        check(&format!("tx_{name}"), &tx.encode());
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
        );
    }
}

/// A checkpoint manifest: stored as content, its hash is what a dispute's settlement names.
#[test]
fn audit_manifest_is_frozen() {
    use plexus_types::audit::Manifest;
    use plexus_types::trace::GlobalValue;
    let manifest = Manifest {
        index: 9,
        fuel: 90_000,
        globals: vec![
            GlobalValue::I32(-7),
            GlobalValue::I64(1 << 40),
            GlobalValue::F32(0x3fc0_0000),
            GlobalValue::F64(0x3ff8_0000_0000_0000),
            GlobalValue::V128(u128::MAX - 1),
        ],
        pages: vec![ContentHash::of(b"page 0"), ContentHash::of(b"page 1")],
        locators: vec![ContentHash::of(b"locator 0"), ContentHash::of(b"locator 1")],
    };
    check("audit_manifest", &manifest.encode());
    assert_eq!(Manifest::decode(manifest.encode()).unwrap(), manifest);
}

/// The storage market's transactions: an offer, a deal (two segments), an accept, an extension
/// and an end.
#[test]
fn storage_transactions_are_frozen() {
    use plexus_types::deal::DealSegment;

    let deal = hash(&[b"deal"]);
    let segment = |label: &[u8], size_bytes: u64| DealSegment {
        commitment: frozen(label),
        size_bytes,
        shard_bytes: size_bytes.div_ceil(2),
    };
    let payloads = [
        Payload::StorageOffer {
            capacity_bytes: 1 << 40,
            price_per_gib_epoch: 3 * PLX,
        },
        Payload::DealPost {
            segments: vec![
                segment(b"segment-0", 64 << 20),
                segment(b"segment-1", 12_345),
            ],
            k: 2,
            n: 4,
            price_cap_per_gib_epoch: 5 * PLX,
            epochs: 720,
            public: false,
        },
        Payload::ShardAccept {
            deal,
            segment: 1,
            shard: 3,
        },
        Payload::DealExtend { deal, epochs: 100 },
        Payload::DealEnd { deal },
    ];
    for (nonce, payload) in payloads.into_iter().enumerate() {
        let tx = signed(nonce as u64, payload);
        check(&format!("tx_{}", tx.tx.payload.kind()), &tx.encode());
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
        );
    }
}

/// The storage proofs' transactions: a holder's proof of a challenged chunk (a short last
/// chunk, three chaining values, two commitment siblings) and a declared fault.
#[test]
fn storage_proof_transactions_are_frozen() {
    use plexus_types::storage::{ChunkProof, CommitmentProof};

    let deal = hash(&[b"deal"]);
    let payloads = [
        Payload::StorageProof {
            deal,
            segment: 1,
            shard: 3,
            epoch: 42,
            proof: ChunkProof {
                chunk: (0..200u8).collect(),
                path: vec![[5u8; 32], [6u8; 32], [7u8; 32]],
                commitment_path: CommitmentProof {
                    leaf_count: 4,
                    siblings: vec![frozen(b"sibling-0"), frozen(b"sibling-1")],
                },
            },
        },
        Payload::FaultDeclare {
            deal,
            segment: 1,
            shard: 3,
        },
    ];
    for (nonce, payload) in payloads.into_iter().enumerate() {
        let tx = signed(nonce as u64, payload);
        check(&format!("tx_{}", tx.tx.payload.kind()), &tx.encode());
        assert_eq!(
            SignedTransaction::decode_untrusted(&tx.encode()).unwrap(),
            tx
        );
    }
}

/// The largest proof that decodes (`CHUNK_PROOF_SIZE_MAX`) fits a transaction.
#[test]
fn the_largest_storage_proof_fits_a_transaction() {
    use plexus_types::TX_SIZE_MAX;
    use plexus_types::storage::{
        BLAKE3_PATH_MAX, CHUNK_BYTES, CHUNK_PROOF_SIZE_MAX, COMMITMENT_PATH_MAX, ChunkProof,
        CommitmentProof,
    };

    let proof = ChunkProof {
        chunk: vec![9; CHUNK_BYTES],
        path: vec![[1u8; 32]; BLAKE3_PATH_MAX],
        commitment_path: CommitmentProof {
            leaf_count: u32::MAX,
            siblings: vec![frozen(b"sibling"); COMMITMENT_PATH_MAX],
        },
    };
    assert_eq!(proof.encode_size(), CHUNK_PROOF_SIZE_MAX);
    let tx = signed(
        u64::MAX,
        Payload::StorageProof {
            deal: hash(&[b"deal"]),
            segment: u32::MAX,
            shard: u16::MAX,
            epoch: u64::MAX,
            proof,
        },
    )
    .encode();
    assert!(tx.len() <= TX_SIZE_MAX, "{} bytes", tx.len());
    assert!(SignedTransaction::decode_untrusted(&tx).is_ok());
}

/// A deal of `DEAL_SEGMENTS_MAX` segments fits `TX_SIZE_MAX`; one more segment, or none, does
/// not decode.
#[test]
fn a_deal_of_the_most_segments_fits_a_transaction() {
    use plexus_types::TX_SIZE_MAX;
    use plexus_types::deal::{DEAL_SEGMENTS_MAX, DealSegment};
    const SEGMENT_BYTES_MAX: u64 = 64 << 20;

    let post = |count: usize| {
        signed(
            0,
            Payload::DealPost {
                segments: (0..count)
                    .map(|i| DealSegment {
                        commitment: frozen(&i.to_be_bytes()),
                        size_bytes: SEGMENT_BYTES_MAX,
                        shard_bytes: SEGMENT_BYTES_MAX,
                    })
                    .collect(),
                k: u16::MAX,
                n: u16::MAX,
                price_cap_per_gib_epoch: u128::MAX,
                epochs: u64::MAX,
                public: true,
            },
        )
        .encode()
    };
    let most = post(DEAL_SEGMENTS_MAX);
    assert!(most.len() <= TX_SIZE_MAX, "{} bytes", most.len());
    assert!(SignedTransaction::decode_untrusted(&most).is_ok());
    for refused in [post(0), post(DEAL_SEGMENTS_MAX + 1)] {
        assert!(SignedTransaction::decode_untrusted(&refused).is_err());
    }
}
