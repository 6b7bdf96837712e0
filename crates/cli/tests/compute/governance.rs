//! Governance changes what the chain does, seen through real processes: a delegator delegates,
//! a proposal raising `audit.light_audit_ppm` so that every job is audited passes with the
//! validator's vote, `GET /v1/params` serves the new rate from the stated height, and every job
//! committed after it has an audit drawn. Proposals the chain must refuse are refused by the
//! chain itself (not only by the CLI), with their reasons and their deposits kept. After an
//! epoch the delegator's rewards are claimable, and the supply moved by exactly the emissions.

use crate::common::{amount, assert_supply_conserved, keystore_devnet_validator};
use crate::run_digits;
use crate::{Net, devnet_with, finalize, job, json, tempdir, twenty_images, wait_for};
use plexus_client::dto::{JobDto, JobStatus, ReceiptStatus};
use plexus_types::{PLX, Payload};
use std::{path::Path, time::Duration};

const EPOCH_BLOCKS: u64 = 20;
/// The rate the proposal sets: with the default full-audit rate of 1%, every job is audited.
const LIGHT_AUDIT_PPM: u32 = 990_000;

/// Runs the digits job from dev0 and returns it once settled.
fn run_job(net: &Net, input: &Path) -> JobDto {
    let run = json(&run_digits(net, "dev0", input, &["--json"]));
    let id = run["job_id"].as_str().unwrap().to_string();
    let mut done = None;
    wait_for("the job to settle", Duration::from_secs(240), || {
        let job = job(&net.client, &id);
        let settled = job.status == JobStatus::Settled;
        done = Some(job);
        settled
    });
    done.unwrap()
}

#[test]
fn a_passed_proposal_changes_the_audit_rate_and_the_delegator_is_paid() {
    let dir = tempdir("gov-audits");
    let epoch_blocks = EPOCH_BLOCKS.to_string();
    let net = devnet_with(&dir, 2, 0, &["--epoch-blocks", &epoch_blocks]);
    let client = &net.client;
    let validator = keystore_devnet_validator(&net.home, client);
    let before = client.status().unwrap();
    let old = client.params().unwrap().sections["audit"]["light_audit_ppm"]
        .value
        .clone();
    assert_eq!(old, "100000");

    // A delegator delegates; then proposes and the validator (with the delegator's stake, which
    // votes with it unless the delegator votes itself) votes yes.
    let delegated = json(&net.plexus(&[
        "stake",
        "delegate",
        "--from",
        "dev1",
        "--validator",
        &validator,
        "--amount",
        "1000plx",
        "--json",
    ]));
    assert_eq!(delegated["receipt"]["status"], "success");
    let delegated_at = delegated["height"].as_u64().unwrap();
    let change = format!("audit.light_audit_ppm={LIGHT_AUDIT_PPM}");
    let proposed = json(&net.plexus(&[
        "gov",
        "propose",
        "--from",
        "dev1",
        "--param",
        &change,
        "--title",
        "Audit every job",
        "--json",
    ]));
    assert_eq!(proposed["receipt"]["status"], "success", "{proposed}");
    assert_eq!(client.proposal(0).unwrap().status, "voting");
    let vote = json(&net.plexus(&["gov", "vote", "0", "yes", "--from", "validator", "--json"]));
    assert_eq!(vote["receipt"]["status"], "success", "{vote}");

    // The chain refuses what breaks its rules, whoever builds the transaction. A rate this low
    // needs a slash multiple far above 13 (FuelTrace's deterrence bound): the CLI checks only
    // each value's bounds, so the chain's receipt carries the refusal.
    let deposit = 100 * PLX;
    let dev2 = net.address("dev2");
    let balance = net.balance("dev2");
    let breaks = net.plexus(&[
        "gov",
        "propose",
        "--from",
        "dev2",
        "--param",
        "audit.light_audit_ppm=1000",
        "--title",
        "Fewer audits",
    ]);
    let stderr = String::from_utf8_lossy(&breaks.stderr);
    // The CLI names the rule the chain's reason code stands for.
    assert!(
        !breaks.status.success()
            && stderr.contains("parameter_breaks_rule")
            && stderr.contains("below FuelTrace's bound"),
        "{stderr}"
    );
    // A value outside its bounds, signed without the CLI's check.
    let out_of_bounds = Payload::GovPropose {
        changes: vec![("audit.light_audit_ppm".into(), 2_000_000)],
        title: "Audit twice".into(),
        description: String::new(),
        deposit,
    };
    let receipt = finalize(&net, "dev2", out_of_bounds).receipt.unwrap();
    assert_eq!(receipt.status, ReceiptStatus::Failed);
    assert_eq!(receipt.reason.as_deref(), Some("parameter_out_of_bounds"));
    // Both refusals cost their fees and nothing else: no deposit held, no proposal made.
    let fees = crate::fees_of(client, &dev2, delegated_at, client.status().unwrap().height);
    assert_eq!(net.balance("dev2"), balance - fees);
    assert_eq!(client.proposals(None).unwrap().len(), 1);

    // While the vote runs, jobs are audited at the old rate (11% in all).
    let input = twenty_images(&dir);
    let early: Vec<JobDto> = (0..2).map(|_| run_job(&net, &input)).collect();

    let mut effect = 0;
    wait_for("the proposal's effect", Duration::from_secs(300), || {
        let shown = json(&net.plexus(&["gov", "show", "0", "--json"]));
        effect = shown["effect_height"].as_u64().unwrap();
        shown["status"] == "applied"
    });
    let params = client.params().unwrap();
    assert!(params.height >= effect);
    assert_eq!(
        params.sections["audit"]["light_audit_ppm"].value,
        LIGHT_AUDIT_PPM.to_string()
    );

    // Every job committed after the effect height has an audit drawn: at the old rate three in a
    // row would happen 0.13% of the time.
    for _ in 0..3 {
        let job = run_job(&net, &input);
        assert!(job.committed_height.unwrap() > effect, "{job:?}");
        let audit = job
            .audit_record
            .unwrap_or_else(|| panic!("job {} committed after the change, not audited", job.id));
        assert!(audit.drawn_height > effect);
    }
    for job in &early {
        eprintln!(
            "job {} committed at {:?} (effect at {effect}): audit {:?}",
            job.id,
            job.committed_height,
            job.audit_record.as_ref().map(|a| a.kind)
        );
    }

    // The delegator's rewards accrued at the epochs' ends since it delegated; it claims them.
    let dev1 = net.address("dev1");
    let rewards = client.rewards(&dev1).unwrap();
    let accrued = amount(&rewards.accrued);
    assert!(accrued > 0, "{rewards:?}");
    let balance = net.balance("dev1");
    let withdrawn = json(&net.plexus(&["stake", "withdraw", "--from", "dev1", "--json"]));
    assert_eq!(withdrawn["receipt"]["status"], "success");
    let fee = amount(withdrawn["receipt"]["fee_burned"].as_str().unwrap());
    assert!(net.balance("dev1") + fee - balance >= accrued);
    // The delegation is untouched by the claim.
    assert_eq!(
        client.account(&dev1).unwrap().bonded,
        (1_000 * PLX).to_string()
    );
    assert_supply_conserved(&before, &client.status().unwrap(), EPOCH_BLOCKS);
}
