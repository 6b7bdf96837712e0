//! Who may read a shard from its holder, and the provider's shard routes that carry it.
//!
//! Reads are authorized (`../shared/STORAGE.md`, "Retrieval"): a holder serves a shard of a
//! private deal only to the deal's owner, to a key the owner granted reads of the deal, or to a
//! provider the chain drew to repair a shard of the same segment. That is what stops a holder
//! that deleted its shard from rebuilding each challenged chunk out of the others' shards. A
//! public deal's shards are served to anyone.
//!
//! The routes, on the provider agent's HTTP API (errors are `{"code", "message"}`):
//!
//! - `PUT /v1/shards/{deal}/{segment}/{slot}`: the body is one [`Shard`] in its wire form
//!   (`coding`'s codec: index, the commitment path, then the bytes). The provider serves it only
//!   for a slot the chain drew to it and not yet accepted (or drawn to it for repair), checks it
//!   against the segment's commitment (`coding::check`), stores it, and then sends its accept.
//!   No authorization: a shard that matches the commitment is the one the deal named, whoever
//!   sends it.
//!   It answers `{"digest"}` (`plexus_client::dto::ShardStoredDto`), or: 404 `unknown_deal`
//!   (no such deal on chain, or no such segment or slot), 409 `not_drawn_here` (the slot is not
//!   drawn to this provider, or already accepted), 400 `bad_shard` (not a shard's wire form, or
//!   not the deal's shard length), 422 `shard_mismatch` (not the committed shard), 413
//!   `too_large`.
//! - `GET /v1/shards/{deal}/{segment}/{slot}`: the shard in the same wire form. A private deal's
//!   read carries a [`ShardRead`], hex-encoded, in the [`SHARD_READ_HEADER`] header. Refusals:
//!   401 `read_unauthorized` (no header, or not a `ShardRead`), 403 `read_refused` (a
//!   [`ReadRefusal`], its message), 404 `unknown_shard` (the provider does not hold it).
//!
//! A [`ShardRead`] is signed by the reader for one shard and expires: a request seen on the wire
//! can be replayed for that shard only, and only until [`ShardRead::expires_ms`], at most
//! [`SHARD_READ_TTL_MAX_MS`] after the holder's clock. A [`ReadGrant`] is the owner's signature
//! letting another key read the whole deal until it expires.
//!
//! [`Shard`]: crate::coding::Shard

use bytes::BufMut;
use commonware_codec::{
    Buf, DecodeExt as _, Encode as _, EncodeSize, Error as CodecError, FixedSize as _, Read,
    ReadExt, Write,
};
use commonware_cryptography::{Signer as _, Verifier as _};
use plexus_types::{Address, Digest, PrivateKey, Signature};

/// The header a private deal's shard read carries its [`ShardRead`] in, hex-encoded.
pub const SHARD_READ_HEADER: &str = "x-plexus-read";

/// The namespace a [`ShardRead`] is signed under.
pub const SHARD_READ_NAMESPACE: &[u8] = b"_PLEXUS_SHARD_READ";

/// The namespace a [`ReadGrant`] is signed under.
pub const READ_GRANT_NAMESPACE: &[u8] = b"_PLEXUS_READ_GRANT";

/// The furthest ahead of the holder's clock a read may expire: bounds how long a read seen on
/// the wire can be replayed, with room for clocks a few minutes apart.
pub const SHARD_READ_TTL_MAX_MS: u64 = 5 * 60 * 1_000;

/// The owner's permission for `grantee` to read every shard of `deal` until `expires_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadGrant {
    pub deal: Digest,
    pub grantee: Address,
    /// Unix milliseconds after which the grant no longer reads.
    pub expires_ms: u64,
    /// The deal owner's key (the holder compares it with the deal's owner on chain).
    pub owner: Address,
    pub signature: Signature,
}

impl ReadGrant {
    fn message(deal: &Digest, grantee: &Address, expires_ms: u64) -> Vec<u8> {
        let mut message = Vec::with_capacity(Digest::SIZE + 32 + 8);
        message.extend_from_slice(deal.as_ref());
        message.extend_from_slice(grantee.as_bytes());
        message.extend_from_slice(&expires_ms.to_be_bytes());
        message
    }

