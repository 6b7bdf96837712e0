//! Blob upload and download (`/v1/blobs`), on a node or a provider.

use super::{Client, ClientError};
use crate::dto::BlobDto;
use plexus_types::ContentHash;
use std::time::Duration;

/// Uploads and downloads may carry tens of megabytes: a longer timeout than other calls.
const BLOB_TIMEOUT: Duration = Duration::from_secs(300);

impl Client {
    /// Stores `bytes` under `hash` (their BLAKE3 hash; the server checks it). Repeatable: the
    /// store is content-addressed.
    pub fn put_blob(&self, hash: &ContentHash, bytes: Vec<u8>) -> Result<BlobDto, ClientError> {
        self.put_bytes(&format!("/v1/blobs/{hash}"), bytes::Bytes::from(bytes))
    }

    /// PUTs `body` at `path` with the blob timeout and reads the JSON answer; only for routes
    /// where a repeat is harmless (content-addressed or checked stores: blobs, shards). Each
    /// attempt shares `body`'s buffer rather than copying it.
    pub(super) fn put_bytes<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: bytes::Bytes,
    ) -> Result<T, ClientError> {
        let url = self.url(path);
        self.retrying(true, || {
            let request = self
                .http
                .put(&url)
                .timeout(BLOB_TIMEOUT)
                .header("content-type", "application/octet-stream")
                .body(body.clone());
            self.exchange(&url, request)
        })
    }

    /// The bytes of blob `hash` (at most `max_bytes`), or `None` if the server does not hold it.
    /// The bytes are NOT checked here: callers check them against the hash they trust.
    pub fn get_blob(
        &self,
        hash: &ContentHash,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        self.get_bytes(&format!("/v1/blobs/{hash}"), max_bytes)
    }

    /// Raw bytes at `path` (`None` on 404), with the blob timeout; a body over `max_bytes` is
    /// an error, found without reading more than `max_bytes + 1` bytes of it.
    pub fn get_bytes(&self, path: &str, max_bytes: u64) -> Result<Option<Vec<u8>>, ClientError> {
        self.get_bytes_with(path, &[], max_bytes)
    }

    /// [`Client::get_bytes`] with extra request headers (a shard read's authorization).
    pub(super) fn get_bytes_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let url = self.url(path);
        self.retrying(true, || {
            let mut request = self.http.get(&url).timeout(BLOB_TIMEOUT);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            self.get_bytes_once(&url, path, request, max_bytes)
        })
    }

    fn get_bytes_once(
        &self,
        url: &str,
        path: &str,
        request: reqwest::blocking::RequestBuilder,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let connect = |source| ClientError::Connect {
            url: url.to_string(),
            source,
        };
        let response = request.send().map_err(connect)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let bytes = response.bytes().map_err(connect)?;
            return Err(super::error_answer(url, status, &bytes));
        }
        if response.content_length().is_some_and(|len| len > max_bytes) {
            return Err(ClientError::Invalid(format!(
                "{path} is over the {max_bytes}-byte limit"
            )));
        }
        // Sized up front from the announced length (bounded by the limit), so a large body is
        // not copied again each time a growing buffer doubles.
        let announced = response.content_length().unwrap_or(0).min(max_bytes);
        let mut bytes = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
        std::io::Read::read_to_end(
            &mut std::io::Read::take(response, max_bytes + 1),
            &mut bytes,
        )
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
        if bytes.len() as u64 > max_bytes {
            return Err(ClientError::Invalid(format!(
                "{path} is over the {max_bytes}-byte limit"
            )));
        }
        Ok(Some(bytes))
    }
}
