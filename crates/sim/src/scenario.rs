//! The fault scenarios and the checks every run must pass.

use crate::byzantine::Behavior;
use crate::network::{AllActiveReach, Durable, FinalizedEntry, PlexusEngine, Timing, dev_beacon};
use commonware_glue::simulate::{
    action::{Action, Crash, Schedule},
    engine::EngineDefinition as _,
    plan::PlanBuilder,
};
use commonware_p2p::simulated::Link;
use commonware_utils::probability;
use plexus_types::{Digest, PublicKey, hash::digest_hex};
use std::{collections::BTreeMap, time::Duration};

/// A fault scenario: what the network suffers while the workload runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Four validators, good links.
    AllOnline,
    /// Four validators, one crashed from the start and never back: three still finalize.
    OneOffline,
    /// Seven validators; f = 2 crash together and restart later from their storage.
    CrashRestart,
    /// Four validators that all crash at once and restart from storage: consensus, and the
    /// beacon signatures the next blocks need, resume from what each one persisted.
    FullRestart,
    /// Four validators; every few seconds a random one crashes and comes back.
    RandomCrashes,
    /// Four validators split 2|2: no side has a quorum, so nothing finalizes until it heals.
    Partition,
    /// Four validators over links that lose 15% of messages with 150 ms ± 75 ms latency.
    LossySlow,
    /// Four validators, one of which proposes only invalid blocks (a wrong state root, a badly
    /// signed transaction): none of them is finalized and the honest three keep finalizing.
    ByzantineProposer,
    /// Four validators, one of which floods every channel with garbage: the honest three block
    /// it and keep finalizing.
    GarbagePeer,
    /// Four validators, one of which signs conflicting votes: the honest ones turn the proof into
    /// an evidence transaction and the chain slashes and jails it.
    Equivocator,
    /// Four validators, one of which starts only after the others passed view 40 (with an empty
    /// store): it backfills the finalized chain from its peers and joins consensus.
    LateJoiner,
    /// Four validators and a full node that starts after view 20: it backfills the chain from
    /// the committee and keeps following it without voting.
    FullNode,
    /// Four validators and a full node that starts after view 30 with an empty store and
    /// state-syncs: it starts from validator 0's latest state (checked against its block's state
    /// root, the block confirmed by the committee's finalization), never executes the blocks
    /// before it, and follows the chain from there.
    StateSync,
    /// Epochs of 20 blocks: a funded full node bonds more than anyone and the last validator
    /// unbonds to the minimum in epoch 0, so epoch 1's first block elects a committee that swaps
    /// them; the reshare in epoch 1 hands the beacon key over at its last block, and from epoch 2
    /// the joiner validates (with its own share) and the leaver only follows.
    JoinLeave,
    /// `JoinLeave`, with a dealer (the leaver) and a player (the joiner) crashing in the middle
    /// of epoch 1's reshare and restarting before it ends: the dealer deals the same dealing
    /// again and its log lands, the player resumes from the dealings it acknowledged, and after
    /// the handover every member of the new committee holds a share of the group key and signs
    /// the beacon with it.
    ReshareRestart,
    /// `JoinLeave`, with a vote in epoch 0 that shortens the epochs to 12 blocks from epoch 2
    /// (height 40) on: consensus, the committee swap and every reshare follow the new
    /// boundaries (epoch 2 is heights 40..=51, epoch 3 52..=63, ...), and each new committee
    /// gets its share at each of them.
    EpochChange,
}

/// Every scenario, in the order sweeps run them.
pub const SCENARIOS: [Scenario; 16] = [
    Scenario::AllOnline,
    Scenario::OneOffline,
    Scenario::CrashRestart,
    Scenario::FullRestart,
    Scenario::RandomCrashes,
    Scenario::Partition,
    Scenario::LossySlow,
    Scenario::ByzantineProposer,
    Scenario::GarbagePeer,
    Scenario::Equivocator,
    Scenario::LateJoiner,
    Scenario::FullNode,
    Scenario::StateSync,
    Scenario::JoinLeave,
    Scenario::ReshareRestart,
    Scenario::EpochChange,
];

