//! This node's part in each epoch's beacon reshare (see `plexus_state::reshare` for the chain's).
//!
//! When a finalized block opens an epoch's round (its first block, or genesis for epoch 0), a
//! current committee member deals its share afresh: a public commitment and a private share to
//! each member of the next committee, over p2p channel 7 (authenticated and encrypted, as the
//! dealing requires), and collects their signed acknowledgements. Once every player acknowledged,
//! or at the latest at the epoch's midpoint, it signs its log and submits it as a
//! `Payload::DealerLog` (again a few blocks later if it is not on chain yet). A next-committee
//! member acknowledges each valid dealing. When the epoch's last block hands the key over, each
//! new member computes its new share from the logs on chain, checks it against the chain's new
//! key, hands it to the beacon and to `on_share` (a node stores it on disk); every node switches
//! the beacon to the new public key from the next epoch's first height.
//!
//! Not kept across a restart: a dealer that restarts mid-epoch does not deal again that epoch,
//! and a player that restarts before the handover has lost the dealings it acknowledged, so it
//! goes without a share for the next epoch (it still votes; the others sign the beacon).

use commonware_codec::{Encode, EncodeSize, Read, ReadExt, Write};
use commonware_cryptography::{
    Signer,
    bls12381::{
        dkg::feldman_desmedt::{Dealer, DealerPrivMsg, DealerPubMsg, Player, PlayerAck},
        primitives::group::Share,
    },
};
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Spawner, Supervisor};
use commonware_utils::N3f1;
use futures::{StreamExt, channel::mpsc};
use plexus_chain::{App, Executed};
use plexus_state::reshare::{self, ReshareInfo};
use plexus_types::{Address, Payload, PrivateKey, PublicKey, beacon::BeaconVariant};
use rand::CryptoRng;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};
use tracing::{debug, info, warn};

/// A reshare message between a dealer and a player.
enum Message {
    Dealing {
        epoch: u64,
        public: DealerPubMsg<BeaconVariant>,
        private: DealerPrivMsg,
    },
    Ack {
        epoch: u64,
        ack: PlayerAck<PublicKey>,
    },
}

impl Write for Message {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        match self {
            Message::Dealing {
                epoch,
                public,
                private,
            } => {
                0u8.write(buf);
                epoch.write(buf);
                public.write(buf);
                private.write(buf);
            }
            Message::Ack { epoch, ack } => {
                1u8.write(buf);
                epoch.write(buf);
                ack.write(buf);
            }
        }
    }
}

impl EncodeSize for Message {
    fn encode_size(&self) -> usize {
        1 + match self {
            Message::Dealing {
                epoch,
                public,
                private,
            } => epoch.encode_size() + public.encode_size() + private.encode_size(),
            Message::Ack { epoch, ack } => epoch.encode_size() + ack.encode_size(),
        }
    }
}

impl Read for Message {
    type Cfg = ();

    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> Result<Self, commonware_codec::Error> {
        let max = std::num::NonZeroU32::new(plexus_types::beacon::BEACON_PARTICIPANTS_MAX)
            .expect("non-zero");
        match u8::read(buf)? {
            0 => Ok(Message::Dealing {
                epoch: u64::read(buf)?,
                public: DealerPubMsg::read_cfg(buf, &max)?,
                private: DealerPrivMsg::read(buf)?,
            }),
            1 => Ok(Message::Ack {
                epoch: u64::read(buf)?,
                ack: PlayerAck::read(buf)?,
            }),
            other => Err(commonware_codec::Error::InvalidEnum(other)),
        }
    }
}

/// Where new shares go (a node writes them to disk).
type ShareSink = Box<dyn Fn(u64, &Share) + Send>;

/// One epoch's round as this node plays it.
struct Round {
    epoch: u64,
    info: ReshareInfo,
    dealer: Option<Dealer<BeaconVariant, PrivateKey>>,
    /// Dealings not yet acknowledged, to send again.
    unacked: BTreeMap<PublicKey, (DealerPubMsg<BeaconVariant>, DealerPrivMsg)>,
    /// The signed log once made, and the height it was last submitted at.
    log: Option<(Vec<u8>, u64)>,
    player: Option<Player<BeaconVariant, PrivateKey>>,
    /// Acknowledgements given, to repeat to a dealer that sends its dealing again.
    acks: BTreeMap<PublicKey, PlayerAck<PublicKey>>,
}

/// Blocks between resending unacknowledged dealings, and between log submissions.
const RESEND_BLOCKS: u64 = 3;

