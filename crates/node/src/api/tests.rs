//! The API's JSON forms and job lists, and its document, checked on a small market.

use super::*;

mod governance;
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

/// A one-validator chain (key 0, a self-bond of 10,000 PLX) with `params`, keys `0..accounts`
/// holding 100,000 PLX each, and the beacon that signs its blocks.
fn chain(params: Params, accounts: u64) -> (LedgerState, DevBeacon) {
    let beacon = DevBeacon::deal(0, [key(0).public_key()]);
    let (state, _) = Genesis {
        chain_id: 3,
        timestamp_ms: 0,
        params,
        allocations: (0..accounts).map(|i| (address(i), 100_000 * PLX)).collect(),
        validators: vec![GenesisValidator {
            address: address(0),
            self_bond: 10_000 * PLX,
        }],
        beacon: beacon.output.clone(),
    }
    .build()
    .unwrap();
    (state, beacon)
}

/// Builds the next block of `txs` (proposed by key 0) and moves `state` to it; every transaction
/// must succeed.
fn next_block(state: &mut LedgerState, beacon: &DevBeacon, txs: Vec<SignedTransaction>) {
    let height = state.height + 1;
    let built = build_block(
        state,
        txs,
        height,
        key(0).public_key(),
        beacon.block_signature(height),
    )
    .unwrap();
    assert!(
        built.receipts.iter().all(|r| r.status == Status::Success),
        "{:?}",
        built.receipts
    );
    *state = built.state;
}

