//! The provider's shard routes over real HTTP when its node cannot be reached: every answer is
//! the contract's refusal (503 `node_unavailable`, never a crash or a hang), nothing is stored,
//! and a shard it does not hold is a 404 without asking the node. (The routes against a real
//! chain: `crates/cli/tests/compute/storage.rs`.)

use commonware_cryptography::Signer as _;
use plexus_client::{Client, ClientError, RetryPolicy};
use plexus_provider::{
    http::{NODE_RETRY, ShardService, router},
    shards::ShardStore,
};
use plexus_storage::{
    access::ShardRead,
    coding::{Shape, encode},
};
use plexus_types::{Digest, PrivateKey};
use std::{path::PathBuf, sync::Arc};

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plexus-routes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback address nobody listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// Serves the provider API with `store`, following a node at `node`; returns its URL.
fn serve(dir: &std::path::Path, store: Arc<ShardStore>, node: &str) -> String {
    let state = plexus_provider::http::HttpState {
        address: "plx1test".into(),
        journal: Arc::new(std::sync::Mutex::new(
            plexus_provider::journal::Journal::open(dir).unwrap(),
        )),
        running: Arc::default(),
        blobs: Arc::new(
            plexus_blobs::BlobStore::open(&dir.join("blobs"), Default::default()).unwrap(),
        ),
        checkpoints: Arc::new(plexus_provider::checkpoints::CheckpointReader::new(dir)),
        shards: Arc::new(ShardService {
            store,
            node: Client::new(node).with_retry(NODE_RETRY),
            me: "plx1test".into(),
            uploads: std::sync::mpsc::sync_channel(1).0,
        }),
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router(state)).await.unwrap();
        });
    });
    format!("http://{address}")
}

fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, body }) => (status, body.code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn without_its_node_a_provider_refuses_with_503_and_stores_nothing() {
    let dir = tempdir("no-node");
    let store = Arc::new(ShardStore::open(&dir).unwrap());
    let url = serve(&dir, store.clone(), &closed_port());
    // One attempt each: a 503 is transient, and the client would otherwise retry it.
    let provider = Client::new(&url).with_retry(RetryPolicy::NONE);
    let segment: Vec<u8> = (0..4_000u32).map(|i| (i % 199) as u8).collect();
    let shape = Shape::new(2, 4).unwrap();
    let shards = encode(shape, &segment, &commonware_parallel::Sequential)
        .unwrap()
        .shards;
    let shard_bytes = shards[0].bytes.len() as u64;
    let deal = Digest::from([4u8; 32]);

    assert_eq!(
        code(provider.put_shard(&deal, 0, &shards[1])),
        (503, "node_unavailable".into())
    );
    assert_eq!(store.list().unwrap(), vec![]);

    // A shard it does not hold: 404 at once. One it holds: the node must say who may read it.
    assert!(matches!(
        provider.get_shard(&deal, 0, 2, shard_bytes, None),
        Ok(None)
    ));
    store.put(&(deal, 0, 2), &shards[2]).unwrap();
    let read = ShardRead::sign(&PrivateKey::from_seed(1), deal, 0, 2, u64::MAX, None);
    assert_eq!(
        code(provider.get_shard(&deal, 0, 2, shard_bytes, Some(&read))),
        (503, "node_unavailable".into())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
