//! Audit verdicts, their seals, and the checkpoint manifest a dispute's re-execution starts from.
//!
//! A drawn verifier first commits `audit_seal(job, verifier, verdict, salt)` and then reveals the
//! verdict and the salt, so its verdict is fixed before it can see anything the reveal of another
//! party would show. A [`Manifest`] is the content-addressed description of one checkpoint: the
//! chain checks it against the agreed leaf's state root before the validators restore it.

use crate::hash::ContentHash;
use crate::job::Commitment;
use crate::limits::MEMORY_PAGES_MAX;
use crate::trace::{self, GlobalValue};
use crate::{Address, Digest};
use bytes::BufMut;
use commonware_codec::{
    Buf, Encode, EncodeSize, Error as CodecError, Read, ReadExt, ReadRangeExt, Write,
};

/// The most pages a manifest may name: every page of the largest memory a job may declare.
pub const MANIFEST_PAGES_MAX: usize = MEMORY_PAGES_MAX as usize;
/// The most mutable globals a manifest may carry.
pub const MANIFEST_GLOBALS_MAX: usize = 4_096;
/// The most audits a verifier may declare it re-runs at once (`VerifierRegister::capacity`).
pub const VERIFIER_CAPACITY_MAX: u32 = 64;

/// What a verifier found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A full audit: the verifier's own commitment for the whole job. Equal to the provider's, the
    /// audit passes; otherwise a dissection over the provider's trace opens.
    Full(Commitment),
    /// A light audit: `None` if every drawn segment, re-run from the provider's checkpoint, gave
    /// the provider's next leaf; `Some(i)` names a drawn segment `i` that did not (or whose
    /// pre-state the provider did not serve): the dispute goes straight to leaves `i`, `i + 1`.
    Light { disputed: Option<u64> },
}

impl Verdict {
    const TAG_FULL: u8 = 0;
    const TAG_LIGHT: u8 = 1;
}

impl Write for Verdict {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Verdict::Full(commitment) => {
                Self::TAG_FULL.write(buf);
                commitment.write(buf);
            }
            Verdict::Light { disputed } => {
                Self::TAG_LIGHT.write(buf);
                disputed.write(buf);
            }
        }
    }
}

impl EncodeSize for Verdict {
    fn encode_size(&self) -> usize {
        1 + match self {
            Verdict::Full(commitment) => commitment.encode_size(),
            Verdict::Light { disputed } => disputed.encode_size(),
        }
    }
}

impl Read for Verdict {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        match u8::read(buf)? {
            Self::TAG_FULL => Ok(Verdict::Full(Commitment::read(buf)?)),
            Self::TAG_LIGHT => Ok(Verdict::Light {
                disputed: Option::<u64>::read(buf)?,
            }),
            other => Err(CodecError::InvalidEnum(other)),
        }
    }
}

/// The seal a verifier commits: SHA-256 over a domain tag, the job, the verifier, the encoded
/// verdict and the salt. Binding the verifier stops another from replaying its seal.
pub fn audit_seal(job: &Digest, verifier: &Address, verdict: &Verdict, salt: &Digest) -> Digest {
    crate::hash(&[
        b"plexus/audit-seal".as_slice(),
        job.as_ref(),
        verifier.0.as_ref(),
        &verdict.encode(),
        salt.as_ref(),
    ])
}

/// One checkpoint as content: leaf index, cumulative fuel, mutable globals and page hashes.
/// Stored by its BLAKE3 hash like any other content. Each page is stored as content too, named
/// by the plain BLAKE3 hash of its bytes (`locators`, one per page), which differs from the
/// domain-separated `trace::page_hash` the state root commits to (`pages`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub index: u64,
    pub fuel: u64,
    pub globals: Vec<GlobalValue>,
    pub pages: Vec<ContentHash>,
    pub locators: Vec<ContentHash>,
}

impl Manifest {
    /// The state root it describes.
    pub fn state_root(&self) -> ContentHash {
        trace::state_root(
            &trace::memory_root(&self.pages),
            &trace::globals_hash(&self.globals),
        )
    }
}

fn write_global(value: &GlobalValue, buf: &mut impl BufMut) {
    value.tag().write(buf);
    match value {
        GlobalValue::I32(v) => v.write(buf),
        GlobalValue::I64(v) => v.write(buf),
        GlobalValue::F32(v) => v.write(buf),
        GlobalValue::F64(v) => v.write(buf),
        GlobalValue::V128(v) => v.write(buf),
    }
}

fn global_size(value: &GlobalValue) -> usize {
    1 + match value {
        GlobalValue::I32(_) | GlobalValue::F32(_) => 4,
        GlobalValue::I64(_) | GlobalValue::F64(_) => 8,
        GlobalValue::V128(_) => 16,
    }
}

