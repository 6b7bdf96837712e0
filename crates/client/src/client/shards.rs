//! A provider's shard routes (`PUT`/`GET /v1/shards/{deal}/{segment}/{slot}`), as
//! `plexus_storage::access` defines them: a [`Client`] made on the provider's endpoint sends a
//! drawn shard to its holder and reads one back.

use super::{Client, ClientError};
use crate::dto::{SegmentDto, ShardStoredDto};
use commonware_codec::{Decode as _, Encode as _, RangeCfg};
use plexus_storage::access::{SHARD_READ_HEADER, ShardRead};
use plexus_storage::coding::{self, SHARD_WIRE_OVERHEAD_MAX, Shape, Shard};
use plexus_types::{Digest, hash::digest_hex};

fn path(deal: &Digest, segment: u32, slot: u16) -> String {
    format!("/v1/shards/{}/{segment}/{slot}", digest_hex(deal))
}

impl Client {
    /// Sends shard `slot` of segment `segment` of `deal` to the provider drawn to hold it. The
    /// provider checks it against the deal's commitment before it stores it; repeatable (the
    /// same shard stored twice is stored once).
    pub fn put_shard(
        &self,
        deal: &Digest,
        segment: u32,
        shard: &Shard,
    ) -> Result<ShardStoredDto, ClientError> {
        self.put_bytes(&path(deal, segment, shard.index), shard.encode())
    }

    /// Shard `slot` of segment `segment` of `deal`, `shard_bytes` long, from its holder (`None`
    /// if it does not hold it); `read` authorizes a private deal's read. The shard is NOT
    /// checked against the commitment here: callers check it (`plexus_storage::coding`).
    pub fn get_shard(
        &self,
        deal: &Digest,
        segment: u32,
        slot: u16,
        shard_bytes: u64,
        read: Option<&ShardRead>,
    ) -> Result<Option<Shard>, ClientError> {
        let header = read.map(ShardRead::to_header);
        let headers: Vec<(&str, &str)> = header
            .iter()
            .map(|value| (SHARD_READ_HEADER, value.as_str()))
            .collect();
        let max_bytes = shard_bytes + SHARD_WIRE_OVERHEAD_MAX;
        let Some(wire) = self.get_bytes_with(&path(deal, segment, slot), &headers, max_bytes)?
        else {
            return Ok(None);
        };
        let len = usize::try_from(shard_bytes)
            .map_err(|_| ClientError::Invalid(format!("a shard of {shard_bytes} bytes")))?;
        let shard = Shard::decode_cfg(bytes::Bytes::from(wire), &RangeCfg::from(len..=len))
            .map_err(|e| ClientError::Invalid(format!("not a shard of {len} bytes: {e}")))?;
        if shard.index != slot {
            return Err(ClientError::Invalid(format!(
                "asked for shard {slot}, got shard {}",
                shard.index
            )));
        }
        Ok(Some(shard))
    }

    /// Shard `slot` of `segment` of `deal` from its holder, checked against the segment's
    /// commitment under the deal's `shape`: what a reader and a repairer keep. The error says,
    /// in a log's words, why the holder gave nothing usable (refused, does not hold it, served
    /// a bad shard).
    pub fn get_checked_shard(
        &self,
        deal: &Digest,
        segment: &SegmentDto,
        slot: u16,
        shape: Shape,
        read: Option<&ShardRead>,
    ) -> Result<Shard, String> {
        let commitment = segment.commitment.hash();
        match self.get_shard(deal, segment.index, slot, segment.shard_bytes, read) {
            Ok(Some(shard)) => coding::check(shape, segment.size_bytes, &commitment, &shard)
                .map(|()| shard)
                .map_err(|e| format!("served a bad shard: {e}")),
            Ok(None) => Err("does not hold it".to_string()),
            Err(error) => Err(error.to_string()),
        }
    }
}