    /// The grant of `deal` to `grantee` until `expires_ms`, signed by the owner's `key`.
    pub fn sign(key: &PrivateKey, deal: Digest, grantee: Address, expires_ms: u64) -> ReadGrant {
        let signature = key.sign(
            READ_GRANT_NAMESPACE,
            &Self::message(&deal, &grantee, expires_ms),
        );
        ReadGrant {
            deal,
            grantee,
            expires_ms,
            owner: Address(key.public_key()),
            signature,
        }
    }

    /// Whether `owner` signed it (not whether `owner` owns the deal, nor whether it expired).
    fn signed(&self) -> bool {
        let message = Self::message(&self.deal, &self.grantee, self.expires_ms);
        !self.owner.is_weak()
            && self
                .owner
                .0
                .verify(READ_GRANT_NAMESPACE, &message, &self.signature)
    }
}

/// A reader's signed request for one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardRead {
    pub deal: Digest,
    pub segment: u32,
    pub slot: u16,
    /// Unix milliseconds after which the request is refused.
    pub expires_ms: u64,
    pub reader: Address,
    /// The owner's grant, when the reader is not the owner.
    pub grant: Option<ReadGrant>,
    pub signature: Signature,
}

/// Why a holder refuses a read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadRefusal {
    /// The request names another shard than the one asked for.
    #[error("the read is signed for another shard")]
    WrongShard,
    /// The reader's signature does not verify, or its key is weak.
    #[error("the read's signature does not verify")]
    BadSignature,
    /// The request expired, or expires further ahead than a read may.
    #[error("the read expired or expires more than {SHARD_READ_TTL_MAX_MS} ms ahead")]
    Expired,
    /// The grant is not the deal owner's, not for this deal or reader, or expired.
    #[error("the grant is not the deal owner's for this reader, or it expired")]
    BadGrant,
    /// The reader is neither the owner, nor granted, nor a repairer of the segment.
    #[error("the reader may not read this deal")]
    NotAllowed,
}

impl ShardRead {
    fn message(deal: &Digest, segment: u32, slot: u16, expires_ms: u64) -> Vec<u8> {
        let mut message = Vec::with_capacity(Digest::SIZE + 4 + 2 + 8);
        message.extend_from_slice(deal.as_ref());
        message.extend_from_slice(&segment.to_be_bytes());
        message.extend_from_slice(&slot.to_be_bytes());
        message.extend_from_slice(&expires_ms.to_be_bytes());
        message
    }

    /// `key`'s request for shard `slot` of segment `segment` of `deal`, until `expires_ms`.
    pub fn sign(
        key: &PrivateKey,
        deal: Digest,
        segment: u32,
        slot: u16,
        expires_ms: u64,
        grant: Option<ReadGrant>,
    ) -> ShardRead {
        let signature = key.sign(
            SHARD_READ_NAMESPACE,
            &Self::message(&deal, segment, slot, expires_ms),
        );
        ShardRead {
            deal,
            segment,
            slot,
            expires_ms,
            reader: Address(key.public_key()),
            grant,
            signature,
        }
    }

    /// The request as the [`SHARD_READ_HEADER`] carries it.
    pub fn to_header(&self) -> String {
        plexus_types::hash::to_hex(&self.encode())
    }

    /// The request from its header value; `None` if it is not one.
    pub fn from_header(value: &str) -> Option<ShardRead> {
        let bytes = plexus_types::hash::from_hex(value)?;
        // Trailing bytes are not a request (`decode` refuses them).
        ShardRead::decode(commonware_codec::Copying(&bytes)).ok()
    }

