//! `store get`: read a stored file back from its holders.
//!
//! Segment by segment, `k` shards are fetched in parallel (shards `0..k` first, so the usual
//! read slices the segment out of them without decoding; `k + 2` in flight at most), each
//! checked against the segment's commitment as it arrives (`coding::check`). A holder that
//! refuses, cannot be reached or serves a shard that does not match is dropped for the rest of
//! the read and the next slot asked for; a segment with a systematic shard missing is decoded
//! (strictly) from any `k`. A private file's reads are signed by --from's key (`ShardRead`),
//! and the sealed stream is opened as the segments arrive: the output is written to a temporary
//! file beside --out and renamed only once the whole file opened.

use super::out_file::OutFile;
use super::plan::{FetchPlan, Ready};
use super::{Bars, file_or_unknown, provider_client};
use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use commonware_parallel::Sequential;
use plexus_client::{
    Client,
    dto::{SegmentDto, ShardState},
};
use plexus_storage::{
    access::ShardRead,
    coding::{self, Shape, Shard},
    seal::{self, SealError, StaticSecret},
};
use plexus_types::{Digest, PrivateKey};
use serde_json::json;
use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    io::{self, Read},
    path::{Path, PathBuf},
    sync::{Arc, mpsc},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// How far ahead a shard read expires: well inside a holder's `SHARD_READ_TTL_MAX_MS` (5
/// minutes), so holders whose clocks are a few minutes apart from ours still take it.
const READ_TTL_MS: u64 = 2 * 60 * 1_000;

/// How long a read waits for a slow systematic shard once `k` shards are in hand, before it
/// decodes from them instead (the slow tail is cancelled).
const SLOW_TAIL_WAIT: Duration = Duration::from_secs(2);

/// The longest a read waits for any one answer: a holder stalled this long is dropped.
const ANSWER_WAIT_MAX: Duration = Duration::from_secs(120);

#[derive(clap::Args)]
pub struct GetArgs {
    /// The file's id (the hash of its deal's post), as `store put` printed it.
    id: String,
    /// Where to write it (written whole or not at all).
    #[arg(long)]
    out: PathBuf,
    /// The key that reads a private file: its owner's.
    #[arg(long)]
    from: Option<String>,
}

impl GetArgs {
    /// A read of file `id` into `out`, opened with the key named `from` (a private file's).
    pub(crate) fn new(id: String, out: PathBuf, from: Option<String>) -> GetArgs {
        GetArgs { id, out, from }
    }
}

/// A finished read.
pub(crate) struct Got {
    /// Bytes written to --out.
    pub(crate) written: u64,
    pub(crate) segments: usize,
    /// Holders dropped for refusing, failing or serving a bad shard.
    pub(crate) dropped: BTreeSet<String>,
}

/// `plexus store get`.
pub fn get(client: &Client, json_mode: bool, args: GetArgs) -> Result<()> {
    let got = get_with(client, json_mode, &args, crate::keys::load)?;
    let value = json!({
        "id": args.id,
        "out": args.out,
        "size": got.written,
        "segments": got.segments,
        "dropped_holders": got.dropped,
    });
    crate::print(
        json_mode,
        value,
        format!("wrote {} ({} bytes)", args.out.display(), got.written),
    );
    Ok(())
}

