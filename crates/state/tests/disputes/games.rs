//! Dissection games to their end: a cheating provider caught, a lying verifier, a consumer's
//! dispute, lapsed moves, every bad dispute input, and a refutation that closes an open audit.

use super::*;

/// Scenario 3: a verifier's full audit catches a cheating provider; the game ends at the first
/// faked leaf (or, for a made-up output over the honest trace, at the final leaf).
#[test]
fn a_cheating_provider_loses_the_game_and_its_slash() {
    let middle = SEGMENTS / 2;
    for (fault, segment) in [
        (Fault::From(1), 0),
        (Fault::From(middle), middle - 1),
        (Fault::From(SEGMENTS), SEGMENTS - 1),
        (Fault::Output, SEGMENTS - 1),
    ] {
        let mut chain = Chain::new(0);
        chain.register_provider();
        chain.register_verifier(VERIFIER, VERIFIER_BOND);
        let (id, job, _) = chain.audited(7, fault, Fault::Honest);
        let opened = chain.state.height;
        let dispute = &chain.state.disputes[&id];
        assert_eq!(dispute.challenger, address(VERIFIER));
        assert!(dispute.by_verifier);
        assert_eq!(dispute.deposit, value());
        assert_eq!(dispute.deposit_held(), 0);
        assert_eq!(
            (dispute.opened_height, dispute.due_height),
            (opened, opened + RESPONSE_BLOCKS)
        );
        assert_eq!((dispute.game.lo(), dispute.game.hi()), (0, SEGMENTS));
        assert_eq!(dispute.game.phase(), &Phase::AwaitingReveal);
        assert_eq!(chain.state.audits[&id].stage, AuditStage::Disputed);
        let v = chain.verifier(VERIFIER);
        assert_eq!((v.bond, v.locked, v.open), (VERIFIER_BOND, value(), 1));

        let rounds = chain.play(id, &job.trace(fault), VERIFIER, &|i, leaf| {
            job.agrees(i, leaf)
        });
        assert!(
            (1..=rounds_max(SEGMENTS + 1, ARITY)).contains(&rounds),
            "{fault:?}"
        );
        let (lo, hi) = chain.state.disputes[&id].game.resolved().expect("resolved");
        assert_eq!((lo.index, hi.index), (segment, segment + 1), "{fault:?}");
        assert_eq!(chain.status(&id).name(), "committed");

        assert_eq!(chain.settle(VERIFIER, id), Status::Success);
        let height = chain.state.height;
        let slash = value() * Amount::from(SLASH_MULTIPLE);
        assert_eq!(
            chain.state.disputes[&id].ruling,
            Some(Ruling {
                provider_lost: true,
                end: DisputeEnd::Replay,
                slashed: slash,
                to_winner: share(slash),
                height,
            })
        );
        assert_refuted(&chain, &id, height);
        let v = chain.verifier(VERIFIER);
        assert_eq!((v.bond, v.locked, v.open), (VERIFIER_BOND, 0, 0));
        assert_eq!((v.disputes_won, v.disputes_lost, v.slashed), (1, 0, 0));
        assert_eq!(
            chain.balance(PROVIDER),
            START - PROVIDER_BOND - chain.fees[1]
        );
        assert_eq!(chain.balance(CONSUMER), START - chain.fees[2]);
        assert_eq!(
            chain.balance(VERIFIER),
            START - VERIFIER_BOND - chain.fees[3] + share(slash)
        );
        assert_eq!(chain.slash_burned(), slash - share(slash));
        // A ruled dispute takes no more moves, and the job is done.
        let defender = job.trace(fault);
        chain.fails(
            PROVIDER,
            Payload::DisputeMove {
                job: id,
                step: Move::Prove(defender.prove(segment).expect("a segment")),
            },
            Reason::NoDispute,
        );
    }
    // R = ceil(1_000_003 * (10^9 + 7) / 10^6) = ceil(1_000_003_007.000021).
    assert_eq!(value(), 1_000_003_008);
}

