//! The one dispute-play loop: the provider agent (the defender of its commitments, or a
//! verifier challenging another's) and `plexus job verify --dispute` (a consumer challenging)
//! both play through [`Player`].
//!
//! Each step is computed from the game the node shows ([`game`]: `DisputeDto::game`, the
//! canonical encoding of the dissection) and the player's own trace leaves, so a restarted player
//! plays on from wherever the chain is. What to play is the role's strategy ([`NextMove`]); this
//! module decides when: a step answers one state of the game ([`GameState`]: phase, round and
//! interval, which identify it within the job's one dispute) and is sent once per state, and sent
//! again only when the chain still shows that state `resend_after_blocks` later (the transaction
//! was lost or refused). A player that answered each state once and never again would lose the
//! dispute at its deadline over one dropped transaction.

use crate::{
    Client, ClientError,
    dto::{DisputeDto, DisputePhase, HexDigest, JobDto, Turn},
};
use plexus_fueltrace::dissection::{Dissection, Move, Role};
use plexus_types::{ContentHash, Digest, Payload};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// A player's trace: `(fuel, state_root)` per leaf, leaf 0 first.
pub type Leaves = Vec<(u64, ContentHash)>;

/// A role's strategy: its next move in `game` from its own leaves (`None` when it is not its
/// turn or it has nothing to play).
pub type NextMove = fn(Role, &Dissection, &[(u64, ContentHash)]) -> Result<Option<Move>, HostError>;

/// The roles' strategies from `plexus_fueltrace` as a [`NextMove`]: the defender's `defend`,
/// the challenger's `challenge`. What the agent and the CLI play; tests may pass another.
pub fn next_move(
    role: Role,
    game: &Dissection,
    leaves: &[(u64, ContentHash)],
) -> Result<Option<Move>, HostError> {
    match role {
        Role::Defender => Ok(plexus_fueltrace::defender::defend(game, leaves)?),
        Role::Challenger => Ok(plexus_fueltrace::challenger::challenge(game, leaves)),
    }
}

/// Blocks after which a step (or a commitment) the chain has not taken is sent again.
pub const RESEND_AFTER_BLOCKS: u64 = 10;

/// An error from the caller's side of a step (reading its leaves, uploading the pre-state,
/// signing and submitting), kept whole.
pub type HostError = Box<dyn std::error::Error + Send + Sync>;

/// Why a dispute step could not be taken (it is tried again at the next poll).
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("the node's dispute record does not decode: {0}")]
    Game(#[source] plexus_types::codec::Error),
    #[error("the node's dispute record is not hex")]
    GameHex,
    #[error("no trace is stored for job {0}")]
    NoTrace(HexDigest),
    #[error("the node shows a resolved dispute without its resolved leaves")]
    NotResolved,
    #[error("strategy: {0}")]
    Strategy(#[source] HostError),
    #[error("node: {0}")]
    Node(#[from] ClientError),
    #[error("{0}")]
    Host(#[source] HostError),
}

/// The game of a dispute as the node shows it.
pub fn game(dispute: &DisputeDto) -> Result<Dissection, PlayError> {
    use plexus_types::codec::DecodeExt as _;
    let bytes = plexus_types::hash::from_hex(&dispute.game).ok_or(PlayError::GameHex)?;
    Dissection::decode(bytes::Bytes::from(bytes)).map_err(PlayError::Game)
}

/// The state of a dispute's game that a step answers: within the job's one dispute, the round
/// grows with every reveal and the interval shrinks with every choice, so no state comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GameState {
    pub phase: DisputePhase,
    pub round: u32,
    pub lo: u64,
    pub hi: u64,
}

impl GameState {
    pub fn of(dispute: &DisputeDto) -> Self {
        GameState {
            phase: dispute.phase,
            round: dispute.round,
            lo: dispute.lo,
            hi: dispute.hi,
        }
    }
}

/// The steps sent, per job: the state each answered and the height it was sent at.
#[derive(Clone, Debug, Default)]
pub struct Plays {
    sent: BTreeMap<HexDigest, (GameState, u64)>,
}

impl Plays {
    /// Whether a step answering `state` of `job`'s dispute is due at `height`: none was sent
    /// for this state, or one was more than `resend_after_blocks` ago and the chain still shows
    /// the state.
    pub fn due(
        &self,
        job: &HexDigest,
        state: GameState,
        height: u64,
        resend_after_blocks: u64,
    ) -> bool {
        match self.sent.get(job) {
            Some((sent, at)) => *sent != state || height > at + resend_after_blocks,
            None => true,
        }
    }

    /// Records a step answering `state` of `job`'s dispute, sent at `height`.
    pub fn sent(&mut self, job: HexDigest, state: GameState, height: u64) {
        self.sent.insert(job, (state, height));
    }

    /// Forgets `job` (its dispute is ruled).
    pub fn forget(&mut self, job: &HexDigest) {
        self.sent.remove(job);
    }
}

/// What a player does next in a dispute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A dissection move.
    Move(Move),
    /// The settlement of a resolved game: upload the pre-state of this leaf, then ask for the
    /// validators' re-run.
    Settle { pre_state_index: u64 },
}

/// What `role` plays next in `dispute` (open, not ruled): its strategy's move when it is its
/// turn, the settlement when the game is resolved and `settles`, else nothing.
pub fn next_step(
    dispute: &DisputeDto,
    role: Role,
    settles: bool,
    strategy: NextMove,
    leaves: impl FnOnce() -> Result<Leaves, PlayError>,
) -> Result<Option<Step>, PlayError> {
    let mine = match role {
        Role::Defender => Turn::Defender,
        Role::Challenger => Turn::Challenger,
    };
    match dispute.to_move {
        Some(Turn::Settle) if settles => {
            let (lo, _) = dispute.resolved.as_ref().ok_or(PlayError::NotResolved)?;
            Ok(Some(Step::Settle {
                pre_state_index: lo.index,
            }))
        }
        Some(turn) if turn == mine => {
            let game = game(dispute)?;
            let next = strategy(role, &game, &leaves()?).map_err(PlayError::Strategy)?;
            Ok(next.map(Step::Move))
        }
        _ => Ok(None),
    }
}

/// The caller's side of a step: its leaves, the pre-state upload and the submission.
pub trait Host {
    /// The player's own leaves for `job` (`None` when it keeps no trace of it).
    fn leaves(&self, job: &Digest) -> Result<Option<Leaves>, HostError>;
    /// Uploads the pre-state at leaf `index` of `job` for the validators' re-run; its
    /// manifest's content hash. Only players that settle are asked.
    fn upload_pre_state(&self, job: &Digest, index: u64) -> Result<ContentHash, HostError>;
    /// Signs and submits `payload`; the transaction hash.
    fn submit(&mut self, payload: Payload) -> Result<String, HostError>;
    /// Told of each step sent by [`Player::play_to_ruling`].
    fn sent(&mut self, _sent: &Sent) {}
    /// Told of each step that failed in [`Player::play_to_ruling`] (it is tried again).
    fn failed(&mut self, _err: &PlayError) {}
}

/// One side of disputes: its role, its strategy, whether it settles resolved games, and the
/// steps it sent.
pub struct Player {
    pub role: Role,
    pub strategy: NextMove,
    /// Whether it sends the settlement of a resolved game (the settlement needs the agreed
    /// pre-state's pages: a consumer that re-ran without checkpoints leaves it to the provider,
    /// which loses at the deadline if it does not settle).
    pub settles: bool,
    /// Blocks after which a step the chain has not answered is sent again.
    pub resend_after_blocks: u64,
    plays: Plays,
}

/// A step sent: the state it answered and its transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub state: GameState,
    pub step: Step,
    pub tx: String,
}

