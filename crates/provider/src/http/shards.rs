//! The provider's shard routes, exactly as `plexus_storage::access` defines them (wire form,
//! read authorization, status codes): `PUT` and `GET /v1/shards/{deal}/{segment}/{slot}`.
//!
//! Both read the deal from the agent's node (`GET /v1/storage/files/{id}`), the chain's word on
//! who holds which slot and who owns the deal. A node that cannot be reached is a 503
//! `node_unavailable` (try again), never a crash and never a guess: nothing is stored or served
//! on an answer the chain did not give.
//!
//! - `PUT`: the slot must exist (else 404 `unknown_deal`) and be `drawn` or `repairing` to this
//!   provider (else 409 `not_drawn_here`); only then is the body read, and never more than the
//!   deal's shard length plus `SHARD_WIRE_OVERHEAD_MAX` (else 413 `too_large`). It must decode
//!   as a shard of exactly the deal's shard length (else 400 `bad_shard`) and be the slot's
//!   committed shard (`coding::check`; else 422 `shard_mismatch`). It is then stored durably
//!   (`crate::shards`), handed to the agent's one submitting thread for its `ShardAccept`, and
//!   answered `{"digest"}`. Sending the same shard again before the accept lands stores it once.
//! - `GET`: 404 `unknown_shard` unless the store holds it; a public deal's shard is served to
//!   anyone; a private deal's needs a `ShardRead` in `x-plexus-read` (none or unreadable: 401
//!   `read_unauthorized`) that `ShardRead::authorize` lets through at the handler's clock (else
//!   403 `read_refused`). A repairer is a provider the chain shows as the holder of a
//!   `repairing` slot of the same segment (never a `faulty` or `drawn` holder: see
//!   `rules::is_repairer`).
//!
//! The clock is read in one place, [`now_ms`], by the handler, and passed to the pure
//! [`read_access`].

use super::{bytes, error};
use crate::agent::storage::rules::{SlotView, is_repairer, slot_view};
use crate::shards::{ShardStore, wire_bytes_max};
use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use commonware_codec::{Decode as _, RangeCfg};
use plexus_client::{
    Client, ClientError, RetryPolicy,
    dto::{HexContentHash, ShardStoredDto, StorageFileDto},
};
use plexus_state::storage::ShardKey;
use plexus_storage::access::{SHARD_READ_HEADER, ShardRead};
use plexus_storage::coding::{CodingError, Shape, Shard, check};
use plexus_storage::segment::SEGMENT_BYTES_MAX;
use plexus_types::{Address, hash::parse_digest};
use std::sync::{Arc, mpsc::SyncSender};

/// How the shard routes ask the node: a few quick attempts, so a client learns within about a
/// second that the node is away (503) instead of holding its upload open.
pub const NODE_RETRY: RetryPolicy = RetryPolicy {
    attempts_max: 3,
    backoff_initial_ms: 100,
    backoff_max_ms: 400,
};

/// Stored shards queued for the agent's accept; when full, the agent's reconciliation of the
/// store against the chain finds them anyway (a few polls later).
pub const UPLOADS_QUEUED_MAX: usize = 1_024;

/// What the shard routes share.
pub struct ShardService {
    pub store: Arc<ShardStore>,
    /// The agent's node, asked with [`NODE_RETRY`].
    pub node: Client,
    /// This provider's address, as the chain writes it.
    pub me: String,
    /// Shards stored and not accepted yet, for the agent's submitting thread.
    pub uploads: SyncSender<ShardKey>,
}

