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
//! A restart resumes the round: the node keeps a [`RoundRecord`] (a node in
//! `DIR/beacon/round.reshare`, written before anything it records is sent) with the seed it dealt
//! from and the acknowledgements it collected as a dealer, and the dealings it acknowledged as a
//! player. A restarted dealer deals again from the same seed, so its dealing is the same and the
//! players' acknowledgements still match it; a restarted player replays the dealings it
//! acknowledged (`Player::resume`, which also notices a dealing the chain's logs say it
//! acknowledged but it lost), so at the handover it derives its share from the logs on chain.

use commonware_codec::{Encode, EncodeSize, Read, ReadExt, Write};
use commonware_cryptography::{
    Signer,
    bls12381::{
        dkg::feldman_desmedt::{self, Dealer, DealerPrivMsg, DealerPubMsg, Player, PlayerAck},
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
use rand::SeedableRng as _;
use rand_chacha::ChaCha20Rng;
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

/// Where new shares go, by the epoch they sign from.
pub type ShareSink = Box<dyn Fn(u64, &Share) + Send>;
/// Where the current round's record goes; `false` when it could not be made durable (then
/// nothing it records may leave the node).
pub type RoundSink = Box<dyn Fn(&RoundRecord) -> bool + Send>;

/// Where the reshare keeps what must survive a restart: a node's files under its data dir
/// ([`Durability::in_dir`]), or a simulated validator's durable record.
pub struct Durability {
    /// The round record kept before the restart, if any.
    pub saved: Option<RoundRecord>,
    /// Keeps the current round's record, replacing the one before (returns once it is durable).
    pub save_round: RoundSink,
    /// Keeps a new share, by the epoch it signs from.
    pub save_share: ShareSink,
}

impl Durability {
    /// A node's: the files `DIR/beacon/round.reshare` and `DIR/beacon/EPOCH.share`. A round
    /// record that cannot be read is an error (never a panic, never silently dropped).
    pub fn in_dir(data_dir: &Path) -> Result<Self, RoundFileError> {
        let saved = load_round(data_dir)?;
        let (round_dir, share_dir) = (data_dir.to_path_buf(), data_dir.to_path_buf());
        Ok(Durability {
            saved,
            save_round: Box::new(move |record| match store_round(&round_dir, record) {
                Ok(()) => true,
                Err(err) => {
                    tracing::error!(%err, epoch = record.epoch, "cannot store the reshare round");
                    false
                }
            }),
            save_share: Box::new(move |epoch, share| {
                if let Err(err) = store_share(&share_dir, epoch, share) {
                    tracing::error!(%err, epoch, "cannot store the new beacon share");
                }
            }),
        })
    }
}

/// What this node did in one epoch's round that a restart must not lose.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundRecord {
    /// The round's epoch (a record of another epoch is stale and ignored).
    pub epoch: u64,
    /// As a dealer, the seed of its dealing: dealing again from it gives the same dealing.
    dealer_seed: Option<[u8; 32]>,
    /// As a dealer, the players' acknowledgements collected.
    acks: Vec<(PublicKey, PlayerAck<PublicKey>)>,
    /// As a player, the dealings acknowledged (private: the record is its owner's only).
    dealings: Vec<(PublicKey, DealerPubMsg<BeaconVariant>, DealerPrivMsg)>,
}

/// The tag a round record starts with (and its format's version).
const ROUND_MAGIC: [u8; 4] = *b"PXR1";

impl RoundRecord {
    fn new(epoch: u64) -> Self {
        RoundRecord {
            epoch,
            dealer_seed: None,
            acks: Vec::new(),
            dealings: Vec::new(),
        }
    }

    /// The largest record: every participant's acknowledgement and dealing in a committee of
    /// the largest size.
    pub fn size_max_bytes() -> usize {
        let cap = plexus_state::reshare::COMMITTEE_SIZE_CAP;
        let per_ack = 32 + 64 + 4;
        let per_dealing =
            32 + DealerPubMsg::<BeaconVariant>::max_encode_size(
                std::num::NonZeroU32::new(cap).expect("non-zero"),
            ) + 32
                + 4;
        ROUND_MAGIC.len() + 8 + 33 + 2 * 5 + cap as usize * (per_ack + per_dealing)
    }

    /// Decodes a record, refusing anything larger than [`RoundRecord::size_max_bytes`] or not
    /// exactly one record.
    pub fn decode(bytes: &[u8]) -> Result<Self, commonware_codec::Error> {
        if bytes.len() > Self::size_max_bytes() {
            return Err(commonware_codec::Error::Invalid(
                "RoundRecord",
                "larger than the largest round",
            ));
        }
        <Self as commonware_codec::DecodeExt<()>>::decode(commonware_codec::Copying(bytes))
    }
}

impl Write for RoundRecord {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&ROUND_MAGIC);
        self.epoch.write(buf);
        self.dealer_seed.write(buf);
        (self.acks.len() as u32).write(buf);
        for (player, ack) in &self.acks {
            player.write(buf);
            ack.write(buf);
        }
        (self.dealings.len() as u32).write(buf);
        for (dealer, public, private) in &self.dealings {
            dealer.write(buf);
            public.write(buf);
            private.write(buf);
        }
    }
}

