//! The conservation property test: random offers, deals of real coded segments, accepts (of
//! repairs too), proofs (honest, wrong, malformed, of the wrong epoch), declared faults,
//! extensions and ends over several epochs, with the misses, burns, losses and repairs they
//! cause. Proptest prints the failing case (and keeps its seed in `proptest-regressions/`).

use super::*;
use proptest::prelude::*;
use std::sync::OnceLock;

/// Segments coded once for every case, of a few lengths: what a deal names and its shards.
fn library() -> &'static [(DealSegment, Encoded)] {
    static CODED: OnceLock<Vec<(DealSegment, Encoded)>> = OnceLock::new();
    CODED.get_or_init(|| {
        [3_000usize, 11_000, 40_000, 150_000]
            .iter()
            .enumerate()
            .map(|(i, len)| coded(i as u8, *len))
            .collect()
    })
}

/// How a proof is sent.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Honest,
    /// A byte of the chunk flipped: a wrong proof, which slashes.
    Wrong,
    /// The chunk cut short: malformed, refused.
    Malformed,
    /// For the next epoch: no such challenge.
    LaterEpoch,
}

/// One random storage transaction, as an index into the chain's keys, deals and shards.
#[derive(Clone, Debug)]
enum Op {
    Offer {
        from: u64,
        capacity_mib: u64,
        price: u64,
    },
    Post {
        from: u64,
        segments: Vec<usize>,
        cap: u64,
        epochs: u64,
    },
    Accept {
        deal: usize,
        pick: usize,
    },
    Prove {
        deal: usize,
        pick: usize,
        answer: Answer,
    },
    Fault {
        deal: usize,
        pick: usize,
    },
    Extend {
        deal: usize,
        epochs: u64,
    },
    End {
        deal: usize,
    },
    Idle,
}

fn arb_answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        6 => Just(Answer::Honest),
        1 => Just(Answer::Wrong),
        1 => Just(Answer::Malformed),
        1 => Just(Answer::LaterEpoch),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (1..=7u64, 0..4u64, 0..8u64).prop_map(|(from, capacity_mib, price)| Op::Offer {
            from,
            capacity_mib,
            price
        }),
        1 => (
            1..=9u64,
            prop::collection::vec(0..4usize, 1..4),
            0..10u64,
            1..6u64
        )
            .prop_map(|(from, segments, cap, epochs)| Op::Post {
                from,
                segments,
                cap: cap * PLX as u64,
                epochs
            }),
        4 => (0..8usize, 0..64usize).prop_map(|(deal, pick)| Op::Accept { deal, pick }),
        8 => (0..8usize, 0..64usize, arb_answer())
            .prop_map(|(deal, pick, answer)| Op::Prove { deal, pick, answer }),
        1 => (0..8usize, 0..64usize).prop_map(|(deal, pick)| Op::Fault { deal, pick }),
        1 => (0..8usize, 0..3u64).prop_map(|(deal, epochs)| Op::Extend { deal, epochs }),
        1 => (0..8usize).prop_map(|deal| Op::End { deal }),
        1 => Just(Op::Idle),
    ]
}

/// The shards of deal `id` in `state` that `keep` selects: (segment, slot, shard).
fn shards_where(
    state: &State,
    id: Digest,
    keep: impl Fn(&plexus_state::storage::Shard) -> bool,
) -> Vec<(u32, u16, plexus_state::storage::Shard)> {
    let Some(deal) = state.deals.get(&id) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (s, segment) in deal.segments.iter().enumerate() {
        for (i, shard) in segment.shards.iter().enumerate() {
            if keep(shard) {
                out.push((s as u32, i as u16, shard.clone()));
            }
        }
    }
    out
}

/// A posted deal: its id, its owner and the library segments it names.
type Posted = (Digest, u64, Vec<usize>);

/// The proof `answer` makes of the open challenge of shard `slot` of `segment`.
fn answer_of(
    shard: &plexus_state::storage::Shard,
    encoded: &Encoded,
    slot: u16,
    answer: Answer,
) -> Option<(u64, plexus_types::storage::ChunkProof)> {
    let challenge = shard.challenge?;
    let mut proof = prove(&encoded.shards[usize::from(slot)], challenge.chunk).ok()?;
    let mut epoch = challenge.epoch;
    match answer {
        Answer::Honest => {}
        Answer::Wrong => proof.chunk[0] ^= 1,
        Answer::Malformed => {
            proof.chunk.pop();
            if proof.chunk.is_empty() {
                proof.path.push([0; 32]);
                proof.chunk.push(0);
            }
        }
        Answer::LaterEpoch => epoch += 1,
    }
    Some((epoch, proof))
}

