//! The genesis beacon key without a trusted dealer: the genesis committee runs Commonware's DKG
//! (`feldman_desmedt` in its DKG mode, no previous key: the same dealer/player machinery every
//! epoch's reshare runs) through files its operators exchange out of band in one shared
//! directory. Four steps, each run by every validator once the previous step's files of all
//! validators are in the directory:
//!
//! 1. `deal`: a public commitment and, for each player, its private share sealed to that player
//!    (X25519 between the dealer's and the player's validator keys, ChaCha20-Poly1305), signed
//!    with the dealer's key: `ADDRESS.dealing`.
//! 2. `ack`: each player opens the shares sealed to it, checks each against its dealer's
//!    commitment and signs an acknowledgement per dealer: `ADDRESS.acks`.
//! 3. `log`: each dealer deals again (its dealing is derived from its key and the draft, so it is
//!    the same one), takes its players' acknowledgements and signs its log: `ADDRESS.log`.
//! 4. `finish`: each player combines the logs into the group's public polynomial and its own
//!    share, checks the share against it, and writes the genesis file (the draft with the group
//!    key) and its share file. Everyone with the same logs writes the same genesis.
//!
//! Nobody ever holds the group secret: each dealer knows only its own random contribution, and
//! a share is opened only by its player. A dealer that never dealt, or whose players did not
//! acknowledge it, is left out as the reshare leaves one out (a quorum of good logs suffices).

use anyhow::{Context, Result, bail, ensure};
use commonware_codec::{Decode, DecodeExt, Encode, FixedSize, Read, ReadExt, Write};
use commonware_cryptography::{
    ChaCha20Poly1305, Cipher, Hasher, Sha256, Signer, Verifier,
    bls12381::{
        dkg::feldman_desmedt::{
            Dealer, DealerPrivMsg, DealerPubMsg, Info, Player, PlayerAck, Reveal,
        },
        primitives::sharing::Mode,
    },
};
use commonware_math::algebra::Random as _;
use commonware_parallel::Sequential;
use commonware_utils::{N3f1, ordered::Set};
use plexus_node::config::{GenesisFile, beacon_key_hex, share_hex};
use plexus_state::reshare::{DealerLog, ReshareInfo, ReshareLogs};
use plexus_storage::seal::{x25519_public, x25519_secret};
use plexus_types::{Address, PrivateKey, PublicKey, Signature, beacon::BeaconVariant};
use rand::SeedableRng as _;
use rand_chacha::ChaCha20Rng;
use std::{
    num::NonZeroU32,
    path::{Path, PathBuf},
};

use crate::keys;

/// Binds every ceremony transcript (and the draft's digest after it) to Plexus's genesis.
const NAMESPACE: &[u8] = b"_PLEXUS_GENESIS_DKG";

/// What a draft genesis holds as its beacon key until a ceremony finishes.
pub const PENDING_KEY: &str = "pending: run `plexus genesis ceremony`";

/// The largest ceremony file: a dealing to the largest committee (commitment, sealed shares,
/// signature) is far below it.
const FILE_SIZE_MAX_BYTES: u64 = 1 << 20;

#[derive(clap::Subcommand)]
pub enum CeremonyCommand {
    /// Step 1: deal a random contribution to the committee (writes DIR/ADDRESS.dealing).
    Deal(StepArgs),
    /// Step 2, once every dealing is in DIR: check the shares dealt to this validator and
    /// acknowledge them (writes DIR/ADDRESS.acks).
    Ack(StepArgs),
    /// Step 3, once every acknowledgement is in DIR: sign this dealer's log (writes
    /// DIR/ADDRESS.log).
    Log(StepArgs),
    /// Step 4, once every log is in DIR: derive this validator's share and the group key, and
    /// write the genesis file and the share file.
    Finish(FinishArgs),
}

#[derive(clap::Args)]
pub struct StepArgs {
    /// The draft genesis (`plexus genesis --ceremony-draft`): the same file for every validator.
    #[arg(long)]
    genesis: PathBuf,
    /// This validator's key name (a genesis validator's).
    #[arg(long)]
    key: String,
    /// The directory the ceremony's files are exchanged through (every file in it is public).
    #[arg(long)]
    dir: PathBuf,
}

