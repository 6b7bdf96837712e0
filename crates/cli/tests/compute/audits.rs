//! Audits of honest work: light audits and canaries, and a slow verifier drawn for several
//! full audits at once.

use crate::run_digits;
use crate::{
    Net, PLEXUS, Process, devnet_with, free_port, job, json, tempdir, twenty_images, wait_for,
};
use plexus_client::dto::{AuditKind, AuditStage, JobStatus};
use plexus_types::Address;
use std::{
    path::Path,
    process::{Command, Output, Stdio},
    time::Duration,
};

#[test]
fn honest_work_passes_light_audits_and_verifiers_flag_canaries() {
    let dir = tempdir("canaries");
    // Every job is light-audited and copied into a canary: both providers verify.
    let net = devnet_with(
        &dir,
        2,
        0,
        &[
            "--light-audit-ppm",
            "1000000",
            "--full-audit-ppm",
            "0",
            "--canary-ppm",
            "1000000",
            // Small segments: the providers must adopt the chain's, or the verifier's re-run
            // of a drawn segment would not line up with the provider's checkpoints.
            "--seg-fuel",
            "20000",
        ],
    );
    let client = &net.client;
    let input = twenty_images(&dir);
    let run = json(&run_digits(
        &net,
        "dev0",
        &input,
        &["--max-fuel", "50000000", "--json"],
    ));
    let id = run["job_id"].as_str().unwrap();
    let done = job(client, id);
    assert_eq!(done.status, JobStatus::Settled);
    let audit = done.audit_record.clone().unwrap();
    assert_eq!(
        (audit.kind, audit.stage),
        (AuditKind::Light, AuditStage::Passed)
    );
    // More than the one segment the default 2^26 gives this job: the provider checkpointed at
    // the chain's seg_fuel. The last segment is always drawn.
    let segments = u64::from(done.segments.unwrap());
    assert!(segments >= 2, "{segments} segments");
    assert_eq!(audit.segments.last().copied(), Some(segments - 1));
    assert_ne!(Some(audit.verifier.clone()), done.provider);
    let provider: Address = done.provider.as_deref().unwrap().parse().unwrap();
    assert_eq!(client.provider(&provider).unwrap().audits_passed, 1);
    // The canary copying the job went to the same verifier (the only eligible one), which
    // re-ran it and flagged its forged claim.
    wait_for("the canary to be flagged", Duration::from_secs(180), || {
        client
            .verifiers()
            .unwrap()
            .iter()
            .any(|v| v.canaries_flagged == 1)
    });
    for verifier in client.verifiers().unwrap() {
        assert_eq!(verifier.canaries_passed, 0);
        assert_eq!(verifier.slashed, "0");
    }
    for provider in client.providers().unwrap() {
        assert_eq!(
            (provider.slashed.as_str(), provider.disputes_lost),
            ("0", 0)
        );
    }
}