/// A refusal: its status, its contract code and its message.
type Refusal = (StatusCode, &'static str, String);

fn refuse((status, code, message): Refusal) -> Response {
    error(status, code, message)
}

/// Unix milliseconds now: the shard routes' one clock.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The shard a path names, or a 400.
fn parse_key((deal, segment, slot): &(String, String, String)) -> Result<ShardKey, Refusal> {
    let Some(deal) = parse_digest(deal) else {
        let message = format!("{deal:?} is not a deal id (64 hex digits)");
        return Err((StatusCode::BAD_REQUEST, "invalid_hash", message));
    };
    match (segment.parse(), slot.parse()) {
        (Ok(segment), Ok(slot)) => Ok((deal, segment, slot)),
        _ => Err((
            StatusCode::BAD_REQUEST,
            "invalid_path",
            format!("segment {segment:?} and slot {slot:?} must be numbers (u32, u16)"),
        )),
    }
}

/// The deal from the node: 404 `unknown_deal` if the chain has none, 503 if the node cannot
/// tell.
async fn deal_of(service: &Arc<ShardService>, key: &ShardKey) -> Result<StorageFileDto, Refusal> {
    let (service, deal) = (service.clone(), key.0);
    let answer = tokio::task::spawn_blocking(move || {
        service
            .node
            .storage_file(plexus_types::hash::digest_hex(&deal))
    })
    .await;
    match answer {
        Ok(Ok(file)) => Ok(file),
        Ok(Err(err)) if err.code() == Some("unknown_deal") => {
            Err((StatusCode::NOT_FOUND, "unknown_deal", err.to_string()))
        }
        Ok(Err(err)) => Err(node_unavailable(&err)),
        Err(err) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            err.to_string(),
        )),
    }
}

fn node_unavailable(err: &ClientError) -> Refusal {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "node_unavailable",
        format!("the provider cannot read the deal from its node now: {err}"),
    )
}

/// Whether this provider may take shard `key` of `file` now: the shard length it takes, and
/// the height its node shows the slot drawn to it at (its draw, else the deal's post).
fn upload_slot(file: &StorageFileDto, key: &ShardKey, me: &str) -> Result<(u64, u64), Refusal> {
    let (_, segment, slot) = *key;
    match slot_view(file, segment, slot, me) {
        SlotView::Gone => Err((
            StatusCode::NOT_FOUND,
            "unknown_deal",
            format!("the deal has no slot {slot} of segment {segment}"),
        )),
        view if view.awaits_accept() => {
            let record = &file.segments[segment as usize];
            let drawn_height = record.shards[usize::from(slot)].drawn_height;
            Ok((
                record.shard_bytes,
                drawn_height.unwrap_or(file.file.posted_height),
            ))
        }
        SlotView::Other => Err((
            StatusCode::CONFLICT,
            "not_drawn_here",
            format!("slot {slot} of segment {segment} is drawn to another provider"),
        )),
        SlotView::Mine(_) => Err((
            StatusCode::CONFLICT,
            "not_drawn_here",
            format!("slot {slot} of segment {segment} is already accepted here"),
        )),
    }
}

/// The body as shard `key` of `file`, checked against its segment's commitment.
fn checked_shard(
    file: &StorageFileDto,
    key: &ShardKey,
    body: bytes::Bytes,
) -> Result<Shard, Refusal> {
    let (_, segment, slot) = *key;
    let record = &file.segments[segment as usize];
    let len = usize::try_from(record.shard_bytes).unwrap_or(usize::MAX);
    let bad = |message: String| (StatusCode::BAD_REQUEST, "bad_shard", message);
    let shard = Shard::decode_cfg(body, &RangeCfg::from(len..=len)).map_err(|err| {
        bad(format!(
            "not a shard of {len} bytes in its wire form: {err}"
        ))
    })?;
    let mismatch = |message: String| (StatusCode::UNPROCESSABLE_ENTITY, "shard_mismatch", message);
    if shard.index != slot {
        return Err(mismatch(format!(
            "shard {} sent for slot {slot}",
            shard.index
        )));
    }
    let shape = Shape::new(file.file.k, file.file.n).map_err(|err| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the chain's code: {err}"),
        )
    })?;
    match check(shape, record.size_bytes, &record.commitment.0, &shard) {
        Ok(()) => Ok(shard),
        Err(err @ (CodingError::Length { .. } | CodingError::Index { .. })) => {
            Err(bad(err.to_string()))
        }
        Err(err) => Err(mismatch(err.to_string())),
    }
}

/// The largest body any upload may be: the widest shard a segment can have (`k` = 1) in its
/// wire form. A deal's own shard length bounds its uploads further.
fn upload_bytes_max() -> u64 {
    let widest = Shape::new(1, 2)
        .ok()
        .and_then(|shape| shape.shard_len(SEGMENT_BYTES_MAX))
        .unwrap_or(SEGMENT_BYTES_MAX);
    wire_bytes_max(widest)
}

