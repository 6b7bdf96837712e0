//! `plexus`: the one binary of Plexus. Thin: parse, wire, print.

mod bench;
mod bench_exec;
mod bench_flood;
mod bench_gemm;
mod bench_kit;
mod bench_models;
mod bench_smollm2;
mod bench_storage;
mod bench_store;
mod bench_verify;
mod ceremony;
mod devnet;
mod gov;
mod job;
mod keys;
mod provider;
mod recompute;
mod stake;
mod store;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use plexus_client::{Client, FEE_DEFAULT, TxBuilder, dto::TxStatusDto};
use plexus_types::{
    Address, Payload,
    amount::{DisplayPlx, parse_amount},
};
use serde_json::json;
use std::{path::PathBuf, time::Duration};

#[derive(Parser)]
#[command(
    name = "plexus",
    version,
    about = "Plexus: a decentralized network for AI compute and storage, checked not trusted."
)]
struct Cli {
    /// Node API URL.
    #[arg(
        long,
        global = true,
        env = "PLEXUS_NODE",
        default_value = "http://127.0.0.1:8080"
    )]
    node: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage keys in the keystore ($PLEXUS_HOME/keys, default ~/.plexus/keys).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Run a local network (validator processes and, with --providers, compute providers) with
    /// funded dev keys until Ctrl-C.
    Devnet(devnet::DevnetArgs),
    /// Set up or run a node that is not a devnet.
    Node {
        #[command(subcommand)]
        command: devnet::NodeCommand,
    },
    /// Write a genesis file: a devnet's, whose beacon key is dealt here, or (with
    /// --ceremony-draft, then `plexus genesis ceremony`) a real network's, whose key the genesis
    /// validators make together without a dealer.
    Genesis(devnet::GenesisArgs),
    /// Send transactions.
    Tx {
        #[command(subcommand)]
        command: TxCommand,
    },
    /// Bond, unbond and delegate stake; set a validator's commission; see and claim staking
    /// rewards.
    Stake {
        #[command(subcommand)]
        command: StakeCommand,
    },
    /// Governance: propose parameter changes, vote with bonded stake, read proposals. A
    /// devnet's voting period is 40 blocks (the default chain's 1 000).
    Gov {
        #[command(subcommand)]
        command: gov::GovCommand,
    },
    /// Read chain state.
    Query {
        #[command(subcommand)]
        command: QueryCommand,
    },
    /// Run a provider: sell this machine's compute.
    Provider {
        #[command(subcommand)]
        command: provider::ProviderCommand,
    },
    /// Post compute jobs and read their results.
    Job {
        #[command(subcommand)]
        command: job::JobCommand,
    },
    /// Store files on the network's providers (sealed to your key, erasure-coded, paid from an
    /// escrow) and read them back.
    Store {
        #[command(subcommand)]
        command: store::StoreCommand,
    },
    /// Upload and download blobs (modules, weights, inputs) by hash.
    Blob {
        #[command(subcommand)]
        command: job::BlobCommand,
    },
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a new key.
    New { name: String },
    /// List keys with their addresses.
    List,
    /// Show one key's address.
    Show { name: String },
}

#[derive(clap::Args)]
struct SendArgs {
    /// Sending key's name.
    #[arg(long)]
    from: String,
    /// Fee in base units or PLX (default: the chain minimum).
    #[arg(long)]
    fee: Option<String>,
    /// Return after submission instead of waiting for finality.
    #[arg(long)]
    no_wait: bool,
}

#[derive(Subcommand)]
enum TxCommand {
    /// Transfer PLX to an address or a key name.
    Transfer {
        #[command(flatten)]
        send: SendArgs,
        /// Recipient: an address or a key name.
        #[arg(long)]
        to: String,
        /// `1.5plx` or base units.
        #[arg(long)]
        amount: String,
    },
}

