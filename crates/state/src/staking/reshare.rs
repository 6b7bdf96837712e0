//! The beacon key's reshare from one committee to the next, decided on chain.
//!
//! At the first block of epoch `e` the chain elects the next committee (top stake, jailed
//! validators excluded). During epoch `e` every current committee member deals its share afresh
//! to that next committee (off chain, over the p2p network: a public commitment to all, a private
//! share to each, a signed acknowledgement back) and submits its signed log as a
//! `Payload::DealerLog`. At the last block of epoch `e` the chain combines the logs
//! (`feldman_desmedt::observe`): when a quorum of the current committee dealt properly, the next
//! committee and its new beacon key take over for epoch `e + 1`. The group key never changes, so
//! every beacon signature verifies against the same key forever. Otherwise the current committee
//! and key stay for another epoch, and the reshare is tried again.
//!
//! Everything here is deterministic: the log checks use a fixed-seed generator that only weights
//! batch verification, and which logs are combined is the first quorum in dealer-key order.

use crate::State;
use commonware_codec::Decode;
use commonware_cryptography::bls12381::{
    dkg::feldman_desmedt::{self, Info, Logs, Reveal, SignedDealerLog},
    primitives::sharing::Mode,
};
use commonware_parallel::Sequential;
use commonware_utils::{N3f1, ordered::Set};
use plexus_types::{Address, PublicKey, Reason, beacon::BeaconVariant};
use rand::SeedableRng;

pub use crate::ledger::params::COMMITTEE_SIZE_CAP;

/// The namespace every reshare transcript is bound to.
pub const RESHARE_NAMESPACE: &[u8] = b"_PLEXUS_RESHARE";

/// A reshare round's public description.
pub type ReshareInfo = Info<BeaconVariant, PublicKey>;
/// A dealer's signed log, as a `Payload::DealerLog` carries it.
pub type DealerLog = SignedDealerLog<BeaconVariant, PublicKey>;
/// The logs a round collects.
pub type ReshareLogs = Logs<BeaconVariant, PublicKey, N3f1>;

/// The reshare round running during the epoch of the block after `state`: the current
/// key holders deal to the next committee. `None` if there is nothing to reshare to.
pub fn info(state: &State) -> Option<ReshareInfo> {
    if state.next_committee.is_empty() {
        return None;
    }
    let epoch = state.epoch_of(state.height + 1);
    let dealers = state.beacon_key.players().clone();
    let players = Set::from_iter_dedup(state.next_committee.iter().map(|a| a.0.clone()));
    Info::new::<N3f1>(
        RESHARE_NAMESPACE,
        epoch,
        Some(state.beacon_key.clone()),
        Mode::NonZeroCounter,
        Reveal::V1,
        dealers,
        players,
    )
    .ok()
}

/// Decodes a dealer log.
pub fn decode_log(bytes: &[u8]) -> Option<DealerLog> {
    let max = std::num::NonZeroU32::new(plexus_types::beacon::BEACON_PARTICIPANTS_MAX)?;
    DealerLog::decode_cfg(commonware_codec::Copying(bytes), &max).ok()
}

/// Records `sender`'s dealer log for `epoch`, submitted in a block at `height`.
pub(crate) fn record(
    state: &mut State,
    sender: &Address,
    epoch: u64,
    bytes: &[u8],
    height: u64,
) -> Result<(), Reason> {
    if epoch != state.epoch_of(height) {
        return Err(Reason::InvalidDealerLog);
    }
    let info = info(state).ok_or(Reason::InvalidDealerLog)?;
    let log = decode_log(bytes).ok_or(Reason::InvalidDealerLog)?;
    let (dealer, _) = log.check(&info).ok_or(Reason::InvalidDealerLog)?;
    if dealer != sender.0 || state.beacon_key.players().position(&dealer).is_none() {
        return Err(Reason::InvalidDealerLog);
    }
    if state.dealer_logs.contains_key(sender) {
        return Err(Reason::DuplicateDealerLog);
    }
    state.dealer_logs.insert(sender.clone(), bytes.to_vec());
    Ok(())
}

/// The round's logs as the chain recorded them (each checked again: cheap, and it keeps the
/// stored bytes the only source of truth).
pub fn logs(state: &State, info: &ReshareInfo) -> ReshareLogs {
    let mut logs = ReshareLogs::new(info.clone());
    for bytes in state.dealer_logs.values() {
        if let Some((dealer, log)) = decode_log(bytes).and_then(|l| l.check(info)) {
            logs.record(dealer, log);
        }
    }
    logs
}

/// The fixed generator the reshare's checks use (it only weights batch verification).
pub fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(0)
}

/// Run at the last block of an epoch: hands the next committee the new key if a quorum of
/// dealers logged properly, else keeps the committee. Returns whether the committee changed hands.
pub(crate) fn conclude(state: &mut State) -> bool {
    let concluded = info(state).and_then(|info| {
        let logs = logs(state, &info);
        feldman_desmedt::observe::<BeaconVariant, PublicKey, N3f1>(&mut rng(), logs, &Sequential)
            .ok()
    });
    let epoch = state.epoch_of(state.height + 1);
    // The logs stay until the next epoch's first block: new members finalize their shares
    // from them once this block is final.
    let handed_over = match concluded {
        Some(output) => {
            state.committee = output
                .players()
                .iter()
                .map(|k| Address(k.clone()))
                .collect();
            state.beacon_key = output;
            true
        }
        None => false,
    };
    state
        .epoch_committees
        .insert(epoch + 1, state.committee.clone());
    let keep_from = (epoch + 1).saturating_sub(crate::PARTICIPATION_EPOCHS_KEPT);
    state.epoch_committees.retain(|e, _| *e >= keep_from);
    handed_over
}
