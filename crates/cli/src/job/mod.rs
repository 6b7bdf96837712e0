//! `plexus blob` and `plexus job`: the consumer's side of the compute market.
//!
//! `job run` does the whole round trip: it resolves the module (a built-in name such as `digits`
//! or a `.wasm` path), checks it with the executor's own admission rules before any money moves,
//! uploads module, blobs and input to the node's blob store, posts the job with its escrow, follows
//! it through posted, matched, running, committed and settled, fetches the output from the
//! provider, checks it against the provider's commitment and prints the result and the bill.

use anyhow::{Context, Result, bail};
use plexus_client::{
    Client, RetryPolicy, dispute,
    dto::{AuditKind, HexDigest, JobDto, JobStatus, Turn},
};
use plexus_types::ContentHash;

use plexus_types::{
    Digest, Payload,
    amount::{DisplayPlx, parse_amount},
    hash::parse_digest,
    job::AuditClass,
};
use serde_json::json;
mod module;

use module::{Module, decode_output, output_text, read_input, resolve_module};
use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

/// The most bytes read of a provider's job record (a small JSON object).
const JOB_RECORD_BYTES_MAX: u64 = 64 * 1024;

/// Fuel bought when `--max-fuel` is not given: a billion, ample for the built-in modules (the
/// cnn job's largest batch uses about half) and short enough that providers accept it under the
/// default deadline (they refuse jobs whose `max_fuel` they cannot run before it).
pub const MAX_FUEL_DEFAULT: u64 = 1_000_000_000;

/// The shortest deadline `job run` asks for by default (the built-in modules' jobs with the
/// default fuel fit it at the speeds providers measure).
const DEADLINE_BLOCKS_MIN: u64 = 200;

/// Blocks added to the time a job's work needs: matching, fetching the content, committing.
const DEADLINE_MARGIN_BLOCKS: u64 = 20;