#[derive(Subcommand)]
enum StakeCommand {
    /// Bond self-stake (the first bond registers you as a validator).
    Bond {
        #[command(flatten)]
        send: SendArgs,
        /// `1.5plx` or base units.
        #[arg(long)]
        amount: String,
    },
    /// Start unbonding self-stake.
    Unbond {
        #[command(flatten)]
        send: SendArgs,
        /// `1.5plx` or base units.
        #[arg(long)]
        amount: String,
    },
    /// Delegate to a validator.
    Delegate {
        #[command(flatten)]
        send: SendArgs,
        /// The validator: an address or a key name.
        #[arg(long)]
        validator: String,
        /// `1.5plx` or base units.
        #[arg(long)]
        amount: String,
    },
    /// Start unbonding a delegation.
    Undelegate {
        #[command(flatten)]
        send: SendArgs,
        /// The validator: an address or a key name.
        #[arg(long)]
        validator: String,
        /// `1.5plx` or base units.
        #[arg(long)]
        amount: String,
    },
    /// Set your validator's commission: the share of its part of each epoch's validator
    /// emission it keeps before the rest is shared with its delegators pro rata to stake. It
    /// takes effect from the next epoch's payout; the chain refuses more than
    /// `commission_max_bps` (5 000 by default) or a second change within
    /// `commission_change_epochs_min` epochs (1 by default).
    Commission {
        #[command(flatten)]
        send: SendArgs,
        /// The commission in basis points (1 000 = 10%).
        #[arg(long)]
        bps: u32,
    },
    /// Show the staking rewards an account has accrued (commissions and stake shares of the
    /// validators' emission, paid at each epoch's last block), with its self-bond and
    /// delegations.
    Rewards {
        /// The account: a key name or an address.
        #[arg(long)]
        from: String,
    },
    /// Claim all accrued staking rewards into the balance (refused before sending if nothing
    /// has accrued).
    Withdraw {
        #[command(flatten)]
        send: SendArgs,
    },
}

#[derive(Subcommand)]
enum QueryCommand {
    /// An account by address or key name.
    Account { address: String },
    /// A finalized block (default: the latest).
    Block { height: Option<u64> },
    /// A transaction by hash.
    Tx { hash: String },
    /// Registered validators.
    Validators,
    /// Registered compute providers.
    Providers,
    /// Registered verifiers (FuelTrace audits and disputes).
    Verifiers,
    /// Chain status.
    Status,
}

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLEXUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

pub fn print(json_mode: bool, value: serde_json::Value, text: String) {
    if json_mode {
        print_line(&serde_json::to_string_pretty(&value).expect("JSON values serialize"));
    } else {
        print_line(&text);
    }
}

/// Writes `text` and a line break to stdout. A reader that closed the pipe (`plexus ... | head`)
/// ends the command quietly with success, as Unix tools do; `println!` would panic.
pub fn print_line(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(err) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {err}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let client = Client::new(&cli.node);
    match cli.command {
        Command::Keys { command } => run_keys(cli.json, command),
        Command::Devnet(args) => devnet::run_devnet(args),
        Command::Node { command } => devnet::run_node(command),
        Command::Genesis(args) => devnet::run_genesis(args, cli.json),
        Command::Tx {
            command: TxCommand::Transfer { send, to, amount },
        } => {
            let payload = Payload::Transfer {
                to: keys::resolve_recipient(&to)?,
                amount: amount_arg(&amount)?,
            };
            send_tx(&client, cli.json, send, payload)
        }
        Command::Stake { command } => {
            let (send, payload) = match command {
                StakeCommand::Bond { send, amount } => (
                    send,
                    Payload::Bond {
                        amount: amount_arg(&amount)?,
                    },
                ),
                StakeCommand::Unbond { send, amount } => (
                    send,
                    Payload::Unbond {
                        amount: amount_arg(&amount)?,
                    },
                ),
                StakeCommand::Delegate {
                    send,
                    validator,
                    amount,
                } => (
                    send,
                    Payload::Delegate {
                        validator: keys::resolve_recipient(&validator)?,
                        amount: amount_arg(&amount)?,
                    },
                ),
                StakeCommand::Undelegate {
                    send,
                    validator,
                    amount,
                } => (
                    send,
                    Payload::Undelegate {
                        validator: keys::resolve_address(&validator)?,
                        amount: amount_arg(&amount)?,
                    },
                ),
                StakeCommand::Commission { send, bps } => (send, Payload::CommissionSet { bps }),
                StakeCommand::Rewards { from } => return stake::rewards(&client, cli.json, &from),
                StakeCommand::Withdraw { send } => {
                    return stake::withdraw(&client, cli.json, send);
                }
            };
            send_tx(&client, cli.json, send, payload)
        }
        Command::Gov { command } => gov::run(&client, cli.json, command),
        Command::Query { command } => run_query(&client, cli.json, command),
        Command::Provider { command } => provider::run(&client, cli.json, command),
        Command::Job { command } => job::run_job(&client, cli.json, command),
        Command::Store { command } => store::run(&client, cli.json, command),
        Command::Blob { command } => job::run_blob(&client, cli.json, command),
        Command::Bench { command } => bench::run(command, cli.json),
    }
}

