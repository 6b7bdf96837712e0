//! `plexus stake rewards` and `plexus stake withdraw`: a staker's accrued rewards (its
//! validator's commission and stake share, its delegations' stake shares of each epoch's
//! validator emission) and their claim.

use crate::{SendArgs, keys, plx, print, send_tx};
use anyhow::{Result, bail};
use plexus_client::Client;
use plexus_client::dto::RewardsDto;
use plexus_types::Payload;

/// A commission in basis points as a percentage: `1000` -> `10.00%`.
pub fn percent(bps: u32) -> String {
    format!("{}.{:02}%", bps / 100, bps % 100)
}

/// `stake rewards --from KEY`: what has accrued, and the stake that earns more.
pub fn rewards(client: &Client, json_mode: bool, from: &str) -> Result<()> {
    let rewards = client.rewards(&keys::resolve_address(from)?)?;
    print(
        json_mode,
        serde_json::to_value(&rewards)?,
        rewards_text(&rewards, from),
    );
    Ok(())
}

fn rewards_text(rewards: &RewardsDto, from: &str) -> String {
    let mut text = format!(
        "address      {}\naccrued      {}",
        rewards.address,
        plx(&rewards.accrued)
    );
    if rewards.accrued != "0" {
        text.push_str(&format!(
            " (claim with `plexus stake withdraw --from {from}`)"
        ));
    }
    if let Some(bps) = rewards.commission_bps {
        text.push_str(&format!(
            "\nvalidator    self-bond {}, commission {}",
            plx(&rewards.self_bond),
            percent(bps)
        ));
    }
    if rewards.delegations.is_empty() {
        text.push_str("\ndelegations  none");
    }
    for d in &rewards.delegations {
        text.push_str(&format!(
            "\ndelegation   {} to {} (commission {}{})",
            plx(&d.amount),
            d.validator,
            percent(d.commission_bps),
            d.commission_pending_bps
                .map(|bps| format!(", {} from the next epoch", percent(bps)))
                .unwrap_or_default()
        ));
    }
    text
}

/// `stake withdraw --from KEY`: claims every accrued reward into the balance; refused before
/// anything is sent when nothing has accrued.
pub fn withdraw(client: &Client, json_mode: bool, send: SendArgs) -> Result<()> {
    let address = keys::resolve_address(&send.from)?;
    let rewards = client.rewards(&address)?;
    if rewards.accrued.parse::<u128>().unwrap_or(0) == 0 {
        bail!(
            "nothing to withdraw: {address} has no accrued staking rewards (they accrue at each \
             epoch's last block to validators that signed and their delegators)"
        );
    }
    if !json_mode {
        eprintln!("withdrawing {}", plx(&rewards.accrued));
    }
    send_tx(client, json_mode, send, Payload::RewardsWithdraw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commissions_print_as_percentages() {
        assert_eq!(percent(1_000), "10.00%");
        assert_eq!(percent(5), "0.05%");
        assert_eq!(percent(10_000), "100.00%");
    }
}
