//! Audits that end without a game: an agreeing full audit, light audits (and a disputed drawn
//! segment), a settlement held by an audit, and canaries (paid when flagged, slashed when echoed,
//! withdrawn when they outlast their job).

use super::*;

/// Scenario 2: a bought full audit of an honest provider, with the provider and the consumer
/// registered as verifiers too, and the audit's rejections.
#[test]
fn an_agreeing_full_audit_passes_and_the_job_settles() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    for i in [PROVIDER, CONSUMER, VERIFIER] {
        chain.register_verifier(i, VERIFIER_BOND);
    }
    let (id, job) = chain.post(1, AuditClass::Full);
    let committed = chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS - 1);
    assert!(!chain.state.audits.contains_key(&id));
    chain.empty(1);
    let drawn = committed + AUDIT_DRAW_DELAY_BLOCKS;
    assert_eq!(
        chain.state.audits[&id],
        Audit {
            kind: AuditKind::Full,
            verifier: address(VERIFIER),
            drawn_height: drawn,
            // The response time, plus one block for re-running its max fuel (10^6) at 10^9
            // fuel/s with the margin.
            due_height: drawn + RESPONSE_BLOCKS + 1,
            stage: AuditStage::Drawn,
            paid: 0,
            canary: None,
            declined: Vec::new(),
        }
    );
    assert_eq!(chain.verifier(VERIFIER).open, 1);
    // The settlement height (the draw's) has passed; the audit holds the job.
    assert_eq!(committed + SETTLEMENT_WINDOW_BLOCKS, drawn);
    assert_eq!(chain.status(&id).name(), "committed");

    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    let salt = hash(&[b"salt"]);
    let seal = audit_seal(&id, &address(VERIFIER), &verdict, &salt);
    let reveal = |salt| Payload::AuditReveal {
        job: id,
        verdict: verdict.clone(),
        salt,
    };
    let commit_seal = || Payload::AuditCommit { job: id, seal };
    chain.fails(VERIFIER, reveal(salt), Reason::AuditClosed);
    chain.fails(OUTSIDER, commit_seal(), Reason::NotAuditor);
    assert_eq!(chain.state.height, drawn + RESPONSE_BLOCKS - 1);
    chain.ok(VERIFIER, Payload::AuditCommit { job: id, seal });
    let sealed = chain.state.height;
    assert_eq!(chain.state.audits[&id].stage, AuditStage::Sealed { seal });
    assert_eq!(chain.state.audits[&id].due_height, sealed + RESPONSE_BLOCKS);
    chain.fails(PROVIDER, commit_seal(), Reason::NotAuditor);
    chain.fails(VERIFIER, reveal(hash(&[b"pepper"])), Reason::SealMismatch);
    assert_eq!(chain.state.height, sealed + RESPONSE_BLOCKS - 1);
    chain.ok(VERIFIER, reveal(salt));
    assert_eq!(chain.state.audits[&id].stage, AuditStage::Passed);
    chain.fails(VERIFIER, reveal(salt), Reason::AuditClosed);
    chain.fails(VERIFIER, commit_seal(), Reason::AuditClosed);
    chain.fails(CONSUMER, commit_seal(), Reason::NotAuditor);

    // Settled in the reveal's block, paid as usual.
    let JobStatus::Settled {
        paid: p_paid,
        burned: p_burned,
        audit_fee: p_fee,
        refunded,
        height,
        ..
    } = chain.status(&id).clone()
    else {
        panic!("not settled: {:?}", chain.status(&id));
    };
    assert_eq!(
        (p_paid, refunded, height),
        (paid(), escrow() - paid(), sealed + RESPONSE_BLOCKS)
    );
    assert_eq!(paid(), 20_000_000); // floor(20_000 * (10^9 + 7) / 10^6)
    // 10% burned, 2% to the audit pool, the provider gets the rest.
    assert_eq!((p_burned, p_fee), (2_000_000, 400_000));
    assert_eq!((burned(paid()), audit_fee(paid())), (p_burned, p_fee));
    assert_eq!(chain.payment_burns, p_burned);
    // The audit passed before its job settled, while the pool was still empty: nothing to pay.
    // Its fuel and the audit count toward the epoch's emission.
    assert_eq!(chain.state.audits[&id].paid, 0);
    assert_eq!(chain.state.audit_pool(), p_fee);
    assert_eq!(
        chain.state.epoch_audited_fuel().get(&address(PROVIDER)),
        Some(&u128::from(SEG_FUEL * SEGMENTS))
    );
    assert_eq!(
        chain.state.epoch_verifier_audits().get(&address(VERIFIER)),
        Some(&1)
    );
    assert_eq!(escrow(), 2_000_006_000); // ceil(1_000_003 * 2 * 10^9 / 10^6)
    let p = &chain.state.providers[&address(PROVIDER)];
    assert_eq!((p.audits_passed, p.jobs_done, p.bond_locked), (1, 1, 0));
    assert_eq!(
        p.reputation,
        REPUTATION_START + params(0).reputation_done_gain
    );
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.audits_done, v.audits_missed, v.open), (1, 0, 0));
    assert_eq!((v.bond, v.locked, v.earned), (VERIFIER_BOND, 0, 0));
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - VERIFIER_BOND - chain.fees[1] + earned(paid())
    );
    assert_eq!(
        chain.balance(CONSUMER),
        START - VERIFIER_BOND - chain.fees[2] - paid()
    );
    assert_eq!(
        chain.balance(VERIFIER),
        START - VERIFIER_BOND - chain.fees[3]
    );
    assert_eq!(chain.slash_burned(), 0);
}

