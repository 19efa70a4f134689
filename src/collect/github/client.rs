//! Collect, GitHub: the HTTP side. Every request goes through `Api::get`, which counts calls by
//! operation, follows `Link: rel="next"` pagination (same origin only: a token never leaves for
//! another host), and waits out primary and secondary rate limits up to a bound; past the bound,
//! or on 404/403, the caller gets an `ApiError` to record as a coverage gap.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use http::header::{ACCEPT, HeaderMap, HeaderValue};
use octocrab::Octocrab;
use serde_json::Value;

/// Retries after a secondary rate limit before giving up on a request.
const MAX_RATE_LIMIT_RETRIES: u32 = 3;
/// Pages followed before stopping (100 per page: 100,000 items).
const MAX_PAGES: usize = 1000;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("GET {request}: 404 not found (missing, or hidden from this token)")]
    NotFound { request: String },
    #[error("GET {request}: {status} {message}")]
    Denied {
        request: String,
        status: u16,
        message: String,
    },
    #[error(
        "GET {request}: rate limited; reset in {wait_secs}s, beyond the {bound_secs}s wait bound"
    )]
    RateLimited {
        request: String,
        wait_secs: u64,
        bound_secs: u64,
    },
    #[error("GET {request}: {status} {message}")]
    Status {
        request: String,
        status: u16,
        message: String,
    },
    #[error("GET {request}: {message}")]
    Transport { request: String, message: String },
    #[error("GET {request}: response is not the expected JSON: {message}")]
    Decode { request: String, message: String },
}

impl ApiError {
    /// The request, for the coverage gap (a path, never a token).
    pub fn request(&self) -> &str {
        match self {
            ApiError::NotFound { request }
            | ApiError::Denied { request, .. }
            | ApiError::RateLimited { request, .. }
            | ApiError::Status { request, .. }
            | ApiError::Transport { request, .. }
            | ApiError::Decode { request, .. } => request,
        }
    }

    /// The reason alone, for the coverage gap.
    pub fn reason(&self) -> String {
        let full = self.to_string();
        let prefix = format!("GET {}: ", self.request());
        full.strip_prefix(&prefix)
            .map(str::to_string)
            .unwrap_or(full)
    }
}

/// A client bound to one API root, with its call counters.
pub struct Api {
    crab: Octocrab,
    /// `https://api.github.com` or `https://ghe.example.com/api/v3`, no trailing slash.
    base: String,
    max_wait: Duration,
    calls: Mutex<BTreeMap<String, u64>>,
    /// Primary limit exhausted until this Unix time.
    exhausted_until: Mutex<Option<u64>>,
}

struct Page {
    body: Value,
    next: Option<String>,
}

impl Api {
    pub fn new(crab: Octocrab, base: &str, max_wait: Duration) -> Self {
        Api {
            crab,
            base: base.trim_end_matches('/').to_string(),
            max_wait,
            calls: Mutex::new(BTreeMap::new()),
            exhausted_until: Mutex::new(None),
        }
    }