/// The transaction `op` stands for in `chain` (deals named by their order of posting).
fn op_tx(chain: &mut Chain, deals: &mut Vec<Posted>, op: Op) -> Option<SignedTransaction> {
    let deal = |deals: &Vec<Posted>, i: usize| deals.get(i % deals.len().max(1)).cloned();
    let pick = |n: usize, i: usize| (n > 0).then(|| i % n);
    Some(match op {
        Op::Offer {
            from,
            capacity_mib,
            price,
        } => chain.tx(from, offer(capacity_mib << 20, u128::from(price) * PLX / 4)),
        Op::Post {
            from,
            segments,
            cap,
            epochs,
        } => {
            let named = segments.iter().map(|i| library()[*i].0.clone()).collect();
            let tx = chain.tx(from, post(named, u128::from(cap), epochs));
            deals.push((tx.hash(), from, segments));
            tx
        }
        Op::Accept { deal: i, pick: p } => {
            let (id, _, _) = deal(deals, i)?;
            let waiting = shards_where(&chain.state, id, |s| {
                matches!(
                    s.state,
                    ShardState::Drawn { .. } | ShardState::Repairing { .. }
                )
            });
            let (segment, slot, shard) = waiting.get(pick(waiting.len(), p)?)?.clone();
            chain.tx(key_of(&shard.holder), accept(id, segment, slot))
        }
        Op::Prove {
            deal: i,
            pick: p,
            answer,
        } => {
            let (id, _, named) = deal(deals, i)?;
            let open = shards_where(&chain.state, id, |s| s.open_challenge().is_some());
            let (segment, slot, shard) = open.get(pick(open.len(), p)?)?.clone();
            let encoded = &library()[named[segment as usize]].1;
            let (epoch, proof) = answer_of(&shard, encoded, slot, answer)?;
            let payload = Payload::StorageProof {
                deal: id,
                segment,
                shard: slot,
                epoch,
                proof,
            };
            chain.tx(key_of(&shard.holder), payload)
        }
        Op::Fault { deal: i, pick: p } => {
            let (id, _, _) = deal(deals, i)?;
            let active = shards_where(&chain.state, id, |s| {
                matches!(s.state, ShardState::Active { .. })
            });
            let (segment, slot, shard) = active.get(pick(active.len(), p)?)?.clone();
            let payload = Payload::FaultDeclare {
                deal: id,
                segment,
                shard: slot,
            };
            chain.tx(key_of(&shard.holder), payload)
        }
        Op::Extend { deal: i, epochs } => {
            let (id, owner, _) = deal(deals, i)?;
            chain.tx(owner, Payload::DealExtend { deal: id, epochs })
        }
        Op::End { deal: i } => {
            let (id, owner, _) = deal(deals, i)?;
            chain.tx(owner, Payload::DealEnd { deal: id })
        }
        Op::Idle => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Random storage traffic over several epochs: every block keeps `recount == total ==
    /// minted - burned` (checked by `Chain::block`, with the storage index, the offers' bytes
    /// and the collateral locks), escrows never pay out more than they took, a segment's
    /// holders stay distinct, a shard's collateral never grows past what it locked, and a
    /// replica applying the same blocks reaches the same state and root.
    #[test]
    fn storage_traffic_conserves_the_supply(
        blocks in prop::collection::vec(prop::collection::vec(arb_op(), 0..8), 1..60)
    ) {
        let mut chain = Chain::new();
        chain.providers(1..=7, PLX / 2);
        let mut replica = chain.state.clone();
        let mut deals = Vec::new();
        for ops in blocks {
            let txs: Vec<_> = ops
                .into_iter()
                .filter_map(|op| op_tx(&mut chain, &mut deals, op))
                .collect();
            let statuses = chain.block(txs.clone());
            // Rejected transactions left their nonces unused.
            for (tx, status) in txs.iter().zip(&statuses) {
                if matches!(status, Status::Rejected(_)) {
                    chain.nonces[key_of(&tx.tx.sender) as usize] -= 1;
                }
            }
            common::run(&mut replica, txs);
            prop_assert_eq!(replica.root(), chain.state.root());
            for deal in chain.state.deals.values() {
                for segment in &deal.segments {
                    let holders: BTreeSet<_> = segment.shards.iter().map(|s| &s.holder).collect();
                    prop_assert_eq!(holders.len(), segment.shards.len());
                    for shard in &segment.shards {
                        if matches!(shard.state, ShardState::Lost { .. }) {
                            prop_assert_eq!(shard.collateral, 0);
                        }
                    }
                }
            }
            for provider in chain.state.providers.values() {
                prop_assert!(provider.bond_locked <= provider.bond);
            }
        }
        prop_assert_eq!(&replica, &chain.state);
    }
}
