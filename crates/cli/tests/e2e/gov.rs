//! Governance through real processes: a dev key delegates to the devnet's validator, proposes
//! raising `audit.light_audit_ppm`, the validator's key votes yes, the proposal passes at the
//! end of the devnet's short voting period, and `GET /v1/params` serves the new value from the
//! stated effect height on (and the old one before). A second proposal with an out-of-bounds
//! value is refused with its bounds before anything is signed.

use crate::common::{keystore_devnet_validator, wait_for};
use crate::{FINALITY_TIMEOUT, assert_succeeded, free_port, plexus, start, tempdir};

fn json(out: &std::process::Output) -> serde_json::Value {
    assert_succeeded(out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_proposal_passes_with_the_validators_vote_and_changes_the_parameter_at_its_height() {
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let (_node, client) = start(&data, &home, api, p2p);
    let validator = keystore_devnet_validator(&home, &client);
    let delegate = [
        "stake",
        "delegate",
        "--from",
        "dev1",
        "--validator",
        &validator,
        "--amount",
        "1000plx",
    ];
    assert_succeeded(&plexus(&home, api, &delegate));

    let propose = [
        "gov",
        "propose",
        "--from",
        "dev1",
        "--param",
        "audit.light_audit_ppm=150000",
        "--title",
        "More light audits",
        "--json",
    ];
    assert_succeeded(&plexus(&home, api, &propose));
    let listed = json(&plexus(&home, api, &["gov", "list", "--json"]));
    assert_eq!(listed[0]["id"], 0, "{listed}");
    assert_eq!(listed[0]["status"], "voting");
    // The devnet's voting period is short enough to watch: 40 blocks.
    let proposal = client.proposal(0).unwrap();
    assert_eq!(proposal.voting_end_height - proposal.submit_height, 40);
    let period = &client.params().unwrap().sections["chain"]["gov_voting_period_blocks"];
    assert_eq!(period.value, "40");
    let vote = ["gov", "vote", "0", "yes", "--from", "validator"];
    assert_succeeded(&plexus(&home, api, &vote));

    // An out-of-bounds value is refused with its bounds, nothing sent.
    let mut bad = propose;
    bad[5] = "audit.light_audit_ppm=2000000";
    let out = plexus(&home, api, &bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("outside its bounds 0..=1000000") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert_eq!(client.proposals(None).unwrap().len(), 1);

    // Until the proposal is applied the old rate is served (parameters read before the
    // status that says so).
    let mut shown = serde_json::Value::Null;
    wait_for("the proposal's effect", FINALITY_TIMEOUT, || {
        let params = client.params().unwrap();
        shown = json(&plexus(&home, api, &["gov", "show", "0", "--json"]));
        if shown["status"] != "applied" {
            assert_eq!(params.sections["audit"]["light_audit_ppm"].value, "100000");
        }
        shown["status"] == "applied"
    });
    assert_eq!(shown["tally"]["turnout_bps"], 10_000, "{shown}");
    assert_eq!(shown["tally"]["no"], "0");
    let effect = shown["effect_height"].as_u64().unwrap();
    let params = client.params().unwrap();
    assert!(params.height >= effect);
    assert_eq!(params.sections["audit"]["light_audit_ppm"].value, "150000");
    let text = plexus(&home, api, &["gov", "show", "0"]);
    assert_succeeded(&text);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains(&format!("effect     at the end of height {effect}")),
        "{text}"
    );
}
