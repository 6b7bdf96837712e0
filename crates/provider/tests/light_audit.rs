//! Light audits over a real provider API: a verifier re-runs drawn segments of another
//! provider's job from that provider's own checkpoints, fetched over HTTP and checked against the
//! committed trace, and names the first segment that does not hold.

use plexus_blobs::BlobStore;
use plexus_client::Client;
use plexus_exec::{Engine, EngineOptions};
use plexus_provider::{
    checkpoints::CheckpointReader,
    http::{HttpState, ShardService, router},
    journal::Journal,
    leaves, rerun,
    runner::{Assignment, Runner},
    shards::ShardStore,
};
use plexus_types::ContentHash;
use plexus_types::job::Commitment;
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

/// Small segments, so the digits job has many.
const SEG_FUEL: u64 = 1 << 15;

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plexus-light-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn runner(dir: &Path, sources: Vec<Client>) -> Runner {
    let blobs = Arc::new(BlobStore::open(&dir.join("blobs"), Default::default()).unwrap());
    Runner::new(
        Engine::new(EngineOptions::default()).unwrap(),
        blobs,
        sources,
        dir.to_path_buf(),
        SEG_FUEL,
    )
}

/// Serves `runner`'s directory as a provider API on loopback; returns its URL.
fn serve(runner: &Runner) -> String {
    let state = HttpState {
        address: "plx1test".into(),
        journal: Arc::new(Mutex::new(Journal::open(&runner.dir).unwrap())),
        running: Arc::new(Mutex::new(BTreeSet::new())),
        blobs: runner.blobs.clone(),
        checkpoints: Arc::new(CheckpointReader::new(&runner.dir)),
        // No node: these tests read no shard.
        shards: Arc::new(ShardService {
            store: Arc::new(ShardStore::open(&runner.dir).unwrap()),
            node: Client::new("http://127.0.0.1:9"),
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

/// The cnn job over two images (one step per layer per image, so many segments), its content
/// stored in `runner`.
fn cnn_job(runner: &Runner, id: &[u8]) -> Assignment {
    let cnn = plexus_exec::builtin::lookup("cnn").unwrap();
    let images = 2u32;
    let mut input = images.to_le_bytes().to_vec();
    input.extend((0..images as usize * 4096).map(|i| (i * 7 % 251) as u8));
    Assignment {
        id: plexus_types::hash(&[id]),
        module: runner.blobs.put(cnn.wasm).unwrap(),
        blobs: cnn
            .blobs
            .iter()
            .map(|blob| runner.blobs.put(blob).unwrap())
            .collect(),
        input: runner.blobs.put(&input).unwrap(),
        max_fuel: 200_000_000,
    }
}

fn commitment(record: &plexus_provider::journal::CommitmentRecord) -> Commitment {
    Commitment {
        output_hash: ContentHash::parse(&record.output_hash).unwrap(),
        total_fuel: record.total_fuel,
        segments: record.segments,
        trace_root: ContentHash::parse(&record.trace_root).unwrap(),
        failed: record.failed,
    }
}

#[test]
fn light_audits_pass_honest_work_and_name_the_first_bad_segment() {
    let provider_dir = tempdir("provider");
    let provider = runner(&provider_dir, Vec::new());
    let job = cnn_job(&provider, b"honest");
    let (record, _) = provider.execute(&job).unwrap();
    let committed = commitment(&record);
    let n = u64::from(committed.segments);
    assert!(n >= 8, "want a job of many segments, got {n}");
    let url = serve(&provider);
    let api = Client::new(&url);
    let verifier_dir = tempdir("verifier");
    let verifier = runner(&verifier_dir, vec![Client::new(&url)]);

    // Honest work passes, whatever is drawn (segment 0 re-runs from the bare module).
    let drawn = [0, 3, n / 2, n - 1];
    assert_eq!(
        rerun::light_audit(&verifier, &job, &api, &committed, &drawn).unwrap(),
        None
    );

    // A provider that lies about one transition: leaf 5's state is replaced, and the commitment
    // is made over the lie. Drawing segment 4 (ending at leaf 5) catches it; so does drawing 5
    // (starting from it: the served checkpoint no longer matches the leaf).
    let mut leaves = leaves::read_leaves(&provider_dir, &job.id)
        .unwrap()
        .unwrap();
    leaves[5].1 = ContentHash::of(b"a state never computed");
    leaves::write_leaves(&provider_dir, &job.id, &leaves).unwrap();
    let lied = Commitment {
        trace_root: leaves::leaves_root(&leaves),
        ..committed.clone()
    };
    assert_eq!(
        rerun::light_audit(&verifier, &job, &api, &lied, &[1, 4, n - 1]).unwrap(),
        Some(4)
    );
    assert_eq!(
        rerun::light_audit(&verifier, &job, &api, &lied, &[5, n - 1]).unwrap(),
        Some(5)
    );
    // Segments away from the lie still hold.
    assert_eq!(
        rerun::light_audit(&verifier, &job, &api, &lied, &[1, 2, n - 1]).unwrap(),
        None
    );
    // Leaves that are not the committed trace count as withheld: the first drawn segment.
    assert_eq!(
        rerun::light_audit(&verifier, &job, &api, &committed, &[2, n - 1]).unwrap(),
        Some(2)
    );

    // A forger (the testing aid) fails the always-drawn last segment.
    let forger_dir = tempdir("forger");
    let mut forger = runner(&forger_dir, Vec::new());
    forger.forge = true;
    let forged_job = cnn_job(&forger, b"forged");
    let (forged, _) = forger.execute(&forged_job).unwrap();
    let forged_api = Client::new(&serve(&forger));
    let n = u64::from(forged.segments);
    assert_eq!(
        rerun::light_audit(
            &verifier,
            &forged_job,
            &forged_api,
            &commitment(&forged),
            &[0, 2, n - 1]
        )
        .unwrap(),
        Some(n - 1)
    );

    // A provider that serves nothing is disputed at the first drawn segment.
    let silent = Client::new("http://127.0.0.1:9");
    assert_eq!(
        rerun::light_audit(&verifier, &job, &silent, &committed, &[3, n - 1]).unwrap(),
        Some(3)
    );
    for dir in [provider_dir, verifier_dir, forger_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Four steps of real work (100 000 loop iterations each); the fourth ends in an out-of-bounds
/// load. At `SEG_FUEL` every step ends a segment: checkpoints 0-3, then the trap leaf.
const WORK_THEN_TRAP: &str = r#"(module
  (memory (export "memory") 1 1)
  (global $steps (mut i32) (i32.const 0))
  (global (export "plexus_output") i32 (i32.const 0))
  (func (export "init"))
  (func (export "step") (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))
    (global.set $steps (i32.add (global.get $steps) (i32.const 1)))
    (if (i32.eq (global.get $steps) (i32.const 4))
      (then (drop (i32.load (i32.const 0x7ffffff0)))))
    (i32.sub (i32.const 4) (global.get $steps))))"#;

#[test]
fn light_audits_agree_with_the_bill_of_a_trap() {
    let provider_dir = tempdir("trap-provider");
    let provider = runner(&provider_dir, Vec::new());
    let job = Assignment {
        id: plexus_types::hash(&[b"trap".as_slice()]),
        module: provider
            .blobs
            .put(&wat::parse_str(WORK_THEN_TRAP).unwrap())
            .unwrap(),
        blobs: Vec::new(),
        input: provider.blobs.put(b"").unwrap(),
        max_fuel: 100_000_000,
    };
    let (record, _) = provider.execute(&job).unwrap();
    // A trap bills max_fuel, whatever wasmtime's store showed when it fired.
    assert!(record.failed);
    assert_eq!(record.failure.as_deref(), Some("memory_out_of_bounds"));
    assert_eq!(record.total_fuel, job.max_fuel);
    let committed = commitment(&record);
    assert_eq!(committed.segments, 4);
    let url = serve(&provider);
    let api = Client::new(&url);
    let verifier_dir = tempdir("trap-verifier");
    let verifier = runner(&verifier_dir, vec![Client::new(&url)]);

    // Every segment holds, the trapping one (re-run from the provider's checkpoint 3) included.
    assert_eq!(
        rerun::light_audit(&verifier, &job, &api, &committed, &[0, 1, 2, 3]).unwrap(),
        None
    );

    // A provider that commits the store's stale count at the trap (the fuel of the last
    // checkpoint, plus one) is caught on the trapping segment.
    let mut leaves = leaves::read_leaves(&provider_dir, &job.id)
        .unwrap()
        .unwrap();
    leaves[4].0 = leaves[3].0 + 1;
    leaves::write_leaves(&provider_dir, &job.id, &leaves).unwrap();
    let understated = Commitment {
        total_fuel: leaves[4].0,
        trace_root: leaves::leaves_root(&leaves),
        ..committed
    };
    assert_eq!(
        rerun::light_audit(&verifier, &job, &api, &understated, &[1, 3]).unwrap(),
        Some(3)
    );
    for dir in [provider_dir, verifier_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The chain re-runs a disputed segment from the manifest the settling provider uploads for the
/// agreed leaf, whose index is that leaf's (`rerun::upload_pre_state`): the index field of the
/// provider's stored checkpoint record decides nothing. A light audit used to re-run from the
/// record's own index, so a record that said 0 re-ran `init` and disputed an honest trace the
/// chain would have upheld (the verifier then loses its deposit).
#[test]
fn a_light_audit_re_runs_a_segment_as_the_chain_would() {
    let provider_dir = tempdir("index-provider");
    let provider = runner(&provider_dir, Vec::new());
    let job = cnn_job(&provider, b"index");
    let (record, _) = provider.execute(&job).unwrap();
    let committed = commitment(&record);
    let n = u64::from(committed.segments);
    assert!(n >= 8, "want a job of many segments, got {n}");
    // Checkpoint 5's record with the wrong index, its state (fuel, globals, pages) intact.
    let reader = CheckpointReader::new(&provider_dir);
    let mut five = reader.checkpoint(&job.id, 5).unwrap().unwrap();
    five.index = 0;
    let path = provider_dir
        .join("checkpoints")
        .join(plexus_types::hash::digest_hex(&job.id))
        .join("5");
    std::fs::write(&path, plexus_provider::checkpoints::encode(&five)).unwrap();
    let url = serve(&provider);
    let verifier_dir = tempdir("index-verifier");
    let verifier = runner(&verifier_dir, vec![Client::new(&url)]);
    assert_eq!(
        rerun::light_audit(&verifier, &job, &Client::new(&url), &committed, &[5, n - 1]).unwrap(),
        None
    );
    for dir in [provider_dir, verifier_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
