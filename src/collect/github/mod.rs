//! Collect, GitHub: organizations and repositories through the REST API (octocrab). Reads
//! names and metadata only (a secret's value is never readable and never requested): Actions
//! and Dependabot secrets at every level, deploy keys, fine-grained PATs granted to the org,
//! SAML credential authorizations, App installations, default workflow permissions and each
//! repository's workflow files. Every failure is a coverage gap; nothing here panics.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use octocrab::Octocrab;

use crate::inventory::{CoverageGap, Inventory, SourceRun};

pub mod client;
mod config;
mod org;
mod repos;
pub mod translate;

use client::{Api, ApiError};
pub use config::table_names_scope;

pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// How lapse authenticates. The token is never printed (see the `Debug` impl).
#[derive(Clone, Default)]
pub enum GithubAuth {
    #[default]
    Anonymous,
    Token(String),
    /// A GitHub App: the org's fine-grained PAT listing accepts only an App installation token.
    /// With no installation id, each org's installation is looked up.
    App {
        app_id: u64,
        private_key_pem: Vec<u8>,
        installation_id: Option<u64>,
    },
}

impl std::fmt::Debug for GithubAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GithubAuth::Anonymous => f.write_str("Anonymous"),
            GithubAuth::Token(_) => f.write_str("Token(<redacted>)"),
            GithubAuth::App {
                app_id,
                installation_id,
                ..
            } => f
                .debug_struct("App")
                .field("app_id", app_id)
                .field("installation_id", installation_id)
                .finish_non_exhaustive(),
        }
    }
}

impl GithubAuth {
    /// `GITHUB_TOKEN`, else `GH_TOKEN`, else anonymous.
    pub fn from_env() -> Self {
        ["GITHUB_TOKEN", "GH_TOKEN"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
            .map(|t| GithubAuth::Token(t.trim().to_string()))
            .unwrap_or_default()
    }

    /// A GitHub App from its id and the PEM file of its private key. A file that is not an RSA
    /// key in PEM form is refused here, so the run stops before any request.
    pub fn app(app_id: u64, key: &PathBuf, installation_id: Option<u64>) -> std::io::Result<Self> {
        let private_key_pem = std::fs::read(key)?;
        // The parser's message describes the format only, never the key's bytes.
        octocrab::EncodingKey::from_rsa_pem(&private_key_pem).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an RSA private key in PEM form ({e})"),
            )
        })?;
        Ok(GithubAuth::App {
            app_id,
            private_key_pem,
            installation_id,
        })
    }
}

#[derive(Debug, Clone)]
pub struct GithubOptions {
    pub orgs: Vec<String>,
    /// `owner/name`; restricts an org to these repositories, or adds repositories of owners
    /// not listed in `orgs` (then only repository-level data is read).
    pub repos: Vec<String>,
    pub api_url: String,
    pub auth: GithubAuth,
    /// Longest a rate limit is waited out before the request becomes a coverage gap.
    pub max_rate_limit_wait: Duration,
    /// Repositories read at once.
    pub concurrency: usize,
    /// Read each workflow file's content (one call per file) to judge it like `--repo` does.
    pub read_workflows: bool,
}

/// The GitHub flags do not make a usable configuration.
#[derive(Debug, thiserror::Error)]
pub enum GithubConfigError {
    #[error(
        "a GitHub App id (--github-app-id or [github] app_id) needs its private key, PEM \
         (--github-app-key or [github] app_key)"
    )]
    MissingAppKey,
    // The cause is chained, not repeated here: main prints the chain (`{:#}`).
    #[error("--github-app-key {path}")]
    AppKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `[github]` of lapse.toml; the message names the file and line.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

impl GithubOptions {
    /// From the command line over `[github]` of lapse.toml (flags win): an App when an App id
    /// is given, else `GITHUB_TOKEN` / `GH_TOKEN` from the environment.
    pub fn from_args(
        args: &crate::cli::SourceArgs,
        table: Option<&crate::config::ProviderTable>,
    ) -> Result<Self, GithubConfigError> {
        config::options(args, table)
    }

    pub fn new(orgs: Vec<String>, repos: Vec<String>, auth: GithubAuth) -> Self {
        GithubOptions {
            orgs,
            repos,
            api_url: DEFAULT_API_URL.to_string(),
            auth,
            max_rate_limit_wait: Duration::from_secs(300),
            concurrency: 8,
            read_workflows: true,
        }
    }
}

/// One organization (or bare owner) and the repositories to read in it.
#[derive(Debug, Clone, PartialEq)]
struct Scope {
    owner: String,
    /// Read org-level data (the owner was named with `--github-org`).
    org_level: bool,
    /// Empty: every repository of the org.
    repos: Vec<String>,
}

