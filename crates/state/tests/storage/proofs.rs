//! Proofs of storage through whole blocks: every epoch's challenge of every active shard,
//! proofs made from real coded segments, the refusals with their reasons, misses that withhold
//! pay and burn collateral, a wrong proof's slash, losses and the repairs they draw, declared
//! faults, and the storage share of the emission.

use super::*;
use plexus_state::storage::Shard;

const PRICE: Amount = 3 * PLX;

/// Providers `1..=providers` at `PRICE`, a deal of one coded segment for `epochs` epochs,
/// accepted by all its holders.
fn stored(providers: u64, epochs: u64) -> (Chain, Digest, Vec<Encoded>) {
    let mut chain = Chain::new();
    chain.providers(1..=providers, PRICE);
    let (segment, shards) = coded(7, 30_000);
    let id = chain.ok(OWNER, post(vec![segment], 4 * PLX, epochs));
    chain.accept_all(id);
    (chain, id, vec![shards])
}

fn shard(chain: &Chain, id: Digest, slot: u16) -> Shard {
    chain.state.deals[&id].segments[0].shards[usize::from(slot)].clone()
}

/// One epoch's pay of a shard of deal `id`.
fn pay_of(chain: &Chain, id: Digest) -> Amount {
    let segment = &chain.state.deals[&id].segments[0];
    PRICE * u128::from(segment.shard_bytes) / PRICE_UNIT_BYTES
}

/// Blocks until shard `slot` of deal `id` has an open challenge (others proving theirs).
fn until_challenged(chain: &mut Chain, id: Digest, coded: &[Encoded], slot: u16) {
    let holder = shard(chain, id, slot).holder;
    loop {
        if shard(chain, id, slot)
            .challenge
            .is_some_and(|c| c.outcome == ChallengeOutcome::Open)
        {
            return;
        }
        let txs = chain.proofs(id, coded, std::slice::from_ref(&holder));
        chain.block(txs);
    }
}

fn proof_tx(chain: &mut Chain, id: Digest, coded: &[Encoded], slot: u16, epoch: u64) -> Payload {
    let record = shard(chain, id, slot);
    let chunk = record.challenge.map_or(0, |c| c.chunk);
    Payload::StorageProof {
        deal: id,
        segment: 0,
        shard: slot,
        epoch,
        proof: prove(&coded[0].shards[usize::from(slot)], chunk).unwrap(),
    }
}

#[test]
fn every_active_shard_is_challenged_once_an_epoch_and_proofs_are_checked() {
    let (mut chain, id, coded) = stored(4, 3);
    // Epoch 0: each of the four shards opens once, in the epoch's opening blocks, its chunk a
    // draw over the shard's chunks.
    chain.until(EPOCH - 1);
    let chunks = plexus_storage::proof::chunk_count(chain.state.deals[&id].segments[0].shard_bytes);
    for slot in 0..4 {
        let challenge = shard(&chain, id, slot).challenge.expect("challenged");
        assert_eq!(challenge.epoch, 0);
        assert!(challenge.opened_height <= EPOCH - 1 - PROOF_WINDOW);
        assert_eq!(challenge.due_height, challenge.opened_height + PROOF_WINDOW);
        assert!(challenge.chunk < chunks);
    }
    assert_eq!(chain.state.storage_stats.challenges_opened, 4);
    assert_eq!(chain.state.storage_stats.deals_posted, 1);
    // Epoch 1: refusals, each with its reason, then the proof.
    until_challenged(&mut chain, id, &coded, 0);
    let record = shard(&chain, id, 0);
    let holder = key_of(&record.holder);
    let epoch = record.challenge.unwrap().epoch;
    let outsider = (1..=4).find(|k| *k != holder).unwrap();
    let good = proof_tx(&mut chain, id, &coded, 0, epoch);
    let wrong_epoch = proof_tx(&mut chain, id, &coded, 0, epoch + 1);
    // A proof of another chunk length (the chunk cut short): malformed, not slashed.
    let Payload::StorageProof { mut proof, .. } = good.clone() else {
        unreachable!()
    };
    proof.chunk.pop();
    let malformed = Payload::StorageProof {
        deal: id,
        segment: 0,
        shard: 0,
        epoch,
        proof,
    };
    let collateral = record.collateral;
    // All in one block, inside the window.
    let txs = vec![
        chain.tx(outsider, good.clone()),
        chain.tx(holder, wrong_epoch),
        chain.tx(holder, malformed),
        chain.tx(holder, good.clone()),
        chain.tx(holder, good),
    ];
    assert_eq!(
        chain.block(txs),
        vec![
            Status::Failed(Reason::NotShardHolder),
            Status::Failed(Reason::NoOpenChallenge),
            Status::Failed(Reason::MalformedStorageProof),
            Status::Success,
            Status::Failed(Reason::AlreadyProven),
        ]
    );
    assert_eq!(shard(&chain, id, 0).collateral, collateral);
    let proven = shard(&chain, id, 0);
    assert!(matches!(
        proven.challenge.unwrap().outcome,
        ChallengeOutcome::Proven { .. }
    ));
    assert_eq!(proven.last_proof_height, chain.state.height);
}