#[derive(clap::Args)]
pub struct FinishArgs {
    #[command(flatten)]
    step: StepArgs,
    /// Where to write the genesis file with the group's beacon key.
    #[arg(long, default_value = "genesis.json")]
    out: PathBuf,
    /// Where to write this validator's beacon share (for `plexus node init --beacon-share`;
    /// readable by its owner only).
    #[arg(long)]
    share: PathBuf,
}

pub fn run(command: CeremonyCommand, json_mode: bool) -> Result<()> {
    let (step, written) = match command {
        CeremonyCommand::Deal(args) => ("deal", Ceremony::open(&args)?.deal()?),
        CeremonyCommand::Ack(args) => ("ack", Ceremony::open(&args)?.ack()?),
        CeremonyCommand::Log(args) => ("log", Ceremony::open(&args)?.log()?),
        CeremonyCommand::Finish(args) => {
            let ceremony = Ceremony::open(&args.step)?;
            let key_digest = ceremony.finish(&args.out, &args.share)?;
            if json_mode {
                println!(
                    "{}",
                    serde_json::json!({
                        "genesis": args.out.display().to_string(),
                        "share": args.share.display().to_string(),
                        "beacon_key_digest": key_digest,
                    })
                );
            } else {
                println!("wrote {} and {}", args.out.display(), args.share.display());
                println!(
                    "beacon key digest {key_digest}: every validator must see the same one before starting"
                );
            }
            return Ok(());
        }
    };
    if json_mode {
        println!(
            "{}",
            serde_json::json!({"step": step, "path": written.display().to_string()})
        );
    } else {
        println!("wrote {}", written.display());
    }
    Ok(())
}

/// One validator's view of the ceremony.
struct Ceremony {
    draft: GenesisFile,
    /// The round: dealers and players are the genesis committee.
    info: ReshareInfo,
    /// The genesis committee, in key order.
    members: Vec<PublicKey>,
    /// The namespace with the draft's digest: what every signature and sealed share is bound to.
    namespace: Vec<u8>,
    key: PrivateKey,
    me: PublicKey,
    dir: PathBuf,
}

impl Ceremony {
    fn open(args: &StepArgs) -> Result<Self> {
        let draft = GenesisFile::load(&args.genesis)?;
        let committee = committee_of(&draft)?;
        let mut unkeyed = draft.clone();
        unkeyed.beacon_key = PENDING_KEY.into();
        let text = serde_json::to_vec(&unkeyed).expect("a genesis file serializes");
        let namespace = [NAMESPACE, Sha256::hash(&[&text]).as_ref()].concat();
        let members = Set::from_iter_dedup(committee.into_iter().map(|a| a.0));
        let info = Info::new::<N3f1>(
            &namespace,
            draft.chain_id,
            None,
            Mode::NonZeroCounter,
            Reveal::V1,
            members.clone(),
            members.clone(),
        )
        .map_err(|e| anyhow::anyhow!("the draft's committee cannot run a ceremony: {e:?}"))?;
        let key = keys::load(&args.key)?;
        let me = key.public_key();
        ensure!(
            members.position(&me).is_some(),
            "key {:?} ({}) is not in the draft's committee",
            args.key,
            Address(me.clone())
        );
        std::fs::create_dir_all(&args.dir)
            .with_context(|| format!("cannot create {}", args.dir.display()))?;
        Ok(Ceremony {
            draft,
            info,
            members: members.iter().cloned().collect(),
            namespace,
            key,
            me,
            dir: args.dir.clone(),
        })
    }

    fn members(&self) -> Vec<PublicKey> {
        self.members.clone()
    }

    fn path(&self, who: &PublicKey, kind: &str) -> PathBuf {
        self.dir.join(format!("{}.{kind}", Address(who.clone())))
    }