    /// Whether this request lets its reader read shard `slot` of segment `segment` of `deal`,
    /// owned by `owner`, at `now_ms` on the holder's clock. `is_repairer` says whether an
    /// address is a provider the chain drew to repair a shard of that segment.
    pub fn authorize(
        &self,
        (deal, segment, slot): (&Digest, u32, u16),
        owner: &Address,
        now_ms: u64,
        is_repairer: impl Fn(&Address) -> bool,
    ) -> Result<(), ReadRefusal> {
        if (&self.deal, self.segment, self.slot) != (deal, segment, slot) {
            return Err(ReadRefusal::WrongShard);
        }
        let message = Self::message(&self.deal, self.segment, self.slot, self.expires_ms);
        if self.reader.is_weak()
            || !self
                .reader
                .0
                .verify(SHARD_READ_NAMESPACE, &message, &self.signature)
        {
            return Err(ReadRefusal::BadSignature);
        }
        if self.expires_ms < now_ms
            || self.expires_ms > now_ms.saturating_add(SHARD_READ_TTL_MAX_MS)
        {
            return Err(ReadRefusal::Expired);
        }
        if &self.reader == owner || is_repairer(&self.reader) {
            return Ok(());
        }
        let Some(grant) = &self.grant else {
            return Err(ReadRefusal::NotAllowed);
        };
        let granted = grant.signed()
            && &grant.owner == owner
            && &grant.deal == deal
            && grant.grantee == self.reader
            && grant.expires_ms >= now_ms;
        if granted {
            Ok(())
        } else {
            Err(ReadRefusal::BadGrant)
        }
    }
}

impl Write for ReadGrant {
    fn write(&self, buf: &mut impl BufMut) {
        self.deal.write(buf);
        self.grantee.write(buf);
        self.expires_ms.write(buf);
        self.owner.write(buf);
        self.signature.write(buf);
    }
}

impl EncodeSize for ReadGrant {
    fn encode_size(&self) -> usize {
        self.deal.encode_size()
            + self.grantee.encode_size()
            + self.expires_ms.encode_size()
            + self.owner.encode_size()
            + self.signature.encode_size()
    }
}

impl Read for ReadGrant {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(ReadGrant {
            deal: Digest::read(buf)?,
            grantee: Address::read(buf)?,
            expires_ms: u64::read(buf)?,
            owner: Address::read(buf)?,
            signature: Signature::read(buf)?,
        })
    }
}

impl Write for ShardRead {
    fn write(&self, buf: &mut impl BufMut) {
        self.deal.write(buf);
        self.segment.write(buf);
        self.slot.write(buf);
        self.expires_ms.write(buf);
        self.reader.write(buf);
        self.grant.write(buf);
        self.signature.write(buf);
    }
}

impl EncodeSize for ShardRead {
    fn encode_size(&self) -> usize {
        self.deal.encode_size()
            + self.segment.encode_size()
            + self.slot.encode_size()
            + self.expires_ms.encode_size()
            + self.reader.encode_size()
            + self.grant.encode_size()
            + self.signature.encode_size()
    }
}