#[test]
fn a_late_proof_is_refused_and_a_miss_withholds_pay_and_burns_three_times_it() {
    let (mut chain, id, coded) = stored(4, 3);
    // Epoch 1: shard 0's holder misses; the others prove.
    chain.prove_until(EPOCH - 1, id, &coded, &[]);
    until_challenged(&mut chain, id, &coded, 0);
    let record = shard(&chain, id, 0);
    let (holder, challenge) = (key_of(&record.holder), record.challenge.unwrap());
    let late = proof_tx(&mut chain, id, &coded, 0, challenge.epoch);
    let skip = [record.holder.clone()];
    chain.prove_until(challenge.due_height, id, &coded, &skip);
    let missed = shard(&chain, id, 0);
    assert_eq!(missed.challenge.unwrap().outcome, ChallengeOutcome::Missed);
    assert_eq!(missed.misses, 1);
    assert_eq!(
        chain.one(holder, late).1,
        Status::Failed(Reason::ProofWindowOver)
    );
    let pay = pay_of(&chain, id);
    assert!(pay > 0);
    assert_eq!(missed.collateral, record.collateral - 3 * pay);
    assert_eq!(
        chain.state.providers[&record.holder].bond,
        BOND - 3 * pay,
        "burned from the bond"
    );
    let balance = chain.balance(holder);
    let others: Vec<Amount> = (1..=3)
        .map(|slot| shard(&chain, id, slot).holder)
        .map(|a| chain.balance(key_of(&a)))
        .collect();
    chain.prove_until(2 * EPOCH - 1, id, &coded, &skip);
    assert_eq!(chain.balance(holder), balance, "not paid for epoch 1");
    for (slot, before) in (1..=3).zip(others) {
        let key = key_of(&shard(&chain, id, slot).holder);
        assert!(chain.balance(key) > before, "the provers are paid");
    }
    assert_eq!(chain.state.storage_stats.proofs_missed, 1);
    // The withheld pay stays in the escrow: paid is three shards' pay.
    assert_eq!(chain.state.deals[&id].paid, 3 * pay);
}

#[test]
fn three_misses_lose_a_shard_and_its_repairer_rebuilds_it() {
    let (mut chain, id, coded) = stored(5, 8);
    let lazy = shard(&chain, id, 0);
    let skip = [lazy.holder.clone()];
    // Misses in epochs 0, 1 and 2: lost at the third, a repairer drawn in that block.
    let mut height = chain.state.height;
    while shard(&chain, id, 0).holder == lazy.holder {
        chain.prove_until(height + 1, id, &coded, &skip);
        height = chain.state.height;
        assert!(height < 4 * EPOCH, "never lost");
    }
    let repairing = shard(&chain, id, 0);
    let ShardState::Repairing {
        drawn_height,
        accept_due,
        fee,
    } = repairing.state
    else {
        panic!("not repairing: {repairing:?}")
    };
    assert_eq!(drawn_height, chain.state.height);
    assert_eq!(
        accept_due,
        drawn_height + StorageParams::default().repair_deadline_epochs * EPOCH
    );
    assert_eq!(fee, pay_of(&chain, id));
    let holders: BTreeSet<_> = chain.state.deals[&id].segments[0]
        .shards
        .iter()
        .map(|s| s.holder.clone())
        .collect();
    assert_eq!(holders.len(), 4);
    assert!(
        !holders.contains(&lazy.holder),
        "the lost holder holds nothing"
    );
    // The lost holder's lock is gone (three burns of 3x pay, the rest released).
    let pay = pay_of(&chain, id);
    assert_eq!(chain.state.providers[&lazy.holder].bond_locked, 0);
    assert_eq!(chain.state.providers[&lazy.holder].bond, BOND - 9 * pay);
    assert_eq!(chain.state.storage_offers[&lazy.holder].used_bytes, 0);
    assert_eq!(chain.state.storage_stats.shards_lost, 1);
    // The repairer accepts, is paid its fee and is challenged like any holder.
    let repairer = key_of(&repairing.holder);
    let balance = chain.balance(repairer);
    chain.ok(repairer, accept(id, 0, 0));
    assert_eq!(chain.balance(repairer), balance - FEE + fee);
    assert!(matches!(
        shard(&chain, id, 0).state,
        ShardState::Active { .. }
    ));
    assert_eq!(chain.state.storage_stats.repairs_done, 1);
    let next = (chain.state.height / EPOCH + 2) * EPOCH - 1;
    chain.prove_until(next, id, &coded, &[]);
    assert!(shard(&chain, id, 0).last_proof_height > drawn_height);
}