    /// This dealer's dealing: derived from its key and the draft, so `log` deals the same one
    /// again without keeping a secret on disk.
    fn dealer(&self) -> Result<Dealing> {
        let seed = Sha256::hash(&[
            b"plexus genesis dealing",
            &self.key.encode(),
            &self.namespace,
        ]);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(seed.as_ref());
        Dealer::start::<N3f1>(
            ChaCha20Rng::from_seed(bytes),
            self.info.clone(),
            self.key.clone(),
            None,
        )
        .map_err(|e| anyhow::anyhow!("cannot deal: {e:?}"))
    }

    fn deal(&self) -> Result<PathBuf> {
        let (_, public, private) = self.dealer()?;
        let sealed = private
            .into_iter()
            .map(|(player, message)| {
                let sealed = seal(&self.key, &player, &self.namespace, &message)?;
                Ok((player, sealed))
            })
            .collect::<Result<Vec<_>>>()?;
        let body = DealingBody { public, sealed };
        let signature = self.key.sign(&self.namespace, &body.encode());
        let path = self.path(&self.me, "dealing");
        write_hex(&path, &[body.encode(), signature.encode()].concat())?;
        Ok(path)
    }

    /// Every dealing in the directory whose share sealed to this validator opens and checks
    /// against its dealer's commitment. A dealing that does not is skipped with its reason (one
    /// dealer's bad file must not stop the others' ceremony): it is not acknowledged, so its
    /// dealer's log must reveal this validator's share in public or be left out.
    fn dealings(&self) -> Result<Vec<(PublicKey, DealerPubMsg<BeaconVariant>, DealerPrivMsg)>> {
        let mut found = Vec::new();
        for dealer in self.members() {
            let path = self.path(&dealer, "dealing");
            if !path.exists() {
                eprintln!(
                    "no dealing from {} yet (no {})",
                    Address(dealer.clone()),
                    path.display()
                );
                continue;
            }
            match self.dealing(&dealer, &path) {
                Ok((public, private)) => found.push((dealer, public, private)),
                Err(err) => eprintln!("skipping a dealing: {err:#}"),
            }
        }
        Ok(found)
    }

    /// The dealing in `path`, checked: signed by `dealer`, with a share sealed to this
    /// validator that opens.
    fn dealing(
        &self,
        dealer: &PublicKey,
        path: &Path,
    ) -> Result<(DealerPubMsg<BeaconVariant>, DealerPrivMsg)> {
        let cap = NonZeroU32::new(self.members().len() as u32).expect("a committee");
        let bytes = read_hex(path)?;
        let split = bytes
            .len()
            .checked_sub(Signature::SIZE)
            .with_context(|| format!("{} is not a dealing", path.display()))?;
        let body = DealingBody::decode_cfg(commonware_codec::Copying(&bytes[..split]), &cap)
            .with_context(|| format!("{} is not a dealing", path.display()))?;
        let signature = Signature::decode(commonware_codec::Copying(&bytes[split..]))
            .with_context(|| format!("{} is not a dealing", path.display()))?;
        ensure!(
            dealer.verify(&self.namespace, &body.encode(), &signature),
            "{} is not signed by its dealer {}",
            path.display(),
            Address(dealer.clone())
        );
        let sealed = body
            .sealed
            .iter()
            .find(|(player, _)| *player == self.me)
            .with_context(|| format!("{} deals nothing to this validator", path.display()))?;
        let private = open(&self.key, dealer, &self.namespace, &sealed.1)
            .with_context(|| format!("the share in {} does not open", path.display()))?;
        Ok((body.public, private))
    }

    fn ack(&self) -> Result<PathBuf> {
        let mut player = Player::new(self.info.clone(), self.key.clone())
            .map_err(|e| anyhow::anyhow!("not a player: {e:?}"))?;
        let mut acks = Vec::new();
        for (dealer, public, private) in self.dealings()? {
            match player.dealer_message::<N3f1>(dealer.clone(), public, private) {
                Ok(Some(ack)) => acks.push((dealer, ack)),
                Ok(None) => {}
                // A bad dealing is not acknowledged: its dealer's log must then reveal this
                // share in public, or carry too many reveals and be left out.
                Err(e) => eprintln!("refusing {}'s dealing: {e:?}", Address(dealer)),
            }
        }
        let path = self.path(&self.me, "acks");
        write_hex(&path, &Acks(acks).encode())?;
        Ok(path)
    }

