//! Governance as the API serves it: every governed parameter (`GET /v1/params`) and the
//! proposals (`GET /v1/proposals[/{id}]`).

use super::*;

/// Every governed parameter, by section, with its value and bounds, as the client reads it.
#[test]
fn every_governed_parameter_is_served_by_section_with_its_bounds() {
    let (state, _, _) = storage_market();
    let served = chain::params(&state);
    assert_eq!(served.height, state.height);
    let light = &served.sections["audit"]["light_audit_ppm"];
    assert_eq!(light.value, state.params.audit.light_audit_ppm.to_string());
    assert_eq!((light.min.as_str(), light.max.as_str()), ("0", "1000000"));
    assert_eq!(served.sections["storage"]["n"].value, "4");
    assert_eq!(
        served.sections["chain"]["fee_min"].value,
        state.params.fee_min.to_string()
    );
    let count: usize = served.sections.values().map(|section| section.len()).sum();
    assert_eq!(count, plexus_state::governance::registry::GOVERNED.len());
    let json = serde_json::to_value(&served).unwrap();
    assert_eq!(serde_json::from_value::<ParamsDto>(json).unwrap(), served);
    let document = serde_json::to_value(openapi()).unwrap();
    assert!(document["paths"]["/v1/params"]["get"]["responses"]["200"].is_object());
    assert!(document["components"]["schemas"]["ParamsDto"]["properties"]["sections"].is_object());
}

/// Proposals as JSON: newest first within `limit`, one by id with its tally (live while voting)
/// and status, an unknown id 404 `unknown_proposal`; a passed change shows in `GET /v1/params`
/// once applied.
#[test]
fn proposals_are_served_newest_first_with_their_tally_and_status() {
    use plexus_types::gov::VoteOption;
    let params = Params {
        gov_voting_period_blocks: 2,
        gov_effect_delay_blocks: 1,
        ..Params::default()
    };
    let (mut state, beacon) = chain(params, 2);
    let propose = |nonce: u64, value: u128| {
        tx(
            1,
            nonce,
            Payload::GovPropose {
                changes: vec![("audit.light_audit_ppm".into(), value)],
                title: format!("light audits at {value} ppm"),
                description: String::new(),
                deposit: 100 * PLX,
            },
        )
    };
    let vote = Payload::GovVote {
        proposal: 0,
        option: VoteOption::Yes,
    };
    let mut blocks = vec![
        vec![propose(0, 150_000), propose(1, 120_000)],
        vec![tx(0, 0, vote)],
    ];
    blocks.extend((0..3).map(|_| vec![]));
    for (i, txs) in blocks.into_iter().enumerate() {
        if i == 2 {
            // Voting still: the tally is what the votes so far give (stored, it is still zero).
            let voting = crate::api::gov::proposal(&state, 0).unwrap();
            assert_eq!(voting.status, "voting");
            assert_eq!(voting.tally.yes, (10_000 * PLX).to_string());
            assert_eq!(voting.tally.turnout_bps, 10_000);
            assert_eq!(state.proposals[&0].tally.yes, 0);
        }
        next_block(&mut state, &beacon, txs);
    }
    let all =
        crate::api::gov::proposals(&state, &crate::api::gov::ProposalsQuery::default()).unwrap();
    assert_eq!(all.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 0]);
    let newest =
        crate::api::gov::proposals(&state, &crate::api::gov::ProposalsQuery { limit: Some(1) })
            .unwrap();
    assert_eq!(newest, all[..1]);
    let passed = crate::api::gov::proposal(&state, 0).unwrap();
    assert_eq!(
        (
            passed.status.as_str(),
            passed.voting_end_height,
            passed.effect_height
        ),
        ("applied", 3, 4)
    );
    assert_eq!(passed.tally.yes, (10_000 * PLX).to_string());
    assert_eq!(passed.tally.turnout_bps, 10_000);
    assert_eq!(passed.changes[0].key, "audit.light_audit_ppm");
    assert_eq!(all[0].status, "no_quorum");
    let json = serde_json::to_value(&passed).unwrap();
    assert_eq!(serde_json::from_value::<ProposalDto>(json).unwrap(), passed);
    let missing = crate::api::gov::proposal(&state, 9).unwrap_err();
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "unknown_proposal");
    assert_eq!(
        chain::params(&state).sections["audit"]["light_audit_ppm"].value,
        "150000"
    );
    let document = serde_json::to_value(openapi()).unwrap();
    assert!(document["paths"]["/v1/proposals/{id}"]["get"]["responses"]["404"].is_object());
    assert!(document["components"]["schemas"]["ProposalDto"]["properties"]["tally"].is_object());
}

/// A passed change of epoch length: `/v1/params` shows the new value from its effect height,
/// `/v1/status` the epochs still of the old length with the change scheduled (from epoch 2,
/// two after the one it applied in), then the new length once epoch 2 begins.
#[test]
fn a_new_epoch_length_is_served_as_scheduled_then_in_force() {
    use plexus_types::gov::VoteOption;
    let params = Params {
        epoch_length_blocks: 20,
        gov_voting_period_blocks: 2,
        gov_effect_delay_blocks: 1,
        ..Params::default()
    };
    let (mut state, beacon) = chain(params, 2);
    let propose = tx(
        1,
        0,
        Payload::GovPropose {
            changes: vec![("chain.epoch_length_blocks".into(), 12)],
            title: "shorter epochs".into(),
            description: String::new(),
            deposit: 100 * PLX,
        },
    );
    let vote = tx(
        0,
        0,
        Payload::GovVote {
            proposal: 0,
            option: VoteOption::Yes,
        },
    );
    next_block(&mut state, &beacon, vec![propose]);
    next_block(&mut state, &beacon, vec![vote]);
    while state.height < 4 {
        next_block(&mut state, &beacon, vec![]);
    }
    assert_eq!(
        chain::params(&state).sections["chain"]["epoch_length_blocks"].value,
        "12"
    );
    let scheduled = chain::epoch_status(&state);
    assert_eq!(
        (
            scheduled.epoch,
            scheduled.length,
            scheduled.first_height,
            scheduled.last_height
        ),
        (0, 20, 0, 19)
    );
    let change = EpochSegmentDto {
        first_epoch: 2,
        first_height: 40,
        length: 12,
    };
    assert_eq!(scheduled.change, Some(change));
    while state.height < 39 {
        next_block(&mut state, &beacon, vec![]);
    }
    let in_force = chain::epoch_status(&state);
    assert_eq!(
        (
            in_force.epoch,
            in_force.length,
            in_force.first_height,
            in_force.last_height
        ),
        (2, 12, 40, 51)
    );
    assert_eq!(in_force.change, None);
    let document = serde_json::to_value(openapi()).unwrap();
    let status = &document["components"]["schemas"]["StatusDto"]["properties"];
    assert!(status["epoch_change"].is_object() && status["epoch_last_height"].is_object());
}