/// Scenario 4: an honest provider against a verifier that reveals a made-up commitment and
/// steers the game to the first segment: the verifier loses its deposit, the job settles.
#[test]
fn a_lying_verifier_loses_its_deposit_and_the_provider_is_paid() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, job, committed) = chain.audited(8, Fault::Honest, Fault::Output);
    assert_eq!(chain.verifier(VERIFIER).locked, value());
    chain.fails(VERIFIER, Payload::VerifierDeregister, Reason::VerifierBusy);
    // Always the first sub-interval: [0, 20] -> [0, 5] -> [0, 1].
    let rounds = chain.play(id, &job.trace(Fault::Honest), VERIFIER, &|_, _| false);
    assert_eq!(rounds, 2);
    let (lo, _) = chain.state.disputes[&id].game.resolved().expect("resolved");
    assert_eq!(lo.index, 0);
    // Held past its settlement height until the ruling.
    assert!(chain.state.height > committed + SETTLEMENT_WINDOW_BLOCKS);
    assert_eq!(chain.status(&id).name(), "committed");

    assert_eq!(chain.settle(PROVIDER, id), Status::Success);
    let height = chain.state.height;
    let deposit = value();
    assert_eq!(
        chain.state.disputes[&id].ruling,
        Some(Ruling {
            provider_lost: false,
            end: DisputeEnd::Replay,
            slashed: deposit,
            to_winner: share(deposit),
            height,
        })
    );
    let JobStatus::Settled {
        paid: p_paid,
        height: settled,
        ..
    } = chain.status(&id).clone()
    else {
        panic!("not settled: {:?}", chain.status(&id));
    };
    assert_eq!((p_paid, settled), (paid(), height));
    let v = chain.verifier(VERIFIER);
    assert_eq!(
        (v.bond, v.locked, v.open, v.slashed),
        (VERIFIER_BOND - deposit, 0, 0, deposit)
    );
    assert_eq!((v.disputes_won, v.disputes_lost), (0, 1));
    let p = &chain.state.providers[&address(PROVIDER)];
    assert_eq!(
        (p.bond, p.bond_locked, p.jobs_in_flight),
        (PROVIDER_BOND, 0, 0)
    );
    assert_eq!((p.disputes_lost, p.jobs_done), (0, 1));
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + earned(paid()) + share(deposit)
    );
    assert_eq!(chain.balance(CONSUMER), START - chain.fees[2] - paid());
    assert_eq!(
        chain.balance(VERIFIER),
        START - VERIFIER_BOND - chain.fees[3]
    );
    assert_eq!(chain.slash_burned(), deposit - share(deposit));
    // No longer busy: it may leave with what is left of its bond.
    chain.ok(VERIFIER, Payload::VerifierDeregister);
    chain.empty(UNBONDING_BLOCKS);
    assert_eq!(chain.balance(VERIFIER), START - deposit - chain.fees[3]);
}

/// Scenario 5: the consumer disputes a cheater with its own result, deposit from its balance.
#[test]
fn a_consumer_dispute_refunds_the_escrow_and_the_deposit_with_a_share() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    let (id, job) = chain.post(9, AuditClass::Standard);
    chain.commit(id, &job, Fault::From(7));
    let before = chain.balance(CONSUMER);
    chain.ok(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: job.commitment(Fault::Honest),
        },
    );
    assert_eq!(chain.balance(CONSUMER), before - FEE - value());
    let dispute = &chain.state.disputes[&id];
    assert_eq!(dispute.challenger, address(CONSUMER));
    assert!(!dispute.by_verifier);
    assert_eq!(
        (dispute.deposit, dispute.deposit_held()),
        (value(), value())
    );
    // No audit was drawn (no verifier and no random audits), so nothing else holds the job.
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert!(chain.state.audits.is_empty());
    let rounds = chain.play(id, &job.trace(Fault::From(7)), CONSUMER, &|i, leaf| {
        job.agrees(i, leaf)
    });
    assert!(rounds <= rounds_max(SEGMENTS + 1, ARITY));
    let (lo, _) = chain.state.disputes[&id].game.resolved().expect("resolved");
    assert_eq!(lo.index, 6);
    assert_eq!(chain.settle(CONSUMER, id), Status::Success);
    let height = chain.state.height;
    assert_refuted(&chain, &id, height);
    let slash = value() * Amount::from(SLASH_MULTIPLE);
    let dispute = &chain.state.disputes[&id];
    assert_eq!(dispute.deposit_held(), 0);
    assert_eq!(
        dispute
            .ruling
            .as_ref()
            .map(|r| (r.provider_lost, r.to_winner)),
        Some((true, share(slash)))
    );
    assert_eq!(
        chain.balance(CONSUMER),
        START - chain.fees[2] + share(slash)
    );
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1]
    );
    assert_eq!(chain.slash_burned(), slash - share(slash));
}