    /// API calls made so far, by operation id.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// One object (`GET path`).
    pub async fn get(&self, op: &str, path: &str) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        Ok(self.fetch(op, &url).await?.body)
    }

    /// Every item of a paginated list. `field` names the array inside a wrapper object
    /// (`secrets`, `installations`); `None` when the body is the array itself.
    pub async fn list(
        &self,
        op: &str,
        path: &str,
        field: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = Some(format!("{}{path}{sep}per_page=100", self.base));
        let mut items = Vec::new();
        let mut pages = 0;
        while let Some(next) = url.take() {
            let page = self.fetch(op, &next).await?;
            let array = match field {
                Some(name) => page.body.get(name).cloned(),
                None => Some(page.body),
            };
            match array {
                Some(Value::Array(values)) => items.extend(values),
                _ => {
                    return Err(ApiError::Decode {
                        request: self.shown(&next),
                        message: format!(
                            "expected an array{}",
                            field.map(|f| format!(" in `{f}`")).unwrap_or_default()
                        ),
                    });
                }
            }
            pages += 1;
            url = page
                .next
                .filter(|n| self.same_origin(n) && pages < MAX_PAGES);
        }
        Ok(items)
    }

    /// A URL with the API root stripped, as shown in errors and gaps.
    fn shown(&self, url: &str) -> String {
        url.strip_prefix(&self.base).unwrap_or(url).to_string()
    }

    /// The path and query of a URL under the API root (octocrab joins it to the root again);
    /// any other URL unchanged.
    fn relative<'u>(&self, url: &'u str) -> &'u str {
        url.strip_prefix(&self.base)
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(url)
    }

    fn same_origin(&self, url: &str) -> bool {
        url.starts_with(&format!("{}/", self.base))
    }

    fn count(&self, op: &str) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(op.to_string()).or_insert(0) += 1;
        }
    }

    async fn fetch(&self, op: &str, url: &str) -> Result<Page, ApiError> {
        let shown = self.shown(url);
        let mut retries = 0;
        loop {
            self.wait_for_primary_limit(&shown).await?;
            self.count(op);
            // Relative to the API root: octocrab adds an App or installation token only to a
            // request with no host (or api.github.com), so an absolute GHES URL would go unsigned.
            let response = self
                .crab
                ._get_with_headers(self.relative(url), Some(headers()))
                .await
                .map_err(|e| ApiError::Transport {
                    request: shown.clone(),
                    message: transport_message(&e),
                })?;
            let status = response.status().as_u16();
            let head = response.headers().clone();
            self.note_primary_limit(&head);
            let text =
                self.crab
                    .body_to_string(response)
                    .await
                    .map_err(|e| ApiError::Transport {
                        request: shown.clone(),
                        message: transport_message(&e),
                    })?;
            if (200..300).contains(&status) {
                let body = serde_json::from_str(&text).map_err(|e| ApiError::Decode {
                    request: shown.clone(),
                    message: e.to_string(),
                })?;
                return Ok(Page {
                    body,
                    next: next_link(&head),
                });
            }
            if let Some(wait) = rate_limit_wait(status, &head) {
                if wait > self.max_wait || retries >= MAX_RATE_LIMIT_RETRIES {
                    return Err(ApiError::RateLimited {
                        request: shown,
                        wait_secs: wait.as_secs(),
                        bound_secs: self.max_wait.as_secs(),
                    });
                }
                retries += 1;
                tracing::warn!(request = %shown, wait_secs = wait.as_secs(), "GitHub rate limit; waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(status_error(shown, status, &text));
        }
    }

    /// Before a request: if the primary limit is spent, sleep until its reset within the bound.
    async fn wait_for_primary_limit(&self, shown: &str) -> Result<(), ApiError> {
        let until = self.exhausted_until.lock().ok().and_then(|g| *g);
        let Some(until) = until else { return Ok(()) };
        let wait = Duration::from_secs(until.saturating_sub(unix_now()));
        if wait > self.max_wait {
            return Err(ApiError::RateLimited {
                request: shown.to_string(),
                wait_secs: wait.as_secs(),
                bound_secs: self.max_wait.as_secs(),
            });
        }
        tokio::time::sleep(wait).await;
        if let Ok(mut g) = self.exhausted_until.lock() {
            *g = None;
        }
        Ok(())
    }

    fn note_primary_limit(&self, head: &HeaderMap) {
        if header_u64(head, "x-ratelimit-remaining") == Some(0)
            && let Some(reset) = header_u64(head, "x-ratelimit-reset")
            && let Ok(mut g) = self.exhausted_until.lock()
        {
            *g = Some(reset);
        }
    }
}

fn headers() -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(
        ACCEPT,
        HeaderValue::from_static("application/vnd.github+json"),
    );
    map.insert(
        "x-github-api-version",
        HeaderValue::from_static("2022-11-28"),
    );
    map
}

/// octocrab's errors may quote a request; keep only the kind of failure.
fn transport_message(err: &octocrab::Error) -> String {
    let text = err.to_string();
    text.lines()
        .next()
        .unwrap_or("transport error")
        .chars()
        .take(200)
        .collect()
}

fn status_error(request: String, status: u16, body: &str) -> ApiError {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    match status {
        404 => ApiError::NotFound { request },
        401 | 403 => ApiError::Denied {
            request,
            status,
            message,
        },
        _ => ApiError::Status {
            request,
            status,
            message,
        },
    }
}

fn header_u64(head: &HeaderMap, name: &str) -> Option<u64> {
    head.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How long a 403/429 asks us to wait: `retry-after` (secondary limit), or until
/// `x-ratelimit-reset` when `x-ratelimit-remaining` is 0 (primary). `None`: not a rate limit.
pub fn rate_limit_wait(status: u16, head: &HeaderMap) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    if let Some(secs) = header_u64(head, "retry-after") {
        return Some(Duration::from_secs(secs));
    }
    if header_u64(head, "x-ratelimit-remaining") == Some(0) {
        let reset = header_u64(head, "x-ratelimit-reset")?;
        return Some(Duration::from_secs(reset.saturating_sub(unix_now()) + 1));
    }
    // GitHub's advice for a 429 with neither header: wait at least a minute.
    (status == 429).then(|| Duration::from_secs(60))
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(head: &HeaderMap) -> Option<String> {
    let link = head.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_next_link() {
        let mut head = HeaderMap::new();
        head.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.github.com/x?page=3>; rel=\"next\", <https://api.github.com/x?page=9>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&head).as_deref(),
            Some("https://api.github.com/x?page=3")
        );
        head.insert(
            "link",
            HeaderValue::from_static("<https://a/x?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&head), None);
    }

    #[tokio::test]
    async fn requests_are_relative_to_the_api_root() {
        let crab = Octocrab::builder().build().expect("a client without I/O");
        let api = Api::new(crab, "https://ghe.example.com/api/v3/", Duration::ZERO);
        assert_eq!(
            api.relative("https://ghe.example.com/api/v3/orgs/acme/repos?page=2"),
            "/orgs/acme/repos?page=2"
        );
        assert_eq!(
            api.relative("https://ghe.example.com/api/v3x/y"),
            "https://ghe.example.com/api/v3x/y",
            "a prefix that is not a path segment stays absolute"
        );
    }

    #[test]
    fn rate_limit_waits() {
        let mut head = HeaderMap::new();
        assert_eq!(rate_limit_wait(403, &head), None, "a plain 403 is a denial");
        assert_eq!(rate_limit_wait(429, &head), Some(Duration::from_secs(60)));
        head.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(rate_limit_wait(403, &head), Some(Duration::from_secs(7)));
        assert_eq!(rate_limit_wait(500, &head), None);
    }
}
