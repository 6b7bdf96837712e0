//! Arbitrary transaction sequences through `apply_block`: never a panic, and the supply rule
//! holds after every block. Each 16-byte chunk of input describes one transaction.
#![no_main]

use commonware_cryptography::Signer;
use libfuzzer_sys::fuzz_target;
use plexus_state::{
    Genesis, GenesisValidator, Params, State, apply_block, beacon::DevBeacon, build_block,
};
use plexus_types::{Address, PLX, Payload, PrivateKey, SignedTransaction, Transaction};
use std::sync::OnceLock;

const KEYS: u64 = 6;

fn keys() -> &'static [PrivateKey] {
    static KEYS_CELL: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS_CELL.get_or_init(|| (0..KEYS).map(PrivateKey::from_seed).collect())
}

fn beacon() -> &'static DevBeacon {
    static BEACON: std::sync::OnceLock<DevBeacon> = std::sync::OnceLock::new();
    BEACON.get_or_init(|| DevBeacon::deal(0, [keys()[0].public_key()]))
}

fn genesis() -> State {
    let address = |i: usize| Address(keys()[i].public_key());
    Genesis {
        chain_id: 1,
        timestamp_ms: 0,
        params: Params {
            self_bond_min: 10 * PLX,
            unbonding_period_blocks: 2,
            epoch_length_blocks: 3,
            committee_size_max: 3,
            fee_min: 1,
            ..Params::default()
        },
        allocations: (0..KEYS as usize - 1).map(|i| (address(i), 1_000 * PLX)).collect(),
        validators: vec![GenesisValidator { address: address(0), self_bond: 100 * PLX }],
        beacon: beacon().output.clone(),
    }
    .build()
    .expect("the fuzz genesis is valid")
    .0
}

fn tx(chunk: &[u8]) -> SignedTransaction {
    let from = chunk[0] as usize % KEYS as usize;
    let target = Address(keys()[chunk[1] as usize % KEYS as usize].public_key());
    let amount = match chunk[2] % 4 {
        0 => 0,
        1 => u128::MAX,
        _ => u64::from_le_bytes(chunk[8..16].try_into().unwrap()) as u128,
    };
    let payload = match chunk[3] % 7 {
        0 => Payload::Transfer { to: target, amount },
        1 => Payload::Bond { amount },
        2 => Payload::Unbond { amount },
        3 => Payload::Delegate { validator: target, amount },
        4 => Payload::Undelegate { validator: target, amount },
        // Fuzzed bytes as evidence and as a finalization certificate.
        5 => Payload::Evidence { evidence: chunk[6..16].to_vec() },
        _ => Payload::Participation { height: chunk[6] as u64, finalization: chunk[7..16].to_vec() },
    };
    let fee = [0, 1, 1_000, u128::MAX][chunk[4] as usize % 4];
    let nonce = chunk[5] as u64 % 8;
    let key = &keys()[from];
    Transaction { chain_id: 1, sender: Address(key.public_key()), nonce, fee, payload }.sign(key)
}

fuzz_target!(|data: &[u8]| {
    let mut state = genesis();
    for block_bytes in data.chunks(16 * 8) {
        let txs = block_bytes.chunks_exact(16).map(tx).collect();
        let proposer = keys()[0].public_key();
        let beacon = beacon().block_signature(state.height + 1);
        let built = build_block(&state, txs, state.timestamp_ms + 1, proposer, beacon)
            .expect("valid header");
        apply_block(&mut state, &built.block).expect("the built block applies");
        assert_eq!(state.root(), built.state.root(), "apply and build disagree");
        assert_eq!(state.recount(), Ok(state.supply.total()));
        assert_eq!(state.supply.minted() - state.supply.burned(), state.supply.total());
    }
});
