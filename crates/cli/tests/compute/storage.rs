//! Storage on a devnet whose four providers sell it (`plexus devnet --providers 4`: k = 2 of
//! n = 4): a private deal posted from `plexus_storage::coding::encode` of seeded bytes, every
//! shard sent with `Client::put_shard` to the holder the chain drew for its slot, accepted by
//! the providers' agents until the deal is active on chain, and read back through the shard
//! routes as `plexus_storage::access` defines them; refusals at each step (a provider not drawn
//! for the slot, a tampered shard, an oversized body, a stranger's read, a read without a
//! `ShardRead`); and, once the owner ends the deal, every provider's collection deletes its
//! shard. Others stop a
//! provider between storing a shard and accepting it (it accepts it when it starts again, or,
//! once the slot was drawn to another provider, deletes it), and have the chain refuse an offer
//! (the provider goes on).

use crate::{
    FUEL_PER_SECOND, Net, PLEXUS, Process, devnet, free_port, read_key, send, tempdir, wait_for,
};
use plexus_client::{Client, ClientError, dto::StorageFileDto};
use plexus_storage::access::ShardRead;
use plexus_storage::coding::{self, Encoded, Shape, Shard};
use plexus_types::{Digest, Payload, deal::DealSegment, hash::digest_hex};
use rand::{Rng as _, RngExt as _, SeedableRng as _};
use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// Prints the seed if the test fails, so the failing bytes can be made again
/// (`PLEXUS_TEST_SEED=N`).
struct SeedOnFailure(u64);