/// When the partition scenario splits and heals the network.
const PARTITION_AT: Duration = Duration::from_secs(4);
const HEAL_AT: Duration = Duration::from_secs(12);

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::AllOnline => "all_online",
            Scenario::OneOffline => "one_offline",
            Scenario::CrashRestart => "crash_restart",
            Scenario::FullRestart => "full_restart",
            Scenario::RandomCrashes => "random_crashes",
            Scenario::Partition => "partition",
            Scenario::LossySlow => "lossy_slow",
            Scenario::ByzantineProposer => "byzantine_proposer",
            Scenario::GarbagePeer => "garbage_peer",
            Scenario::Equivocator => "equivocator",
            Scenario::LateJoiner => "late_joiner",
            Scenario::FullNode => "full_node",
            Scenario::JoinLeave => "join_leave",
            Scenario::StateSync => "state_sync",
            Scenario::ReshareRestart => "reshare_restart",
            Scenario::EpochChange => "epoch_change",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        SCENARIOS.into_iter().find(|s| s.name() == name)
    }

    fn validators(self) -> usize {
        match self {
            Scenario::CrashRestart => 7,
            _ => 4,
        }
    }
}

fn good_link() -> Link {
    Link {
        latency: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        success_rate: probability!(1.0),
    }
}

fn cut_link() -> Link {
    Link {
        latency: Duration::from_millis(10),
        jitter: Duration::ZERO,
        success_rate: probability!(0.0),
    }
}

/// What a passing run ends with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub scenario: &'static str,
    pub seed: u64,
    /// The highest height every validator that finalized it agrees on, and its state root.
    pub height: u64,
    pub state_root: String,
    /// Transactions finalized (by the validator with the longest chain).
    pub txs: u64,
    /// Validator crashes the run went through.
    pub crashes: u64,
    /// Simulated milliseconds until the run ended.
    pub simulated_ms: u64,
    /// The deterministic runtime's hash of every event of the run.
    pub event_hash: String,
}

/// Runs `scenario` under `seed` and checks safety (every validator finalized the same blocks
/// and state roots; supply is conserved) and liveness (every running validator reaches the
/// target height, after the faults heal, within the simulated time limit).
pub fn run(scenario: Scenario, seed: u64) -> Result<Outcome, String> {
    let engine = engine_for(scenario);
    let probe = engine.clone();
    let durable = engine.durable();
    let keys = engine.participants();
    let n = keys.len();
    let (height, min_active) = target(scenario, n);
    let plan = PlanBuilder::new(engine)
        .seed(seed)
        .timeout(Duration::from_secs(300))
        .exit_condition(AllActiveReach { height, min_active });
    let plan = with_faults(scenario, plan, &keys);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan.build().run()))
        .map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            format!("{} seed {seed}: panicked: {message}", scenario.name())
        })?
        .map_err(|err| format!("{} seed {seed}: {err}", scenario.name()))?;

    let map = durable.lock().unwrap_or_else(|p| p.into_inner());
    let (agreed_height, root, txs, simulated_ms) =
        check_safety(&map).map_err(|err| format!("{} seed {seed}: {err}", scenario.name()))?;
    if agreed_height < height {
        return Err(format!(
            "{} seed {seed}: only height {agreed_height} finalized, {height} required",
            scenario.name()
        ));
    }
    if txs == 0 {
        return Err(format!(
            "{} seed {seed}: the workload got no transaction finalized",
            scenario.name()
        ));
    }
    let fail = |err: String| format!("{} seed {seed}: {err}", scenario.name());
    check_scenario(scenario, &map, &keys, &probe, result.crashes, height).map_err(fail)?;
    Ok(Outcome {
        scenario: scenario.name(),
        seed,
        height: agreed_height,
        state_root: digest_hex(&root),
        txs,
        crashes: result.crashes,
        simulated_ms,
        event_hash: result.state,
    })
}

/// The network `scenario` runs on: its validators, and the faulty, full, joining or syncing
/// nodes it adds.
fn engine_for(scenario: Scenario) -> PlexusEngine {
    let mut engine = PlexusEngine::new(scenario.validators(), Timing::default());
    let faulty = scenario.validators() - 1;
    match scenario {
        Scenario::ByzantineProposer => {
            engine = engine.with_byzantine(faulty, Behavior::CorruptProposals)
        }
        Scenario::GarbagePeer => engine = engine.with_byzantine(faulty, Behavior::Garbage),
        Scenario::Equivocator => engine = engine.with_byzantine(faulty, Behavior::Equivocate),
        Scenario::FullNode => engine = engine.with_full_nodes(1),
        Scenario::JoinLeave | Scenario::ReshareRestart => {
            engine = engine.with_rotation(JOIN_LEAVE_EPOCH)
        }
        Scenario::StateSync => engine = engine.with_state_sync(),
        Scenario::EpochChange => {
            engine = engine
                .with_rotation(JOIN_LEAVE_EPOCH)
                .with_epoch_change(CHANGED_EPOCH)
        }
        _ => {}
    }
    engine
}

