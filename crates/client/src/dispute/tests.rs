//! When the loop plays: once per game state, again only when the chain did not move, never out
//! of turn; the settlement only by players that settle.

use super::*;
use crate::dto::{BaseUnits, JobStatus, LeafDto};
use plexus_types::ContentHash;
use plexus_types::dissection::Choose;

fn job_id() -> HexDigest {
    HexDigest(plexus_types::hash(&[b"disputed".as_slice()]))
}

fn state(phase: DisputePhase, round: u32, lo: u64, hi: u64) -> GameState {
    GameState {
        phase,
        round,
        lo,
        hi,
    }
}

/// A step answering one state is due once; again only when the chain still shows that state
/// more than `RESEND_AFTER_BLOCKS` later (the transaction was lost); at once for a new state.
#[test]
fn a_step_is_sent_once_per_state_and_again_only_when_the_chain_did_not_move() {
    let reveal = state(DisputePhase::AwaitingReveal, 0, 0, 40);
    let choice = state(DisputePhase::AwaitingChoice, 1, 0, 40);
    let resend = RESEND_AFTER_BLOCKS;
    // (state sent at height 100, state shown now, height now, due)
    let cases = [
        (reveal, reveal, 100, false),
        (reveal, reveal, 100 + resend, false),
        // Lost: the chain still shows the state it answered. A player that answers a state
        // only once never sends it again and loses at the deadline.
        (reveal, reveal, 101 + resend, true),
        (reveal, choice, 101, true),
        (
            choice,
            state(DisputePhase::AwaitingReveal, 1, 0, 3),
            101,
            true,
        ),
        (
            choice,
            state(DisputePhase::AwaitingProof, 1, 2, 3),
            101,
            true,
        ),
    ];
    for (sent, shown, height, due) in cases {
        let mut plays = Plays::default();
        assert!(plays.due(&job_id(), sent, 100, resend));
        plays.sent(job_id(), sent, 100);
        assert_eq!(
            plays.due(&job_id(), shown, height, resend),
            due,
            "sent {sent:?}, shown {shown:?} at {height}"
        );
    }
    let mut plays = Plays::default();
    plays.sent(job_id(), reveal, 100);
    plays.forget(&job_id());
    assert!(plays.due(&job_id(), reveal, 100, resend));
}

/// A game of 41 leaves, opened whole and revealed once: the challenger owes its choice.
fn game_awaiting_choice() -> Dissection {
    let leaves: Leaves = (0..41u8)
        .map(|i| (u64::from(i) * 10, ContentHash::of(&[i])))
        .collect();
    let trace = plexus_fueltrace::defender::DefenderTrace::new(&leaves).unwrap();
    let mut game = Dissection::open_whole(16, 41, trace.root()).unwrap();
    let reveal = trace.respond(&game).unwrap().unwrap();
    game.apply(reveal).unwrap();
    game
}

fn job_with(dispute: DisputeDto) -> JobDto {
    let json = serde_json::json!({
        "id": job_id(), "consumer": "c", "status": JobStatus::Committed, "module": job_id(),
        "blobs": [], "input": job_id(), "max_fuel": 1, "price_cap_per_mfuel": "1",
        "audit": "full", "escrow": "1", "posted_height": 1, "deadline_height": 9,
        "provider": null, "ask_per_mfuel": null, "bond_locked": null, "assigned_height": null,
        "output_hash": null, "total_fuel": null, "segments": null, "trace_root": null,
        "failed": null, "committed_height": null, "settle_height": null, "paid": null,
        "refunded": null, "slashed": null, "finished_height": null,
    });
    let mut job: JobDto = serde_json::from_value(json).unwrap();
    job.dispute = Some(dispute);
    job
}

fn dispute_of(game: &Dissection, to_move: Option<Turn>) -> DisputeDto {
    let phase = match game.phase() {
        plexus_fueltrace::dissection::Phase::AwaitingReveal => DisputePhase::AwaitingReveal,
        plexus_fueltrace::dissection::Phase::AwaitingChoice { .. } => DisputePhase::AwaitingChoice,
        plexus_fueltrace::dissection::Phase::AwaitingProof => DisputePhase::AwaitingProof,
        plexus_fueltrace::dissection::Phase::Resolved { .. } => DisputePhase::Resolved,
    };
    DisputeDto {
        challenger: "c".into(),
        by_verifier: false,
        deposit: BaseUnits(1),
        opened_height: 1,
        due_height: 50,
        phase,
        to_move,
        round: game.round(),
        lo: game.lo(),
        hi: game.hi(),
        game: plexus_types::hash::to_hex(&plexus_types::codec::Encode::encode(game)),
        resolved: None,
        ruling: None,
    }
}

