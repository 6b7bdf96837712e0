//! The storage market through whole blocks: offers, deals with escrow and beacon-drawn distinct
//! holders, accepts, redraws of slots not accepted in time, per-epoch pay, extension and early
//! end, with exact balances; every refusal a receipt with its reason and nothing lost; and a
//! property test that random storage traffic conserves the supply and replays to one root.
//! `proofs.rs`: challenges, proofs, misses, faults, losses and repairs, with real segments coded
//! by `plexus_storage::coding` and proofs made by `plexus_storage::proof::prove`;
//! `properties.rs`: the conservation property test over random storage traffic.

#[path = "../common/mod.rs"]
mod common;
mod proofs;
mod properties;

use common::{address, run, tx};
use commonware_codec::{DecodeExt, Encode};
use commonware_parallel::Sequential;
use plexus_state::storage::{ChallengeOutcome, ShardState};
use plexus_state::{Params, State, StorageParams};
use plexus_storage::coding::{Encoded, Shape, encode};
use plexus_storage::proof::prove;
use plexus_types::deal::{DealSegment, PRICE_UNIT_BYTES};
use plexus_types::job::ResourceProfile;
use plexus_types::{Address, Amount, ContentHash, Digest, PLX, Payload, Reason, SignedTransaction};
use plexus_types::{Status, hash};
use std::collections::BTreeSet;

const CHAIN: u64 = 15;
const FEE: Amount = 1_000;
const START: Amount = 100_000 * PLX;
const BOND: Amount = 1_000 * PLX;
/// Blocks per epoch in these tests.
const EPOCH: u64 = 10;
/// Blocks a drawn holder has to accept.
const WINDOW: u64 = 6;
/// Blocks a holder has to answer a challenge: challenges open in an epoch's first
/// `EPOCH - PROOF_WINDOW` blocks.
const PROOF_WINDOW: u64 = 3;
/// The deal owner's key (providers are keys 1..=OWNER - 1).
const OWNER: u64 = 9;

fn params() -> Params {
    Params {
        epoch_length_blocks: EPOCH,
        provider_bond_min: 100 * PLX,
        storage: StorageParams {
            k: 2,
            n: 4,
            accept_window_blocks: WINDOW,
            proof_window_blocks: PROOF_WINDOW,
            // Exact balances: the storage share of the emission has a test of its own.
            emission_bps: 0,
            ..StorageParams::default()
        },
        ..Params::default()
    }
}

/// A chain with validator 0; keys 1..10 hold `START` each.
struct Chain {
    state: State,
    nonces: [u64; 10],
}

impl Chain {
    fn new() -> Self {
        Chain {
            state: common::genesis(CHAIN, params(), 1),
            nonces: [0; 10],
        }
    }

    fn tx(&mut self, from: u64, payload: Payload) -> SignedTransaction {
        let nonce = self.nonces[from as usize];
        self.nonces[from as usize] += 1;
        tx(CHAIN, from, nonce, payload)
    }

    /// Runs one block and checks the supply invariants after it.
    fn block(&mut self, txs: Vec<SignedTransaction>) -> Vec<Status> {
        let statuses = run(&mut self.state, txs);
        assert_eq!(self.state.recount(), Ok(self.state.supply.total()));
        assert_eq!(
            self.state.supply.minted() - self.state.supply.burned(),
            self.state.supply.total()
        );
        statuses
    }

    /// Runs one transaction in its own block; returns its id and status.
    fn one(&mut self, from: u64, payload: Payload) -> (Digest, Status) {
        let tx = self.tx(from, payload);
        let id = tx.hash();
        let status = self.block(vec![tx])[0];
        if matches!(status, Status::Rejected(_)) {
            self.nonces[from as usize] -= 1;
        }
        (id, status)
    }

    fn ok(&mut self, from: u64, payload: Payload) -> Digest {
        let (id, status) = self.one(from, payload);
        assert_eq!(status, Status::Success);
        id
    }

    fn balance(&self, i: u64) -> Amount {
        self.state.account(&address(i)).balance
    }