/// The height a run of `scenario` must reach on `n` participants, and how many of them must be
/// running when it does.
fn target(scenario: Scenario, n: usize) -> (u64, usize) {
    match scenario {
        Scenario::AllOnline | Scenario::LossySlow | Scenario::FullNode => (30, n),
        Scenario::JoinLeave | Scenario::ReshareRestart => (3 * JOIN_LEAVE_EPOCH, n),
        // Through epoch 4, the third of the new length (heights 64..=75).
        Scenario::EpochChange => (2 * JOIN_LEAVE_EPOCH + 3 * CHANGED_EPOCH + 1, n),
        Scenario::StateSync => (60, n),
        Scenario::OneOffline
        | Scenario::ByzantineProposer
        | Scenario::GarbagePeer
        | Scenario::Equivocator => (30, n - 1),
        Scenario::CrashRestart
        | Scenario::FullRestart
        | Scenario::RandomCrashes
        | Scenario::LateJoiner => (80, n),
        Scenario::Partition => (80, n),
    }
}

/// `plan` with the links and the crashes, partitions and delays `scenario` subjects `keys` to.
fn with_faults(
    scenario: Scenario,
    plan: PlanBuilder<PlexusEngine>,
    keys: &[PublicKey],
) -> PlanBuilder<PlexusEngine> {
    let n = keys.len();
    match scenario {
        Scenario::AllOnline
        | Scenario::JoinLeave
        | Scenario::EpochChange
        | Scenario::ByzantineProposer
        | Scenario::GarbagePeer
        | Scenario::Equivocator => plan.link(good_link()),
        Scenario::LossySlow => plan.link(Link {
            latency: Duration::from_millis(150),
            jitter: Duration::from_millis(75),
            success_rate: probability!(0.85),
        }),
        Scenario::ReshareRestart => reshare_restart_faults(plan, keys),
        Scenario::OneOffline => plan.link(good_link()).crash(Crash::Schedule(
            Schedule::new().at(Duration::ZERO, Action::Crash(keys[n - 1].clone())),
        )),
        Scenario::CrashRestart => plan.link(good_link()).crash(Crash::Schedule(
            Schedule::new()
                .at(Duration::from_secs(3), Action::Crash(keys[5].clone()))
                .at(Duration::from_secs(3), Action::Crash(keys[6].clone()))
                .at(Duration::from_secs(9), Action::Restart(keys[5].clone()))
                .at(Duration::from_secs(9), Action::Restart(keys[6].clone())),
        )),
        Scenario::FullRestart => {
            let mut schedule = Schedule::new();
            for key in keys {
                schedule = schedule.at(Duration::from_secs(5), Action::Crash(key.clone()));
            }
            for key in keys {
                schedule = schedule.at(Duration::from_secs(7), Action::Restart(key.clone()));
            }
            plan.link(good_link()).crash(Crash::Schedule(schedule))
        }
        Scenario::LateJoiner | Scenario::FullNode | Scenario::StateSync => {
            let view = match scenario {
                Scenario::FullNode => 20,
                Scenario::StateSync => 30,
                _ => 40,
            };
            plan.link(good_link()).crash(Crash::DelayRound {
                participants: vec![keys[n - 1].clone()],
                round: commonware_consensus::types::Round::new(
                    commonware_consensus::types::Epoch::zero(),
                    commonware_consensus::types::View::new(view),
                ),
            })
        }
        Scenario::RandomCrashes => plan.link(good_link()).crash(Crash::Random {
            frequency: Duration::from_secs(4),
            downtime: Duration::from_secs(2),
            count: 1,
        }),
        Scenario::Partition => {
            let mut schedule = Schedule::new();
            for a in 0..2 {
                for b in 2..4 {
                    for (from, to) in [(a, b), (b, a)] {
                        schedule = schedule.at(
                            PARTITION_AT,
                            Action::UpdateLink {
                                from: keys[from].clone(),
                                to: keys[to].clone(),
                                link: cut_link(),
                            },
                        );
                    }
                }
            }
            plan.link(good_link()).crash(Crash::Schedule(
                schedule.at(HEAL_AT, Action::Heal(good_link())),
            ))
        }
    }
}