impl EncodeSize for RoundRecord {
    fn encode_size(&self) -> usize {
        ROUND_MAGIC.len()
            + self.epoch.encode_size()
            + self.dealer_seed.encode_size()
            + 4
            + self
                .acks
                .iter()
                .map(|(p, a)| p.encode_size() + a.encode_size())
                .sum::<usize>()
            + 4
            + self
                .dealings
                .iter()
                .map(|(d, p, q)| d.encode_size() + p.encode_size() + q.encode_size())
                .sum::<usize>()
    }
}

impl Read for RoundRecord {
    type Cfg = ();

    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> Result<Self, commonware_codec::Error> {
        let cap = plexus_state::reshare::COMMITTEE_SIZE_CAP;
        let max = std::num::NonZeroU32::new(cap).expect("non-zero");
        if <[u8; 4]>::read(buf)? != ROUND_MAGIC {
            return Err(commonware_codec::Error::Invalid(
                "RoundRecord",
                "not a reshare round record",
            ));
        }
        let epoch = u64::read(buf)?;
        let dealer_seed = Option::<[u8; 32]>::read(buf)?;
        let count = |buf: &mut _| -> Result<u32, commonware_codec::Error> {
            let n = u32::read(buf)?;
            if n > cap {
                return Err(commonware_codec::Error::InvalidLength(n as usize));
            }
            Ok(n)
        };
        let mut acks = Vec::new();
        for _ in 0..count(buf)? {
            acks.push((PublicKey::read(buf)?, PlayerAck::read(buf)?));
        }
        let mut dealings = Vec::new();
        for _ in 0..count(buf)? {
            dealings.push((
                PublicKey::read(buf)?,
                DealerPubMsg::read_cfg(buf, &max)?,
                DealerPrivMsg::read(buf)?,
            ));
        }
        Ok(RoundRecord {
            epoch,
            dealer_seed,
            acks,
            dealings,
        })
    }
}

