//! Inventory: the provider-neutral model that `collect` writes and every later stage reads.
//!
//! Nothing here interprets provider data: a policy document is kept as JSON, a tag as text.
//! Turning that into judgements (privilege level, expiry, trust exposure) is `analyze`'s job.
//! The whole inventory serializes to JSON (`lapse collect --save`), and `lapse evaluate` on that
//! file must reproduce the findings of the live run.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod io;

/// Version of the saved inventory file; bumped on an incompatible change.
pub const INVENTORY_SCHEMA_VERSION: u32 = 1;

pub type Timestamp = DateTime<Utc>;
/// Provider-specific extras that no rule needs in a neutral form.
pub type Attributes = BTreeMap<String, serde_json::Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Aws,
    Azure,
    Github,
    /// A local repository checkout (workflows and tracked files), scanned with no network.
    Repo,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Github => "github",
            Provider::Repo => "repo",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding points at. `id` is the ARN or the provider's own id; `kind` is the
/// provider-neutral kind (`user`, `role`, `access_key`, `client_secret`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    pub provider: Provider,
    pub kind: String,
    pub id: String,
    pub name: String,
}

/// When a credential or identity was last used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastUsed {
    /// The provider does not say (AWS `no_information`, a tenant without sign-in logs).
    #[default]
    Unknown,
    /// The provider says it was never used (AWS `N/A` on an access key, an empty RoleLastUsed).
    Never,
    At(Timestamp),
}

impl LastUsed {
    pub fn at(self) -> Option<Timestamp> {
        match self {
            LastUsed::At(t) => Some(t),
            _ => None,
        }
    }
}

/// A place in a file (hard-coded secrets, workflow findings). Lines are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

/// Something that can act: IAM user or role, the root account, a service principal, an App
/// installation, a repository's workflow token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Principal {
    pub provider: Provider,
    /// `user`, `role`, `root`, `group`, `service_principal`, `application`, `app_installation`,
    /// `organization`, `repository`, `workflow`.
    pub kind: String,
    pub id: String,
    pub name: String,
    /// Account id, tenant id, organization login or repository path: what `--shard` splits on.
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub last_used: LastUsed,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// Something that proves identity: access key, client secret, deploy key, token, CI secret, a
/// secret found in a file. Never the secret value: at most its last four characters (`hint`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credential {
    pub provider: Provider,
    /// `access_key`, `signing_certificate`, `password`, `client_secret`, `client_certificate`,
    /// `federated_credential`, `actions_secret`, `dependabot_secret`, `deploy_key`,
    /// `fine_grained_pat`, `classic_pat`, `ssh_key`, `hardcoded_secret`.
    pub kind: String,
    /// Stable, non-secret id (for an AWS key from the credential report: `<user arn>/access_key_1`).
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    pub scope: String,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Last rotation (AWS `last_rotated`, GitHub secret `updated_at`); falls back to creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub last_used: LastUsed,
    /// At most the last four characters of a secret, for recognition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// A shared permission document (AWS managed policy). Grants point at it by `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    pub provider: Provider,
    pub id: String,
    pub name: String,
    /// The default version's document, decoded to JSON.
    pub document: serde_json::Value,
    #[serde(default)]
    pub provider_managed: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// Permission held by a principal: a policy attachment, an inline policy, an Azure role
/// assignment, a PIM schedule, App installation permissions, workflow token permissions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub provider: Provider,
    /// `managed_policy`, `inline_policy`, `permissions_boundary`, `role_assignment`,
    /// `pim_active`, `pim_eligible`, `app_permissions`, `token_permissions`.
    pub kind: String,
    pub id: String,
    pub principal_id: String,
    pub name: String,
    /// Inherited through a group: the group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// A shared document in `Inventory::policies`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    /// An inline document, decoded to JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<serde_json::Value>,
    /// Role name for role-based grants (Azure `Owner`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Where the grant applies (an Azure scope, `all` repositories).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
    /// Free text the provider stores with the grant (may carry a `lapse:expires-at=` marker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// Who may become a principal: an AWS role's trust policy, an Entra federated credential.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trust {
    pub provider: Provider,
    /// `assume_role_policy`, `federated_credential`.
    pub kind: String,
    pub principal_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
}

/// What a source could not read, and why. Shown in every report; makes the gate exit 3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageGap {
    /// `aws`, `aws-offline`, `github`, `azure`, `repo`, `rules`.
    pub source: String,
    /// Account, subscription, organization or repository concerned.
    pub scope: String,
    /// What is missing (`credential report`, `role assignments`, `page 3 of secrets`).
    pub what: String,
    pub reason: String,
    /// The request that failed (method and URL or API operation), never with a credential in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// One source's run: what it scanned, how long it took, how many API calls by operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceRun {
    pub source: String,
    pub scope: String,
    pub started_at: Timestamp,
    pub duration_ms: u64,
    #[serde(default)]
    pub api_calls: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// A provisional grant recorded outside the provider (what cannot carry a tag).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub provider: Provider,
    /// What kind of grant this is: `policy_attachment`, `inline_policy`, `actions_secret`, ...
    pub kind: String,
    /// The grant or resource id the entry governs (policy ARN + principal, secret path, ...).
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    pub expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inventory {
    pub schema_version: u32,
    pub collected_at: Timestamp,
    #[serde(default)]
    pub sources: Vec<SourceRun>,
    #[serde(default)]
    pub principals: Vec<Principal>,
    #[serde(default)]
    pub credentials: Vec<Credential>,
    #[serde(default)]
    pub policies: Vec<Policy>,
    #[serde(default)]
    pub grants: Vec<Grant>,
    #[serde(default)]
    pub trusts: Vec<Trust>,
    #[serde(default)]
    pub ledger: Vec<LedgerEntry>,
    #[serde(default)]
    pub coverage_gaps: Vec<CoverageGap>,
}

impl Inventory {
    pub fn new(collected_at: Timestamp) -> Self {
        Inventory {
            schema_version: INVENTORY_SCHEMA_VERSION,
            collected_at,
            sources: Vec::new(),
            principals: Vec::new(),
            credentials: Vec::new(),
            policies: Vec::new(),
            grants: Vec::new(),
            trusts: Vec::new(),
            ledger: Vec::new(),
            coverage_gaps: Vec::new(),
        }
    }

    /// Joins another source's fragment into this inventory. Fragments never overlap by design
    /// (each source owns its scope), so this appends; shared policies are kept once by id.
    pub fn merge(&mut self, other: Inventory) {
        let known: std::collections::HashSet<String> =
            self.policies.iter().map(|p| p.id.clone()).collect();
        self.sources.extend(other.sources);
        self.principals.extend(other.principals);
        self.credentials.extend(other.credentials);
        self.policies.extend(
            other
                .policies
                .into_iter()
                .filter(|p| !known.contains(&p.id)),
        );
        self.grants.extend(other.grants);
        self.trusts.extend(other.trusts);
        self.ledger.extend(other.ledger);
        self.coverage_gaps.extend(other.coverage_gaps);
    }

    /// Total API calls by operation across every source.
    pub fn api_calls(&self) -> BTreeMap<String, u64> {
        let mut calls = BTreeMap::new();
        for source in &self.sources {
            for (op, n) in &source.api_calls {
                *calls.entry(op.clone()).or_insert(0) += n;
            }
        }
        calls
    }
}
