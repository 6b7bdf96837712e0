//! `plexus provider run`: sell this machine's compute.

use crate::keys;
use anyhow::{Context, Result};
use plexus_types::{amount::parse_amount, job::ResourceProfile};
use std::{net::SocketAddr, path::PathBuf, time::Duration};

#[derive(clap::Subcommand)]
pub enum ProviderCommand {
    /// Register (or update) this machine as a provider and run jobs until Ctrl-C or SIGTERM.
    ///
    /// It registers its speed (fuel per second) with its endpoint, resources, ask and bond, then
    /// heartbeats, runs the jobs the chain assigns to it, posts each commitment, serves outputs
    /// and checkpoints on its API and is paid at settlement.
    ///
    /// Speed: the first start times the standard job several times and takes the median; the
    /// figure is kept in --dir (speed.json), so later starts reuse it instead of measuring
    /// whatever else the machine is doing at that moment. While no job runs it re-measures
    /// every 10 minutes, and updates the on-chain offer only when the median of its recent
    /// samples stays more than 25% off the figure for 3 checks in a row. Delete speed.json to
    /// measure afresh (after a hardware change), or fix the figure with --fuel-per-second.
    ///
    /// Jobs: each assigned job is judged once, when first seen. It is accepted if its max fuel
    /// runs before its deadline at the speed figure with a safety margin of 2x; otherwise it is
    /// refused at no cost to anyone: a commitment with no fuel whose output gives the reason,
    /// which is also logged. The decision is kept in the journal (GET /v1/jobs/ID on the
    /// provider API shows it): a restart on the same --dir resumes every job it accepted,
    /// whatever its speed at that moment.
    ///
    /// Audits: with --verifier-bond it also audits other providers' jobs. It declares its speed
    /// figure and --verifier-capacity to the chain, which grants each audit a deadline that
    /// follows the work (the drawn fuel at that speed, with margin) and draws it only while it
    /// has room; it re-runs up to --verifier-capacity audits at once, and declines (without a
    /// slash) an audit it cannot finish before its deadline.
    ///
    /// Storage: with --storage-bytes N (above 0) it also sells N bytes of disk for storage
    /// deals at --storage-price per GiB-epoch: it posts that offer at start (and again at a
    /// start with other figures, read back from the chain), takes the shards the chain draws to
    /// it on PUT /v1/shards/DEAL/SEGMENT/SLOT (checked against the deal's commitment before it
    /// keeps them under --dir/shards), accepts each on chain, serves them to whoever the deal
    /// lets read them, and deletes those whose deal ended or that were drawn to another
    /// provider. Selling less than the shards drawn to it hold (or 0) offers exactly what it
    /// holds: the chain refuses less.
    Run(Box<ProviderRunArgs>),
    /// Stop being matched to new jobs; the bond returns to the balance after the chain's
    /// provider unbonding period (refused while jobs are in flight).
    Deregister {
        /// The provider's operator key.
        #[arg(long)]
        from: String,
    },
    /// Declare a shard this provider holds faulty before its next challenge (a disk being
    /// replaced, a machine going down for maintenance): its challenges are excused, neither paid
    /// nor burned, for up to the chain's `fault_excuse_epochs_max` epochs from the next one,
    /// and the provider's next valid proof ends the fault. Past the excuse, misses count again
    /// (three in a row lose the shard). Refused while a challenge of the shard is open, for a
    /// shard not active, or already faulty.
    Fault {
        /// The provider's operator key (the shard's holder).
        #[arg(long)]
        from: String,
        /// The stored file's id (its deal).
        #[arg(long)]
        deal: String,
        /// The segment's index in the file, from 0.
        #[arg(long)]
        segment: u32,
        /// The shard's slot in the segment, from 0.
        #[arg(long)]
        slot: u16,
    },
}

