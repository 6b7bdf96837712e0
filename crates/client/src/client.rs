//! A typed, blocking client of the node's HTTP API.
//!
//! A node may restart under a client (an upgrade, a crash, `kill -9`): its port refuses
//! connections, resets them, or a proxy answers 502/503/504 for a while. Every request is
//! therefore retried on such a transient failure (`ClientError::is_transient`) with exponential
//! backoff, at most `RetryPolicy::attempts_max` times, and never on a 4xx other than 429 (over
//! a per-client budget: retry later): the node answered and meant it. Only requests that are safe to repeat are repeated after the node may have
//! received them: reads, content-addressed blob uploads, and a transaction's own signed bytes
//! (a retry answered `duplicate` or `replayed_nonce` is the first attempt having landed; see
//! `submit`). The faucet, which signs a new transfer per request, is retried only when the
//! connection was refused. `submit_and_wait` and `until` also wait out a node that stays down
//! longer than one request's retries, until the caller's timeout.

mod blob;
mod shards;

use crate::dto::*;
use commonware_codec::Encode;
use plexus_types::{Address, SignedTransaction};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// What can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the node at {url}: {source}")]
    Connect { url: String, source: reqwest::Error },
    /// The node refused the request with a documented error.
    #[error("{} ({})", .body.message, .body.code)]
    Api { status: u16, body: ErrorBody },
    /// An error status without the API's JSON body (a proxy in front of the node, say).
    #[error("HTTP {status} from {url}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("unexpected response from the node: {0}")]
    Invalid(String),
    #[error("transaction {0} was not finalized within {1:?}")]
    Timeout(String, Duration),
}

/// Statuses that say "not now" rather than "no": a node behind a proxy while it restarts, one
/// too busy to admit (`mempool_full`), or a client over its request budget (429,
/// `rate_limited`, `account_mempool_full`).
const TRANSIENT_STATUSES: [u16; 4] = [429, 502, 503, 504];

/// A 429 is answered before the request is acted on (the per-client limiter runs before any
/// handler; `account_mempool_full` admits nothing), so even a request unsafe to repeat may be
/// sent again after one.
const REFUSED_UNSEEN: u16 = 429;

impl ClientError {
    /// The API error code, if the node answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: the node was unreachable, the connection broke or
    /// timed out, or it answered 502, 503 or 504, or 429 (over a budget). No other 4xx.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Connect { source, .. } => {
                !(source.is_builder() || source.is_redirect() || source.is_status())
            }
            ClientError::Api { status, .. } | ClientError::Status { status, .. } => {
                TRANSIENT_STATUSES.contains(status)
            }
            ClientError::Invalid(_) | ClientError::Timeout(..) => false,
        }
    }

    /// Whether the request certainly had no effect (the connection was refused, or the node
    /// answered 429 before acting on it), so even a request that is not safe to repeat may be
    /// sent again.
    fn is_unsent(&self) -> bool {
        match self {
            ClientError::Connect { source, .. } => source.is_connect(),
            ClientError::Api { status, .. } | ClientError::Status { status, .. } => {
                *status == REFUSED_UNSEEN
            }
            _ => false,
        }
    }
}

/// How requests that fail transiently are retried: `attempts_max` attempts in all, sleeping
/// `backoff_initial_ms` after the first failure and doubling up to `backoff_max_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts_max: u32,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
}

impl RetryPolicy {
    /// One attempt: for callers that measure (benchmarks) or poll on their own.
    pub const NONE: RetryPolicy = RetryPolicy {
        attempts_max: 1,
        backoff_initial_ms: 0,
        backoff_max_ms: 0,
    };
}

impl Default for RetryPolicy {
    /// Eight attempts over about seven seconds: a node that restarts within that is not noticed.
    fn default() -> Self {
        RetryPolicy {
            attempts_max: 8,
            backoff_initial_ms: 100,
            backoff_max_ms: 2_000,
        }
    }
}