/// `PUT /v1/shards/{deal}/{segment}/{slot}`.
pub(super) async fn put_shard(
    State(service): State<Arc<ShardService>>,
    Path(path): Path<(String, String, String)>,
    body: Body,
) -> Response {
    match put(&service, &path, body).await {
        Ok(stored) => Json(stored).into_response(),
        Err(refusal) => refuse(refusal),
    }
}

async fn put(
    service: &Arc<ShardService>,
    path: &(String, String, String),
    body: Body,
) -> Result<ShardStoredDto, Refusal> {
    let key = parse_key(path)?;
    let file = deal_of(service, &key).await?;
    let (shard_bytes, drawn_height) = upload_slot(&file, &key, &service.me)?;
    let limit = wire_bytes_max(shard_bytes).min(upload_bytes_max());
    // The body stops being read at the limit. (A body that breaks off for another reason is
    // refused the same way: its sender has gone and reads no answer.)
    let body = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|err| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("a shard of this deal is at most {limit} bytes on the wire: {err}"),
            )
        })?;
    let shard = checked_shard(&file, &key, body)?;
    let digest = shard.digest();
    let store = service.store.clone();
    // The height first, so no shard is ever on disk without it (the collection's guard).
    tokio::task::spawn_blocking(move || {
        store.note_height(&key.0, drawn_height)?;
        store.put(&key, &shard)
    })
    .await
    .map_err(|err| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            err.to_string(),
        )
    })?
    .map_err(|err| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            err.to_string(),
        )
    })?;
    // Full: the agent's next reconciliation of the store finds the shard on disk.
    let _ = service.uploads.try_send(key);
    Ok(ShardStoredDto {
        digest: HexContentHash(digest),
    })
}

/// Whether the read `header` (the `x-plexus-read` value) may read shard `key` of `file` at
/// `now_ms`: any read of a public deal; a private deal's by the owner, a grantee or a repairer.
fn read_access(
    file: &StorageFileDto,
    key: &ShardKey,
    header: Option<&str>,
    now_ms: u64,
) -> Result<(), Refusal> {
    if file.file.public {
        return Ok(());
    }
    let unauthorized = |message: &str| {
        (
            StatusCode::UNAUTHORIZED,
            "read_unauthorized",
            message.to_string(),
        )
    };
    let header = header.ok_or_else(|| {
        unauthorized("a private deal's shard is read with a signed ShardRead in x-plexus-read")
    })?;
    let read = ShardRead::from_header(header)
        .ok_or_else(|| unauthorized("x-plexus-read is not a hex-encoded ShardRead"))?;
    let owner: Address = file.file.owner.parse().map_err(|_| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the deal's owner does not parse".into(),
        )
    })?;
    let (deal, segment, slot) = key;
    read.authorize((deal, *segment, *slot), &owner, now_ms, |reader| {
        is_repairer(file, *segment, &reader.to_string())
    })
    .map_err(|refusal| (StatusCode::FORBIDDEN, "read_refused", refusal.to_string()))
}

/// `GET /v1/shards/{deal}/{segment}/{slot}`.
pub(super) async fn get_shard(
    State(service): State<Arc<ShardService>>,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let header = headers
        .get(SHARD_READ_HEADER)
        .map(|value| value.to_str().unwrap_or_default().to_string());
    match get(&service, &path, header.as_deref()).await {
        Ok(wire) => bytes(wire),
        Err(refusal) => refuse(refusal),
    }
}