/// What `store get` does, with `load_key` turning --from into the key (`bench storage` gives
/// its dev key): everything but printing the result.
pub(crate) fn get_with(
    client: &Client,
    json_mode: bool,
    args: &GetArgs,
    load_key: impl FnOnce(&str) -> Result<PrivateKey>,
) -> Result<Got> {
    let file = file_or_unknown(client, &args.id)?;
    let key = match (&args.from, file.file.public) {
        (Some(name), _) => Some(load_key(name)?),
        (None, true) => None,
        (None, false) => bail!(
            "stored file {} is private: --from KEY (the key that stored it) reads and opens it",
            args.id
        ),
    };
    let shape = Shape::new(file.file.k, file.file.n).context("the file's k and n")?;
    let bars = Bars::new(json_mode);
    let bar = bars.bytes("reading", file.file.size_bytes);
    let mut reader = Reader {
        client,
        deal: file.file.id.digest(),
        shape,
        key: key.clone().map(Arc::new),
        endpoints: BTreeMap::new(),
        dropped: BTreeSet::new(),
        refusals: Vec::new(),
    };
    let identity = key
        .as_ref()
        .filter(|_| !file.file.public)
        .map(seal::x25519_secret);
    let expected_len = file.file.public.then_some(file.file.size_bytes);
    // Segments are fetched on a thread of their own, one ahead of the one being opened and
    // written (a rendezvous channel: at most two segments in memory), so fetching and checking
    // overlap opening and writing.
    let written = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(0);
        let (reader, segments) = (&mut reader, &file.segments);
        let fetcher = scope.spawn(move || {
            for segment in segments {
                let fetched = reader.segment(segment);
                let failed = fetched.is_err();
                if tx.send(fetched).is_err() || failed {
                    return;
                }
            }
        });
        let mut stream = SegmentStream {
            segments: rx,
            parts: VecDeque::new(),
            error: None,
        };
        let written = write_whole(
            identity.as_ref(),
            bar.wrap_read(&mut stream),
            &args.out,
            expected_len,
        )
        .map_err(|unwritten| unwritten_error(args, &mut stream, unwritten));
        // The fetcher stops at its next segment once the stream is gone.
        drop(stream);
        let _ = fetcher.join();
        written
    })?;
    bar.finish();
    bars.clear();
    Ok(Got {
        written,
        segments: file.segments.len(),
        dropped: reader.dropped,
    })
}

/// Why [`write_whole`] wrote nothing.
#[derive(Debug)]
enum Unwritten {
    /// The sealed stream did not open: another key's, truncated, or tampered.
    Seal(SealError),
    /// Reading the input (a fetch that failed) or writing the output failed.
    Io(io::Error),
    /// The output could not be made, or the plain file was not the length the chain names.
    Out(anyhow::Error),
}

/// Writes `input` to `destination` whole or not at all (`OutFile`): opened with `identity`
/// when it is sealed, its length checked against `expected_len` when it is not. Returns the
/// bytes written.
fn write_whole(
    identity: Option<&StaticSecret>,
    mut input: impl Read,
    destination: &Path,
    expected_len: Option<u64>,
) -> Result<u64, Unwritten> {
    let mut out = OutFile::create(destination).map_err(Unwritten::Out)?;
    let written = match identity {
        Some(identity) => seal::open(
            identity,
            input,
            &mut out,
            &super::pool().map_err(Unwritten::Out)?,
        )
        .map_err(Unwritten::Seal)?,
        None => io::copy(&mut input, &mut out).map_err(Unwritten::Io)?,
    };
    if let Some(expected) = expected_len
        && written != expected
    {
        return Err(Unwritten::Out(anyhow!(
            "read {written} bytes of the {expected} the chain names"
        )));
    }
    out.commit().map_err(Unwritten::Out)?;
    Ok(written)
}

/// The error of a read that wrote nothing: the fetch's own error if fetching failed, else what
/// went wrong, in a user's words.
fn unwritten_error(
    args: &GetArgs,
    stream: &mut SegmentStream,
    unwritten: Unwritten,
) -> anyhow::Error {
    if let Some(fetch) = stream.error.take() {
        return fetch.context("nothing was written");
    }
    let from = args.from.as_deref().unwrap_or("");
    match unwritten {
        Unwritten::Seal(SealError::WrongKey) => anyhow!(
            "{from} cannot open stored file {}: it was sealed to another key; nothing was written",
            args.id
        ),
        Unwritten::Seal(error @ (SealError::Header | SealError::Corrupt { .. })) => anyhow!(
            "stored file {} did not decrypt ({error}); nothing was written",
            args.id
        ),
        Unwritten::Seal(error) => anyhow!("{error}; nothing was written"),
        Unwritten::Io(error) => anyhow!("{error}; nothing was written"),
        Unwritten::Out(error) => error.context("nothing was written"),
    }
}

/// The file's segments as one byte stream, in order, as the fetcher sends them.
struct SegmentStream {
    segments: mpsc::Receiver<Result<Vec<Bytes>>>,
    parts: VecDeque<Bytes>,
    /// Why the stream stopped early (an `io::Error` cannot carry it whole).
    error: Option<anyhow::Error>,
}

impl Read for SegmentStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(part) = self.parts.front_mut() {
                let take = part.len().min(buf.len());
                buf[..take].copy_from_slice(&part[..take]);
                bytes::Buf::advance(part, take);
                if part.is_empty() {
                    self.parts.pop_front();
                }
                return Ok(take);
            }
            // The fetcher ends its channel after the last segment (or after an error, sent).
            let Ok(fetched) = self.segments.recv() else {
                return Ok(0);
            };
            match fetched {
                Ok(parts) => self.parts = parts.into(),
                Err(error) => {
                    let message = format!("{error:#}");
                    self.error = Some(error);
                    return Err(io::Error::other(message));
                }
            }
        }
    }
}

