//! Property tests of the ledger invariants over arbitrary transaction sequences (transfers,
//! stake, evidence and governance: a proposal's deposit is held, returned or burned).

use commonware_cryptography::Signer;
use plexus_state::{
    Genesis, GenesisValidator, Params, State, apply_block, beacon::DevBeacon, build_block,
};
use plexus_types::{Address, Block, PLX, Payload, PrivateKey, SignedTransaction, Transaction};
use proptest::prelude::*;

const CHAIN: u64 = 1;
const KEYS: u64 = 6;

fn key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(i)
}

/// The genesis committee (key 0) holds every share of this beacon key.
fn dev_beacon() -> DevBeacon {
    DevBeacon::deal(0, [key(0).public_key()])
}

fn address(i: u64) -> Address {
    Address(key(i).public_key())
}

fn genesis() -> State {
    Genesis {
        chain_id: CHAIN,
        timestamp_ms: 0,
        params: Params {
            self_bond_min: 10 * PLX,
            unbonding_period_blocks: 2,
            epoch_length_blocks: 3,
            committee_size_max: 3,
            fee_min: 1,
            // Proposals end, pay back or burn their deposits and apply within a few blocks.
            gov_voting_period_blocks: 2,
            gov_effect_delay_blocks: 1,
            gov_deposit_min: PLX,
            // A proposal must leave every rule across parameters holding, this one included.
            storage: plexus_state::StorageParams {
                proof_window_blocks: 2,
                ..plexus_state::StorageParams::default()
            },
            ..Params::default()
        },
        allocations: (0..KEYS - 1).map(|i| (address(i), 1_000 * PLX)).collect(),
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

/// An arbitrary transaction: any sender, nonce near the right one, any fee and amount (including
/// zero and u128::MAX), any payload kind and target.
/// (sender, nonce skew, fee, payload kind, target, amount).
type TxSpec = (u64, u64, u128, u8, u64, u128);

fn arb_tx() -> impl Strategy<Value = TxSpec> {
    (
        0..KEYS,
        0u64..4,
        prop_oneof![Just(0u128), 1u128..2_000, Just(u128::MAX)],
        0u8..8,
        0..KEYS,
        prop_oneof![
            Just(0u128),
            1u128..(200 * PLX),
            Just(u128::MAX),
            Just(u128::MAX / 2)
        ],
    )
}

fn build_tx(state_nonces: &mut [u64], spec: TxSpec) -> SignedTransaction {
    let (from, nonce_skew, fee, kind, target, amount) = spec;
    let nonce = state_nonces[from as usize] + nonce_skew.saturating_sub(2);
    if nonce_skew <= 2 {
        state_nonces[from as usize] += 1;
    }
    let payload = match kind {
        0 => Payload::Transfer {
            to: address(target),
            amount,
        },
        1 => Payload::Bond { amount },
        2 => Payload::Unbond { amount },
        3 => Payload::Delegate {
            validator: address(target),
            amount,
        },
        4 => Payload::Undelegate {
            validator: address(target),
            amount,
        },
        // A proposal whose deposit is the amount (a change in or out of bounds), and a vote
        // (on a proposal that may not exist, with any option).
        5 => Payload::GovPropose {
            changes: vec![(
                ["audit.light_audit_ppm", "chain.fee_min", "audit.nothing"][target as usize % 3]
                    .into(),
                amount % 2_000_000,
            )],
            title: "p".into(),
            description: String::new(),
            deposit: amount,
        },
        6 => Payload::GovVote {
            proposal: target % 3,
            option: plexus_types::gov::VoteOption::ALL[(amount % 4) as usize],
        },
        // Bytes that are not evidence (real evidence is covered in tests/evidence.rs).
        _ => Payload::Evidence {
            evidence: amount.to_be_bytes()[..1 + (target as usize % 16)].to_vec(),
        },
    };
    Transaction {
        chain_id: CHAIN,
        sender: address(from),
        nonce,
        fee,
        payload,
    }
    .sign(&key(from))
}

fn next_block(state: &State, txs: Vec<SignedTransaction>) -> Block {
    build_block(
        state,
        txs,
        state.timestamp_ms + 250,
        key(0).public_key(),
        dev_beacon().block_signature(state.height + 1),
    )
    .unwrap()
    .block
}

fn blocks_strategy() -> impl Strategy<Value = Vec<Vec<TxSpec>>> {
    prop::collection::vec(prop::collection::vec(arb_tx(), 0..12), 1..10)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_and_replay_is_deterministic(specs in blocks_strategy()) {
        let mut state = genesis();
        let mut replica = genesis();
        let mut nonces = vec![0u64; KEYS as usize];
        let mut last_nonces: Vec<u64> = (0..KEYS).map(|i| state.account(&address(i)).nonce).collect();
        for block_specs in specs {
            let txs = block_specs.into_iter().map(|s| build_tx(&mut nonces, s)).collect();
            let block = next_block(&state, txs);
            let receipts = apply_block(&mut state, &block).unwrap();
            prop_assert_eq!(receipts.len(), block.txs.len());
            // Supply: the ledger sums to the recorded total, and the total moves only by named events.
            prop_assert_eq!(state.recount(), Ok(state.supply.total()));
            prop_assert_eq!(state.supply.minted() - state.supply.burned(), state.supply.total());
            let burned: u128 = receipts.iter().map(|r| r.fee_burned).sum();
            prop_assert!(burned <= state.supply.burned());
            // Nonces only increase, and by exactly the number of charged transactions.
            for i in 0..KEYS {
                let nonce = state.account(&address(i)).nonce;
                prop_assert!(nonce >= last_nonces[i as usize]);
                last_nonces[i as usize] = nonce;
            }
            // Same blocks, same root.
            apply_block(&mut replica, &block).unwrap();
            prop_assert_eq!(replica.root(), state.root());
        }
        prop_assert_eq!(&replica, &state);
    }
}
