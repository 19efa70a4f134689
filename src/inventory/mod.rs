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
pub mod join;

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

/// A JSON document held by the inventory (a policy, a trust policy, a permission set), kept
/// as its compact text: parsed maps cost about 2 KiB per small trust policy, a third of a large
/// estate's inventory. Analyzers parse a document when they judge it ([`Document::value`]).
/// In the inventory file it is the JSON value itself.
#[derive(Clone)]
pub struct Document(Box<serde_json::value::RawValue>);

impl Document {
    /// Checks that `text` is one JSON value that [`Document::value`] can parse back, and
    /// keeps it as it is. Validating a raw value has no depth limit but parsing one does
    /// (serde_json stops at 128 levels), so a deeper document is refused here, with the
    /// parser's own error and position, rather than read later as `null` (no permissions).
    pub fn from_text(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        let raw = serde_json::value::RawValue::from_string(text.into())?;
        if nested_deeper_than(raw.get(), MAX_DOCUMENT_NESTING)
            && let Err(e) = serde_json::from_str::<serde_json::Value>(raw.get())
        {
            return Err(e);
        }
        Ok(Document(raw))
    }

    /// The document, parsed.
    pub fn value(&self) -> serde_json::Value {
        // Checked when made, so it parses back.
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

/// The nesting serde_json parses (its recursion limit is 128).
const MAX_DOCUMENT_NESTING: usize = 127;

/// Whether JSON `text` opens more than `limit` arrays or objects inside each other: one pass
/// over the bytes, strings skipped.
fn nested_deeper_than(text: &str, limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

impl Default for Document {
    fn default() -> Self {
        Document(serde_json::value::RawValue::NULL.to_owned())
    }
}

impl From<serde_json::Value> for Document {
    fn from(value: serde_json::Value) -> Self {
        serde_json::value::to_raw_value(&value).map_or_else(|_| Document::default(), Document)
    }
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.value() == other.value()
    }
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// Through `Value` rather than `RawValue`'s own impls, which only serde_json understands: the
// inventory must stay a plain serde type.
impl Serialize for Document {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Document::from)
    }
}

/// A shared permission document (AWS managed policy). Grants point at it by `id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    pub provider: Provider,
    pub id: String,
    pub name: String,
    /// The default version's document, decoded to JSON (`null` when the details lack it).
    pub document: Document,
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
    pub document: Option<Document>,
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
    pub document: Option<Document>,
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
    /// The account (tenant, owner) holding the grant, when the ledger names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The principal's unique id when the grant was issued (AWS `RoleId`/`UserId`, Azure object id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_unique_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// Declared by whoever wrote the line, not verified by lapse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

impl LedgerEntry {
    /// An entry with only its required fields (callers set the optional ones they know).
    pub fn new(provider: Provider, kind: &str, target: &str, expires_at: Timestamp) -> LedgerEntry {
        LedgerEntry {
            provider,
            kind: kind.to_string(),
            target: target.to_string(),
            principal_id: None,
            expires_at,
            owner: None,
            reason: None,
            account: None,
            principal_unique_id: None,
            requested_by: None,
            approved_by: None,
            ticket: None,
        }
    }
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
        let policies: Vec<Policy> = {
            let known: crate::hash::FastSet<&str> =
                self.policies.iter().map(|p| p.id.as_str()).collect();
            other
                .policies
                .into_iter()
                .filter(|p| !known.contains(p.id.as_str()))
                .collect()
        };
        append(&mut self.sources, other.sources);
        append(&mut self.principals, other.principals);
        append(&mut self.credentials, other.credentials);
        append(&mut self.policies, policies);
        append(&mut self.grants, other.grants);
        append(&mut self.trusts, other.trusts);
        append(&mut self.ledger, other.ledger);
        append(&mut self.coverage_gaps, other.coverage_gaps);
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

/// `into` then `more`; when `into` is empty, `more`'s buffer is taken as it is (merging a large
/// fragment into an empty inventory must not copy it, nor hold it twice).
fn append<T>(into: &mut Vec<T>, mut more: Vec<T>) {
    if into.is_empty() {
        *into = more;
    } else {
        into.append(&mut more);
    }
}

#[cfg(test)]
mod document_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn document_is_its_json_value_in_and_out() {
        let value = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]});
        let from_text = Document::from_text(
            r#"{ "Version": "2012-10-17", "Statement": [ {"Effect": "Allow"} ] }"#,
        )
        .unwrap();
        assert_eq!(from_text.value(), value);
        assert_eq!(from_text, Document::from(value.clone()));
        assert_eq!(serde_json::to_value(&from_text).unwrap(), value);
        let back: Document = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(back.value(), value);
        assert!(Document::from_text("{not json").is_err());
        assert_eq!(Document::default().value(), serde_json::Value::Null);
    }
}
