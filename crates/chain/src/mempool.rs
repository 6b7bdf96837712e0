//! The mempool: transactions waiting for a block.
//!
//! Entry checks (chain id, fee floor, gapless nonce, affordability, limits) run here; the caller
//! verifies the signature first (the API does, batching where it can), so a block built from the
//! mempool carries only admitted, signed transactions. Selection takes the
//! best fee first, ties by arrival, while keeping each sender's nonces consecutive. Finalization
//! evicts what the chain has consumed.

use plexus_state::Account;
use plexus_types::{Address, Amount, ChainId, Digest, Payload, Reason, SignedTransaction};
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap},
    sync::Arc,
};

/// Limits of the mempool.
#[derive(Clone, Debug)]
pub struct MempoolConfig {
    pub chain_id: ChainId,
    pub fee_min: Amount,
    /// The most transactions held in total.
    pub txs_max: usize,
    /// The most transactions held per sender.
    pub per_account_max: usize,
}

/// Why a transaction was refused entry. `code()` is the API's error code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdmitError {
    #[error("{}", .0.message())]
    Invalid(Reason),
    #[error("the transaction is already in the mempool")]
    Duplicate,
    #[error("nonce {nonce} was already used (the account's next nonce is {next})")]
    Replay { nonce: u64, next: u64 },
    #[error("nonce {nonce} leaves a gap: the sender's next nonce is {expected}")]
    NonceTooHigh { nonce: u64, expected: u64 },
    #[error("another pending transaction already uses nonce {nonce}")]
    NonceInUse { nonce: u64 },
    #[error("balance {balance} cannot pay {needed} (fee, amount and pending transactions)")]
    Unaffordable { balance: Amount, needed: Amount },
    #[error("the amounts overflow 128 bits")]
    Overflow,
    #[error("the sender already has {0} pending transactions")]
    AccountFull(usize),
    #[error("the mempool is full ({0} transactions)")]
    Full(usize),
}

impl AdmitError {
    pub fn code(&self) -> &'static str {
        match self {
            AdmitError::Invalid(reason) => reason.code(),
            AdmitError::Duplicate => "duplicate",
            AdmitError::Replay { .. } => "replayed_nonce",
            AdmitError::NonceTooHigh { .. } => "nonce_too_high",
            AdmitError::NonceInUse { .. } => "nonce_in_use",
            AdmitError::Unaffordable { .. } => "insufficient_balance",
            AdmitError::Overflow => "overflow",
            AdmitError::AccountFull(_) => "account_mempool_full",
            AdmitError::Full(_) => "mempool_full",
        }
    }
}

struct Entry {
    tx: Arc<SignedTransaction>,
    hash: Digest,
    arrival: u64,
    /// Fee plus the value the payload moves out of the balance.
    cost: Amount,
}

/// One sender's pending transactions, by nonce, with their summed cost (kept up to date so that
/// admission does not re-add the whole queue).
#[derive(Default)]
struct Queue {
    entries: BTreeMap<u64, Entry>,
    cost: Amount,
}

/// Pending transactions, per sender by nonce.
#[derive(Default)]
pub struct Mempool {
    by_sender: BTreeMap<Address, Queue>,
    by_hash: HashMap<Digest, (Address, u64)>,
    arrivals: u64,
}