/// Scenario 8: light audits draw `k` distinct segments plus the last; a disputed drawn segment
/// opens the game at that segment; an undrawn one (or a full verdict) is refused.
#[test]
fn light_audits_draw_segments_and_dispute_one() {
    let mut chain = Chain::new(PPM);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let drawn_segments = |chain: &Chain, id: &Digest| -> Vec<u64> {
        let audit = &chain.state.audits[id];
        let AuditKind::Light { segments } = &audit.kind else {
            panic!("not a light audit: {audit:?}");
        };
        assert_eq!(segments.len(), LIGHT_SEGMENTS as usize + 1);
        assert!(segments.windows(2).all(|w| w[0] < w[1]), "{segments:?}");
        assert_eq!(segments.last(), Some(&(SEGMENTS - 1)));
        let seed = chain.seed_at(audit.drawn_height);
        assert_eq!(
            segments,
            &light_segments(&seed, id, SEGMENTS, LIGHT_SEGMENTS)
        );
        segments.clone()
    };

    // Four jobs: one faked at a drawn segment, one honest, two whose verdicts are refused.
    let (cheated, cheated_job) = chain.post(20, AuditClass::Standard);
    let (honest, honest_job) = chain.post(21, AuditClass::Standard);
    let (undrawn, undrawn_job) = chain.post(22, AuditClass::Standard);
    let (full, full_job) = chain.post(23, AuditClass::Standard);
    // The cheater's segment is predicted from the seed of its draw block (the beacon signature
    // over a height after the commitment, which a real provider cannot know) and faked there.
    let commit_height = chain.state.height + 1;
    let seed = chain.seed_at(commit_height + AUDIT_DRAW_DELAY_BLOCKS);
    let predicted = light_segments(&seed, &cheated, SEGMENTS, LIGHT_SEGMENTS);
    let faked = predicted[..predicted.len() - 1]
        .iter()
        .copied()
        .rfind(|s| *s > 0)
        .expect("a drawn segment before the last");
    let fault = Fault::From(faked + 1);
    let commits = vec![
        chain.tx(PROVIDER, cheated_job.commit(cheated, fault)),
        chain.tx(PROVIDER, honest_job.commit(honest, Fault::Honest)),
        chain.tx(PROVIDER, undrawn_job.commit(undrawn, Fault::Honest)),
        chain.tx(PROVIDER, full_job.commit(full, Fault::Honest)),
    ];
    assert_eq!(chain.block(commits), vec![Status::Success; 4]);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    for id in [honest, undrawn, full] {
        drawn_segments(&chain, &id);
    }
    assert_eq!(drawn_segments(&chain, &cheated), predicted);
    eprintln!("light audit segments {predicted:?}; faked segment {faked}");

    let salt = hash(&[b"light salt"]);
    let undrawn_segments = drawn_segments(&chain, &undrawn);
    let not_drawn = (0..SEGMENTS)
        .find(|s| !undrawn_segments.contains(s))
        .expect("an undrawn segment");
    let verdicts = [
        (honest, Verdict::Light { disputed: None }),
        (
            undrawn,
            Verdict::Light {
                disputed: Some(not_drawn),
            },
        ),
        (full, Verdict::Full(full_job.commitment(Fault::Honest))),
        (
            cheated,
            Verdict::Light {
                disputed: Some(faked),
            },
        ),
    ];
    let seals = verdicts
        .iter()
        .map(|(id, verdict)| {
            let seal = audit_seal(id, &address(VERIFIER), verdict, &salt);
            chain.tx(VERIFIER, Payload::AuditCommit { job: *id, seal })
        })
        .collect();
    assert_eq!(chain.block(seals), vec![Status::Success; 4]);
    let reveal = |(id, verdict): &(Digest, Verdict)| Payload::AuditReveal {
        job: *id,
        verdict: verdict.clone(),
        salt,
    };
    chain.fails(VERIFIER, reveal(&verdicts[1]), Reason::InvalidVerdict);
    chain.fails(VERIFIER, reveal(&verdicts[2]), Reason::InvalidVerdict);
    let reveals = vec![
        chain.tx(VERIFIER, reveal(&verdicts[0])),
        chain.tx(VERIFIER, reveal(&verdicts[3])),
    ];
    assert_eq!(chain.block(reveals), vec![Status::Success; 2]);
    let reveal_height = chain.state.height;

    // The honest job passed and settled; the refused verdicts' audits lapsed at their due
    // height (this block) and those jobs settled unaudited.
    assert_eq!(chain.state.audits[&honest].stage, AuditStage::Passed);
    assert_eq!(chain.status(&honest).name(), "settled");
    for id in [undrawn, full] {
        assert_eq!(chain.state.audits[&id].stage, AuditStage::Missed);
        assert_eq!(chain.status(&id).name(), "settled");
    }
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.audits_done, v.audits_missed, v.open), (1, 2, 1));
    // Each lapsed audit cost the verifier the job's value, burned.
    assert_eq!(
        (v.slashed, v.bond),
        (2 * value(), VERIFIER_BOND - 2 * value())
    );

    // The dispute opens on the drawn segment, the proof due at once.
    let game = chain.state.disputes[&cheated].game.clone();
    assert_eq!((game.lo(), game.hi()), (faked, faked + 1));
    assert_eq!(game.phase(), &Phase::AwaitingProof);
    assert_eq!(chain.state.disputes[&cheated].opened_height, reveal_height);
    let rounds = chain.play(cheated, &cheated_job.trace(fault), VERIFIER, &|_, _| {
        unreachable!("no choice in a one-segment game")
    });
    assert_eq!(rounds, 0);
    let (lo, hi) = chain.state.disputes[&cheated].game.resolved().unwrap();
    assert_eq!(lo.state_root, cheated_job.root(faked));
    assert_ne!(hi.state_root, cheated_job.root(faked + 1));
    assert_eq!(chain.settle(VERIFIER, cheated), Status::Success);
    let JobStatus::Refuted { slashed, .. } = chain.status(&cheated).clone() else {
        panic!("not refuted: {:?}", chain.status(&cheated));
    };
    let slash = value() * Amount::from(SLASH_MULTIPLE);
    assert_eq!(slashed, slash);
    let p = &chain.state.providers[&address(PROVIDER)];
    assert_eq!(
        (p.bond, p.bond_locked, p.jobs_in_flight),
        (PROVIDER_BOND - slash, 0, 0)
    );
    assert_eq!((p.audits_passed, p.disputes_lost, p.jobs_done), (1, 1, 3));
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + 3 * earned(paid())
    );
    // The winning verifier is paid for its light re-execution (5 segments of 1 000 fuel at the
    // ask: 5 PLX) from the pool, which holds the fees of the three settled jobs: all of it.
    let pool = 3 * audit_fee(paid());
    assert_eq!(chain.state.audits[&cheated].paid, pool);
    assert_eq!(chain.state.audit_pool(), 0);
    assert_eq!(chain.verifier(VERIFIER).earned, pool);
    assert_eq!(
        chain.balance(VERIFIER),
        START - VERIFIER_BOND - chain.fees[3] + share(slash) + pool
    );
    assert_eq!(chain.balance(CONSUMER), START - chain.fees[2] - 3 * paid());
    assert_eq!(chain.slash_burned(), slash - share(slash) + 2 * value());
}