/// The faults of `ReshareRestart`: a dealer (the leaver) and a player (the joiner) crash in the
/// middle of epoch 1's reshare and restart before it ends.
fn reshare_restart_faults(
    plan: PlanBuilder<PlexusEngine>,
    keys: &[PublicKey],
) -> PlanBuilder<PlexusEngine> {
    let n = keys.len();
    // Epoch 1 (heights 20 to 39) reshares to the committee its first block elected: the
    // leaver deals but is not in it, the joiner is only a player. The joiner's
    // acknowledgements never reach the leaver, so the leaver waits for the epoch's
    // midpoint (height 30) to log. The leaver crashes early in the round, with its
    // dealings out; the joiner just before the midpoint, when the other dealers have
    // resent their dealings twice and hold its acknowledgements, so their logs carry
    // them and it must still hold those dealings at the handover. Both are back before
    // the round ends.
    let (leaver, joiner) = (keys[n - 2].clone(), keys[n - 1].clone());
    plan.link(good_link())
        .crash(Crash::Schedule(Schedule::new().at(
            Duration::ZERO,
            Action::UpdateLink {
                from: joiner.clone(),
                to: leaver.clone(),
                link: cut_link(),
            },
        )))
        .crash(Crash::ProcessedHeight {
            participant: leaver,
            heights: JOIN_LEAVE_EPOCH + 2..=JOIN_LEAVE_EPOCH + 5,
            downtime: Duration::from_secs(2),
        })
        .crash(Crash::ProcessedHeight {
            participant: joiner,
            heights: JOIN_LEAVE_EPOCH + 7..=JOIN_LEAVE_EPOCH + 9,
            downtime: Duration::from_secs(2),
        })
}