    fn log(&self) -> Result<PathBuf> {
        let (mut dealer, _, _) = self.dealer()?;
        let mut acknowledged = 0;
        for player in self.members() {
            let path = self.path(&player, "acks");
            if !path.exists() {
                eprintln!("no acknowledgements from {} yet", Address(player.clone()));
                continue;
            }
            // A file that does not read counts as no acknowledgement (with its reason).
            let acks = read_hex(&path).and_then(|bytes| {
                Acks::decode_cfg(
                    commonware_codec::Copying(bytes.as_slice()),
                    &(self.members().len() as u32),
                )
                .with_context(|| format!("{} is not an acknowledgement file", path.display()))
            });
            let acks = match acks {
                Ok(acks) => acks,
                Err(err) => {
                    eprintln!("skipping: {err:#}");
                    continue;
                }
            };
            if let Some((_, ack)) = acks.0.into_iter().find(|(d, _)| *d == self.me)
                && dealer.receive_player_ack(player.clone(), ack).is_ok()
            {
                acknowledged += 1;
            }
        }
        // The most reveals a log may carry (the round's `max_reveals`): the tolerated faults.
        let max = <N3f1 as commonware_utils::Faults>::max_faults(self.members.len()) as usize;
        let missing = self.members().len() - acknowledged;
        ensure!(
            missing <= max,
            "only {acknowledged} of {} players acknowledged this dealing (at most {max} may be missing): wait for their acks files",
            self.members().len()
        );
        let log = dealer.finalize::<N3f1>();
        let path = self.path(&self.me, "log");
        write_hex(&path, &log.encode())?;
        Ok(path)
    }

    fn finish(&self, out: &Path, share_path: &Path) -> Result<String> {
        let cap = NonZeroU32::new(self.members().len() as u32).expect("a committee");
        let mut logs = ReshareLogs::new(self.info.clone());
        for dealer in self.members() {
            let path = self.path(&dealer, "log");
            if !path.exists() {
                eprintln!("no log from {} (left out)", Address(dealer.clone()));
                continue;
            }
            // A log that does not check is left out, as a missing one is: every validator
            // judges the same file the same way, so all still finish with the same logs.
            let checked = read_hex(&path).and_then(|bytes| {
                let log = DealerLog::decode_cfg(commonware_codec::Copying(bytes.as_slice()), &cap)
                    .with_context(|| format!("{} is not a dealer log", path.display()))?;
                let (signer, log) = log.check(&self.info).with_context(|| {
                    format!("{} is not a valid log of this ceremony", path.display())
                })?;
                ensure!(
                    signer == dealer,
                    "{} is signed by another dealer",
                    path.display()
                );
                Ok(log)
            });
            match checked {
                Ok(log) => {
                    logs.record(dealer, log);
                }
                Err(err) => eprintln!("left out: {err:#}"),
            }
        }
        let mut player = Player::new(self.info.clone(), self.key.clone())
            .map_err(|e| anyhow::anyhow!("not a player: {e:?}"))?;
        for (dealer, public, private) in self.dealings()? {
            let _ = player.dealer_message::<N3f1>(dealer, public, private);
        }
        let (output, share) = player
            .finalize::<N3f1>(&mut plexus_state::reshare::rng(), logs, &Sequential)
            .map_err(|e| anyhow::anyhow!("the ceremony did not produce a key: {e:?}"))?;
        let position = output
            .players()
            .position(&self.me)
            .context("this validator is not in the ceremony's output")?
            as u32;
        ensure!(
            plexus_state::beacon::share_matches(output.public(), &share, position),
            "the derived share does not match the group key"
        );
        let mut genesis = self.draft.clone();
        genesis.beacon_key = beacon_key_hex(&output);
        genesis
            .to_genesis()?
            .build()
            .map_err(|e| anyhow::anyhow!("invalid genesis: {e}"))?;
        keys::write_secret(share_path, &share_hex(&share))?;
        genesis.save(out)?;
        Ok(plexus_types::hash::hash(&[&output.encode()]).to_string())
    }
}