async fn get(
    service: &Arc<ShardService>,
    path: &(String, String, String),
    header: Option<&str>,
) -> Result<Vec<u8>, Refusal> {
    let key = parse_key(path)?;
    let unknown = || {
        let (_, segment, slot) = key;
        let message = format!("this provider holds no shard {slot} of segment {segment} of it");
        (StatusCode::NOT_FOUND, "unknown_shard", message)
    };
    if !service.store.contains(&key) {
        return Err(unknown());
    }
    let file = match deal_of(service, &key).await {
        // Held here, but its deal ended: the next collection deletes it.
        Err(refusal) if refusal.0 == StatusCode::NOT_FOUND => return Err(unknown()),
        other => other?,
    };
    read_access(&file, &key, header, now_ms())?;
    let store = service.store.clone();
    match tokio::task::spawn_blocking(move || store.get_wire(&key)).await {
        Ok(Ok(Some(wire))) => Ok(wire),
        Ok(Ok(None)) => Err(unknown()),
        Ok(Err(err)) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            err.to_string(),
        )),
        Err(err) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            err.to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer as _;
    use plexus_client::dto::{
        BaseUnits, HexDigest, SegmentDto, ShardDto, ShardState, StorageFileSummaryDto,
    };
    use plexus_storage::coding::encode;
    use plexus_types::{Digest, PrivateKey};

    const NOW_MS: u64 = 1_800_000_000_000;
    const SEGMENT_BYTES: usize = 10_000;

    fn address(key: &PrivateKey) -> String {
        Address(key.public_key()).to_string()
    }

    /// A private deal of one segment coded 2 of 4, owned by key 1, slot i held by key 10 + i
    /// in `states[i]`; and its shards.
    fn deal(states: [ShardState; 4]) -> (StorageFileDto, Vec<Shard>) {
        let segment: Vec<u8> = (0..SEGMENT_BYTES).map(|i| (i * 13 % 251) as u8).collect();
        let shape = Shape::new(2, 4).unwrap();
        let encoded = encode(shape, &segment, &commonware_parallel::Sequential).unwrap();
        let shards = (0..4u16)
            .map(|i| ShardDto {
                index: i,
                holder: address(&PrivateKey::from_seed(10 + u64::from(i))),
                state: states[usize::from(i)],
                price_per_gib_epoch: BaseUnits(1),
                collateral: BaseUnits(1),
                drawn_height: None,
                accept_due_height: None,
                active_since_height: None,
                last_proof_height: None,
                misses: 0,
                challenge: None,
                fault_epoch: None,
                repair_fee: None,
            })
            .collect();
        let file = StorageFileDto {
            file: StorageFileSummaryDto {
                id: HexDigest(Digest::from([5u8; 32])),
                owner: address(&PrivateKey::from_seed(1)),
                public: false,
                k: 2,
                n: 4,
                size_bytes: SEGMENT_BYTES as u64,
                segment_count: 1,
                shard_count: 4,
                shards_active: 0,
                price_cap_per_gib_epoch: BaseUnits(1),
                escrow: BaseUnits(1),
                paid: BaseUnits(0),
                start_epoch: 1,
                end_epoch: 2,
                posted_height: 1,
            },
            segments: vec![SegmentDto {
                index: 0,
                commitment: HexContentHash(encoded.commitment),
                size_bytes: SEGMENT_BYTES as u64,
                shard_bytes: shape.shard_len(SEGMENT_BYTES as u64).unwrap(),
                shards,
            }],
        };
        (file, encoded.shards)
    }

    fn key(slot: u16) -> ShardKey {
        (Digest::from([5u8; 32]), 0, slot)
    }

    fn code<T>(result: Result<T, Refusal>) -> (u16, &'static str) {
        match result {
            Ok(_) => (200, "ok"),
            Err((status, code, _)) => (status.as_u16(), code),
        }
    }

    #[test]
    fn an_upload_is_taken_only_for_a_slot_drawn_here_and_not_accepted() {
        use ShardState::{Active, Drawn, Faulty, Lost, Repairing};
        let (file, _) = deal([Drawn, Active, Faulty, Lost]);
        let holder = |i: u64| address(&PrivateKey::from_seed(10 + i));
        assert_eq!(
            upload_slot(&file, &key(0), &holder(0)).map_err(|r| r.1),
            Ok((file.segments[0].shard_bytes, 1))
        );
        assert_eq!(
            code(upload_slot(&file, &key(0), &holder(2))),
            (409, "not_drawn_here")
        );
        // Accepted already (active or faulty), or lost from this holder.
        for slot in [1, 2, 3] {
            assert_eq!(
                code(upload_slot(&file, &key(slot), &holder(u64::from(slot)))),
                (409, "not_drawn_here"),
                "slot {slot}"
            );
        }
        let (repairing, _) = deal([Repairing, Active, Active, Active]);
        assert_eq!(
            upload_slot(&repairing, &key(0), &holder(0)).map_err(|r| r.1),
            Ok((repairing.segments[0].shard_bytes, 1))
        );
        assert_eq!(
            code(upload_slot(&file, &key(4), &holder(0))),
            (404, "unknown_deal")
        );
        let other_segment = (key(0).0, 1, 0);
        assert_eq!(
            code(upload_slot(&file, &other_segment, &holder(0))),
            (404, "unknown_deal")
        );
    }

    #[test]
    fn only_the_slots_committed_shard_is_taken() {
        use commonware_codec::Encode as _;
        let (file, shards) = deal([ShardState::Drawn; 4]);
        let wire = |shard: &Shard| shard.encode();
        assert_eq!(
            code(checked_shard(&file, &key(2), wire(&shards[2]))),
            (200, "ok")
        );
        // Another slot's shard, though committed.
        assert_eq!(
            code(checked_shard(&file, &key(2), wire(&shards[3]))),
            (422, "shard_mismatch")
        );
        let mut tampered = shards[2].clone();
        let mut bytes = tampered.bytes.to_vec();
        bytes[7] ^= 0x40;
        tampered.bytes = bytes.into();
        assert_eq!(
            code(checked_shard(&file, &key(2), wire(&tampered))),
            (422, "shard_mismatch")
        );
        let mut short = shards[2].clone();
        short.bytes = short.bytes.slice(1..);
        assert_eq!(
            code(checked_shard(&file, &key(2), wire(&short))),
            (400, "bad_shard")
        );
        let mut trailing = wire(&shards[2]).to_vec();
        trailing.push(0);
        assert_eq!(
            code(checked_shard(&file, &key(2), trailing.into())),
            (400, "bad_shard")
        );
        assert_eq!(
            code(checked_shard(
                &file,
                &key(2),
                bytes::Bytes::from_static(b"junk")
            )),
            (400, "bad_shard")
        );
    }

    #[test]
    fn a_private_shard_is_read_by_the_owner_a_grantee_or_a_repairer() {
        use ShardState::{Active, Drawn, Faulty, Lost, Repairing};
        let (mut file, _) = deal([Lost, Active, Repairing, Faulty]);
        let read = |seed: u64, slot: u16, expires_ms: u64, grant| {
            ShardRead::sign(
                &PrivateKey::from_seed(seed),
                key(slot).0,
                0,
                slot,
                expires_ms,
                grant,
            )
            .to_header()
        };
        let access = |file: &StorageFileDto, header: Option<&str>| {
            code(read_access(file, &key(1), header, NOW_MS))
        };
        let later = NOW_MS + 1_000;
        assert_eq!(access(&file, Some(&read(1, 1, later, None))), (200, "ok"));
        assert_eq!(access(&file, None), (401, "read_unauthorized"));
        assert_eq!(access(&file, Some("zz")), (401, "read_unauthorized"));
        // A stranger, a read for another slot, an expired read.
        assert_eq!(
            access(&file, Some(&read(2, 1, later, None))),
            (403, "read_refused")
        );
        assert_eq!(
            access(&file, Some(&read(1, 0, later, None))),
            (403, "read_refused")
        );
        assert_eq!(
            access(&file, Some(&read(1, 1, NOW_MS - 1, None))),
            (403, "read_refused")
        );
        // The holder of a `repairing` slot repairs; a `faulty` holder (which could rebuild
        // its challenged chunks from the others' instead of storing them), a `lost` one and
        // an active one do not, nor does a `drawn` one.
        assert_eq!(access(&file, Some(&read(12, 1, later, None))), (200, "ok"));
        for seed in [10, 13] {
            assert_eq!(
                access(&file, Some(&read(seed, 1, later, None))),
                (403, "read_refused"),
                "key {seed}"
            );
        }
        let (drawn, _) = deal([Active, Active, Drawn, Active]);
        assert_eq!(
            access(&drawn, Some(&read(12, 1, later, None))),
            (403, "read_refused")
        );
        // A grantee of the owner's.
        let grantee = PrivateKey::from_seed(2);
        let grant = plexus_storage::access::ReadGrant::sign(
            &PrivateKey::from_seed(1),
            key(1).0,
            Address(grantee.public_key()),
            later,
        );
        assert_eq!(
            access(&file, Some(&read(2, 1, later, Some(grant)))),
            (200, "ok")
        );
        // A public deal's shards are anyone's.
        file.file.public = true;
        assert_eq!(access(&file, None), (200, "ok"));
    }
}
