//! Providers' storage offers: the capacity a registered provider sells and its price per
//! GiB-epoch (`Payload::StorageOffer`).

use crate::ledger::state::State;
use crate::storage::records::StorageOffer;
use plexus_types::{Address, Amount, Reason};

/// Records (or replaces) `sender`'s offer. Only a registered, serving provider may offer, and
/// never less capacity than the shards drawn to it use (zero stops new draws only when it holds
/// nothing; a provider winding down offers exactly what it holds).
pub(crate) fn offer(
    state: &mut State,
    sender: Address,
    capacity_bytes: u64,
    price_per_gib_epoch: Amount,
) -> Result<(), Reason> {
    let provider = state
        .providers
        .get(&sender)
        .ok_or(Reason::UnknownProvider)?;
    if provider.unbonding_release.is_some() {
        return Err(Reason::ProviderDeregistering);
    }
    let used_bytes = state
        .storage_offers
        .get(&sender)
        .map_or(0, |offer| offer.used_bytes);
    if capacity_bytes < used_bytes {
        return Err(Reason::InvalidStorageOffer);
    }
    state.storage_offers.insert(
        sender,
        StorageOffer {
            capacity_bytes,
            used_bytes,
            price_per_gib_epoch,
        },
    );
    Ok(())
}