#[test]
fn a_wrong_proof_slashes_the_collateral_and_loses_the_shard() {
    let (mut chain, id, coded) = stored(5, 3);
    until_challenged(&mut chain, id, &coded, 1);
    let record = shard(&chain, id, 1);
    let challenge = record.challenge.unwrap();
    // A proof shaped for the chunk whose bytes are not the shard's.
    let Payload::StorageProof { mut proof, .. } =
        proof_tx(&mut chain, id, &coded, 1, challenge.epoch)
    else {
        unreachable!()
    };
    proof.chunk[0] ^= 1;
    let burned = chain.state.supply.burned();
    let wrong = Payload::StorageProof {
        deal: id,
        segment: 0,
        shard: 1,
        epoch: challenge.epoch,
        proof,
    };
    chain.ok(key_of(&record.holder), wrong);
    assert_eq!(
        chain.state.supply.burned(),
        burned + FEE + record.collateral,
        "the whole collateral burned"
    );
    assert_eq!(
        chain.state.providers[&record.holder].bond,
        BOND - record.collateral
    );
    assert_eq!(chain.state.providers[&record.holder].bond_locked, 0);
    assert_ne!(shard(&chain, id, 1).holder, record.holder);
    assert_eq!(chain.state.storage_stats.proofs_wrong, 1);
}

#[test]
fn a_declared_fault_is_excused_then_counts_and_a_proof_ends_it() {
    let (mut chain, id, coded) = stored(4, 8);
    chain.prove_until(EPOCH - 1, id, &coded, &[]);
    let record = shard(&chain, id, 2);
    let holder = key_of(&record.holder);
    let skip = [record.holder.clone()];
    // Declared at the first block of epoch 1, before its challenge opens.
    chain.ok(
        holder,
        Payload::FaultDeclare {
            deal: id,
            segment: 0,
            shard: 2,
        },
    );
    assert_eq!(shard(&chain, id, 2).fault_epoch, Some(1));
    assert_eq!(
        chain
            .one(
                holder,
                Payload::FaultDeclare {
                    deal: id,
                    segment: 0,
                    shard: 2
                }
            )
            .1,
        Status::Failed(Reason::ShardFaulty)
    );
    let collateral = record.collateral;
    let balance = chain.balance(holder);
    // Epochs 1 and 2 (the excuse of `fault_excuse_epochs_max` = 2): excused, unpaid, no burn.
    chain.prove_until(3 * EPOCH - 1, id, &coded, &skip);
    let excused = shard(&chain, id, 2);
    assert_eq!(
        excused.challenge.unwrap().outcome,
        ChallengeOutcome::Excused
    );
    assert_eq!((excused.collateral, excused.misses), (collateral, 0));
    assert_eq!(chain.balance(holder), balance, "no pay, nothing burned");
    // Epoch 3: past the excuse, a miss burns.
    chain.prove_until(4 * EPOCH - 1, id, &coded, &skip);
    let missed = shard(&chain, id, 2);
    assert_eq!(missed.challenge.unwrap().outcome, ChallengeOutcome::Missed);
    assert_eq!(missed.collateral, collateral - 3 * pay_of(&chain, id));
    // Epoch 4: it proves again, which ends the fault, and is paid.
    chain.prove_until(5 * EPOCH - 1, id, &coded, &[]);
    let back = shard(&chain, id, 2);
    assert_eq!(back.fault_epoch, None);
    assert_eq!(back.misses, 0);
    // A fault cannot be declared while the challenge is open.
    until_challenged(&mut chain, id, &coded, 2);
    assert_eq!(
        chain
            .one(
                holder,
                Payload::FaultDeclare {
                    deal: id,
                    segment: 0,
                    shard: 2
                }
            )
            .1,
        Status::Failed(Reason::ChallengeOpen)
    );
}