/// A `plexus provider run` process of its own on this devnet, logging to `DIR/NAME.log`.
fn start_provider(net: &Net, dir: &Path, name: &str, args: &[String]) -> Process {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .unwrap();
    Process(
        Command::new(PLEXUS)
            .args(["provider", "run", "--dir"])
            .arg(dir.join(name))
            .args(args)
            .env("PLEXUS_HOME", &net.home)
            .env("PLEXUS_NODE", format!("http://127.0.0.1:{}", net.api))
            .env("PLEXUS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Posts one cnn job per consumer key at once (`job run`, a full audit by the devnet's
/// parameters) on threads; returns them, to be joined for their output.
fn post_cnn_jobs(
    net: &Net,
    consumers: &[&str],
    count: &Path,
) -> Vec<std::thread::JoinHandle<Output>> {
    consumers
        .iter()
        .map(|consumer| {
            let (home, api) = (net.home.clone(), net.api);
            let (consumer, count) = (consumer.to_string(), count.to_path_buf());
            std::thread::spawn(move || {
                Command::new(PLEXUS)
                    .args([
                        "job", "run", "--from", &consumer, "--module", "cnn", "--input",
                    ])
                    .arg(&count)
                    .args(["--max-fuel", "100000000", "--json", "--timeout-secs", "400"])
                    .env("PLEXUS_HOME", home)
                    .env("PLEXUS_NODE", format!("http://127.0.0.1:{api}"))
                    .output()
                    .unwrap()
            })
        })
        .collect()
}

/// The newest job of each consumer, once each has one whose audit is drawn to `verifier`.
fn audits_drawn_to(net: &Net, consumers: &[&str], verifier: &Address) -> Vec<String> {
    let mut ids = Vec::new();
    wait_for("the audits to be drawn", Duration::from_secs(180), || {
        ids = consumers
            .iter()
            .filter_map(|c| {
                let job = net
                    .client
                    .jobs_of_consumer(&net.address(c), 1)
                    .ok()?
                    .into_iter()
                    .next()?;
                let audit = job.audit_record?;
                (audit.verifier == verifier.to_string() && audit.stage == AuditStage::Drawn)
                    .then(|| job.id.to_string())
            })
            .collect();
        ids.len() == consumers.len()
    });
    ids
}

/// Regression (issue 12, finding 3): a verifier drawn for several full audits at once re-ran
/// them one after the other in its poll loop; the second finished after its window and the
/// lapse took the job's value from its bond. Here a slow verifier (it declares 2 * 10^6 fuel/s
/// and its re-runs are throttled to that, so it is as slow on any machine) with room for two audits is drawn for two at once, killed mid-audit and
/// restarted: it re-runs both in parallel and passes them. Then it is drawn for two more, killed,
/// and restarted far slower: it declines both in time, and those jobs settle unaudited. Nobody
/// honest is slashed and every job settles.
#[test]
fn a_slow_verifier_drawn_for_several_audits_and_restarted_is_never_slashed() {
    let dir = tempdir("verifier-load");
    let net = devnet_with(
        &dir,
        0,
        0,
        &[
            "--full-audit-ppm",
            "1000000",
            "--light-audit-ppm",
            "0",
            "--canary-ppm",
            "0",
        ],
    );
    let client = &net.client;
    let (provider_port, verifier_port) = (free_port(), free_port());
    let _provider = start_provider(
        &net,
        &dir,
        "provider",
        &[
            "--key",
            "provider0",
            "--listen",
            &format!("127.0.0.1:{provider_port}"),
            "--cores",
            "4",
            "--fuel-per-second",
            "1000000000",
        ]
        .map(String::from),
    );
    // A slow machine that knows it: it declares 2 * 10^6 fuel/s and re-runs no faster (the
    // throttle; any machine re-runs faster than that), so a re-run of the 3-image cnn job
    // (about 5 * 10^7 fuel) takes 20-30 s whatever the machine, and the chain grants each of
    // its full audits the job's max fuel (10^8) at that speed, times 3: 600 blocks.
    let verifier_args = |fuel_per_second: &str| {
        [
            "--key",
            "provider1",
            "--listen",
            &format!("127.0.0.1:{verifier_port}"),
            // Never matched to a job: its ask is above every consumer's cap.
            "--ask",
            "1000plx",
            "--fuel-per-second",
            fuel_per_second,
            "--verifier-bond",
            "500plx",
            "--verifier-capacity",
            "2",
            "--throttle-audits",
            fuel_per_second,
        ]
        .map(String::from)
    };
    let mut verifier_process = start_provider(&net, &dir, "verifier", &verifier_args("2000000"));
    let verifier = net.address("provider1");
    wait_for(
        "the provider and the verifier",
        Duration::from_secs(120),
        || {
            client.providers().is_ok_and(|p| p.len() == 2)
                && client
                    .verifiers()
                    .is_ok_and(|v| v.len() == 1 && v[0].capacity == 2)
        },
    );
    let count = dir.join("images.txt");
    std::fs::write(&count, "3").unwrap();

    // Two full audits drawn at once to the slow verifier; it is killed mid-audit and restarted.
    let consumers = ["dev0", "dev1"];
    let runs = post_cnn_jobs(&net, &consumers, &count);
    let first = audits_drawn_to(&net, &consumers, &verifier);
    let record = client.verifiers().unwrap().remove(0);
    assert_eq!(
        (record.open, record.fuel_per_second),
        (2, 2_000_000),
        "two audits open at once, due at the declared speed"
    );
    std::thread::sleep(Duration::from_secs(3));
    verifier_process.0.kill().unwrap();
    verifier_process.0.wait().unwrap();
    verifier_process = start_provider(&net, &dir, "verifier", &verifier_args("2000000"));
    for run in runs {
        let out = run.join().unwrap();
        assert_eq!(json(&out)["output"]["labels"].as_array().unwrap().len(), 3);
    }
    let record = client.verifiers().unwrap().remove(0);
    assert_eq!(
        (record.slashed.as_str(), record.audits_missed),
        ("0", 0),
        "an honest verifier lost its bond to load"
    );
    for id in &first {
        let done = job(client, id);
        assert_eq!(done.status, JobStatus::Settled, "{id}");
        let audit = done.audit_record.unwrap();
        assert_eq!(
            (audit.verifier.as_str(), audit.stage),
            (verifier.to_string().as_str(), AuditStage::Passed)
        );
    }

    // Two more, and a restart on a machine far too slow for them: declined in time, redrawn to
    // nobody (the provider never audits itself), settled unaudited.
    let runs = post_cnn_jobs(&net, &consumers, &count);
    let second = audits_drawn_to(&net, &consumers, &verifier);
    verifier_process.0.kill().unwrap();
    verifier_process.0.wait().unwrap();
    let _verifier_process = start_provider(&net, &dir, "verifier", &verifier_args("2000"));
    for run in runs {
        json(&run.join().unwrap());
    }
    for id in &second {
        let done = job(client, id);
        assert_eq!(done.status, JobStatus::Settled, "{id}");
        let audit = done.audit_record.unwrap();
        assert_eq!(audit.stage, AuditStage::Declined, "{id}");
        assert_eq!(audit.declined, vec![verifier.to_string()]);
    }

    let record = client.verifiers().unwrap().remove(0);
    assert_eq!(
        (record.slashed.as_str(), record.audits_missed),
        ("0", 0),
        "an honest verifier lost its bond to load"
    );
    assert_eq!((record.audits_done, record.audits_declined), (2, 2));
    for provider in client.providers().unwrap() {
        assert_eq!(
            (provider.slashed.as_str(), provider.disputes_lost),
            ("0", 0)
        );
    }
}
