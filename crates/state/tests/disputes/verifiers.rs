//! The verifier registry and the audit load (issue 12): bonds and their release, who is drawn
//! (never the job's parties, only while its open audits are below its capacity), seal deadlines
//! that follow the drawn fuel at the verifier's declared speed, and declines.

use super::*;

/// Scenario 1: bonds, top-ups, busy, deregistration and release.
#[test]
fn the_verifier_registry_bonds_refuses_a_busy_exit_and_releases() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    let register = |bond| verifier_register(bond, VERIFIER_SPEED, VERIFIER_CAPACITY);
    chain.fails(VERIFIER, register(0), Reason::ZeroAmount);
    chain.fails(
        VERIFIER,
        register(VERIFIER_BOND_MIN - 1),
        Reason::BondTooSmall,
    );
    chain.fails(VERIFIER, register(START), Reason::InsufficientBalance);
    chain.fails(
        VERIFIER,
        Payload::VerifierDeregister,
        Reason::UnknownVerifier,
    );
    chain.register_verifier(VERIFIER, VERIFIER_BOND_MIN);
    let registered = chain.state.height;
    assert_eq!(
        chain.verifier(VERIFIER),
        &Verifier {
            bond: VERIFIER_BOND_MIN,
            fuel_per_second: VERIFIER_SPEED,
            capacity: VERIFIER_CAPACITY,
            registered_height: registered,
            ..Verifier::default()
        }
    );
    // A top-up counts with the bond already there, so it may be below the minimum.
    chain.register_verifier(VERIFIER, PLX);
    let bond = VERIFIER_BOND_MIN + PLX;
    assert_eq!(chain.verifier(VERIFIER).bond, bond);
    assert_eq!(chain.verifier(VERIFIER).registered_height, registered);
    assert_eq!(chain.balance(VERIFIER), START - bond - chain.fees[3]);

    // Busy while its audit is open.
    let (id, job) = chain.post(1, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert_eq!(chain.state.audits[&id].verifier, address(VERIFIER));
    assert_eq!(chain.verifier(VERIFIER).open, 1);
    chain.fails(VERIFIER, Payload::VerifierDeregister, Reason::VerifierBusy);
    assert_eq!(chain.status(&id).name(), "committed");
    let agree = Verdict::Full(job.commitment(Fault::Honest));
    assert_eq!(chain.seal_and_reveal(VERIFIER, id, agree), Status::Success);
    assert_eq!(chain.verifier(VERIFIER).open, 0);

    // A job committed while the verifier is leaving gets no audit (nobody else is eligible).
    let (late, late_job) = chain.post(2, AuditClass::Full);
    chain.ok(VERIFIER, Payload::VerifierDeregister);
    let release = chain.state.height + UNBONDING_BLOCKS;
    assert_eq!(chain.verifier(VERIFIER).unbonding_release, Some(release));
    chain.commit(late, &late_job, Fault::Honest);
    chain.fails(VERIFIER, register(PLX), Reason::ProviderDeregistering);
    assert_eq!(chain.state.height, release - 1);
    assert_eq!(chain.balance(VERIFIER), START - bond - chain.fees[3]);
    // The late job's draw and settlement (at its commitment + 2) and the release fall in this
    // block: no audit, so it settles at once.
    chain.empty(1);
    assert!(!chain.state.audits.contains_key(&late));
    assert_eq!(chain.status(&late).name(), "settled");
    assert!(!chain.state.verifiers.contains_key(&address(VERIFIER)));
    assert_eq!(chain.balance(VERIFIER), START - chain.fees[3]);
    chain.fails(
        VERIFIER,
        Payload::VerifierDeregister,
        Reason::UnknownVerifier,
    );
    // Three refused registrations, a refused exit, register, top-up, the refused busy exit,
    // seal, reveal, exit, the refused top-up, the refused exit after the release.
    assert_eq!(chain.fees[3], 12 * FEE);
}