/// What a read of one file keeps across segments.
struct Reader<'a> {
    client: &'a Client,
    deal: Digest,
    shape: Shape,
    key: Option<Arc<PrivateKey>>,
    endpoints: BTreeMap<String, Client>,
    /// Holders dropped for refusing, failing or serving a bad shard.
    dropped: BTreeSet<String>,
    /// What each dropped holder did, for the error when a segment cannot be read.
    refusals: Vec<String>,
}

/// One fetch's answer: the slot and the shard or why not.
type Answer = (u16, Result<Shard, String>);

impl Reader<'_> {
    /// The endpoint client of `holder`, looked up once.
    fn endpoint(&mut self, holder: &str) -> Result<Client, String> {
        if let Some(client) = self.endpoints.get(holder) {
            return Ok(client.clone());
        }
        let address: plexus_types::Address = holder.parse().map_err(|e| format!("{e}"))?;
        let provider = self.client.provider(&address).map_err(|e| e.to_string())?;
        let client = provider_client(&provider.endpoint);
        self.endpoints.insert(holder.to_string(), client.clone());
        Ok(client)
    }

    /// Starts the fetch of `slot` of `segment` on a thread of its own, which checks the shard
    /// against the commitment and answers on `tx` (a fetch the read no longer needs finishes
    /// unheard).
    fn start(&mut self, segment: &SegmentDto, slot: u16, tx: &mpsc::Sender<Answer>) {
        let holder = &segment.shards[usize::from(slot)].holder;
        let provider = match self.endpoint(holder) {
            Ok(provider) => provider,
            Err(error) => {
                let _ = tx.send((slot, Err(format!("no endpoint: {error}"))));
                return;
            }
        };
        let (deal, index) = (self.deal, segment.index);
        let read = self.key.as_ref().map(|key| {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            ShardRead::sign(key, deal, index, slot, now_ms + READ_TTL_MS, None)
        });
        let (tx, shape, segment) = (tx.clone(), self.shape, segment.clone());
        // Checked here, so the shards of a segment are hashed in parallel as they arrive.
        std::thread::spawn(move || {
            let answer = provider.get_checked_shard(&deal, &segment, slot, shape, read.as_ref());
            let _ = tx.send((slot, answer));
        });
    }

    /// Segment `segment`'s bytes, from `k` of its shards.
    fn segment(&mut self, segment: &SegmentDto) -> Result<Vec<Bytes>> {
        let (k, n) = (self.shape.k(), self.shape.n());
        ensure!(
            segment.shards.len() == usize::from(n),
            "segment {} lists {} shards, the code has {n}",
            segment.index,
            segment.shards.len()
        );
        let mut plan = FetchPlan::new(k, n, |slot| {
            let shard = &segment.shards[usize::from(slot)];
            shard.state == ShardState::Active && !self.dropped.contains(&shard.holder)
        });
        let (tx, rx) = mpsc::channel::<Answer>();
        let mut shards: BTreeMap<u16, Shard> = BTreeMap::new();
        loop {
            while let Some(slot) = plan.next() {
                self.start(segment, slot, &tx);
            }
            let ready = plan.ready();
            if let Some(ready) = ready {
                return self.read(segment, ready, &shards);
            }
            if plan.exhausted() {
                bail!(
                    "segment {} of stored file {} cannot be read: fewer than k = {k} of its \
                     holders served a shard that matches its commitment ({})",
                    segment.index,
                    plexus_types::hash::digest_hex(&self.deal),
                    self.refusals.join("; ")
                );
            }
            let wait = if plan.decodable().is_some() {
                SLOW_TAIL_WAIT
            } else {
                ANSWER_WAIT_MAX
            };
            let (slot, answer) = match rx.recv_timeout(wait) {
                Ok(answer) => answer,
                Err(_) if plan.decodable().is_some() => {
                    let slots = plan.decodable().expect("checked");
                    return self.read(segment, Ready::Decode(slots), &shards);
                }
                Err(_) => bail!(
                    "segment {}: no holder answered within {ANSWER_WAIT_MAX:?}",
                    segment.index
                ),
            };
            match answer {
                Ok(shard) => {
                    shards.insert(slot, shard);
                    plan.answered(slot, true);
                }
                Err(error) => {
                    let holder = segment.shards[usize::from(slot)].holder.clone();
                    self.refusals
                        .push(format!("{holder} (slot {slot}): {error}"));
                    self.dropped.insert(holder);
                    plan.answered(slot, false);
                }
            }
        }
    }

    /// The segment out of the shards that came: sliced from shards `0..k`, or decoded.
    fn read(
        &self,
        segment: &SegmentDto,
        ready: Ready,
        shards: &BTreeMap<u16, Shard>,
    ) -> Result<Vec<Bytes>> {
        let commitment = segment.commitment.hash();
        let index = segment.index;
        let parts = match ready {
            Ready::Systematic => {
                let systematic: Vec<Shard> = (0..self.shape.k())
                    .map(|slot| shards[&slot].clone())
                    .collect();
                coding::read_systematic(self.shape, &commitment, &systematic, &Sequential)
                    .with_context(|| format!("segment {index}"))?
            }
            Ready::Decode(slots) => {
                let chosen: Vec<Shard> = slots.iter().map(|slot| shards[slot].clone()).collect();
                vec![Bytes::from(
                    coding::decode(self.shape, &commitment, &chosen, &Sequential)
                        .with_context(|| format!("segment {index}"))?,
                )]
            }
        };
        let len: usize = parts.iter().map(Bytes::len).sum();
        ensure!(
            len as u64 == segment.size_bytes,
            "segment {index} holds {len} bytes, the chain names {}",
            segment.size_bytes
        );
        Ok(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer as _;
    use rand::SeedableRng as _;

    const SEED: u64 = 0x6e7;

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plexus-get-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A sealed file of `len` bytes for key `seed`, with its plaintext and the key's identity.
    fn sealed(len: usize) -> (Vec<u8>, Vec<u8>, StaticSecret) {
        let key = PrivateKey::from_seed(SEED);
        let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let recipient = seal::x25519_public(&key.public_key()).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SEED);
        let sealed = seal::seal_bytes(&recipient, &mut rng, &plain, &Sequential).unwrap();
        (plain, sealed, seal::x25519_secret(&key))
    }

    /// Whether `dir` holds nothing (no output, no temporary file left).
    fn empty(dir: &Path) -> bool {
        std::fs::read_dir(dir).unwrap().next().is_none()
    }

    #[test]
    fn a_whole_sealed_file_is_written_and_a_damaged_one_leaves_nothing() {
        let dir = dir("sealed");
        let out = dir.join("out.bin");
        let (plain, sealed, identity) = sealed(3 * seal::CHUNK_PLAIN_BYTES + 5);
        let written = write_whole(Some(&identity), &sealed[..], &out, None).unwrap();
        assert_eq!(written, plain.len() as u64);
        assert_eq!(std::fs::read(&out).unwrap(), plain);
        std::fs::remove_file(&out).unwrap();

        // Cut at a chunk boundary, cut mid-chunk, one byte changed: refused, nothing written.
        let boundary = seal::HEADER_BYTES + 2 * seal::CHUNK_SEALED_BYTES;
        let mut tampered = sealed.clone();
        tampered[boundary + 10] ^= 1;
        for damaged in [
            &sealed[..boundary],
            &sealed[..sealed.len() - 3],
            &tampered[..],
        ] {
            let result = write_whole(Some(&identity), damaged, &out, None);
            assert!(
                matches!(result, Err(Unwritten::Seal(SealError::Corrupt { .. }))),
                "{result:?}"
            );
            assert!(empty(&dir), "a damaged file left something behind");
        }
        // Another key cannot open it.
        let other = seal::x25519_secret(&PrivateKey::from_seed(SEED + 1));
        let result = write_whole(Some(&other), &sealed[..], &out, None);
        assert!(matches!(result, Err(Unwritten::Seal(SealError::WrongKey))));
        assert!(empty(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_plain_file_of_another_length_than_the_chains_is_not_written() {
        let dir = dir("plain");
        let out = dir.join("out.bin");
        let result = write_whole(None, &b"twelve bytes"[..], &out, Some(13));
        assert!(matches!(result, Err(Unwritten::Out(_))));
        assert!(empty(&dir));
        assert_eq!(
            write_whole(None, &b"twelve bytes"[..], &out, Some(12)).unwrap(),
            12
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"twelve bytes");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