fn read_global(buf: &mut impl Buf) -> Result<GlobalValue, CodecError> {
    Ok(match u8::read(buf)? {
        0 => GlobalValue::I32(i32::read(buf)?),
        1 => GlobalValue::I64(i64::read(buf)?),
        2 => GlobalValue::F32(u32::read(buf)?),
        3 => GlobalValue::F64(u64::read(buf)?),
        4 => GlobalValue::V128(u128::read(buf)?),
        other => return Err(CodecError::InvalidEnum(other)),
    })
}

impl Write for Manifest {
    fn write(&self, buf: &mut impl BufMut) {
        self.index.write(buf);
        self.fuel.write(buf);
        (self.globals.len() as u32).write(buf);
        for global in &self.globals {
            write_global(global, buf);
        }
        self.pages.write(buf);
        self.locators.write(buf);
    }
}

impl EncodeSize for Manifest {
    fn encode_size(&self) -> usize {
        self.index.encode_size()
            + self.fuel.encode_size()
            + 4
            + self.globals.iter().map(global_size).sum::<usize>()
            + self.pages.encode_size()
            + self.locators.encode_size()
    }
}

impl Read for Manifest {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let index = u64::read(buf)?;
        let fuel = u64::read(buf)?;
        let count = u32::read(buf)? as usize;
        if count > MANIFEST_GLOBALS_MAX {
            return Err(CodecError::Invalid("Manifest", "too many globals"));
        }
        let mut globals = Vec::with_capacity(count);
        for _ in 0..count {
            globals.push(read_global(buf)?);
        }
        let pages = Vec::<ContentHash>::read_range(buf, ..=MANIFEST_PAGES_MAX)?;
        let locators = Vec::<ContentHash>::read_range(buf, ..=MANIFEST_PAGES_MAX)?;
        if locators.len() != pages.len() {
            return Err(CodecError::Invalid("Manifest", "one locator per page"));
        }
        Ok(Manifest {
            index,
            fuel,
            globals,
            pages,
            locators,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::DecodeExt;

    fn commitment(fuel: u64) -> Commitment {
        Commitment {
            output_hash: ContentHash::of(b"out"),
            total_fuel: fuel,
            segments: 3,
            trace_root: ContentHash::of(b"trace"),
            failed: false,
        }
    }

    #[test]
    fn a_manifest_names_at_most_64_mib_of_pages() {
        // The figure manifests were decoded with before it was derived from the memory limit.
        assert_eq!(MANIFEST_PAGES_MAX, (64 << 20) / crate::trace::PAGE_BYTES);
        assert_eq!(MANIFEST_PAGES_MAX, 1024);
    }

    #[test]
    fn verdicts_and_manifests_round_trip() {
        for verdict in [
            Verdict::Full(commitment(7)),
            Verdict::Light { disputed: None },
            Verdict::Light { disputed: Some(9) },
        ] {
            let bytes = verdict.encode();
            assert_eq!(bytes.len(), verdict.encode_size());
            assert_eq!(Verdict::decode(bytes).unwrap(), verdict);
        }
        let manifest = Manifest {
            index: 4,
            fuel: 1 << 30,
            globals: vec![GlobalValue::I32(-3), GlobalValue::V128(5)],
            pages: vec![trace::page_hash(&[0; 8]), trace::page_hash(&[1; 8])],
            locators: vec![ContentHash::of(&[0; 8]), ContentHash::of(&[1; 8])],
        };
        let bytes = manifest.encode();
        assert_eq!(bytes.len(), manifest.encode_size());
        assert_eq!(Manifest::decode(bytes).unwrap(), manifest);
        let mut lopsided = manifest.clone();
        lopsided.locators.pop();
        assert!(Manifest::decode(lopsided.encode()).is_err());
    }

    #[test]
    fn a_seal_binds_every_field() {
        use commonware_cryptography::Signer as _;
        let key = |seed| Address(crate::tx::PrivateKey::from_seed(seed).public_key());
        let job = crate::hash(&[b"job".as_slice()]);
        let salt = crate::hash(&[b"salt".as_slice()]);
        let verdict = Verdict::Light { disputed: None };
        let seal = audit_seal(&job, &key(1), &verdict, &salt);
        assert_eq!(seal, audit_seal(&job, &key(1), &verdict, &salt));
        assert_ne!(
            seal,
            audit_seal(
                &crate::hash(&[b"other".as_slice()]),
                &key(1),
                &verdict,
                &salt
            )
        );
        assert_ne!(seal, audit_seal(&job, &key(2), &verdict, &salt));
        let disputed = Verdict::Light { disputed: Some(0) };
        assert_ne!(seal, audit_seal(&job, &key(1), &disputed, &salt));
        assert_ne!(
            seal,
            audit_seal(
                &job,
                &key(1),
                &verdict,
                &crate::hash(&[b"pepper".as_slice()])
            )
        );
    }
}