#[derive(clap::Subcommand)]
pub enum BlobCommand {
    /// Upload a file to the node's blob store; prints its BLAKE3 hash.
    Put { file: PathBuf },
    /// Download a blob by hash (checked against the hash) to a file or standard output.
    Get {
        hash: String,
        /// Where to write it (default: standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct JobRunArgs {
    /// The paying key's name.
    #[arg(long)]
    from: String,
    /// A built-in module (`digits`, `cnn`, `minilm`, `smollm2`) or the path of a `.wasm` file.
    #[arg(long)]
    module: String,
    /// The input file. For `digits`: CSV rows of exactly 64 integers 0..16 (an 8x8 image,
    /// row-major: the data set's rows without the label). For `cnn`: the number of random 64x64
    /// images to classify. For `minilm`: one UTF-8 text per line (at most 10,000), embedded in
    /// order. For `smollm2`: one prompt per line (at most 1,000), each answered as one user turn
    /// of the chat template, in order. For a `.wasm` path: the raw input bytes.
    #[arg(long)]
    input: PathBuf,
    /// minilm and smollm2: a second int8 pass over the activations' rounding residual (minilm:
    /// about twice the fuel, cosine to float32 above 0.9995 instead of 0.997; smollm2: with
    /// passes over the weights' and the key/value cache's rounding residuals too, three more
    /// weights blobs, about 2.7 times the fuel and a context of 1,280 instead of 2,048, its
    /// greedy completions float32's on 16 of 16 test prompts instead of 2).
    #[arg(long)]
    precise: bool,
    /// smollm2: the most tokens generated per prompt, 1 to 1,024 (a completion also ends at the
    /// model's end of turn). Default 64.
    #[arg(long)]
    max_new_tokens: Option<usize>,
    /// An extra blob file the module reads (in order after the built-in module's own); repeatable.
    #[arg(long = "blob")]
    blobs: Vec<PathBuf>,
    /// The most fuel to pay for; a job that traps is billed all of it. Default: a bound computed
    /// from the input for `minilm` and `smollm2`, else 10^9.
    #[arg(long)]
    max_fuel: Option<u64>,
    /// The highest price per million fuel to accept, in base units or PLX (`0.01plx`).
    #[arg(long, default_value = "0.01plx")]
    price_cap: String,
    /// `standard` (the protocol's random audits) or `full` (always re-executed).
    #[arg(long, default_value = "standard")]
    audit: String,
    /// Blocks the provider has to commit before the job is refunded and the provider slashed.
    /// Default: enough for the slowest provider whose ask is within --price-cap to accept
    /// --max-fuel (providers refuse jobs they cannot finish in time), and at least 200.
    #[arg(long)]
    deadline_blocks: Option<u64>,
    /// Write the raw output bytes to this file too.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Give up waiting after this many seconds (the job itself goes on). A node that is down or
    /// restarting meanwhile is waited for, within this time.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

#[derive(clap::Subcommand)]
pub enum JobCommand {
    /// Post a job, follow it to settlement, check and print its output and bill.
    Run(JobRunArgs),
    /// A job's status on chain.
    Status { id: String },
    /// Fetch a committed job's output from its provider, check it and print it.
    Result {
        id: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Cancel a job no provider matched, for a full refund of its escrow.
    Cancel {
        id: String,
        #[arg(long)]
        from: String,
    },
    /// Re-run a committed job here and compare it with the provider's commitment.
    ///
    /// Fetches the job's module, blobs and input from the node (hash-checked), runs it with the
    /// provider's segment size and compares output hash, fuel, segments, trace root and the
    /// failed flag. Exits non-zero naming the fields that differ, or when this machine's run
    /// passes its wall-clock backstop (such a run proves nothing). With --dispute, the job's
    /// consumer (--from) then disputes the commitment on chain (a deposit of the job's value)
    /// and plays the dissection from its own trace until the chain rules.
    Verify {
        id: String,
        /// Open a dispute when the commitment differs, and play it to the ruling.
        #[arg(long, requires = "from")]
        dispute: bool,
        /// The consumer's key (with --dispute).
        #[arg(long)]
        from: Option<String>,
        /// Give up following the dispute after this many seconds (it goes on on chain).
        #[arg(long, default_value_t = 300)]
        timeout_secs: u64,
    },
}

pub fn run_blob(client: &Client, json_mode: bool, command: BlobCommand) -> Result<()> {
    match command {
        BlobCommand::Put { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let hash = ContentHash::of(&bytes);
            let stored = client.put_blob(&hash, bytes)?;
            crate::print(
                json_mode,
                json!({"hash": stored.hash, "size": stored.size}),
                stored.hash.clone(),
            );
        }
        BlobCommand::Get { hash, out } => {
            let name = parse_content_hash(&hash)?;
            let bytes = client
                .get_blob(&name, plexus_types::limits::BLOB_BYTES_MAX)?
                .with_context(|| format!("the node has no blob {hash}"))?;
            if ContentHash::of(&bytes) != name {
                bail!("the node served bytes that do not match {hash}");
            }
            write_out(out.as_ref(), &bytes)?;
        }
    }
    Ok(())
}

fn write_out(out: Option<&PathBuf>, bytes: &[u8]) -> Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(bytes)?;
            Ok(())
        }
    }
}

fn parse_hash(text: &str) -> Result<Digest> {
    parse_digest(text).with_context(|| format!("{text:?} is not a 64-hex-digit hash"))
}

fn parse_content_hash(text: &str) -> Result<ContentHash> {
    ContentHash::parse(text).with_context(|| format!("{text:?} is not a 64-hex-digit hash"))
}

/// The chain's view of the job, once per poll.
fn job(client: &Client, id: &str) -> Result<JobDto> {
    Ok(client.job(id)?)
}

/// The chain's view of the job and the chain's height, waiting out a node that is down or
/// restarting until `deadline` (the job goes on meanwhile).
fn poll_job(client: &Client, id: &str, deadline: Instant) -> Result<(JobDto, u64)> {
    let job = client.until(deadline, || client.job(id))?;
    let height = client.until(deadline, || client.status())?.height;
    Ok((job, height))
}

