//! `plexus store`: the owner's side of the storage market.
//!
//! - `put` (`put.rs`): seal the file to the owner's own key (unless `--public`), split it into
//!   segments, erasure-code each, post one deal with its escrow, send every shard to the holder
//!   the chain drew for it (again after a redraw) and wait until all are accepted.
//! - `get` (`get.rs`): fetch `k` shards per segment from their holders, checked against the
//!   commitment, systematic first; open the sealed stream; write the file whole or not at all
//!   (`out_file.rs`).
//! - `status`, `ls`, `extend`, `delete`: the deal as the chain has it, and its changes.
//!
//! The decisions that need no I/O (what to send after a redraw, what to fetch after a failed
//! holder) are `plan.rs`'s, with their unit tests.

mod get;
mod out_file;
mod plan;
mod put;

pub(crate) use get::{GetArgs, get_with};
pub(crate) use put::{PutArgs, PutPhases, put_with};

use anyhow::{Context, Result, bail};
use commonware_cryptography::Signer as _;
use plexus_client::{
    Client, RetryPolicy,
    dto::{ShardState, StorageFileDto, StorageFileSummaryDto},
};
use plexus_storage::money::cost_ceil;
use plexus_types::{Address, Payload, amount::DisplayPlx, hash::parse_digest};
use serde_json::json;

/// Epochs `store put` buys when --epochs is not given.
pub const EPOCHS_DEFAULT: u64 = 100;

/// The most files `store ls` lists (the node's list limit).
const LIST_LIMIT: usize = 100;

#[derive(clap::Subcommand)]
pub enum StoreCommand {
    /// Store a file: sealed to --from's key (unless --public), erasure-coded k of n, one deal
    /// with escrow, each shard sent to the provider the chain drew for it; prints the file's id
    /// once every shard is accepted.
    Put(put::PutArgs),
    /// Read a stored file back: k shards per segment in parallel (shards 0..k first, so no
    /// decoding in the usual case), every shard checked against the commitment, a holder that
    /// refuses or serves a bad shard dropped; decrypted with --from's key. --out is written
    /// whole or not at all.
    Get(get::GetArgs),
    /// A stored file's deal: escrow, epochs, and each segment's shards with holder, state and
    /// heights (--json: the API's form).
    Status { id: String },
    /// A key's (or an address's) stored files, newest first.
    Ls {
        /// The owner's key name.
        #[arg(long, conflicts_with = "owner", required_unless_present = "owner")]
        from: Option<String>,
        /// The owner's address (or key name).
        #[arg(long)]
        owner: Option<String>,
    },
    /// Store a file for more epochs, escrowing them at the deal's price cap.
    Extend {
        id: String,
        /// Epochs to add.
        #[arg(long)]
        epochs: u64,
        /// The owner's key.
        #[arg(long)]
        from: String,
    },
    /// End a file's deal now: its holders keep what they were paid, the rest of the escrow
    /// returns to the owner.
    Delete {
        id: String,
        /// The owner's key.
        #[arg(long)]
        from: String,
    },
}

