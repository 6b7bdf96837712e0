//! Processes killed and restarted under a job: a provider mid-job, a node under `job run`.

use crate::{
    DevnetPorts, FUEL_PER_SECOND, PLEXUS, Process, devnet, devnet_process, free_port, job, json,
    stderr, tempdir, twenty_images, wait_for,
};
use plexus_client::{Client, dto::JobStatus};
use plexus_types::Address;
use serde_json::Value;
use std::{
    process::{Command, Stdio},
    time::Duration,
};

/// A speed at which no job of the default 10^9 fuel ever fits a deadline.
const SLOW_FUEL_PER_SECOND: &str = "1000";

/// Regression (issue 18): a provider killed mid-job and restarted while its machine looks much
/// slower (under load its benchmark once measured 56.5 M fuel/s, and it refused the job it had
/// accepted and begun) resumes the job: it settles and the provider is paid. The speeds are set
/// with `provider run --fuel-per-second`, so the test does not depend on the machine's load; at
/// the restart's figure the job could never make its deadline, so a provider that judged it again
/// would refuse it. New jobs are judged at the new figure.
#[test]
fn a_provider_restarted_mid_job_still_settles_it() {
    let dir = tempdir("restart");
    let net = devnet(&dir, 0);
    let port = free_port();
    let provider_dir = dir.join("provider");
    let start = |fuel_per_second: &str| {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("provider.log"))
            .unwrap();
        Process(
            Command::new(PLEXUS)
                .args(["provider", "run", "--key", "provider0", "--dir"])
                .arg(&provider_dir)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--fuel-per-second", fuel_per_second])
                .env("PLEXUS_HOME", &net.home)
                .env("PLEXUS_NODE", format!("http://127.0.0.1:{}", net.api))
                .env("PLEXUS_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let provider = start(FUEL_PER_SECOND);
    wait_for("the provider to register", Duration::from_secs(180), || {
        net.client.providers().is_ok_and(|p| p.len() == 1)
    });
    let count = dir.join("images.txt");
    std::fs::write(&count, "32").unwrap();
    // About 5 * 10^8 fuel: tens of seconds on a loaded machine's debug build, so a deadline
    // far beyond it (2 000 blocks, 500 s or more) that only a hang can miss.
    let run_cnn = |from: &str| {
        Command::new(PLEXUS)
            .args(["job", "run", "--from", from, "--module", "cnn", "--input"])
            .arg(&count)
            .args([
                "--deadline-blocks",
                "2000",
                "--json",
                "--timeout-secs",
                "500",
            ])
            .env("PLEXUS_HOME", &net.home)
            .env("PLEXUS_NODE", format!("http://127.0.0.1:{}", net.api))
            .output()
            .unwrap()
    };
    let (out, id, _restarted) = std::thread::scope(|scope| {
        let consumer = scope.spawn(|| run_cnn("dev4"));
        // Kill the provider while it is running the job (SIGKILL: no chance to save anything).
        let provider_api = Client::new(&format!("http://127.0.0.1:{port}"));
        let dev4 = net.address("dev4");
        wait_for(
            "the provider to start the job",
            Duration::from_secs(180),
            || {
                net.client
                    .jobs_of_consumer(&dev4, 1)
                    .ok()
                    .and_then(|jobs| jobs.into_iter().next())
                    .and_then(|job| provider_record(&provider_api, &job.id.to_string()))
                    .is_some_and(|record| record["running"] == true)
            },
        );
        let mut provider = provider;
        provider.0.kill().unwrap();
        provider.0.wait().unwrap();
        let id = net
            .client
            .jobs_of_consumer(&dev4, 1)
            .unwrap()
            .remove(0)
            .id
            .to_string();
        assert_eq!(job(&net.client, &id).status, JobStatus::Assigned);
        // Restarted a thousand times slower than it was: 10^9 fuel at 1 000 fuel/s never fits.
        let restarted = start(SLOW_FUEL_PER_SECOND);
        (consumer.join().unwrap(), id, restarted)
    });
    let run = json(&out);
    assert_eq!(run["job_id"], id);
    assert_eq!(run["output"]["labels"].as_array().unwrap().len(), 32);
    let settled = job(&net.client, &id);
    assert_eq!(settled.status, JobStatus::Settled);
    assert_eq!(settled.failed, Some(false));
    let provider0 = net.address("provider0");
    assert_eq!(settled.provider, Some(provider0.to_string()));
    let paid: u128 = settled.paid.unwrap().0;
    assert!(paid > 0, "the resumed job is paid");

    // The provider's journal kept the one decision it made, at the first start's figure.
    let provider_api = Client::new(&format!("http://127.0.0.1:{port}"));
    let record = provider_record(&provider_api, &id).unwrap();
    assert_eq!(record["decision"]["decision"], "accepted", "{record}");
    assert_eq!(
        record["decision"]["fuel_per_second"].to_string(),
        FUEL_PER_SECOND,
        "{record}"
    );
    // The restart registered its new figure, and a job it has not seen is judged at it: the
    // same job is refused now, for no fuel, with the reason in its output.
    let registered = net.client.provider(&provider0).unwrap();
    assert_eq!(registered.fuel_per_second.to_string(), SLOW_FUEL_PER_SECOND);
    let out = run_cnn("dev5");
    assert!(!out.status.success());
    let reason = format!("fuel does not run at {SLOW_FUEL_PER_SECOND} fuel/s");
    assert!(stderr(&out).contains(&reason), "{}", stderr(&out));
    let refused = net
        .client
        .jobs_of_consumer(&net.address("dev5"), 1)
        .unwrap()
        .remove(0);
    assert_eq!((refused.failed, refused.total_fuel), (Some(true), Some(0)));
    let record = provider_record(&provider_api, &refused.id.to_string()).unwrap();
    assert_eq!(record["decision"]["decision"], "refused", "{record}");
}

/// The provider API's record of job `id` (phase, decision, commitment, running), if it has one.
fn provider_record(provider_api: &Client, id: &str) -> Option<Value> {
    let body = provider_api
        .get_bytes(&format!("/v1/jobs/{id}"), 1 << 16)
        .ok()
        .flatten()?;
    serde_json::from_slice(&body).ok()
}

/// `plexus job run` waits out its node being killed (SIGKILL) and restarted while it follows
/// the job: the command still succeeds and prints the settled job's real result.
#[test]
fn job_run_waits_out_its_node_killed_and_restarted() {
    let dir = tempdir("node-restart");
    let ports = DevnetPorts::free();
    // One-second blocks: a commitment settles five of them later, so the job seen on chain
    // is still unsettled when the node dies right after.
    let extra = ["--block-time-ms", "1000"];
    let mut devnet = devnet_process(&dir, &ports, 1, &extra, "devnet.log");
    let client = Client::new(&format!("http://127.0.0.1:{}", ports.api));
    wait_for("the provider to register", Duration::from_secs(120), || {
        client
            .providers()
            .is_ok_and(|p| p.iter().any(|provider| provider.active))
    });
    let input = twenty_images(&dir);
    let (out_path, err_path) = (dir.join("job-run.json"), dir.join("job-run.err"));
    let mut run = Command::new(PLEXUS)
        .args([
            "job", "run", "--from", "dev5", "--module", "digits", "--input",
        ])
        .arg(&input)
        // Little fuel: a provider measuring itself on a loaded machine still takes the job.
        .args(["--max-fuel", "10000000", "--json", "--timeout-secs", "280"])
        .env("PLEXUS_HOME", dir.join("home"))
        .env("PLEXUS_NODE", client.base())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let shown = Command::new(PLEXUS)
        .args(["keys", "show", "dev5"])
        .env("PLEXUS_HOME", dir.join("home"))
        .output()
        .unwrap();
    let consumer: Address = String::from_utf8(shown.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut posted = None;
    wait_for("the job to be posted", Duration::from_secs(120), || {
        posted = client
            .jobs_of_consumer(&consumer, 1)
            .ok()
            .and_then(|jobs| jobs.into_iter().next());
        posted.is_some()
    });
    let posted = posted.unwrap();
    assert_ne!(
        posted.status,
        JobStatus::Settled,
        "the job settled before the kill"
    );

    devnet.0.kill().unwrap();
    devnet.0.wait().unwrap();
    // The provider follows its parent out; its port must be free before the restart.
    wait_for("the provider to exit", Duration::from_secs(60), || {
        std::net::TcpListener::bind(("127.0.0.1", ports.provider_api)).is_ok()
    });
    // Long enough for the command to meet refused connections and, before the fix, give up.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        run.try_wait().unwrap().is_none(),
        "job run gave up while the node was down: {}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    let _devnet = devnet_process(&dir, &ports, 1, &extra, "devnet-restarted.log");
    wait_for("job run to finish", Duration::from_secs(300), || {
        run.try_wait().unwrap().is_some()
    });
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(run.wait().unwrap().success(), "job run failed: {stderr}");
    let printed: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(printed["job_id"], posted.id.to_string());
    assert_eq!(printed["output"]["labels"].as_array().unwrap().len(), 20);
    let settled = job(&client, &posted.id.to_string());
    assert_eq!(settled.status, JobStatus::Settled);
    assert_eq!(
        printed["output_hash"],
        settled.output_hash.unwrap().to_string()
    );
    assert_eq!(
        printed["blocks"]["settled"],
        settled.finished_height.unwrap()
    );
}
