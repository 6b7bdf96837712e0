//! `plexus-sim`: runs the deterministic simulation scenarios over a range of seeds and exits
//! non-zero, naming the scenario and seed, if any run breaks safety or liveness.
//! `cargo xtask sim --seeds N` builds and runs it.

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
