//! The `pco` capability: authenticated HTTP to one account's Planning Center API.
//!
//! The guest names an account and a relative path; a [`Pco`] backend adds the base URL, the
//! credentials, pacing and retries. Non-2xx answers reach the guest as typed error values.

pub mod http;
pub mod pacer;

use async_trait::async_trait;

use crate::bindings::pco::{Host, Method, Request, Response};
use crate::bindings::types::{Error, ErrorKind};
use crate::runtime::HostState;

/// The most requests one `send-batch` may carry (the contract says so). Each answer is
/// bounded by the transport, so this bounds what one call holds in the host's memory and
/// copies into the guest's.
pub const MAX_BATCH_REQUESTS: usize = 1000;

/// The answer to a batch longer than [`MAX_BATCH_REQUESTS`]: nothing sent, an `invalid`
/// error for each request, so the guest's run fails on it with the reason.
fn refused_batch(len: usize) -> Vec<Result<Response, Error>> {
    let error = Error {
        kind: ErrorKind::Invalid,
        message: format!(
            "a batch of {len} PCO requests is longer than the host accepts ({MAX_BATCH_REQUESTS}): nothing was sent; the component must send at most {MAX_BATCH_REQUESTS} at a time"
        ),
    };
    vec![Err(error); len]
}

#[async_trait]
pub trait Pco: Send + Sync {
    async fn send(&self, account: &str, request: &Request) -> Result<Response, Error>;

    /// Sends in order; a backend may override this to pipeline reads.
    async fn send_batch(
        &self,
        account: &str,
        requests: &[Request],
    ) -> Vec<Result<Response, Error>> {
        let mut answers = Vec::with_capacity(requests.len());
        for request in requests {
            answers.push(self.send(account, request).await);
        }
        answers
    }

    async fn upload(
        &self,
        account: &str,
        content_type: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<String, Error>;
}

type Answer<T> = wasmtime::Result<T>;

impl Host for HostState {
    async fn send(&mut self, account: String, request: Request) -> Answer<Result<Response, Error>> {
        if request.method != Method::Get {
            self.fenced()?;
        }
        Ok(self.capabilities.pco.send(&account, &request).await)
    }

    async fn send_batch(
        &mut self,
        account: String,
        requests: Vec<Request>,
    ) -> Answer<Vec<Result<Response, Error>>> {
        if requests.len() > MAX_BATCH_REQUESTS {
            return Ok(refused_batch(requests.len()));
        }
        if requests.iter().any(|request| request.method != Method::Get) {
            self.fenced()?;
        }
        Ok(self.capabilities.pco.send_batch(&account, &requests).await)
    }

    async fn upload(
        &mut self,
        account: String,
        content_type: String,
        filename: String,
        bytes: Vec<u8>,
    ) -> Answer<Result<String, Error>> {
        self.fenced()?;
        Ok(self
            .capabilities
            .pco
            .upload(&account, &content_type, &filename, &bytes)
            .await)
    }
}