/// Scenario 2, the draw: over many jobs and seeds the verifier is never the job's provider or
/// consumer; with one other verifier it is always that one, with two both are drawn.
#[test]
fn the_verifier_is_never_the_provider_or_the_consumer() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    for i in [PROVIDER, CONSUMER, VERIFIER] {
        chain.register_verifier(i, VERIFIER_BOND);
    }
    let jobs_per_round = 8;
    let mut drawn = BTreeMap::<Address, usize>::new();
    let mut drawn_of_two = BTreeMap::<Address, usize>::new();
    for round in 0..3u64 {
        if round == 1 {
            chain.register_verifier(OTHER, 3 * VERIFIER_BOND);
        }
        let jobs: Vec<_> = (0..jobs_per_round)
            .map(|i| Synthetic::new(1_000 + round * jobs_per_round + i))
            .collect();
        let posts: Vec<_> = jobs
            .iter()
            .map(|job| chain.tx(CONSUMER, job.post(AuditClass::Full)))
            .collect();
        let ids: Vec<_> = posts.iter().map(SignedTransaction::hash).collect();
        assert!(chain.block(posts).iter().all(|s| *s == Status::Success));
        let commits: Vec<_> = ids
            .iter()
            .zip(&jobs)
            .map(|(id, job)| chain.tx(PROVIDER, job.commit(*id, Fault::Honest)))
            .collect();
        assert!(chain.block(commits).iter().all(|s| *s == Status::Success));
        chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
        for id in &ids {
            let audit = &chain.state.audits[id];
            assert_eq!(audit.kind, AuditKind::Full);
            assert_ne!(audit.verifier, address(PROVIDER));
            assert_ne!(audit.verifier, address(CONSUMER));
            if round == 0 {
                assert_eq!(audit.verifier, address(VERIFIER));
            } else {
                *drawn_of_two.entry(audit.verifier.clone()).or_default() += 1;
            }
            *drawn.entry(audit.verifier.clone()).or_default() += 1;
        }
    }
    eprintln!("verifier draws with two eligible: {drawn_of_two:?}");
    assert_eq!(drawn.values().sum::<usize>(), 24);
    assert_eq!(drawn_of_two.len(), 2, "both eligible verifiers are drawn");
    // Nobody revealed: every audit lapses (after the response time and a block for the
    // re-run) and the jobs settle unaudited.
    chain.empty(RESPONSE_BLOCKS + 1);
    let missed: u64 = [VERIFIER, OTHER]
        .iter()
        .map(|i| chain.verifier(*i).audits_missed)
        .sum();
    assert_eq!(missed, 24);
    assert!(
        chain
            .state
            .jobs
            .values()
            .all(|job| job.status.name() == "settled")
    );
}