#[derive(clap::Args)]
pub struct ProviderRunArgs {
    /// The operator key's name (pays the bond and fees, receives payments).
    #[arg(long)]
    key: String,
    /// Data directory (default $PLEXUS_HOME/provider-KEY).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Where the provider API listens.
    #[arg(long, default_value = "127.0.0.1:7070")]
    listen: SocketAddr,
    /// The URL consumers reach the provider API at (default http://LISTEN).
    #[arg(long)]
    endpoint: Option<String>,
    /// Price per million fuel, in base units or PLX.
    #[arg(long, default_value = "0.001plx")]
    ask: String,
    /// Bond to hold (at least the chain's provider_bond_min); on an update, the amount the bond
    /// is topped up to.
    #[arg(long, default_value = "1000plx")]
    bond: String,
    /// Cores offered: also how many jobs run at once (default: this machine's).
    #[arg(long)]
    cores: Option<u32>,
    /// Memory offered, in MiB.
    #[arg(long, default_value_t = 4096)]
    memory_mb: u64,
    /// Scratch disk offered to jobs, in GB (part of the compute resource profile: what a job's
    /// blobs, checkpoints and outputs may use). Not the storage sold for storage deals, which
    /// is --storage-bytes, kept on a budget of its own beside it.
    #[arg(long, default_value_t = 10)]
    storage_gb: u64,
    /// Bytes of disk sold for storage deals' shards (0: sells none). The chain draws shards to
    /// this provider only while they fit; the disk under --dir must hold them beside
    /// --storage-gb.
    #[arg(long, default_value_t = 0)]
    storage_bytes: u64,
    /// Price of storage per GiB-epoch (2^30 bytes held for one chain epoch), in base units or
    /// PLX: a deal draws this provider only if its price cap is at least this.
    #[arg(long, default_value = "0.001plx")]
    storage_price: String,
    /// Register this speed (fuel per second) instead of measuring it, as a provider and, with
    /// --verifier-bond, as a verifier (its audits' deadlines follow it): no benchmark at start
    /// and none in the background, and --dir's speed.json is neither read nor written. For a figure
    /// measured elsewhere, or devnets and tests that must not depend on the machine's load. Too
    /// high a figure makes the provider accept jobs it may not finish before their deadlines (a
    /// missed deadline burns part of the bond).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    fuel_per_second: Option<u64>,
    /// Another place to fetch job blobs from (a node or provider API URL); repeatable.
    #[arg(long = "blob-source")]
    blob_sources: Vec<String>,
    /// Milliseconds between polls of the node.
    #[arg(long, default_value_t = 200)]
    poll_ms: u64,
    /// Stop when the parent process exits (how `plexus devnet` runs its providers).
    #[arg(long, hide = true)]
    exit_with_parent: bool,
    /// Also verify other providers' jobs (audits and disputes), holding this verifier bond
    /// (at least the chain's verifier_bond_min); 0 does not verify.
    #[arg(long, default_value = "0")]
    verifier_bond: String,
    /// Audits a verifier re-runs at once, each on its own thread beside the jobs (default: the
    /// cores offered). Declared to the chain, which draws the verifier only while fewer of its
    /// audits are open; an audit it cannot finish before its deadline at the measured speed is
    /// declined, without a slash.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=plexus_types::audit::VERIFIER_CAPACITY_MAX as i64))]
    verifier_capacity: Option<u32>,
    /// TESTING AID: re-run audits no faster than this many fuel per second (and declare that
    /// speed), to watch a slow verifier on any machine.
    #[arg(long, hide = true)]
    throttle_audits: Option<u64>,
    /// TESTING AID: commit a forged output and final state for every job, so anyone can watch a
    /// cheater lose its disputes and its bond. Never use it with real value.
    #[arg(long)]
    forge: bool,
}