/// What a payload takes out of the sender's spendable balance besides the fee.
fn payload_value(payload: &Payload) -> Amount {
    match payload {
        Payload::Transfer { amount, .. }
        | Payload::Bond { amount }
        | Payload::Delegate { amount, .. }
        | Payload::ProviderRegister { bond: amount, .. }
        | Payload::ProviderUpdate {
            bond_add: amount, ..
        }
        | Payload::VerifierRegister { bond: amount, .. }
        | Payload::GovPropose {
            deposit: amount, ..
        } => *amount,
        // An escrow that overflows fails in execution; here it only has to be unaffordable.
        Payload::JobPost {
            max_fuel,
            price_cap_per_mfuel,
            ..
        } => plexus_types::job::fuel_cost_ceil(*max_fuel, *price_cap_per_mfuel)
            .unwrap_or(Amount::MAX),
        Payload::DealPost {
            segments,
            n,
            price_cap_per_gib_epoch,
            epochs,
            ..
        } => plexus_storage::money::deal_escrow_ceil(*price_cap_per_gib_epoch, segments, *n, *epochs)
            .unwrap_or(Amount::MAX),
        Payload::Unbond { .. }
        | Payload::Undelegate { .. }
        | Payload::Evidence { .. }
        | Payload::Participation { .. }
        | Payload::DealerLog { .. }
        | Payload::CommissionSet { .. }
        | Payload::RewardsWithdraw
        | Payload::ProviderHeartbeat
        | Payload::ProviderDeregister
        | Payload::JobCommit { .. }
        | Payload::JobCancel { .. }
        | Payload::VerifierDeregister
        | Payload::AuditCommit { .. }
        | Payload::AuditReveal { .. }
        // A consumer's dispute deposit depends on the job; execution checks it.
        | Payload::DisputeOpen { .. }
        | Payload::DisputeMove { .. }
        | Payload::DisputeSettle { .. }
        | Payload::AuditDecline { .. }
        // An extension's escrow depends on the deal; execution checks it.
        | Payload::StorageOffer { .. }
        | Payload::ShardAccept { .. }
        | Payload::DealExtend { .. }
        | Payload::DealEnd { .. }
        | Payload::StorageProof { .. }
        | Payload::FaultDeclare { .. }
        | Payload::GovVote { .. } => 0,
    }
}

impl Mempool {
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn contains(&self, hash: &Digest) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// The checks that cost no signature verification and refuse for good: chain id, weak
    /// keys, the fee floor, a transaction already pending, a nonce the account has used. The API
    /// runs them before it verifies a signature, so a replayed or junk batch costs its sender
    /// nothing and the node little; `admit` runs them again.
    pub fn precheck(
        &self,
        cfg: &MempoolConfig,
        tx: &SignedTransaction,
        hash: &Digest,
        account: &Account,
    ) -> Result<(), AdmitError> {
        if tx.tx.chain_id != cfg.chain_id {
            return Err(AdmitError::Invalid(Reason::WrongChain));
        }
        if tx.tx.names_weak_key() {
            return Err(AdmitError::Invalid(Reason::WeakKey));
        }
        if tx.tx.fee < cfg.fee_min {
            return Err(AdmitError::Invalid(Reason::FeeTooLow));
        }
        if self.by_hash.contains_key(hash) {
            return Err(AdmitError::Duplicate);
        }
        if tx.tx.nonce < account.nonce {
            return Err(AdmitError::Replay {
                nonce: tx.tx.nonce,
                next: account.nonce,
            });
        }
        Ok(())
    }