impl Player {
    pub fn new(role: Role, strategy: NextMove, settles: bool, resend_after_blocks: u64) -> Self {
        Player {
            role,
            strategy,
            settles,
            resend_after_blocks,
            plays: Plays::default(),
        }
    }

    /// Forgets the steps sent in `job`'s dispute (it is ruled): what [`Player::play`] does when
    /// it finds none open.
    pub fn forget(&mut self, job: &HexDigest) {
        self.plays.forget(job);
    }

    /// One poll of `job`'s open dispute at `height`: the step this player owes, if one is due,
    /// computed and submitted through `host`.
    pub fn play(
        &mut self,
        job: &JobDto,
        height: u64,
        host: &mut dyn Host,
    ) -> Result<Option<Sent>, PlayError> {
        let Some(dispute) = job.dispute.as_ref().filter(|d| d.ruling.is_none()) else {
            self.plays.forget(&job.id);
            return Ok(None);
        };
        let state = GameState::of(dispute);
        if !self
            .plays
            .due(&job.id, state, height, self.resend_after_blocks)
        {
            return Ok(None);
        }
        let id = job.id.digest();
        let leaves = || {
            host.leaves(&id)
                .map_err(PlayError::Host)?
                .ok_or(PlayError::NoTrace(job.id))
        };
        let Some(step) = next_step(dispute, self.role, self.settles, self.strategy, leaves)? else {
            return Ok(None);
        };
        let payload = match &step {
            Step::Move(step) => Payload::DisputeMove {
                job: id,
                step: step.clone(),
            },
            Step::Settle { pre_state_index } => Payload::DisputeSettle {
                job: id,
                manifest: host
                    .upload_pre_state(&id, *pre_state_index)
                    .map_err(PlayError::Host)?,
            },
        };
        let tx = host.submit(payload).map_err(PlayError::Host)?;
        self.plays.sent(job.id, state, height);
        Ok(Some(Sent { state, step, tx }))
    }

    /// Plays `job`'s dispute until the chain rules or `timeout` passes, polling every `poll`:
    /// the job as ruled, or `None` at the timeout. A step that fails is reported to the host
    /// and tried again at the next poll; a node that is down is waited out.
    pub fn play_to_ruling(
        &mut self,
        node: &Client,
        job: &HexDigest,
        host: &mut dyn Host,
        timeout: Duration,
        poll: Duration,
    ) -> Result<Option<JobDto>, PlayError> {
        let deadline = Instant::now() + timeout;
        loop {
            let current = node.until(deadline, || node.job(job))?;
            if current
                .dispute
                .as_ref()
                .is_some_and(|dispute| dispute.ruling.is_some())
            {
                return Ok(Some(current));
            }
            let height = node.until(deadline, || node.status())?.height;
            match self.play(&current, height, host) {
                Ok(Some(sent)) => host.sent(&sent),
                Ok(None) => {}
                Err(err) => host.failed(&err),
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            std::thread::sleep(poll);
        }
    }
}

#[cfg(test)]
mod tests;
