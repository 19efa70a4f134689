//! Revoke, GitHub: deletes a deploy key or an Actions secret through the REST API. 404 means
//! already gone; 401/403 are permission errors.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use std::collections::BTreeMap;

use tokio::sync::Mutex;

use super::ExpiredGrant;
use super::action::Action;
use super::apply::{ActionError, Effect, Verdict};
use crate::analyze::expiry::find_in_text;
use crate::collect::github::{GithubAuth, GithubOptions};
use crate::render::terminal::clean;

/// Where the bearer token comes from: fixed (a token), or the validated options (a token,
/// or a GitHub App's installation token per owner).
#[derive(Clone)]
enum Credentials {
    Fixed(String),
    Options(Box<GithubOptions>),
}

/// REST client for revocation. Writes only to the owners it was given (the options' orgs and
/// repository owners): a target of any other owner is refused before any request. Tokens are
/// never printed (`Debug` hides them).
pub struct GithubExecutor {
    http: reqwest::Client,
    api_url: String,
    credentials: Credentials,
    owners: Vec<String>,
    tokens: Mutex<BTreeMap<String, Result<String, String>>>,
}

impl std::fmt::Debug for GithubExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubExecutor")
            .field("api_url", &self.api_url)
            .field("owners", &self.owners)
            .finish_non_exhaustive()
    }
}

impl GithubExecutor {
    /// `api_url`: `https://api.github.com` or a GHES/test root. Writes to no owner until
    /// [`GithubExecutor::for_owners`] names them.
    pub fn new(http: reqwest::Client, api_url: &str, token: String) -> Self {
        GithubExecutor {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            credentials: Credentials::Fixed(token),
            owners: Vec::new(),
            tokens: Mutex::new(BTreeMap::new()),
        }
    }

    /// The executor of `lapse revoke`, from the collector's options: its API root, its
    /// authentication (token or GitHub App), its owners. `None` without credentials.
    pub fn from_options(http: reqwest::Client, opts: &GithubOptions) -> Option<Self> {
        if matches!(opts.auth, GithubAuth::Anonymous) {
            return None;
        }
        let owners = crate::collect::github::owners(opts);
        let mut executor = GithubExecutor::new(http, &opts.api_url, String::new());
        executor.credentials = Credentials::Options(Box::new(opts.clone()));
        executor.owners = owners;
        Some(executor)
    }

    pub fn for_owners(mut self, owners: &[&str]) -> Self {
        self.owners = owners.iter().map(|o| o.to_string()).collect();
        self
    }

    /// The token for `owner`, looked up once per run; refused for an owner not given.
    async fn token(&self, owner: &str) -> Result<String, ActionError> {
        let refused = |message: String| ActionError {
            permission: false,
            message,
        };
        if !self.owners.iter().any(|o| o.eq_ignore_ascii_case(owner)) {
            return Err(refused(format!(
                "refused: owner `{}` is not one this run was given (--github-org, --github-repo)",
                clean(owner)
            )));
        }
        let opts = match &self.credentials {
            Credentials::Fixed(token) => return Ok(token.clone()),
            Credentials::Options(opts) => opts,
        };
        let mut tokens = self.tokens.lock().await;
        let key = owner.to_ascii_lowercase();
        if !tokens.contains_key(&key) {
            let token = crate::collect::github::token_for(opts, owner)
                .await
                .and_then(|t| t.ok_or_else(|| "no GitHub credentials".to_string()));
            tokens.insert(key.clone(), token);
        }
        tokens[&key].clone().map_err(refused)
    }

    pub async fn run(&self, action: &Action) -> Result<Effect, ActionError> {
        let (owner, path, replaced) = match action {
            Action::GithubDeleteDeployKey { repo, key_id } => (
                owner_of(repo),
                format!("/repos/{}/keys/{key_id}", repo_path(repo)?),
                serde_json::json!({ "deploy_key_deleted": key_id, "repository": repo }),
            ),
            Action::GithubDeleteRepoSecret { repo, secret } => (
                owner_of(repo),
                format!(
                    "/repos/{}/actions/secrets/{}",
                    repo_path(repo)?,
                    segment(secret)?
                ),
                serde_json::json!({ "actions_secret_deleted": secret, "repository": repo }),
            ),
            Action::GithubDeleteOrgSecret { org, secret } => (
                org.as_str(),
                format!(
                    "/orgs/{}/actions/secrets/{}",
                    segment(org)?,
                    segment(secret)?
                ),
                serde_json::json!({ "actions_secret_deleted": secret, "organization": org }),
            ),
            _ => {
                return Err(ActionError {
                    permission: false,
                    message: format!("not a GitHub action: {}", action.describe()),
                });
            }
        };
        let token = self.token(owner).await?;
        if self.delete(&path, &token).await? {
            Ok(Effect::Done(replaced))
        } else {
            Ok(Effect::AlreadyGone)
        }
    }