/// What `scenario` checks beyond safety and liveness, on the validators' durable records `map`
/// after a run that went through `crashes` crashes to reach `height`.
fn check_scenario(
    scenario: Scenario,
    map: &BTreeMap<usize, Durable>,
    keys: &[PublicKey],
    probe: &PlexusEngine,
    crashes: u64,
    height: u64,
) -> Result<(), String> {
    let n = keys.len();
    let faulty = scenario.validators() - 1;
    match scenario {
        Scenario::AllOnline => check_participation(map, keys)?,
        Scenario::Partition => check_partition_stalled(map)?,
        Scenario::JoinLeave => check_join_leave(map, keys)?,
        Scenario::EpochChange => {
            check_join_leave(map, keys)?;
            check_epoch_change(map, keys)?;
        }
        Scenario::ReshareRestart => {
            check_join_leave(map, keys)?;
            if crashes < 2 {
                return Err(format!("only {crashes} crashes happened"));
            }
            check_reshare_survived(map, keys)?;
        }
        Scenario::StateSync => {
            let synced = map
                .get(&(n - 1))
                .ok_or_else(|| "no synced node".to_string())?;
            if synced.synced_from < 10 {
                return Err(format!(
                    "the full node synced from height {}, not from a running chain",
                    synced.synced_from
                ));
            }
            if synced.synced_from + (synced.history.len() as u64) < height {
                return Err("the synced node did not follow to the target".into());
            }
        }
        Scenario::ByzantineProposer => {
            let faulty_key = &keys[faulty];
            for (validator, record) in map.iter() {
                if let Some(height) = record
                    .history
                    .iter()
                    .position(|e| &e.proposer == faulty_key)
                {
                    return Err(format!(
                        "validator {validator} finalized the faulty validator's block at height {}",
                        height + 1
                    ));
                }
            }
        }
        Scenario::Equivocator => {
            let offender = plexus_types::Address(keys[faulty].clone());
            for (validator, record) in map.iter() {
                let state = &record
                    .tip
                    .as_ref()
                    .ok_or_else(|| "no tip".to_string())?
                    .state;
                let slashed: u128 = state
                    .slashes
                    .iter()
                    .filter(|((who, _, _), _)| *who == offender)
                    .map(|(_, amount)| *amount)
                    .sum();
                let jailed = state.validators.get(&offender).is_some_and(|v| v.jailed);
                if slashed == 0 || !jailed {
                    return Err(format!(
                        "validator {validator}: the equivocator was not slashed and jailed \
                         (slashed {slashed}, jailed {jailed})"
                    ));
                }
            }
        }
        Scenario::GarbagePeer => {
            let blocked = probe.blocked();
            for honest in keys.iter().take(faulty) {
                if !blocked.contains(&(honest.clone(), keys[faulty].clone())) {
                    return Err(format!(
                        "an honest validator never blocked the garbage sender; blocks: {}",
                        blocked.len()
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Safety: at every height, every validator that finalized it has the same block hash and state
/// root; each validator's final state recounts to its recorded supply, and minted minus burned
/// equals it. Returns the highest height and its root, the most transactions any validator
/// finalized and the time of the last finalization.
fn check_safety(map: &BTreeMap<usize, Durable>) -> Result<(u64, Digest, u64, u64), String> {
    let mut by_height: BTreeMap<usize, (usize, FinalizedEntry)> = BTreeMap::new();
    for (validator, durable) in map {
        // A state-synced node's history starts after the height it synced from.
        let offset = durable.synced_from as usize;
        for (i, entry) in durable.history.iter().enumerate() {
            let i = i + offset;
            match by_height.get(&i) {
                None => {
                    by_height.insert(i, (*validator, entry.clone()));
                }
                Some((first, seen))
                    if seen.block_hash != entry.block_hash
                        || seen.state_root != entry.state_root =>
                {
                    return Err(format!(
                        "validators {first} and {validator} disagree at height {}: {} / {} vs {} / {}",
                        i + 1,
                        digest_hex(&seen.block_hash),
                        digest_hex(&seen.state_root),
                        digest_hex(&entry.block_hash),
                        digest_hex(&entry.state_root),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(tip) = &durable.tip {
            let supply = &tip.state.supply;
            let recount = tip
                .state
                .recount()
                .map_err(|e| format!("validator {validator}: supply recount failed: {e}"))?;
            if recount != supply.total() || supply.minted() - supply.burned() != supply.total() {
                return Err(format!(
                    "validator {validator}: supply not conserved at height {}: recount {recount}, {supply:?}",
                    tip.state.height
                ));
            }
            if tip.state.height != durable.synced_from + durable.history.len() as u64 {
                return Err(format!(
                    "validator {validator}: tip {} but {} heights recorded",
                    tip.state.height,
                    durable.history.len()
                ));
            }
        }
    }
    let (height, root, last_ms) = by_height
        .iter()
        .next_back()
        .map(|(i, (_, e))| (*i as u64 + 1, e.state_root, e.finalized_at_ms))
        .ok_or("nothing was finalized")?;
    let txs = map.values().map(|d| d.txs).max().unwrap_or(0);
    let last_ms = map
        .values()
        .filter_map(|d| d.history.last().map(|e| e.finalized_at_ms))
        .max()
        .unwrap_or(last_ms);
    Ok((height, root, txs, last_ms))
}

/// Blocks per epoch in the join/leave scenario.
const JOIN_LEAVE_EPOCH: u64 = 20;

/// The epoch length the epoch-change scenario votes for.
const CHANGED_EPOCH: u64 = 12;

/// Every node's state has applied the vote and scheduled epochs of `CHANGED_EPOCH` blocks from
/// epoch 2 (height 40); every member of the latest committee got a share at each new boundary
/// (the handovers at the ends of epochs 2 and 3, heights 51 and 63) and signed the beacon in
/// epochs 3 and 4 with it.
fn check_epoch_change(
    map: &BTreeMap<usize, Durable>,
    keys: &[plexus_types::PublicKey],
) -> Result<(), String> {
    use plexus_state::ledger::EpochSegment;
    let expected = [
        EpochSegment {
            first_epoch: 0,
            first_height: 0,
            length: JOIN_LEAVE_EPOCH,
        },
        EpochSegment {
            first_epoch: 2,
            first_height: 2 * JOIN_LEAVE_EPOCH,
            length: CHANGED_EPOCH,
        },
    ];
    for (node, record) in map {
        let state = &record.tip.as_ref().ok_or("no tip")?.state;
        if state.epochs().segments() != expected {
            return Err(format!(
                "node {node}: epochs {:?}, not {expected:?}",
                state.epochs().segments()
            ));
        }
        if state.params.epoch_length_blocks != CHANGED_EPOCH {
            return Err(format!(
                "node {node}: the vote did not change the parameter"
            ));
        }
    }
    let mut problems = Vec::new();
    for (index, record) in committee_records(map, keys, 4)? {
        for epoch in [3, 4] {
            if !record.shares.iter().any(|(e, _)| *e == epoch) {
                problems.push(format!(
                    "node {index} got no share at epoch {epoch}'s start"
                ));
            }
            if !record.signing_epochs.contains(&epoch) {
                problems.push(format!("node {index} never signed in epoch {epoch}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The joiner (the full node, last key) proposes blocks from epoch 2 on and holds a share of the
/// beacon key; the leaver (the last validator) proposes none there; every node's state names the
/// new committee for epoch 2 and the same group key as at genesis.
fn check_join_leave(
    map: &BTreeMap<usize, Durable>,
    keys: &[plexus_types::PublicKey],
) -> Result<(), String> {
    let joiner = keys.last().ok_or("no joiner")?;
    let leaver = &keys[keys.len() - 2];
    let from = 2 * JOIN_LEAVE_EPOCH;
    let genesis_key = *dev_beacon(keys.len() - 1).output.public().public();
    for (node, record) in map {
        let state = &record.tip.as_ref().ok_or("no tip")?.state;
        let committee = state
            .epoch_committees
            .get(&2)
            .ok_or_else(|| format!("node {node} knows no committee for epoch 2"))?;
        let members: Vec<_> = committee.iter().map(|a| &a.0).collect();
        if !members.contains(&joiner) || members.contains(&leaver) {
            return Err(format!(
                "node {node}: epoch 2's committee does not swap the leaver for the joiner"
            ));
        }
        if *state.beacon_sharing().public() != genesis_key {
            return Err(format!("node {node}: the group key changed"));
        }
        let after: Vec<_> = record
            .history
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u64 + 1 >= from)
            .map(|(_, e)| &e.proposer)
            .collect();
        if after.contains(&leaver) {
            return Err(format!("node {node}: the leaver proposed after it left"));
        }
        if !after.contains(&joiner) {
            return Err(format!("node {node}: the joiner never proposed"));
        }
    }
    let joiner_index = keys.len() - 1;
    if map
        .get(&joiner_index)
        .is_none_or(|record| record.shares.is_empty())
    {
        return Err("the joiner got no share of the beacon key".into());
    }
    Ok(())
}

/// After a dealer and a player crashed during epoch 1's reshare: every epoch-1 dealer's log was
/// recorded, and every member of epoch 2's committee got its share at the handover and held a
/// valid share to sign the beacon with at every height of epoch 2 it finalized.
fn check_reshare_survived(
    map: &BTreeMap<usize, Durable>,
    keys: &[plexus_types::PublicKey],
) -> Result<(), String> {
    let observer = map.get(&0).ok_or("no validator 0")?;
    let mut problems = Vec::new();
    let dealers = &keys[..keys.len() - 1];
    for (i, dealer) in dealers.iter().enumerate() {
        let address = plexus_types::Address(dealer.clone());
        if !observer.dealer_logs.contains(&(1, address)) {
            problems.push(format!("dealer {i}'s log for epoch 1 was never recorded"));
        }
    }
    for (index, record) in committee_records(map, keys, 2)? {
        if !record.shares.iter().any(|(epoch, _)| *epoch == 2) {
            problems.push(format!("node {index} got no share at epoch 2's handover"));
        }
        if !record.signing_epochs.contains(&2) {
            problems.push(format!(
                "node {index} never held a share to sign epoch 2 with"
            ));
        }
        if let Some(height) = record.unsigned.iter().find(|h| **h >= 2 * JOIN_LEAVE_EPOCH) {
            problems.push(format!(
                "node {index} held no valid beacon share after height {height}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The members of `epoch`'s committee, as validator 0's last state names them, each with its
/// index and durable record.
fn committee_records<'a>(
    map: &'a BTreeMap<usize, Durable>,
    keys: &[plexus_types::PublicKey],
    epoch: u64,
) -> Result<Vec<(usize, &'a Durable)>, String> {
    let observer = map.get(&0).ok_or("no validator 0")?;
    let tip = &observer.tip.as_ref().ok_or("no tip")?.state;
    let committee = tip
        .epoch_committees
        .get(&epoch)
        .ok_or_else(|| format!("no committee for epoch {epoch}"))?;
    committee
        .iter()
        .map(|member| {
            let index = keys
                .iter()
                .position(|k| *k == member.0)
                .ok_or("an unknown committee member")?;
            let record = map
                .get(&index)
                .ok_or_else(|| format!("node {index} kept no record"))?;
            Ok((index, record))
        })
        .collect()
}

/// With everyone online, every validator's signatures are recorded in the chain's participation
/// counts, and nearly every finalized height was recorded (the last few may be pending).
fn check_participation(
    map: &BTreeMap<usize, Durable>,
    keys: &[plexus_types::PublicKey],
) -> Result<(), String> {
    for (validator, record) in map {
        let state = &record.tip.as_ref().ok_or("no tip")?.state;
        for key in keys {
            let count: u64 = state
                .participation
                .iter()
                .filter(|((_, who), _)| who.0 == *key)
                .map(|(_, count)| *count)
                .sum();
            if count == 0 {
                return Err(format!(
                    "validator {validator}: no participation recorded for a committee member"
                ));
            }
        }
        let recorded = state.recent_blocks.values().filter(|(_, r)| *r).count() as u64;
        if recorded + 5 < state.height.min(plexus_state::PARTICIPATION_WINDOW) {
            return Err(format!(
                "validator {validator}: only {recorded} of {} heights have participation recorded",
                state.height
            ));
        }
    }
    Ok(())
}

/// In a 2|2 split of four validators neither side has a quorum: once messages in flight at the
/// split have landed, nobody may finalize until the network heals.
fn check_partition_stalled(map: &BTreeMap<usize, Durable>) -> Result<(), String> {
    let quiet_from = (PARTITION_AT + Duration::from_secs(2)).as_millis() as u64;
    let heal = HEAL_AT.as_millis() as u64;
    for (validator, durable) in map {
        if let Some(entry) = durable
            .history
            .iter()
            .position(|e| (quiet_from..heal).contains(&e.finalized_at_ms))
        {
            return Err(format!(
                "validator {validator} finalized height {} at {} ms, during the partition",
                entry + 1,
                durable.history[entry].finalized_at_ms
            ));
        }
    }
    let after = map
        .values()
        .flat_map(|d| d.history.iter())
        .filter(|e| e.finalized_at_ms >= heal)
        .count();
    if after == 0 {
        return Err("nothing finalized after the partition healed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(hash: u8, root: u8, at: u64) -> FinalizedEntry {
        use commonware_cryptography::Signer;
        FinalizedEntry {
            block_hash: Digest::from([hash; 32]),
            state_root: Digest::from([root; 32]),
            proposer: crate::network::validator_key(0).public_key(),
            finalized_at_ms: at,
        }
    }

    fn durable(entries: Vec<FinalizedEntry>) -> Durable {
        Durable {
            history: entries,
            txs: 1,
            ..Durable::default()
        }
    }

    #[test]
    fn validators_that_disagree_fail_safety() {
        let mut map = BTreeMap::new();
        map.insert(0, durable(vec![entry(1, 1, 10), entry(2, 2, 20)]));
        map.insert(1, durable(vec![entry(1, 1, 10)]));
        assert_eq!(check_safety(&map).unwrap().0, 2);
        // Same block, different state root.
        map.insert(2, durable(vec![entry(1, 9, 10)]));
        let err = check_safety(&map).unwrap_err();
        assert!(err.contains("disagree at height 1"), "{err}");
    }

    #[test]
    fn a_finalization_inside_the_partition_fails() {
        let heal = HEAL_AT.as_millis() as u64;
        let mut map = BTreeMap::new();
        map.insert(0, durable(vec![entry(1, 1, 100), entry(2, 2, heal + 1)]));
        check_partition_stalled(&map).unwrap();
        map.insert(1, durable(vec![entry(1, 1, 100), entry(2, 2, heal - 1)]));
        assert!(check_partition_stalled(&map).is_err());
    }
}