/// One epoch's round as this node plays it.
struct Round {
    epoch: u64,
    /// What must survive a restart, saved before what it records is sent.
    record: RoundRecord,
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
    durability: Durability,
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
                saved: durability.saved,
                save_round: durability.save_round,
                save_share: durability.save_share,
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

/// A player of a beacon reshare round.
type BeaconPlayer = Player<BeaconVariant, PrivateKey>;

/// This node as a player of the round `info` describes: it replays the dealings it
/// acknowledged before a restart (none when fresh) against the dealer logs already on chain,
/// and returns the player with the acknowledgements it gave. No player outside the next
/// committee; a fresh one if the replay fails.
fn resume_player(
    key: &PrivateKey,
    state: &plexus_state::State,
    info: &ReshareInfo,
    record: &RoundRecord,
) -> (
    Option<BeaconPlayer>,
    BTreeMap<PublicKey, PlayerAck<PublicKey>>,
) {
    let logs: BTreeMap<_, _> = state
        .dealer_logs()
        .values()
        .filter_map(|bytes| reshare::decode_log(bytes)?.check(info))
        .collect();
    match Player::resume::<N3f1>(
        info.clone(),
        key.clone(),
        &logs,
        record.dealings.iter().cloned(),
    ) {
        Ok((player, acks)) => (Some(player), acks),
        Err(feldman_desmedt::Error::PlayerNotInRound) => (None, BTreeMap::new()),
        Err(err) => {
            warn!(
                epoch = record.epoch,
                ?err,
                "cannot resume the dealings acknowledged before the restart"
            );
            (Player::new(info.clone(), key.clone()).ok(), BTreeMap::new())
        }
    }
}

/// Deals `share` afresh from `seed` into `round`: a dealing per player, pending until acked,
/// less those the round's record says were acknowledged before a restart. A dealer that
/// cannot start leaves the round without a dealing.
fn start_dealer(
    key: &PrivateKey,
    round: &mut Round,
    info: ReshareInfo,
    seed: [u8; 32],
    share: Share,
    resumed: bool,
) {
    let epoch = round.epoch;
    match Dealer::<BeaconVariant, PrivateKey>::start::<N3f1>(
        ChaCha20Rng::from_seed(seed),
        info,
        key.clone(),
        Some(share),
    ) {
        Ok((mut dealer, public, private)) => {
            for (player, message) in private {
                round.unacked.insert(player, (public.clone(), message));
            }
            for (player, ack) in &round.record.acks {
                if dealer
                    .receive_player_ack(player.clone(), ack.clone())
                    .is_ok()
                {
                    round.unacked.remove(player);
                }
            }
            round.dealer = Some(dealer);
            round.record.dealer_seed = Some(seed);
            info!(
                epoch,
                players = round.unacked.len(),
                resumed,
                "dealing the beacon key"
            );
        }
        Err(err) => warn!(epoch, ?err, "cannot deal in this epoch's reshare"),
    }
}

struct Actor<S> {
    app: App,
    key: PrivateKey,
    sender: S,
    /// The record kept before a restart, until the round it belongs to opens.
    saved: Option<RoundRecord>,
    save_round: RoundSink,
    save_share: ShareSink,
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
        // The round runs from the epoch's first block (genesis in epoch 0) to its last.
        let opened = epoch == 0 || state.height >= state.epochs().first_height(epoch);
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
        let record = self
            .saved
            .take()
            .filter(|record| record.epoch == epoch)
            .unwrap_or_else(|| RoundRecord::new(epoch));
        let resumed = !record.acks.is_empty() || !record.dealings.is_empty();
        let (player, acks) = resume_player(&self.key, state, &info, &record);
        // A dealer deals when the round opens, or again from the same seed after a restart
        // (never from a new one: players acknowledged the first dealing).
        let fresh =
            epoch == 0 && state.height == 0 || state.height == state.epochs().first_height(epoch);
        let seed = record.dealer_seed.or_else(|| {
            fresh.then(|| {
                let mut seed = [0u8; 32];
                rng.fill_bytes(&mut seed);
                seed
            })
        });
        let mut round = Round {
            epoch,
            record,
            info: info.clone(),
            dealer: None,
            unacked: BTreeMap::new(),
            log: None,
            player,
            acks,
        };
        let already_logged = state.dealer_logs().contains_key(&Address(me.clone()));
        if is_dealer
            && !already_logged
            && let Some(seed) = seed
            && let Some(share) = share
        {
            start_dealer(&self.key, &mut round, info, seed, share, resumed);
        }
        if resumed {
            info!(
                epoch,
                acknowledged = round.acks.len(),
                "resumed the reshare round after a restart"
            );
        }
        // Durable before the dealing leaves: a restart deals the same one again. A node that
        // cannot keep its seed does not deal this epoch (a dealing it could not repeat after a
        // restart would leave its players' acknowledgements unmatched).
        if round.dealer.is_some() && !(self.save_round)(&round.record) {
            warn!(
                epoch,
                "not dealing this epoch: the round record cannot be stored"
            );
            round.dealer = None;
            round.unacked.clear();
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
                let dealing = (peer.clone(), public.clone(), private.clone());
                let ack = match player.dealer_message::<N3f1>(peer.clone(), public, private) {
                    Ok(Some(ack)) => {
                        // Durable before the acknowledgement leaves: a restarted player must
                        // still hold every dealing it acknowledged. If it cannot be kept, the
                        // dealing is not acknowledged (its dealer's log then reveals the share).
                        round.record.dealings.push(dealing);
                        if !(self.save_round)(&round.record) {
                            round.record.dealings.pop();
                            return;
                        }
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
                    && dealer.receive_player_ack(peer.clone(), ack.clone()).is_ok()
                {
                    round.unacked.remove(&peer);
                    round.record.acks.push((peer, ack));
                    // An ack kept only in memory is lost on a restart at worst (the dealer's
                    // log then reveals that player's share): nothing leaves the node here.
                    let _ = (self.save_round)(&round.record);
                }
            }
            _ => {}
        }
    }