/// The seal deadline is the response time plus the blocks the drawn fuel takes at the drawn
/// verifier's declared speed, times the margin, over the assumed block time, rounded up; a
/// verifier too slow for the cap is not drawn, and one that lied about being fast risks only
/// its own bond.
#[test]
fn the_seal_deadline_follows_the_drawn_fuel_over_the_verifiers_speed() {
    let params = params(0).audit;
    // 10^6 fuel/s: a full audit re-runs the job's max fuel, 1_000_003:
    // ceil(1_000_003 * 1000 * 3 / 10^6) = 3_001 ms, ceil(3_001 / 250) = 13 blocks.
    assert_eq!(
        plexus_state::dispute::rerun_blocks(&params, MAX_FUEL, 1_000_000),
        Some(13)
    );
    // A light audit of k + 1 = 5 segments of 1_000 fuel: 15 ms, one block.
    let light = AuditKind::Light {
        segments: vec![1, 2, 3, 4, 19],
    };
    let light_fuel = plexus_state::dispute::rerun_fuel(&params, &light, MAX_FUEL);
    assert_eq!(light_fuel, 5 * SEG_FUEL);
    assert_eq!(
        plexus_state::dispute::rerun_blocks(&params, light_fuel, 1_000_000),
        Some(1)
    );
    // Over `audit_rerun_blocks_max` (20_000 blocks = 5_000 s at 250 ms): not drawn.
    assert_eq!(
        plexus_state::dispute::rerun_blocks(&params, MAX_FUEL, 600),
        None
    );
    assert_eq!(
        plexus_state::dispute::seal_blocks(&params, MAX_FUEL, 1_000_000),
        Some(RESPONSE_BLOCKS + 13)
    );

    // On chain: the slow verifier's seal is due 13 blocks after the response time.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, 1_000_000, 1));
    let (id, job) = chain.post(60, AuditClass::Full);
    let committed = chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let drawn = committed + AUDIT_DRAW_DELAY_BLOCKS;
    let audit = chain.state.audits[&id].clone();
    assert_eq!(audit.verifier, address(VERIFIER));
    assert_eq!(
        (audit.drawn_height, audit.due_height),
        (drawn, drawn + RESPONSE_BLOCKS + 13)
    );
    // It takes its time and still passes.
    chain.until(audit.due_height - 1);
    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    assert_eq!(
        chain.seal_and_reveal(VERIFIER, id, verdict),
        Status::Success
    );
    assert_eq!(chain.state.audits[&id].stage, AuditStage::Passed);
    assert_eq!(chain.verifier(VERIFIER).slashed, 0);

    // A verifier too slow to re-run the job within the cap is not drawn: the job settles
    // unaudited at its settlement height.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, 600, 1));
    let (id, job) = chain.post(61, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert!(!chain.state.audits.contains_key(&id));
    assert_eq!(chain.status(&id).name(), "settled");

    // A verifier that declared itself faster than it is gets the shortest deadline, lets it
    // lapse and forfeits the job's value from its own bond; the provider and the consumer lose
    // nothing: the job settles as if unaudited.
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, u64::MAX, 1));
    let (id, job) = chain.post(62, AuditClass::Full);
    let committed = chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let drawn = committed + AUDIT_DRAW_DELAY_BLOCKS;
    assert_eq!(
        chain.state.audits[&id].due_height,
        drawn + RESPONSE_BLOCKS + 1
    );
    chain.until(drawn + RESPONSE_BLOCKS + 1);
    assert_eq!(chain.state.audits[&id].stage, AuditStage::Missed);
    assert_eq!(chain.status(&id).name(), "settled");
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.slashed, v.bond), (value(), VERIFIER_BOND - value()));
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + earned(paid())
    );
    assert_eq!(chain.balance(CONSUMER), START - chain.fees[2] - paid());
}

/// Regression (issue 12, finding 3): an honest verifier drawn for two full audits at once re-ran
/// them one after the other and the second lapsed, taking the job's value from its bond. A
/// verifier is now drawn only while its open audits are below its declared capacity, and its
/// deadline follows its declared speed: this one (capacity 1, working through the audits drawn
/// to it one at a time at that speed) gets the first audit, the second job goes unaudited, and
/// nothing lapses.
#[test]
fn two_audits_at_once_never_make_a_slow_verifier_lapse() {
    const SPEED: u64 = 30_000;
    // Its re-run of one job: 20_000 fuel at 30_000 fuel/s, 667 ms, in 250 ms blocks.
    let work_blocks = (SEG_FUEL * SEGMENTS * 1_000).div_ceil(SPEED * 250);
    assert_eq!(work_blocks, 3);
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, SPEED, 1));
    let jobs: Vec<Synthetic> = (70..72).map(Synthetic::new).collect();
    let posts: Vec<_> = jobs
        .iter()
        .map(|job| {
            chain.replayer.jobs.insert(job.module(), *job);
            chain.tx(CONSUMER, job.post(AuditClass::Full))
        })
        .collect();
    let ids: Vec<Digest> = posts.iter().map(SignedTransaction::hash).collect();
    assert_eq!(chain.block(posts), vec![Status::Success; 2]);
    let commits: Vec<_> = ids
        .iter()
        .zip(&jobs)
        .map(|(id, job)| chain.tx(PROVIDER, job.commit(*id, Fault::Honest)))
        .collect();
    assert_eq!(chain.block(commits), vec![Status::Success; 2]);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    // The verifier works through the audits drawn to it one at a time, sealing each when its
    // re-run is done (if it has not lapsed meanwhile) and revealing in the next block.
    let queue: Vec<(Digest, Synthetic)> = ids
        .iter()
        .copied()
        .zip(jobs.iter().copied())
        .filter(|(id, _)| {
            chain
                .state
                .audits
                .get(id)
                .is_some_and(|a| a.verifier == address(VERIFIER))
        })
        .collect();
    for (id, job) in &queue {
        chain.empty(work_blocks);
        if chain.state.audits[id].stage == AuditStage::Drawn {
            let verdict = Verdict::Full(job.commitment(Fault::Honest));
            assert_eq!(
                chain.seal_and_reveal(VERIFIER, *id, verdict),
                Status::Success
            );
        }
    }
    let v = chain.verifier(VERIFIER);
    assert_eq!(
        (v.audits_missed, v.slashed),
        (0, 0),
        "an honest verifier lost its bond to load"
    );
    assert_eq!(queue.len(), 1, "drawn for one audit only: its capacity");
    for id in &ids {
        assert_eq!(chain.status(id).name(), "settled");
        assert!(
            chain
                .state
                .audits
                .get(id)
                .is_none_or(|a| a.stage == AuditStage::Passed),
            "{:?}",
            chain.state.audits.get(id)
        );
    }
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.audits_done, v.audits_missed, v.slashed), (1, 0, 0));
    assert_eq!(chain.slash_burned(), 0);
}

