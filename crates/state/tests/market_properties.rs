//! Property tests of the market's conservation rules over arbitrary sequences of provider, job,
//! bank and staking transactions: after every block the ledger (balances, stake, provider bonds
//! and held escrows) sums to the recorded supply, the supply moves only by burns
//! (`total + burned == minted`), provider locks agree with their jobs, replay gives the same
//! root, and the state survives a snapshot round trip.

use commonware_codec::{DecodeExt, Encode};
use commonware_cryptography::Signer;
use plexus_state::{Genesis, GenesisValidator, Params, State, apply_block, build_block};
use plexus_types::ContentHash;
use plexus_types::job::{AuditClass, ResourceProfile};
use plexus_types::limits::JOB_FUEL_MAX;
use plexus_types::{
    Address, Amount, Digest, PLX, Payload, PrivateKey, SignedTransaction, Transaction, hash,
};
use proptest::prelude::*;

const CHAIN: u64 = 9;
const KEYS: u64 = 6;

fn key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(i)
}

fn address(i: u64) -> Address {
    Address(key(i).public_key())
}

fn dev_beacon() -> plexus_state::beacon::DevBeacon {
    plexus_state::beacon::DevBeacon::deal(0, [key(0).public_key()])
}

fn genesis() -> State {
    Genesis {
        chain_id: CHAIN,
        timestamp_ms: 0,
        params: Params {
            fee_min: 1,
            self_bond_min: 10 * PLX,
            epoch_length_blocks: 4,
            provider_bond_min: 10 * PLX,
            provider_unbonding_blocks: 2,
            heartbeat_interval_blocks: 1,
            heartbeat_missed_max: 3,
            settlement_window_blocks: 1,
            job_deadline_max_blocks: 5,
            job_deadline_min_blocks: 1,
            job_retention_blocks: 2,
            bond_lock_multiple: 3,
            deadline_slash_bps: 5_000,
            ..Params::default()
        },
        allocations: (0..KEYS).map(|i| (address(i), 1_000 * PLX)).collect(),
        validators: vec![GenesisValidator {
            address: address(0),
            self_bond: 100 * PLX,
        }],
        beacon: dev_beacon().output,
    }
    .build()
    .unwrap()
    .0
}

/// (sender, kind, amount, fuel, deadline, pick): `pick` chooses a target account or a known job.
type TxSpec = (u64, u8, Amount, u64, u64, usize);

fn arb_amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        1 => Just(0u128),
        2 => 1u128..(3 * PLX),
        5 => (10 * PLX)..(400 * PLX),
        1 => Just(u128::MAX),
    ]
}

fn arb_tx() -> impl Strategy<Value = TxSpec> {
    (
        0..KEYS,
        0u8..14,
        arb_amount(),
        prop_oneof![
            8 => 0u64..3_000_000,
            1 => Just(JOB_FUEL_MAX),
            1 => Just(JOB_FUEL_MAX + 1)
        ],
        0u64..8,
        any::<usize>(),
    )
}

fn offer(kind: u8, amount: Amount, fuel: u64) -> Payload {
    let endpoint = if fuel.is_multiple_of(7) {
        "gopher://x".to_string()
    } else {
        "http://p".to_string()
    };
    let profile = ResourceProfile {
        cores: (fuel % 3) as u32,
        ..ResourceProfile::default()
    };
    // Asks are small so that jobs match; the amount is the bond.
    let ask = amount % (2 * PLX);
    if kind <= 2 {
        Payload::ProviderRegister {
            endpoint,
            profile,
            fuel_per_second: fuel,
            ask_per_mfuel: ask,
            bond: amount,
        }
    } else {
        Payload::ProviderUpdate {
            endpoint,
            profile,
            fuel_per_second: fuel,
            ask_per_mfuel: ask,
            bond_add: amount / 4,
        }
    }
}