    /// Providers `keys` register with `BOND` and offer a TiB at `price`.
    fn providers(&mut self, keys: impl IntoIterator<Item = u64>, price: Amount) {
        let keys: Vec<u64> = keys.into_iter().collect();
        let mut txs: Vec<_> = keys.iter().map(|i| self.tx(*i, register())).collect();
        for i in &keys {
            let tx = self.tx(*i, offer(1 << 40, price));
            txs.push(tx);
        }
        assert!(self.block(txs).iter().all(|s| *s == Status::Success));
    }

    /// Blocks until the state's height is `height`.
    fn until(&mut self, height: u64) {
        while self.state.height < height {
            self.block(Vec::new());
        }
    }

    /// The proofs of every open challenge of deal `id` whose holder is not in `skip`, made
    /// from `coded` (the deal's segments as encoded).
    fn proofs(
        &mut self,
        id: Digest,
        coded: &[Encoded],
        skip: &[Address],
    ) -> Vec<SignedTransaction> {
        let Some(deal) = self.state.deals.get(&id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (s, segment) in deal.segments.iter().enumerate() {
            for (i, shard) in segment.shards.iter().enumerate() {
                let Some(challenge) = shard.challenge else {
                    continue;
                };
                let open = challenge.outcome == ChallengeOutcome::Open
                    && matches!(shard.state, ShardState::Active { .. });
                if !open || skip.contains(&shard.holder) {
                    continue;
                }
                let proof = prove(&coded[s].shards[i], challenge.chunk).unwrap();
                out.push((
                    key_of(&shard.holder),
                    s as u32,
                    i as u16,
                    challenge.epoch,
                    proof,
                ));
            }
        }
        out.into_iter()
            .map(|(from, segment, shard, epoch, proof)| {
                self.tx(
                    from,
                    Payload::StorageProof {
                        deal: id,
                        segment,
                        shard,
                        epoch,
                        proof,
                    },
                )
            })
            .collect()
    }

    /// Blocks until the state's height is `height`, every holder but `skip` proving each
    /// challenge of deal `id` in the block after it opens.
    fn prove_until(&mut self, height: u64, id: Digest, coded: &[Encoded], skip: &[Address]) {
        while self.state.height < height {
            let txs = self.proofs(id, coded, skip);
            let statuses = self.block(txs);
            assert!(
                statuses.iter().all(|s| *s == Status::Success),
                "{statuses:?}"
            );
        }
    }

    /// Every drawn holder of deal `id` accepts its shard, in one block.
    fn accept_all(&mut self, id: Digest) {
        let txs: Vec<_> = drawn(&self.state, id)
            .into_iter()
            .map(|(segment, slot, holder)| {
                let from = key_of(&holder);
                self.tx(from, accept(id, segment, slot))
            })
            .collect();
        assert!(self.block(txs).iter().all(|s| *s == Status::Success));
    }
}

fn register() -> Payload {
    Payload::ProviderRegister {
        endpoint: "http://127.0.0.1:7000".into(),
        profile: ResourceProfile {
            cores: 4,
            memory_mb: 16_384,
            gpus: 0,
            gpu_model: String::new(),
            storage_gb: 100,
        },
        fuel_per_second: 50_000_000,
        ask_per_mfuel: 1,
        bond: BOND,
    }
}

fn offer(capacity_bytes: u64, price_per_gib_epoch: Amount) -> Payload {
    Payload::StorageOffer {
        capacity_bytes,
        price_per_gib_epoch,
    }
}

/// A segment whose shards at k = 2 are `shard_bytes` long (even: the code's shards are): the
/// code stores the length in 4 bytes before the data.
fn segment(label: &[u8], shard_bytes: u64) -> DealSegment {
    assert!(shard_bytes.is_multiple_of(2) && shard_bytes >= 4);
    DealSegment {
        commitment: ContentHash::of(label),
        size_bytes: shard_bytes * 2 - 4,
        shard_bytes,
    }
}

/// A segment of `len` bytes coded 2 of 4 (its bytes a pattern of `label`): what a deal names of
/// it, and its shards to prove with.
fn coded(label: u8, len: usize) -> (DealSegment, Encoded) {
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(label))
        .collect();
    let encoded = encode(Shape::new(2, 4).unwrap(), &data, &Sequential).unwrap();
    let segment = DealSegment {
        commitment: encoded.commitment,
        size_bytes: len as u64,
        shard_bytes: encoded.shards[0].bytes.len() as u64,
    };
    (segment, encoded)
}

