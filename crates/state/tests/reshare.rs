//! The beacon key's reshare across an epoch: a validator joins with stake, one unbonds below
//! the cut, the current committee deals to the elected one (the dealer/player exchange a node
//! runs over p2p, run here in process), the logs go on chain, and at the epoch's last block the
//! new committee holds the key. The group key, and so every beacon signature, is unchanged.

mod common;

use commonware_codec::Encode;
use commonware_cryptography::{
    Signer,
    bls12381::{
        dkg::feldman_desmedt::{Dealer, Player},
        primitives::group::Share,
    },
};
use commonware_parallel::Sequential;
use commonware_utils::N3f1;
use plexus_state::{Params, State, beacon, reshare};
use plexus_types::{PLX, Payload, PrivateKey, PublicKey, Reason, Status, beacon::BeaconVariant};
use rand::SeedableRng;

use common::{address, key, run};

const CHAIN: u64 = 8;
const EPOCH: u64 = 4;

fn tx(from: u64, nonce: u64, payload: Payload) -> plexus_types::SignedTransaction {
    common::tx(CHAIN, from, nonce, payload)
}

fn genesis() -> State {
    common::genesis(
        CHAIN,
        Params {
            epoch_length_blocks: EPOCH,
            committee_size_max: 4,
            ..Params::default()
        },
        4,
    )
}

/// `from`'s dealer log for `epoch`, as its `nonce`-th transaction.
fn log_tx(from: u64, nonce: u64, epoch: u64, log: &[u8]) -> plexus_types::SignedTransaction {
    tx(
        from,
        nonce,
        Payload::DealerLog {
            epoch,
            log: log.to_vec(),
        },
    )
}

type Players = Vec<(PublicKey, Player<BeaconVariant, PrivateKey>)>;

/// Every dealer deals to every player and collects every acknowledgement; returns each
/// dealer's signed log (encoded) and the players, ready to finalize.
fn exchange(
    info: &reshare::ReshareInfo,
    dealers: &[(PrivateKey, Share)],
    players: &[PrivateKey],
) -> (Vec<(PrivateKey, Vec<u8>)>, Players) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut players: Players = players
        .iter()
        .map(|k| {
            (
                k.public_key(),
                Player::new(info.clone(), k.clone()).unwrap(),
            )
        })
        .collect();
    let mut logs = Vec::new();
    for (dealer_key, share) in dealers {
        let (mut dealer, public, private) = Dealer::<BeaconVariant, PrivateKey>::start::<N3f1>(
            &mut rng,
            info.clone(),
            dealer_key.clone(),
            Some(share.clone()),
        )
        .unwrap();
        for (player_key, message) in private {
            let (_, player) = players.iter_mut().find(|(k, _)| *k == player_key).unwrap();
            let ack = player
                .dealer_message::<N3f1>(dealer_key.public_key(), public.clone(), message)
                .unwrap()
                .unwrap();
            dealer.receive_player_ack(player_key, ack).unwrap();
        }
        logs.push((
            dealer_key.clone(),
            dealer.finalize::<N3f1>().encode().to_vec(),
        ));
    }
    (logs, players)
}