/// The committee a genesis file elects (whatever its beacon key: a draft has none yet).
pub fn committee_of(genesis: &GenesisFile) -> Result<Vec<Address>> {
    // A placeholder key stands in until the committee is known and the real key is made for it.
    let placeholder =
        plexus_state::beacon::DevBeacon::deal(0, [PrivateKey::from_seed(0).public_key()]);
    let mut keyed = genesis.clone();
    keyed.beacon_key = beacon_key_hex(&placeholder.output);
    keyed
        .to_genesis()?
        .committee()
        .map_err(|e| anyhow::anyhow!("invalid genesis: {e}"))
}

/// A dealer, its public commitment and each player's private share.
type Dealing = (
    Dealer<BeaconVariant, PrivateKey>,
    DealerPubMsg<BeaconVariant>,
    Vec<(PublicKey, DealerPrivMsg)>,
);

/// A dealing as its file holds it (signed with the dealer's key beside it).
struct DealingBody {
    public: DealerPubMsg<BeaconVariant>,
    sealed: Vec<(PublicKey, Sealed)>,
}

/// A private share sealed to one player: ciphertext and tag.
type Sealed = [u8; DealerPrivMsg::SIZE + 16];

impl Write for DealingBody {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        self.public.write(buf);
        (self.sealed.len() as u32).write(buf);
        for (player, sealed) in &self.sealed {
            player.write(buf);
            sealed.write(buf);
        }
    }
}

impl commonware_codec::EncodeSize for DealingBody {
    fn encode_size(&self) -> usize {
        self.public.encode_size() + 4 + self.sealed.len() * (PublicKey::SIZE + Sealed::SIZE)
    }
}

impl Read for DealingBody {
    type Cfg = NonZeroU32;

    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        cap: &NonZeroU32,
    ) -> Result<Self, commonware_codec::Error> {
        let public = DealerPubMsg::read_cfg(buf, cap)?;
        let n = u32::read(buf)?;
        if n > cap.get() {
            return Err(commonware_codec::Error::InvalidLength(n as usize));
        }
        let sealed = (0..n)
            .map(|_| Ok((PublicKey::read(buf)?, Sealed::read(buf)?)))
            .collect::<Result<_, commonware_codec::Error>>()?;
        Ok(DealingBody { public, sealed })
    }
}

/// A player's acknowledgements, by dealer.
struct Acks(Vec<(PublicKey, PlayerAck<PublicKey>)>);

impl Write for Acks {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        (self.0.len() as u32).write(buf);
        for (dealer, ack) in &self.0 {
            dealer.write(buf);
            ack.write(buf);
        }
    }
}

impl commonware_codec::EncodeSize for Acks {
    fn encode_size(&self) -> usize {
        4 + self.0.len() * (PublicKey::SIZE + PlayerAck::<PublicKey>::SIZE)
    }
}

impl Read for Acks {
    type Cfg = u32;

    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        cap: &u32,
    ) -> Result<Self, commonware_codec::Error> {
        let n = u32::read(buf)?;
        if n > *cap {
            return Err(commonware_codec::Error::InvalidLength(n as usize));
        }
        (0..n)
            .map(|_| Ok((PublicKey::read(buf)?, PlayerAck::read(buf)?)))
            .collect::<Result<_, _>>()
            .map(Acks)
    }
}

/// The cipher between `me` and `other` for a share dealt by `dealer` to `player`: a key derived
/// from their X25519 agreement, bound to the draft and to both keys (each key seals one message).
fn cipher(
    me: &PrivateKey,
    other: &PublicKey,
    dealer: &PublicKey,
    player: &PublicKey,
    namespace: &[u8],
) -> Option<ChaCha20Poly1305> {
    let shared = x25519_secret(me).diffie_hellman(&x25519_public(other)?);
    let key = Sha256::hash(&[
        b"plexus genesis share",
        namespace,
        dealer.as_ref(),
        player.as_ref(),
        shared.as_bytes(),
    ]);
    let mut seed = [0u8; 32];
    seed.copy_from_slice(key.as_ref());
    Some(ChaCha20Poly1305::random(ChaCha20Rng::from_seed(seed)))
}

