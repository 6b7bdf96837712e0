//! The API beyond single transactions (batches, the faucet, the block stream, metrics, the
//! OpenAPI document) and the refusals of issue 12: small-order keys, replays and floods.

use crate::{FINALITY_TIMEOUT, api_code, free_port, key_address, plexus, read_key, start, tempdir};
use commonware_cryptography::Signer;
use plexus_client::{ClientError, TxBuilder};
use plexus_types::{Address, PLX, Payload, PrivateKey};
use std::time::{Duration, Instant};

#[test]
fn batch_faucet_stream_metrics_and_openapi() {
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let (_node, client) = start(&data, &home, api, p2p);
    let status = client.status().unwrap();
    assert!(status.faucet);

    // Batch: garbage and an empty list are malformed; one forged signature among good ones is
    // refused alone, the rest are admitted and finalize.
    let post = |body: Vec<u8>| {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}/v1/txs/batch", client.base()))
            .body(body)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<serde_json::Value>().unwrap())
    };
    let (code, body) = post(b"nonsense".to_vec());
    assert_eq!((code, body["code"].as_str()), (400, Some("malformed")));
    let (code, body) = post(vec![0]);
    assert_eq!((code, body["code"].as_str()), (400, Some("malformed")));
    let key = read_key(&home, "dev5");
    let builder = TxBuilder {
        key: &key,
        chain_id: status.chain_id,
        fee: 1_000,
    };
    let to = Address(read_key(&home, "dev6").public_key());
    let mut txs: Vec<_> = (0..5)
        .map(|n| {
            builder.build(
                n,
                Payload::Transfer {
                    to: to.clone(),
                    amount: 1,
                },
            )
        })
        .collect();
    txs[2].tx.fee = 2_000; // the signature no longer matches
    let items = client.submit_batch(&txs).unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(
        items[2].error.as_ref().map(|e| e.code.as_str()),
        Some("bad_signature")
    );
    for i in [0, 1] {
        assert!(items[i].hash.is_some(), "{i}: {:?}", items[i].error);
    }
    // Nonce 2 never arrived, so 3 and 4 would leave a gap: the mempool refuses them.
    for i in [3, 4] {
        assert_eq!(
            items[i].error.as_ref().map(|e| e.code.as_str()),
            Some("nonce_too_high")
        );
    }
    client
        .wait_finalized(items[1].hash.as_ref().unwrap(), FINALITY_TIMEOUT)
        .unwrap();

    // Faucet: funds a fresh address; refuses garbage and excess.
    let fresh = Address(PrivateKey::from_seed(777).public_key());
    let hash = client.faucet(&fresh, Some("2.5plx".into())).unwrap();
    client.wait_finalized(&hash, FINALITY_TIMEOUT).unwrap();
    assert_eq!(
        client.account(&fresh).unwrap().balance,
        (2 * PLX + PLX / 2).to_string()
    );
    assert_eq!(
        client
            .faucet(&fresh, Some("1000000plx".into()))
            .unwrap_err()
            .code(),
        Some("invalid_amount")
    );
    assert_eq!(
        client.faucet(&fresh, Some("-1".into())).unwrap_err().code(),
        Some("invalid_amount")
    );
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/v1/faucet", client.base()))
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    // The block stream delivers finalized blocks as server-sent events.
    let mut stream = reqwest::blocking::Client::new()
        .get(format!("{}/v1/stream/blocks", client.base()))
        .send()
        .unwrap();
    let mut text = String::new();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    while !text.contains("event: block") {
        assert!(
            started.elapsed() < FINALITY_TIMEOUT,
            "no block event: {text}"
        );
        use std::io::Read;
        let n = stream.read(&mut buf).unwrap();
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(text.contains("\"state_root\""), "{text}");

    // Metrics and the OpenAPI document describe what the node does.
    let metrics = reqwest::blocking::get(format!("{}/metrics", client.base()))
        .unwrap()
        .text()
        .unwrap();
    for name in [
        "plexus_height",
        "plexus_mempool_size",
        "plexus_finalization_latency_seconds",
        "plexus_txs_accepted_total",
        "plexus_txs_rejected_total{reason=\"bad_signature\"}",
    ] {
        assert!(metrics.contains(name), "missing {name} in\n{metrics}");
    }
    let openapi: serde_json::Value =
        reqwest::blocking::get(format!("{}/v1/openapi.json", client.base()))
            .unwrap()
            .json()
            .unwrap();
    for path in [
        "/v1/txs",
        "/v1/txs/batch",
        "/v1/txs/{hash}",
        "/v1/accounts/{address}",
        "/v1/accounts/{address}/proof",
        "/v1/blocks/{height}",
        "/v1/blocks/latest",
        "/v1/validators",
        "/v1/status",
        "/v1/faucet",
        "/v1/stream/blocks",
        "/v1/blobs",
        "/v1/blobs/{hash}",
        "/metrics",
        "/v1/openapi.json",
    ] {
        assert!(openapi["paths"][path].is_object(), "openapi lacks {path}");
    }
    // Parameters carry the syntax the node accepts.
    let schemas = &openapi["components"]["schemas"];
    assert_eq!(
        schemas["Address"]["pattern"],
        plexus_client::dto::params::ADDRESS_PATTERN
    );
    assert_eq!(
        schemas["Hash"]["pattern"],
        plexus_client::dto::params::HASH_PATTERN
    );
    assert_eq!(schemas["Height"]["maximum"], u64::MAX);
}

