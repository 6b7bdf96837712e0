//! The consensus engine's epochs: the chain's epoch schedule (`plexus_state::ledger::epochs`),
//! read from the finalized state, as Commonware's `Epocher`.
//!
//! A vote changes the epoch length only from two epochs after the one it is applied in, so the
//! finalized state at height `h` knows every epoch up to the one after `h`'s for good. Those
//! are the epochs this answers for; a later height or epoch is "not supported" (`None`) until
//! the state gets there, so no answer ever changes (the `Epocher` contract). Marshal treats an
//! unsupported height as it treats an epoch without a known committee: it waits.

use commonware_consensus::types::{Epoch, EpochInfo, Epocher, Height};
use plexus_chain::App;
use plexus_state::ledger::EpochSchedule;

/// The chain's epochs as the finalized state of `app` knows them.
#[derive(Clone)]
pub struct ChainEpocher {
    app: App,
}

impl ChainEpocher {
    pub fn new(app: App) -> Self {
        ChainEpocher { app }
    }

    /// Runs `f` on the schedule and the last epoch the finalized state has fixed.
    fn with<T>(&self, f: impl FnOnce(&EpochSchedule, u64) -> Option<T>) -> Option<T> {
        let executed = self.app.finalized();
        let state = &executed.state;
        let fixed = state
            .epoch_of(state.height.saturating_add(1))
            .saturating_add(1);
        f(state.epochs(), fixed)
    }
}

impl Epocher for ChainEpocher {
    fn containing(&self, height: Height) -> Option<EpochInfo> {
        self.with(|epochs, fixed| {
            let epoch = epochs.epoch_of(height.get());
            (epoch <= fixed).then(|| {
                EpochInfo::new(
                    Epoch::new(epoch),
                    height,
                    Height::new(epochs.first_height(epoch)),
                    Height::new(epochs.last_height(epoch)),
                )
            })
        })
    }

    fn first(&self, epoch: Epoch) -> Option<Height> {
        self.with(|epochs, fixed| {
            (epoch.get() <= fixed).then(|| Height::new(epochs.first_height(epoch.get())))
        })
    }

    fn last(&self, epoch: Epoch) -> Option<Height> {
        self.with(|epochs, fixed| {
            (epoch.get() <= fixed).then(|| Height::new(epochs.last_height(epoch.get())))
        })
    }
}