fn post(segments: Vec<DealSegment>, cap: Amount, epochs: u64) -> Payload {
    Payload::DealPost {
        segments,
        k: 2,
        n: 4,
        price_cap_per_gib_epoch: cap,
        epochs,
        public: false,
    }
}

fn accept(deal: Digest, segment: u32, shard: u16) -> Payload {
    Payload::ShardAccept {
        deal,
        segment,
        shard,
    }
}

fn key_of(holder: &Address) -> u64 {
    (0..10)
        .find(|i| address(*i) == *holder)
        .expect("a test key")
}

/// The shards of deal `id` waiting for an accept: (segment, slot, holder).
fn drawn(state: &State, id: Digest) -> Vec<(u32, u16, Address)> {
    let mut out = Vec::new();
    for (s, segment) in state.deals[&id].segments.iter().enumerate() {
        for (i, shard) in segment.shards.iter().enumerate() {
            if matches!(shard.state, ShardState::Drawn { .. }) {
                out.push((s as u32, i as u16, shard.holder.clone()));
            }
        }
    }
    out
}

/// `ceil(price * bytes * epochs / 2^30)`, written out.
fn cost_ceil(price: Amount, bytes: u128, epochs: u64) -> Amount {
    (price * bytes * u128::from(epochs)).div_ceil(PRICE_UNIT_BYTES)
}

#[test]
fn offers_need_a_registered_provider_and_never_drop_below_what_is_held() {
    let mut chain = Chain::new();
    assert_eq!(
        chain.one(1, offer(1 << 30, 5)).1,
        Status::Failed(Reason::UnknownProvider)
    );
    assert_eq!(chain.balance(1), START - FEE, "only the fee");
    chain.providers(1..=4, 5);
    assert_eq!(
        chain.state.storage_offers[&address(1)].capacity_bytes,
        1 << 40
    );
    let id = chain.ok(OWNER, post(vec![segment(b"s", 1 << 20)], 5, 2));
    // Every provider holds a shard of 1 MiB now: it may not offer less.
    assert_eq!(chain.state.storage_offers[&address(2)].used_bytes, 1 << 20);
    assert_eq!(
        chain.one(2, offer((1 << 20) - 1, 5)).1,
        Status::Failed(Reason::InvalidStorageOffer)
    );
    chain.ok(2, offer(1 << 20, 7));
    // A provider holding a shard cannot leave.
    assert_eq!(
        chain.one(2, Payload::ProviderDeregister).1,
        Status::Failed(Reason::ProviderBusy)
    );
    chain.ok(OWNER, Payload::DealEnd { deal: id });
    chain.ok(2, Payload::ProviderDeregister);
}

