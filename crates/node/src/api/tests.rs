//! The API's JSON forms and job lists, and its document, checked on a small market.

use super::*;
use crate::http::ApiError;
use axum::http::StatusCode;
use commonware_cryptography::Signer;
use plexus_client::dto::*;
use plexus_state::State as LedgerState;
use plexus_state::{Genesis, GenesisValidator, Params, beacon::DevBeacon, build_block};
use plexus_types::ContentHash;
use plexus_types::PLX;
use plexus_types::job::{AuditClass, ResourceProfile};
use plexus_types::{
    Address, Amount, Payload, PrivateKey, SignedTransaction, Status, Transaction, hash::digest_hex,
};

fn key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(i)
}

fn address(i: u64) -> Address {
    Address(key(i).public_key())
}

fn tx(from: u64, nonce: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        chain_id: 3,
        sender: address(from),
        nonce,
        fee: 1_000,
        payload,
    }
    .sign(&key(from))
}

fn post(nonce: u64, cap: Amount) -> SignedTransaction {
    tx(
        2,
        nonce,
        Payload::JobPost {
            module: ContentHash::of_parts(&[b"m"]),
            blobs: vec![ContentHash::of_parts(&[b"b"])],
            input: ContentHash::of_parts(&[b"i"]),
            max_fuel: 2_000_000,
            price_cap_per_mfuel: cap,
            audit: AuditClass::Full,
            deadline_blocks: 10,
        },
    )
}

/// Provider 1 registered (ask 1 PLX); consumer 2 posted a matched job, committed, and an
/// unmatched one; returns the state and the two job ids.
fn market() -> (LedgerState, plexus_types::Digest, plexus_types::Digest) {
    let beacon = DevBeacon::deal(0, [key(0).public_key()]);
    let (mut state, _) = Genesis {
        chain_id: 3,
        timestamp_ms: 0,
        params: Params::default(),
        allocations: (0..3).map(|i| (address(i), 100_000 * PLX)).collect(),
        validators: vec![GenesisValidator {
            address: address(0),
            self_bond: 10_000 * PLX,
        }],
        beacon: beacon.output.clone(),
    }
    .build()
    .unwrap();
    let register = tx(
        1,
        0,
        Payload::ProviderRegister {
            endpoint: "http://provider:7000".into(),
            profile: ResourceProfile {
                cores: 2,
                ..ResourceProfile::default()
            },
            fuel_per_second: 10,
            ask_per_mfuel: PLX,
            bond: 500 * PLX,
        },
    );
    let (matched, unmatched) = (post(0, 2 * PLX), post(1, PLX / 2));
    let ids = (matched.hash(), unmatched.hash());
    let commit = tx(
        1,
        1,
        Payload::JobCommit {
            job: ids.0,
            output_hash: ContentHash::of_parts(&[b"o"]),
            total_fuel: 1_500_000,
            segments: 4,
            trace_root: ContentHash::of_parts(&[b"t"]),
            failed: false,
        },
    );
    for txs in [vec![register], vec![matched, unmatched], vec![commit]] {
        let height = state.height + 1;
        let built = build_block(
            &state,
            txs,
            height,
            key(0).public_key(),
            beacon.block_signature(height),
        )
        .unwrap();
        assert!(built.receipts.iter().all(|r| r.status == Status::Success));
        state = built.state;
    }
    (state, ids.0, ids.1)
}

#[test]
fn every_operation_documents_the_limiters_429() {
    let document = openapi();
    let mut operations = 0;
    for (path, item) in &document.paths.paths {
        for operation in [&item.get, &item.put, &item.post].into_iter().flatten() {
            operations += 1;
            assert!(
                operation.responses.responses.contains_key("429"),
                "{path} does not document 429"
            );
        }
    }
    assert!(operations >= 20, "{operations} operations");
}