/// Records what the loop submits.
#[derive(Default)]
struct Recorder {
    submitted: Vec<Payload>,
}

impl Host for Recorder {
    fn leaves(&self, _job: &Digest) -> Result<Option<Leaves>, HostError> {
        Ok(Some(Vec::new()))
    }

    fn upload_pre_state(&self, _job: &Digest, index: u64) -> Result<ContentHash, HostError> {
        Ok(ContentHash::of(&index.to_be_bytes()))
    }

    fn submit(&mut self, payload: Payload) -> Result<String, HostError> {
        self.submitted.push(payload);
        Ok(format!("tx{}", self.submitted.len()))
    }
}

/// Chooses the first sub-interval, whatever the game.
fn first(_: Role, _: &Dissection, _: &[(u64, ContentHash)]) -> Result<Option<Move>, HostError> {
    Ok(Some(Move::Choose(Choose { sub_interval: 0 })))
}

#[test]
fn the_player_moves_in_its_turn_once_per_state() {
    let game = game_awaiting_choice();
    let job = job_with(dispute_of(&game, Some(Turn::Challenger)));
    let mut host = Recorder::default();
    let mut challenger = Player::new(Role::Challenger, first, false, RESEND_AFTER_BLOCKS);
    let sent = challenger.play(&job, 100, &mut host).unwrap().unwrap();
    assert_eq!(sent.state, GameState::of(job.dispute.as_ref().unwrap()));
    assert_eq!(sent.tx, "tx1");
    // The same state at the next polls: nothing until the resend is due.
    assert_eq!(challenger.play(&job, 101, &mut host).unwrap(), None);
    let late = 101 + RESEND_AFTER_BLOCKS;
    assert!(challenger.play(&job, late, &mut host).unwrap().is_some());
    assert_eq!(host.submitted.len(), 2);
    // Out of turn: the defender plays nothing in the challenger's turn.
    let mut defender = Player::new(Role::Defender, first, true, RESEND_AFTER_BLOCKS);
    assert_eq!(defender.play(&job, 100, &mut host).unwrap(), None);
    assert_eq!(host.submitted.len(), 2);
}

#[test]
fn only_a_player_that_settles_settles_a_resolved_game() {
    let mut dispute = dispute_of(&game_awaiting_choice(), Some(Turn::Settle));
    dispute.phase = DisputePhase::Resolved;
    let leaf = |index| LeafDto {
        index,
        fuel: index * 10,
        state_root: String::new(),
    };
    dispute.resolved = Some((leaf(7), leaf(8)));
    let job = job_with(dispute);
    let mut host = Recorder::default();
    let mut consumer = Player::new(Role::Challenger, first, false, RESEND_AFTER_BLOCKS);
    assert_eq!(consumer.play(&job, 100, &mut host).unwrap(), None);
    let mut provider = Player::new(Role::Defender, first, true, RESEND_AFTER_BLOCKS);
    let sent = provider.play(&job, 100, &mut host).unwrap().unwrap();
    assert_eq!(sent.step, Step::Settle { pre_state_index: 7 });
    let manifest = ContentHash::of(&7u64.to_be_bytes());
    assert!(matches!(
        &host.submitted[..],
        [Payload::DisputeSettle { manifest: m, .. }] if *m == manifest
    ));
    // A resolved game without its leaves is the node's error, not a settlement from leaf 0.
    let mut broken = job.clone();
    broken.dispute.as_mut().unwrap().resolved = None;
    let mut fresh = Player::new(Role::Defender, first, true, RESEND_AFTER_BLOCKS);
    assert!(matches!(
        fresh.play(&broken, 100, &mut host),
        Err(PlayError::NotResolved)
    ));
}

#[test]
fn a_ruled_dispute_is_not_played_and_its_steps_are_forgotten() {
    let game = game_awaiting_choice();
    let mut job = job_with(dispute_of(&game, Some(Turn::Challenger)));
    let mut host = Recorder::default();
    let mut challenger = Player::new(Role::Challenger, first, false, RESEND_AFTER_BLOCKS);
    challenger.play(&job, 100, &mut host).unwrap().unwrap();
    job.dispute.as_mut().unwrap().ruling = Some(crate::dto::RulingDto {
        provider_lost: true,
        end: crate::dto::DisputeEnd::Timeout,
        slashed: BaseUnits(1),
        to_winner: BaseUnits(1),
        height: 120,
    });
    assert_eq!(challenger.play(&job, 121, &mut host).unwrap(), None);
    assert!(challenger.plays.due(
        &job_id(),
        GameState::of(job.dispute.as_ref().unwrap()),
        121,
        0
    ));
    assert_eq!(host.submitted.len(), 1);
}