#[test]
fn a_post_escrows_exactly_and_draws_distinct_holders_that_accept() {
    let mut chain = Chain::new();
    chain.providers(1..=6, 3 * PLX + 1);
    let (big, small) = (32u64 << 20, 12_346u64);
    let cap = 4 * PLX + 3;
    let id = chain.ok(
        OWNER,
        post(vec![segment(b"a", big), segment(b"b", small)], cap, 5),
    );
    let escrow = cost_ceil(cap, 4 * u128::from(big + small), 5);
    assert_eq!(chain.balance(OWNER), START - FEE - escrow);
    let deal = chain.state.deals[&id].clone();
    assert_eq!(deal.escrow, escrow);
    assert_eq!(deal.start_epoch, 1, "posted in epoch 0, paid from epoch 1");
    assert_eq!(deal.end_epoch, 6);
    let mut collateral = std::collections::BTreeMap::<Address, Amount>::new();
    for segment in &deal.segments {
        let holders: BTreeSet<_> = segment.shards.iter().map(|s| s.holder.clone()).collect();
        assert_eq!(holders.len(), 4, "distinct holders");
        assert!(!holders.contains(&address(OWNER)));
        for shard in &segment.shards {
            assert_eq!(shard.price_per_gib_epoch, 3 * PLX + 1);
            *collateral.entry(shard.holder.clone()).or_default() += shard.collateral;
        }
    }
    for (holder, locked) in collateral {
        assert_eq!(chain.state.providers[&holder].bond_locked, locked);
    }
    assert!(!deal.is_active());

    // Accepts: only the drawn holder, once.
    let (segment, slot, holder) = drawn(&chain.state, id)[0].clone();
    let outsider = (1..=6).find(|i| address(*i) != holder).unwrap();
    assert_eq!(
        chain.one(outsider, accept(id, segment, slot)).1,
        Status::Failed(Reason::NotShardHolder)
    );
    assert_eq!(
        chain.one(OWNER, accept(hash(&[b"no deal"]), 0, 0)).1,
        Status::Failed(Reason::UnknownDeal)
    );
    assert_eq!(
        chain.one(key_of(&holder), accept(id, 7, 0)).1,
        Status::Failed(Reason::NotShardHolder)
    );
    chain.ok(key_of(&holder), accept(id, segment, slot));
    assert_eq!(
        chain.one(key_of(&holder), accept(id, segment, slot)).1,
        Status::Failed(Reason::ShardAlreadyAccepted)
    );
    chain.accept_all(id);
    assert!(chain.state.deals[&id].is_active());
}

#[test]
fn a_deal_nobody_can_hold_is_rejected_and_nothing_is_charged() {
    let mut chain = Chain::new();
    chain.providers(1..=3, 5);
    let before = chain.state.account(&address(OWNER));
    // Three providers cannot hold four distinct shards.
    let (_, status) = chain.one(OWNER, post(vec![segment(b"s", 1 << 20)], 5, 2));
    assert_eq!(status, Status::Rejected(Reason::NoStorageHolders));
    chain.providers(4..=4, 5);
    // Four can, but not below their price.
    let (_, status) = chain.one(OWNER, post(vec![segment(b"s", 1 << 20)], 4, 2));
    assert_eq!(status, Status::Rejected(Reason::NoStorageHolders));
    // Nor more than their capacity.
    chain.ok(4, offer(1 << 19, 5));
    let (_, status) = chain.one(OWNER, post(vec![segment(b"s", 1 << 20)], 5, 2));
    assert_eq!(status, Status::Rejected(Reason::NoStorageHolders));
    assert_eq!(
        chain.state.account(&address(OWNER)),
        before,
        "not even the fee"
    );
    assert!(chain.state.deals.is_empty());

    // A malformed deal fails with its reason; only the fee is lost.
    chain.ok(4, offer(1 << 40, 5));
    let bad = [
        Payload::DealPost {
            segments: vec![segment(b"s", 1 << 20)],
            k: 3,
            n: 4,
            price_cap_per_gib_epoch: 5,
            epochs: 2,
            public: false,
        },
        post(vec![segment(b"s", 1 << 20)], 5, 0),
        post(
            vec![DealSegment {
                commitment: ContentHash::of(b"s"),
                size_bytes: 1 << 21,
                shard_bytes: 1 << 19,
            }],
            5,
            2,
        ),
    ];
    for payload in bad {
        let balance = chain.balance(OWNER);
        assert_eq!(
            chain.one(OWNER, payload).1,
            Status::Failed(Reason::InvalidDeal)
        );
        assert_eq!(chain.balance(OWNER), balance - FEE);
    }
    // An owner short of the escrow.
    let (_, status) = chain.one(OWNER, post(vec![segment(b"s", 1 << 20)], 1 << 80, 2));
    assert_eq!(status, Status::Failed(Reason::InsufficientBalance));
    assert!(chain.state.deals.is_empty());
}