/// Starts the reshare role of the node with `key` over the `(sender, receiver)` channel.
/// `on_share(epoch, share)` receives each new share (from the epoch it signs in).
pub fn start<E, S, R>(
    context: E,
    app: App,
    key: PrivateKey,
    channel: (S, R),
    on_share: impl Fn(u64, &Share) + Send + 'static,
) where
    E: Clock + Spawner + Supervisor + CryptoRng,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let (watcher, finalized) = mpsc::unbounded();
    app.watch_finalized(watcher);
    let (sender, mut receiver) = channel;
    let (inbox_tx, inbox) = mpsc::unbounded();
    context.child("reshare_in").spawn(move |_| async move {
        while let Ok((peer, bytes)) = receiver.recv().await {
            match <Message as commonware_codec::DecodeExt<()>>::decode(bytes) {
                Ok(message) => {
                    if inbox_tx.unbounded_send((peer, message)).is_err() {
                        return;
                    }
                }
                Err(err) => debug!(?peer, %err, "undecodable reshare message"),
            }
        }
    });
    context
        .child("reshare")
        .spawn(move |mut context| async move {
            let mut actor = Actor {
                app,
                key,
                sender,
                on_share: Box::new(on_share),
                round: None,
            };
            let tip = actor.app.finalized();
            actor.open_round(&mut context, &tip);
            let mut finalized = finalized;
            let mut inbox = inbox;
            loop {
                futures::select! {
                    executed = finalized.next() => {
                        let Some(executed) = executed else { return };
                        actor.on_finalized(&mut context, &executed);
                    }
                    message = inbox.next() => {
                        let Some((peer, message)) = message else { return };
                        actor.on_message(peer, message);
                    }
                }
            }
        });
}

struct Actor<S> {
    app: App,
    key: PrivateKey,
    sender: S,
    on_share: ShareSink,
    round: Option<Round>,
}

impl<S: Sender<PublicKey = PublicKey>> Actor<S> {
    fn send(&mut self, to: PublicKey, message: &Message) {
        self.sender
            .send(Recipients::One(to), message.encode(), true);
    }

    /// Opens the round of the epoch after `tip`, once its next committee is elected.
    fn open_round(&mut self, rng: &mut impl CryptoRng, tip: &Arc<Executed>) {
        let state = &tip.state;
        let epoch = state.epoch_of(state.height + 1);
        let length = state.params.epoch_length_blocks;
        // The round runs from the epoch's first block (genesis in epoch 0) to its last.
        let opened = epoch == 0 || state.height >= epoch * length;
        if !opened || self.round.as_ref().is_some_and(|r| r.epoch == epoch) {
            return;
        }
        let Some(info) = reshare::info(state) else {
            return;
        };
        let me = self.key.public_key();
        let height = state.height;
        let share = self.app.with_beacons(|b| b.share_at(height + 1));
        let is_dealer = state.beacon_key.players().position(&me).is_some();
        // A dealer that restarted mid-round does not deal twice (see the module docs).
        let fresh = epoch == 0 && state.height == 0 || state.height == epoch * length;
        let mut round = Round {
            epoch,
            info: info.clone(),
            dealer: None,
            unacked: BTreeMap::new(),
            log: None,
            player: Player::new(info.clone(), self.key.clone()).ok(),
            acks: BTreeMap::new(),
        };
        let already_logged = state.dealer_logs.contains_key(&Address(me.clone()));
        if is_dealer
            && fresh
            && !already_logged
            && let Some(share) = share
        {
            match Dealer::<BeaconVariant, PrivateKey>::start::<N3f1>(
                &mut *rng,
                info,
                self.key.clone(),
                Some(share),
            ) {
                Ok((dealer, public, private)) => {
                    round.dealer = Some(dealer);
                    for (player, message) in private {
                        round.unacked.insert(player, (public.clone(), message));
                    }
                    info!(
                        epoch,
                        players = round.unacked.len(),
                        "dealing the beacon key"
                    );
                }
                Err(err) => warn!(epoch, ?err, "cannot deal in this epoch's reshare"),
            }
        }
        self.round = Some(round);
        self.deliver_dealings();
    }

    /// Sends every unacknowledged dealing (our own goes straight to our player).
    fn deliver_dealings(&mut self) {
        let me = self.key.public_key();
        let Some(round) = self.round.as_mut() else {
            return;
        };
        let epoch = round.epoch;
        let pending: Vec<_> = round
            .unacked
            .iter()
            .map(|(p, (public, private))| (p.clone(), public.clone(), private.clone()))
            .collect();
        for (player, public, private) in pending {
            if player == me {
                self.on_message(
                    me.clone(),
                    Message::Dealing {
                        epoch,
                        public,
                        private,
                    },
                );
            } else {
                self.send(
                    player,
                    &Message::Dealing {
                        epoch,
                        public,
                        private,
                    },
                );
            }
        }
    }

    fn on_message(&mut self, peer: PublicKey, message: Message) {
        let me = self.key.public_key();
        let Some(round) = self.round.as_mut() else {
            return;
        };
        match message {
            Message::Dealing {
                epoch,
                public,
                private,
            } if epoch == round.epoch => {
                let Some(player) = round.player.as_mut() else {
                    return;
                };
                let ack = match player.dealer_message::<N3f1>(peer.clone(), public, private) {
                    Ok(Some(ack)) => {
                        round.acks.insert(peer.clone(), ack.clone());
                        ack
                    }
                    Ok(None) => match round.acks.get(&peer) {
                        Some(ack) => ack.clone(),
                        None => return,
                    },
                    Err(err) => {
                        warn!(?peer, ?err, "refused a reshare dealing");
                        return;
                    }
                };
                let message = Message::Ack { epoch, ack };
                if peer == me {
                    self.on_message(me, message);
                } else {
                    self.send(peer, &message);
                }
            }
            Message::Ack { epoch, ack } if epoch == round.epoch => {
                let Some(dealer) = round.dealer.as_mut() else {
                    return;
                };
                if round.unacked.contains_key(&peer)
                    && dealer.receive_player_ack(peer.clone(), ack).is_ok()
                {
                    round.unacked.remove(&peer);
                }
            }
            _ => {}
        }
    }