    /// `Ok(false)`: already gone.
    async fn delete(&self, path: &str, token: &str) -> Result<bool, ActionError> {
        let response = self.send(reqwest::Method::DELETE, path, token).await?;
        status_result(&format!("DELETE {path}"), response.status())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> Result<reqwest::Response, ActionError> {
        self.http
            .request(method.clone(), format!("{}{path}", self.api_url))
            .bearer_auth(token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", concat!("lapse/", env!("CARGO_PKG_VERSION")))
            .send()
            .await
            .map_err(|e| ActionError {
                permission: false,
                message: format!("{method} {path}: {}", e.without_url()),
            })
    }

    /// Reads a deploy key again before deleting it: gone (404) is "already absent" (its id is
    /// the one the plan saw); a title whose marker changed skips the grant.
    pub async fn check(&self, grant: &ExpiredGrant) -> Result<Verdict, ActionError> {
        let Some(Action::GithubDeleteDeployKey { repo, key_id }) = grant.actions.first() else {
            return Ok(Verdict::Proceed);
        };
        let path = format!("/repos/{}/keys/{key_id}", repo_path(repo)?);
        let token = self.token(owner_of(repo)).await?;
        let response = self.send(reqwest::Method::GET, &path, &token).await?;
        if !status_result(&format!("GET {path}"), response.status())? {
            return Ok(Verdict::Absent);
        }
        if grant.marker_source != "title" {
            return Ok(Verdict::Proceed);
        }
        let body: serde_json::Value = response.json().await.map_err(|e| ActionError {
            permission: false,
            message: format!("GET {path}: not the expected JSON: {}", e.without_url()),
        })?;
        let title = body
            .get("title")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        let who = format!("deploy key {key_id} of {}", clean(repo));
        Ok(super::pin::marker_verdict(grant, &who, find_in_text(title)))
    }
}

/// 2xx: done (`true`); 404: already gone (`false`); 401/403: permission errors.
pub(crate) fn status_result(
    request: &str,
    status: reqwest::StatusCode,
) -> Result<bool, ActionError> {
    if status.is_success() {
        return Ok(true);
    }
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(false);
    }
    Err(ActionError {
        permission: matches!(status.as_u16(), 401 | 403),
        message: format!("{request}: HTTP {status}"),
    })
}

/// Characters escaped in a path segment (RFC 3986 unreserved ones are kept).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One URL path segment, percent-encoded. The last line of defence behind the ledger's own
/// validation: an empty segment, `.`, `..`, `%` or a control character is refused, so no
/// target can make the HTTP client resolve another path.
pub(crate) fn segment(text: &str) -> Result<String, ActionError> {
    let bad = text.is_empty()
        || text == "."
        || text == ".."
        || text.contains('%')
        || text.chars().any(char::is_control);
    if bad {
        return Err(ActionError {
            permission: false,
            message: format!("refused: `{}` is not a valid path segment", clean(text)),
        });
    }
    Ok(utf8_percent_encode(text, SEGMENT).to_string())
}

fn owner_of(repo: &str) -> &str {
    repo.split_once('/').map_or(repo, |(owner, _)| owner)
}

/// `owner/name` with each half encoded, the slash kept; anything else is refused.
fn repo_path(repo: &str) -> Result<String, ActionError> {
    match repo.split_once('/') {
        Some((owner, name)) if !name.contains('/') => {
            Ok(format!("{}/{}", segment(owner)?, segment(name)?))
        }
        _ => Err(ActionError {
            permission: false,
            message: format!("refused: `{}` is not OWNER/REPO", clean(repo)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded_and_traversal_refused() {
        assert_eq!(segment("MY SECRET").unwrap(), "MY%20SECRET");
        assert_eq!(repo_path("acme/api.v2").unwrap(), "acme/api.v2");
        for bad in ["", ".", "..", "%2e%2e", "a\u{7}b"] {
            assert!(segment(bad).is_err(), "{bad:?}");
        }
        assert!(repo_path("acme/../x").is_err());
        assert!(repo_path("acme").is_err());
        assert_eq!(owner_of("acme/api"), "acme");
    }
}
