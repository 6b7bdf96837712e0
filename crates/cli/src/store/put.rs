//! `store put`: seal (unless public), split into segments, encode, post one deal, send every
//! shard to the holder the chain drew for it and wait until all are accepted.
//!
//! Memory stays bounded whatever the file's size: the sealed stream goes to a spool file in
//! the temporary directory (a public file is read in place), one segment is encoded at a time,
//! and encoded segments are kept for the upload only up to [`KEPT_SHARD_BYTES_MAX`]; the others
//! are encoded again from the spool when their shards are sent (and checked to give the same
//! commitment, so a file changed meanwhile is an error, not a broken deal).

use super::plan::{self, SlotKey};
use super::{Bars, EPOCHS_DEFAULT, hex_id, provider_client};
use anyhow::{Context, Result, bail, ensure};
use commonware_cryptography::Signer as _;
use commonware_parallel::Rayon;
use plexus_client::{
    Client,
    dto::{StorageFileDto, StorageParamsDto},
};
use plexus_storage::{
    coding::{self, Encoded, Shape},
    money::{cost_ceil, deal_escrow_ceil},
    seal,
    segment::{segment_count, segment_range},
};
use plexus_types::{
    Address, Amount, ContentHash, Payload,
    amount::{DisplayPlx, parse_amount},
    deal::DealSegment,
};
use serde_json::json;
use std::{
    collections::{BTreeMap, BTreeSet},
    fs::File,
    io::{BufReader, BufWriter, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::mpsc,
    time::{Duration, Instant},
};

/// Shard bytes kept in memory between encoding and sending (beyond it, segments are encoded
/// again when sent): a file up to about 100 MiB at 2.5x is encoded once.
const KEPT_SHARD_BYTES_MAX: u64 = 256 << 20;

/// Shards being sent at once.
const SENDS_IN_FLIGHT_MAX: usize = 8;

/// Times `put` follows a slot the chain redrew before it gives up on it.
const REDRAWS_FOLLOWED_MAX: u32 = 3;

/// Blocks past a slot's accept due after which `put` stops waiting for the chain's redraw.
const ACCEPT_GRACE_BLOCKS: u64 = 5;

/// The longest pause between reads of the deal while shards are being accepted (a send that
/// finishes ends it early, so the next shard goes out at once).
const POLL_INTERVAL: Duration = Duration::from_millis(300);

#[derive(clap::Args)]
pub struct PutArgs {
    /// The file to store.
    file: PathBuf,
    /// The paying key, which owns the file (and, unless --public, the only key that opens it).
    #[arg(long)]
    from: String,
    /// Epochs to store it for (a chain epoch is `epoch_length_blocks` blocks; see
    /// `GET /v1/storage/params`).
    #[arg(long, default_value_t = EPOCHS_DEFAULT)]
    epochs: u64,
    /// Store the plaintext (anyone may read it) instead of sealing it to --from's key.
    #[arg(long)]
    public: bool,
    /// The most to pay a holder per GiB-epoch, in base units or PLX (`0.01plx`). Default: the
    /// lowest cap at which n providers with room for a shard qualify (the n-th cheapest active
    /// storage offer), so the deal can be drawn.
    #[arg(long)]
    price_cap: Option<String>,
    /// Fee in base units or PLX (default: the chain minimum).
    #[arg(long)]
    fee: Option<String>,
    /// Give up waiting for the accepts after this many seconds (the deal stays on chain).
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

/// Where the stored bytes are read from: the file itself (public) or its sealed spool.
struct Source {
    path: PathBuf,
    /// Whether `path` is a spool of ours, removed on drop.
    spool: bool,
    len: u64,
}

impl Drop for Source {
    fn drop(&mut self) {
        if self.spool {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Source {
    fn segment(&self, index: u32) -> Result<Vec<u8>> {
        let range = segment_range(self.len, u64::from(index)).context("no such segment")?;
        let mut file = File::open(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        file.seek(SeekFrom::Start(range.start))?;
        let mut bytes = vec![0u8; (range.end - range.start) as usize];
        file.read_exact(&mut bytes)
            .with_context(|| format!("{} changed while it was stored", self.path.display()))?;
        Ok(bytes)
    }
}

/// Seals `file` to `owner`'s key into a spool file; returns the spool.
fn seal_to_spool(
    file: &Path,
    owner: &Address,
    bars: &Bars,
    plain_len: u64,
    pool: &Rayon,
) -> Result<Source> {
    let recipient = seal::x25519_public(&owner.0).context("the owner key has no X25519 form")?;
    let spool = std::env::temp_dir().join(format!(
        "plexus-store-{}-{}.sealed",
        std::process::id(),
        hex_id(&ContentHash::of(file.as_os_str().as_encoded_bytes()).0[..8])
    ));
    let source = Source {
        path: spool.clone(),
        spool: true,
        len: seal::sealed_len(plain_len),
    };
    let input = File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let output =
        File::create(&spool).with_context(|| format!("cannot write {}", spool.display()))?;
    let bar = bars.bytes("sealing", plain_len);
    let written = seal::seal(
        &recipient,
        &mut rand::rng(),
        bar.wrap_read(BufReader::new(input)),
        BufWriter::new(output),
        pool,
    )
    .context("sealing")?;
    bar.finish();
    ensure!(
        written == source.len,
        "{} changed while it was sealed",
        file.display()
    );
    Ok(source)
}

/// The deal's segments (commitment, size, shard length) with placeholder commitments: the
/// escrow depends only on the lengths.
fn deal_segments(shape: Shape, len: u64) -> Result<Vec<DealSegment>> {
    (0..segment_count(len))
        .map(|index| {
            let range = segment_range(len, index).expect("index < count");
            let size_bytes = range.end - range.start;
            Ok(DealSegment {
                commitment: ContentHash::of(b""),
                size_bytes,
                shard_bytes: shape.shard_len(size_bytes).context("a segment too long")?,
            })
        })
        .collect()
}

/// The default price cap: the lowest at which `n` active offers with room for the largest
/// shard (and bond for its collateral) qualify.
fn default_price_cap(
    client: &Client,
    params: &StorageParamsDto,
    shard_bytes: u64,
) -> Result<Amount> {
    let mut prices: Vec<Amount> = client
        .storage_providers()?
        .iter()
        .filter(|offer| {
            let price = offer.price_per_gib_epoch.amount();
            let collateral = cost_ceil(
                price,
                u128::from(shard_bytes),
                u64::from(params.collateral_epochs),
            )
            .unwrap_or(Amount::MAX)
            .max(params.collateral_min_per_shard.amount());
            offer.active
                && offer.free_bytes >= shard_bytes
                && offer.bond_free.amount() >= collateral
        })
        .map(|offer| offer.price_per_gib_epoch.amount())
        .collect();
    prices.sort_unstable();
    let n = usize::from(params.n);
    prices.get(n - 1).copied().with_context(|| {
        format!(
            "only {} active providers offer storage with room for a shard of {shard_bytes} bytes; \
             a deal needs n = {n} of them (or give --price-cap to wait for more)",
            prices.len()
        )
    })
}

/// What the deal will cost, checked against the owner's balance before anything is encoded.
pub(crate) struct Terms {
    cap: Amount,
    escrow: Amount,
    fee: Amount,
}

fn terms(
    client: &Client,
    args: &PutArgs,
    params: &StorageParamsDto,
    segments: &[DealSegment],
    owner: &Address,
    plain_len: u64,
) -> Result<Terms> {
    let range = params.deal_epochs_min..=params.deal_epochs_max;
    ensure!(
        range.contains(&args.epochs),
        "--epochs {}: the chain takes deals of {} to {} epochs",
        args.epochs,
        range.start(),
        range.end()
    );
    let shard_bytes = segments.iter().map(|s| s.shard_bytes).max().unwrap_or(0);
    let cap = match &args.price_cap {
        Some(text) => parse_amount(text).map_err(|e| anyhow::anyhow!("--price-cap: {e}"))?,
        None => default_price_cap(client, params, shard_bytes)?,
    };
    let escrow = deal_escrow_ceil(cap, segments, params.n, args.epochs)
        .context("the escrow does not fit 128 bits: lower --price-cap or --epochs")?;
    let status = client.status()?;
    let fee = match &args.fee {
        Some(text) => parse_amount(text).map_err(|e| anyhow::anyhow!("--fee: {e}"))?,
        None => status.fee_min.parse().unwrap_or(plexus_client::FEE_DEFAULT),
    };
    let balance: Amount = match client.account(owner) {
        Ok(account) => account.balance.parse().unwrap_or(0),
        Err(err) if err.code() == Some("unknown_account") => 0,
        Err(err) => return Err(err.into()),
    };
    let stored: u64 = segments.iter().map(|s| s.shard_bytes).sum::<u64>() * u64::from(params.n);
    if balance < escrow.saturating_add(fee) {
        bail!(
            "a file larger than the escrow covers: storing {} ({plain_len} bytes, {stored} bytes \
             as {} shards) for {} epochs at a cap of {} per GiB-epoch escrows {}, plus a fee of \
             {}, and {} holds {}",
            args.file.display(),
            segments.len() * usize::from(params.n),
            args.epochs,
            DisplayPlx(cap),
            DisplayPlx(escrow),
            DisplayPlx(fee),
            args.from,
            DisplayPlx(balance)
        );
    }
    Ok(Terms { cap, escrow, fee })
}

impl PutArgs {
    /// A put of `file` paid by `from` (a name for messages; the key is given to [`put_with`]),
    /// with every other flag at its default.
    pub(crate) fn new(file: PathBuf, from: &str) -> PutArgs {
        PutArgs {
            file,
            from: from.to_string(),
            epochs: EPOCHS_DEFAULT,
            public: false,
            price_cap: None,
            fee: None,
            timeout_secs: 600,
        }
    }
}

/// A finished put: the file as the chain has it once every shard is accepted, and where the
/// time went.
pub(crate) struct Stored {
    pub(crate) id: String,
    pub(crate) file: StorageFileDto,
    /// The user's file's length (`stored_len` is its sealed length unless public).
    pub(crate) plain_len: u64,
    pub(crate) stored_len: u64,
    pub(crate) height: Option<u64>,
    pub(crate) terms: Terms,
    pub(crate) phases: PutPhases,
}

/// Wall time of each step of a put, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PutPhases {
    /// Sealing the file into the spool (0 for a public file).
    pub(crate) seal_ms: f64,
    /// Reading and erasure-coding every segment for its commitment.
    pub(crate) encode_ms: f64,
    /// Posting the deal and waiting for it to be final.
    pub(crate) post_ms: f64,
    /// Sending the shards until every one is accepted on chain.
    pub(crate) upload_ms: f64,
}

/// `plexus store put`.
pub fn put(client: &Client, json_mode: bool, args: PutArgs) -> Result<()> {
    let key = crate::keys::load(&args.from)?;
    let stored = put_with(client, json_mode, &args, &key)?;
    let value = json!({
        "id": stored.id,
        "size": stored.plain_len,
        "stored_bytes": stored.stored_len,
        "segments": stored.file.segments.len(),
        "k": stored.file.file.k,
        "n": stored.file.file.n,
        "public": args.public,
        "epochs": args.epochs,
        "price_cap_per_gib_epoch": stored.terms.cap.to_string(),
        "escrow": stored.terms.escrow.to_string(),
        "height": stored.height,
        "end_epoch": stored.file.file.end_epoch,
    });
    crate::print(json_mode, value, stored.id);
    Ok(())
}

/// What `store put` does once the paying key is loaded (`bench storage` calls it with a dev
/// key): everything but printing the result.
pub(crate) fn put_with(
    client: &Client,
    json_mode: bool,
    args: &PutArgs,
    key: &plexus_types::PrivateKey,
) -> Result<Stored> {
    let owner = Address(key.public_key());
    let plain_len = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let params = client.storage_params()?;
    let shape = Shape::new(params.k, params.n).context("the chain's k and n")?;
    let stored_len = if args.public {
        plain_len
    } else {
        seal::sealed_len(plain_len)
    };
    ensure!(
        stored_len > 0,
        "{} is empty: an empty file is stored sealed (without --public) or not at all",
        args.file.display()
    );
    let mut segments = deal_segments(shape, stored_len)?;
    ensure!(
        segments.len() <= params.deal_segments_max as usize,
        "{} is {plain_len} bytes: one deal holds at most {} segments of {} bytes",
        args.file.display(),
        params.deal_segments_max,
        params.segment_bytes_max
    );
    let terms = terms(client, args, &params, &segments, &owner, plain_len)?;

    let mut phases = PutPhases::default();
    let bars = Bars::new(json_mode);
    let started = Instant::now();
    let pool = super::pool()?;
    let source = if args.public {
        Source {
            path: args.file.clone(),
            spool: false,
            len: plain_len,
        }
    } else {
        seal_to_spool(&args.file, &owner, &bars, plain_len, &pool)?
    };
    phases.seal_ms = ms_since(started);
    let started = Instant::now();
    let mut kept = encode_all(&source, shape, &mut segments, &pool, &bars)?;
    phases.encode_ms = ms_since(started);

    let payload = Payload::DealPost {
        segments: segments.clone(),
        k: params.k,
        n: params.n,
        price_cap_per_gib_epoch: terms.cap,
        epochs: args.epochs,
        public: args.public,
    };
    let fee = terms.fee.to_string();
    let started = Instant::now();
    let done = crate::send_key(client, json_mode, key, Some(&fee), payload).map_err(|err| {
        let code = plexus_types::Reason::NoStorageHolders.code();
        if format!("{err:#}").contains(code) {
            err.context(format!(
                "no {} distinct providers at or below the price cap of {} per GiB-epoch have \
                 room and bond for a shard (nothing was charged): raise --price-cap, or wait \
                 for more storage offers",
                params.n,
                DisplayPlx(terms.cap)
            ))
        } else {
            err
        }
    })?;
    phases.post_ms = ms_since(started);
    let id = done.hash.clone();

    let upload = Uploader {
        client,
        id: &id,
        deal: plexus_types::hash::parse_digest(&id).context("the deal's id")?,
        shape,
        source: &source,
        commitments: segments.iter().map(|s| s.commitment).collect(),
        pool: &pool,
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let started = Instant::now();
    let file = upload.run(&mut kept, &bars, timeout)?;
    phases.upload_ms = ms_since(started);
    bars.clear();
    Ok(Stored {
        id,
        file,
        plain_len,
        stored_len,
        height: done.height,
        terms,
        phases,
    })
}

fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e3
}

/// Encodes every segment, fills in its commitment, and keeps the shards of the first ones up
/// to [`KEPT_SHARD_BYTES_MAX`].
fn encode_all(
    source: &Source,
    shape: Shape,
    segments: &mut [DealSegment],
    pool: &Rayon,
    bars: &Bars,
) -> Result<Vec<Option<Encoded>>> {
    let bar = bars.bytes("encoding", source.len);
    let mut kept = Vec::with_capacity(segments.len());
    let mut kept_bytes = 0u64;
    for (index, segment) in segments.iter_mut().enumerate() {
        let bytes = source.segment(index as u32)?;
        let encoded = coding::encode(shape, &bytes, pool).context("encoding")?;
        segment.commitment = encoded.commitment;
        bar.inc(bytes.len() as u64);
        let shard_bytes = segment.shard_bytes * u64::from(shape.n());
        if kept_bytes + shard_bytes <= KEPT_SHARD_BYTES_MAX {
            kept_bytes += shard_bytes;
            kept.push(Some(encoded));
        } else {
            kept.push(None);
        }
    }
    bar.finish();
    Ok(kept)
}

/// The upload of a posted deal's shards.
struct Uploader<'a> {
    client: &'a Client,
    id: &'a str,
    deal: plexus_types::Digest,
    shape: Shape,
    source: &'a Source,
    commitments: Vec<ContentHash>,
    pool: &'a Rayon,
}

/// A send's answer: the slot, the holder it went to, and whether it stored the shard.
type Sent = (SlotKey, String, Result<(), String>);

impl Uploader<'_> {
    /// Sends every drawn shard (again, after a redraw) until all are accepted; returns the
    /// file as the chain has it then. Sends run on threads of their own, at most
    /// [`SENDS_IN_FLIGHT_MAX`] at once, so a holder that stalls holds up only its own slot and
    /// the accept windows are watched meanwhile.
    fn run(
        &self,
        kept: &mut [Option<Encoded>],
        bars: &Bars,
        timeout: Duration,
    ) -> Result<StorageFileDto> {
        let deadline = Instant::now() + timeout;
        let mut sending: BTreeMap<SlotKey, plan::Sending> = BTreeMap::new();
        // Keyed by holder too: a slot redrawn away from a stalled holder is sent to the new one.
        let mut in_flight: BTreeSet<(SlotKey, String)> = BTreeSet::new();
        let mut endpoints: BTreeMap<String, Client> = BTreeMap::new();
        let mut current: Option<(u32, Encoded)> = None;
        let (tx, rx) = mpsc::channel::<Sent>();
        // A send's answer that ended the last pause, handled with the others.
        let mut woken: Option<Sent> = None;
        let total = self.commitments.len() as u64 * u64::from(self.shape.n());
        let sent_bar = bars.count("shards sent", total);
        let accepted_bar = bars.count("accepted", total);
        loop {
            for (key, holder, result) in woken.take().into_iter().chain(rx.try_iter()) {
                in_flight.remove(&(key, holder.clone()));
                let entry = sending.entry(key).or_default();
                match result {
                    // Stored by the holder the slot is still drawn to (not one since replaced).
                    Ok(()) if entry.holder == holder => entry.stored = true,
                    Ok(()) => {}
                    Err(error) => entry.last_error = Some(error),
                }
            }
            sent_bar.set_position(sending.values().filter(|s| s.stored).count() as u64);
            let file = match self
                .client
                .until(deadline, || self.client.storage_file(self.id))
            {
                Err(err) if err.code() == Some("unknown_deal") => bail!(
                    "deal {} ended before every shard was accepted (its epochs ran out, or it was \
                     deleted)",
                    self.id
                ),
                other => other?,
            };
            let height = self.client.until(deadline, || self.client.status())?.height;
            let pending = plan::unaccepted(&file);
            accepted_bar.set_position(total - pending.len() as u64);
            if pending.is_empty() {
                sent_bar.finish();
                accepted_bar.finish();
                return Ok(file);
            }
            let uploads = plan::uploads(&file, &mut sending);
            let late = plan::given_up(
                &file,
                &sending,
                height,
                ACCEPT_GRACE_BLOCKS,
                REDRAWS_FOLLOWED_MAX,
            );
            if !late.is_empty() || Instant::now() > deadline {
                let slots = if late.is_empty() { pending } else { late };
                bail!(
                    "{}",
                    never_accepted(self.id, &slots, &sending, &in_flight, height)
                );
            }
            for upload in uploads {
                let key = (upload.segment, upload.slot);
                if in_flight.len() >= SENDS_IN_FLIGHT_MAX {
                    break;
                }
                if in_flight.contains(&(key, upload.holder.clone())) {
                    continue;
                }
                let provider = match self.endpoint(&upload.holder, &mut endpoints) {
                    Ok(provider) => provider,
                    Err(error) => {
                        sending.entry(key).or_default().last_error = Some(error);
                        continue;
                    }
                };
                if current
                    .as_ref()
                    .is_none_or(|(index, _)| *index != upload.segment)
                {
                    current = Some((upload.segment, self.encoded(upload.segment, kept)?));
                }
                let (_, encoded) = current.as_ref().expect("just set");
                let shard = encoded.shards[usize::from(upload.slot)].clone();
                let (deal, tx) = (self.deal, tx.clone());
                in_flight.insert((key, upload.holder.clone()));
                std::thread::spawn(move || {
                    let result = provider
                        .put_shard(&deal, upload.segment, &shard)
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    let _ = tx.send((key, upload.holder, result));
                });
            }
            // The loop holds `tx` itself, so this times out rather than disconnects.
            woken = rx.recv_timeout(POLL_INTERVAL).ok();
        }
    }

    /// The API client of `holder`'s provider, looked up once.
    fn endpoint(
        &self,
        holder: &str,
        endpoints: &mut BTreeMap<String, Client>,
    ) -> Result<Client, String> {
        if let Some(client) = endpoints.get(holder) {
            return Ok(client.clone());
        }
        let address: Address = holder.parse().map_err(|e| format!("{e}"))?;
        let provider = self
            .client
            .provider(&address)
            .map_err(|e| format!("no endpoint: {e}"))?;
        let client = provider_client(&provider.endpoint);
        endpoints.insert(holder.to_string(), client.clone());
        Ok(client)
    }

    /// Segment `index`'s shards: kept from the first encoding, or encoded again and checked to
    /// be the ones the deal names.
    fn encoded(&self, index: u32, kept: &mut [Option<Encoded>]) -> Result<Encoded> {
        if let Some(Some(encoded)) = kept.get(index as usize) {
            return Ok(encoded.clone());
        }
        let bytes = self.source.segment(index)?;
        let encoded = coding::encode(self.shape, &bytes, self.pool).context("encoding")?;
        ensure!(
            Some(&encoded.commitment) == self.commitments.get(index as usize),
            "segment {index} changed since the deal was posted: the file was modified meanwhile"
        );
        Ok(encoded)
    }
}

/// The error naming the slots never accepted.
fn never_accepted(
    id: &str,
    slots: &[plan::Unaccepted],
    sending: &BTreeMap<SlotKey, plan::Sending>,
    in_flight: &BTreeSet<(SlotKey, String)>,
    height: u64,
) -> String {
    let lines: Vec<String> = slots
        .iter()
        .map(|slot| {
            let sent = sending.get(&(slot.segment, slot.slot));
            let key = (slot.segment, slot.slot);
            let still = if in_flight.contains(&(key, slot.holder.clone())) {
                ", its send still unanswered"
            } else {
                ""
            };
            format!(
                "  segment {} slot {}: holder {}{}{}{}{still}",
                slot.segment,
                slot.slot,
                slot.holder,
                sent.and_then(|s| s.due_height)
                    .or(slot.accept_due_height)
                    .map(|due| format!(", accept due at height {due}"))
                    .unwrap_or_default(),
                sent.filter(|s| s.redraws > 0)
                    .map(|s| format!(", redrawn {} times", s.redraws))
                    .unwrap_or_default(),
                sent.and_then(|s| s.last_error.as_ref())
                    .map(|e| format!(", last send: {e}"))
                    .unwrap_or_default(),
            )
        })
        .collect();
    format!(
        "deal {id} was posted, but {} of its shards were never accepted by height {height} (the deal \
         stays on chain: `plexus store status {id}`, or `plexus store delete {id}` for the rest \
         of the escrow):\n{}",
        slots.len(),
        lines.join("\n")
    )
}