/// Follows a job until it is settled, expired or cancelled, drawing the stages as a bar.
fn follow(client: &Client, id: &str, timeout: Duration, show: bool) -> Result<JobDto> {
    let stages = ["posted", "matched", "running", "committed", "settled"];
    let bar = indicatif::ProgressBar::new(stages.len() as u64);
    if show {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{elapsed:>4} [{bar:25}] {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = Instant::now();
    let mut provider: Option<Client> = None;
    loop {
        let (current, height) = poll_job(client, id, started + timeout)?;
        let stage = match current.status {
            JobStatus::Posted => 1,
            JobStatus::Assigned if running(client, &mut provider, &current) => 3,
            JobStatus::Assigned => 2,
            JobStatus::Committed => 4,
            JobStatus::Settled => 5,
            _ => {
                bar.abandon_with_message(format!("job {}", current.status));
                return Ok(current);
            }
        };
        bar.set_position(stage);
        bar.set_message(match stage {
            1 => "posted, waiting for a match".to_string(),
            2 => format!(
                "matched to {}",
                current.provider.clone().unwrap_or_default()
            ),
            3 => "running".to_string(),
            4 => match (&current.dispute, &current.audit_record) {
                (Some(dispute), _) => format!(
                    "committed, disputed: round {}, {} to move",
                    dispute.round,
                    dispute.to_move.map_or("-", Turn::as_str)
                ),
                (None, Some(audit)) if audit.stage.is_open() => {
                    format!("committed, under a {} audit", audit.kind)
                }
                _ => format!(
                    "committed, settling at block {}",
                    current.settle_height.unwrap_or(0)
                ),
            },
            _ => JobStatus::Settled.to_string(),
        });
        if stage == 5 {
            bar.finish_with_message(JobStatus::Settled.as_str());
            return Ok(current);
        }
        if stage == 1 && height > current.posted_height {
            // Matching happens only in the block that includes the job.
            bar.abandon_with_message("no provider matched");
            return Ok(current);
        }
        if started.elapsed() > timeout {
            bar.abandon_with_message("still waiting");
            bail!(
                "job {id} is {} after {}s; follow it with `plexus job status {id}`",
                current.status,
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The API URL of the provider a job was assigned to.
fn provider_endpoint(client: &Client, job: &JobDto) -> Result<String> {
    let provider = job.provider.as_deref().context("the job has no provider")?;
    let address = provider
        .parse()
        .map_err(|e| anyhow::anyhow!("provider {provider:?}: {e}"))?;
    Ok(client.provider(&address)?.endpoint)
}

/// Whether the provider has picked the job up (best effort: the chain does not know). The
/// provider's API client is resolved once and kept in `provider` for the following polls;
/// it asks once per poll, so a provider that is down does not hold up the next one.
fn running(client: &Client, provider: &mut Option<Client>, job: &JobDto) -> bool {
    if provider.is_none() {
        *provider = provider_endpoint(client, job)
            .ok()
            .map(|endpoint| Client::new(&endpoint).with_retry(RetryPolicy::NONE));
    }
    provider.as_ref().is_some_and(|provider| {
        provider
            .get_bytes(&format!("/v1/jobs/{}", job.id), JOB_RECORD_BYTES_MAX)
            .ok()
            .flatten()
            .is_some()
    })
}

/// Fetches a committed job's output from its provider and checks it against the commitment.
fn fetch_output(client: &Client, job: &JobDto) -> Result<Vec<u8>> {
    let endpoint = provider_endpoint(client, job)?;
    let endpoint = endpoint.as_str();
    let expected = job
        .output_hash
        .context("the job has no commitment yet")?
        .hash();
    let bytes = Client::new(endpoint)
        .get_bytes(
            &format!("/v1/jobs/{}/output", job.id),
            plexus_exec::OUTPUT_BYTES_MAX as u64,
        )?
        .with_context(|| {
            format!(
                "provider {endpoint} does not serve the output of {}",
                job.id
            )
        })?;
    let actual = ContentHash::of(&bytes);
    if actual != expected {
        bail!(
            "provider {endpoint} served an output hashing to {actual}, not the committed {expected}"
        );
    }
    Ok(bytes)
}

/// Why a failed job failed, checked against its commitment: a refusal (module not admitted,
/// content unavailable) has its text as the committed output; a trap commits `trap_root(code)`.
fn failure(client: &Client, job: &JobDto) -> Result<String> {
    let expected = job.output_hash.context("the job has no commitment")?.hash();
    for code in plexus_types::trace::TrapCode::ALL {
        if plexus_types::trace::trap_root(code.code()) == expected {
            return Ok(format!("trapped: {}", code.name()));
        }
    }
    let bytes = fetch_output(client, job)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn run_job(client: &Client, json_mode: bool, command: JobCommand) -> Result<()> {
    match command {
        JobCommand::Run(args) => run(client, json_mode, args),
        JobCommand::Status { id } => {
            let current = job(client, &id)?;
            let text = job_text(&current);
            crate::print(json_mode, serde_json::to_value(&current)?, text);
            Ok(())
        }
        JobCommand::Result { id, out } => {
            let current = job(client, &id)?;
            if current.failed == Some(true) {
                bail!("job {id} failed: {}", failure(client, &current)?);
            }
            let bytes = fetch_output(client, &current)?;
            if let Some(path) = out.as_ref() {
                write_out(Some(path), &bytes)?;
            }
            let output = decode_output(&current, &bytes);
            crate::print(
                json_mode,
                json!({"job_id": current.id, "output_hash": current.output_hash, "fuel": current.total_fuel, "paid": current.paid, "output": output}),
                format!("{}\noutput  {}", job_text(&current), output_text(&output)),
            );
            Ok(())
        }
        JobCommand::Verify {
            id,
            dispute,
            from,
            timeout_secs,
        } => {
            let found = verify(client, json_mode, &id)?;
            match (found, dispute, from) {
                (Some((claim, leaves)), true, Some(from)) => dispute_job(
                    client,
                    json_mode,
                    &id,
                    &from,
                    claim,
                    &leaves,
                    Duration::from_secs(timeout_secs),
                ),
                (Some(_), _, _) => bail!(
                    "job {id}: the provider's commitment differs from this machine's run; dispute it with `plexus job verify {id} --dispute --from KEY`"
                ),
                (None, _, _) => Ok(()),
            }
        }
        JobCommand::Cancel { id, from } => {
            let digest = parse_hash(&id)?;
            let status = crate::send(
                client,
                json_mode,
                &from,
                None,
                Payload::JobCancel { job: digest },
            )?;
            crate::print_tx_status(json_mode, &status);
            Ok(())
        }
    }
}

fn height_text(height: Option<u64>) -> String {
    height.map_or_else(|| "-".to_string(), |h| h.to_string())
}

fn job_text(job: &JobDto) -> String {
    let mut lines = vec![
        format!("job       {}", job.id),
        format!("status    {}", job.status),
        format!("consumer  {}", job.consumer),
        format!("escrow    {}", crate::plx(job.escrow)),
    ];
    if let Some(provider) = &job.provider {
        lines.push(format!("provider  {provider}"));
    }
    if let Some(fuel) = job.total_fuel {
        lines.push(format!("fuel      {fuel} of {}", job.max_fuel));
    }
    if let Some(paid) = job.paid {
        lines.push(format!("paid      {}", crate::plx(paid)));
    }
    if let Some(refunded) = job.refunded {
        lines.push(format!("refunded  {}", crate::plx(refunded)));
    }
    if let Some(slashed) = job.slashed {
        lines.push(format!(
            "slashed   {} (from the provider's bond)",
            crate::plx(slashed)
        ));
    }
    if let Some(audit) = &job.audit_record {
        let segments = if audit.kind == AuditKind::Light {
            format!(" of segments {:?}", audit.segments)
        } else {
            String::new()
        };
        lines.push(format!(
            "audit     {}{segments} by {}: {}",
            audit.kind, audit.verifier, audit.stage
        ));
    }
    if let Some(dispute) = &job.dispute {
        let who = if dispute.by_verifier {
            "verifier"
        } else {
            "consumer"
        };
        let state = match &dispute.ruling {
            Some(ruling) => format!(
                "{} lost ({}), slashed {}, {} to the winner",
                if ruling.provider_lost {
                    "the provider"
                } else {
                    "the challenger"
                },
                ruling.end,
                crate::plx(ruling.slashed),
                crate::plx(ruling.to_winner)
            ),
            None => format!(
                "round {}, leaves {}..{}, {} to move by block {}",
                dispute.round,
                dispute.lo,
                dispute.hi,
                dispute.to_move.map_or("-", Turn::as_str),
                dispute.due_height
            ),
        };
        lines.push(format!(
            "dispute   by the {who} {}: {state}",
            dispute.challenger
        ));
    }
    lines.join("\n")
}

fn run(client: &Client, json_mode: bool, args: JobRunArgs) -> Result<()> {
    let started = Instant::now();
    let (module, module_hash, input) = job_content(&args)?;
    let price_cap =
        parse_amount(&args.price_cap).map_err(|e| anyhow::anyhow!("--price-cap: {e}"))?;
    let audit = match args
        .audit
        .parse()
        .map_err(|e| anyhow::anyhow!("--audit: {e}"))?
    {
        plexus_client::dto::AuditClass::Standard => AuditClass::Standard,
        plexus_client::dto::AuditClass::Full => AuditClass::Full,
    };
    let max_fuel = match args.max_fuel {
        Some(fuel) => fuel,
        None => module::fuel_for(&module, &input)?.unwrap_or(MAX_FUEL_DEFAULT),
    };
    if max_fuel > plexus_types::limits::JOB_FUEL_MAX {
        bail!(
            "the job needs up to {max_fuel} fuel, over the limit of {} for one job: split the input into smaller jobs",
            plexus_types::limits::JOB_FUEL_MAX
        );
    }
    let deadline_blocks = match args.deadline_blocks {
        Some(blocks) => blocks,
        None => deadline_for(client, max_fuel, price_cap)?,
    };
    let (blob_hashes, input_hash) = upload(client, &module, module_hash, &input)?;
    let payload = Payload::JobPost {
        module: module_hash,
        blobs: blob_hashes,
        input: input_hash,
        max_fuel,
        price_cap_per_mfuel: price_cap,
        audit,
        deadline_blocks,
    };
    let id = crate::send(client, json_mode, &args.from, None, payload)?.hash;
    let show = !json_mode && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let done = follow(client, &id, Duration::from_secs(args.timeout_secs), show)?;
    settled(client, &id, &done, price_cap, &args.from, max_fuel)?;
    let bytes = fetch_output(client, &done)?;
    if let Some(path) = args.out.as_ref() {
        write_out(Some(path), &bytes)?;
    }
    print_result(json_mode, &id, &done, &bytes, max_fuel, started);
    Ok(())
}

/// Deadline blocks enough for every provider whose ask is within `price_cap` to accept
/// `max_fuel` at its registered speed ([`plexus_provider::acceptance::blocks_needed`] at the
/// shortest block time providers assume, plus a margin for matching and fetching the content),
/// and at least [`DEADLINE_BLOCKS_MIN`]. Refuses, before any money moves, a job no deadline the
/// chain allows would fit.
fn deadline_for(client: &Client, max_fuel: u64, price_cap: plexus_types::Amount) -> Result<u64> {
    let slowest = client
        .providers()?
        .iter()
        .filter(|p| {
            p.ask_per_mfuel
                .parse::<u128>()
                .is_ok_and(|ask| ask <= price_cap)
        })
        .map(|p| p.fuel_per_second)
        .min();
    let Some(speed) = slowest else {
        return Ok(DEADLINE_BLOCKS_MIN);
    };
    let needed = plexus_provider::acceptance::blocks_needed(
        max_fuel,
        speed,
        plexus_provider::agent::BLOCK_MS_ASSUMED,
    );
    let blocks = (needed + needed / 4 + DEADLINE_MARGIN_BLOCKS).max(DEADLINE_BLOCKS_MIN);
    let most = plexus_state::Params::default().job_deadline_max_blocks;
    if blocks > most {
        bail!(
            "{max_fuel} fuel needs about {blocks} blocks at the slowest provider's {speed} fuel/s, over the chain's limit of {most}: split the input into smaller jobs, or pass --deadline-blocks and a --price-cap only faster providers meet"
        );
    }
    Ok(blocks)
}

/// The job's module (with its blobs), its hash and the input, checked with the executor's own
/// admission rules and limits before any money moves.
fn job_content(args: &JobRunArgs) -> Result<(Module, ContentHash, Vec<u8>)> {
    let mut module = resolve_module(&args.module, args.precise)?;
    let admitted = plexus_exec::admit(&module.wasm)
        .map_err(|e| anyhow::anyhow!("the module cannot run on Plexus: {e}"))?;
    let module_hash = admitted.hash;
    let input = read_input(&module, &args.input, args.precise, args.max_new_tokens)?;
    if input.len() > plexus_exec::INPUT_BYTES_MAX {
        bail!(
            "the input is {} bytes, over the executor's limit of {} bytes",
            input.len(),
            plexus_exec::INPUT_BYTES_MAX
        );
    }
    for path in &args.blobs {
        let blob =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if blob.len() as u64 > plexus_types::limits::BLOB_BYTES_MAX {
            bail!(
                "--blob {} is {} bytes, over the executor's limit of {} bytes",
                path.display(),
                blob.len(),
                plexus_types::limits::BLOB_BYTES_MAX
            );
        }
        module.blobs.push(blob);
    }
    if module.blobs.len() > plexus_types::limits::JOB_BLOBS_MAX {
        bail!(
            "the job names {} blobs, over the limit of {}",
            module.blobs.len(),
            plexus_types::limits::JOB_BLOBS_MAX
        );
    }
    Ok((module, module_hash, input))
}

/// Uploads everything the provider will fetch by hash (idempotent on the node); the hashes of
/// the blobs and the input.
fn upload(
    client: &Client,
    module: &Module,
    module_hash: ContentHash,
    input: &[u8],
) -> Result<(Vec<ContentHash>, ContentHash)> {
    client.put_blob(&module_hash, module.wasm.clone())?;
    let mut blob_hashes = Vec::with_capacity(module.blobs.len());
    for blob in &module.blobs {
        let hash = ContentHash::of(blob);
        client.put_blob(&hash, blob.clone())?;
        blob_hashes.push(hash);
    }
    let input_hash = ContentHash::of(input);
    client.put_blob(&input_hash, input.to_vec())?;
    Ok((blob_hashes, input_hash))
}

/// An error unless job `done` settled without failing, saying what happened instead.
fn settled(
    client: &Client,
    id: &str,
    done: &JobDto,
    price_cap: plexus_types::Amount,
    from: &str,
    max_fuel: u64,
) -> Result<()> {
    match done.status {
        JobStatus::Settled => {}
        JobStatus::Posted => bail!(
            "no provider matched job {id}: either --price-cap {} is below every ask, or the job's value (max fuel {max_fuel} at a provider's ask) is more than any provider's bond covers under the chain's bond rule (see `plexus query providers`; smaller jobs match); cancel it for a refund with `plexus job cancel {id} --from {from}`",
            DisplayPlx(price_cap),
        ),
        JobStatus::Refuted => bail!(
            "job {id} was refuted: the provider lost the dispute over its commitment, was slashed {} and you were refunded {}; see `plexus job status {id}`",
            crate::plx(done.slashed.unwrap_or_default()),
            crate::plx(done.refunded.unwrap_or_default())
        ),
        other => bail!(
            "job {id} ended {other}: refunded {}",
            crate::plx(done.refunded.unwrap_or_default())
        ),
    }
    if done.failed == Some(true) {
        bail!(
            "job {id} failed: {} (fuel {} of {}, paid {})",
            failure(client, done)?,
            done.total_fuel.unwrap_or(0),
            max_fuel,
            crate::plx(done.paid.unwrap_or_default())
        );
    }
    Ok(())
}

/// Prints a settled job's result, its bill and its output `bytes`.
fn print_result(
    json_mode: bool,
    id: &str,
    done: &JobDto,
    bytes: &[u8],
    max_fuel: u64,
    started: Instant,
) {
    let output = decode_output(done, bytes);
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let value = json!({
        "job_id": id,
        "provider": done.provider,
        "output_hash": done.output_hash,
        "failed": done.failed,
        "fuel": done.total_fuel,
        "max_fuel": max_fuel,
        "escrow": done.escrow,
        "paid": done.paid,
        "refunded": done.refunded,
        "segments": done.segments,
        "trace_root": done.trace_root,
        "blocks": {
            "posted": done.posted_height,
            "matched": done.assigned_height,
            "committed": done.committed_height,
            "settled": done.finished_height,
        },
        "elapsed_ms": elapsed_ms,
        "output": output,
    });
    let text = format!(
        "{}\nblocks    posted {}, matched {}, committed {}, settled {}\ntime      {:.1}s\noutput    {}",
        job_text(done),
        done.posted_height,
        height_text(done.assigned_height),
        height_text(done.committed_height),
        height_text(done.finished_height),
        elapsed_ms as f64 / 1000.0,
        output_text(&output)
    );
    crate::print(json_mode, value, text);
}

/// The consumer disputes job `id` with its own result and plays the challenger from its own
/// trace until the chain rules, through the one dispute loop (`plexus_client::dispute`). The
/// settlement of a resolved game is the provider's to send; if it does not, it loses at the
/// deadline.
fn dispute_job(
    client: &Client,
    json_mode: bool,
    id: &str,
    from: &str,
    claim: plexus_types::job::Commitment,
    leaves: &[(u64, ContentHash)],
    timeout: Duration,
) -> Result<()> {
    let job_id = HexDigest(parse_hash(id)?);
    crate::send(
        client,
        json_mode,
        from,
        None,
        Payload::DisputeOpen {
            job: job_id.0,
            claim,
        },
    )?;
    if !json_mode {
        eprintln!("dispute opened over job {id}; playing the challenger");
    }
    let mut player = dispute::Player::new(
        plexus_fueltrace::dissection::Role::Challenger,
        plexus_client::dispute::next_move,
        false,
        dispute::RESEND_AFTER_BLOCKS,
    );
    let mut host = Consumer {
        client,
        from,
        leaves,
        json_mode,
    };
    let poll = Duration::from_millis(200);
    let Some(current) = player.play_to_ruling(client, &job_id, &mut host, timeout, poll)? else {
        bail!(
            "job {id}'s dispute is still open after {}s; follow it with `plexus job status {id}`",
            timeout.as_secs()
        );
    };
    let ruling = current
        .dispute
        .as_ref()
        .and_then(|dispute| dispute.ruling.as_ref())
        .context("a ruled dispute shows its ruling")?;
    let value = json!({
        "job_id": id,
        "provider_lost": ruling.provider_lost,
        "end": ruling.end,
        "slashed": ruling.slashed,
        "to_winner": ruling.to_winner,
        "refunded": current.refunded,
        "status": current.status,
    });
    crate::print(json_mode, value, job_text(&current));
    if !ruling.provider_lost {
        bail!("job {id}: the dispute was ruled against you; your deposit is lost");
    }
    Ok(())
}

/// The consumer's side of its dispute: its own trace and key. It keeps no checkpoints, so it
/// never settles.
struct Consumer<'a> {
    client: &'a Client,
    from: &'a str,
    leaves: &'a [(u64, ContentHash)],
    json_mode: bool,
}

impl dispute::Host for Consumer<'_> {
    fn leaves(&self, _job: &Digest) -> Result<Option<dispute::Leaves>, dispute::HostError> {
        Ok(Some(self.leaves.to_vec()))
    }

    fn upload_pre_state(
        &self,
        _job: &Digest,
        index: u64,
    ) -> Result<ContentHash, dispute::HostError> {
        Err(format!("a consumer keeps no checkpoint {index} to settle from").into())
    }

    fn submit(&mut self, payload: Payload) -> Result<String, dispute::HostError> {
        let tx = crate::sign(self.client, self.from, None, payload)?;
        Ok(self.client.submit(&tx)?)
    }

    fn sent(&mut self, sent: &dispute::Sent) {
        if !self.json_mode {
            eprintln!(
                "dispute round {}: answered {} over leaves {}..{} ({})",
                sent.state.round, sent.state.phase, sent.state.lo, sent.state.hi, sent.tx
            );
        }
    }

    fn failed(&mut self, err: &dispute::PlayError) {
        eprintln!("dispute step not taken, trying again: {err}");
    }
}

/// A consumer's own result of a job: its commitment and its trace `(fuel, state_root)`.
type OwnResult = (plexus_types::job::Commitment, Vec<(u64, ContentHash)>);

/// Re-runs job `id` and prints the comparison; `Some(own result)` when the provider's
/// commitment differs.
fn verify(client: &Client, json_mode: bool, id: &str) -> Result<Option<OwnResult>> {
    let job = job(client, id)?;
    let (Some(output_hash), Some(total_fuel), Some(segments), Some(trace_root), Some(failed)) = (
        job.output_hash.map(|h| h.to_string()),
        job.total_fuel,
        job.segments,
        job.trace_root.map(|h| h.to_string()),
        job.failed,
    ) else {
        bail!(
            "job {id} is {}: there is no commitment to verify",
            job.status
        );
    };
    let here = crate::recompute::recompute(client, &job)?;
    let checks = [
        ("output_hash", output_hash.clone(), here.output_hash.clone()),
        ("fuel", total_fuel.to_string(), here.total_fuel.to_string()),
        ("segments", segments.to_string(), here.segments.to_string()),
        ("trace_root", trace_root.clone(), here.trace_root.clone()),
        ("failed", failed.to_string(), here.failed.to_string()),
    ];
    let differing: Vec<&str> = checks
        .iter()
        .filter(|(_, committed, computed)| committed != computed)
        .map(|(name, _, _)| *name)
        .collect();
    let value = json!({
        "job_id": job.id,
        "agrees": differing.is_empty(),
        "differs": differing,
        "committed": {"output_hash": output_hash, "fuel": total_fuel, "segments": segments, "trace_root": trace_root, "failed": failed},
        "computed": {"output_hash": here.output_hash, "fuel": here.total_fuel, "segments": here.segments, "trace_root": here.trace_root, "failed": here.failed},
    });
    let text = checks
        .iter()
        .map(|(name, committed, computed)| {
            let mark = if committed == computed {
                "ok  "
            } else {
                "DIFF"
            };
            format!("{mark} {name:<12} committed {committed}  computed {computed}")
        })
        .collect::<Vec<_>>()
        .join("\n");
    crate::print(json_mode, value, text);
    if differing.is_empty() {
        return Ok(None);
    }
    eprintln!(
        "job {id}: the provider's commitment differs from this machine's run in {}",
        differing.join(", ")
    );
    let claim = plexus_types::job::Commitment {
        output_hash: parse_content_hash(&here.output_hash)?,
        total_fuel: here.total_fuel,
        segments: u32::try_from(here.segments)?,
        trace_root: parse_content_hash(&here.trace_root)?,
        failed: here.failed,
    };
    Ok(Some((claim, here.leaves)))
}