#[test]
fn the_elected_committee_takes_over_the_beacon_key_at_the_epoch_boundary() {
    let mut state = genesis();
    let group_key = *state.beacon_sharing().public();
    let old = common::dev_beacon(4);
    // Epoch 0: validator 4 bonds more than anyone; validator 3 unbonds to the minimum.
    let got = run(
        &mut state,
        vec![
            tx(
                4,
                0,
                Payload::Bond {
                    amount: 20_000 * PLX,
                },
            ),
            tx(
                3,
                0,
                Payload::Unbond {
                    amount: 9_000 * PLX,
                },
            ),
        ],
    );
    assert_eq!(got, vec![Status::Success, Status::Success]);
    while state.height < EPOCH {
        run(&mut state, vec![]);
    }
    // Epoch 1's first block elected the next committee: 3 is cut, 4 is in.
    let mut next = state.next_committee().to_vec();
    next.sort();
    let mut expected = vec![address(0), address(1), address(2), address(4)];
    expected.sort();
    assert_eq!(next, expected);
    assert_eq!(state.committee().len(), 4);
    assert!(state.committee().contains(&address(3)));

    // The current committee (0..=3) deals to the next one.
    let info = reshare::info(&state).unwrap();
    let dealers: Vec<_> = (0..4)
        .map(|i| (key(i), old.share_of(&key(i).public_key()).unwrap().clone()))
        .collect();
    let player_keys: Vec<_> = [0, 1, 2, 4].iter().map(|i| key(*i)).collect();
    let (logs, players) = exchange(&info, &dealers, &player_keys);

    // Bad logs: dealer 0's log sent by a non-dealer, a log for another epoch, garbage.
    let (_, log0) = &logs[0];
    let bad = run(
        &mut state,
        vec![
            log_tx(5, 0, 1, log0),
            log_tx(1, 0, 0, &logs[1].1),
            log_tx(2, 0, 1, &[7; 40]),
        ],
    );
    assert_eq!(bad, vec![Status::Failed(Reason::InvalidDealerLog); 3]);
    assert!(state.dealer_logs().is_empty());
    // Three of the four dealers log (a quorum); one duplicate is refused.
    let got = run(
        &mut state,
        vec![
            log_tx(0, 0, 1, log0),
            log_tx(1, 1, 1, &logs[1].1),
            log_tx(3, 1, 1, &logs[3].1),
            log_tx(0, 1, 1, log0),
        ],
    );
    assert_eq!(
        got,
        vec![
            Status::Success,
            Status::Success,
            Status::Success,
            Status::Failed(Reason::DuplicateDealerLog)
        ]
    );
    let before = state.beacon_key.clone();
    while state.height < 2 * EPOCH - 1 {
        assert_eq!(state.committee().len(), 4);
        assert!(state.committee().contains(&address(3)));
        run(&mut state, vec![]);
    }
    // The last block of epoch 1 handed over: new committee, new key, same group key.
    let mut committee = state.committee().to_vec();
    committee.sort();
    assert_eq!(committee, expected);
    assert_eq!(state.epoch_committees[&2], state.committee());
    assert_ne!(state.beacon_key, before);
    assert_eq!(*state.beacon_sharing().public(), group_key);

    // Each new member finalizes its share from the logs on chain; together a quorum of them
    // makes exactly the signature the old committee would have made.
    let mut new_shares = Vec::new();
    for (player_key, player) in players {
        let (output, share) = player
            .finalize::<N3f1>(
                &mut reshare::rng(),
                reshare::logs(&state, &info),
                &Sequential,
            )
            .unwrap();
        assert_eq!(output, state.beacon_key, "{player_key:?}");
        new_shares.push(share);
    }
    let partials: Vec<_> = new_shares[..3]
        .iter()
        .map(|s| beacon::sign(s, 42))
        .collect();
    let signature = beacon::recover(state.beacon_sharing(), 42, &partials).unwrap();
    let old_partials: Vec<_> = old.shares[1..]
        .iter()
        .map(|(_, s)| beacon::sign(s, 42))
        .collect();
    assert_eq!(
        Some(signature),
        beacon::recover(before.public(), 42, &old_partials)
    );
    // The departed validator's old share is no share of the new key.
    let departed = old.share_of(&key(3).public_key()).unwrap();
    assert!(!beacon::verify_partial(
        state.beacon_sharing(),
        42,
        &beacon::sign(departed, 42)
    ));
    // The chain goes on (blocks keep verifying against the same group key).
    run(&mut state, vec![]);
    assert!(
        state.dealer_logs().is_empty(),
        "a new epoch's round starts empty"
    );
    assert_eq!(state.recount(), Ok(state.supply.total()));
}

#[test]
fn a_full_committee_s_dealer_log_fits_a_transaction() {
    let n = u64::from(reshare::COMMITTEE_SIZE_CAP);
    let keys: Vec<_> = (0..n).map(key).collect();
    let dev = beacon::DevBeacon::deal(3, keys.iter().map(|k| k.public_key()));
    let info = plexus_state::reshare::ReshareInfo::new::<N3f1>(
        reshare::RESHARE_NAMESPACE,
        1,
        Some(dev.output.clone()),
        commonware_cryptography::bls12381::primitives::sharing::Mode::NonZeroCounter,
        commonware_cryptography::bls12381::dkg::feldman_desmedt::Reveal::V1,
        dev.output.players().clone(),
        dev.output.players().clone(),
    )
    .unwrap();
    let dealer = (
        keys[0].clone(),
        dev.share_of(&keys[0].public_key()).unwrap().clone(),
    );
    let (logs, _) = exchange(&info, &[dealer], &keys);
    let tx = log_tx(0, 0, 1, &logs[0].1);
    let size = tx.encode().len();
    println!(
        "a {n}-member committee's dealer log: {} bytes, transaction {size} bytes",
        logs[0].1.len()
    );
    assert!(size <= plexus_types::TX_SIZE_MAX, "{size} bytes");
}

#[test]
fn without_a_quorum_of_logs_the_committee_stays() {
    let mut state = genesis();
    let old = common::dev_beacon(4);
    run(
        &mut state,
        vec![tx(
            4,
            0,
            Payload::Bond {
                amount: 20_000 * PLX,
            },
        )],
    );
    while state.height < EPOCH {
        run(&mut state, vec![]);
    }
    let info = reshare::info(&state).unwrap();
    let dealers: Vec<_> = (0..4)
        .map(|i| (key(i), old.share_of(&key(i).public_key()).unwrap().clone()))
        .collect();
    let player_keys: Vec<_> = state
        .next_committee()
        .iter()
        .map(|a| (0..6).map(key).find(|k| k.public_key() == a.0).unwrap())
        .collect();
    let (logs, _) = exchange(&info, &dealers, &player_keys);
    // Two logs of four: below the quorum of three.
    run(
        &mut state,
        vec![log_tx(0, 0, 1, &logs[0].1), log_tx(1, 0, 1, &logs[1].1)],
    );
    let (committee, key_before) = (state.committee().to_vec(), state.beacon_key.clone());
    while state.height < 2 * EPOCH - 1 {
        run(&mut state, vec![]);
    }
    assert_eq!(state.committee(), committee);
    assert_eq!(state.beacon_key, key_before);
    assert_eq!(state.epoch_committees[&2], committee);
}
