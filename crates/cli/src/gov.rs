//! `plexus gov`: propose parameter changes, vote with bonded stake, and read the proposals.
//! A proposal's changes are checked against `GET /v1/params` (names and bounds) before anything
//! is signed, so a typo or an out-of-bounds value costs no fee; the chain checks them again
//! (and the rules across parameters) when the proposal is made.

use crate::{SendArgs, amount_arg, plx, print, send_tx};
use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use plexus_client::Client;
use plexus_client::dto::{ParamsDto, ProposalDto};
use plexus_types::Payload;
use plexus_types::gov::{GOV_CHANGES_MAX, VoteOption};

#[derive(Subcommand)]
pub enum GovCommand {
    /// Propose parameter changes. The deposit (default: the chain's `gov_deposit_min`) is held
    /// until the vote ends: returned on a pass or a rejection, burned on a veto or a missed
    /// quorum. A pass applies `gov_effect_delay_blocks` after the voting ends.
    Propose {
        #[command(flatten)]
        send: SendArgs,
        /// A change `SECTION.NAME=VALUE` (`plexus gov params` lists them); repeat for more.
        #[arg(long = "param", required = true)]
        params: Vec<String>,
        /// The title (at most 140 bytes).
        #[arg(long)]
        title: String,
        /// A description (at most 2 KiB).
        #[arg(long, default_value = "")]
        description: String,
        /// `100plx` or base units (default: the chain's minimum).
        #[arg(long)]
        deposit: Option<String>,
    },
    /// Vote on an open proposal with your bonded stake (a self-bond or delegations; a
    /// delegator's vote overrides its validator's for its own stake). A second vote replaces
    /// the first.
    Vote {
        /// The proposal's id.
        id: u64,
        /// `yes`, `no`, `abstain` or `veto`.
        option: String,
        #[command(flatten)]
        send: SendArgs,
    },
    /// The newest proposals with their status.
    List {
        /// At most this many (1 to 100).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// One proposal: changes, deposit, heights, tally, turnout and outcome.
    Show { id: u64 },
    /// Every governed parameter by section, with its value and bounds.
    Params,
}

pub fn run(client: &Client, json_mode: bool, command: GovCommand) -> Result<()> {
    match command {
        GovCommand::Propose {
            send,
            params,
            title,
            description,
            deposit,
        } => {
            let served = client.params()?;
            let changes = params
                .iter()
                .map(|text| parse_change(&served, text))
                .collect::<Result<Vec<_>>>()?;
            if changes.len() > GOV_CHANGES_MAX {
                bail!("at most {GOV_CHANGES_MAX} changes fit one proposal");
            }
            let deposit = match deposit {
                Some(text) => amount_arg(&text)?,
                None => value_of(&served, "chain.gov_deposit_min")?,
            };
            // The rule the chain will cite if it refuses (`parameter_breaks_rule` says which
            // rule no further); the transaction is sent regardless: the chain decides.
            let broken = rule_broken(&served, &changes);
            let payload = Payload::GovPropose {
                changes,
                title,
                description,
                deposit,
            };
            send_tx(client, json_mode, send, payload).map_err(|err| match broken {
                Some(why) if err.to_string().contains("parameter_breaks_rule") => {
                    anyhow!("{err} ({why})")
                }
                _ => err,
            })
        }
        GovCommand::Vote { id, option, send } => {
            let option = VoteOption::parse(&option)
                .ok_or_else(|| anyhow!("{option:?} is not a vote: yes, no, abstain or veto"))?;
            send_tx(
                client,
                json_mode,
                send,
                Payload::GovVote {
                    proposal: id,
                    option,
                },
            )
        }
        GovCommand::List { limit } => {
            let proposals = client.proposals(limit)?;
            let mut text = String::new();
            for p in &proposals {
                text.push_str(&format!(
                    "{:>4}  {:<15}  ends {:<8} effect {:<8} {}\n",
                    p.id, p.status, p.voting_end_height, p.effect_height, p.title
                ));
            }
            if proposals.is_empty() {
                text.push_str("no proposals\n");
            }
            print(
                json_mode,
                serde_json::to_value(&proposals)?,
                text.trim_end().to_string(),
            );
            Ok(())
        }
        GovCommand::Show { id } => {
            let proposal = client.proposal(id)?;
            print(
                json_mode,
                serde_json::to_value(&proposal)?,
                show_text(&proposal),
            );
            Ok(())
        }
        GovCommand::Params => {
            let served = client.params()?;
            let mut text = format!("at height {}", served.height);
            for (section, params) in &served.sections {
                for (name, param) in params {
                    text.push_str(&format!(
                        "\n{section}.{name} = {}  ({}..={})",
                        param.value, param.min, param.max
                    ));
                }
            }
            print(json_mode, serde_json::to_value(&served)?, text);
            Ok(())
        }
    }
}

/// `SECTION.NAME=VALUE`, checked against the served parameters' names and bounds.
fn parse_change(served: &ParamsDto, text: &str) -> Result<(String, u128)> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("--param {text:?}: expected SECTION.NAME=VALUE"))?;
    let param = lookup(served, key)?;
    let value: u128 = value
        .trim()
        .parse()
        .with_context(|| format!("--param {key}: {value:?} is not a non-negative integer"))?;
    let (min, max): (u128, u128) = (param.min.parse()?, param.max.parse()?);
    if !(min..=max).contains(&value) {
        bail!(
            "--param {key}={value} is outside its bounds {min}..={max} (the chain refuses it: parameter_out_of_bounds)"
        );
    }
    Ok((key.to_string(), value))
}