/// Scenario 6: whoever lets a move lapse loses; an unsettled resolved game is the provider's loss.
#[test]
fn a_lapsed_move_loses_the_dispute() {
    let slash = value() * Amount::from(SLASH_MULTIPLE);

    // The defender never reveals.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, _, _) = chain.audited(10, Fault::From(3), Fault::Honest);
    let due = chain.state.disputes[&id].due_height;
    assert_eq!(due, chain.state.height + RESPONSE_BLOCKS);
    chain.until(due - 1);
    assert_eq!(chain.state.disputes[&id].ruling, None);
    chain.empty(1);
    assert_eq!(
        chain.state.disputes[&id].ruling,
        Some(Ruling {
            provider_lost: true,
            end: DisputeEnd::Timeout,
            slashed: slash,
            to_winner: share(slash),
            height: due,
        })
    );
    assert_refuted(&chain, &id, due);
    assert_eq!(
        chain.balance(VERIFIER),
        START - VERIFIER_BOND - chain.fees[3] + share(slash)
    );
    assert_eq!(chain.verifier(VERIFIER).locked, 0);
    assert_eq!(chain.balance(CONSUMER), START - chain.fees[2]);
    assert_eq!(chain.slash_burned(), slash - share(slash));

    // The challenger (a consumer with a made-up claim) never chooses: its deposit is lost.
    let mut chain = Chain::new(0);
    chain.register_provider();
    let (id, job) = chain.post(11, AuditClass::Standard);
    chain.commit(id, &job, Fault::Honest);
    chain.ok(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: job.commitment(Fault::Output),
        },
    );
    let game = chain.state.disputes[&id].game.clone();
    let reveal = job.trace(Fault::Honest).respond(&game).expect("own game");
    chain.ok(
        PROVIDER,
        Payload::DisputeMove {
            job: id,
            step: reveal.expect("a reveal is due"),
        },
    );
    let due = chain.state.height + RESPONSE_BLOCKS;
    assert_eq!(chain.state.disputes[&id].due_height, due);
    chain.until(due - 1);
    assert_eq!(chain.status(&id).name(), "committed");
    chain.empty(1);
    let deposit = value();
    assert_eq!(
        chain.state.disputes[&id].ruling,
        Some(Ruling {
            provider_lost: false,
            end: DisputeEnd::Timeout,
            slashed: deposit,
            to_winner: share(deposit),
            height: due,
        })
    );
    assert_eq!(chain.status(&id).name(), "settled");
    assert_eq!(
        chain.balance(CONSUMER),
        START - chain.fees[2] - paid() - deposit
    );
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + earned(paid()) + share(deposit)
    );
    assert_eq!(chain.slash_burned(), deposit - share(deposit));

    // A resolved game that nobody settles: the provider owed the settlement.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, job, _) = chain.audited(12, Fault::From(SEGMENTS), Fault::Honest);
    chain.play(
        id,
        &job.trace(Fault::From(SEGMENTS)),
        VERIFIER,
        &|i, leaf| job.agrees(i, leaf),
    );
    let due = chain.state.height + RESPONSE_BLOCKS;
    assert_eq!(chain.state.disputes[&id].due_height, due);
    chain.until(due - 1);
    assert_eq!(chain.state.disputes[&id].ruling, None);
    chain.empty(1);
    let ruling = chain.state.disputes[&id].ruling.clone().expect("ruled");
    assert_eq!(
        (ruling.provider_lost, ruling.end, ruling.height),
        (true, DisputeEnd::Timeout, due)
    );
    assert_refuted(&chain, &id, due);
    assert_eq!(chain.slash_burned(), slash - share(slash));
}

