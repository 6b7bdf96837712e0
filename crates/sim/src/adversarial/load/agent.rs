//! A simulated verifier of the verifier-load case: its machine (re-runs that advance at its true
//! speed, crashes and restarts) and its agent, which decides each drawn audit by the real agent's
//! rule (`plexus_provider::agent::step`) and seals, reveals or declines.

use super::config::{LoadKind, LoadVerifier, RESTART_BLOCKS_MAX, address};
use plexus_provider::agent::{Drawn, Load, Step, step};
use plexus_state::State;
use plexus_state::dispute::{AuditKind, AuditStage};
use plexus_types::audit::{Verdict, audit_seal};
use plexus_types::{Address, Digest, Payload, hash};
use rand::RngExt as _;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// A simulated verifier's machine and agent.
pub(super) struct Agent {
    pub(super) spec: LoadVerifier,
    pub(super) key: u64,
    /// Re-runs in flight: audit id -> fuel left.
    pub(super) running: BTreeMap<Digest, u64>,
    /// Finished re-runs (kept on disk), not yet revealed.
    pub(super) sealed: BTreeSet<Digest>,
    /// Declines sent (kept on disk).
    pub(super) declined: BTreeSet<Digest>,
    /// Steps sent since the last restart (in memory): seals and reveals.
    pub(super) sent: BTreeSet<(Digest, bool)>,
    pub(super) down_until: Option<u64>,
    pub(super) restarts: u64,
    pub(super) restarts_mid_audit: u64,
    pub(super) open_max: u32,
    pub(super) drawn_at_once_max: u32,
}

impl Agent {
    /// What this agent sends this block, from the chain's view after the last block.
    pub(super) fn steps(
        &mut self,
        state: &State,
        height: u64,
        audit_block_ms: u64,
    ) -> Vec<Payload> {
        if self.down_until.is_some() {
            return Vec::new();
        }
        let me = address(self.key);
        let mine: Vec<(Digest, AuditStage, u64, u64)> = state
            .audits
            .iter()
            .filter(|(_, audit)| audit.verifier == me && audit.is_open())
            .map(|(id, audit)| {
                let fuel = rerun_fuel(state, id, &audit.kind);
                (*id, audit.stage.clone(), audit.due_height, fuel)
            })
            .collect();
        let mut payloads = Vec::new();
        let agent = self;
        for (id, stage, due_height, fuel) in mine {
            match stage {
                AuditStage::Sealed { .. } => {
                    if agent.sent.insert((id, true)) {
                        let (verdict, salt) = verdict(state, &id, &me);
                        payloads.push(Payload::AuditReveal {
                            job: id,
                            verdict,
                            salt,
                        });
                    }
                }
                _ if agent.declined.contains(&id) => {}
                _ if agent.sealed.contains(&id) => {
                    if agent.sent.insert((id, false)) {
                        let (verdict, salt) = verdict(state, &id, &me);
                        let seal = audit_seal(&id, &me, &verdict, &salt);
                        payloads.push(Payload::AuditCommit { job: id, seal });
                    }
                }
                _ => {
                    let running = agent.running.contains_key(&id);
                    let next = match agent.spec.kind {
                        LoadKind::Sequential if running => Step::Wait,
                        LoadKind::Sequential if agent.running.is_empty() => Step::Start,
                        LoadKind::Sequential => Step::Wait,
                        _ => {
                            let drawn = Drawn {
                                fuel,
                                height,
                                due_height,
                                running,
                            };
                            let load = Load {
                                fuel_per_second: agent.spec.declared_fuel_per_second,
                                cores: agent.spec.cores,
                                threads_busy: agent.running.len(),
                                free_slot: agent.running.len() < agent.spec.capacity as usize,
                                block_ms: audit_block_ms,
                            };
                            step(&drawn, &load)
                        }
                    };
                    match next {
                        Step::Wait => {}
                        Step::Start => {
                            agent.running.insert(id, fuel);
                        }
                        Step::Decline => {
                            agent.running.remove(&id);
                            agent.declined.insert(id);
                            payloads.push(Payload::AuditDecline { job: id });
                        }
                    }
                }
            }
        }
        payloads
    }

    /// One block's time on this agent's machine: its re-runs advance, and it may crash or come
    /// back.
    pub(super) fn advance(&mut self, rng: &mut ChaCha8Rng, height: u64, block_ms: u64) {
        let agent = self;
        if let Some(until) = agent.down_until {
            if height >= until {
                agent.down_until = None;
            }
            return;
        }
        if agent.spec.crash_ppm > 0
            && rng.random_range(0..plexus_state::audit::PPM) < agent.spec.crash_ppm
        {
            agent.restarts += 1;
            if !agent.running.is_empty() {
                agent.restarts_mid_audit += 1;
            }
            agent.running.clear();
            agent.sent.clear();
            agent.down_until = Some(height + rng.random_range(1..=RESTART_BLOCKS_MAX));
            return;
        }
        let cores = u64::from(agent.spec.cores);
        let threads = (agent.running.len() as u64).max(cores);
        let done_per_block =
            u128::from(agent.spec.fuel_per_second) * u128::from(block_ms) * u128::from(cores)
                / (1_000 * u128::from(threads));
        let done_per_block = u64::try_from(done_per_block).unwrap_or(u64::MAX);
        let finished: Vec<Digest> = agent
            .running
            .iter_mut()
            .filter_map(|(id, left)| {
                *left = left.saturating_sub(done_per_block);
                (*left == 0).then_some(*id)
            })
            .collect();
        for id in finished {
            agent.running.remove(&id);
            agent.sealed.insert(id);
        }
    }
}

/// The fuel a verifier re-runs for audit `id` of `kind`: the job's committed fuel (full) or its
/// drawn segments (light).
pub(super) fn rerun_fuel(state: &State, id: &Digest, kind: &AuditKind) -> u64 {
    let job = state
        .audits
        .get(id)
        .and_then(|audit| audit.canary.as_ref())
        .map_or(*id, |canary| canary.of);
    let total = state
        .jobs
        .get(&job)
        .and_then(|job| job.status.commitment())
        .map_or(0, |c| c.total_fuel);
    match kind {
        AuditKind::Full => total,
        AuditKind::Light { segments } => state
            .params
            .audit
            .seg_fuel
            .saturating_mul(segments.len() as u64)
            .min(total),
    }
}

/// An honest verifier's verdict on audit `id` (a canary's job re-runs to the real commitment,
/// which differs from the canary's claim) and its salt.
pub(super) fn verdict(state: &State, id: &Digest, verifier: &Address) -> (Verdict, Digest) {
    let salt = hash(&[b"sim/salt", id.as_ref(), verifier.0.as_ref()]);
    let Some(audit) = state.audits.get(id) else {
        return (Verdict::Light { disputed: None }, salt);
    };
    let job = audit.canary.as_ref().map_or(*id, |canary| canary.of);
    let commitment = state
        .jobs
        .get(&job)
        .and_then(|job| job.status.commitment())
        .cloned();
    let verdict = match (&audit.kind, commitment) {
        (AuditKind::Full, Some(commitment)) => Verdict::Full(commitment),
        _ => Verdict::Light { disputed: None },
    };
    (verdict, salt)
}
