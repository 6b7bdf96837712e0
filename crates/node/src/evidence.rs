//! From what simplex observes to transactions: faults become slashing evidence, finalization
//! certificates of our own blocks become participation records.
//!
//! Simplex reports a participant that signed conflicting votes (two notarizes or finalizes for
//! one view, or a nullify and a finalize), and every finalization it sees. The reporter here
//! passes both on; the submitter wraps a fault in a `Payload::Evidence` transaction, and the
//! finalization of a block this validator proposed in a `Payload::Participation` transaction,
//! signed by this validator and admitted to the mempool, from where gossip spreads it and the
//! next leader includes it. Execution verifies the signatures, then slashes the offender or
//! counts the signers.

use commonware_actor::Feedback;
use commonware_codec::Encode;
use commonware_consensus::simplex::types::Finalization;
use commonware_consensus::{
    Reporter,
    simplex::{scheme::ed25519::Scheme, types::Activity},
};
use commonware_cryptography::Signer;
use commonware_runtime::Spawner;
use futures::{StreamExt, channel::mpsc};
use plexus_chain::App;
use plexus_state::evidence::Evidence;
use plexus_types::{Digest, Payload, PrivateKey};
use std::collections::BTreeSet;
use tracing::{info, warn};

/// What the reporter passes on to the submitter.
pub enum Observed {
    Fault(Box<Evidence>),
    Finalization(Finalization<Scheme, Digest>),
}

/// Forwards every consensus activity to `inner` and copies each proven fault and each
/// finalization to `observed`.
#[derive(Clone)]
pub struct ActivityReporter<R> {
    inner: R,
    observed: mpsc::UnboundedSender<Observed>,
}

impl<R> ActivityReporter<R> {
    pub fn new(inner: R, observed: mpsc::UnboundedSender<Observed>) -> Self {
        ActivityReporter { inner, observed }
    }
}

impl<R: Reporter<Activity = Activity<Scheme, Digest>>> Reporter for ActivityReporter<R> {
    type Activity = Activity<Scheme, Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        let evidence = match &activity {
            Activity::ConflictingNotarize(e) => Some(Evidence::ConflictingNotarize(e.clone())),
            Activity::ConflictingFinalize(e) => Some(Evidence::ConflictingFinalize(e.clone())),
            Activity::NullifyFinalize(e) => Some(Evidence::NullifyFinalize(e.clone())),
            _ => None,
        };
        if let Some(evidence) = evidence {
            let _ = self
                .observed
                .unbounded_send(Observed::Fault(Box::new(evidence)));
        }
        if let Activity::Finalization(finalization) = &activity {
            let _ = self
                .observed
                .unbounded_send(Observed::Finalization(finalization.clone()));
        }
        self.inner.report(activity)
    }
}

/// Submits each fault once, as an evidence transaction from `key`'s account, and the
/// finalization certificate of each block `key` proposed, as a participation transaction.
pub fn start_submitter<E: Spawner>(
    context: E,
    app: App,
    key: PrivateKey,
    mut observed: mpsc::UnboundedReceiver<Observed>,
) {
    context.spawn(move |_| async move {
        let me = key.public_key();
        let mut submitted = BTreeSet::new();
        let mut recorded_up_to = 0u64;
        while let Some(item) = observed.next().await {
            let payload = match item {
                Observed::Fault(evidence) => {
                    let bytes = evidence.to_bytes();
                    if !submitted.insert(bytes.clone()) {
                        continue;
                    }
                    info!(?evidence, "submitting equivocation evidence");
                    Payload::Evidence { evidence: bytes }
                }
                Observed::Finalization(finalization) => {
                    // Only our own blocks, each once; the block is in the ledger because we
                    // built it (unless we restarted since, then the record is skipped).
                    let digest = finalization.proposal.payload;
                    let Some(height) = app.with_ledger(|l| {
                        l.executed(&digest)
                            .filter(|e| e.block.header.proposer == me)
                            .map(|e| e.state.height)
                    }) else {
                        continue;
                    };
                    if height <= recorded_up_to {
                        continue;
                    }
                    recorded_up_to = height;
                    Payload::Participation {
                        height,
                        finalization: finalization.encode().to_vec(),
                    }
                }
            };
            if let Err(err) = app.submit_from(&key, payload) {
                warn!(%err, "could not submit an evidence or participation transaction");
            }
        }
    });
}