impl Drop for SeedOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("storage test failed with PLEXUS_TEST_SEED={}", self.0);
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The API code of a refused request.
fn refusal(result: Result<impl std::fmt::Debug, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, body }) => (status, body.code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The shard routes of the provider the chain drew for each slot of segment 0.
fn holders(net: &Net, file: &StorageFileDto) -> Vec<(String, Client)> {
    file.segments[0]
        .shards
        .iter()
        .map(|shard| {
            let provider = net.client.provider(&shard.holder.parse().unwrap()).unwrap();
            (shard.holder.clone(), Client::new(&provider.endpoint))
        })
        .collect()
}

/// The seed of this run's bytes: `PLEXUS_TEST_SEED`, or the clock's; printed if the test fails.
fn seed() -> (u64, SeedOnFailure) {
    let seed = std::env::var("PLEXUS_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(now_ms);
    (seed, SeedOnFailure(seed))
}

/// Waits until `count` providers offer storage.
fn wait_for_offers(net: &Net, count: usize) {
    wait_for("the storage offers", Duration::from_secs(120), || {
        net.client
            .storage_providers()
            .is_ok_and(|offers| offers.iter().filter(|o| o.capacity_bytes > 0).count() == count)
    });
}

/// A few hundred KiB of bytes from `rng`, coded `shape` as the chain codes them, posted as a
/// private deal from dev0: the deal and its shards.
fn post_deal(
    net: &Net,
    rng: &mut rand_chacha::ChaCha8Rng,
    shape: Shape,
) -> (Digest, Vec<u8>, Encoded) {
    let mut data = vec![0u8; 300 * 1024 + rng.random_range(0..4096)];
    rng.fill_bytes(&mut data);
    let encoded = coding::encode(shape, &data, &commonware_parallel::Sequential).unwrap();
    let post = Payload::DealPost {
        segments: vec![DealSegment {
            commitment: encoded.commitment,
            size_bytes: data.len() as u64,
            shard_bytes: shape.shard_len(data.len() as u64).unwrap(),
        }],
        k: shape.k(),
        n: shape.n(),
        price_cap_per_gib_epoch: plexus_types::PLX / 100,
        epochs: 5,
        public: false,
    };
    let deal = plexus_types::hash::parse_digest(&send(net, "dev0", post)).unwrap();
    (deal, data, encoded)
}

#[test]
fn shards_are_checked_accepted_served_by_grant_and_collected() {
    let (seed, _print) = seed();
    let dir = tempdir("storage");
    let net = devnet(&dir, 4);
    wait_for_offers(&net, 4);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let shape = Shape::new(2, 4).unwrap();
    let (deal, data, encoded) = post_deal(&net, &mut rng, shape);
    let shard_bytes = shape.shard_len(data.len() as u64).unwrap();
    let deal_hex = digest_hex(&deal);
    let file = net.client.storage_file(&deal_hex).unwrap();
    let routes = holders(&net, &file);
    assert_eq!(routes.len(), 4);

    // A provider not drawn for the slot refuses it; the drawn one refuses a tampered shard.
    let (_, other) = &routes[1];
    assert_eq!(
        refusal(other.put_shard(&deal, 0, &encoded.shards[0])),
        (409, "not_drawn_here".into())
    );
    let mut tampered: Shard = encoded.shards[0].clone();
    let mut bytes = tampered.bytes.to_vec();
    let flipped = rng.random_range(0..bytes.len());
    bytes[flipped] ^= 1;
    tampered.bytes = bytes.into();
    let (_, holder0) = &routes[0];
    assert_eq!(
        refusal(holder0.put_shard(&deal, 0, &tampered)),
        (422, "shard_mismatch".into())
    );

    // A body longer than any shard of the deal in its wire form is refused unread.
    let mut long = encoded.shards[0].clone();
    long.bytes = vec![0u8; (shard_bytes + coding::SHARD_WIRE_OVERHEAD_MAX) as usize].into();
    assert_eq!(
        refusal(holder0.put_shard(&deal, 0, &long)),
        (413, "too_large".into())
    );

    // Every shard to its holder: stored, then accepted by the holder's agent.
    for (shard, (_, route)) in encoded.shards.iter().zip(&routes) {
        let stored = route.put_shard(&deal, 0, shard).unwrap();
        assert_eq!(stored.digest.0, shard.digest(), "slot {}", shard.index);
    }
    wait_for("the deal to be active", Duration::from_secs(120), || {
        net.client
            .storage_file(&deal_hex)
            .is_ok_and(|f| f.file.shards_active == 4)
    });
    // An accepted slot takes no upload again.
    assert_eq!(
        refusal(holder0.put_shard(&deal, 0, &encoded.shards[0])),
        (409, "not_drawn_here".into())
    );

    // The owner reads shards back and the file out of them; nobody else does.
    let owner = read_key(&net.home, "dev0");
    let read_by = |key: &plexus_types::PrivateKey, slot: u16| {
        let read = ShardRead::sign(key, deal, 0, slot, now_ms() + 60_000, None);
        routes[usize::from(slot)]
            .1
            .get_shard(&deal, 0, slot, shard_bytes, Some(&read))
    };
    let systematic: Vec<Shard> = (0..2)
        .map(|slot| read_by(&owner, slot).unwrap().unwrap())
        .collect();
    for shard in &systematic {
        coding::check(shape, data.len() as u64, &encoded.commitment, shard).unwrap();
        assert_eq!(shard, &encoded.shards[usize::from(shard.index)]);
    }
    let parts = coding::read_systematic(
        shape,
        &encoded.commitment,
        &systematic,
        &commonware_parallel::Sequential,
    )
    .unwrap();
    assert_eq!(parts.concat(), data);
    let stranger = read_key(&net.home, "dev1");
    assert_eq!(refusal(read_by(&stranger, 3)), (403, "read_refused".into()));
    assert_eq!(
        refusal(routes[3].1.get_shard(&deal, 0, 3, shard_bytes, None)),
        (401, "read_unauthorized".into())
    );

    // The owner ends the deal: every holder's collection deletes its shard.
    send(&net, "dev0", Payload::DealEnd { deal });
    let shard_dirs: Vec<_> = (0..4)
        .map(|i| {
            dir.join("data")
                .join(format!("provider-{i}"))
                .join("shards")
                .join(digest_hex(&deal))
        })
        .collect();
    assert!(
        shard_dirs.iter().filter(|d| d.exists()).count() == 4,
        "every provider kept its shard until the deal ended"
    );
    wait_for(
        "the shards to be collected",
        Duration::from_secs(60),
        || shard_dirs.iter().all(|d| !d.exists()),
    );
}

/// A provider that stored a shard and stopped before its accept went out (the window between
/// the store and the accept, made exactly: the shard is written with the provider's own store
/// while it is down) accepts it when it starts again, from its store and the chain alone.
#[test]
fn a_shard_stored_before_a_stop_is_accepted_after_the_restart() {
    let (seed, _print) = seed();
    let dir = tempdir("storage-restart");
    // No devnet providers: two started here, so one can be stopped. A devnet of fewer than
    // four providers codes k = 1 of n = 2.
    let net = devnet(&dir, 0);
    let ports = [free_port(), free_port()];
    let provider_dir = |i: usize| dir.join(format!("provider-{i}"));
    let start = |i: usize| start_provider(&net, &dir, i, ports[i], 100_000_000);
    let stopped = start(0);
    let running = start(1);
    wait_for_offers(&net, 2);
    // Stopped (SIGTERM, waited for); its record stays active for a few heartbeats, so the deal
    // posted now still draws it.
    drop(stopped);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (deal, _, encoded) = post_deal(&net, &mut rng, Shape::new(1, 2).unwrap());
    let file = net.client.storage_file(digest_hex(&deal)).unwrap();
    let address = |i: usize| net.address(&format!("provider{i}")).to_string();
    for (slot, shard) in file.segments[0].shards.iter().zip(&encoded.shards) {
        if slot.holder == address(0) {
            store_while_down(&provider_dir(0), &deal, shard);
        } else {
            assert_eq!(slot.holder, address(1));
            let route = Client::new(&format!("http://127.0.0.1:{}", ports[1]));
            route.put_shard(&deal, 0, shard).unwrap();
        }
    }
    let _restarted = start(0);
    wait_for("the deal to be active", Duration::from_secs(120), || {
        net.client
            .storage_file(digest_hex(&deal))
            .is_ok_and(|f| f.file.shards_active == 2)
    });
    drop(running);
}

/// What the provider's PUT route had stored when the provider stopped: `shard`, in the store
/// under `dir`.
fn store_while_down(dir: &Path, deal: &Digest, shard: &Shard) {
    let store = plexus_provider::shards::ShardStore::open(dir).unwrap();
    store.put(&(*deal, 0, shard.index), shard).unwrap();
}

/// `plexus provider run` as devnet key `provideri`, in `dir/provider-i` (logging to
/// `dir/provider-i.log`), listening on `port`, selling `storage_bytes`.
fn start_provider(net: &Net, dir: &Path, i: usize, port: u16, storage_bytes: u64) -> Process {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("provider-{i}.log")))
        .unwrap();
    Process(
        Command::new(PLEXUS)
            .args(["provider", "run", "--key", &format!("provider{i}"), "--dir"])
            .arg(dir.join(format!("provider-{i}")))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--fuel-per-second", FUEL_PER_SECOND])
            .args(["--storage-bytes", &storage_bytes.to_string()])
            .env("PLEXUS_HOME", &net.home)
            .env("PLEXUS_NODE", format!("http://127.0.0.1:{}", net.api))
            .env("PLEXUS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// Regression: a storage offer the chain refuses (here: the provider is deregistering) must not
/// stop the provider, which still serves its compute record. It once did: the refusal was an
/// error of the registration, so the agent exited, and a devnet verifier whose operator
/// deregistered it while its offer was in flight stopped verifying.
#[test]
fn a_refused_storage_offer_does_not_stop_the_provider() {
    let dir = tempdir("storage-refused");
    let net = devnet(&dir, 0);
    let port = free_port();
    let first = start_provider(&net, &dir, 0, port, 100_000_000);
    wait_for_offers(&net, 1);
    drop(first);
    let out = net.plexus(&["provider", "deregister", "--from", "provider0"]);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    // Another figure: the restarted provider offers again, and the chain refuses it.
    let mut restarted = start_provider(&net, &dir, 0, port, 200_000_000);
    let log = dir.join("provider-0.log");
    wait_for("the refusal in the log", Duration::from_secs(120), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("storage offer was refused") || text.contains("the provider stopped")
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("storage offer was refused") && !text.contains("the provider stopped"),
        "{text}"
    );
    assert!(restarted.0.try_wait().unwrap().is_none(), "{text}");
}

/// A shard whose slot the chain drew again to another provider (its holder was down past the
/// accept window) is deleted by that holder when it starts again, and the new holder takes it.
#[test]
fn a_shard_whose_slot_was_drawn_again_elsewhere_is_collected() {
    let (seed, _print) = seed();
    let dir = tempdir("storage-redrawn");
    // Three providers for k = 1 of n = 2, so a lapsed slot has somewhere else to go.
    let net = devnet(&dir, 0);
    let ports = [free_port(), free_port(), free_port()];
    let mut providers: Vec<Option<Process>> = (0..3)
        .map(|i| Some(start_provider(&net, &dir, i, ports[i], 100_000_000)))
        .collect();
    wait_for_offers(&net, 3);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (deal, _, encoded) = post_deal(&net, &mut rng, Shape::new(1, 2).unwrap());
    let deal_hex = digest_hex(&deal);
    let addresses: Vec<String> = (0..3)
        .map(|i| net.address(&format!("provider{i}")).to_string())
        .collect();
    let index_of = |holder: &str| addresses.iter().position(|a| a == holder).unwrap();
    let file = net.client.storage_file(&deal_hex).unwrap();
    let holders: Vec<usize> = file.segments[0]
        .shards
        .iter()
        .map(|s| index_of(&s.holder))
        .collect();
    // Slot 0's holder stops, holding its shard but never accepting it.
    let lapsed = holders[0];
    drop(providers[lapsed].take());
    store_while_down(
        &dir.join(format!("provider-{lapsed}")),
        &deal,
        &encoded.shards[0],
    );
    let put = |i: usize, shard: &Shard| {
        let route = Client::new(&format!("http://127.0.0.1:{}", ports[i]));
        route.put_shard(&deal, 0, shard).unwrap();
    };
    put(holders[1], &encoded.shards[1]);
    let third = (0..3).find(|i| !holders.contains(i)).unwrap();
    wait_for("slot 0 drawn again", Duration::from_secs(120), || {
        net.client
            .storage_file(&deal_hex)
            .is_ok_and(|f| f.segments[0].shards[0].holder == addresses[third])
    });
    providers[lapsed] = Some(start_provider(
        &net,
        &dir,
        lapsed,
        ports[lapsed],
        100_000_000,
    ));
    let lapsed_copy = dir
        .join(format!("provider-{lapsed}"))
        .join("shards")
        .join(&deal_hex);
    wait_for(
        "the lapsed holder to delete its copy",
        Duration::from_secs(60),
        || !lapsed_copy.exists(),
    );
    put(third, &encoded.shards[0]);
    wait_for("the deal to be active", Duration::from_secs(120), || {
        net.client
            .storage_file(&deal_hex)
            .is_ok_and(|f| f.file.shards_active == 2)
    });
}