fn plan(opts: &GithubOptions) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = opts
        .orgs
        .iter()
        .map(|org| Scope {
            owner: org.clone(),
            org_level: true,
            repos: Vec::new(),
        })
        .collect();
    for full in &opts.repos {
        let Some((owner, name)) = full.split_once('/') else {
            continue;
        };
        match scopes
            .iter_mut()
            .find(|s| s.owner.eq_ignore_ascii_case(owner))
        {
            Some(scope) => scope.repos.push(name.to_string()),
            None => scopes.push(Scope {
                owner: owner.to_string(),
                org_level: false,
                repos: vec![name.to_string()],
            }),
        }
    }
    scopes
}

/// Collects every scope of `opts` on a runtime of its own (safe to call from inside another
/// Tokio runtime: it then runs on a separate thread). Failures are coverage gaps.
pub fn collect(opts: &GithubOptions) -> Inventory {
    let run = || match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(collect_async(opts)),
        Err(err) => failed(opts, format!("could not start the async runtime: {err}")),
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(run)
                .join()
                .unwrap_or_else(|_| failed(opts, "collector thread panicked".into()))
        })
    } else {
        run()
    }
}

/// The async form of `collect`, for a caller that already runs Tokio.
pub async fn collect_async(opts: &GithubOptions) -> Inventory {
    let mut inventory = Inventory::new(chrono::Utc::now());
    for bad in opts.repos.iter().filter(|r| {
        r.split_once('/')
            .is_none_or(|(o, n)| o.is_empty() || n.is_empty())
    }) {
        inventory.coverage_gaps.push(gap(
            bad,
            "repository",
            format!("`{bad}` is not OWNER/NAME"),
            None,
        ));
    }
    for scope in plan(opts) {
        let started_at = chrono::Utc::now();
        let clock = Instant::now();
        let (fragment, calls) = match client_for(opts, &scope).await {
            Ok(api) => {
                let api = Arc::new(api);
                (collect_scope(&api, opts, &scope).await, api.calls())
            }
            Err(reason) => {
                let mut fragment = Inventory::new(started_at);
                fragment
                    .coverage_gaps
                    .push(gap(&scope.owner, "organization", reason, None));
                (fragment, BTreeMap::new())
            }
        };
        inventory.merge(fragment);
        inventory.sources.push(SourceRun {
            source: "github".into(),
            scope: scope.owner.clone(),
            started_at,
            duration_ms: clock.elapsed().as_millis() as u64,
            api_calls: calls,
            attributes: BTreeMap::new(),
        });
    }
    inventory
}

fn failed(opts: &GithubOptions, reason: String) -> Inventory {
    let mut inventory = Inventory::new(chrono::Utc::now());
    for scope in plan(opts) {
        inventory
            .coverage_gaps
            .push(gap(&scope.owner, "organization", reason.clone(), None));
    }
    inventory
}

pub(crate) fn gap(scope: &str, what: &str, reason: String, request: Option<String>) -> CoverageGap {
    CoverageGap {
        source: "github".into(),
        scope: scope.to_string(),
        what: what.to_string(),
        reason,
        request,
    }
}

pub(crate) fn api_gap(scope: &str, what: &str, err: &ApiError) -> CoverageGap {
    gap(
        scope,
        what,
        err.reason(),
        Some(format!("GET {}", err.request())),
    )
}

/// The owners `opts` names (its orgs and the owners of its repositories): the only owners
/// `revoke` and `grant` write to.
pub fn owners(opts: &GithubOptions) -> Vec<String> {
    plan(opts).into_iter().map(|scope| scope.owner).collect()
}

/// A bearer token for writing to `owner`: the personal token, or the GitHub App's
/// installation token on that owner. `None` when the options carry no credentials.
pub async fn token_for(opts: &GithubOptions, owner: &str) -> Result<Option<String>, String> {
    let app = match &opts.auth {
        GithubAuth::Anonymous => return Ok(None),
        GithubAuth::Token(token) => return Ok(Some(token.clone())),
        GithubAuth::App { .. } => app_client(opts).await?,
    };
    let id = installation_id(&app, opts, owner).await?;
    let (_, token) = app
        .installation_and_token(id.into())
        .await
        .map_err(|e| format!("GitHub App installation {id}: {e}"))?;
    use octocrab::secrecy::ExposeSecret;
    Ok(Some(token.expose_secret().to_string()))
}

type CrabBuilder = octocrab::OctocrabBuilder<
    octocrab::NoSvc,
    octocrab::DefaultOctocrabBuilderConfig,
    octocrab::NoAuth,
    octocrab::NotLayerReady,
>;