/// Draws count each verifier's open audits against its capacity: with room for two and one,
/// four audits committed at once go two, one and none (that job settles unaudited); a closed
/// audit makes room again.
#[test]
fn a_verifier_is_drawn_only_while_its_open_audits_are_below_its_capacity() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    // Slow enough that its audits stay open through the scenario.
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, 1_000_000, 2));
    chain.ok(OTHER, verifier_register(VERIFIER_BOND, VERIFIER_SPEED, 1));
    let jobs: Vec<Synthetic> = (80..84).map(Synthetic::new).collect();
    let posts: Vec<_> = jobs
        .iter()
        .map(|job| {
            chain.replayer.jobs.insert(job.module(), *job);
            chain.tx(CONSUMER, job.post(AuditClass::Full))
        })
        .collect();
    let ids: Vec<Digest> = posts.iter().map(SignedTransaction::hash).collect();
    assert_eq!(chain.block(posts), vec![Status::Success; 4]);
    let commits: Vec<_> = ids
        .iter()
        .zip(&jobs)
        .map(|(id, job)| chain.tx(PROVIDER, job.commit(*id, Fault::Honest)))
        .collect();
    assert_eq!(chain.block(commits), vec![Status::Success; 4]);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let mut drawn = BTreeMap::<u64, Vec<usize>>::new();
    let mut unaudited = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        match chain.state.audits.get(id) {
            Some(audit) => drawn.entry(key_of(&audit.verifier)).or_default().push(n),
            None => unaudited.push(n),
        }
    }
    assert_eq!(drawn.get(&VERIFIER).map(Vec::len), Some(2), "{drawn:?}");
    assert_eq!(drawn.get(&OTHER).map(Vec::len), Some(1), "{drawn:?}");
    assert_eq!(unaudited.len(), 1);
    assert_eq!(chain.status(&ids[unaudited[0]]).name(), "settled");
    assert_eq!(
        (chain.verifier(VERIFIER).open, chain.verifier(OTHER).open),
        (2, 1)
    );

    // OTHER passes its audit: it has room again and takes the next job's audit (VERIFIER is
    // still full).
    let n = drawn[&OTHER][0];
    let verdict = Verdict::Full(jobs[n].commitment(Fault::Honest));
    assert_eq!(
        chain.seal_and_reveal(OTHER, ids[n], verdict),
        Status::Success
    );
    assert_eq!(chain.verifier(OTHER).open, 0);
    let (next, next_job) = chain.post(85, AuditClass::Full);
    chain.commit(next, &next_job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert_eq!(chain.state.audits[&next].verifier, address(OTHER));
}