#[test]
fn a_repair_not_accepted_in_time_is_drawn_again() {
    let (mut chain, id, coded) = stored(6, 8);
    let lazy = shard(&chain, id, 3);
    let mut skip = vec![lazy.holder.clone()];
    while shard(&chain, id, 3).holder == lazy.holder {
        let height = chain.state.height + 1;
        chain.prove_until(height, id, &coded, &skip);
    }
    let first = shard(&chain, id, 3);
    let ShardState::Repairing { accept_due, .. } = first.state else {
        panic!("{first:?}")
    };
    skip.push(first.holder.clone());
    chain.prove_until(accept_due, id, &coded, &skip);
    let second = shard(&chain, id, 3);
    assert!(
        matches!(second.state, ShardState::Repairing { drawn_height, .. } if drawn_height == accept_due)
    );
    assert_ne!(second.holder, first.holder, "drawn again");
    assert_eq!(chain.state.providers[&first.holder].bond_locked, 0);
    chain.ok(key_of(&second.holder), accept(id, 0, 3));
    assert!(matches!(
        shard(&chain, id, 3).state,
        ShardState::Active { .. }
    ));
}

/// An honest provider that is down about 1% of the blocks, in outages shorter than the proof
/// window, and declares a fault before a planned longer one, never loses collateral.
#[test]
fn a_ninety_nine_percent_available_provider_never_loses_collateral() {
    let (mut chain, id, coded) = stored(4, 40);
    let record = shard(&chain, id, 0);
    let holder = key_of(&record.holder);
    let mut down = 0u64;
    let start = chain.state.height;
    let end = 30 * EPOCH;
    let mut seed = 0x5eed_u64;
    while chain.state.height < end {
        // A deterministic stream: an outage of 1-2 blocks starts with probability 1/150.
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let outage = if (seed >> 33).is_multiple_of(150) {
            1 + (seed >> 20) % 2
        } else {
            0
        };
        for _ in 0..outage {
            let txs = chain.proofs(id, &coded, std::slice::from_ref(&record.holder));
            chain.block(txs);
            down += 1;
        }
        // A planned outage of a whole epoch (epoch 20), declared before it.
        if chain.state.height == 20 * EPOCH - 1 {
            chain.ok(
                holder,
                Payload::FaultDeclare {
                    deal: id,
                    segment: 0,
                    shard: 0,
                },
            );
            chain.prove_until(
                21 * EPOCH - 1,
                id,
                &coded,
                std::slice::from_ref(&record.holder),
            );
            down += EPOCH;
        }
        let txs = chain.proofs(id, &coded, &[]);
        chain.block(txs);
    }
    let blocks = chain.state.height - start;
    assert!(down * 100 >= blocks, "down {down} of {blocks} blocks");
    let now = shard(&chain, id, 0);
    assert_eq!(now.holder, record.holder);
    assert_eq!(
        now.collateral, record.collateral,
        "seed {seed}: collateral lost"
    );
    assert_eq!(chain.state.providers[&record.holder].bond, BOND);
}

#[test]
fn the_storage_share_of_the_emission_goes_to_proven_bytes() {
    let mut params = params();
    params.storage.emission_bps = 2_000;
    let mut chain = Chain {
        state: common::genesis(CHAIN, params, 1),
        nonces: [0; 10],
    };
    chain.providers(1..=4, PRICE);
    let (segment, shards) = coded(9, 20_000);
    let id = chain.ok(OWNER, post(vec![segment], 4 * PLX, 3));
    chain.accept_all(id);
    let coded = [shards];
    // Epoch 1, the deal's first paid epoch.
    chain.prove_until(2 * EPOCH - 1, id, &coded, &[]);
    let emission = chain.state.emissions()[&1].clone();
    let whole = chain.state.params.audit.emission_per_epoch;
    // Four equal proven shards: a fifth of the emission, in four equal parts.
    assert_eq!(emission.storage, whole / 5);
    assert_eq!(
        emission.validators + emission.providers + emission.verifiers,
        0
    );
}