    fn on_finalized(&mut self, rng: &mut impl CryptoRng, executed: &Arc<Executed>) {
        let state = &executed.state;
        let height = state.height;
        let epochs = state.epochs();
        if let Some(round) = &self.round
            && height == epochs.last_height(round.epoch)
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
        let midpoint = epochs.first_height(round.epoch) + epochs.length_of(round.epoch) / 2;
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
        if state.dealer_logs().contains_key(&me)
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
            (self.save_share)(next, share);
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
    let text = format!("{}\n", crate::config::share_hex(share));
    write_private(
        &share_dir(data_dir),
        &format!("{epoch}.share"),
        text.as_bytes(),
    )
}

/// The file that keeps this node's progress in the current round.
pub fn round_path(data_dir: &Path) -> PathBuf {
    share_dir(data_dir).join(ROUND_FILE)
}

const ROUND_FILE: &str = "round.reshare";

/// Writes this node's round record over the last one.
pub fn store_round(data_dir: &Path, record: &RoundRecord) -> std::io::Result<()> {
    write_private(&share_dir(data_dir), ROUND_FILE, &record.encode())
}

/// A round record that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum RoundFileError {
    #[error("cannot read the reshare round record {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is {size_bytes} bytes, more than a reshare round record's {max_bytes}: delete it to run without this epoch's reshare progress"
    )]
    TooLarge {
        path: PathBuf,
        size_bytes: u64,
        max_bytes: usize,
    },
    #[error(
        "{path} is not a reshare round record ({source}): delete it to run without this epoch's reshare progress"
    )]
    Corrupt {
        path: PathBuf,
        source: commonware_codec::Error,
    },
}

/// Reads the round record [`store_round`] kept, if any.
pub fn load_round(data_dir: &Path) -> Result<Option<RoundRecord>, RoundFileError> {
    let path = round_path(data_dir);
    let io = |source| RoundFileError::Io {
        path: path.clone(),
        source,
    };
    let size_bytes = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(io(err)),
    };
    let max_bytes = RoundRecord::size_max_bytes();
    if size_bytes > max_bytes as u64 {
        return Err(RoundFileError::TooLarge {
            path,
            size_bytes,
            max_bytes,
        });
    }
    let bytes = std::fs::read(&path).map_err(io)?;
    RoundRecord::decode(&bytes)
        .map(Some)
        .map_err(|source| RoundFileError::Corrupt { path, source })
}

