//! `plexus-sim`: runs the deterministic simulation scenarios over a range of seeds and exits
//! non-zero, naming the scenario and seed, if any run breaks safety or liveness.
//! `cargo xtask sim --seeds N` builds and runs it.
//!
//! `plexus-sim adversarial [--seed S] [--jobs N] [--json]` runs the FuelTrace economics
//! simulation instead (`plexus_sim::adversarial`) and prints its report, as JSON or a table.

use anyhow::{Result, bail};
use plexus_sim::{SCENARIOS, Scenario};
use std::time::Instant;

struct Args {
    seeds: u64,
    from: u64,
    scenarios: Vec<Scenario>,
    json: bool,
}

fn parse() -> Result<Args> {
    let mut args = Args {
        seeds: 5,
        from: 0,
        scenarios: SCENARIOS.to_vec(),
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--seeds" => args.seeds = value("--seeds")?.parse()?,
            "--from" => args.from = value("--from")?.parse()?,
            "--scenario" => {
                let name = value("--scenario")?;
                let scenario = Scenario::from_name(&name).ok_or_else(|| {
                    let names: Vec<_> = SCENARIOS.iter().map(|s| s.name()).collect();
                    anyhow::anyhow!("unknown scenario {name:?}; scenarios: {}", names.join(", "))
                })?;
                args.scenarios = vec![scenario];
            }
            "--json" => args.json = true,
            "-h" | "--help" => {
                println!(
                    "plexus-sim [--seeds N] [--from S] [--scenario NAME] [--json]\n\
                     Runs every scenario (or one) for seeds S..S+N on the deterministic runtime.\n\
                     Scenarios: {}",
                    SCENARIOS
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Ok(args);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(args)
}

fn main() -> Result<()> {
    if std::env::args().nth(1).as_deref() == Some("adversarial") {
        return adversarial(std::env::args().skip(2));
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("PLEXUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let args = parse()?;
    let mut failures = Vec::new();
    let mut runs = 0;
    let started = Instant::now();
    for seed in args.from..args.from + args.seeds {
        for scenario in &args.scenarios {
            runs += 1;
            let run_started = Instant::now();
            match plexus_sim::run(*scenario, seed) {
                Ok(outcome) => {
                    if args.json {
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
                                "wall_ms": run_started.elapsed().as_millis() as u64,
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
                            run_started.elapsed().as_millis(),
                            &outcome.state_root[..16],
                        );
                    }
                }
                Err(err) => {
                    println!("FAIL  {err}");
                    failures.push(err);
                }
            }
        }
    }
    eprintln!(
        "{runs} runs, {} failed, {:.1} s",
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        bail!(
            "{} of {runs} runs failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

/// `plexus-sim adversarial [--seed S] [--jobs N] [--json]`.
fn adversarial(mut it: impl Iterator<Item = String>) -> Result<()> {
    use plexus_sim::adversarial::{self as adv, AdversarialConfig};
    let (mut seed, mut jobs, mut json) = (adv::SEED_DEFAULT, adv::JOBS_PER_KIND_DEFAULT, false);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--seed" => seed = value("--seed")?.parse()?,
            "--jobs" => jobs = value("--jobs")?.parse()?,
            "--json" => json = true,
            "-h" | "--help" => {
                println!(
                    "plexus-sim adversarial [--seed S] [--jobs N] [--json]\n\
                     Monte-Carlo of FuelTrace's audits, disputes and payments at the chain's \
                     default parameters: N jobs per provider kind (default {}), seed S \
                     (default {}); then the verifier-load case: several audits drawn at once, \
                     slow, restarting and lying verifiers, through the real chain.",
                    adv::JOBS_PER_KIND_DEFAULT,
                    adv::SEED_DEFAULT
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (see adversarial --help)"),
        }
    }
    let started = Instant::now();
    let report = adv::run(&AdversarialConfig::new(seed, jobs))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    eprintln!(
        "adversarial: seed {seed}, {jobs} jobs per kind, {:.1} s",
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