#[test]
fn a_slot_not_accepted_in_time_is_drawn_again_elsewhere() {
    let mut chain = Chain::new();
    chain.providers(1..=7, 5);
    let id = chain.ok(OWNER, post(vec![segment(b"s", 1 << 20)], 5, 3));
    let posted = chain.state.height;
    let (segment, slot, lazy) = drawn(&chain.state, id)[0].clone();
    // Everyone else accepts.
    let txs: Vec<_> = drawn(&chain.state, id)
        .into_iter()
        .skip(1)
        .map(|(s, i, holder)| chain.tx(key_of(&holder), accept(id, s, i)))
        .collect();
    assert!(chain.block(txs).iter().all(|s| *s == Status::Success));
    chain.until(posted + WINDOW);
    let shard = chain.state.deals[&id].segments[0].shards[slot as usize].clone();
    assert_ne!(shard.holder, lazy, "drawn again");
    let holders: BTreeSet<_> = chain.state.deals[&id].segments[0]
        .shards
        .iter()
        .map(|s| s.holder.clone())
        .collect();
    assert_eq!(holders.len(), 4, "still distinct");
    assert_eq!(chain.state.storage_offers[&lazy].used_bytes, 0);
    assert_eq!(chain.state.providers[&lazy].bond_locked, 0);
    assert_eq!(
        shard.state,
        ShardState::Drawn {
            drawn_height: posted + WINDOW,
            accept_due: posted + 2 * WINDOW
        }
    );
    // The lapsed holder can no longer accept; the new one can.
    assert_eq!(
        chain.one(key_of(&lazy), accept(id, segment, slot)).1,
        Status::Failed(Reason::NotShardHolder)
    );
    chain.ok(key_of(&shard.holder), accept(id, segment, slot));
    assert!(chain.state.deals[&id].is_active());
}

#[test]
fn holders_are_paid_each_epoch_and_the_rest_returns_at_the_end() {
    let mut chain = Chain::new();
    let price = 3 * PLX + 1;
    chain.providers(1..=4, price);
    let (segment, shards) = coded(1, 50_000);
    let shard_bytes = segment.shard_bytes;
    let cap = 5 * PLX;
    let id = chain.ok(OWNER, post(vec![segment], cap, 2));
    let escrow = chain.state.deals[&id].escrow;
    assert_eq!(escrow, cost_ceil(cap, 4 * u128::from(shard_bytes), 2));
    chain.accept_all(id);
    let coded = [shards];
    let holders: Vec<u64> = (1..=4).collect();
    let before: Vec<Amount> = holders.iter().map(|i| chain.balance(*i)).collect();
    let pay = price * u128::from(shard_bytes) / PRICE_UNIT_BYTES;
    assert!(pay > 0);
    // End of epoch 0: nothing (the deal is paid from epoch 1), though its shards were
    // challenged and proven. End of epoch 1: one pay each, for a proven challenge each.
    chain.prove_until(EPOCH - 1, id, &coded, &[]);
    let fees = |chain: &Chain, key: u64| FEE * u128::from(chain.nonces[key as usize] - 3);
    assert_eq!(chain.balance(1), before[0] - fees(&chain, 1));
    chain.prove_until(2 * EPOCH - 1, id, &coded, &[]);
    for (i, key) in holders.iter().enumerate() {
        assert_eq!(chain.balance(*key), before[i] + pay - fees(&chain, *key));
    }
    assert_eq!(chain.state.deals[&id].paid, 4 * pay);
    // End of epoch 2, the last: a second pay, then the deal ends and the dust returns.
    let owner_before = chain.balance(OWNER);
    chain.prove_until(3 * EPOCH - 1, id, &coded, &[]);
    for (i, key) in holders.iter().enumerate() {
        assert_eq!(
            chain.balance(*key),
            before[i] + 2 * pay - fees(&chain, *key)
        );
        assert_eq!(chain.state.providers[&address(*key)].bond_locked, 0);
        assert_eq!(chain.state.storage_offers[&address(*key)].used_bytes, 0);
    }
    assert_eq!(chain.balance(OWNER), owner_before + escrow - 8 * pay);
    assert!(chain.state.deals.is_empty());
    assert_eq!(chain.state.storage_stats.proofs_passed, 4 * 3);
}

