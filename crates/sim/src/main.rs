//! `plexus-sim`: runs the deterministic simulation scenarios over a range of seeds and exits
//! non-zero, naming the scenario and seed, if any run breaks safety or liveness.
//! `cargo xtask sim --seeds N` builds and runs it; `plexus-sim --help` lists the scenarios.
//!
//! `plexus-sim adversarial [--seed S] [--jobs N] [--json]` runs the FuelTrace economics
//! simulation instead (`plexus_sim::adversarial`) and prints its report, as JSON or a table.

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand, builder::PossibleValuesParser};
use plexus_sim::{SCENARIOS, Scenario, fueltrace};
use std::time::Instant;

/// Seeds a sweep runs unless told otherwise.
const SEEDS_DEFAULT: u64 = 5;

#[derive(Parser)]
#[command(
    name = "plexus-sim",
    version,
    about = "Deterministic simulation of Plexus: every scenario (or the ones named) for seeds \
             S..S+N on Commonware's deterministic runtime; a failed run names its scenario and \
             seed.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    sweep: SweepArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Monte-Carlo of FuelTrace's audits, disputes and payments at the chain's default
    /// parameters; then the verifier-load case: several audits drawn at once, slow, restarting
    /// and lying verifiers, through the real chain.
    Adversarial(AdversarialArgs),
}

#[derive(Args)]
struct SweepArgs {
    /// Runs this many seeds, from `--from`.
    #[arg(long, default_value_t = SEEDS_DEFAULT, conflicts_with = "seed")]
    seeds: u64,
    /// The first seed of the sweep.
    #[arg(long, default_value_t = 0, conflicts_with = "seed")]
    from: u64,
    /// Runs this one seed only (to reproduce a failure): `--from S --seeds 1`.
    #[arg(long)]
    seed: Option<u64>,
    /// Runs only this scenario (repeat for several); every scenario when absent.
    #[arg(long = "scenario", value_name = "NAME", value_parser = PossibleValuesParser::new(scenario_names()))]
    scenarios: Vec<String>,
    /// Prints one JSON object per run instead of a line of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AdversarialArgs {
    /// The seed every draw derives from.
    #[arg(long, default_value_t = plexus_sim::adversarial::SEED_DEFAULT)]
    seed: u64,
    /// Jobs simulated per provider kind.
    #[arg(long, default_value_t = plexus_sim::adversarial::JOBS_PER_KIND_DEFAULT)]
    jobs: u64,
    /// Prints the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Every scenario's name, in sweep order: the network scenarios, then `fueltrace`.
fn scenario_names() -> Vec<&'static str> {
    let mut names: Vec<_> = SCENARIOS.iter().map(|s| s.name()).collect();
    names.push(fueltrace::NAME);
    names
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Adversarial(args)) = cli.command {
        return adversarial(&args);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLEXUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    sweep(&cli.sweep)
}

/// The network scenarios a sweep runs (the ones named, in the order named, or all), and
/// whether it runs `fueltrace`.
fn chosen(args: &SweepArgs) -> (Vec<Scenario>, bool) {
    if args.scenarios.is_empty() {
        return (SCENARIOS.to_vec(), true);
    }
    // The parser admitted only known names.
    let network = args
        .scenarios
        .iter()
        .filter_map(|name| Scenario::from_name(name))
        .collect();
    (network, args.scenarios.iter().any(|n| n == fueltrace::NAME))
}