    /// Checks every stateless and stateful rule except the signature, which the caller verifies
    /// (so that it can batch or move it off the lock), and admits `tx` against `account`, the
    /// sender's latest finalized account.
    pub fn admit(
        &mut self,
        cfg: &MempoolConfig,
        tx: SignedTransaction,
        hash: Digest,
        account: &Account,
    ) -> Result<Digest, AdmitError> {
        self.precheck(cfg, &tx, &hash, account)?;
        // Gapless: a sender's pending nonces always run from its account nonce without holes, so
        // every pending transaction is executable in order and nobody can park unexecutable
        // (never charged) entries in the pool.
        let nonce = tx.tx.nonce;
        let next = account.nonce;
        let pending = self.by_sender.get(&tx.tx.sender);
        let count = pending.map_or(0, |q| q.entries.len());
        let expected = next + count as u64;
        if nonce < expected {
            return Err(AdmitError::NonceInUse { nonce });
        }
        if nonce > expected {
            return Err(AdmitError::NonceTooHigh { nonce, expected });
        }
        if count >= cfg.per_account_max {
            return Err(AdmitError::AccountFull(count));
        }
        if self.by_hash.len() >= cfg.txs_max {
            return Err(AdmitError::Full(self.by_hash.len()));
        }
        let cost = tx
            .tx
            .fee
            .checked_add(payload_value(&tx.tx.payload))
            .ok_or(AdmitError::Overflow)?;
        let pending_cost = pending.map_or(0, |q| q.cost);
        let needed = pending_cost.checked_add(cost).ok_or(AdmitError::Overflow)?;
        if needed > account.balance {
            return Err(AdmitError::Unaffordable {
                balance: account.balance,
                needed,
            });
        }
        let sender = tx.tx.sender.clone();
        self.arrivals += 1;
        let entry = Entry {
            tx: Arc::new(tx),
            hash,
            arrival: self.arrivals,
            cost,
        };
        self.by_hash.insert(hash, (sender.clone(), nonce));
        let queue = self.by_sender.entry(sender).or_default();
        // `needed` (the sum) was checked above, so this cannot overflow.
        queue.cost = needed;
        queue.entries.insert(nonce, entry);
        Ok(hash)
    }

    /// Picks up to `limit` transactions: highest fee first, then earliest arrival, each sender's
    /// run starting at `next_nonce(sender)` without gaps.
    pub fn select(
        &self,
        limit: usize,
        mut next_nonce: impl FnMut(&Address) -> u64,
    ) -> Vec<Arc<SignedTransaction>> {
        // Heap of each sender's next eligible transaction.
        let mut heads = BinaryHeap::new();
        for (sender, queue) in &self.by_sender {
            let nonce = next_nonce(sender);
            if let Some(entry) = queue.entries.get(&nonce) {
                heads.push((entry.tx.tx.fee, Reverse(entry.arrival), sender, nonce));
            }
        }
        let mut chosen = Vec::with_capacity(limit.min(self.len()));
        while chosen.len() < limit {
            let Some((_, _, sender, nonce)) = heads.pop() else {
                break;
            };
            let entries = &self.by_sender[sender].entries;
            chosen.push(entries[&nonce].tx.clone());
            if let Some(entry) = entries.get(&(nonce + 1)) {
                heads.push((entry.tx.tx.fee, Reverse(entry.arrival), sender, nonce + 1));
            }
        }
        chosen
    }

    /// How many transactions of `sender` wait here (its next nonce is the account's plus this).
    pub fn pending_count(&self, sender: &Address) -> usize {
        self.by_sender.get(sender).map_or(0, |q| q.entries.len())
    }

    /// Drops a transaction that a finalized block included but rejected (its nonce was not
    /// consumed, so it would be proposed again forever), with the sender's later nonces, which
    /// could never execute after the gap it leaves.
    pub fn evict_rejected(&mut self, hash: &Digest) {
        let Some((sender, nonce)) = self.by_hash.get(hash).cloned() else {
            return;
        };
        self.evict(&sender, |entries| entries.split_off(&nonce));
    }

    /// Drops every transaction of `sender` whose nonce is below `next_nonce` (consumed by a
    /// finalized block, or made stale by one).
    pub fn evict_below(&mut self, sender: &Address, next_nonce: u64) {
        self.evict(sender, |entries| {
            let keep = entries.split_off(&next_nonce);
            std::mem::replace(entries, keep)
        });
    }