/// Turns specs into one block's transactions; jobs posted so far are in `jobs`.
fn block_txs(state: &State, specs: Vec<TxSpec>, jobs: &mut Vec<Digest>) -> Vec<SignedTransaction> {
    let mut nonces: Vec<u64> = (0..KEYS)
        .map(|i| state.account(&address(i)).nonce)
        .collect();
    let mut txs = Vec::new();
    for (mut from, kind, amount, fuel, deadline, pick) in specs {
        let known_job = if jobs.is_empty() {
            hash(&[b"no such job"])
        } else {
            jobs[pick % jobs.len()]
        };
        let payload = match kind {
            0 => Payload::Transfer {
                to: address(pick as u64 % KEYS),
                amount,
            },
            1..=3 => offer(kind, amount, fuel),
            4 => Payload::ProviderHeartbeat,
            5 => Payload::ProviderDeregister,
            6..=8 => Payload::JobPost {
                module: ContentHash::of_parts(&[b"m"]),
                blobs: vec![ContentHash::of_parts(&[b"b"]); pick % 3],
                input: ContentHash::of_parts(&[b"i"]),
                max_fuel: fuel,
                price_cap_per_mfuel: amount % (3 * PLX),
                audit: AuditClass::Standard,
                deadline_blocks: deadline,
            },
            9..=11 => {
                // Mostly an assigned job from its provider within its fuel, so that
                // commitments land; otherwise any known job from anyone.
                let assigned: Vec<_> = state
                    .jobs
                    .iter()
                    .filter(|(_, job)| job.status.name() == "assigned")
                    .collect();
                let mut target = known_job;
                let mut total_fuel = fuel;
                if !assigned.is_empty() && !pick.is_multiple_of(5) {
                    let (id, job) = assigned[pick % assigned.len()];
                    let provider = job.status.assignment().map(|a| a.provider.clone());
                    from = (0..KEYS)
                        .find(|i| Some(address(*i)) == provider)
                        .unwrap_or(from);
                    target = *id;
                    total_fuel = fuel.min(job.max_fuel);
                }
                Payload::JobCommit {
                    job: target,
                    output_hash: ContentHash::of_parts(&[b"o"]),
                    total_fuel,
                    segments: 1,
                    trace_root: ContentHash::of_parts(&[b"t"]),
                    failed: pick.is_multiple_of(2),
                }
            }
            12 => Payload::JobCancel { job: known_job },
            _ => Payload::Bond { amount },
        };
        let nonce = nonces[from as usize];
        nonces[from as usize] += 1;
        let tx = Transaction {
            chain_id: CHAIN,
            sender: address(from),
            nonce,
            fee: 1 + (pick as u128 % 3),
            payload,
        }
        .sign(&key(from));
        if matches!(tx.tx.payload, Payload::JobPost { .. }) {
            jobs.push(tx.hash());
        }
        txs.push(tx);
    }
    txs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn escrow_and_bonds_are_conserved(
        blocks in prop::collection::vec(prop::collection::vec(arb_tx(), 0..10), 1..20)
    ) {
        let mut state = genesis();
        let mut replica = genesis();
        let mut jobs = Vec::new();
        for specs in blocks {
            let txs = block_txs(&state, specs, &mut jobs);
            let block = build_block(
                &state,
                txs,
                state.timestamp_ms + 1,
                key(0).public_key(),
                dev_beacon().block_signature(state.height + 1),
            )
            .unwrap()
            .block;
            apply_block(&mut state, &block).unwrap();
            prop_assert_eq!(state.recount(), Ok(state.supply.total()));
            prop_assert_eq!(state.supply.total() + state.supply.burned(), state.supply.minted());
            for provider in state.providers.values() {
                prop_assert!(provider.bond_locked <= provider.bond);
                prop_assert!(provider.reputation <= plexus_state::REPUTATION_MAX);
            }
            for job in state.jobs.values() {
                if let plexus_state::JobStatus::Settled {
                    paid, refunded, burned, audit_fee, ..
                } = job.status
                {
                    prop_assert_eq!(paid + refunded, job.escrow);
                    prop_assert!(burned + audit_fee <= paid);
                }
            }
            apply_block(&mut replica, &block).unwrap();
            prop_assert_eq!(replica.root(), state.root());
        }
        prop_assert_eq!(&replica, &state);
        let decoded = State::decode(state.encode()).unwrap();
        prop_assert_eq!(&decoded, &state);
    }
}