/// Scenario 7: every bad dispute input is a failed receipt that changes nothing but the fee and
/// the nonce; content a node lacks stops the block instead.
#[test]
fn bad_dispute_inputs_fail_without_effect() {
    // Room for a dozen refused moves before any move is due.
    let mut chain = Chain::with_params(Params {
        audit: AuditParams {
            response_blocks: 20,
            ..params(0).audit
        },
        ..params(0)
    });
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let fault = Fault::From(SEGMENTS / 2);
    let (id, job, _) = chain.audited(13, fault, Fault::Honest);
    let defender = job.trace(fault);
    let game = chain.state.disputes[&id].game.clone();
    let mv = |step| Payload::DisputeMove { job: id, step };
    let choose = |sub_interval| mv(Move::Choose(Choose { sub_interval }));

    // Awaiting the provider's reveal.
    chain.fails(VERIFIER, choose(0), Reason::NotYourMove);
    chain.fails(
        OUTSIDER,
        mv(defender.respond(&game).unwrap().unwrap()),
        Reason::NotYourMove,
    );
    let Some(Move::Reveal(reveal)) = defender.respond(&game).unwrap() else {
        panic!("a reveal is due");
    };
    let mut points = reveal.points.clone();
    points.push(points[0]);
    chain.fails(
        PROVIDER,
        mv(Move::Reveal(Reveal { points })),
        Reason::InvalidMove,
    );
    chain.fails(
        PROVIDER,
        mv(Move::Prove(defender.prove(0).unwrap())),
        Reason::InvalidMove,
    );
    chain.fails(
        VERIFIER,
        Payload::DisputeSettle {
            job: id,
            manifest: good_manifest(),
        },
        Reason::InvalidMove,
    );
    // One dispute per job; only the consumer opens one; a claim must differ.
    let claim = job.commitment(Fault::Honest);
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: claim.clone(),
        },
        Reason::NotDisputable,
    );
    chain.fails(
        OUTSIDER,
        Payload::DisputeOpen {
            job: id,
            claim: claim.clone(),
        },
        Reason::NotConsumer,
    );
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: hash(&[b"no such job"]),
            claim: claim.clone(),
        },
        Reason::UnknownJob,
    );
    chain.fails(
        PROVIDER,
        Payload::DisputeMove {
            job: hash(&[b"no such job"]),
            step: Move::Reveal(reveal.clone()),
        },
        Reason::NoDispute,
    );

    // Play to the proof.
    chain.ok(PROVIDER, mv(Move::Reveal(reveal)));
    chain.fails(PROVIDER, choose(0), Reason::NotYourMove);
    chain.fails(VERIFIER, choose(ARITY), Reason::InvalidMove);
    while chain.state.disputes[&id].game.phase() != &Phase::AwaitingProof {
        let game = chain.state.disputes[&id].game.clone();
        let step = match game.to_move() {
            Some(Role::Defender) => (PROVIDER, defender.respond(&game).unwrap().unwrap()),
            _ => {
                let points = game.revealed_points();
                let choice = first_disagreement(&points, |i, l| job.agrees(i, l));
                (VERIFIER, Move::Choose(choice))
            }
        };
        chain.ok(step.0, mv(step.1));
    }
    let lo = chain.state.disputes[&id].game.lo();
    assert_eq!(lo, SEGMENTS / 2 - 1);
    let good = defender.prove(lo).unwrap();
    let mut inflated = good.clone();
    inflated.hi.fuel += 1;
    chain.fails(PROVIDER, mv(Move::Prove(inflated)), Reason::InvalidMove);
    let mut forged = good.clone();
    forged.proof.siblings[0] = ContentHash::of(b"forged sibling");
    chain.fails(PROVIDER, mv(Move::Prove(forged)), Reason::InvalidMove);
    let honest = job.trace(Fault::Honest).prove(lo).unwrap();
    chain.fails(PROVIDER, mv(Move::Prove(honest)), Reason::InvalidMove);
    chain.fails(VERIFIER, choose(0), Reason::NotYourMove);
    chain.ok(PROVIDER, mv(Move::Prove(good.clone())));

    // Resolved: a manifest that does not fit the agreed leaf fails on every node.
    chain.fails(
        VERIFIER,
        Payload::DisputeSettle {
            job: id,
            manifest: bad_manifest(),
        },
        Reason::ContentInvalid,
    );
    chain.fails(PROVIDER, mv(Move::Prove(good.clone())), Reason::NotYourMove);
    // Only the two sides may make the validators re-run (the consumer is not one here).
    chain.fails(
        CONSUMER,
        Payload::DisputeSettle {
            job: id,
            manifest: good_manifest(),
        },
        Reason::NotYourMove,
    );
    // Content this node lacks: not a receipt, the block cannot be built or applied here.
    let settle = chain.tx(
        VERIFIER,
        Payload::DisputeSettle {
            job: id,
            manifest: good_manifest(),
        },
    );
    let settle_hash = settle.hash();
    chain.replayer.unavailable = true;
    // A proposer without the content leaves the settlement out and still builds (regression:
    // one such transaction in every mempool stopped block production).
    let without = chain
        .build(vec![settle.clone()])
        .expect("builds without the settlement");
    assert!(without.block.txs.is_empty());
    assert!(without.receipts.is_empty());
    chain.replayer.unavailable = false;
    let built = chain.build(vec![settle]).expect("builds with the content");
    let withheld = TestReplayer {
        unavailable: true,
        ..TestReplayer::default()
    };
    let mut copy = chain.state.clone();
    match apply_block_with(&mut copy, &built.block, &withheld) {
        Err(ApplyError::ContentUnavailable { tx, .. }) => assert_eq!(tx, settle_hash),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(chain.accept(built), vec![Status::Success]);
    assert_refuted(&chain, &id, chain.state.height);

    // After the ruling.
    chain.fails(PROVIDER, mv(Move::Prove(good)), Reason::NoDispute);
    chain.fails(VERIFIER, choose(0), Reason::NoDispute);
    chain.fails(
        VERIFIER,
        Payload::DisputeSettle {
            job: id,
            manifest: good_manifest(),
        },
        Reason::NoDispute,
    );
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: claim.clone(),
        },
        Reason::NotDisputable,
    );

    // A consumer's claim equal to the commitment; a dispute of a settled job, then a pruned one.
    let (settled, settled_job) = chain.post(14, AuditClass::Standard);
    chain.commit(settled, &settled_job, Fault::Honest);
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: settled,
            claim: settled_job.commitment(Fault::Honest),
        },
        Reason::InvalidVerdict,
    );
    chain.empty(SETTLEMENT_WINDOW_BLOCKS - 1);
    assert_eq!(chain.status(&settled).name(), "settled");
    let claim = settled_job.commitment(Fault::Output);
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: settled,
            claim: claim.clone(),
        },
        Reason::NotDisputable,
    );
    chain.empty(RETENTION_BLOCKS);
    assert!(!chain.state.jobs.contains_key(&settled));
    chain.fails(
        CONSUMER,
        Payload::DisputeOpen {
            job: settled,
            claim,
        },
        Reason::UnknownJob,
    );
}