/// Writes `name` in `dir` so that a crash leaves the old file or the new one, never a torn
/// one: a temporary file beside it (readable by its owner only), synced, renamed over it, and
/// the directory synced so the rename itself survives a crash.
fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name))?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::bls12381::{
        dkg::feldman_desmedt::Reveal, primitives::sharing::Mode,
    };
    use commonware_utils::ordered::Set;

    fn keys() -> Vec<PrivateKey> {
        (0..4).map(PrivateKey::from_seed).collect()
    }

    /// A DKG round among four validators (the record's contents do not depend on the mode).
    fn info() -> ReshareInfo {
        let set = Set::from_iter_dedup(keys().iter().map(|k| k.public_key()));
        ReshareInfo::new::<N3f1>(
            b"test",
            1,
            None,
            Mode::NonZeroCounter,
            Reveal::V1,
            set.clone(),
            set,
        )
        .expect("a valid round")
    }

    /// A fresh directory for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("plexus-reshare-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Dealer 0's round record after dealing from `seed` to everyone, with every player's
    /// acknowledgement, and player 0's after acknowledging dealer 0's dealing.
    fn record(seed: [u8; 32]) -> RoundRecord {
        let keys = keys();
        let (mut dealer, public, private) = Dealer::<BeaconVariant, PrivateKey>::start::<N3f1>(
            ChaCha20Rng::from_seed(seed),
            info(),
            keys[0].clone(),
            None,
        )
        .expect("deals");
        let mut record = RoundRecord::new(1);
        record.dealer_seed = Some(seed);
        for (to, message) in private {
            let key = keys
                .iter()
                .find(|k| k.public_key() == to)
                .expect("a player's key");
            let mut player = Player::new(info(), key.clone()).expect("a player");
            let ack = player
                .dealer_message::<N3f1>(keys[0].public_key(), public.clone(), message.clone())
                .expect("a valid dealing")
                .expect("a new dealing");
            dealer
                .receive_player_ack(to.clone(), ack.clone())
                .expect("a valid ack");
            if record.dealings.is_empty() {
                record
                    .dealings
                    .push((keys[0].public_key(), public.clone(), message));
            }
            record.acks.push((to, ack));
        }
        record
    }

    #[test]
    fn a_round_record_survives_its_file() {
        let dir = scratch("roundtrip");
        assert!(load_round(&dir).expect("no file is no record").is_none());
        let first = record([7; 32]);
        store_round(&dir, &first).expect("writes");
        let second = record([8; 32]);
        store_round(&dir, &second).expect("writes over");
        assert_eq!(load_round(&dir).expect("reads"), Some(second.clone()));
        assert!(second.encode_size() <= RoundRecord::size_max_bytes());
        // Only the record and no temporary file is left.
        let names: Vec<_> = std::fs::read_dir(share_dir(&dir))
            .expect("a dir")
            .map(|e| e.expect("an entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(ROUND_FILE)]);
        // Stored shares ignore the record.
        assert!(stored_shares(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_or_oversized_round_file_is_refused_with_its_path() {
        let dir = scratch("corrupt");
        let good = record([9; 32]).encode().to_vec();
        let path = round_path(&dir);
        std::fs::create_dir_all(share_dir(&dir)).expect("a dir");
        for bad in [
            b"garbage".to_vec(),
            good[..good.len() - 1].to_vec(),
            [good.as_slice(), &[0]].concat(),
        ] {
            std::fs::write(&path, &bad).expect("writes");
            let err = load_round(&dir).expect_err("refused");
            assert!(matches!(err, RoundFileError::Corrupt { .. }), "{err}");
            let text = err.to_string();
            assert!(
                text.contains(&path.display().to_string()) && text.contains("delete it"),
                "{text}"
            );
        }
        std::fs::write(&path, vec![0u8; RoundRecord::size_max_bytes() + 1]).expect("writes");
        let err = load_round(&dir).expect_err("refused");
        assert!(matches!(err, RoundFileError::TooLarge { .. }), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The property a restarted dealer relies on: dealing again from the kept seed gives the
    /// same dealing, so the acknowledgements players gave the first one are accepted.
    #[test]
    fn dealing_again_from_the_kept_seed_accepts_the_first_dealings_acks() {
        let kept = record([3; 32]);
        let (mut dealer, public, _) = Dealer::<BeaconVariant, PrivateKey>::start::<N3f1>(
            ChaCha20Rng::from_seed(kept.dealer_seed.expect("a seed")),
            info(),
            keys()[0].clone(),
            None,
        )
        .expect("deals");
        assert!(kept.dealings[0].1 == public, "the same public commitment");
        for (player, ack) in &kept.acks {
            dealer
                .receive_player_ack(player.clone(), ack.clone())
                .expect("the first dealing's ack matches");
        }
        // A different seed is a different dealing: the kept acks do not match it.
        let (mut other, _, _) = Dealer::<BeaconVariant, PrivateKey>::start::<N3f1>(
            ChaCha20Rng::from_seed([4; 32]),
            info(),
            keys()[0].clone(),
            None,
        )
        .expect("deals");
        let (player, ack) = kept.acks[1].clone();
        assert!(other.receive_player_ack(player, ack).is_err());
    }

    /// The property a restarted player relies on: replaying the kept dealings restores its
    /// acknowledgements.
    #[test]
    fn a_player_resumes_from_the_kept_dealings() {
        let kept = record([5; 32]);
        // The record holds the first player's dealing.
        let first = keys()
            .into_iter()
            .find(|k| k.public_key() == kept.acks[0].0)
            .expect("a player's key");
        let (_, acks) = Player::<BeaconVariant, PrivateKey>::resume::<N3f1>(
            info(),
            first,
            &BTreeMap::new(),
            kept.dealings.iter().cloned(),
        )
        .expect("resumes");
        assert_eq!(acks.get(&keys()[0].public_key()), Some(&kept.acks[0].1));
    }
}