fn amount_arg(text: &str) -> Result<u128> {
    parse_amount(text).map_err(|e| anyhow::anyhow!("--amount: {e}"))
}

fn run_keys(json_mode: bool, command: KeysCommand) -> Result<()> {
    use commonware_cryptography::Signer;
    match command {
        KeysCommand::New { name } => {
            let address = Address(keys::create(&name)?.public_key());
            print(
                json_mode,
                json!({"name": name, "address": address.to_string()}),
                format!("created {name}: {address}"),
            );
        }
        KeysCommand::List => {
            let list = keys::list()?;
            let value = json!(
                list.iter()
                    .map(|(n, a)| json!({"name": n, "address": a.to_string()}))
                    .collect::<Vec<_>>()
            );
            let text = if list.is_empty() {
                "no keys (create one with `plexus keys new NAME`)".to_string()
            } else {
                list.iter()
                    .map(|(n, a)| format!("{n:<12} {a}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            print(json_mode, value, text);
        }
        KeysCommand::Show { name } => {
            let address = Address(keys::load(&name)?.public_key());
            print(
                json_mode,
                json!({"name": name, "address": address.to_string()}),
                address.to_string(),
            );
        }
    }
    Ok(())
}

fn send_tx(client: &Client, json_mode: bool, send: SendArgs, payload: Payload) -> Result<()> {
    if send.no_wait {
        let hash = submit(client, &send.from, send.fee.as_deref(), payload)?;
        print(
            json_mode,
            json!({"hash": hash, "status": plexus_client::dto::TxState::Pending}),
            format!("submitted {hash}"),
        );
        return Ok(());
    }
    let done = self::send(client, json_mode, &send.from, send.fee.as_deref(), payload)?;
    print_tx_status(json_mode, &done);
    Ok(())
}

/// Signs `payload` with key `from` (fee: `fee`, else the chain minimum) at the account's next
/// nonce.
fn sign(
    client: &Client,
    from: &str,
    fee: Option<&str>,
    payload: Payload,
) -> Result<plexus_types::SignedTransaction> {
    sign_key(client, &keys::load(from)?, fee, payload)
}

/// [`sign`] with a key in hand (a bench's dev key) rather than a keystore name.
fn sign_key(
    client: &Client,
    key: &plexus_types::PrivateKey,
    fee: Option<&str>,
    payload: Payload,
) -> Result<plexus_types::SignedTransaction> {
    let status = client.status()?;
    let fee = match fee {
        Some(text) => parse_amount(text).map_err(|e| anyhow::anyhow!("--fee: {e}"))?,
        None => status.fee_min.parse().unwrap_or(FEE_DEFAULT),
    };
    let builder = TxBuilder {
        key,
        chain_id: status.chain_id,
        fee,
    };
    let account = client.account(&builder.sender())?;
    Ok(builder.build(account.next_nonce, payload))
}

/// [`sign`] and submit; returns the transaction hash.
fn submit(client: &Client, from: &str, fee: Option<&str>, payload: Payload) -> Result<String> {
    Ok(client.submit(&sign(client, from, fee, payload)?)?)
}

/// How long a sent transaction is waited for, through node restarts.
const FINALITY_TIMEOUT: Duration = Duration::from_secs(60);

/// [`sign`], submit and wait for finality (the same signed bytes are sent again if a node
/// restart lost them); a receipt other than success is an error.
pub fn send(
    client: &Client,
    json_mode: bool,
    from: &str,
    fee: Option<&str>,
    payload: Payload,
) -> Result<TxStatusDto> {
    send_key(client, json_mode, &keys::load(from)?, fee, payload)
}

/// [`send`] with a key in hand rather than a keystore name.
pub fn send_key(
    client: &Client,
    json_mode: bool,
    key: &plexus_types::PrivateKey,
    fee: Option<&str>,
    payload: Payload,
) -> Result<TxStatusDto> {
    let tx = sign_key(client, key, fee, payload)?;
    let done = client.submit_and_wait(&tx, FINALITY_TIMEOUT)?;
    if let Some(receipt) = &done.receipt
        && receipt.status != plexus_client::dto::ReceiptStatus::Success
    {
        // The receipt is still the answer a script wants on stdout.
        print_tx_status(json_mode, &done);
        bail!(
            "transaction {} {}: {}",
            done.hash,
            receipt.status,
            receipt.reason.clone().unwrap_or_default()
        );
    }
    Ok(done)
}

pub fn print_tx_status(json_mode: bool, status: &TxStatusDto) {
    let text = match (&status.height, &status.receipt) {
        (Some(height), Some(receipt)) => format!(
            "hash     {}\nheight   {height}\nstatus   {}{}\nfee      {}",
            status.hash,
            receipt.status,
            receipt
                .reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            DisplayPlx(receipt.fee_burned.parse().unwrap_or(0)),
        ),
        _ => format!("hash     {}\nstatus   {}", status.hash, status.status),
    };
    print(
        json_mode,
        serde_json::to_value(status).expect("DTOs serialize"),
        text,
    );
}

/// An amount of base units (a DTO's amount or its decimal text) in PLX, or the text as it is
/// if it is not one.
pub fn plx(amount: impl std::fmt::Display) -> String {
    let text = amount.to_string();
    text.parse::<u128>()
        .map(|v| DisplayPlx(v).to_string())
        .unwrap_or_else(|_| text.to_string())
}

fn run_query(client: &Client, json_mode: bool, command: QueryCommand) -> Result<()> {
    match command {
        QueryCommand::Account { address } => {
            let account = client.account(&keys::resolve_address(&address)?)?;
            let text = format!(
                "address    {}\nbalance    {}\nnonce      {}\nbonded     {}\nunbonding  {}\nrewards    {}",
                account.address,
                plx(&account.balance),
                account.nonce,
                plx(&account.bonded),
                plx(&account.unbonding),
                plx(&account.rewards)
            );
            print(json_mode, serde_json::to_value(&account)?, text);
        }
        QueryCommand::Block { height } => {
            let block = client.block(height)?;
            let text = format!(
                "height      {}\nhash        {}\ntimestamp   {}\nstate_root  {}\ntxs         {}",
                block.height,
                block.hash,
                block.timestamp,
                block.state_root,
                block.txs.len()
            );
            print(json_mode, serde_json::to_value(&block)?, text);
        }
        QueryCommand::Tx { hash } => print_tx_status(json_mode, &client.tx(&hash)?),
        QueryCommand::Validators => {
            let validators = client.validators()?;
            let text = lines(&validators, validator_line);
            print(json_mode, serde_json::to_value(&validators)?, text);
        }
        QueryCommand::Providers => {
            let providers = client.providers()?;
            let text = lines(&providers, provider_line);
            print(json_mode, serde_json::to_value(&providers)?, text);
        }
        QueryCommand::Verifiers => {
            let verifiers = client.verifiers()?;
            let text = lines(&verifiers, verifier_line);
            print(json_mode, serde_json::to_value(&verifiers)?, text);
        }
        QueryCommand::Status => {
            let status = client.status()?;
            print(
                json_mode,
                serde_json::to_value(&status)?,
                status_text(&status),
            );
        }
    }
    Ok(())
}

/// One line per item, as `line` writes it.
fn lines<T>(items: &[T], line: fn(&T) -> String) -> String {
    items.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// `query validators`: a validator's stake, committee membership and jail.
fn validator_line(v: &plexus_client::dto::ValidatorDto) -> String {
    format!(
        "{} stake {} commission {}{}{}",
        v.address,
        plx(&v.stake),
        stake::percent(v.commission_bps),
        match (v.in_committee, v.in_next_committee) {
            (true, true) => " (committee)",
            (true, false) => " (committee, leaving after this epoch)",
            (false, true) => " (joining the committee next epoch)",
            (false, false) => "",
        },
        if v.jailed {
            format!(" (jailed, slashed {})", plx(&v.slashed))
        } else {
            String::new()
        }
    )
}

/// `query providers`: a provider's offer, bond and record.
fn provider_line(p: &plexus_client::dto::ProviderDto) -> String {
    format!(
        "{} {} ask {}/Mfuel bond {} slashed {} reputation {} done {} audited {} disputes lost {} missed {}{}",
        p.address,
        p.endpoint,
        plx(&p.ask_per_mfuel),
        plx(&p.bond),
        plx(&p.slashed),
        p.reputation,
        p.jobs_done,
        p.audits_passed,
        p.disputes_lost,
        p.jobs_missed,
        if p.active { "" } else { " (inactive)" }
    )
}

/// `query verifiers`: a verifier's bond, speed, load and record.
fn verifier_line(v: &plexus_client::dto::VerifierDto) -> String {
    format!(
        "{} bond {} locked {} speed {} fuel/s capacity {} open {} audits {} missed {} declined {} disputes won {} lost {} canaries flagged {} passed {} earned {} slashed {}{}",
        v.address,
        plx(&v.bond),
        plx(&v.locked),
        v.fuel_per_second,
        v.capacity,
        v.open,
        v.audits_done,
        v.audits_missed,
        v.audits_declined,
        v.disputes_won,
        v.disputes_lost,
        v.canaries_flagged,
        v.canaries_passed,
        plx(&v.earned),
        plx(&v.slashed),
        if v.unbonding_release.is_some() {
            " (deregistering)"
        } else {
            ""
        }
    )
}

/// `query status`: the chain, its epoch and committees, the mempool and the supply.
fn status_text(status: &plexus_client::dto::StatusDto) -> String {
    let change = status
        .epoch_change
        .as_ref()
        .map(|c| {
            format!(
                "; epochs of {} blocks from epoch {} at height {}",
                c.length, c.first_epoch, c.first_height
            )
        })
        .unwrap_or_default();
    format!(
        "chain_id    {}\nheight      {}\nblock       {}\nepoch       {} (heights {}..={}, {} blocks{change}; committee {}, next {}, reshare logs {})\nmempool     {}\nvalidators  {}\nsupply      {}\nseed        {}",
        status.chain_id,
        status.height,
        status.block_hash,
        status.epoch,
        status.epoch_first_height,
        status.epoch_last_height,
        status.epoch_length,
        status.committee,
        status.next_committee,
        status.reshare_logs,
        status.mempool_size,
        status.validators,
        plx(&status.supply.total),
        status.seed
    )
}

/// Default data directory of a devnet.
pub fn default_devnet_dir() -> PathBuf {
    keys::home().join("devnet")
}