/// The pause between polls of a waiting call.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How often a transaction the node no longer knows (lost from its mempool in a restart) is
/// sent again by `submit_and_wait`.
const RESUBMIT_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::blocking::Client,
    retry: RetryPolicy,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client with a timeout always builds");
        Client {
            base: base.trim_end_matches('/').to_string(),
            http,
            retry: RetryPolicy::default(),
        }
    }

    /// This client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the policy's attempts are spent.
    /// `repeatable`: whether the request may be sent again after the node may have received
    /// it; if not, only a refused connection is retried.
    fn retrying<T>(
        &self,
        repeatable: bool,
        mut attempt: impl FnMut() -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut backoff_ms = self.retry.backoff_initial_ms;
        for _ in 1..self.retry.attempts_max.max(1) {
            match attempt() {
                Err(err) if err.is_transient() && (repeatable || err.is_unsent()) => {
                    std::thread::sleep(Duration::from_millis(backoff_ms));
                    backoff_ms = (backoff_ms * 2).min(self.retry.backoff_max_ms);
                }
                done => return done,
            }
        }
        attempt()
    }

    /// Sends `request` to `url` and reads its JSON answer (one attempt).
    fn exchange<T: DeserializeOwned>(
        &self,
        url: &str,
        request: reqwest::blocking::RequestBuilder,
    ) -> Result<T, ClientError> {
        let connect = |source| ClientError::Connect {
            url: url.to_string(),
            source,
        };
        let response = request.send().map_err(connect)?;
        let status = response.status();
        // A connection that breaks mid-body is as transient as one refused.
        let bytes = response.bytes().map_err(connect)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Invalid(e.to_string()));
        }
        Err(error_answer(url, status, &bytes))
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        self.retrying(true, || self.exchange(&url, self.http.get(&url)))
    }

    /// Submits a signed transaction; returns its hash. A transient failure is retried with the
    /// same signed bytes; if a retry is answered `duplicate` (it is in the mempool) or
    /// `replayed_nonce` with the transaction finalized, the first attempt reached the node and
    /// this is its hash. Answered on the first attempt, both are errors as usual.
    pub fn submit(&self, tx: &SignedTransaction) -> Result<String, ClientError> {
        let hash = plexus_types::hash::digest_hex(&tx.hash());
        let body = tx.encode().to_vec();
        let mut retried = false;
        let result = self.retrying(true, || {
            let result = self.submit_once(body.clone());
            retried |= result.as_ref().is_err_and(ClientError::is_transient);
            result
        });
        match result {
            Err(err) if retried => self.landed_already(&hash, err),
            result => result,
        }
    }

    /// After a retried submission of `hash` answered `err`: `Ok(hash)` if `err` says an
    /// earlier attempt landed, else `err`.
    fn landed_already(&self, hash: &str, err: ClientError) -> Result<String, ClientError> {
        match err.code() {
            Some("duplicate") => Ok(hash.to_string()),
            // The nonce is taken by a finalized transaction: this one, if the node has it.
            Some("replayed_nonce") if self.tx(hash).is_ok() => Ok(hash.to_string()),
            _ => Err(err),
        }
    }

    fn submit_once(&self, body: Vec<u8>) -> Result<String, ClientError> {
        let url = self.url("/v1/txs");
        let request = self
            .http
            .post(&url)
            .header("content-type", "application/octet-stream")
            .body(body);
        self.exchange::<SubmitResponse>(&url, request)
            .map(|r| r.hash)
    }

    /// Submits raw bytes as a transaction, once (tests use it to send garbage).
    pub fn submit_raw(&self, body: Vec<u8>) -> Result<String, ClientError> {
        self.submit_once(body)
    }

    /// Submits `tx` and waits until it is finalized, through restarts of the node: transient
    /// failures are waited out until `timeout`, and a transaction the node no longer knows (a
    /// restart empties its mempool) is sent again with the same signed bytes.
    pub fn submit_and_wait(
        &self,
        tx: &SignedTransaction,
        timeout: Duration,
    ) -> Result<TxStatusDto, ClientError> {
        let deadline = Instant::now() + timeout;
        let hash = self.until(deadline, || self.submit(tx))?;
        let mut resubmitted = Instant::now();
        loop {
            match self.tx(&hash) {
                Ok(status) if status.status == TxState::Finalized => return Ok(status),
                Ok(_) => {}
                Err(ClientError::Api { status: 404, .. })
                    if resubmitted.elapsed() >= RESUBMIT_INTERVAL =>
                {
                    resubmitted = Instant::now();
                    match self.submit_once(tx.encode().to_vec()) {
                        Ok(_) => {}
                        Err(err) if err.is_transient() => {}
                        Err(err) => {
                            self.landed_already(&hash, err)?;
                        }
                    }
                }
                Err(ClientError::Api { status: 404, .. }) => {}
                Err(err) if err.is_transient() => {}
                Err(err) => return Err(err),
            }
            if Instant::now() > deadline {
                return Err(ClientError::Timeout(hash, timeout));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Calls `f` until it succeeds or fails for good: a transient failure that outlasts one
    /// request's retries is tried again until `deadline`. For callers that wait anyway.
    pub fn until<T>(
        &self,
        deadline: Instant,
        mut f: impl FnMut() -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        loop {
            match f() {
                Err(err) if err.is_transient() && Instant::now() < deadline => {
                    std::thread::sleep(POLL_INTERVAL);
                }
                done => return done,
            }
        }
    }

    /// Submits up to `TX_BATCH_MAX` signed transactions in one request (the body is the codec
    /// encoding of the list); returns one outcome per transaction, in order. Sent once: a
    /// caller that retries sees each earlier arrival as its item's `duplicate`.
    pub fn submit_batch(
        &self,
        txs: &[SignedTransaction],
    ) -> Result<Vec<BatchItemDto>, ClientError> {
        let url = self.url("/v1/txs/batch");
        let request = self
            .http
            .post(&url)
            .header("content-type", "application/octet-stream")
            .body(txs.to_vec().encode().to_vec());
        self.exchange(&url, request)
    }

    /// The node's latest finalized block and the state after it, in their canonical encodings
    /// (`(Block, State)`), for state sync. Untrusted until checked against a finalization.
    pub fn snapshot(&self) -> Result<Vec<u8>, ClientError> {
        let url = self.url("/v1/snapshot");
        self.retrying(true, || {
            let connect = |source| ClientError::Connect {
                url: url.clone(),
                source,
            };
            let response = self
                .http
                .get(&url)
                .timeout(std::time::Duration::from_secs(300))
                .send()
                .map_err(connect)?;
            let status = response.status();
            let bytes = response.bytes().map_err(connect)?;
            if !status.is_success() {
                return Err(error_answer(&url, status, &bytes));
            }
            Ok(bytes.to_vec())
        })
    }

    pub fn status(&self) -> Result<StatusDto, ClientError> {
        self.get("/v1/status")
    }

    pub fn account(&self, address: &Address) -> Result<AccountDto, ClientError> {
        self.get(&format!("/v1/accounts/{address}"))
    }

    /// `address`'s accrued staking rewards and the stake that earns them.
    pub fn rewards(&self, address: &Address) -> Result<RewardsDto, ClientError> {
        self.get(&format!("/v1/accounts/{address}/rewards"))
    }

    pub fn proof(&self, address: &Address) -> Result<ProofDto, ClientError> {
        self.get(&format!("/v1/accounts/{address}/proof"))
    }

    pub fn block(&self, height: Option<u64>) -> Result<BlockDto, ClientError> {
        match height {
            Some(h) => self.get(&format!("/v1/blocks/{h}")),
            None => self.get("/v1/blocks/latest"),
        }
    }

    pub fn tx(&self, hash: &str) -> Result<TxStatusDto, ClientError> {
        self.get(&format!("/v1/txs/{hash}"))
    }

    pub fn validators(&self) -> Result<Vec<ValidatorDto>, ClientError> {
        self.get("/v1/validators")
    }

    /// Every registered provider (deregistering ones until their bond is released).
    pub fn providers(&self) -> Result<Vec<ProviderDto>, ClientError> {
        self.get("/v1/providers")
    }

    /// One provider (`unknown_provider` if it is not registered).
    pub fn provider(&self, address: &Address) -> Result<ProviderDto, ClientError> {
        self.get(&format!("/v1/providers/{address}"))
    }

    /// One job by id, hex (`unknown_job` if it was never posted or has been pruned): a
    /// [`HexDigest`] or the text a user typed.
    pub fn job(&self, id: impl std::fmt::Display) -> Result<JobDto, ClientError> {
        self.get(&format!("/v1/jobs/{id}"))
    }

    /// A consumer's jobs, newest first, at most `limit` (the node caps it at `JOBS_LIST_MAX`).
    pub fn jobs_of_consumer(
        &self,
        consumer: &Address,
        limit: usize,
    ) -> Result<Vec<JobDto>, ClientError> {
        self.get(&format!("/v1/jobs?consumer={consumer}&limit={limit}"))
    }

    /// The jobs assigned to a provider, newest first, at most `limit`: how a provider agent
    /// finds its work.
    pub fn jobs_of_provider(
        &self,
        provider: &Address,
        limit: usize,
    ) -> Result<Vec<JobDto>, ClientError> {
        self.get(&format!("/v1/jobs?provider={provider}&limit={limit}"))
    }

    /// Jobs `verifier` audits or disputes, newest first.
    pub fn jobs_of_verifier(
        &self,
        verifier: &Address,
        limit: usize,
    ) -> Result<Vec<JobDto>, ClientError> {
        self.get(&format!("/v1/jobs?verifier={verifier}&limit={limit}"))
    }

    /// One stored file by id, hex (`unknown_deal` if it was never posted or its deal ended),
    /// with every segment and shard: a [`HexDigest`] or the text a user typed.
    pub fn storage_file(&self, id: impl std::fmt::Display) -> Result<StorageFileDto, ClientError> {
        self.get(&format!("/v1/storage/files/{id}"))
    }

    /// An owner's open stored files, newest first, at most `limit` (the node caps it at
    /// `LIST_MAX`), without their segments.
    pub fn storage_files_of_owner(
        &self,
        owner: &Address,
        limit: usize,
    ) -> Result<Vec<StorageFileSummaryDto>, ClientError> {
        self.get(&format!("/v1/storage/files?owner={owner}&limit={limit}"))
    }

    /// The storage market's chain parameters: what a deal must name and how long to wait.
    pub fn storage_params(&self) -> Result<StorageParamsDto, ClientError> {
        self.get("/v1/storage/params")
    }

    /// Every governed chain parameter with its bounds, by section.
    pub fn params(&self) -> Result<crate::dto::ParamsDto, ClientError> {
        self.get("/v1/params")
    }

    /// The newest governance proposals (at most `limit`, newest first).
    pub fn proposals(
        &self,
        limit: Option<usize>,
    ) -> Result<Vec<crate::dto::ProposalDto>, ClientError> {
        match limit {
            Some(limit) => self.get(&format!("/v1/proposals?limit={limit}")),
            None => self.get("/v1/proposals"),
        }
    }

    /// Governance proposal `id`.
    pub fn proposal(&self, id: u64) -> Result<crate::dto::ProposalDto, ClientError> {
        self.get(&format!("/v1/proposals/{id}"))
    }

    /// Every provider's storage offer, with what its draws weigh.
    pub fn storage_providers(&self) -> Result<Vec<StorageOfferDto>, ClientError> {
        self.get("/v1/storage/providers")
    }

    /// Every shard drawn to or held by `holder` (drawn, active, faulty or repairing), with its
    /// commitment and latest challenge: what a provider's agent polls to accept, prove and
    /// repair.
    pub fn holder_shards(
        &self,
        holder: impl std::fmt::Display,
    ) -> Result<Vec<HolderShardDto>, ClientError> {
        self.get(&format!("/v1/storage/holders/{holder}/shards"))
    }

    /// Registered verifiers.
    pub fn verifiers(&self) -> Result<Vec<crate::dto::VerifierDto>, ClientError> {
        self.get("/v1/verifiers")
    }

    /// Asks the devnet faucet for `amount` (default 100 PLX). Each request signs a new transfer,
    /// so it is repeated only if the connection was refused.
    pub fn faucet(&self, address: &Address, amount: Option<String>) -> Result<String, ClientError> {
        let url = self.url("/v1/faucet");
        let request = FaucetRequest {
            address: address.to_string(),
            amount,
        };
        self.retrying(false, || {
            let request = self.http.post(&url).json(&request);
            self.exchange::<SubmitResponse>(&url, request)
        })
        .map(|r| r.hash)
    }

    /// Polls until `hash` is finalized (a 404 means not seen yet, e.g. a node restart), at most
    /// `timeout`. A node still unreachable after one request's retries is an error here, so a
    /// caller with its own loop (the provider agent, which must also stop when asked) decides;
    /// `submit_and_wait` waits out longer outages.
    pub fn wait_finalized(
        &self,
        hash: &str,
        timeout: Duration,
    ) -> Result<TxStatusDto, ClientError> {
        let start = Instant::now();
        loop {
            match self.tx(hash) {
                Ok(status) if status.status == TxState::Finalized => return Ok(status),
                Ok(_) => {}
                Err(ClientError::Api { status: 404, .. }) => {}
                Err(err) => return Err(err),
            }
            if start.elapsed() > timeout {
                return Err(ClientError::Timeout(hash.to_string(), timeout));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

/// The error a non-2xx answer carries: the API's `{code, message}`, or the status and text.
fn error_answer(url: &str, status: reqwest::StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Api {
            status: status.as_u16(),
            body,
        },
        Err(_) => ClientError::Status {
            url: url.to_string(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(bytes).into_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{
        io::{Read, Write},
        sync::{Arc, Mutex},
    };

    /// A server on loopback answering its connections with `answers` in turn (status, body),
    /// recording each request's first line; past the script it answers 500.
    fn scripted(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for stream in listener.incoming().take(16) {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 8192];
                let n = stream.read(&mut request).unwrap_or(0);
                let text = String::from_utf8_lossy(&request[..n]).into_owned();
                log.lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or("").to_string());
                let (status, body) = answers.next().unwrap_or((500, "{}"));
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        (format!("http://{address}"), seen)
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts_max: 4,
            backoff_initial_ms: 1,
            backoff_max_ms: 2,
        }
    }

    const BUSY: &str = r#"{"code":"mempool_full","message":"busy"}"#;

    #[test]
    fn transient_answers_are_retried_and_a_4xx_never() {
        let (url, seen) = scripted(vec![(503, BUSY), (502, "bad gateway"), (200, "[]")]);
        let client = Client::new(&url).with_retry(fast());
        assert!(client.validators().unwrap().is_empty());
        assert_eq!(seen.lock().unwrap().len(), 3);

        let (url, seen) = scripted(vec![(404, r#"{"code":"unknown_tx","message":"no"}"#)]);
        let client = Client::new(&url).with_retry(fast());
        assert_eq!(
            client.tx(&"ab".repeat(32)).unwrap_err().code(),
            Some("unknown_tx")
        );
        assert_eq!(seen.lock().unwrap().len(), 1);

        // The attempts are bounded: the last transient answer is the error.
        let (url, seen) = scripted(vec![(503, BUSY); 6]);
        let client = Client::new(&url).with_retry(fast());
        assert!(client.status().unwrap_err().is_transient());
        assert_eq!(seen.lock().unwrap().len(), 4);

        // A refused connection is retried until the attempts run out.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = Client::new(&format!("http://127.0.0.1:{port}")).with_retry(fast());
        assert!(client.status().unwrap_err().is_transient());
    }

    #[test]
    fn a_429_is_waited_out_even_for_a_request_unsafe_to_repeat() {
        use commonware_cryptography::Signer;
        const LIMITED: &str = r#"{"code":"rate_limited","message":"retry in 1 s"}"#;
        let hash = "ab".repeat(32);
        let answer: &'static str = format!(r#"{{"hash":"{hash}"}}"#).leak();
        // The faucet signs a new transfer per request, so a 503 after sending is not retried;
        // a 429 is answered before any handler runs, so it is.
        let (url, seen) = scripted(vec![(429, LIMITED), (429, LIMITED), (200, answer)]);
        let client = Client::new(&url).with_retry(fast());
        let address = Address(plexus_types::PrivateKey::from_seed(1).public_key());
        assert_eq!(client.faucet(&address, None).unwrap(), hash);
        assert_eq!(seen.lock().unwrap().len(), 3);

        let (url, seen) = scripted(vec![(503, BUSY), (200, answer)]);
        let client = Client::new(&url).with_retry(fast());
        assert!(client.faucet(&address, None).is_err());
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_retried_submission_answered_duplicate_is_the_first_one_landing() {
        use commonware_cryptography::Signer;
        let key = plexus_types::PrivateKey::from_seed(1);
        let tx = plexus_types::Transaction {
            chain_id: 1,
            sender: Address(key.public_key()),
            nonce: 0,
            fee: 1,
            payload: plexus_types::Payload::Bond { amount: 1 },
        }
        .sign(&key);
        let hash = plexus_types::hash::digest_hex(&tx.hash());
        let duplicate = r#"{"code":"duplicate","message":"already pending"}"#;
        // First attempt: the node answers 503 (say, a proxy while it restarts) after it took
        // the transaction; the retry finds it pending.
        let (url, seen) = scripted(vec![(503, BUSY), (409, duplicate)]);
        let client = Client::new(&url).with_retry(fast());
        assert_eq!(client.submit(&tx).unwrap(), hash);
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter().all(|line| line.starts_with("POST /v1/txs ")),
            "{seen:?}"
        );
        // Answered on the first attempt, `duplicate` is the caller's own repeat: an error.
        let (url, _) = scripted(vec![(409, duplicate)]);
        let client = Client::new(&url).with_retry(fast());
        assert_eq!(client.submit(&tx).unwrap_err().code(), Some("duplicate"));
    }
}
