//! Collect, Azure: Entra ID applications and service principals (Microsoft Graph) and role
//! assignments with their PIM schedules (Azure Resource Manager), into the neutral inventory.
//!
//! Tokens come from azure_identity (`auth`); requests go through one reqwest client (`http`).
//! Nothing here fails the run: what cannot be read is a coverage gap and the rest goes on.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;

use crate::inventory::{CoverageGap, Inventory, SourceRun, Timestamp};

mod arm;
mod auth;
mod config;
mod graph;
mod http;

pub use auth::{CredentialKind, Tokens};
pub use http::ApiError;

pub const PUBLIC_GRAPH_URL: &str = "https://graph.microsoft.com";
pub const PUBLIC_ARM_URL: &str = "https://management.azure.com";
/// Attribute of a role assignment (or PIM grant) naming the tenant it was read in.
pub const TENANT_ATTRIBUTE: &str = "tenant";
/// The source name in gaps and runs.
pub const SOURCE: &str = "azure";

#[derive(Debug, thiserror::Error)]
pub enum AzureOptionsError {
    #[error(
        "Azure: a tenant is required to scan Azure (--azure-tenant or [azure] tenant in lapse.toml)"
    )]
    MissingTenant,
    #[error("--azure-tenant `{0}`: expected a tenant id (GUID) or domain name")]
    Tenant(String),
    #[error("{flag} `{url}`: {reason}")]
    Url {
        flag: &'static str,
        url: String,
        reason: String,
    },
    #[error("--azure-credential: {0}")]
    Credential(String),
    /// `[azure]` of lapse.toml; the message names the file and line.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// What to scan and how; built once from the command line (`AzureOptions::new` + fields).
#[derive(Debug, Clone)]
pub struct AzureOptions {
    pub tenant: String,
    /// Subscriptions to read; empty: every subscription the identity can list.
    pub subscriptions: Vec<String>,
    pub graph_url: String,
    pub arm_url: String,
    /// Only this credential; `None`: the chain (cli, environment, workload identity, managed).
    pub credential: Option<CredentialKind>,
    /// Extra trusted CA certificates (PEM), added to the bundled roots.
    pub ca_bundle: Option<PathBuf>,
    /// Requests (subscriptions, per-application reads) in flight at once.
    pub concurrency: usize,
    /// Longest `Retry-After` honoured on a 429.
    pub max_retry_wait: Duration,
}

impl AzureOptions {
    pub fn new(tenant: impl Into<String>) -> Self {
        AzureOptions {
            tenant: tenant.into(),
            subscriptions: Vec::new(),
            graph_url: PUBLIC_GRAPH_URL.into(),
            arm_url: PUBLIC_ARM_URL.into(),
            credential: None,
            ca_bundle: None,
            concurrency: 8,
            max_retry_wait: Duration::from_secs(60),
        }
    }

    /// Validates the command line's Azure flags into options.
    pub fn from_flags(
        tenant: &str,
        subscriptions: &[String],
        graph_url: Option<&str>,
        arm_url: Option<&str>,
        credential: Option<&str>,
    ) -> Result<Self, AzureOptionsError> {
        let mut opts = AzureOptions::new(tenant);
        opts.subscriptions = subscriptions.to_vec();
        opts.graph_url = graph_url
            .unwrap_or(PUBLIC_GRAPH_URL)
            .trim_end_matches('/')
            .to_string();
        opts.arm_url = arm_url
            .unwrap_or(PUBLIC_ARM_URL)
            .trim_end_matches('/')
            .to_string();
        opts.credential = credential
            .map(str::parse)
            .transpose()
            .map_err(AzureOptionsError::Credential)?;
        opts.validate()?;
        Ok(opts)
    }

    /// The options of `lapse scan|collect` (`--azure-*`, `--ca-bundle`, `--concurrency`) over
    /// `[azure]` of lapse.toml; flags win.
    pub fn from_args(
        args: &crate::cli::SourceArgs,
        table: Option<&crate::config::ProviderTable>,
    ) -> Result<Self, AzureOptionsError> {
        config::options(args, table)
    }

    /// Tenant is a GUID or a domain; endpoints are HTTPS (a token never travels in clear).
    pub fn validate(&self) -> Result<(), AzureOptionsError> {
        let tenant_ok = !self.tenant.is_empty()
            && self
                .tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !tenant_ok {
            return Err(AzureOptionsError::Tenant(self.tenant.clone()));
        }
        origin("--azure-graph-url", &self.graph_url)?;
        origin("--azure-arm-url", &self.arm_url)?;
        Ok(())
    }

    /// `https://graph.microsoft.com/.default` (or the sovereign cloud's).
    pub fn graph_scope(&self) -> String {
        scope_of("--azure-graph-url", &self.graph_url)
    }

    pub fn arm_scope(&self) -> String {
        scope_of("--azure-arm-url", &self.arm_url)
    }
}

fn scope_of(flag: &'static str, url: &str) -> String {
    format!("{}/.default", origin(flag, url).unwrap_or_default())
}