/// Runs every chosen scenario for every seed of the sweep; fails naming each failed run.
fn sweep(args: &SweepArgs) -> Result<()> {
    let seeds = match args.seed {
        Some(seed) => seed..seed.saturating_add(1),
        None => args.from..args.from.saturating_add(args.seeds),
    };
    let (scenarios, with_fueltrace) = chosen(args);
    let mut failures = Vec::new();
    let mut runs = 0;
    if with_fueltrace {
        runs += seeds.end - seeds.start;
        failures.extend(fueltrace_sweep(seeds.clone(), args.json));
    }
    let started = Instant::now();
    for seed in seeds.clone() {
        for scenario in &scenarios {
            runs += 1;
            let run_started = Instant::now();
            match plexus_sim::run(*scenario, seed) {
                Ok(outcome) => print_outcome(&outcome, seed, run_started, args.json),
                Err(err) => {
                    println!("FAIL  {err}");
                    failures.push(err);
                }
            }
        }
    }
    if !scenarios.is_empty() {
        eprintln!(
            "{runs} runs, {} failed, {:.1} s",
            failures.len(),
            started.elapsed().as_secs_f64()
        );
    }
    if !failures.is_empty() {
        bail!(
            "{} of {runs} runs failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

/// The `fueltrace` scenario for every seed, its first seed twice (the same final state root),
/// then its closing line; returns the failures, each naming its seed.
fn fueltrace_sweep(seeds: std::ops::Range<u64>, json: bool) -> Vec<String> {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut passed: Vec<fueltrace::FuelTraceOutcome> = Vec::new();
    for seed in seeds.clone() {
        let run_started = Instant::now();
        match fueltrace::run(seed) {
            Ok(outcome) => {
                print_fueltrace(&outcome, run_started, json);
                passed.push(outcome);
            }
            Err(err) => {
                println!("FAIL  {err}");
                failures.push(err);
            }
        }
    }
    if let Some(first) = passed.iter().find(|o| o.seed == seeds.start) {
        match fueltrace::run(first.seed) {
            Ok(again) if again == *first => {}
            Ok(again) => failures.push(format!(
                "fueltrace seed {}: a second run ended at state root {}, the first at {}",
                first.seed, again.state_root, first.state_root
            )),
            Err(err) => failures.push(format!("fueltrace seed {} (second run): {err}", first.seed)),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let seeds = seeds.end - seeds.start;
    if !failures.is_empty() {
        // Nothing is claimed for a sweep with a failed seed: each failure is named above.
        println!(
            "fueltrace: {seeds} seeds, {} failed (each named above with its seed), {elapsed:.1} s",
            failures.len()
        );
        return failures;
    }
    let sum = |f: fn(&fueltrace::FuelTraceOutcome) -> u64| passed.iter().map(f).sum::<u64>();
    println!(
        "fueltrace: {seeds} seeds, {} cheaters audited, {} refuted and slashed, {} unaudited, {} \
         honest parties slashed, supply conserved; the lazy verifier slashed on all {} canaries \
         drawn to it; {elapsed:.1} s",
        sum(|o| o.cheaters_audited),
        sum(|o| o.cheaters_refuted),
        sum(|o| o.cheaters_unaudited),
        sum(|o| o.honest_slashed),
        sum(|o| o.lazy_canaries),
    );
    failures
}

/// One passing `fueltrace` seed, as a JSON object or a line of text.
fn print_fueltrace(outcome: &fueltrace::FuelTraceOutcome, started: Instant, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "scenario": fueltrace::NAME,
                "seed": outcome.seed,
                "ok": true,
                "blocks": outcome.blocks,
                "jobs": outcome.jobs,
                "cheating_jobs": outcome.cheating_jobs,
                "cheaters_audited": outcome.cheaters_audited,
                "cheaters_refuted": outcome.cheaters_refuted,
                "cheaters_unaudited": outcome.cheaters_unaudited,
                "disputes": outcome.disputes,
                "disputes_replayed": outcome.disputes_replayed,
                "disputes_lapsed": outcome.disputes_lapsed,
                "refuted_by_kind": {
                    "lazy": outcome.refuted_by_kind[0],
                    "bill_inflator": outcome.refuted_by_kind[1],
                    "targeted_corrupter": outcome.refuted_by_kind[2],
                },
                "canaries": outcome.canaries,
                "lazy_canaries": outcome.lazy_canaries,
                "lazy_canaries_passed": outcome.lazy_canaries_passed,
                "honest_slashed": outcome.honest_slashed,
                "state_root": outcome.state_root,
                "wall_ms": started.elapsed().as_millis() as u64,
            })
        );
    } else {
        println!(
            "ok    {:<15} seed {:<6} blocks {:<4} jobs {:<3} cheating {:<3} audited {:<3} refuted {:<3} disputes {:<3} (re-run {:<3} lapsed {:<3}) canaries {:<3} wall {:>6} ms  root {}",
            fueltrace::NAME,
            outcome.seed,
            outcome.blocks,
            outcome.jobs,
            outcome.cheating_jobs,
            outcome.cheaters_audited,
            outcome.cheaters_refuted,
            outcome.disputes,
            outcome.disputes_replayed,
            outcome.disputes_lapsed,
            outcome.canaries,
            started.elapsed().as_millis(),
            &outcome.state_root[..16],
        );
    }
}

/// One passing run, as a JSON object or a line of text.
fn print_outcome(outcome: &plexus_sim::Outcome, seed: u64, started: Instant, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "scenario": outcome.scenario,
                "seed": seed,
                "ok": true,
                "height": outcome.height,
                "state_root": outcome.state_root,
                "txs": outcome.txs,
                "crashes": outcome.crashes,
                "simulated_ms": outcome.simulated_ms,
                "wall_ms": started.elapsed().as_millis() as u64,
                "event_hash": outcome.event_hash,
            })
        );
    } else {
        println!(
            "ok    {:<15} seed {seed:<6} height {:<4} txs {:<6} crashes {:<2} simulated {:>6} ms  wall {:>6} ms  root {}",
            outcome.scenario,
            outcome.height,
            outcome.txs,
            outcome.crashes,
            outcome.simulated_ms,
            started.elapsed().as_millis(),
            &outcome.state_root[..16],
        );
    }
}

