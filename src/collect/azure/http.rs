//! Collect, Azure HTTP: one reqwest client for Microsoft Graph and ARM with bearer tokens,
//! paging (`@odata.nextLink`, `nextLink`), bounded 429/503 retries and API-call counting.
//!
//! reqwest rather than azure_core's pipeline: lapse needs to trust an extra CA bundle (tests and
//! TLS-inspecting proxies), count calls per operation and bound `Retry-After`, all of which are a
//! few lines here and policies to write there.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde_json::Value;

/// How many times a throttled or unavailable request is retried.
const MAX_RETRIES: u32 = 4;
/// Longest message kept from an error body (it is shown in reports).
const MAX_MESSAGE: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{request}: HTTP {status}: {message}")]
    Status {
        request: String,
        status: u16,
        message: String,
    },
    #[error("{request}: {message}")]
    Transport { request: String, message: String },
    #[error("{request}: response is not the expected JSON: {message}")]
    Decode { request: String, message: String },
    #[error(
        "{request}: throttled (HTTP 429), Retry-After {wait_secs} s exceeds the {bound_secs} s bound"
    )]
    Throttled {
        request: String,
        wait_secs: u64,
        bound_secs: u64,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl ApiError {
    /// The request that failed (`GET <url without query>`), for a coverage gap.
    pub fn request(&self) -> Option<&str> {
        match self {
            ApiError::Status { request, .. }
            | ApiError::Transport { request, .. }
            | ApiError::Decode { request, .. }
            | ApiError::Throttled { request, .. } => Some(request),
            ApiError::Client(_) => None,
        }
    }

    /// HTTP 401/403: the identity may not read this, a gap and not a failure of the scan.
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            ApiError::Status {
                status: 401 | 403,
                ..
            }
        )
    }
}

/// Builds the client ([`crate::net`]: bundled roots, `--ca-bundle`, `SSL_CERT_FILE`); a bearer
/// token never leaves over plain HTTP.
pub fn build_client(ca_bundle: Option<&Path>) -> Result<reqwest::Client, ApiError> {
    crate::net::client_builder(ca_bundle)
        .map_err(|e| ApiError::Client(e.to_string()))?
        .https_only(true)
        .build()
        .map_err(|e| ApiError::Client(e.to_string()))
}

/// A client plus the per-operation call counter of one source run.
pub struct Api {
    client: reqwest::Client,
    calls: Mutex<BTreeMap<String, u64>>,
    /// Longest `Retry-After` honoured; a longer one fails the request (a gap) instead of
    /// stalling a nightly run for an hour.
    max_retry_wait: Duration,
}

impl Api {
    pub fn new(client: reqwest::Client, max_retry_wait: Duration) -> Self {
        Api {
            client,
            calls: Mutex::new(BTreeMap::new()),
            max_retry_wait,
        }
    }

    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, operation: &str) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(operation.to_string()).or_insert(0) += 1;
        }
    }

    /// GET one JSON document, retrying 429 and 503 within the bound.
    pub async fn get_json(
        &self,
        operation: &str,
        url: &str,
        token: &str,
    ) -> Result<Value, ApiError> {
        let request = describe(url);
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ApiError::Client("access token is not a valid header value".into()))?;
        bearer.set_sensitive(true);
        let mut attempt = 0;
        loop {
            self.count(operation);
            let response = self
                .client
                .get(url)
                .header(AUTHORIZATION, bearer.clone())
                .send()
                .await
                .map_err(|e| ApiError::Transport {
                    request: request.clone(),
                    message: transport(&e),
                })?;
            let status = response.status().as_u16();
            if matches!(status, 429 | 503) && attempt < MAX_RETRIES {
                let wait = retry_after(response.headers().get(RETRY_AFTER), attempt);
                if wait > self.max_retry_wait {
                    return Err(ApiError::Throttled {
                        request,
                        wait_secs: wait.as_secs(),
                        bound_secs: self.max_retry_wait.as_secs(),
                    });
                }
                tracing::debug!(%request, status, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            let body = response.bytes().await.map_err(|e| ApiError::Transport {
                request: request.clone(),
                message: transport(&e),
            })?;
            if !(200..300).contains(&status) {
                return Err(ApiError::Status {
                    request,
                    status,
                    message: error_message(&body),
                });
            }
            return serde_json::from_slice(&body).map_err(|e| ApiError::Decode {
                request,
                message: e.to_string(),
            });
        }
    }

    /// GETs every page of a collection and returns the items of its `value` arrays.
    /// `next_key` is `@odata.nextLink` (Graph) or `nextLink` (ARM).
    pub async fn get_all(
        &self,
        operation: &str,
        url: &str,
        token: &str,
        next_key: &str,
    ) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        let mut next = Some(url.to_string());
        let mut pages = 0u32;
        while let Some(url) = next.take() {
            let page = self.get_json(operation, &url, token).await?;
            pages += 1;
            match page.get("value") {
                Some(Value::Array(values)) => items.extend(values.iter().cloned()),
                _ => {
                    return Err(ApiError::Decode {
                        request: describe(&url),
                        message: format!("page {pages} has no `value` array"),
                    });
                }
            }
            next = page
                .get(next_key)
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        Ok(items)
    }
}

/// `GET <scheme://host/path>`: the query (skip tokens, filters) is noise in a report.
fn describe(url: &str) -> String {
    let without_query = url.split('?').next().unwrap_or(url);
    format!("GET {without_query}")
}

fn transport(err: &reqwest::Error) -> String {
    // The source chain names the real cause (certificate unknown, connection refused).
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// `Retry-After` in seconds; without one, exponential backoff from 1 s.
fn retry_after(header: Option<&HeaderValue>, attempt: u32) -> Duration {
    header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or_else(|| Duration::from_secs(1u64 << attempt.min(5)))
}

/// Graph and ARM both answer `{"error": {"code", "message"}}`; keep code and message, bounded.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let text = match error {
        Some(e) => {
            let code = e.get("code").and_then(Value::as_str).unwrap_or("");
            let message = e.get("message").and_then(Value::as_str).unwrap_or("");
            format!("{code}: {message}")
        }
        None => String::from_utf8_lossy(body).into_owned(),
    };
    text.chars().take(MAX_MESSAGE).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_without_query() {
        assert_eq!(
            describe("https://graph.microsoft.com/v1.0/applications?$skiptoken=abc"),
            "GET https://graph.microsoft.com/v1.0/applications"
        );
    }

    #[test]
    fn retry_after_reads_seconds_or_backs_off() {
        let header = HeaderValue::from_static("7");
        assert_eq!(retry_after(Some(&header), 0), Duration::from_secs(7));
        assert_eq!(retry_after(None, 2), Duration::from_secs(4));
        let date = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(Some(&date), 0), Duration::from_secs(1));
    }

    #[test]
    fn error_message_keeps_code_and_message() {
        let body = br#"{"error":{"code":"AuthorizationFailed","message":"no access"}}"#;
        assert_eq!(error_message(body), "AuthorizationFailed: no access");
        assert_eq!(error_message(b"plain"), "plain");
        assert_eq!(
            error_message("x".repeat(1000).as_bytes()).len(),
            MAX_MESSAGE
        );
    }

    #[test]
    fn forbidden_is_a_gap() {
        let err = ApiError::Status {
            request: "GET x".into(),
            status: 403,
            message: String::new(),
        };
        assert!(err.is_forbidden());
        assert_eq!(err.request(), Some("GET x"));
    }
}