    fn on_finalized(&mut self, rng: &mut impl CryptoRng, executed: &Arc<Executed>) {
        let state = &executed.state;
        let height = state.height;
        let length = state.params.epoch_length_blocks;
        if let Some(round) = &self.round
            && height + 1 == (round.epoch + 1) * length
        {
            self.conclude(executed);
        }
        self.open_round(rng, executed);
        let Some(round) = self.round.as_mut() else {
            return;
        };
        if round.epoch != state.epoch_of(height + 1) {
            return;
        }
        let midpoint = round.epoch * length + length / 2;
        if let Some(dealer) = round.dealer.take() {
            if round.unacked.is_empty() || height >= midpoint {
                let log = dealer.finalize::<N3f1>().encode().to_vec();
                info!(
                    epoch = round.epoch,
                    unacked = round.unacked.len(),
                    "submitting the reshare log"
                );
                round.log = Some((log, 0));
                round.unacked.clear();
            } else {
                round.dealer = Some(dealer);
                if height.is_multiple_of(RESEND_BLOCKS) {
                    self.deliver_dealings();
                }
            }
        }
        self.submit_log(state);
    }

    /// Submits our log until the chain has it.
    fn submit_log(&mut self, state: &plexus_state::State) {
        let me = Address(self.key.public_key());
        let Some(round) = self.round.as_mut() else {
            return;
        };
        let Some((log, submitted_at)) = round.log.as_mut() else {
            return;
        };
        if state.dealer_logs.contains_key(&me)
            || (*submitted_at != 0 && state.height < *submitted_at + RESEND_BLOCKS)
        {
            return;
        }
        *submitted_at = state.height.max(1);
        let payload = Payload::DealerLog {
            epoch: round.epoch,
            log: log.clone(),
        };
        if let Err(err) = self.app.submit_from(&self.key, payload) {
            warn!(%err, "could not submit the reshare log");
        }
    }

    /// At the round's last block: if the key changed hands, every node verifies the next
    /// heights with the new public key, and a new member computes its share.
    fn conclude(&mut self, executed: &Arc<Executed>) {
        let Some(round) = self.round.take() else {
            return;
        };
        let state = &executed.state;
        let previous = self.app.with_beacons(|b| b.sharing_at(state.height));
        if previous == *state.beacon_sharing() {
            info!(
                epoch = round.epoch,
                "the reshare did not conclude; the committee stays"
            );
            return;
        }
        let me = self.key.public_key();
        let mut share = None;
        if state.beacon_key.players().position(&me).is_some()
            && let Some(player) = round.player
        {
            match player.finalize::<N3f1>(
                &mut reshare::rng(),
                reshare::logs(state, &round.info),
                &Sequential,
            ) {
                Ok((output, new)) if output == state.beacon_key => share = Some(new),
                Ok(_) => warn!(
                    epoch = round.epoch,
                    "my reshare output differs from the chain's"
                ),
                Err(err) => warn!(epoch = round.epoch, ?err, "no share of the new beacon key"),
            }
        }
        let next = round.epoch + 1;
        let first = state.height + 1;
        let sharing = state.beacon_sharing().clone();
        self.app
            .with_beacons(|b| b.set_key(first, sharing, share.clone()));
        if let Some(share) = &share {
            (self.on_share)(next, share);
        }
        info!(
            epoch = next,
            holds_share = share.is_some(),
            "beacon key handed over"
        );
    }
}

/// Where a node keeps the shares reshares gave it: `DIR/beacon/EPOCH.share`.
pub fn share_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("beacon")
}

/// Writes a share a reshare gave this node (readable by its owner only).
pub fn store_share(data_dir: &Path, epoch: u64, share: &Share) -> std::io::Result<()> {
    let dir = share_dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{epoch}.share"));
    let text = format!("{}\n", crate::config::share_hex(share));
    #[cfg(unix)]
    {
        use std::{io::Write as _, os::unix::fs::OpenOptionsExt};
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(text.as_bytes())
    }
    #[cfg(not(unix))]
    std::fs::write(path, text)
}

/// The shares stored by [`store_share`], newest epoch first.
pub fn stored_shares(data_dir: &Path) -> Vec<Share> {
    let Ok(entries) = std::fs::read_dir(share_dir(data_dir)) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, Share)> = entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let epoch = path.file_stem()?.to_str()?.parse().ok()?;
            let text = std::fs::read_to_string(&path).ok()?;
            Some((epoch, crate::config::share_from_hex(&text).ok()?))
        })
        .collect();
    found.sort_by_key(|(epoch, _)| std::cmp::Reverse(*epoch));
    found.into_iter().map(|(_, share)| share).collect()
}
