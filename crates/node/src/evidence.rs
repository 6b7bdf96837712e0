//! From a fault simplex observed to a slashing transaction.
//!
//! Simplex reports a participant that signed conflicting votes (two notarizes or finalizes for
//! one view, or a nullify and a finalize). The reporter here passes the proof on; the submitter
//! wraps it in a `Payload::Evidence` transaction signed by this validator and admits it to the
//! mempool, from where gossip spreads it and the next leader includes it. Execution verifies the
//! signatures and slashes the offender.

use commonware_actor::Feedback;
use commonware_consensus::{
    Reporter,
    simplex::{scheme::ed25519::Scheme, types::Activity},
};
use commonware_cryptography::Signer;
use commonware_runtime::Spawner;
use futures::{StreamExt, channel::mpsc};
use plexus_chain::App;
use plexus_state::evidence::Evidence;
use plexus_types::{Address, Digest, Payload, PrivateKey, Transaction};
use std::collections::BTreeSet;
use tracing::{info, warn};

/// Forwards every consensus activity to `inner` and copies each proven fault to `faults`.
#[derive(Clone)]
pub struct FaultReporter<R> {
    inner: R,
    faults: mpsc::UnboundedSender<Evidence>,
}

impl<R> FaultReporter<R> {
    pub fn new(inner: R, faults: mpsc::UnboundedSender<Evidence>) -> Self {
        FaultReporter { inner, faults }
    }
}

impl<R: Reporter<Activity = Activity<Scheme, Digest>>> Reporter for FaultReporter<R> {
    type Activity = Activity<Scheme, Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        let evidence = match &activity {
            Activity::ConflictingNotarize(e) => Some(Evidence::ConflictingNotarize(e.clone())),
            Activity::ConflictingFinalize(e) => Some(Evidence::ConflictingFinalize(e.clone())),
            Activity::NullifyFinalize(e) => Some(Evidence::NullifyFinalize(e.clone())),
            _ => None,
        };
        if let Some(evidence) = evidence {
            let _ = self.faults.unbounded_send(evidence);
        }
        self.inner.report(activity)
    }
}

/// Submits each fault once, as an evidence transaction from `key`'s account.
pub fn start_submitter<E: Spawner>(
    context: E,
    app: App,
    key: PrivateKey,
    mut faults: mpsc::UnboundedReceiver<Evidence>,
) {
    context.spawn(move |_| async move {
        let sender = Address(key.public_key());
        let mut submitted = BTreeSet::new();
        while let Some(evidence) = faults.next().await {
            let bytes = evidence.to_bytes();
            if !submitted.insert(bytes.clone()) {
                continue;
            }
            let (chain_id, fee) = {
                let finalized = app.finalized();
                (finalized.state.chain_id, finalized.state.params.fee_min)
            };
            let tx = Transaction {
                chain_id,
                sender: sender.clone(),
                nonce: app.next_nonce(&sender),
                fee,
                payload: Payload::Evidence { evidence: bytes },
            }
            .sign(&key);
            let hash = tx.hash();
            match app.submit(tx, hash) {
                Ok(_) => info!(?evidence, "submitted equivocation evidence"),
                Err(err) => warn!(%err, "could not submit equivocation evidence"),
            }
        }
    });
}