fn origin(flag: &'static str, url: &str) -> Result<String, AzureOptionsError> {
    let bad = |reason: &str| AzureOptionsError::Url {
        flag,
        url: url.into(),
        reason: reason.into(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if parsed.scheme() != "https" {
        return Err(bad("must be https (a bearer token is never sent in clear)"));
    }
    Ok(parsed.origin().ascii_serialization())
}

/// The HTTPS client every Azure call goes through (collect and revoke alike).
pub fn http_client(opts: &AzureOptions) -> Result<reqwest::Client, ApiError> {
    http::build_client(opts.ca_bundle.as_deref())
}

/// One collection run's shared state.
pub(crate) struct Run<'a> {
    opts: &'a AzureOptions,
    api: http::Api,
    tokens: Tokens,
    started_at: Timestamp,
    inventory: Mutex<Inventory>,
}

impl Run<'_> {
    async fn token(&self, scope: &str) -> Result<String, String> {
        self.tokens.token(scope).await
    }

    fn gap(&self, gap: CoverageGap) {
        tracing::warn!(scope = %gap.scope, what = %gap.what, reason = %gap.reason, "Azure coverage gap");
        self.add(|inv| inv.coverage_gaps.push(gap));
    }

    fn add(&self, f: impl FnOnce(&mut Inventory)) {
        // A poisoned lock means another task panicked mid-push; the data is still usable.
        let mut inv = self.inventory.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inv);
    }
}

pub(crate) fn gap(scope: &str, what: &str, reason: String, request: Option<String>) -> CoverageGap {
    CoverageGap {
        source: SOURCE.into(),
        scope: scope.into(),
        what: what.into(),
        reason,
        request,
    }
}

/// Scans one tenant with the credential chain (or `opts.credential`), on its own runtime.
/// Never panics: every failure is a coverage gap in the returned inventory.
pub fn collect(opts: &AzureOptions) -> Inventory {
    collect_with(
        opts,
        Tokens::from_environment(opts.credential, &opts.tenant),
    )
}

/// As [`collect`], with the caller's token source.
pub fn collect_with(opts: &AzureOptions, tokens: Tokens) -> Inventory {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(collect_async(opts, tokens)),
        Err(e) => failed(
            opts,
            Utc::now(),
            "Azure (all)",
            format!("cannot start the async runtime: {e}"),
        ),
    }
}

/// As [`collect_with`], for a caller already inside a tokio runtime.
pub async fn collect_async(opts: &AzureOptions, tokens: Tokens) -> Inventory {
    let started_at = Utc::now();
    if let Err(e) = opts.validate() {
        return failed(opts, started_at, "Azure (all)", e.to_string());
    }
    let client = match http::build_client(opts.ca_bundle.as_deref()) {
        Ok(client) => client,
        Err(e) => return failed(opts, started_at, "Azure (all)", e.to_string()),
    };
    let run = Run {
        opts,
        api: http::Api::new(client, opts.max_retry_wait),
        tokens,
        started_at,
        inventory: Mutex::new(Inventory::new(started_at)),
    };
    // Graph and ARM are independent; reading them together halves a scan's wall time.
    futures::join!(graph::collect(&run), arm::collect(&run));
    let calls = run.api.calls();
    let mut inventory = run
        .inventory
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    // The tenant that holds each grant: `revoke` writes to a grant's own tenant only.
    for grant in &mut inventory.grants {
        grant
            .attributes
            .entry(TENANT_ATTRIBUTE.into())
            .or_insert_with(|| serde_json::json!(opts.tenant));
    }
    let mut attributes = crate::inventory::Attributes::new();
    if let Some(name) = run.tokens.chosen_name() {
        attributes.insert("credential".into(), serde_json::json!(name));
    }
    inventory.sources.push(SourceRun {
        source: SOURCE.into(),
        scope: opts.tenant.clone(),
        started_at,
        duration_ms: (Utc::now() - started_at).num_milliseconds().max(0) as u64,
        api_calls: calls,
        attributes,
    });
    inventory
}

fn failed(opts: &AzureOptions, started_at: Timestamp, what: &str, reason: String) -> Inventory {
    let mut inventory = Inventory::new(started_at);
    inventory
        .coverage_gaps
        .push(gap(&opts.tenant, what, reason, None));
    inventory.sources.push(SourceRun {
        source: SOURCE.into(),
        scope: opts.tenant.clone(),
        started_at,
        duration_ms: 0,
        api_calls: Default::default(),
        attributes: Default::default(),
    });
    inventory
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_validate_into_options() {
        let opts = AzureOptions::from_flags(
            "contoso.onmicrosoft.com",
            &[],
            None,
            Some("https://management.usgovcloudapi.net/"),
            Some("cli"),
        )
        .unwrap();
        assert_eq!(opts.graph_scope(), "https://graph.microsoft.com/.default");
        assert_eq!(
            opts.arm_scope(),
            "https://management.usgovcloudapi.net/.default"
        );
        assert_eq!(opts.credential, Some(CredentialKind::Cli));
    }

    #[test]
    fn plain_http_and_bad_tenants_are_refused() {
        let err =
            AzureOptions::from_flags("t", &[], Some("http://127.0.0.1:1"), None, None).unwrap_err();
        assert!(err.to_string().contains("must be https"));
        assert!(AzureOptions::from_flags("a b", &[], None, None, None).is_err());
        assert!(AzureOptions::from_flags("t", &[], None, None, Some("pat")).is_err());
    }

    #[test]
    fn invalid_options_are_a_gap_not_a_panic() {
        let mut opts = AzureOptions::new("t");
        opts.arm_url = "ftp://x".into();
        let inventory = collect(&opts);
        assert_eq!(inventory.coverage_gaps.len(), 1);
        assert_eq!(inventory.coverage_gaps[0].source, "azure");
    }
}
