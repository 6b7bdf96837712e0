//! How the rest of the node reaches the content actor: what it wants fetched ([`Wants`]), and
//! the resolver's deliveries and serve requests ([`Handler`]).

use super::wire::Key;
use bytes::Bytes;
use commonware_resolver::{Consumer, Delivery, Outcome, p2p::Producer};
use commonware_utils::channel::oneshot;
use futures::channel::mpsc;
use plexus_state::dispute::ReplayRequest;
use plexus_types::{ContentHash, Digest};

/// Reports of missing content queued for the actor; more are dropped (block execution reports
/// again on its next attempt).
pub const WANTS_QUEUE_MAX: usize = 256;

/// Serve requests queued for the actor; more are refused (the requester asks another peer).
pub const SERVES_QUEUE_MAX: usize = 64;

/// The content a dispute settlement's re-run reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// The disputed job (peers serve content for the jobs whose disputes need it).
    pub job: Digest,
    /// The job's module, blobs and input.
    pub content: Vec<ContentHash>,
    /// The agreed pre-state's manifest (and through it its pages); none when the re-run
    /// starts at leaf 0.
    pub manifest: Option<ContentHash>,
}

impl Wanted {
    /// What re-running `request` reads.
    pub fn of_request(request: &ReplayRequest) -> Self {
        let mut content = vec![request.module, request.input];
        content.extend(request.blobs.iter().copied());
        Wanted {
            job: request.job_id,
            content,
            manifest: (request.pre.index > 0).then_some(request.manifest),
        }
    }
}

/// Where block execution (the node's replayer) reports content it lacked. Never blocks.
#[derive(Clone)]
pub struct Wants {
    sender: mpsc::Sender<Wanted>,
}

impl Wants {
    /// Asks for `wanted` to be fetched; dropped when the queue is full.
    pub fn note(&self, wanted: Wanted) {
        let _ = self.sender.clone().try_send(wanted);
    }
}

/// The actor's end of [`Wants`].
pub type WantsReceiver = mpsc::Receiver<Wanted>;

/// A pair of [`Wants`] and the receiver the content actor reads.
pub fn wants() -> (Wants, WantsReceiver) {
    let (sender, receiver) = mpsc::channel(WANTS_QUEUE_MAX);
    (Wants { sender }, receiver)
}

/// An answer from a peer, to judge.
pub struct Deliver {
    pub key: Key,
    pub value: Bytes,
    pub verdict: oneshot::Sender<Outcome>,
}

/// A peer's request, to answer (dropping `answer` sends the peer an error).
pub struct Produce {
    pub key: Key,
    pub answer: oneshot::Sender<Bytes>,
}

/// The resolver's consumer and producer: forwards both to the actor.
#[derive(Clone)]
pub struct Handler {
    /// Unbounded in type, bounded by the keys the actor asked for (each delivered once).
    pub(super) deliveries: mpsc::UnboundedSender<Deliver>,
    pub(super) produces: mpsc::Sender<Produce>,
}

impl Consumer for Handler {
    type Key = Key;
    type Value = Bytes;
    type Subscriber = ();
    type Outcome = Outcome;

    fn deliver(&mut self, delivery: Delivery<Key, ()>, value: Bytes) -> oneshot::Receiver<Outcome> {
        let (verdict, receiver) = oneshot::channel();
        let _ = self.deliveries.unbounded_send(Deliver {
            key: delivery.key,
            value,
            verdict,
        });
        receiver
    }
}

impl Producer for Handler {
    type Key = Key;

    fn produce(&mut self, key: Key) -> oneshot::Receiver<Bytes> {
        let (answer, receiver) = oneshot::channel();
        let _ = self.produces.try_send(Produce { key, answer });
        receiver
    }
}