    /// Removes the entries `take` splits off `sender`'s queue, keeping the hash index and the
    /// queue's cost in step, and drops the queue once empty.
    fn evict(
        &mut self,
        sender: &Address,
        take: impl FnOnce(&mut BTreeMap<u64, Entry>) -> BTreeMap<u64, Entry>,
    ) {
        let Some(queue) = self.by_sender.get_mut(sender) else {
            return;
        };
        for entry in take(&mut queue.entries).values() {
            self.by_hash.remove(&entry.hash);
            queue.cost -= entry.cost;
        }
        if queue.entries.is_empty() {
            self.by_sender.remove(sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use plexus_types::{PrivateKey, Transaction};

    const CFG: MempoolConfig = MempoolConfig {
        chain_id: 9,
        fee_min: 10,
        txs_max: 5,
        per_account_max: 3,
    };

    fn key(i: u64) -> PrivateKey {
        PrivateKey::from_seed(i)
    }

    fn tx(from: u64, nonce: u64, fee: Amount, amount: Amount) -> SignedTransaction {
        Transaction {
            chain_id: 9,
            sender: Address(key(from).public_key()),
            nonce,
            fee,
            payload: Payload::Transfer {
                to: Address(key(99).public_key()),
                amount,
            },
        }
        .sign(&key(from))
    }

    fn admit(
        pool: &mut Mempool,
        tx: SignedTransaction,
        balance: Amount,
        nonce: u64,
    ) -> Result<Digest, AdmitError> {
        let account = Account {
            balance,
            nonce,
            ..Account::default()
        };
        let hash = tx.hash();
        pool.admit(&CFG, tx, hash, &account)
    }

    /// A small-order sender or recipient never enters the pool (issue 12, finding 1).
    #[test]
    fn weak_keys_are_refused() {
        let mut pool = Mempool::default();
        let weak = Address::from_bytes(&[0u8; 32]).unwrap();
        let mut to_weak = tx(1, 0, 10, 1);
        to_weak.tx.payload = Payload::Transfer {
            to: weak.clone(),
            amount: 1,
        };
        assert_eq!(
            admit(&mut pool, to_weak, 100, 0),
            Err(AdmitError::Invalid(Reason::WeakKey))
        );
        let mut from_weak = tx(1, 0, 10, 1);
        from_weak.tx.sender = weak;
        assert_eq!(
            admit(&mut pool, from_weak, 100, 0),
            Err(AdmitError::Invalid(Reason::WeakKey))
        );
        assert!(pool.is_empty());
    }

    #[test]
    fn entry_rules() {
        let mut pool = Mempool::default();
        let mut foreign = tx(1, 0, 10, 1);
        foreign.tx.chain_id = 8;
        assert_eq!(
            admit(&mut pool, foreign, 100, 0),
            Err(AdmitError::Invalid(Reason::WrongChain))
        );
        assert_eq!(
            admit(&mut pool, tx(1, 0, 9, 1), 100, 0),
            Err(AdmitError::Invalid(Reason::FeeTooLow))
        );
        assert!(admit(&mut pool, tx(1, 0, 10, 1), 100, 0).is_ok());
        assert_eq!(
            admit(&mut pool, tx(1, 0, 10, 1), 100, 0),
            Err(AdmitError::Duplicate)
        );
        assert_eq!(
            admit(&mut pool, tx(1, 0, 11, 1), 100, 0),
            Err(AdmitError::NonceInUse { nonce: 0 })
        );
        assert_eq!(
            admit(&mut pool, tx(2, 4, 10, 1), 100, 5),
            Err(AdmitError::Replay { nonce: 4, next: 5 })
        );
        assert_eq!(
            admit(&mut pool, tx(2, 8, 10, 1), 100, 5),
            Err(AdmitError::NonceTooHigh {
                nonce: 8,
                expected: 5
            })
        );
        // A gap after the pending run is refused too: sender 1 has nonce 0 pending.
        assert_eq!(
            admit(&mut pool, tx(1, 2, 10, 1), 100, 0),
            Err(AdmitError::NonceTooHigh {
                nonce: 2,
                expected: 1
            })
        );
        // 11 already pending for sender 1; 11 + 90 = 101 > 100.
        assert_eq!(
            admit(&mut pool, tx(1, 1, 10, 80), 100, 0),
            Err(AdmitError::Unaffordable {
                balance: 100,
                needed: 101
            })
        );
        assert_eq!(
            admit(&mut pool, tx(1, 1, 10, u128::MAX), 100, 0),
            Err(AdmitError::Overflow)
        );
        assert!(admit(&mut pool, tx(1, 1, 10, 1), 100, 0).is_ok());
        assert!(admit(&mut pool, tx(1, 2, 10, 1), 100, 0).is_ok());
        assert_eq!(
            admit(&mut pool, tx(1, 3, 10, 1), 100, 0),
            Err(AdmitError::AccountFull(3))
        );
        assert_eq!(pool.pending_count(&Address(key(1).public_key())), 3);
        assert!(admit(&mut pool, tx(3, 0, 10, 1), 100, 0).is_ok());
        assert!(admit(&mut pool, tx(4, 0, 10, 1), 100, 0).is_ok());
        assert_eq!(
            admit(&mut pool, tx(5, 0, 10, 1), 100, 0),
            Err(AdmitError::Full(5))
        );
    }

    #[test]
    fn selection_orders_by_fee_then_arrival_and_keeps_nonces_consecutive() {
        let mut pool = Mempool::default();
        // Sender 1: low fee at nonce 0, high fee at nonce 1 (must still come after nonce 0).
        admit(&mut pool, tx(1, 0, 10, 1), 1_000, 0).unwrap();
        admit(&mut pool, tx(1, 1, 50, 1), 1_000, 0).unwrap();
        admit(&mut pool, tx(2, 0, 20, 1), 1_000, 0).unwrap();
        admit(&mut pool, tx(3, 0, 20, 1), 1_000, 0).unwrap();
        admit(&mut pool, tx(4, 0, 11, 1), 1_000, 0).unwrap();
        let picked: Vec<_> = pool
            .select(10, |_| 0)
            .iter()
            .map(|t| (t.tx.fee, t.tx.nonce))
            .collect();
        assert_eq!(picked, vec![(20, 0), (20, 0), (11, 0), (10, 0), (50, 1)]);
        let senders: Vec<_> = pool
            .select(2, |_| 0)
            .iter()
            .map(|t| t.tx.sender.clone())
            .collect();
        assert_eq!(
            senders,
            vec![Address(key(2).public_key()), Address(key(3).public_key())]
        );
        // Eviction after finalization of sender 1's nonce 0.
        pool.evict_below(&Address(key(1).public_key()), 1);
        assert_eq!(pool.len(), 4);
        assert_eq!(
            pool.select(10, |a| if *a == Address(key(1).public_key()) {
                1
            } else {
                0
            })
            .len(),
            4
        );
        pool.evict_below(&Address(key(1).public_key()), 2);
        assert_eq!(pool.len(), 3);
    }

    #[test]
    fn evicting_a_rejected_transaction_drops_the_later_nonces_behind_it() {
        let mut pool = Mempool::default();
        let first = admit(&mut pool, tx(1, 0, 10, 1), 1_000, 0).unwrap();
        admit(&mut pool, tx(1, 1, 10, 1), 1_000, 0).unwrap();
        admit(&mut pool, tx(2, 0, 10, 1), 1_000, 0).unwrap();
        pool.evict_rejected(&first);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.pending_count(&Address(key(1).public_key())), 0);
        pool.evict_rejected(&first); // unknown now: nothing happens
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn evicted_costs_no_longer_count_against_the_balance() {
        let mut pool = Mempool::default();
        admit(&mut pool, tx(1, 0, 10, 80), 100, 0).unwrap();
        assert_eq!(
            admit(&mut pool, tx(1, 1, 10, 5), 100, 0),
            Err(AdmitError::Unaffordable {
                balance: 100,
                needed: 105
            })
        );
        // Nonce 0 finalized: its cost leaves the queue's sum.
        pool.evict_below(&Address(key(1).public_key()), 1);
        assert!(admit(&mut pool, tx(1, 1, 10, 5), 100, 1).is_ok());
        assert_eq!(
            admit(&mut pool, tx(1, 2, 10, 76), 100, 1),
            Err(AdmitError::Unaffordable {
                balance: 100,
                needed: 101
            })
        );
    }
}
