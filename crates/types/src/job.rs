//! Compute-market types: providers, jobs and commitments as they appear in transactions.
//!
//! Content hashes (a job's module, blobs, input and output, and its trace root) are
//! [`ContentHash`]es (BLAKE3) computed off-chain by the consumer, the provider and the executor;
//! the chain never hashes job content, it only compares and records these 32 bytes.
//!
//! Prices are integer base units per million fuel (`*_per_mfuel`); [`fuel_cost_ceil`] and
//! [`fuel_cost_floor`] are the two rounding directions the market uses: escrows and bond locks
//! round up (the chain never holds too little), payments round down (a provider is never paid
//! for a fraction of a base unit it did not earn; the dust stays with the consumer).

use crate::{Amount, ContentHash};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, RangeCfg, Read, ReadExt, Write};

/// The largest provider endpoint URL, in bytes.
pub const ENDPOINT_SIZE_MAX: usize = 256;
/// The largest GPU model name in a resource profile, in bytes.
pub const GPU_MODEL_SIZE_MAX: usize = 64;
/// The fuel unit prices are quoted per (one million fuel).
pub const FUEL_PER_PRICE_UNIT: u128 = 1_000_000;

/// The machine a provider offers, as it declares it (not verified by the chain; the measured
/// `fuel_per_second` beside it is what consumers compare).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceProfile {
    /// CPU cores; also the provider's capacity in concurrent jobs (at least one).
    pub cores: u32,
    pub memory_mb: u64,
    pub gpus: u32,
    /// UTF-8, at most `GPU_MODEL_SIZE_MAX` bytes (empty without GPUs).
    pub gpu_model: String,
    pub storage_gb: u64,
}

/// How a job is audited. `Full` (refereed re-execution) is recorded now and acted on by the
/// audit protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum AuditClass {
    /// The protocol's random light and full audits only.
    #[default]
    Standard = 0,
    /// Bought by the consumer: always fully re-executed.
    Full = 1,
}

impl AuditClass {
    /// The lower-case name the API shows.
    pub fn name(self) -> &'static str {
        match self {
            AuditClass::Standard => "standard",
            AuditClass::Full => "full",
        }
    }
}

/// What a provider commits to for a finished job: the answer and the bill together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitment {
    /// BLAKE3 hash of the job's output bytes.
    pub output_hash: ContentHash,
    /// Fuel consumed: the billing unit (at most the job's `max_fuel`).
    pub total_fuel: u64,
    /// Number of trace segments (leaves under `trace_root`).
    pub segments: u32,
    /// Merkle root of the segment leaves `H(i, fuel_i, state_root_i)`.
    pub trace_root: ContentHash,
    /// The module trapped, ran out of fuel or broke a limit: the output is the failure record.
    pub failed: bool,
}

/// `ceil(fuel * price_per_mfuel / 10^6)`: an escrow or a bond lock. `None` on overflow.
pub fn fuel_cost_ceil(fuel: u64, price_per_mfuel: Amount) -> Option<Amount> {
    let product = u128::from(fuel).checked_mul(price_per_mfuel)?;
    Some(product.div_ceil(FUEL_PER_PRICE_UNIT))
}

/// `floor(fuel * price_per_mfuel / 10^6)`: a payment. `None` on overflow.
pub fn fuel_cost_floor(fuel: u64, price_per_mfuel: Amount) -> Option<Amount> {
    let product = u128::from(fuel).checked_mul(price_per_mfuel)?;
    Some(product / FUEL_PER_PRICE_UNIT)
}

/// Whether `endpoint` is an acceptable provider URL: `http://` or `https://` followed by a
/// non-empty host, printable ASCII without spaces, at most `ENDPOINT_SIZE_MAX` bytes. Not a full
/// URL parser: the chain only keeps agents from publishing something no client can dial.
pub fn endpoint_is_valid(endpoint: &str) -> bool {
    if endpoint.len() > ENDPOINT_SIZE_MAX || !endpoint.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    match rest {
        Some(rest) => !rest.is_empty() && !rest.starts_with('/'),
        None => false,
    }
}

/// Writes a string as its length-prefixed UTF-8 bytes (the codec has no `String`).
pub fn write_str(text: &str, buf: &mut impl BufMut) {
    text.as_bytes().write(buf);
}

/// The encoded size of [`write_str`]'s output.
pub fn str_encode_size(text: &str) -> usize {
    text.as_bytes().encode_size()
}

/// Reads a UTF-8 string of at most `max` bytes written by [`write_str`].
pub fn read_str(buf: &mut impl Buf, max: usize, what: &'static str) -> Result<String, CodecError> {
    let range: RangeCfg<usize> = (..=max).into();
    let bytes = Vec::<u8>::read_cfg(buf, &(range, ()))?;
    String::from_utf8(bytes).map_err(|_| CodecError::Invalid(what, "not UTF-8"))
}