/// Regression: `MarketIndex::derive` used to list the settlement of a job held by an audit past
/// its settlement height, which the live index had already taken, so `State::recount` failed
/// with `MarketIndex` and a state decoded from a snapshot differed from the live one.
#[test]
fn a_settlement_held_by_an_audit_keeps_the_index_derivable() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, _) = chain.post(40, AuditClass::Full);
    let job = Synthetic::new(40);
    let committed = chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert!(chain.state.height >= committed + SETTLEMENT_WINDOW_BLOCKS);
    assert_eq!(chain.status(&id).name(), "committed");
    assert!(chain.state.audits[&id].is_open());
    assert_eq!(
        plexus_state::MarketIndex::derive(&chain.state),
        *chain.state.market_index()
    );
    assert_eq!(chain.state.recount(), Ok(chain.state.supply.total()));
    let decoded = State::decode(chain.state.encode()).unwrap();
    assert_eq!(decoded, chain.state);
    // A node restored from the snapshot goes on exactly like the live one.
    let mut restored = chain.clone();
    restored.state = decoded;
    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    for c in [&mut chain, &mut restored] {
        assert_eq!(
            c.seal_and_reveal(VERIFIER, id, verdict.clone()),
            Status::Success
        );
        assert_eq!(c.status(&id).name(), "settled");
    }
    assert_eq!(chain.state, restored.state);
}