/// Two holders of one segment stop proving: both shards are lost and each draws its own
/// repairer among the providers holding nothing of the segment; the state with its challenges,
/// faults and repairs survives a snapshot with its root.
#[test]
fn shards_of_one_segment_lost_together_are_repaired_independently() {
    let (mut chain, id, coded) = stored(7, 8);
    let lazy = [shard(&chain, id, 0).holder, shard(&chain, id, 3).holder];
    let faulty = shard(&chain, id, 1).holder;
    let fault = key_of(&faulty);
    let silent = [lazy[0].clone(), lazy[1].clone(), faulty];
    chain.ok(
        fault,
        Payload::FaultDeclare {
            deal: id,
            segment: 0,
            shard: 1,
        },
    );
    while [0, 3]
        .iter()
        .any(|slot| lazy.contains(&shard(&chain, id, *slot).holder))
    {
        let height = chain.state.height + 1;
        chain.prove_until(height, id, &coded, &silent);
        assert!(height < 5 * EPOCH, "never lost");
    }
    let holders: Vec<Address> = chain.state.deals[&id].segments[0]
        .shards
        .iter()
        .map(|s| s.holder.clone())
        .collect();
    let distinct: BTreeSet<&Address> = holders.iter().collect();
    assert_eq!(distinct.len(), 4);
    for slot in [0u16, 3] {
        let repairing = shard(&chain, id, slot);
        assert!(
            matches!(repairing.state, ShardState::Repairing { .. }),
            "{repairing:?}"
        );
        assert!(!lazy.contains(&repairing.holder));
    }
    assert_eq!(chain.state.storage_stats.shards_lost, 2);
    // The faulty holder was excused, not burned, and is still the holder.
    let excused = shard(&chain, id, 1);
    assert_eq!(excused.holder, silent[2]);
    assert!(excused.fault_epoch.is_some());
    let decoded = State::decode(chain.state.encode()).unwrap();
    assert_eq!(decoded, chain.state);
    assert_eq!(decoded.root(), chain.state.root());
    // Both repairers accept in one block, each paid its own fee.
    let txs = [0u16, 3]
        .iter()
        .map(|slot| {
            let from = key_of(&shard(&chain, id, *slot).holder);
            chain.tx(from, accept(id, 0, *slot))
        })
        .collect();
    assert!(chain.block(txs).iter().all(|s| *s == Status::Success));
    assert_eq!(chain.state.storage_stats.repairs_done, 2);
    assert!(chain.state.deals[&id].is_active());
}

/// The schedule must fit: at one challenge a block and `EPOCH - PROOF_WINDOW` opening blocks,
/// the chain holds at most 7 shards, so a second deal of four is refused before its fee, and
/// the first's four shards open one a block.
#[test]
fn a_deal_past_the_challenge_capacity_is_refused_and_openings_spread() {
    let mut params = params();
    params.storage.challenges_per_block_max = 1;
    let mut chain = Chain {
        state: common::genesis(CHAIN, params, 1),
        nonces: [0; 10],
    };
    chain.providers(1..=5, PRICE);
    let (segment, shards) = coded(3, 8_000);
    let id = chain.ok(OWNER, post(vec![segment.clone()], 4 * PLX, 2));
    chain.accept_all(id);
    let before = chain.state.account(&address(OWNER));
    let (_, status) = chain.one(OWNER, post(vec![segment], 4 * PLX, 2));
    assert_eq!(status, Status::Rejected(Reason::StorageFull));
    assert_eq!(
        chain.state.account(&address(OWNER)),
        before,
        "not even the fee"
    );
    chain.prove_until(EPOCH - 1, id, &[shards], &[]);
    let mut opened: Vec<u64> = (0..4)
        .map(|slot| shard(&chain, id, slot).challenge.unwrap().opened_height)
        .collect();
    opened.sort();
    opened.dedup();
    assert_eq!(opened.len(), 4, "one a block: {opened:?}");
}