/// Regression (review): an audit still open when the consumer's dispute refutes the job ends
/// without pay, and frees its verifier; agreeing with the refuted commitment earns nothing.
#[test]
fn a_refutation_closes_the_jobs_open_audit_without_pay() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.register_verifier(VERIFIER, VERIFIER_BOND);
    let (id, job) = chain.post(12, AuditClass::Full);
    chain.commit(id, &job, Fault::From(3));
    chain.ok(
        CONSUMER,
        Payload::DisputeOpen {
            job: id,
            claim: job.commitment(Fault::Honest),
        },
    );
    // The bought full audit is drawn while the consumer's dispute runs.
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert_eq!(chain.state.audits[&id].verifier, address(VERIFIER));
    assert_eq!(chain.verifier(VERIFIER).open, 1);
    chain.play(id, &job.trace(Fault::From(3)), CONSUMER, &|i, leaf| {
        job.agrees(i, leaf)
    });
    assert_eq!(chain.settle(CONSUMER, id), Status::Success);
    assert_eq!(chain.status(&id).name(), "refuted");
    let audit = &chain.state.audits[&id];
    assert!(!audit.is_open());
    assert_eq!(audit.paid, 0);
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.open, v.earned, v.audits_done), (0, 0, 0));
    assert_eq!(chain.state.providers[&address(PROVIDER)].audits_passed, 0);
    // Its seal comes too late.
    let seal = audit_seal(
        &id,
        &address(VERIFIER),
        &Verdict::Full(job.commitment(Fault::From(3))),
        &hash(&[b"salt".as_slice()]),
    );
    chain.fails(
        VERIFIER,
        Payload::AuditCommit { job: id, seal },
        Reason::AuditClosed,
    );
    // And the verifier, no longer busy, may leave.
    chain.ok(VERIFIER, Payload::VerifierDeregister);
}
