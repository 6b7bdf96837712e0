//! Participation: which committee members signed each finalized block, counted per epoch (what
//! validator rewards will be paid on).
//!
//! A block's proposer submits the block's finalization certificate in a `Participation`
//! transaction once it has it. Execution checks that the certificate finalizes the recorded
//! hash of that recent height, carries a quorum, and that every signature in it verifies against
//! its signer's committee key; then each signer's count for the height's epoch goes up by one.
//! Each height is recorded at most once.

use crate::{PARTICIPATION_EPOCHS_KEPT, PARTICIPATION_WINDOW, State};
use commonware_codec::Decode;
use commonware_consensus::simplex::{
    scheme::ed25519::Scheme,
    types::{Finalization, Finalize},
};
use commonware_cryptography::certificate::{Attestation, Verifier as _};
use commonware_parallel::Sequential;
use commonware_utils::{N3f1, ordered::Quorum};
use plexus_types::{Address, CONSENSUS_NAMESPACE, Digest, Reason};
use rand::SeedableRng;

/// Called at the start of each block: remembers the parent (the block the state is at) and
/// forgets blocks and epochs that fell out of the windows.
pub(crate) fn remember_parent(state: &mut State) {
    if state.height > 0 {
        state
            .recent_blocks
            .insert(state.height, (state.block_hash, false));
    }
    let oldest = state.height.saturating_sub(PARTICIPATION_WINDOW - 1);
    while let Some(entry) = state.recent_blocks.first_entry() {
        if *entry.key() >= oldest {
            break;
        }
        entry.remove();
    }
    let epoch = state.epoch_of(state.height + 1);
    let keep_from = epoch.saturating_sub(PARTICIPATION_EPOCHS_KEPT);
    state.participation.retain(|(e, _), _| *e >= keep_from);
}

/// Verifies `bytes` as the finalization of the recent block at `height` and counts its signers.
pub(crate) fn record(state: &mut State, height: u64, bytes: &[u8]) -> Result<(), Reason> {
    let Some((hash, recorded)) = state.recent_blocks.get(&height).copied() else {
        return Err(Reason::InvalidCertificate);
    };
    if recorded {
        return Err(Reason::AlreadyRecorded);
    }
    let epoch = state.epoch_of(height);
    let committee = crate::staking::evidence::epoch_committee(state, epoch)
        .ok_or(Reason::InvalidCertificate)?;
    let verifier = Scheme::verifier(CONSENSUS_NAMESPACE, committee.clone());
    let finalization = Finalization::<Scheme, Digest>::decode_cfg(
        commonware_codec::Copying(bytes),
        &verifier.certificate_codec_config(),
    )
    .map_err(|_| Reason::InvalidCertificate)?;
    if finalization.proposal.payload != hash || finalization.proposal.round.epoch().get() != epoch {
        return Err(Reason::InvalidCertificate);
    }
    let certificate = &finalization.certificate;
    let signers: Vec<_> = certificate.signers.iter().collect();
    if signers.len() != certificate.signatures.len()
        || (signers.len() as u32) < committee.quorum::<N3f1>()
    {
        return Err(Reason::InvalidCertificate);
    }
    // One plain ed25519 verification per signature: nothing is drawn from the generator (it only
    // seeds batch verification), so execution stays deterministic.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut members = Vec::with_capacity(signers.len());
    for (signer, signature) in signers.iter().zip(&certificate.signatures) {
        let vote = Finalize::<Scheme, Digest> {
            proposal: finalization.proposal.clone(),
            attestation: Attestation {
                signer: *signer,
                signature: signature.clone(),
            },
        };
        if !vote.verify(&mut rng, &verifier, &Sequential) {
            return Err(Reason::InvalidCertificate);
        }
        let key = committee.key(*signer).ok_or(Reason::InvalidCertificate)?;
        members.push(Address(key.clone()));
    }
    for member in members {
        *state.participation.entry((epoch, member)).or_default() += 1;
    }
    state.recent_blocks.insert(height, (hash, true));
    Ok(())
}