/// The protocol states are enums in the document, with their values, and every reference
/// (states, hashes, amounts) names a schema the document holds.
#[test]
fn the_document_lists_every_state_and_resolves_every_reference() {
    let document = serde_json::to_value(openapi()).unwrap();
    let schemas = &document["components"]["schemas"];
    let listed = |name: &str| -> Vec<String> {
        schemas[name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {}", schemas[name]))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let strings = |all: &[&str]| all.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let names = |all: Vec<&'static str>| strings(&all);
    assert_eq!(
        listed("JobStatus"),
        names(JobStatus::ALL.iter().map(|s| s.as_str()).collect())
    );
    assert_eq!(
        listed("AuditStage"),
        names(AuditStage::ALL.iter().map(|s| s.as_str()).collect())
    );
    assert_eq!(
        listed("DisputePhase"),
        names(DisputePhase::ALL.iter().map(|s| s.as_str()).collect())
    );
    assert_eq!(
        listed("Turn"),
        strings(&["defender", "challenger", "settle"])
    );
    for name in [
        "AuditClass",
        "AuditKind",
        "DisputeEnd",
        "ReceiptStatus",
        "TxState",
    ] {
        assert!(!listed(name).is_empty(), "{name}");
    }
    let text = document.to_string();
    let mut rest = text.as_str();
    let mut references = 0;
    while let Some(at) = rest.find("#/components/schemas/") {
        rest = &rest[at + "#/components/schemas/".len()..];
        let name = &rest[..rest.find('"').unwrap()];
        assert!(
            schemas.get(name).is_some(),
            "a reference to {name}, which is not defined"
        );
        references += 1;
    }
    assert!(references > 20, "{references} references");
    for field in ["id", "module", "escrow", "status"] {
        assert!(
            schemas["JobDto"]["properties"][field].is_object(),
            "JobDto.{field}"
        );
    }
}

#[test]
fn jobs_and_providers_as_json() {
    let (state, matched, unmatched) = market();
    let job = job_dto(&state, &matched, &state.jobs[&matched]);
    assert_eq!(job.status, JobStatus::Committed);
    assert_eq!(job.provider, Some(address(1).to_string()));
    assert_eq!(job.escrow, BaseUnits(4 * PLX));
    assert_eq!(job.ask_per_mfuel, Some(BaseUnits(PLX)));
    assert_eq!(job.bond_locked, Some(BaseUnits(4 * PLX)));
    assert_eq!(job.total_fuel, Some(1_500_000));
    assert_eq!(
        job.output_hash,
        Some(HexContentHash(ContentHash::of_parts(&[b"o"])))
    );
    assert_eq!(job.audit, plexus_client::dto::AuditClass::Full);
    assert_eq!(
        job.blobs,
        vec![HexContentHash(ContentHash::of_parts(&[b"b"]))]
    );
    // On the wire, the same strings as ever.
    let json = serde_json::to_value(&job).unwrap();
    assert_eq!(json["status"], "committed");
    assert_eq!(json["audit"], "full");
    assert_eq!(json["escrow"], (4 * PLX).to_string());
    let output = ContentHash::of_parts(&[b"o"]);
    assert_eq!(
        json["output_hash"],
        plexus_types::hash::to_hex(output.as_bytes())
    );
    assert_eq!((job.posted_height, job.deadline_height), (2, 12));
    assert_eq!(
        (job.committed_height, job.settle_height),
        (Some(3), Some(8))
    );
    assert_eq!((job.paid, job.finished_height), (None, None));
    let open = job_dto(&state, &unmatched, &state.jobs[&unmatched]);
    assert_eq!((open.status, open.provider), (JobStatus::Posted, None));

    let provider = provider_dto(&state, &address(1), &state.providers[&address(1)]);
    assert_eq!(provider.endpoint, "http://provider:7000");
    assert_eq!(provider.bond_locked, (4 * PLX).to_string());
    assert_eq!((provider.jobs_in_flight, provider.capacity), (1, 2));
    assert_eq!((provider.reputation, provider.active), (5_000, true));
}

#[test]
fn job_lists_filter_newest_first_and_are_bounded() {
    let (state, matched, unmatched) = market();
    let query = |consumer: Option<u64>, provider: Option<u64>, limit| JobsQuery {
        consumer: consumer.map(|i| address(i).to_string()),
        provider: provider.map(|i| address(i).to_string()),
        verifier: None,
        limit,
    };
    let ids = |jobs: Result<Vec<JobDto>, ApiError>| {
        jobs.unwrap()
            .into_iter()
            .map(|j| j.id.to_string())
            .collect::<Vec<_>>()
    };
    let mine = ids(list_jobs(&state, &query(Some(2), None, None)));
    assert_eq!(mine.len(), 2);
    assert!(mine.contains(&digest_hex(&matched)) && mine.contains(&digest_hex(&unmatched)));
    let assigned = ids(list_jobs(&state, &query(None, Some(1), None)));
    assert_eq!(assigned, vec![digest_hex(&matched)]);
    // Filters combine; no filter lists every retained job.
    let both = ids(list_jobs(&state, &query(Some(2), Some(1), None)));
    assert_eq!(both, vec![digest_hex(&matched)]);
    assert_eq!(ids(list_jobs(&state, &query(None, None, None))).len(), 2);
    assert_eq!(
        ids(list_jobs(&state, &query(Some(2), None, Some(1)))).len(),
        1
    );
    assert!(ids(list_jobs(&state, &query(Some(1), None, None))).is_empty());
    for limit in [0, JOBS_LIST_MAX + 1] {
        let Err(ApiError { status, body, .. }) = list_jobs(&state, &query(None, None, Some(limit)))
        else {
            panic!("accepted limit {limit}");
        };
        assert_eq!(
            (status, body.code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_query")
        );
    }
    let not_an_address = JobsQuery {
        consumer: Some("nope".into()),
        ..JobsQuery::default()
    };
    assert_eq!(
        list_jobs(&state, &not_an_address)
            .map_err(|e| e.code().to_string())
            .err(),
        Some("invalid_address".to_string())
    );
}