/// A decline before the seal is due costs nothing but the fee: the audit goes to another
/// verifier with a fresh deadline at that verifier's speed; when nobody else can take it, it
/// closes as declined and the job settles unaudited. A canary is redrawn the same way.
#[test]
fn a_declined_audit_is_drawn_again_without_a_slash() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(
        VERIFIER,
        verifier_register(VERIFIER_BOND, VERIFIER_SPEED, 4),
    );
    chain.ok(OTHER, verifier_register(VERIFIER_BOND, 1_000_000, 4));
    let (id, job) = chain.post(90, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let first = key_of(&chain.state.audits[&id].verifier);
    let second = if first == VERIFIER { OTHER } else { VERIFIER };
    let speed = |i| chain_speed(i);
    let bond_before = chain.verifier(first).bond;
    chain.ok(first, Payload::AuditDecline { job: id });
    let declined_at = chain.state.height;
    let audit = chain.state.audits[&id].clone();
    assert_eq!(audit.verifier, address(second));
    assert_eq!(audit.stage, AuditStage::Drawn);
    assert_eq!(audit.declined, vec![address(first)]);
    let audit_params = params(0).audit;
    let blocks =
        plexus_state::dispute::seal_blocks(&audit_params, MAX_FUEL, speed(second)).unwrap();
    assert_eq!(
        (audit.drawn_height, audit.due_height),
        (declined_at, declined_at + blocks)
    );
    let v = chain.verifier(first);
    assert_eq!((v.bond, v.slashed, v.open), (bond_before, 0, 0));
    assert_eq!((v.audits_declined, v.audits_missed), (1, 0));
    assert_eq!(chain.verifier(second).open, 1);
    // The first verifier is no longer its auditor.
    chain.fails(first, Payload::AuditDecline { job: id }, Reason::NotAuditor);
    assert_eq!(chain.status(&id).name(), "committed");

    // The second declines too: nobody else may take it (the provider and the consumer never
    // do), so it closes and the job settles unaudited in that block.
    chain.ok(second, Payload::AuditDecline { job: id });
    let audit = &chain.state.audits[&id];
    assert_eq!(audit.stage, AuditStage::Declined);
    assert_eq!(audit.declined, vec![address(first), address(second)]);
    assert_eq!(chain.status(&id).name(), "settled");
    for i in [VERIFIER, OTHER] {
        let v = chain.verifier(i);
        assert_eq!((v.slashed, v.open, v.audits_declined), (0, 0, 1));
    }
    assert_eq!(chain.slash_burned(), 0);
    assert_eq!(
        chain.balance(PROVIDER),
        START - PROVIDER_BOND - chain.fees[1] + earned(paid())
    );

    // A canary is declined and redrawn like any audit, and closes without a slash.
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
    chain.register_verifier(OTHER, VERIFIER_BOND);
    let (id, job) = chain.post(91, AuditClass::Standard);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let canary = canary_id(&id);
    let first = key_of(&chain.state.audits[&canary].verifier);
    let second = if first == VERIFIER { OTHER } else { VERIFIER };
    chain.ok(first, Payload::AuditDecline { job: canary });
    assert_eq!(chain.state.audits[&canary].verifier, address(second));
    chain.ok(second, Payload::AuditDecline { job: canary });
    assert_eq!(chain.state.audits[&canary].stage, AuditStage::Declined);
    // Closed canaries go with the retention of a finished job.
    chain.empty(RETENTION_BLOCKS + 1);
    assert!(!chain.state.audits.contains_key(&canary));
    assert_eq!(chain.slash_burned(), 0);
}

