//! The `pco` capability: authenticated HTTP to one account's Planning Center API.
//!
//! The guest names an account and a relative path; a [`Pco`] backend adds the base URL, the
//! credentials, pacing and retries. Non-2xx answers reach the guest as typed error values.

pub mod http;
pub mod pacer;

use async_trait::async_trait;

use crate::bindings::pco::{Host, Request, Response};
use crate::bindings::types::Error;
use crate::runtime::HostState;

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
        Ok(self.capabilities.pco.send(&account, &request).await)
    }

    async fn send_batch(
        &mut self,
        account: String,
        requests: Vec<Request>,
    ) -> Answer<Vec<Result<Response, Error>>> {
        Ok(self.capabilities.pco.send_batch(&account, &requests).await)
    }

    async fn upload(
        &mut self,
        account: String,
        content_type: String,
        filename: String,
        bytes: Vec<u8>,
    ) -> Answer<Result<String, Error>> {
        Ok(self
            .capabilities
            .pco
            .upload(&account, &content_type, &filename, &bytes)
            .await)
    }
}
