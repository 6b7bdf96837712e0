//! A typed, blocking client of the node's HTTP API.

mod blob;

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
    #[error("unexpected response from the node: {0}")]
    Invalid(String),
    #[error("transaction {0} was not finalized within {1:?}")]
    Timeout(String, Duration),
}

impl ClientError {
    /// The API error code, if the node answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.code),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Client {
    base: String,
    http: reqwest::blocking::Client,
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
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn read<T: DeserializeOwned>(
        &self,
        response: reqwest::blocking::Response,
    ) -> Result<T, ClientError> {
        let status = response.status();
        let bytes = response
            .bytes()
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Invalid(e.to_string()));
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Api {
                status: status.as_u16(),
                body,
            }),
            Err(_) => Err(ClientError::Invalid(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&bytes)
            ))),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        let response = self
            .http
            .get(&url)
            .send()
            .map_err(|source| ClientError::Connect { url, source })?;
        self.read(response)
    }

    /// Submits a signed transaction; returns its hash.
    pub fn submit(&self, tx: &SignedTransaction) -> Result<String, ClientError> {
        self.submit_raw(tx.encode().to_vec())
    }

    /// Submits raw bytes as a transaction (tests use it to send garbage).
    pub fn submit_raw(&self, body: Vec<u8>) -> Result<String, ClientError> {
        let url = self.url("/v1/txs");
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .map_err(|source| ClientError::Connect { url, source })?;
        self.read::<SubmitResponse>(response).map(|r| r.hash)
    }

    /// Submits up to `TX_BATCH_MAX` signed transactions in one request (the body is the codec
    /// encoding of the list); returns one outcome per transaction, in order.
    pub fn submit_batch(
        &self,
        txs: &[SignedTransaction],
    ) -> Result<Vec<BatchItemDto>, ClientError> {
        let url = self.url("/v1/txs/batch");
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/octet-stream")
            .body(txs.to_vec().encode().to_vec())
            .send()
            .map_err(|source| ClientError::Connect { url, source })?;
        self.read(response)
    }

    /// The node's latest finalized block and the state after it, in their canonical encodings
    /// (`(Block, State)`), for state sync. Untrusted until checked against a finalization.
    pub fn snapshot(&self) -> Result<Vec<u8>, ClientError> {
        let url = self.url("/v1/snapshot");
        let response = self
            .http
            .get(&url)
            .timeout(std::time::Duration::from_secs(300))
            .send()
            .map_err(|source| ClientError::Connect { url, source })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        if !status.is_success() {
            return Err(ClientError::Invalid(format!(
                "HTTP {status} for the snapshot"
            )));
        }
        Ok(bytes.to_vec())
    }

    pub fn status(&self) -> Result<StatusDto, ClientError> {
        self.get("/v1/status")
    }

    pub fn account(&self, address: &Address) -> Result<AccountDto, ClientError> {
        self.get(&format!("/v1/accounts/{address}"))
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

    /// One job by id, hex (`unknown_job` if it was never posted or has been pruned).
    pub fn job(&self, id: &str) -> Result<JobDto, ClientError> {
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

    /// Registered verifiers.
    pub fn verifiers(&self) -> Result<Vec<crate::dto::VerifierDto>, ClientError> {
        self.get("/v1/verifiers")
    }

    pub fn faucet(&self, address: &Address, amount: Option<String>) -> Result<String, ClientError> {
        let url = self.url("/v1/faucet");
        let response = self
            .http
            .post(&url)
            .json(&FaucetRequest {
                address: address.to_string(),
                amount,
            })
            .send()
            .map_err(|source| ClientError::Connect { url, source })?;
        self.read::<SubmitResponse>(response).map(|r| r.hash)
    }

    /// Polls until `hash` is finalized (a 404 means not seen yet, e.g. a node restart).
    pub fn wait_finalized(
        &self,
        hash: &str,
        timeout: Duration,
    ) -> Result<TxStatusDto, ClientError> {
        let start = Instant::now();
        loop {
            match self.tx(hash) {
                Ok(status) if status.status == "finalized" => return Ok(status),
                Ok(_) => {}
                Err(ClientError::Api { status: 404, .. }) => {}
                Err(err) => return Err(err),
            }
            if start.elapsed() > timeout {
                return Err(ClientError::Timeout(hash.to_string(), timeout));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
