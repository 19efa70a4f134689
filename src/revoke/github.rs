//! Revoke, GitHub: deletes a deploy key or an Actions secret through the REST API. 404 means
//! already gone; 401/403 are permission errors.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::action::Action;
use super::apply::{ActionError, Effect};

/// REST client for revocation. The token is never printed (`Debug` hides it).
#[derive(Clone)]
pub struct GithubExecutor {
    http: reqwest::Client,
    api_url: String,
    token: String,
}

impl std::fmt::Debug for GithubExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubExecutor")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl GithubExecutor {
    /// `api_url`: `https://api.github.com` or a GHES/test root.
    pub fn new(http: reqwest::Client, api_url: &str, token: String) -> Self {
        GithubExecutor {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            token,
        }
    }

    pub async fn run(&self, action: &Action) -> Result<Effect, ActionError> {
        let (path, replaced) = match action {
            Action::GithubDeleteDeployKey { repo, key_id } => (
                format!("/repos/{}/keys/{key_id}", repo_path(repo)),
                serde_json::json!({ "deploy_key_deleted": key_id, "repository": repo }),
            ),
            Action::GithubDeleteRepoSecret { repo, secret } => (
                format!(
                    "/repos/{}/actions/secrets/{}",
                    repo_path(repo),
                    segment(secret)
                ),
                serde_json::json!({ "actions_secret_deleted": secret, "repository": repo }),
            ),
            Action::GithubDeleteOrgSecret { org, secret } => (
                format!("/orgs/{}/actions/secrets/{}", segment(org), segment(secret)),
                serde_json::json!({ "actions_secret_deleted": secret, "organization": org }),
            ),
            _ => {
                return Err(ActionError {
                    permission: false,
                    message: format!("not a GitHub action: {}", action.describe()),
                });
            }
        };
        if self.delete(&path).await? {
            Ok(Effect::Done(replaced))
        } else {
            Ok(Effect::AlreadyGone)
        }
    }

    /// `Ok(false)`: already gone.
    async fn delete(&self, path: &str) -> Result<bool, ActionError> {
        let request = format!("DELETE {path}");
        let response = self
            .http
            .delete(format!("{}{path}", self.api_url))
            .bearer_auth(&self.token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", concat!("lapse/", env!("CARGO_PKG_VERSION")))
            .send()
            .await
            .map_err(|e| ActionError {
                permission: false,
                message: format!("{request}: {}", e.without_url()),
            })?;
        status_result(&request, response.status())
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

pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// `owner/name` with each half encoded, the slash kept.
fn repo_path(repo: &str) -> String {
    match repo.split_once('/') {
        Some((owner, name)) => format!("{}/{}", segment(owner), segment(name)),
        None => segment(repo),
    }
}
