//! Faulty validators: one that proposes invalid blocks, one that floods garbage.

use commonware_consensus::{
    Application, marshal::ancestry::Ancestry, simplex::scheme::ed25519::Scheme,
    simplex::types::Context,
};
use commonware_cryptography::{Digested, Digestible};
use commonware_p2p::{Recipients, Sender as _, simulated};
use commonware_runtime::{Clock, deterministic};
use plexus_chain::{App, ChainBlock};
use plexus_node::engine::Channels;
use plexus_types::{
    Digest, PublicKey, SignedTransaction,
    codec::{DecodeExt, Encode},
};
use rand::{Rng as _, RngExt as _};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// A validator's consensus channels on the simulated network.
pub(crate) type SimChannels =
    Channels<simulated::Sender<PublicKey, deterministic::Context>, simulated::Receiver<PublicKey>>;

/// How a faulty validator misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Follows the protocol, except that every block it proposes is invalid: alternately a wrong
    /// state root and a transaction whose signature does not verify.
    CorruptProposals,
    /// Runs no consensus at all; sends random bytes of random sizes (up to the largest message
    /// the network carries) on every channel to every peer.
    Garbage,
    /// Runs no consensus; answers every notarize vote it hears with two of its own for that
    /// round, one for the proposal and one for a random payload: provable equivocation.
    Equivocate,
}

/// The honest application with its proposals corrupted after they are built.
#[derive(Clone)]
pub struct Corrupt {
    inner: App,
}

impl Corrupt {
    pub fn new(inner: App) -> Self {
        Corrupt { inner }
    }
}

/// Flips a bit of the first transaction's signature; `None` for an empty block.
fn corrupt_signature(txs: &mut [SignedTransaction]) -> Option<()> {
    let first = txs.first_mut()?;
    let mut bytes = first.encode().to_vec();
    // The signature is the last 64 bytes; its first half is a curve point, any bit of which
    // breaks verification.
    let r = bytes.len() - 64;
    bytes[r] ^= 1;
    *first = SignedTransaction::decode(plexus_types::codec::Copying(bytes.as_slice())).ok()?;
    Some(())
}

impl<E: Clock + Send + 'static> Application<E> for Corrupt {
    type SigningScheme = Scheme;
    type Context = Context<Digest, PublicKey>;
    type Block = ChainBlock;
    type Input = ();

    async fn propose(
        &mut self,
        context: (E, Self::Context),
        ancestry: impl Ancestry<Self::Block>,
        input: (),
    ) -> Option<Digested<Self::Block>> {
        let honest = Application::<E>::propose(&mut self.inner, context, ancestry, input).await?;
        let mut block = honest.inner().block().clone();
        let signature_corrupted =
            block.header.height.is_multiple_of(2) && corrupt_signature(&mut block.txs).is_some();
        if signature_corrupted {
            block.header.tx_root = plexus_types::block::tx_root(&block.txs);
        } else {
            block.header.state_root = Digest::from([0xAB; 32]);
        }
        let block = ChainBlock::new(block);
        let digest = block.digest();
        Some(Digested::precomputed(block, digest))
    }

    async fn verify(
        &mut self,
        context: (E, Self::Context),
        ancestry: impl Ancestry<Self::Block>,
    ) -> bool {
        Application::<E>::verify(&mut self.inner, context, ancestry).await
    }
}

/// Signs conflicting notarize votes for every round it hears of.
pub async fn equivocate(
    mut context: deterministic::Context,
    key: plexus_types::PrivateKey,
    participants: commonware_utils::ordered::Set<PublicKey>,
    channels: SimChannels,
) {
    use commonware_consensus::simplex::types::{Notarize, Proposal, Vote};
    let scheme = Scheme::signer(plexus_types::CONSENSUS_NAMESPACE, participants, key)
        .expect("the equivocator is in the committee");
    // Votes travel on the epoch's sub-channel of the vote channel (epoch 0 here).
    use commonware_runtime::Supervisor as _;
    let (mux, mut handle) = commonware_p2p::utils::mux::Muxer::new(
        context.child("votes_mux"),
        channels.votes.0,
        channels.votes.1,
    );
    mux.start();
    let Ok((mut sender, mut receiver)) = handle.register(0).await else {
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    while let Ok((_, message)) = commonware_p2p::Receiver::recv(&mut receiver).await {
        let Ok(Vote::Notarize(notarize)) = Vote::<Scheme, Digest>::decode(message) else {
            continue;
        };
        let proposal = notarize.proposal;
        if !seen.insert(proposal.round) {
            continue;
        }
        // Two made-up proposals: no certificate can ever carry either vote, so an honest node
        // meets both as network votes and reports the conflict (a conflict with a vote it
        // learned from a certificate is only blocked, not reported).
        let mut fakes = Vec::new();
        for _ in 0..2 {
            let mut random = [0u8; 32];
            context.fill_bytes(&mut random);
            fakes.push(Proposal::new(
                proposal.round,
                proposal.parent,
                Digest::from(random),
            ));
        }
        for proposal in fakes {
            if let Some(vote) = Notarize::sign(&scheme, proposal) {
                sender.send(Recipients::All, Vote::Notarize(vote).encode(), true);
            }
        }
    }
}

/// Floods every channel with garbage and records, once a second, which peers have blocked whom.
pub async fn send_garbage(
    mut context: deterministic::Context,
    channels: SimChannels,
    oracle: simulated::Oracle<PublicKey, deterministic::Context>,
    blocked: Arc<Mutex<Vec<(PublicKey, PublicKey)>>>,
) {
    let mut senders = vec![
        channels.votes.0,
        channels.certificates.0,
        channels.simplex_resolver.0,
        channels.backfill.0,
        channels.broadcast.0,
        channels.txs.0,
        channels.beacon.0,
        channels.reshare.0,
        channels.content.0,
    ];
    let max = plexus_node::engine::max_message_size() as usize;
    let mut tick: u64 = 0;
    loop {
        context.sleep(Duration::from_millis(50)).await;
        tick += 1;
        for sender in &mut senders {
            let size = if context.random_range(0..40) == 0 {
                max
            } else {
                context.random_range(1..4_096)
            };
            let mut message = vec![0u8; size];
            context.fill_bytes(&mut message);
            sender.send(Recipients::All, message, false);
        }
        if tick.is_multiple_of(20)
            && let Ok(pairs) = oracle.blocked().await
        {
            *blocked.lock().unwrap_or_else(|p| p.into_inner()) = pairs;
        }
    }
}
