//! Forged outputs: disputed by the verifier, the forger slashed, on one validator or four.

use crate::run_digits;
use crate::{devnet_with, fees_of, job, json, stderr, tempdir, twenty_images, wait_for};
use plexus_client::{
    Client,
    dto::{AuditKind, AuditStage, DisputeEnd, JobStatus},
};
use plexus_types::ContentHash;
use std::time::Duration;

#[test]
fn a_forged_output_is_disputed_and_the_forger_slashed() {
    let dir = tempdir("forged");
    // provider0 is honest and verifies; provider1 forges every output.
    let net = devnet_with(&dir, 2, 1, &[]);
    let client = &net.client;
    let forger = net.address("provider1");
    let verifier = net.address("provider0");
    // provider0 stops taking jobs but keeps verifying, so the job goes to the forger.
    let out = net.plexus(&["provider", "deregister", "--from", "provider0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let input = twenty_images(&dir);
    let bond_before: u128 = client.provider(&forger).unwrap().bond.parse().unwrap();
    let (consumer_before, from) = net.balance_at("dev0");

    let out = run_digits(
        &net,
        "dev0",
        &input,
        &["--audit", "full", "--max-fuel", "50000000"],
    );
    assert!(!out.status.success(), "a forged job must not be accepted");
    let message = stderr(&out);
    assert!(message.contains("was refuted"), "{message}");
    let id = message
        .split_whitespace()
        .skip_while(|word| *word != "job")
        .nth(1)
        .unwrap()
        .to_string();

    // The chain's record: audited in full by provider0, disputed, ruled on a re-run.
    let done = job(client, &id);
    assert_eq!(done.status, JobStatus::Refuted);
    assert_eq!(done.provider.as_deref(), Some(forger.to_string().as_str()));
    let audit = done.audit_record.clone().unwrap();
    assert_eq!(
        (audit.kind, audit.stage),
        (AuditKind::Full, AuditStage::Disputed)
    );
    assert_eq!(audit.verifier, verifier.to_string());
    let dispute = done.dispute.clone().unwrap();
    assert!(dispute.by_verifier);
    let ruling = dispute.ruling.unwrap();
    assert!(ruling.provider_lost);
    assert_eq!(ruling.end, DisputeEnd::Replay);
    // The slash: 13 times the job's value at the forger's ask (0.001 PLX per Mfuel).
    let value: u128 = 50_000_000 * 1_000_000 / 1_000_000;
    let slashed: u128 = ruling.slashed.0;
    assert_eq!(slashed, 13 * value);
    assert_eq!(done.slashed, Some(ruling.slashed));
    assert_eq!(done.refunded, Some(done.escrow));

    // The forger's record and bond, through the API and the CLI.
    let record = client.provider(&forger).unwrap();
    assert_eq!(record.disputes_lost, 1);
    assert_eq!(record.reputation, 0);
    assert_eq!(record.bond.parse::<u128>().unwrap(), bond_before - slashed);
    assert_eq!(record.slashed.parse::<u128>().unwrap(), slashed);
    let listed = json(&net.plexus(&["query", "providers", "--json"]));
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == forger.to_string())
        .unwrap();
    assert_eq!(row["disputes_lost"], 1);
    assert_eq!(row["slashed"], ruling.slashed.to_string());
    let status = json(&net.plexus(&["job", "status", &id, "--json"]));
    assert_eq!(status["status"], "refuted");
    let text = net.plexus(&["job", "status", &id]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("the provider lost (replay)"));
    let verifiers = json(&net.plexus(&["query", "verifiers", "--json"]));
    assert_eq!(verifiers[0]["disputes_won"], 1);

    // The consumer paid only fees: the escrow came back whole.
    let (consumer_after, to) = net.balance_at("dev0");
    let fees = fees_of(client, &net.address("dev0"), from, to);
    assert_eq!(consumer_after, consumer_before - fees);
}

#[test]
fn a_dispute_whose_content_one_validator_holds_settles_on_all_four() {
    let dir = tempdir("spread");
    // Four validators; the consumer and both providers talk to validator 0 only, so the job's
    // module and input and the settled pre-state reach validator 0's blob store and no other.
    // Small segments: the game ends past leaf 0, so the re-run needs a manifest and its pages.
    let net = devnet_with(&dir, 2, 1, &["--validators", "4", "--seg-fuel", "20000"]);
    let client = &net.client;
    let forger = net.address("provider1");
    let out = net.plexus(&["provider", "deregister", "--from", "provider0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let input = twenty_images(&dir);
    let bond_before: u128 = client.provider(&forger).unwrap().bond.parse().unwrap();
    let out = run_digits(
        &net,
        "dev0",
        &input,
        &["--audit", "full", "--max-fuel", "50000000"],
    );
    let message = stderr(&out);
    assert!(!out.status.success(), "a forged job must not be accepted");
    assert!(message.contains("was refuted"), "{message}");
    let id = message
        .split_whitespace()
        .skip_while(|word| *word != "job")
        .nth(1)
        .unwrap()
        .to_string();

    let done = job(client, &id);
    let dispute = done.dispute.clone().unwrap();
    let (lo, _) = dispute.resolved.clone().unwrap();
    assert!(
        lo.index > 0,
        "the re-run starts from an uploaded checkpoint"
    );
    let ruling = dispute.ruling.unwrap();
    assert!(ruling.provider_lost);
    assert_eq!(
        ruling.end,
        DisputeEnd::Replay,
        "the validators re-ran the segment"
    );
    let slashed: u128 = ruling.slashed.0;
    // 13 times the job's value at the forger's ask (0.001 PLX per Mfuel).
    assert_eq!(slashed, 13 * 50_000_000);
    assert_eq!(
        client
            .provider(&forger)
            .unwrap()
            .bond
            .parse::<u128>()
            .unwrap(),
        bond_before - slashed
    );

    // Every validator executed the settlement itself and reached the same state.
    let settled = client.block(Some(ruling.height)).unwrap();
    let module: ContentHash = done.module.hash();
    for i in 1..4u16 {
        let other = Client::new(&format!("http://127.0.0.1:{}", net.api + i));
        wait_for(
            &format!("validator {i} to reach the settlement's height"),
            Duration::from_secs(180),
            || other.status().is_ok_and(|s| s.height >= ruling.height),
        );
        let theirs = other.block(Some(ruling.height)).unwrap();
        assert_eq!(
            (&theirs.hash, &theirs.state_root),
            (&settled.hash, &settled.state_root),
            "validator {i}"
        );
        assert!(
            other.get_blob(&module, 16 << 20).unwrap().is_some(),
            "validator {i} fetched the module from a peer"
        );
    }
}
