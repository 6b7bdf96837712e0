//! Equivocation evidence: two conflicting consensus votes signed by one committee member.
//!
//! Simplex reports a fault when a participant signs two different proposals for one view
//! (notarize or finalize), or both a nullify and a finalize for one view. Votes are ed25519
//! signatures, so a pair of them is proof anyone can check against the committee's keys: the
//! chain verifies it inside block execution and slashes the signer.

use crate::State;
use bytes::BufMut;
use commonware_codec::{Buf, Encode, EncodeSize, Error, Read, ReadExt, Write};
use commonware_consensus::simplex::{
    scheme::ed25519::Scheme,
    types::{Attributable, ConflictingFinalize, ConflictingNotarize, NullifyFinalize},
};
use commonware_consensus::{Epochable, Viewable};
use commonware_parallel::Sequential;
use commonware_utils::ordered::{Quorum, Set};
use plexus_types::{Address, CONSENSUS_NAMESPACE, Digest, PublicKey, Reason};
use rand::SeedableRng;

/// One proven fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    ConflictingNotarize(ConflictingNotarize<Scheme, Digest>),
    ConflictingFinalize(ConflictingFinalize<Scheme, Digest>),
    NullifyFinalize(NullifyFinalize<Scheme, Digest>),
}

impl Evidence {
    const TAG_NOTARIZE: u8 = 0;
    const TAG_FINALIZE: u8 = 1;
    const TAG_NULLIFY_FINALIZE: u8 = 2;

    fn parts(&self) -> (u32, u64, u64) {
        let (signer, epoch, view) = match self {
            Evidence::ConflictingNotarize(e) => (e.signer(), e.epoch(), e.view()),
            Evidence::ConflictingFinalize(e) => (e.signer(), e.epoch(), e.view()),
            Evidence::NullifyFinalize(e) => (e.signer(), e.epoch(), e.view()),
        };
        (signer.get(), epoch.get(), view.get())
    }

    /// The encoding a `Payload::Evidence` carries.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode().to_vec()
    }
}

impl Write for Evidence {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Evidence::ConflictingNotarize(e) => {
                Self::TAG_NOTARIZE.write(buf);
                e.write(buf);
            }
            Evidence::ConflictingFinalize(e) => {
                Self::TAG_FINALIZE.write(buf);
                e.write(buf);
            }
            Evidence::NullifyFinalize(e) => {
                Self::TAG_NULLIFY_FINALIZE.write(buf);
                e.write(buf);
            }
        }
    }
}

impl EncodeSize for Evidence {
    fn encode_size(&self) -> usize {
        1 + match self {
            Evidence::ConflictingNotarize(e) => e.encode_size(),
            Evidence::ConflictingFinalize(e) => e.encode_size(),
            Evidence::NullifyFinalize(e) => e.encode_size(),
        }
    }
}

impl Read for Evidence {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(match u8::read(buf)? {
            Self::TAG_NOTARIZE => Evidence::ConflictingNotarize(ReadExt::read(buf)?),
            Self::TAG_FINALIZE => Evidence::ConflictingFinalize(ReadExt::read(buf)?),
            Self::TAG_NULLIFY_FINALIZE => Evidence::NullifyFinalize(ReadExt::read(buf)?),
            other => return Err(Error::InvalidEnum(other)),
        })
    }
}

/// The current epoch's consensus committee as simplex orders it: a sorted set.
pub fn consensus_committee(state: &State) -> Option<Set<PublicKey>> {
    to_set(&state.committee)
}

/// The consensus committee of a recent `epoch` (see `State::epoch_committees`).
pub fn epoch_committee(state: &State, epoch: u64) -> Option<Set<PublicKey>> {
    to_set(state.epoch_committees.get(&epoch)?)
}

fn to_set(committee: &[Address]) -> Option<Set<PublicKey>> {
    Set::try_from(committee.iter().map(|a| a.0.clone()).collect::<Vec<_>>()).ok()
}

/// Decodes and verifies evidence against the committee of the epoch it names (one of the recent
/// epochs the state remembers). Returns the offender and the fault's epoch and view.
pub fn verify(state: &State, bytes: &[u8]) -> Result<(Address, u64, u64), Reason> {
    use commonware_codec::DecodeExt;
    let evidence = Evidence::decode(commonware_codec::Copying(bytes))
        .map_err(|_| Reason::MalformedEvidence)?;
    let (signer, epoch, view) = evidence.parts();
    let committee = epoch_committee(state, epoch).ok_or(Reason::InvalidEvidence)?;
    let offender = committee
        .key(commonware_utils::Participant::new(signer))
        .cloned()
        .ok_or(Reason::InvalidEvidence)?;
    let verifier = Scheme::verifier(CONSENSUS_NAMESPACE, committee);
    // Single ed25519 attestations are verified one by one: the generator is never drawn from
    // (it only seeds batch verification), so a fixed one keeps execution deterministic.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let valid = match &evidence {
        Evidence::ConflictingNotarize(e) => e.verify(&mut rng, &verifier, &Sequential),
        Evidence::ConflictingFinalize(e) => e.verify(&mut rng, &verifier, &Sequential),
        Evidence::NullifyFinalize(e) => e.verify(&mut rng, &verifier, &Sequential),
    };
    if !valid {
        return Err(Reason::InvalidEvidence);
    }
    Ok((Address(offender), epoch, view))
}
