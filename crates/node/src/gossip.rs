//! Transaction gossip: what a validator's clients get admitted reaches every other validator's
//! mempool, so whichever validator leads next can include it.
//!
//! Each validator sends the transactions its own API admitted, in batches, straight to every
//! peer (validators are fully connected); what arrives by gossip is admitted but not sent on.
//! A peer only forwards transactions it has verified, so a batch that does not decode or carries
//! a bad signature proves the peer faulty: it is blocked.

use commonware_codec::{Decode, Encode};
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Spawner, Supervisor};
use futures::{StreamExt, channel::mpsc};
use plexus_chain::App;
use plexus_types::{PublicKey, SignedTransaction};
use std::time::Duration;
use tracing::{debug, warn};

/// The most transactions in one gossip message.
pub const GOSSIP_BATCH_MAX: usize = 1_000;

/// How long admitted transactions wait to be batched with others before they are sent.
const FLUSH_INTERVAL: Duration = Duration::from_millis(10);

/// Starts gossip for `app` over the `(sender, receiver)` channel.
pub fn start<E, S, R, B>(context: E, app: App, channel: (S, R), blocker: B)
where
    E: Clock + Spawner + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let (outbox, inbox) = mpsc::unbounded();
    app.gossip_to(outbox);
    let (sender, receiver) = channel;
    context
        .child("gossip_out")
        .spawn(move |context| outbound(context, inbox, sender));
    context
        .child("gossip_in")
        .spawn(move |context| inbound(context, app, receiver, blocker));
}

async fn outbound<E: Clock, S: Sender<PublicKey = PublicKey>>(
    context: E,
    mut inbox: mpsc::UnboundedReceiver<Vec<SignedTransaction>>,
    mut sender: S,
) {
    while let Some(first) = inbox.next().await {
        let mut pending = first;
        context.sleep(FLUSH_INTERVAL).await;
        while let Ok(more) = inbox.try_recv() {
            pending.extend(more);
        }
        for chunk in pending.chunks(GOSSIP_BATCH_MAX) {
            let message = chunk.to_vec().encode();
            sender.send(Recipients::All, message, false);
        }
    }
}

async fn inbound<E, R, B>(context: E, app: App, mut receiver: R, mut blocker: B)
where
    E: Spawner + Supervisor,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let range: commonware_codec::RangeCfg<usize> = (1..=GOSSIP_BATCH_MAX).into();
    while let Ok((peer, message)) = receiver.recv().await {
        let txs = match Vec::<SignedTransaction>::decode_cfg(message, &(range, ())) {
            Ok(txs) => txs,
            Err(err) => {
                warn!(?peer, %err, "blocking a peer that gossiped an undecodable batch");
                blocker.block(peer);
                continue;
            }
        };
        // Signature checks are the heavy part: off the consensus workers.
        let verified = context
            .child("gossip_verify")
            .shared(true)
            .spawn(move |_| async move {
                let valid = plexus_chain::ledger::verify_signatures(&txs);
                (valid, txs)
            })
            .await;
        let Ok((valid, txs)) = verified else {
            return;
        };
        if !valid {
            warn!(
                ?peer,
                "blocking a peer that gossiped a badly signed transaction"
            );
            blocker.block(peer);
            continue;
        }
        let count = txs.len();
        let hashed = txs
            .into_iter()
            .map(|tx| {
                let hash = tx.hash();
                (tx, hash)
            })
            .collect();
        let admitted = app.admit_gossiped(hashed);
        debug!(?peer, count, admitted, "gossiped transactions");
    }
}