/// Every GitHub client's settings: no octocrab retries (lapse waits out rate limits itself),
/// bounded timeouts, the API root of the options.
fn crab_builder(opts: &GithubOptions) -> Result<CrabBuilder, String> {
    Octocrab::builder()
        .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(60)))
        .base_uri(opts.api_url.as_str())
        .map_err(|e| format!("invalid --github-api-url `{}`: {e}", opts.api_url))
}

/// The client authenticated as the GitHub App itself (JWT), for installation lookups.
async fn app_client(opts: &GithubOptions) -> Result<Octocrab, String> {
    let GithubAuth::App {
        app_id,
        private_key_pem,
        ..
    } = &opts.auth
    else {
        return Err("not a GitHub App".into());
    };
    let key = octocrab::EncodingKey::from_rsa_pem(private_key_pem)
        .map_err(|e| format!("GitHub App private key is not an RSA PEM key: {e}"))?;
    crab_builder(opts)?
        .app((*app_id).into(), key)
        .build()
        .map_err(|e| format!("could not build the GitHub App client: {e}"))
}

/// The App's installation on `owner`: the configured one, else looked up.
async fn installation_id(app: &Octocrab, opts: &GithubOptions, owner: &str) -> Result<u64, String> {
    match &opts.auth {
        GithubAuth::App {
            installation_id: Some(id),
            ..
        } => Ok(*id),
        _ => org_installation(app, opts, owner).await,
    }
}

async fn client_for(opts: &GithubOptions, scope: &Scope) -> Result<Api, String> {
    let crab = match &opts.auth {
        GithubAuth::Anonymous => crab_builder(opts)?.build().map_err(|e| e.to_string()),
        GithubAuth::Token(token) => crab_builder(opts)?
            .personal_token(token.clone())
            .build()
            .map_err(|e| e.to_string()),
        GithubAuth::App { .. } => {
            let app = app_client(opts).await?;
            let id = installation_id(&app, opts, &scope.owner).await?;
            app.installation(id.into())
                .map_err(|e| format!("GitHub App installation {id}: {e}"))
        }
    }
    .map_err(|e| format!("could not build the GitHub client: {e}"))?;
    Ok(Api::new(crab, &opts.api_url, opts.max_rate_limit_wait))
}

/// The App's installation on `org` (`GET /orgs/{org}/installation`, as the App).
async fn org_installation(app: &Octocrab, opts: &GithubOptions, org: &str) -> Result<u64, String> {
    let api = Api::new(app.clone(), &opts.api_url, opts.max_rate_limit_wait);
    let body = api
        .get(
            "apps/get-org-installation",
            &format!("/orgs/{}/installation", translate::seg(org)),
        )
        .await
        .map_err(|e| format!("the GitHub App is not installed on `{org}`: {e}"))?;
    body.get("id")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| "installation has no id".into())
}

async fn collect_scope(api: &Arc<Api>, opts: &GithubOptions, scope: &Scope) -> Inventory {
    let mut inventory = Inventory::new(chrono::Utc::now());
    if scope.org_level {
        org::collect(api, &scope.owner, &mut inventory).await;
    }
    let names = if scope.repos.is_empty() {
        match org::list_repos(api, &scope.owner).await {
            Ok(names) => names,
            Err(err) => {
                inventory
                    .coverage_gaps
                    .push(api_gap(&scope.owner, "repositories", &err));
                Vec::new()
            }
        }
    } else {
        scope.repos.clone()
    };
    let fragments: Vec<Inventory> = futures::stream::iter(names)
        .map(|name| {
            let api = Arc::clone(api);
            let owner = scope.owner.clone();
            let read_workflows = opts.read_workflows;
            async move { repos::collect(&api, &owner, &name, read_workflows).await }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut fragments = fragments;
    fragments.sort_by_key(first_id);
    for fragment in fragments {
        inventory.merge(fragment);
    }
    inventory
}

fn first_id(inventory: &Inventory) -> String {
    inventory
        .principals
        .first()
        .map(|p| p.id.clone())
        .or_else(|| inventory.coverage_gaps.first().map(|g| g.what.clone()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_orgs_and_bare_repositories() {
        let opts = GithubOptions::new(
            vec!["acme".into()],
            vec!["acme/api".into(), "other/tool".into()],
            GithubAuth::Anonymous,
        );
        let scopes = plan(&opts);
        assert_eq!(
            scopes[0],
            Scope {
                owner: "acme".into(),
                org_level: true,
                repos: vec!["api".into()]
            }
        );
        assert_eq!(
            scopes[1],
            Scope {
                owner: "other".into(),
                org_level: false,
                repos: vec!["tool".into()]
            }
        );
    }

    #[test]
    fn token_never_in_debug() {
        let auth = GithubAuth::Token("ghp_secretvalue".into());
        assert!(!format!("{auth:?}").contains("secret"));
    }
}