/// One audit is declined at most `AUDIT_DECLINES_MAX` times: the last decline closes it even
/// while other verifiers could take it, so declining verifiers hold a settlement for a bounded
/// number of seal windows.
#[test]
fn declines_per_audit_are_capped() {
    use plexus_state::dispute::AUDIT_DECLINES_MAX;
    let mut chain = Chain::new(0);
    chain.register_provider();
    let verifiers = [VERIFIER, OTHER, OUTSIDER, 6, 7, 8];
    assert!(verifiers.len() > AUDIT_DECLINES_MAX);
    for i in verifiers {
        chain.register_verifier(i, VERIFIER_BOND);
    }
    let (id, job) = chain.post(95, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let mut decliners = Vec::new();
    for n in 0..AUDIT_DECLINES_MAX {
        let audit = chain.state.audits[&id].clone();
        assert_eq!(audit.stage, AuditStage::Drawn, "decline {n}");
        assert!(
            !decliners.contains(&audit.verifier),
            "a decliner is never drawn again"
        );
        let who = key_of(&audit.verifier);
        chain.ok(who, Payload::AuditDecline { job: id });
        decliners.push(audit.verifier);
    }
    let audit = &chain.state.audits[&id];
    assert_eq!(audit.stage, AuditStage::Declined);
    assert_eq!(audit.declined, decliners);
    assert_eq!(chain.status(&id).name(), "settled");
    let open: u32 = verifiers.iter().map(|i| chain.verifier(*i).open).sum();
    assert_eq!(open, 0);
    assert_eq!(chain.slash_burned(), 0);
}

/// Refused declines and offers: by an account that was not drawn, after sealing, at the height
/// the seal is due (the audit then lapses as before), and registrations with no speed or a
/// capacity outside `1..=VERIFIER_CAPACITY_MAX`. A registered verifier updates its speed and
/// capacity with a zero bond.
#[test]
fn bad_declines_and_verifier_offers_are_refused() {
    let mut chain = Chain::new(0);
    chain.register_provider();
    for (speed, capacity) in [
        (0, 1),
        (VERIFIER_SPEED, 0),
        (
            VERIFIER_SPEED,
            plexus_types::audit::VERIFIER_CAPACITY_MAX + 1,
        ),
    ] {
        chain.fails(
            VERIFIER,
            verifier_register(VERIFIER_BOND, speed, capacity),
            Reason::InvalidVerifierOffer,
        );
    }
    chain.ok(
        VERIFIER,
        verifier_register(VERIFIER_BOND, VERIFIER_SPEED, 1),
    );
    // An update: no bond added, the new speed and capacity replace the old.
    chain.ok(VERIFIER, verifier_register(0, 1_000_000, 3));
    let v = chain.verifier(VERIFIER);
    assert_eq!(
        (v.bond, v.fuel_per_second, v.capacity),
        (VERIFIER_BOND, 1_000_000, 3)
    );
    chain.fails(
        VERIFIER,
        verifier_register(0, 0, 3),
        Reason::InvalidVerifierOffer,
    );

    let (id, job) = chain.post(96, AuditClass::Full);
    chain.commit(id, &job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    assert_eq!(chain.state.audits[&id].verifier, address(VERIFIER));
    for who in [OUTSIDER, PROVIDER, CONSUMER] {
        chain.fails(who, Payload::AuditDecline { job: id }, Reason::NotAuditor);
    }
    chain.fails(
        VERIFIER,
        Payload::AuditDecline {
            job: hash(&[b"no such job"]),
        },
        Reason::NotAuditor,
    );
    // Sealed: the verdict is bound; it can only be revealed.
    let verdict = Verdict::Full(job.commitment(Fault::Honest));
    let salt = hash(&[b"salt"]);
    let seal = audit_seal(&id, &address(VERIFIER), &verdict, &salt);
    chain.ok(VERIFIER, Payload::AuditCommit { job: id, seal });
    chain.fails(
        VERIFIER,
        Payload::AuditDecline { job: id },
        Reason::AuditClosed,
    );
    chain.ok(
        VERIFIER,
        Payload::AuditReveal {
            job: id,
            verdict,
            salt,
        },
    );
    chain.fails(
        VERIFIER,
        Payload::AuditDecline { job: id },
        Reason::AuditClosed,
    );

    // At the height its seal is due a decline is too late; the audit lapses at that block's end.
    let (late, late_job) = chain.post(97, AuditClass::Full);
    chain.commit(late, &late_job, Fault::Honest);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let due = chain.state.audits[&late].due_height;
    chain.until(due - 1);
    assert_eq!(
        chain.one(VERIFIER, Payload::AuditDecline { job: late }),
        Status::Failed(Reason::DeclineTooLate)
    );
    assert_eq!(chain.state.height, due);
    assert_eq!(chain.state.audits[&late].stage, AuditStage::Missed);
    let v = chain.verifier(VERIFIER);
    assert_eq!((v.audits_declined, v.audits_missed), (0, 1));
}

/// Regression (issue 12, finding 3), the incident itself: an honest verifier with room for two
/// audits is drawn for two full audits in one block. Its machine re-runs both at once, sharing
/// one core (30_000 fuel/s: each re-run of 20_000 fuel takes 1.33 s, 6 blocks of 250 ms), and
/// restarts mid-audit (down 2 blocks, then both re-runs start over). Its seals land 12 blocks
/// after the draw. The seal deadline follows the drawn fuel at its declared speed (the job's
/// max fuel, 401 blocks), so both pass and nothing is taken from it. Under the former rule
/// (response time plus the committed fuel at a fixed 10^8 fuel per block: 4 blocks here) both
/// seals came too late and both lapses took the job's value from the bond.
#[test]
fn two_full_audits_drawn_at_once_to_a_slow_restarting_verifier_both_pass() {
    const SPEED: u64 = 30_000;
    const CORES: u64 = 1;
    const DOWN_BLOCKS: u64 = 2;
    // Two re-runs of 20_000 fuel sharing one core at SPEED, in 250 ms blocks.
    let rerun_blocks = (2 * SEG_FUEL * SEGMENTS * 1_000).div_ceil(SPEED * CORES * 250);
    assert_eq!(rerun_blocks, 6);
    let mut chain = Chain::new(0);
    chain.register_provider();
    chain.ok(VERIFIER, verifier_register(VERIFIER_BOND, SPEED, 2));
    let jobs: Vec<Synthetic> = (80..82).map(Synthetic::new).collect();
    let posts: Vec<_> = jobs
        .iter()
        .map(|job| {
            chain.replayer.jobs.insert(job.module(), *job);
            chain.tx(CONSUMER, job.post(AuditClass::Full))
        })
        .collect();
    let ids: Vec<Digest> = posts.iter().map(SignedTransaction::hash).collect();
    assert_eq!(chain.block(posts), vec![Status::Success; 2]);
    let commits: Vec<_> = ids
        .iter()
        .zip(&jobs)
        .map(|(id, job)| chain.tx(PROVIDER, job.commit(*id, Fault::Honest)))
        .collect();
    assert_eq!(chain.block(commits), vec![Status::Success; 2]);
    chain.empty(AUDIT_DRAW_DELAY_BLOCKS);
    let drawn = chain.state.height;
    for id in &ids {
        let audit = &chain.state.audits[id];
        assert_eq!(
            (&audit.verifier, audit.drawn_height),
            (&address(VERIFIER), drawn),
            "both audits drawn to the one verifier in one block"
        );
    }
    // Half-way through, the machine restarts: the re-runs in flight are lost and start over.
    chain.empty(rerun_blocks / 2 + DOWN_BLOCKS + rerun_blocks);
    let salt = hash(&[b"salt", b"two at once"]);
    let verdicts: Vec<Verdict> = jobs
        .iter()
        .map(|job| Verdict::Full(job.commitment(Fault::Honest)))
        .collect();
    let seals: Vec<_> = ids
        .iter()
        .zip(&verdicts)
        .map(|(id, verdict)| {
            let seal = audit_seal(id, &address(VERIFIER), verdict, &salt);
            chain.tx(VERIFIER, Payload::AuditCommit { job: *id, seal })
        })
        .collect();
    assert_eq!(
        chain.block(seals),
        vec![Status::Success; 2],
        "both seals land before their deadlines: {:?}",
        ids.iter()
            .map(|id| chain.state.audits[id].due_height)
            .collect::<Vec<_>>()
    );
    let reveals: Vec<_> = ids
        .iter()
        .zip(verdicts)
        .map(|(id, verdict)| {
            chain.tx(
                VERIFIER,
                Payload::AuditReveal {
                    job: *id,
                    verdict,
                    salt,
                },
            )
        })
        .collect();
    assert_eq!(chain.block(reveals), vec![Status::Success; 2]);
    for id in &ids {
        assert_eq!(chain.state.audits[id].stage, AuditStage::Passed);
    }
    chain.empty(SETTLEMENT_WINDOW_BLOCKS + 1);
    for id in &ids {
        assert_eq!(chain.status(id).name(), "settled");
    }
    let v = chain.verifier(VERIFIER);
    assert_eq!(
        (v.audits_done, v.audits_missed, v.slashed, v.bond),
        (2, 0, 0, VERIFIER_BOND),
        "an honest verifier lost its bond to load"
    );
    assert_eq!(chain.slash_burned(), 0);
}