pub fn run(client: &Client, json_mode: bool, command: StoreCommand) -> Result<()> {
    match command {
        StoreCommand::Put(args) => put::put(client, json_mode, args),
        StoreCommand::Get(args) => get::get(client, json_mode, args),
        StoreCommand::Status { id } => {
            let file = file_or_unknown(client, &id)?;
            crate::print(json_mode, serde_json::to_value(&file)?, status_text(&file));
            Ok(())
        }
        StoreCommand::Ls { from, owner } => {
            let owner = match (from, owner) {
                (Some(name), _) => Address(crate::keys::load(&name)?.public_key()),
                (None, Some(text)) => crate::keys::resolve_address(&text)?,
                (None, None) => bail!("--from KEY or --owner ADDRESS"),
            };
            let files = client.storage_files_of_owner(&owner, LIST_LIMIT)?;
            let text = if files.is_empty() {
                format!("no stored files of {owner}")
            } else {
                files
                    .iter()
                    .map(summary_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            crate::print(json_mode, serde_json::to_value(&files)?, text);
            Ok(())
        }
        StoreCommand::Extend { id, epochs, from } => extend(client, json_mode, &id, epochs, &from),
        StoreCommand::Delete { id, from } => delete(client, json_mode, &id, &from),
    }
}

/// The stored file `id`, or a clear error for an id that is not a hash or names no open deal.
pub fn file_or_unknown(client: &Client, id: &str) -> Result<StorageFileDto> {
    parse_digest(id).with_context(|| format!("{id:?} is not a file id (64 hex digits)"))?;
    match client.storage_file(id) {
        Err(err) if err.code() == Some("unknown_deal") => bail!(
            "no stored file {id}: it was never stored, or its deal ended (`plexus store ls` \
             lists a key's files)"
        ),
        other => Ok(other?),
    }
}

/// The thread pool a store command seals, encodes, checks and opens on: one thread a core.
pub(crate) fn pool() -> Result<commonware_parallel::Rayon> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    commonware_parallel::Rayon::new(std::num::NonZeroUsize::new(threads).expect("at least one"))
        .context("starting the worker threads")
}

/// A client of a provider's API: fewer retries than a node's, since another holder can serve.
pub fn provider_client(endpoint: &str) -> Client {
    Client::new(endpoint).with_retry(RetryPolicy {
        attempts_max: 3,
        backoff_initial_ms: 100,
        backoff_max_ms: 1_000,
    })
}

/// Lower-case hex of `bytes`.
pub fn hex_id(bytes: &[u8]) -> String {
    plexus_client::hex_encode(bytes)
}

/// `store ls`: one file per line.
fn summary_line(file: &StorageFileSummaryDto) -> String {
    format!(
        "{}  {} bytes  {} segments  {}/{} shards active  epochs {}..{}{}",
        file.id,
        file.size_bytes,
        file.segment_count,
        file.shards_active,
        file.shard_count,
        file.start_epoch,
        file.end_epoch,
        if file.public { "  public" } else { "" }
    )
}

/// `store status`: the deal, then every shard of every segment.
fn status_text(file: &StorageFileDto) -> String {
    let summary = &file.file;
    let mut text = format!(
        "id        {}\nowner     {}\naccess    {}\nsize      {} bytes in {} segments, k = {} of n = {}\n\
         shards    {} of {} active\nescrow    {} (paid so far {}; cap {} per GiB-epoch)\n\
         epochs    {} to {} (posted at height {})",
        summary.id,
        summary.owner,
        if summary.public {
            "public"
        } else {
            "private (sealed to the owner)"
        },
        summary.size_bytes,
        summary.segment_count,
        summary.k,
        summary.n,
        summary.shards_active,
        summary.shard_count,
        DisplayPlx(summary.escrow.amount()),
        DisplayPlx(summary.paid.amount()),
        DisplayPlx(summary.price_cap_per_gib_epoch.amount()),
        summary.start_epoch,
        summary.end_epoch,
        summary.posted_height,
    );
    for segment in &file.segments {
        text.push_str(&format!(
            "\nsegment {}  {} bytes, shards of {} bytes, commitment {}",
            segment.index, segment.size_bytes, segment.shard_bytes, segment.commitment
        ));
        for shard in &segment.shards {
            let heights = match shard.state {
                ShardState::Active => shard
                    .active_since_height
                    .map(|h| format!("since height {h}"))
                    .unwrap_or_default(),
                _ => format!(
                    "drawn at {}, accept by {}",
                    shard.drawn_height.map_or("?".into(), |h| h.to_string()),
                    shard
                        .accept_due_height
                        .map_or("?".into(), |h| h.to_string())
                ),
            };
            text.push_str(&format!(
                "\n  slot {:>3}  {}  {:<7} {}  at {} per GiB-epoch",
                shard.index,
                shard.holder,
                shard.state,
                heights,
                DisplayPlx(shard.price_per_gib_epoch.amount())
            ));
        }
    }
    text
}

/// The bytes a file's holders store in all: what its escrow is priced on.
fn stored_bytes(file: &StorageFileDto) -> u128 {
    file.segments
        .iter()
        .map(|s| u128::from(s.shard_bytes) * s.shards.len() as u128)
        .sum()
}

/// The stored file `id`, if `from` is its owner's key: checked before a transaction that only
/// the owner may send, so another key is refused here rather than charged a fee on chain.
fn owned_file(client: &Client, id: &str, from: &str) -> Result<StorageFileDto> {
    let file = file_or_unknown(client, id)?;
    let sender = Address(crate::keys::load(from)?.public_key());
    if sender.to_string() != file.file.owner {
        bail!(
            "{from} ({sender}) does not own stored file {id}: its owner {} does",
            file.file.owner
        );
    }
    Ok(file)
}

fn extend(client: &Client, json_mode: bool, id: &str, epochs: u64, from: &str) -> Result<()> {
    let file = owned_file(client, id, from)?;
    let deal = parse_digest(id).expect("checked by file_or_unknown");
    let added = cost_ceil(
        file.file.price_cap_per_gib_epoch.amount(),
        stored_bytes(&file),
        epochs,
    )
    .context("the escrow of that many epochs does not fit 128 bits")?;
    let done = crate::send(
        client,
        json_mode,
        from,
        None,
        Payload::DealExtend { deal, epochs },
    )?;
    let end_epoch = file.file.end_epoch.saturating_add(epochs);
    let text = format!(
        "{}\nescrowed {} more; the deal now runs to epoch {end_epoch}",
        receipt_text(&done),
        DisplayPlx(added)
    );
    let value = json!({"receipt": done, "escrow_added": added.to_string(), "end_epoch": end_epoch});
    crate::print(json_mode, value, text);
    Ok(())
}

fn delete(client: &Client, json_mode: bool, id: &str, from: &str) -> Result<()> {
    let file = owned_file(client, id, from)?;
    let deal = parse_digest(id).expect("checked by file_or_unknown");
    let done = crate::send(client, json_mode, from, None, Payload::DealEnd { deal })?;
    // The escrow the deal held at the last finalized height before the end, all of which
    // returns (the current epoch is not paid); an epoch paid in between returns that much less.
    let returned = file.file.escrow.amount();
    let text = format!(
        "{}\nreturned to {}: {} of escrow (the holders keep the {} they were paid)",
        receipt_text(&done),
        file.file.owner,
        DisplayPlx(returned),
        DisplayPlx(file.file.paid.amount())
    );
    let value =
        json!({"receipt": done, "returned": returned.to_string(), "owner": file.file.owner});
    crate::print(json_mode, value, text);
    Ok(())
}

/// A finalized transaction in two lines.
fn receipt_text(done: &plexus_client::dto::TxStatusDto) -> String {
    format!(
        "hash     {}\nheight   {}",
        done.hash,
        done.height.map_or("?".into(), |h| h.to_string())
    )
}

/// The progress bars of one command, on standard error; hidden with --json or when standard
/// error is not a terminal.
pub struct Bars {
    multi: indicatif::MultiProgress,
}

impl Bars {
    pub fn new(json_mode: bool) -> Bars {
        use std::io::IsTerminal;
        let multi = indicatif::MultiProgress::new();
        if json_mode || !std::io::stderr().is_terminal() {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        Bars { multi }
    }

    fn add(&self, total: u64, template: &str, label: &str) -> indicatif::ProgressBar {
        let bar = self.multi.add(indicatif::ProgressBar::new(total));
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        bar
    }

    /// A bar of bytes.
    pub fn bytes(&self, label: &str, total: u64) -> indicatif::ProgressBar {
        self.add(
            total,
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec}",
            label,
        )
    }

    /// A bar of things counted.
    pub fn count(&self, label: &str, total: u64) -> indicatif::ProgressBar {
        self.add(total, "{msg:>12} [{bar:30}] {pos}/{len}", label)
    }

    /// Removes the bars before the result is printed.
    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}
