//! The market's height-ordered work lists: each block touches only the entries due. Derived from
//! the jobs, providers, audits, disputes and verifiers (`MarketIndex::derive`, in
//! `ledger::recount`), so not committed: rebuilt when a snapshot is decoded.

use plexus_types::{Address, Digest};
use std::collections::BTreeSet;

/// The height-ordered work lists of the market, derived from jobs and providers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketIndex {
    /// (deadline height, job) for posted and assigned jobs.
    pub deadlines: BTreeSet<(u64, Digest)>,
    /// (settle height, job) for committed jobs.
    pub settlements: BTreeSet<(u64, Digest)>,
    /// (finished height + retention, job) for finished jobs.
    pub prunes: BTreeSet<(u64, Digest)>,
    /// (release height, provider) for deregistering providers.
    pub releases: BTreeSet<(u64, Address)>,
    /// (draw height, job) for committed jobs whose audit has not been drawn yet.
    pub draws: BTreeSet<(u64, Digest)>,
    /// (due height, job) for open audits.
    pub audit_dues: BTreeSet<(u64, Digest)>,
    /// (due height, job) for open disputes.
    pub dispute_dues: BTreeSet<(u64, Digest)>,
    /// (release height, verifier) for deregistering verifiers.
    pub verifier_releases: BTreeSet<(u64, Address)>,
}

/// Takes every entry of `set` due at or below `height`, in order.
pub(crate) fn take_due<K: Ord + Clone>(set: &mut BTreeSet<(u64, K)>, height: u64) -> Vec<K> {
    let mut due = Vec::new();
    while set.first().is_some_and(|(at, _)| *at <= height) {
        if let Some((_, key)) = set.pop_first() {
            due.push(key);
        }
    }
    due
}