impl Write for ResourceProfile {
    fn write(&self, buf: &mut impl BufMut) {
        self.cores.write(buf);
        self.memory_mb.write(buf);
        self.gpus.write(buf);
        write_str(&self.gpu_model, buf);
        self.storage_gb.write(buf);
    }
}

impl EncodeSize for ResourceProfile {
    fn encode_size(&self) -> usize {
        self.cores.encode_size()
            + self.memory_mb.encode_size()
            + self.gpus.encode_size()
            + str_encode_size(&self.gpu_model)
            + self.storage_gb.encode_size()
    }
}

impl Read for ResourceProfile {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(ResourceProfile {
            cores: u32::read(buf)?,
            memory_mb: u64::read(buf)?,
            gpus: u32::read(buf)?,
            gpu_model: read_str(buf, GPU_MODEL_SIZE_MAX, "ResourceProfile")?,
            storage_gb: u64::read(buf)?,
        })
    }
}

impl Write for AuditClass {
    fn write(&self, buf: &mut impl BufMut) {
        (*self as u8).write(buf);
    }
}

impl EncodeSize for AuditClass {
    fn encode_size(&self) -> usize {
        1
    }
}

impl Read for AuditClass {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read(buf)? {
            0 => Ok(AuditClass::Standard),
            1 => Ok(AuditClass::Full),
            other => Err(CodecError::InvalidEnum(other)),
        }
    }
}

impl Write for Commitment {
    fn write(&self, buf: &mut impl BufMut) {
        self.output_hash.write(buf);
        self.total_fuel.write(buf);
        self.segments.write(buf);
        self.trace_root.write(buf);
        self.failed.write(buf);
    }
}

impl EncodeSize for Commitment {
    fn encode_size(&self) -> usize {
        self.output_hash.encode_size()
            + self.total_fuel.encode_size()
            + self.segments.encode_size()
            + self.trace_root.encode_size()
            + self.failed.encode_size()
    }
}

impl Read for Commitment {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(Commitment {
            output_hash: ContentHash::read(buf)?,
            total_fuel: u64::read(buf)?,
            segments: u32::read(buf)?,
            trace_root: ContentHash::read(buf)?,
            failed: bool::read(buf)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt, Encode};

    #[test]
    fn costs_round_in_the_stated_direction() {
        assert_eq!(fuel_cost_ceil(1, 1), Some(1));
        assert_eq!(fuel_cost_floor(1, 1), Some(0));
        assert_eq!(fuel_cost_ceil(2_000_000, 3), Some(6));
        assert_eq!(fuel_cost_floor(2_000_000, 3), Some(6));
        assert_eq!(fuel_cost_ceil(1_500_001, 2), Some(4));
        assert_eq!(fuel_cost_floor(1_500_001, 2), Some(3));
        assert_eq!(fuel_cost_ceil(0, u128::MAX), Some(0));
        assert_eq!(fuel_cost_ceil(2, u128::MAX), None);
        assert_eq!(fuel_cost_floor(2, u128::MAX), None);
    }

    #[test]
    fn endpoints() {
        for good in [
            "http://a",
            "https://node.example:8080/x",
            "http://10.0.0.1:9000",
        ] {
            assert!(endpoint_is_valid(good), "{good}");
        }
        let long = format!("https://{}", "a".repeat(ENDPOINT_SIZE_MAX));
        for bad in [
            "",
            "http://",
            "https:///path",
            "ftp://host",
            "host:80",
            "http://a b",
            "http://é",
            long.as_str(),
        ] {
            assert!(!endpoint_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn records_round_trip_and_refuse_bad_bytes() {
        let profile = ResourceProfile {
            cores: 8,
            memory_mb: 32_768,
            gpus: 1,
            gpu_model: "RTX 4090".into(),
            storage_gb: 512,
        };
        assert_eq!(ResourceProfile::decode(profile.encode()).unwrap(), profile);
        let long = ResourceProfile {
            gpu_model: "x".repeat(GPU_MODEL_SIZE_MAX + 1),
            ..profile.clone()
        };
        assert!(ResourceProfile::decode(long.encode()).is_err());
        let mut not_utf8 = profile.encode().to_vec();
        // cores (4) + memory (8) + gpus (4) + length (1): the first byte of the model name.
        not_utf8[17] = 0xff;
        assert!(ResourceProfile::decode(commonware_codec::Copying(&not_utf8[..])).is_err());
        let commitment = Commitment {
            output_hash: ContentHash::of(b"out"),
            total_fuel: 77,
            segments: 3,
            trace_root: ContentHash::of(b"trace"),
            failed: true,
        };
        assert_eq!(Commitment::decode(commitment.encode()).unwrap(), commitment);
        assert_eq!(
            AuditClass::decode(AuditClass::Full.encode()).unwrap(),
            AuditClass::Full
        );
        assert!(AuditClass::decode(commonware_codec::Copying(&[2u8][..])).is_err());
    }
}
