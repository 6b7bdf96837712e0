//! The beacon channel: validators send each other their shares of each height's beacon
//! signature (see `plexus_chain::beacon`).
//!
//! Each validator sends only its own partials, so a partial whose signer index is not the
//! sender's position in the committee, one that does not decode, or one that spoils a recovery
//! proves the sender faulty: it is blocked. When the chain stalls (a restart, a lost message),
//! each validator sends again the partials the next proposals may still need.

use commonware_codec::{DecodeExt, Encode};
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Spawner, Supervisor};
use futures::{StreamExt, channel::mpsc};
use plexus_chain::{App, BeaconError};
use plexus_types::{BeaconPartial, PublicKey};
use std::time::Duration;
use tracing::{debug, warn};

/// With no new finalized block for this long, the unsealed partials go out again.
const RESEND_AFTER: Duration = Duration::from_secs(1);

/// Starts the beacon exchange for `app` over the `(sender, receiver)` channel.
pub fn start<E, S, R, B>(context: E, app: App, channel: (S, R), blocker: B)
where
    E: Clock + Spawner + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    let (outbox, inbox) = mpsc::unbounded();
    app.beacon_to(outbox);
    let (sender, receiver) = channel;
    let out_app = app.clone();
    context
        .child("beacon_out")
        .spawn(move |context| outbound(context, out_app, inbox, sender));
    context
        .child("beacon_in")
        .spawn(move |_| inbound(app, receiver, blocker));
}

async fn outbound<E: Clock, S: Sender<PublicKey = PublicKey>>(
    context: E,
    app: App,
    mut inbox: mpsc::UnboundedReceiver<(u64, BeaconPartial)>,
    mut sender: S,
) {
    let mut last_tip = app.finalized().state.height;
    let mut last_progress = context.current();
    // What a restart released before this channel existed.
    for partial in app.with_beacons(|b| b.unsealed_released()) {
        sender.send(Recipients::All, partial.encode(), false);
    }
    loop {
        let next = futures::future::select(inbox.next(), Box::pin(context.sleep(RESEND_AFTER)));
        match next.await {
            futures::future::Either::Left((Some(partial), _)) => {
                sender.send(Recipients::All, partial.encode(), false);
            }
            futures::future::Either::Left((None, _)) => return,
            futures::future::Either::Right(_) => {}
        }
        let tip = app.finalized().state.height;
        let now = context.current();
        if tip != last_tip {
            last_tip = tip;
            last_progress = now;
        } else if now.duration_since(last_progress).unwrap_or_default() >= RESEND_AFTER {
            last_progress = now;
            for partial in app.with_beacons(|b| b.unsealed_released()) {
                sender.send(Recipients::All, partial.encode(), false);
            }
        }
    }
}

async fn inbound<R, B>(app: App, mut receiver: R, mut blocker: B)
where
    R: Receiver<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey>,
{
    while let Ok((peer, message)) = receiver.recv().await {
        let Ok((height, partial)) = <(u64, BeaconPartial)>::decode(message) else {
            warn!(
                ?peer,
                "blocking a peer that sent an undecodable beacon partial"
            );
            blocker.block(peer);
            continue;
        };
        // Signer indices follow the committee of the height's epoch, in key order.
        let Some(committee) = app.committee_at(height) else {
            debug!(
                ?peer,
                height, "beacon partial for a height of an unknown epoch"
            );
            continue;
        };
        if committee.position(&peer).map(|p| p as u32) != Some(partial.index.get()) {
            warn!(
                ?peer,
                "blocking a peer that sent a beacon partial not its own"
            );
            blocker.block(peer);
            continue;
        }
        match app.with_beacons(|b| b.add(height, partial)) {
            Ok(()) => {}
            Err(BeaconError::OutOfWindow { height, tip }) => {
                debug!(?peer, height, tip, "beacon partial outside the window");
            }
            Err(BeaconError::UnknownSigner(_)) => {
                blocker.block(peer);
            }
            Err(BeaconError::Invalid(signers, height)) => {
                for signer in signers {
                    if let Some(faulty) = committee.get(signer as usize) {
                        warn!(
                            ?faulty,
                            height, "blocking a validator that sent a bad beacon partial"
                        );
                        blocker.block(faulty.clone());
                    }
                }
            }
        }
    }
}