/// Provider 1 registered (ask 1 PLX); consumer 2 posted a matched job, committed, and an
/// unmatched one; returns the state and the two job ids.
fn market() -> (LedgerState, plexus_types::Digest, plexus_types::Digest) {
    let (mut state, beacon) = chain(Params::default(), 3);
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
        next_block(&mut state, &beacon, txs);
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
    assert_eq!(
        listed("ShardState"),
        strings(&["drawn", "active", "faulty", "repairing", "lost"])
    );
    assert_eq!(
        listed("ChallengeOutcome"),
        strings(&["open", "proven", "missed", "excused"])
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
    // The storage routes, with their parameters and refusals.
    let paths = &document["paths"];
    let file = &paths["/v1/storage/files/{id}"]["get"];
    assert_eq!(file["parameters"][0]["name"], "id");
    for status in ["200", "400", "404", "429"] {
        assert!(
            file["responses"][status].is_object(),
            "files/{{id}} {status}"
        );
    }
    let files = &paths["/v1/storage/files"]["get"];
    let names: Vec<&str> = files["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["owner", "limit"]);
    assert!(files["responses"]["400"].is_object());
    assert!(paths["/v1/storage/providers"]["get"]["responses"]["200"].is_object());
    let holder = &paths["/v1/storage/holders/{address}/shards"]["get"];
    assert_eq!(holder["parameters"][0]["name"], "address");
    for status in ["200", "400", "429"] {
        assert!(holder["responses"][status].is_object(), "holders {status}");
    }
    for field in [
        "deal",
        "segment",
        "commitment",
        "shard_bytes",
        "state",
        "challenge",
    ] {
        assert!(
            schemas["HolderShardDto"]["properties"][field].is_object()
                || schemas["HolderShardDto"]["allOf"].is_array(),
            "HolderShardDto.{field}"
        );
    }
    for field in ["id", "module", "escrow", "status"] {
        assert!(
            schemas["JobDto"]["properties"][field].is_object(),
            "JobDto.{field}"
        );
    }
    // Delegators' rewards: the account's accrued rewards, its own route, the commissions.
    let rewards = &paths["/v1/accounts/{address}/rewards"]["get"];
    assert_eq!(rewards["parameters"][0]["name"], "address");
    for status in ["200", "400", "429"] {
        assert!(rewards["responses"][status].is_object(), "rewards {status}");
    }
    for field in ["accrued", "self_bond", "commission_bps", "delegations"] {
        assert!(
            schemas["RewardsDto"]["properties"][field].is_object(),
            "RewardsDto.{field}"
        );
    }
    assert!(schemas["AccountDto"]["properties"]["rewards"].is_object());
    assert!(schemas["ValidatorDto"]["properties"]["commission_bps"].is_object());
    assert!(schemas["DelegationDto"]["properties"]["commission_pending_bps"].is_object());
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
    for limit in [0, LIST_MAX + 1] {
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

/// Keys of the storage market below: providers 1..=4 offer storage (provider 4 the dearest),
/// owners 5 and 6 post a deal each.
const STORAGE_OWNERS: [u64; 2] = [5, 6];

/// The price per GiB-epoch provider `i` offers storage at.
fn storage_price(i: u64) -> Amount {
    PLX + Amount::from(i)
}

/// A storage market through real blocks (k = 2, n = 4): providers 1..=4 register and offer a TiB
/// each; owner 5 posts a deal of two segments, owner 6 one of one segment, and the holder of
/// owner 5's first shard accepts it. Returns the state and the two deal ids.
fn storage_market() -> (LedgerState, plexus_types::Digest, plexus_types::Digest) {
    use plexus_types::deal::DealSegment;
    let params = Params {
        provider_bond_min: 100 * PLX,
        storage: plexus_state::StorageParams {
            k: 2,
            n: 4,
            ..plexus_state::StorageParams::default()
        },
        ..Params::default()
    };
    let (mut state, beacon) = chain(params, 7);
    let mut offers: Vec<SignedTransaction> = (1..=4)
        .map(|i| {
            tx(
                i,
                0,
                Payload::ProviderRegister {
                    endpoint: format!("http://provider{i}:7000"),
                    profile: ResourceProfile::default(),
                    fuel_per_second: 10,
                    ask_per_mfuel: PLX,
                    bond: 1_000 * PLX,
                },
            )
        })
        .collect();
    offers.extend((1..=4).map(|i| {
        tx(
            i,
            1,
            Payload::StorageOffer {
                capacity_bytes: 1 << 40,
                price_per_gib_epoch: storage_price(i),
            },
        )
    }));
    // At k = 2 a segment of `2 * shard - 4` bytes has shards of `shard` bytes (the code keeps
    // the length in 4 bytes before the data).
    let segment = |label: &[u8], shard_bytes: u64| DealSegment {
        commitment: ContentHash::of(label),
        size_bytes: 2 * shard_bytes - 4,
        shard_bytes,
    };
    let deal = |owner: u64, segments: Vec<DealSegment>| {
        tx(
            owner,
            0,
            Payload::DealPost {
                segments,
                k: 2,
                n: 4,
                price_cap_per_gib_epoch: 2 * PLX,
                epochs: 3,
                public: owner == STORAGE_OWNERS[1],
            },
        )
    };
    let first = deal(
        STORAGE_OWNERS[0],
        vec![segment(b"a", 1 << 20), segment(b"b", 4_096)],
    );
    let second = deal(STORAGE_OWNERS[1], vec![segment(b"c", 65_536)]);
    let ids = (first.hash(), second.hash());
    let run = |state: &mut LedgerState, txs| next_block(state, &beacon, txs);
    run(&mut state, offers);
    run(&mut state, vec![first]);
    run(&mut state, vec![second]);
    let holder = state.deals[&ids.0].segments[0].shards[0].holder.clone();
    let from = (1..=4).find(|i| address(*i) == holder).unwrap();
    let accept = Payload::ShardAccept {
        deal: ids.0,
        segment: 0,
        shard: 0,
    };
    run(&mut state, vec![tx(from, 2, accept)]);
    (state, ids.0, ids.1)
}

#[test]
fn a_stored_file_as_json_with_every_segment_and_shard() {
    let (state, first, _) = storage_market();
    let file = storage_file(&state, &first).unwrap();
    let deal = &state.deals[&first];
    assert_eq!(file.file.id, HexDigest(first));
    assert_eq!(file.file.owner, address(STORAGE_OWNERS[0]).to_string());
    assert!(!file.file.public);
    assert_eq!((file.file.k, file.file.n), (2, 4));
    let sizes = (2 * (1u64 << 20) - 4) + (2 * 4_096 - 4);
    assert_eq!(file.file.size_bytes, sizes);
    assert_eq!(file.file.segment_count, 2);
    assert_eq!((file.file.shard_count, file.file.shards_active), (8, 1));
    assert_eq!(file.file.price_cap_per_gib_epoch, BaseUnits(2 * PLX));
    assert_eq!(file.file.escrow, BaseUnits(deal.escrow));
    assert!(deal.escrow > 0);
    assert_eq!(file.file.paid, BaseUnits(0));
    assert_eq!(file.file.posted_height, 2);
    assert_eq!(
        (file.file.start_epoch, file.file.end_epoch),
        (deal.start_epoch, deal.start_epoch + 3)
    );
    // Every segment keeps its order and its shards their slots; holders are distinct per segment.
    assert_eq!(file.segments.len(), 2);
    for (index, segment) in file.segments.iter().enumerate() {
        let record = &deal.segments[index];
        assert_eq!(segment.index, index as u32);
        assert_eq!(segment.commitment, HexContentHash(record.commitment));
        assert_eq!(
            (segment.size_bytes, segment.shard_bytes),
            (record.size_bytes, record.shard_bytes)
        );
        let holders: std::collections::BTreeSet<&String> =
            segment.shards.iter().map(|s| &s.holder).collect();
        assert_eq!(holders.len(), 4);
        for (slot, shard) in segment.shards.iter().enumerate() {
            let holder = &record.shards[slot].holder;
            assert_eq!(shard.index, slot as u16);
            assert_eq!(shard.holder, holder.to_string());
            let i = (1..=4).find(|i| address(*i) == *holder).unwrap();
            assert_eq!(shard.price_per_gib_epoch, BaseUnits(storage_price(i)));
            assert_eq!(shard.collateral, BaseUnits(record.shards[slot].collateral));
        }
    }
    // The accepted shard is active since the accept's block; the others wait for theirs.
    let accepted = &file.segments[0].shards[0];
    assert_eq!(accepted.state, ShardState::Active);
    assert_eq!(
        (accepted.active_since_height, accepted.accept_due_height),
        (Some(4), None)
    );
    let window = state.params.storage.accept_window_blocks;
    let waiting = &file.segments[1].shards[3];
    assert_eq!(waiting.state, ShardState::Drawn);
    assert_eq!(
        (waiting.drawn_height, waiting.accept_due_height),
        (Some(2), Some(2 + window))
    );
    // On the wire: one flat object, states and amounts as strings, absent fields left out.
    let json = serde_json::to_value(&file).unwrap();
    assert_eq!(json["id"], digest_hex(&first));
    assert_eq!(json["escrow"], deal.escrow.to_string());
    assert_eq!(json["segment_count"], 2);
    assert_eq!(json["segments"][0]["shards"][0]["state"], "active");
    assert_eq!(json["segments"][1]["shards"][3]["state"], "drawn");
    assert!(
        json["segments"][0]["shards"][0]
            .get("accept_due_height")
            .is_none()
    );
    assert_eq!(
        json["segments"][1]["shards"][3]["accept_due_height"],
        2 + window
    );
    assert_eq!(
        serde_json::from_value::<StorageFileDto>(json).unwrap(),
        file,
        "the client reads back what the node writes"
    );
}

#[test]
fn an_unknown_stored_file_is_a_404_with_its_reason() {
    let (state, _, _) = storage_market();
    let unknown = plexus_types::hash(&[b"no such deal".as_slice()]);
    let Err(error) = storage_file(&state, &unknown) else {
        panic!("found a deal never posted");
    };
    assert_eq!(
        (error.status, error.code()),
        (StatusCode::NOT_FOUND, "unknown_deal")
    );
    assert!(error.body.message.contains(&digest_hex(&unknown)));
}

#[test]
fn stored_file_lists_filter_by_owner_newest_first_and_are_bounded() {
    let (state, first, second) = storage_market();
    let query = |owner: Option<String>, limit| StorageFilesQuery { owner, limit };
    let ids = |files: Result<Vec<StorageFileSummaryDto>, ApiError>| {
        files
            .unwrap()
            .into_iter()
            .map(|f| f.id.digest())
            .collect::<Vec<_>>()
    };
    let owner = |i: u64| Some(address(i).to_string());
    assert_eq!(
        ids(list_storage_files(&state, &query(None, None))),
        vec![second, first]
    );
    assert_eq!(
        ids(list_storage_files(&state, &query(None, Some(1)))),
        vec![second]
    );
    assert_eq!(
        ids(list_storage_files(
            &state,
            &query(owner(STORAGE_OWNERS[0]), None)
        )),
        vec![first]
    );
    assert_eq!(
        ids(list_storage_files(
            &state,
            &query(owner(STORAGE_OWNERS[1]), None)
        )),
        vec![second]
    );
    assert!(ids(list_storage_files(&state, &query(owner(1), None))).is_empty());
    // A list shows the summary: the same fields as the file's own route, without segments.
    let listed = list_storage_files(&state, &query(owner(STORAGE_OWNERS[1]), None)).unwrap();
    assert_eq!(listed[0], storage_file(&state, &second).unwrap().file);
    assert!(listed[0].public);
    let json = serde_json::to_value(&listed[0]).unwrap();
    assert!(json.get("segments").is_none());
    for limit in [0, LIST_MAX + 1] {
        let Err(error) = list_storage_files(&state, &query(None, Some(limit))) else {
            panic!("accepted limit {limit}");
        };
        assert_eq!(
            (error.status, error.code()),
            (StatusCode::BAD_REQUEST, "invalid_query")
        );
    }
    let Err(error) = list_storage_files(&state, &query(Some("nope".into()), None)) else {
        panic!("accepted an owner that is no address");
    };
    assert_eq!(
        (error.status, error.code()),
        (StatusCode::BAD_REQUEST, "invalid_address")
    );
}

#[test]
fn storage_offers_as_json_with_what_their_draws_weigh() {
    let (state, first, second) = storage_market();
    let offers: Vec<StorageOfferDto> = state
        .storage_offers
        .iter()
        .filter_map(|(address, offer)| storage_offer_dto(&state, address, offer))
        .collect();
    assert_eq!(offers.len(), 4);
    for offer in &offers {
        let i = (1..=4)
            .find(|i| address(*i).to_string() == offer.provider)
            .unwrap();
        // Each provider holds one shard of each of the three segments.
        let mut held = 0;
        let mut collateral = 0;
        for id in [first, second] {
            for segment in &state.deals[&id].segments {
                for shard in &segment.shards {
                    if shard.holder == address(i) {
                        held += segment.shard_bytes;
                        collateral += shard.collateral;
                    }
                }
            }
        }
        assert_eq!(held, (1 << 20) + 4_096 + 65_536);
        assert_eq!(offer.capacity_bytes, 1 << 40);
        assert_eq!(offer.used_bytes, held);
        assert_eq!(offer.free_bytes, (1 << 40) - held);
        assert_eq!(offer.price_per_gib_epoch, BaseUnits(storage_price(i)));
        assert_eq!(offer.bond, BaseUnits(1_000 * PLX));
        assert_eq!(offer.bond_free, BaseUnits(1_000 * PLX - collateral));
        assert!(collateral > 0);
        assert!(offer.active);
        // The draw weighs what `/v1/providers` shows.
        let provider = provider_dto(&state, &address(i), &state.providers[&address(i)]);
        assert_eq!(offer.reputation, provider.reputation);
        assert_eq!(offer.bond.to_string(), provider.bond);
    }
    let json = serde_json::to_value(&offers[0]).unwrap();
    assert_eq!(json["capacity_bytes"], 1u64 << 40);
    assert!(json["price_per_gib_epoch"].is_string());
}

/// A block of storage transactions renders every one with its kind, target and escrow.
#[test]
fn a_block_renders_every_storage_payload() {
    let (state, first, _) = storage_market();
    let deal = &state.deals[&first];
    let payloads = [
        Payload::StorageOffer {
            capacity_bytes: 1 << 30,
            price_per_gib_epoch: 3,
        },
        Payload::DealPost {
            segments: deal
                .segments
                .iter()
                .map(|s| plexus_types::deal::DealSegment {
                    commitment: s.commitment,
                    size_bytes: s.size_bytes,
                    shard_bytes: s.shard_bytes,
                })
                .collect(),
            k: 2,
            n: 4,
            price_cap_per_gib_epoch: deal.price_cap_per_gib_epoch,
            epochs: 3,
            public: false,
        },
        Payload::ShardAccept {
            deal: first,
            segment: 1,
            shard: 2,
        },
        Payload::DealExtend {
            deal: first,
            epochs: 2,
        },
        Payload::DealEnd { deal: first },
        Payload::StorageProof {
            deal: first,
            segment: 0,
            shard: 0,
            epoch: 0,
            proof: plexus_types::storage::ChunkProof {
                chunk: vec![1; 8],
                path: Vec::new(),
                commitment_path: plexus_types::storage::CommitmentProof {
                    leaf_count: 4,
                    siblings: Vec::new(),
                },
            },
        },
        Payload::FaultDeclare {
            deal: first,
            segment: 0,
            shard: 0,
        },
    ];
    let txs: Vec<SignedTransaction> = payloads
        .into_iter()
        .enumerate()
        .map(|(nonce, payload)| tx(STORAGE_OWNERS[0], 10 + nonce as u64, payload))
        .collect();
    let block = plexus_types::Block {
        header: plexus_types::Header {
            parent: first,
            height: 9,
            timestamp_ms: 0,
            proposer: key(0).public_key(),
            tx_root: first,
            state_root: first,
            beacon: None,
        },
        txs,
    };
    let json = serde_json::to_value(block_dto(&block, &[])).unwrap();
    let rendered: Vec<(String, serde_json::Value, String)> = json["txs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tx| {
            (
                tx["kind"].as_str().unwrap().to_string(),
                tx["target"].clone(),
                tx["amount"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let deal_id = serde_json::Value::String(digest_hex(&first));
    assert_eq!(
        rendered,
        vec![
            ("storage_offer".into(), serde_json::Value::Null, "0".into()),
            // The same segments at the same cap for as many epochs escrow the same.
            (
                "deal_post".into(),
                serde_json::Value::Null,
                deal.escrow.to_string()
            ),
            ("shard_accept".into(), deal_id.clone(), "0".into()),
            ("deal_extend".into(), deal_id.clone(), "0".into()),
            ("deal_end".into(), deal_id.clone(), "0".into()),
            ("storage_proof".into(), deal_id.clone(), "0".into()),
            ("fault_declare".into(), deal_id, "0".into()),
        ]
    );
}

#[test]
fn the_storage_parameters_are_served_with_the_epoch_length() {
    let (state, _, _) = storage_market();
    let params = storage_params(&state);
    let storage = &state.params.storage;
    assert_eq!((params.k, params.n), (2, 4));
    assert_eq!(
        (params.deal_epochs_min, params.deal_epochs_max),
        (storage.deal_epochs_min, storage.deal_epochs_max)
    );
    assert_eq!(params.accept_window_blocks, storage.accept_window_blocks);
    assert_eq!(params.epoch_length_blocks, state.params.epoch_length_blocks);
    assert_eq!(
        params.collateral_min_per_shard,
        BaseUnits(storage.collateral_min_per_shard)
    );
    assert_eq!(params.segment_bytes_max, 64 << 20);
    assert_eq!(params.price_unit_bytes, 1 << 30);
    let json = serde_json::to_value(&params).unwrap();
    assert_eq!(
        json["collateral_min_per_shard"],
        storage.collateral_min_per_shard.to_string()
    );
    assert_eq!(
        serde_json::from_value::<StorageParamsDto>(json).unwrap(),
        params,
        "the client reads back what the node writes"
    );
    let document = serde_json::to_value(openapi()).unwrap();
    let route = &document["paths"]["/v1/storage/params"]["get"];
    assert!(route["responses"]["200"].is_object());
    assert!(document["components"]["schemas"]["StorageParamsDto"]["properties"]["k"].is_object());
}

/// A provider's shards: every shard drawn to it or held by it, with its segment's commitment
/// and lengths, its accept due, and the challenge the chain opened for the accepted one.
#[test]
fn a_holders_shards_as_json_with_their_open_challenge() {
    let (state, first, second) = storage_market();
    let holder = state.deals[&first].segments[0].shards[0].holder.clone();
    let shards = holder_shards(&state, &holder);
    // One shard of each segment of each deal (distinct holders per segment, four providers).
    assert_eq!(shards.len(), 3);
    let deals: Vec<HexDigest> = shards.iter().map(|s| s.deal).collect();
    assert_eq!(deals.iter().filter(|d| **d == HexDigest(first)).count(), 2);
    assert_eq!(deals.iter().filter(|d| **d == HexDigest(second)).count(), 1);
    let accepted = shards
        .iter()
        .find(|s| s.deal == HexDigest(first) && s.segment == 0)
        .unwrap();
    let record = &state.deals[&first].segments[0];
    assert_eq!(accepted.shard.index, 0);
    assert_eq!(accepted.shard.state, ShardState::Active);
    assert_eq!((accepted.k, accepted.n), (2, 4));
    assert_eq!(accepted.commitment, HexContentHash(record.commitment));
    assert_eq!(accepted.shard_bytes, record.shard_bytes);
    // Accepted at height 4: its challenge of epoch 0 opened at the end of that block.
    let challenge = accepted.shard.challenge.as_ref().expect("challenged");
    let window = state.params.storage.proof_window_blocks;
    assert_eq!(
        (
            challenge.epoch,
            challenge.opened_height,
            challenge.due_height
        ),
        (0, 4, 4 + window)
    );
    assert_eq!(challenge.outcome, ChallengeOutcome::Open);
    let chunks = plexus_storage::proof::chunk_count(record.shard_bytes);
    assert!(challenge.chunk_index < chunks);
    for waiting in shards.iter().filter(|s| s.shard.state == ShardState::Drawn) {
        assert!(waiting.shard.accept_due_height.is_some());
        assert!(waiting.shard.challenge.is_none());
    }
    // One flat object per shard; the client reads back what the node writes.
    let json = serde_json::to_value(&shards).unwrap();
    let one = json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "active")
        .unwrap();
    assert_eq!(one["deal"], digest_hex(&first));
    assert_eq!(one["index"], 0);
    assert_eq!(one["challenge"]["outcome"], "open");
    assert_eq!(one["challenge"]["due_height"], 4 + window);
    assert_eq!(
        serde_json::from_value::<Vec<HolderShardDto>>(json).unwrap(),
        shards
    );
    // An address holding nothing has an empty list.
    assert!(holder_shards(&state, &address(STORAGE_OWNERS[0])).is_empty());
}

/// A block event carries the storage totals; an event from a node that predates them reads as
/// zeros.
#[test]
fn block_events_carry_the_storage_totals() {
    let stats = plexus_state::storage::StorageStats {
        deals_posted: 2,
        challenges_opened: 9,
        proofs_passed: 7,
        proofs_missed: 1,
        proofs_wrong: 0,
        shards_lost: 1,
        repairs_done: 1,
    };
    let dto = storage_stats_dto(&stats);
    let json = serde_json::to_value(&dto).unwrap();
    assert_eq!(json["challenges_opened"], 9);
    assert_eq!(json["repairs_done"], 1);
    let old: BlockEventDto = serde_json::from_str(
        r#"{"height": 3, "hash": "00", "timestamp": 1, "state_root": "00", "txs": 0}"#,
    )
    .unwrap();
    assert_eq!(old.storage, StorageStatsDto::default());
}