/// Scenario 10: canaries. Every committed job gets one (rho = 100%): a full audit of a copy of
/// the job under its own id, whose claimed output nobody computed. The verifier that re-runs
/// and disagrees is paid like any auditor; the one that echoes the claim is slashed
/// `verifier_slash_multiple` times the job's value, all of it burned. The canary never holds
/// the real job, and is pruned like a finished job.
#[test]
fn canaries_pay_the_verifier_that_flags_them_and_slash_the_one_that_agrees() {
    let base = params(0);
    let mut chain = Chain::with_params(Params {
        audit: AuditParams {
            canary_ppm: 1_000_000,
            ..base.audit.clone()
        },
        ..base
    });
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);

    // An honest verifier flags its canary.
    let (id, job) = chain.post(40, AuditClass::Standard);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let canary = canary_id(&id);
    let audit = chain.state.audits[&canary].clone();
    assert_eq!(audit.verifier, address(VERIFIER));
    assert_eq!(audit.kind, AuditKind::Full);
    let claim = audit.canary.clone().expect("a canary").claim;
    assert_ne!(claim, job.commitment(Fault::Honest), "known wrong");
    assert!(
        !chain.state.audits.contains_key(&id),
        "no audit of the job itself"
    );
    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    assert_eq!(
        chain.seal_and_reveal(VERIFIER, canary, verdict),
        Status::Success
    );
    let audit = &chain.state.audits[&canary];
    assert_eq!(audit.canary.as_ref().unwrap().flagged, Some(true));
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.canaries_flagged, v.canaries_passed, v.open), (1, 0, 0));
    assert_eq!((v.slashed, v.earned), (0, audit.paid));
    // The real job settled as if unaudited.
    assert_eq!(chain.status(&id).name(), "settled");

    // A lazy verifier echoes the claim it is shown, and pays for it.
    let (id2, job2) = chain.post(41, AuditClass::Standard);
    chain.commit(id2, &job2, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let canary2 = canary_id(&id2);
    let claim = chain.state.audits[&canary2].canary.clone().unwrap().claim;
    let bond_before = chain.verifier(VERIFIER).bond;
    assert_eq!(
        chain.seal_and_reveal(VERIFIER, canary2, Verdict::Full(claim)),
        Status::Success
    );
    let slash = value() * Amount::from(AuditParams::default().verifier_slash_multiple);
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.canaries_flagged, v.canaries_passed), (1, 1));
    assert_eq!((v.bond, v.slashed), (bond_before - slash, slash));
    let audit = &chain.state.audits[&canary2];
    assert_eq!(audit.canary.as_ref().unwrap().flagged, Some(false));
    assert_eq!(audit.paid, 0);

    // Both canaries go with the retention of a finished job.
    chain.empty(RETENTION_BLOCKS + 1);
    assert!(!chain.state.audits.contains_key(&canary));
    assert!(!chain.state.audits.contains_key(&canary2));
}

/// A slow verifier's canary can outlast the retention of the job it copies; when that job is
/// pruned the canary is withdrawn (the verifier could no longer read what to re-run): no pay, no
/// charge, and the verifier's capacity is free again.
#[test]
fn a_canary_outlasting_its_jobs_retention_is_withdrawn_without_a_charge() {
    let base = params(0);
    let mut chain = Chain::with_params(Params {
        audit: AuditParams {
            canary_ppm: 1_000_000,
            ..base.audit.clone()
        },
        ..base
    });
    chain.register_provider();
    // 10^5 fuel/s: the canary's window is 3 + 121 blocks, longer than the retention (20).
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, 100_000, 1));
    let (id, job) = chain.post(98, AuditClass::Standard);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let canary = canary_id(&id);
    let due = chain.state.audits[&canary].due_height;
    let JobStatus::Settled {
        height: settled, ..
    } = chain.status(&id).clone()
    else {
        panic!("the job settles unaudited: {:?}", chain.status(&id));
    };
    assert!(due > settled + RETENTION_BLOCKS);
    chain.until(settled + RETENTION_BLOCKS);
    assert!(!chain.state.jobs.contains_key(&id), "pruned");
    let audit = &chain.state.audits[&canary];
    assert_eq!(audit.stage, AuditStage::Withdrawn);
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.open, v.audits_missed, v.slashed), (0, 0, 0));
    // The withdrawn canary goes with the retention of a finished job too.
    chain.empty(RETENTION_BLOCKS + 1);
    assert!(!chain.state.audits.contains_key(&canary));
    assert_eq!(chain.slash_burned(), 0);
}