/// Issue 12, finding 1: a small-order key (the all-zero key is one) "signs" anything under
/// ZIP-215. The node refuses it as a sender (a forged all-zero signature) and as a recipient, at
/// the API (single and batch) and the faucet, with `weak_key`; the CLI refuses it as `--to`.
#[test]
fn small_order_keys_are_refused_at_the_api_and_the_cli() {
    use commonware_codec::DecodeExt;
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let (_node, client) = start(&data, &home, api, p2p);
    let chain_id = client.status().unwrap().chain_id;
    let weak = Address::from_bytes(&[0u8; 32]).unwrap();
    let weak_text = weak.to_string();
    assert!(weak_text.starts_with("plx1qqqq"), "{weak_text}");

    // A transfer out of the weak key, "signed" with zeros: the signature verifies, the key is refused.
    let forged = plexus_types::SignedTransaction {
        tx: plexus_types::Transaction {
            chain_id,
            sender: weak.clone(),
            nonce: 0,
            fee: 1_000,
            payload: Payload::Transfer {
                to: key_address(&home, api, "dev1"),
                amount: 1,
            },
        },
        signature: plexus_types::Signature::decode(commonware_codec::Copying(&[0u8; 64][..]))
            .unwrap(),
    };
    assert!(forged.verify_signature());
    assert_eq!(api_code(client.submit(&forged)), "weak_key");
    let items = client.submit_batch(std::slice::from_ref(&forged)).unwrap();
    assert_eq!(
        items[0].error.as_ref().map(|e| e.code.as_str()),
        Some("weak_key")
    );

    // Sending to it: refused by the node (a client that skips the CLI's check) and the faucet.
    let key = read_key(&home, "dev2");
    let builder = TxBuilder {
        key: &key,
        chain_id,
        fee: 1_000,
    };
    let to_weak = builder.build(
        0,
        Payload::Transfer {
            to: weak.clone(),
            amount: PLX,
        },
    );
    assert_eq!(api_code(client.submit(&to_weak)), "weak_key");
    match client.faucet(&weak, Some("1plx".into())) {
        Err(ClientError::Api { status, body }) => {
            assert_eq!((status, body.code.as_str()), (400, "weak_key"))
        }
        other => panic!("the faucet paid a weak key: {other:?}"),
    }

    // The CLI says why before anything is sent.
    let out = plexus(
        &home,
        api,
        &[
            "tx", "transfer", "--from", "dev2", "--to", &weak_text, "--amount", "1plx",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("small-order") && stderr.contains("weak_key"),
        "{stderr}"
    );
    let weak_balance = client.account(&weak).map(|a| a.balance);
    assert!(
        matches!(
            weak_balance.as_deref(),
            Ok("0") | Err(ClientError::Api { status: 404, .. })
        ),
        "{weak_balance:?}"
    );
    assert_eq!(
        client
            .account(&key_address(&home, api, "dev2"))
            .unwrap()
            .nonce,
        0
    );
}

/// Issue 12, finding 4: a flood that costs its sender nothing must cost the node little, and
/// one client cannot take the node. A finalized batch posted again is refused on its nonces
/// before any signature is checked (so even forged signatures answer `replayed_nonce`); a client
/// over its budget of transaction bytes gets 429 `rate_limited` with `Retry-After`, while
/// another client is served.
#[test]
fn replays_are_refused_before_signatures_and_floods_are_limited_per_client() {
    let workdir = tempdir();
    let (home, data) = (workdir.join("home"), workdir.join("data"));
    let (api, p2p) = (free_port(), free_port());
    let (_node, client) = start(&data, &home, api, p2p);
    let chain_id = client.status().unwrap().chain_id;
    let key = read_key(&home, "dev3");
    let builder = TxBuilder {
        key: &key,
        chain_id,
        fee: 1_000,
    };
    let to = key_address(&home, api, "dev4");
    let txs: Vec<_> = (0..5)
        .map(|n| {
            builder.build(
                n,
                Payload::Transfer {
                    to: to.clone(),
                    amount: 1,
                },
            )
        })
        .collect();
    let items = client.submit_batch(&txs).unwrap();
    for item in &items {
        client
            .wait_finalized(item.hash.as_ref().unwrap(), Duration::from_secs(30))
            .unwrap();
    }
    // The same batch with every signature broken: refused for its nonces, not its signatures.
    let mut replayed = txs.clone();
    for tx in &mut replayed {
        tx.tx.fee += 1;
    }
    let items = client.submit_batch(&replayed).unwrap();
    for item in &items {
        assert_eq!(
            item.error.as_ref().map(|e| e.code.as_str()),
            Some("replayed_nonce"),
            "{item:?}"
        );
    }
    assert_eq!(api_code(client.submit(&replayed[0])), "replayed_nonce");

    // A flooding client (another loopback address) sends 4 MB bodies: its 6 MiB burst at
    // 2 MiB/s runs out within three of them, whatever the machine's speed (each request is
    // over in much less than the second it would take to earn one back).
    let flooder = reqwest::blocking::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut body = vec![0xe8, 0x07]; // varint 1000
    body.resize(4_000_000, 0);
    let mut limited = None;
    for _ in 0..3 {
        let response = flooder
            .post(format!("{}/v1/txs/batch", client.base()))
            .body(body.clone())
            .send()
            .unwrap();
        if response.status().as_u16() == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let code = response.json::<serde_json::Value>().unwrap()["code"].clone();
            limited = Some((retry, code));
            break;
        }
    }
    let (retry, code) = limited.expect("the flooding client was never limited");
    assert!((1..=3).contains(&retry), "Retry-After {retry}");
    assert_eq!(code, "rate_limited");
    // Another client is served meanwhile, and a one-transaction client too.
    assert!(client.status().is_ok());
    let next = builder.build(
        5,
        Payload::Transfer {
            to: to.clone(),
            amount: 1,
        },
    );
    let hash = client.submit(&next).unwrap();
    client
        .wait_finalized(&hash, Duration::from_secs(30))
        .unwrap();
}