pub fn run(
    client: &plexus_client::Client,
    json_mode: bool,
    command: ProviderCommand,
) -> Result<()> {
    let args = match command {
        ProviderCommand::Run(args) => *args,
        ProviderCommand::Deregister { from } => {
            let done = crate::send(
                client,
                json_mode,
                &from,
                None,
                plexus_types::Payload::ProviderDeregister,
            )?;
            crate::print_tx_status(json_mode, &done);
            return Ok(());
        }
        ProviderCommand::Fault {
            from,
            deal,
            segment,
            slot,
        } => return declare_fault(client, json_mode, &from, &deal, segment, slot),
    };
    let node = client.base();
    let key = keys::load(&args.key)?;
    let cores = args.cores.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1)
    });
    plexus_provider::run(plexus_provider::ProviderConfig {
        dir: args
            .dir
            .unwrap_or_else(|| keys::home().join(format!("provider-{}", args.key))),
        key,
        node: node.to_string(),
        blob_sources: args.blob_sources,
        listen: args.listen,
        endpoint: args.endpoint,
        ask_per_mfuel: parse_amount(&args.ask).map_err(|e| anyhow::anyhow!("--ask: {e}"))?,
        bond: parse_amount(&args.bond).map_err(|e| anyhow::anyhow!("--bond: {e}"))?,
        profile: ResourceProfile {
            cores,
            memory_mb: args.memory_mb,
            gpus: 0,
            gpu_model: String::new(),
            storage_gb: args.storage_gb,
        },
        seg_fuel: plexus_exec::SEG_FUEL_DEFAULT,
        fuel_per_second: args.fuel_per_second,
        poll: Duration::from_millis(args.poll_ms),
        exit_with_parent: args.exit_with_parent,
        verifier: plexus_provider::agent::VerifierConfig {
            bond: parse_amount(&args.verifier_bond)
                .map_err(|e| anyhow::anyhow!("--verifier-bond: {e}"))?,
            capacity: args
                .verifier_capacity
                .unwrap_or(cores)
                .clamp(1, plexus_types::audit::VERIFIER_CAPACITY_MAX),
            throttle_fuel_per_second: args.throttle_audits,
        },
        forge: args.forge,
        storage: plexus_provider::agent::storage::rules::OfferWanted {
            capacity_bytes: args.storage_bytes,
            price_per_gib_epoch: parse_amount(&args.storage_price)
                .map_err(|e| anyhow::anyhow!("--storage-price: {e}"))?,
        },
    })
    .context("the provider stopped")
}

/// `provider fault`: checked against the chain first (a shard `from` holds, active, no
/// challenge open), so a declaration the chain would refuse costs no fee.
fn declare_fault(
    client: &plexus_client::Client,
    json_mode: bool,
    from: &str,
    deal: &str,
    segment: u32,
    slot: u16,
) -> Result<()> {
    use plexus_client::dto::{ChallengeOutcome, ShardState};
    let file = crate::store::file_or_unknown(client, deal)?;
    let me = plexus_types::Address(commonware_cryptography::Signer::public_key(&keys::load(
        from,
    )?))
    .to_string();
    let shard = file
        .segments
        .get(segment as usize)
        .and_then(|record| record.shards.get(usize::from(slot)))
        .with_context(|| {
            format!(
                "stored file {deal} has no shard {slot} of segment {segment} ({} segments of {} \
                 shards)",
                file.segments.len(),
                file.file.n
            )
        })?;
    anyhow::ensure!(
        shard.holder == me,
        "shard {slot} of segment {segment} is held by {}, not {from} ({me})",
        shard.holder
    );
    anyhow::ensure!(
        shard.state == ShardState::Active,
        "shard {slot} of segment {segment} is {}: only an active shard can be declared faulty",
        shard.state
    );
    if let Some(challenge) = shard
        .challenge
        .as_ref()
        .filter(|c| c.outcome == ChallengeOutcome::Open)
    {
        anyhow::bail!(
            "shard {slot} of segment {segment} has a challenge open until height {}: answer it \
             (a fault cannot excuse a challenge already drawn), then declare the fault",
            challenge.due_height
        );
    }
    let done = crate::send(
        client,
        json_mode,
        from,
        None,
        plexus_types::Payload::FaultDeclare {
            deal: plexus_types::hash::parse_digest(deal).context("checked by file_or_unknown")?,
            segment,
            shard: slot,
        },
    )?;
    crate::print_tx_status(json_mode, &done);
    Ok(())
}
