//! Delegators' rewards through real processes: a dev key delegates to the devnet's validator,
//! the next epoch's payout accrues its exact share (after the validator's commission) as
//! claimable rewards, `plexus stake rewards` shows them, `plexus stake withdraw` moves them to
//! the balance, and the supply is conserved: it grew by exactly what the epochs' emissions say.
//! Also the CLI's refusals: nothing to withdraw (before sending), a commission from a
//! non-validator or above the maximum (the chain's receipts).

use crate::common::{amount, assert_supply_conserved, wait_for};
use crate::{
    FINALITY_TIMEOUT, assert_succeeded, free_port, key_address, plexus, start_with, tempdir,
};
use plexus_types::PLX;

const EPOCH_BLOCKS: u64 = 20;

fn json(out: &std::process::Output) -> serde_json::Value {
    assert_succeeded(out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Fails unless `out` failed with one `error:` line mentioning `needle`.
fn assert_refused(out: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "not refused: {stderr}");
    assert!(
        stderr.contains("error:") && stderr.contains(needle) && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn a_delegator_accrues_its_share_sees_it_and_withdraws_it() {
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let epoch_blocks = EPOCH_BLOCKS.to_string();
    let (_node, client) = start_with(&data, &home, api, p2p, &["--epoch-blocks", &epoch_blocks]);
    assert_eq!(client.status().unwrap().epoch_length, EPOCH_BLOCKS);
    let validators = client.validators().unwrap();
    assert_eq!(validators.len(), 1);
    let validator = validators[0].clone();
    assert_eq!(validator.commission_bps, 1_000, "the default commission");
    let dev1 = key_address(&home, api, "dev1");

    // Nothing accrued yet: the CLI refuses before sending, and shows zero.
    let out = plexus(&home, api, &["stake", "withdraw", "--from", "dev1"]);
    assert_refused(&out, "nothing to withdraw");
    let shown = json(&plexus(
        &home,
        api,
        &["stake", "rewards", "--from", "dev1", "--json"],
    ));
    assert_eq!(shown["accrued"], "0");
    // A commission from a key that is no validator is refused by the chain.
    let out = plexus(
        &home,
        api,
        &["stake", "commission", "--bps", "500", "--from", "dev1"],
    );
    assert_refused(&out, "not_validator");

    // dev1 delegates 1 000 PLX to the validator.
    let before = client.status().unwrap();
    let out = plexus(
        &home,
        api,
        &[
            "stake",
            "delegate",
            "--from",
            "dev1",
            "--validator",
            &validator.address,
            "--amount",
            "1000plx",
            "--json",
        ],
    );
    assert_eq!(json(&out)["receipt"]["status"], "success");
    let delegated_at = json(&out)["height"].as_u64().unwrap();
    let shown = json(&plexus(
        &home,
        api,
        &["stake", "rewards", "--from", "dev1", "--json"],
    ));
    assert_eq!(
        shown["delegations"][0]["validator"],
        validator.address.as_str()
    );
    assert_eq!(shown["delegations"][0]["amount"], (1_000 * PLX).to_string());

    // The next epoch's payout accrues dev1's share; nothing lands in its balance.
    let balance = amount(&client.account(&dev1).unwrap().balance);
    let mut after = None;
    wait_for("dev1's first staking reward", FINALITY_TIMEOUT, || {
        // Rewards first: the status read after them holds the payout they show.
        let rewards = client.rewards(&dev1).unwrap();
        let status = client.status().unwrap();
        let accrued = amount(&rewards.accrued);
        after = Some((status, accrued));
        accrued > 0
    });
    let (after, accrued) = after.unwrap();
    assert_eq!(amount(&client.account(&dev1).unwrap().balance), balance);
    // Exactly one payout since the delegation: dev1's share of it, after the commission, pro
    // rata to stake, rounded down.
    let epoch = after.emissions.iter().map(|e| e.epoch).max().unwrap();
    assert!(
        epoch >= delegated_at / EPOCH_BLOCKS,
        "paid before the delegation"
    );
    let record = after.emissions.iter().find(|e| e.epoch == epoch).unwrap();
    let part = amount(&record.validators);
    let stake = amount(&validator.self_bond) + 1_000 * PLX;
    let rest = part - part / 10;
    let expected = rest * (1_000 * PLX) / stake;
    assert!(part > 0 && expected > 0);
    assert_eq!(
        accrued, expected,
        "dev1's share of {part} over stake {stake}"
    );
    assert_supply_conserved(&before, &after, EPOCH_BLOCKS);
    let text = plexus(&home, api, &["stake", "rewards", "--from", "dev1"]);
    assert_succeeded(&text);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(
        text.contains("accrued") && text.contains("commission 10.00%"),
        "{text}"
    );

    // The withdrawal moves what accrued (at least what was shown: another payout may land
    // before it executes) into the balance.
    let out = json(&plexus(
        &home,
        api,
        &["stake", "withdraw", "--from", "dev1", "--json"],
    ));
    assert_eq!(out["receipt"]["status"], "success");
    let fee = amount(out["receipt"]["fee_burned"].as_str().unwrap());
    let account = client.account(&dev1).unwrap();
    let withdrawn = amount(&account.balance) + fee - balance;
    assert!(
        withdrawn >= accrued,
        "withdrew {withdrawn}, {accrued} had accrued"
    );
    assert_eq!(account.bonded, (1_000 * PLX).to_string());
    let end = client.status().unwrap();
    assert_supply_conserved(&before, &end, EPOCH_BLOCKS);

    // A new validator's commission: above the maximum refused, a valid one pending until the
    // next epoch's payout.
    let out = plexus(
        &home,
        api,
        &["stake", "bond", "--from", "dev2", "--amount", "2000plx"],
    );
    assert_succeeded(&out);
    let out = plexus(
        &home,
        api,
        &["stake", "commission", "--bps", "5001", "--from", "dev2"],
    );
    assert_refused(&out, "commission_too_high");
    let out = json(&plexus(
        &home,
        api,
        &[
            "stake",
            "commission",
            "--bps",
            "2000",
            "--from",
            "dev2",
            "--json",
        ],
    ));
    assert_eq!(out["receipt"]["status"], "success");
    let dev2 = key_address(&home, api, "dev2").to_string();
    let record = client
        .validators()
        .unwrap()
        .into_iter()
        .find(|v| v.address == dev2)
        .unwrap();
    // Pending, or already in effect if the epoch ended since.
    assert!(
        record.commission_pending_bps == Some(2_000)
            || (record.commission_bps == 2_000 && record.commission_pending_bps.is_none()),
        "{record:?}"
    );
}