impl Read for ShardRead {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(ShardRead {
            deal: Digest::read(buf)?,
            segment: u32::read(buf)?,
            slot: u16::read(buf)?,
            expires_ms: u64::read(buf)?,
            reader: Address::read(buf)?,
            grant: Option::<ReadGrant>::read(buf)?,
            signature: Signature::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u64) -> PrivateKey {
        PrivateKey::from_seed(seed)
    }

    const NOW_MS: u64 = 1_800_000_000_000;

    fn deal() -> Digest {
        Digest::from([7u8; 32])
    }

    fn nobody(_: &Address) -> bool {
        false
    }

    #[test]
    fn the_owner_reads_and_nobody_else_without_a_grant() {
        let owner = key(1);
        let owner_address = Address(owner.public_key());
        let read = ShardRead::sign(&owner, deal(), 2, 3, NOW_MS + 1_000, None);
        assert_eq!(
            read.authorize((&deal(), 2, 3), &owner_address, NOW_MS, nobody),
            Ok(())
        );

        let stranger = ShardRead::sign(&key(2), deal(), 2, 3, NOW_MS + 1_000, None);
        assert_eq!(
            stranger.authorize((&deal(), 2, 3), &owner_address, NOW_MS, nobody),
            Err(ReadRefusal::NotAllowed)
        );
        // The same stranger, drawn to repair the segment, reads.
        let repairer = stranger.reader.clone();
        assert_eq!(
            stranger.authorize((&deal(), 2, 3), &owner_address, NOW_MS, |a| *a == repairer),
            Ok(())
        );
    }

    #[test]
    fn a_read_is_for_one_shard_and_expires() {
        let owner = key(1);
        let owner_address = Address(owner.public_key());
        let read = ShardRead::sign(&owner, deal(), 2, 3, NOW_MS + 1_000, None);
        for other in [(2, 4), (3, 3)] {
            assert_eq!(
                read.authorize((&deal(), other.0, other.1), &owner_address, NOW_MS, nobody),
                Err(ReadRefusal::WrongShard)
            );
        }
        assert_eq!(
            read.authorize((&deal(), 2, 3), &owner_address, NOW_MS + 1_001, nobody),
            Err(ReadRefusal::Expired)
        );
        let far = ShardRead::sign(
            &owner,
            deal(),
            2,
            3,
            NOW_MS + SHARD_READ_TTL_MAX_MS + 1,
            None,
        );
        assert_eq!(
            far.authorize((&deal(), 2, 3), &owner_address, NOW_MS, nobody),
            Err(ReadRefusal::Expired)
        );
    }

    #[test]
    fn a_tampered_read_does_not_verify() {
        let owner = key(1);
        let owner_address = Address(owner.public_key());
        let mut read = ShardRead::sign(&owner, deal(), 2, 3, NOW_MS + 1_000, None);
        read.expires_ms += 1;
        assert_eq!(
            read.authorize((&deal(), 2, 3), &owner_address, NOW_MS, nobody),
            Err(ReadRefusal::BadSignature)
        );
    }

    #[test]
    fn a_grant_lets_its_grantee_read_until_it_expires() {
        let owner = key(1);
        let owner_address = Address(owner.public_key());
        let reader = key(2);
        let reader_address = Address(reader.public_key());
        let grant = ReadGrant::sign(&owner, deal(), reader_address.clone(), NOW_MS + 10_000);
        let read = ShardRead::sign(&reader, deal(), 0, 1, NOW_MS + 1_000, Some(grant.clone()));
        assert_eq!(
            read.authorize((&deal(), 0, 1), &owner_address, NOW_MS, nobody),
            Ok(())
        );
        assert_eq!(
            read.authorize((&deal(), 0, 1), &owner_address, NOW_MS + 10_001, nobody),
            Err(ReadRefusal::Expired)
        );

        // A grant signed by someone else than the owner, for another grantee, or another deal.
        let forged = ReadGrant::sign(&key(3), deal(), reader_address.clone(), NOW_MS + 10_000);
        let to_other = ReadGrant::sign(
            &owner,
            deal(),
            Address(key(4).public_key()),
            NOW_MS + 10_000,
        );
        let other_deal = ReadGrant::sign(
            &owner,
            Digest::from([8u8; 32]),
            reader_address,
            NOW_MS + 10_000,
        );
        let mut tampered = grant;
        tampered.expires_ms += 1;
        for grant in [forged, to_other, other_deal, tampered] {
            let read = ShardRead::sign(&reader, deal(), 0, 1, NOW_MS + 1_000, Some(grant));
            assert_eq!(
                read.authorize((&deal(), 0, 1), &owner_address, NOW_MS, nobody),
                Err(ReadRefusal::BadGrant)
            );
        }
    }

    #[test]
    fn the_header_round_trips_and_refuses_garbage() {
        let owner = key(1);
        let reader = key(2);
        let grant = ReadGrant::sign(&owner, deal(), Address(reader.public_key()), NOW_MS);
        let read = ShardRead::sign(&reader, deal(), 5, 6, NOW_MS, Some(grant));
        assert_eq!(
            ShardRead::from_header(&read.to_header()),
            Some(read.clone())
        );
        let header = read.to_header();
        assert_eq!(ShardRead::from_header(&format!("{header}00")), None);
        assert_eq!(ShardRead::from_header(&header[..header.len() - 2]), None);
        assert_eq!(ShardRead::from_header("zz"), None);
        assert_eq!(ShardRead::from_header(""), None);
    }
}