fn seal(
    dealer: &PrivateKey,
    player: &PublicKey,
    namespace: &[u8],
    message: &DealerPrivMsg,
) -> Result<Sealed> {
    let me = dealer.public_key();
    let cipher = cipher(dealer, player, &me, player, namespace)
        .with_context(|| format!("{} is not a valid key", Address(player.clone())))?;
    let mut data = message.encode().to_vec();
    let (_, tag) = cipher.seal(b"", &mut data).context("sealing a share")?;
    let mut sealed = [0u8; DealerPrivMsg::SIZE + 16];
    sealed[..DealerPrivMsg::SIZE].copy_from_slice(&data);
    sealed[DealerPrivMsg::SIZE..].copy_from_slice(tag.as_ref());
    Ok(sealed)
}

fn open(
    player: &PrivateKey,
    dealer: &PublicKey,
    namespace: &[u8],
    sealed: &Sealed,
) -> Option<DealerPrivMsg> {
    let me = player.public_key();
    let cipher = cipher(player, dealer, dealer, &me, namespace)?;
    let mut data = sealed[..DealerPrivMsg::SIZE].to_vec();
    let tag = <ChaCha20Poly1305 as Cipher>::Tag::decode(commonware_codec::Copying(
        &sealed[DealerPrivMsg::SIZE..],
    ))
    .ok()?;
    cipher.open(b"", &mut data, &tag)?;
    DealerPrivMsg::decode(commonware_codec::Copying(data.as_slice())).ok()
}

fn write_hex(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, plexus_client::hex_encode(bytes) + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

fn read_hex(path: &Path) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > FILE_SIZE_MAX_BYTES {
        bail!(
            "{} is {size} bytes, more than a ceremony file's {FILE_SIZE_MAX_BYTES}",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    plexus_client::hex_decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dealer's seal opens for its player and for nobody else.
    #[test]
    fn a_sealed_share_opens_only_for_its_player() {
        let (dealer, player, other) = (
            PrivateKey::from_seed(1),
            PrivateKey::from_seed(2),
            PrivateKey::from_seed(3),
        );
        let message = DealerPrivMsg::decode(commonware_codec::Copying(
            [7u8; DealerPrivMsg::SIZE].as_slice(),
        ));
        // Not every 32 bytes are a scalar: take a real one from a dealing if these are not.
        let message = match message {
            Ok(m) => m,
            Err(_) => {
                let members = Set::from_iter_dedup([dealer.public_key(), player.public_key()]);
                let info = Info::new::<N3f1>(
                    b"t",
                    0,
                    None,
                    Mode::NonZeroCounter,
                    Reveal::V1,
                    members.clone(),
                    members,
                )
                .unwrap();
                Dealer::<BeaconVariant, PrivateKey>::start::<N3f1>(
                    ChaCha20Rng::from_seed([1; 32]),
                    info,
                    dealer.clone(),
                    None,
                )
                .unwrap()
                .2
                .remove(0)
                .1
            }
        };
        let sealed = seal(&dealer, &player.public_key(), b"ns", &message).expect("seals");
        assert_eq!(
            open(&player, &dealer.public_key(), b"ns", &sealed),
            Some(message.clone())
        );
        assert_eq!(open(&other, &dealer.public_key(), b"ns", &sealed), None);
        assert_eq!(
            open(&player, &dealer.public_key(), b"other draft", &sealed),
            None
        );
        // The conversion agrees: the X25519 public key of the secret is that of the public key.
        let secret = x25519_secret(&player);
        assert_eq!(
            plexus_storage::seal::PublicKey::from(&secret).as_bytes(),
            x25519_public(&player.public_key())
                .expect("a point")
                .as_bytes()
        );
    }
}