#[test]
fn the_owner_extends_and_ends_early_and_holders_keep_their_pay() {
    let mut chain = Chain::new();
    let price = 2 * PLX;
    chain.providers(1..=4, price);
    let (segment, shards) = coded(2, 40_000);
    let shard_bytes = segment.shard_bytes;
    let coded = [shards];
    let pay = price * u128::from(shard_bytes) / PRICE_UNIT_BYTES;
    let per_epoch = cost_ceil(price, 4 * u128::from(shard_bytes), 1);
    let id = chain.ok(OWNER, post(vec![segment], price, 1));
    chain.accept_all(id);
    // Only the owner, only an open deal, only within the longest length.
    assert_eq!(
        chain
            .one(
                1,
                Payload::DealExtend {
                    deal: id,
                    epochs: 1
                }
            )
            .1,
        Status::Failed(Reason::NotDealOwner)
    );
    assert_eq!(
        chain.one(1, Payload::DealEnd { deal: id }).1,
        Status::Failed(Reason::NotDealOwner)
    );
    let max = StorageParams::default().deal_epochs_max;
    assert_eq!(
        chain
            .one(
                OWNER,
                Payload::DealExtend {
                    deal: id,
                    epochs: max
                }
            )
            .1,
        Status::Failed(Reason::InvalidDeal)
    );
    assert_eq!(
        chain
            .one(
                OWNER,
                Payload::DealExtend {
                    deal: id,
                    epochs: 0
                }
            )
            .1,
        Status::Failed(Reason::InvalidDeal)
    );
    let balance = chain.balance(OWNER);
    chain.ok(
        OWNER,
        Payload::DealExtend {
            deal: id,
            epochs: 3,
        },
    );
    let more = cost_ceil(price, 4 * u128::from(shard_bytes), 3);
    assert_eq!(chain.balance(OWNER), balance - FEE - more);
    assert_eq!(chain.state.deals[&id].escrow, per_epoch + more);
    assert_eq!(chain.state.deals[&id].end_epoch, 5);
    // Paid for epochs 1 and 2, then ended in epoch 3.
    chain.prove_until(3 * EPOCH + 2, id, &coded, &[]);
    assert_eq!(chain.state.deals[&id].paid, 4 * pay * 2);
    let escrow = chain.state.deals[&id].escrow;
    let holder_key = key_of(&chain.state.deals[&id].segments[0].shards[0].holder);
    let (holder, owner) = (chain.balance(holder_key), chain.balance(OWNER));
    chain.ok(OWNER, Payload::DealEnd { deal: id });
    assert_eq!(chain.balance(OWNER), owner - FEE + escrow);
    assert_eq!(chain.balance(holder_key), holder, "pay kept, nothing more");
    assert!(chain.state.deals.is_empty());
    assert_eq!(chain.state.providers[&address(1)].bond_locked, 0);
    assert_eq!(
        chain.one(OWNER, Payload::DealEnd { deal: id }).1,
        Status::Failed(Reason::UnknownDeal)
    );
}

#[test]
fn deals_survive_a_snapshot_and_are_in_the_state_root() {
    let mut chain = Chain::new();
    chain.providers(1..=5, 5);
    let id = chain.ok(OWNER, post(vec![segment(b"s", 1 << 20)], 5, 4));
    let bytes = chain.state.encode();
    let decoded = State::decode(bytes).unwrap();
    assert_eq!(decoded, chain.state);
    assert_eq!(decoded.root(), chain.state.root());
    assert!(!decoded.storage_index().accept_dues.is_empty());
    let mut other = chain.state.clone();
    other.deals.get_mut(&id).unwrap().public = true;
    assert_ne!(other.root(), chain.state.root());
}