/// `plexus-sim adversarial [--seed S] [--jobs N] [--json]`.
fn adversarial(args: &AdversarialArgs) -> Result<()> {
    use plexus_sim::adversarial::{self as adv, AdversarialConfig};
    let started = Instant::now();
    let report = adv::run(&AdversarialConfig::new(args.seed, args.jobs))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    eprintln!(
        "adversarial: seed {}, {} jobs per kind, {:.1} s",
        args.seed,
        args.jobs,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The report as a readable table.
fn print_table(report: &plexus_sim::adversarial::Report) {
    println!(
        "FuelTrace adversarial simulation: seed {}, {} jobs per kind (profits in base units per job)",
        report.seed, report.jobs_per_kind
    );
    println!(
        "{:<19} {:>9} {:>9} {:>8} {:>13} {:>13} {:>9} {:>9}",
        "provider",
        "analytic",
        "measured",
        "rel.err",
        "mean profit",
        "honest same",
        "profit/R",
        "disputes"
    );
    for row in std::iter::once(&report.honest).chain(&report.cheaters) {
        let error = row
            .relative_error
            .map_or_else(|| "-".to_string(), |e| format!("{:.1}%", e * 100.0));
        println!(
            "{:<19} {:>9.5} {:>9.5} {:>8} {:>13.0} {:>13.0} {:>9.3} {:>4}+{:<4}",
            row.kind.name(),
            row.analytic_detection,
            row.measured_detection,
            error,
            row.mean_profit,
            row.mean_profit_honest,
            row.profit_per_price,
            row.disputes_played[0],
            row.disputes_played[1],
        );
    }
    println!(
        "{:<19} {:>13} {:>11} {:>9} {:>9}",
        "verifier", "mean profit", "assignments", "canaries", "passed"
    );
    for row in &report.verifiers {
        println!(
            "{:<19} {:>13.0} {:>11} {:>9} {:>9}",
            format!("{:?}", row.kind).to_lowercase(),
            row.mean_profit,
            row.assignments,
            row.canaries,
            row.canaries_passed
        );
    }
    println!(
        "honest slashes {}; disputes played {} (misresolved {}): rounds max {}, bytes max {} \
         (moves + opening), signed transactions max {} bytes in all, largest {} bytes",
        report.honest_slashes,
        report.disputes_played,
        report.disputes_misresolved,
        report.dispute_rounds_max,
        report.dispute_bytes_max,
        report.dispute_chain_bytes_max,
        report.dispute_tx_bytes_max,
    );
    println!(
        "verification overhead {:.3}% of honest job fuel (canaries {:.3}% more); audit pool \
         collected {} paid {}",
        report.verification_overhead * 100.0,
        report.canary_overhead * 100.0,
        report.audit_pool.collected,
        report.audit_pool.paid,
    );
    print_load(&report.verifier_load);
}

/// The verifier-load case (issue 12) as a table.
fn print_load(load: &plexus_sim::adversarial::LoadReport) {
    println!(
        "verifier load: {} blocks, {} jobs ({} settled), {} audits drawn ({} passed), {} \
         declines ({} closed declined), {} bought full audits found no verifier with room",
        load.blocks,
        load.jobs,
        load.jobs_settled,
        load.audits_drawn,
        load.audits_passed,
        load.declines,
        load.audits_closed_declined,
        load.audits_without_verifier,
    );
    println!(
        "honest verifier slashes {} (must be 0); lying verifier {}; former agent and rules {}; \
         provider slashed {}",
        load.honest_verifier_slashes,
        load.lying_verifier_slashes,
        load.sequential_slashes,
        load.provider_slashed,
    );
    println!(
        "{:<11} {:>4} {:>11} {:>11} {:>5} {:>8} {:>6} {:>8} {:>5} {:>7} {:>9}",
        "verifier",
        "cap",
        "fuel/s",
        "declared",
        "done",
        "declined",
        "missed",
        "slashed",
        "open",
        "at once",
        "restarts"
    );
    for v in &load.verifiers {
        println!(
            "{:<11} {:>4} {:>11} {:>11} {:>5} {:>8} {:>6} {:>8} {:>5} {:>7} {:>4} ({})",
            format!("{:?}", v.kind).to_lowercase(),
            v.capacity,
            v.fuel_per_second,
            v.declared_fuel_per_second,
            v.audits_done,
            v.audits_declined,
            v.audits_missed,
            v.slashed,
            v.open_max,
            v.drawn_at_once_max,
            v.restarts,
            v.restarts_mid_audit,
        );
    }
}