/// The rule `changes` would break, as the governance registry words it: the served values (every
/// parameter is governed, so they are the chain's parameters) with `changes` applied, checked as
/// the chain checks a proposal (without the chain's scheduled epochs, which the registry does not
/// see).
fn rule_broken(served: &ParamsDto, changes: &[(String, u128)]) -> Option<String> {
    use plexus_state::governance::registry::{self, ChangeError};
    let current: Vec<(String, u128)> = served
        .sections
        .iter()
        .flat_map(|(section, params)| {
            params
                .iter()
                .map(move |(name, p)| Some((format!("{section}.{name}"), p.value.parse().ok()?)))
        })
        .collect::<Option<_>>()?;
    let mut in_force = plexus_state::Params::default();
    for (key, value) in current {
        // Unchecked: a step from the defaults to the served values is no proposal.
        let governed = registry::lookup(&key)?;
        governed.set_unchecked(&mut in_force, value);
    }
    match registry::apply(&in_force, changes) {
        Err(ChangeError::Breaks(why)) => Some(why),
        _ => None,
    }
}

fn lookup<'a>(served: &'a ParamsDto, key: &str) -> Result<&'a plexus_client::dto::ParamDto> {
    key.split_once('.')
        .and_then(|(section, name)| served.sections.get(section)?.get(name))
        .ok_or_else(|| {
            anyhow!("{key:?} is not a governed parameter (`plexus gov params` lists them)")
        })
}

fn value_of(served: &ParamsDto, key: &str) -> Result<u128> {
    Ok(lookup(served, key)?.value.parse()?)
}

fn show_text(p: &ProposalDto) -> String {
    let mut text = format!(
        "proposal   {} ({})\ntitle      {}\nproposer   {}\ndeposit    {}\nsubmitted  {}\nvoting     through height {}\neffect     at the end of height {}",
        p.id,
        p.status,
        p.title,
        p.proposer,
        plx(&p.deposit),
        p.submit_height,
        p.voting_end_height,
        p.effect_height
    );
    for change in &p.changes {
        text.push_str(&format!("\nchange     {} = {}", change.key, change.value));
    }
    let t = &p.tally;
    text.push_str(&format!(
        "\ntally      yes {}, no {}, abstain {}, veto {} of {} bonded ({} voters)\nturnout    {}.{:02}%",
        plx(&t.yes),
        plx(&t.no),
        plx(&t.abstain),
        plx(&t.veto),
        plx(&t.bonded),
        p.voters,
        t.turnout_bps / 100,
        t.turnout_bps % 100
    ));
    if let Some(why) = &p.failure {
        text.push_str(&format!("\nfailure    {why}"));
    }
    if !p.description.is_empty() {
        text.push_str(&format!("\n\n{}", p.description));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_client::dto::ParamDto;

    fn served() -> ParamsDto {
        let param = |value: &str, min: &str, max: &str| ParamDto {
            value: value.into(),
            min: min.into(),
            max: max.into(),
        };
        ParamsDto {
            height: 1,
            sections: [(
                "audit".to_string(),
                [(
                    "light_audit_ppm".to_string(),
                    param("100000", "0", "1000000"),
                )]
                .into(),
            )]
            .into(),
        }
    }

    #[test]
    fn a_change_is_checked_against_the_served_names_and_bounds() {
        let served = served();
        assert_eq!(
            parse_change(&served, "audit.light_audit_ppm=150000").unwrap(),
            ("audit.light_audit_ppm".to_string(), 150_000)
        );
        let out = parse_change(&served, "audit.light_audit_ppm=2000000").unwrap_err();
        assert!(
            out.to_string().contains("outside its bounds 0..=1000000"),
            "{out}"
        );
        let unknown = parse_change(&served, "audit.nothing=1").unwrap_err();
        assert!(
            unknown.to_string().contains("not a governed parameter"),
            "{unknown}"
        );
        assert!(parse_change(&served, "audit.light_audit_ppm").is_err());
        assert!(parse_change(&served, "audit.light_audit_ppm=-1").is_err());
    }

    #[test]
    fn the_rule_a_change_breaks_is_named_from_the_served_values() {
        // Every governed parameter at its default, as a node serves them.
        let state = plexus_state::Params::default();
        let served = ParamsDto {
            height: 1,
            sections: plexus_state::governance::registry::by_section(&state)
                .into_iter()
                .map(|(section, params)| {
                    let params = params
                        .into_iter()
                        .map(|(name, value)| {
                            let dto = plexus_client::dto::ParamDto {
                                value: value.to_string(),
                                min: "0".into(),
                                max: u128::MAX.to_string(),
                            };
                            (name.to_string(), dto)
                        })
                        .collect();
                    (section.to_string(), params)
                })
                .collect(),
        };
        let epochs = [("chain.epoch_length_blocks".to_string(), 10)];
        let why = rule_broken(&served, &epochs).unwrap();
        assert!(
            why.contains("proof_window_blocks 10 must be below"),
            "{why}"
        );
        let rare = [("audit.light_audit_ppm".to_string(), 1_000)];
        assert!(rule_broken(&served, &rare).unwrap().contains("FuelTrace"));
        let fine = [("chain.epoch_length_blocks".to_string(), 50)];
        assert_eq!(rule_broken(&served, &fine), None);
        // Against the served length (100), not the default's.
        let tenfold = [("chain.epoch_length_blocks".to_string(), 1_000)];
        assert!(
            rule_broken(&served, &tenfold)
                .unwrap()
                .contains("at most double or halve")
        );
    }
}
