//! Render, JSON report v1: the frozen output types of `lapse-report.json`.
//!
//! These types are the contract consumers script against (and `lapse diff` reads back). They
//! are deliberately separate from the internal structs: an internal refactor changes the
//! `From` conversions below, never the shape written here. Adding an optional field is a minor
//! version bump of `SCHEMA_VERSION`; renaming or removing one is a new module (`v2`).
//! `reports/lapse-report.schema.json` describes exactly these types.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Written as `schema_version`; readers accept any `1.x.y`.
pub const SCHEMA_VERSION: &str = "1.3.0";
pub const SCHEMA_MAJOR: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The serialized name, for text views of a report read back (drift).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    Unrotated,
    Unused,
    MissingTtl,
    StandingPrivilege,
    OverScope,
    ExpiredGrant,
    StaticCredential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Aws,
    Azure,
    Github,
    Repo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Privilege {
    None,
    Read,
    Write,
    Admin,
}

impl Privilege {
    /// The serialized name, like [`Severity::as_str`].
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::None => "none",
            Privilege::Read => "read",
            Privilege::Write => "write",
            Privilege::Admin => "admin",
        }
    }
}

/// The whole document. `findings` comes last so a streaming reader sees the metadata first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: String,
    pub tool: Tool,
    pub scan: Scan,
    pub summary: Summary,
    pub inventory: Inventory,
    pub identities: Vec<Identity>,
    /// Every credential inventoried (ids and dates only), for `lapse diff`. Read as empty
    /// when absent.
    #[serde(default)]
    pub credentials: Vec<Credential>,
    pub suppression_issues: Vec<SuppressionIssue>,
    /// Provisional grants past their expiry: what `lapse revoke` removes, and what it did.
    /// Read as empty when absent (reports of 1.0.0).
    #[serde(default)]
    pub revocations: Vec<Revocation>,
    pub findings: Vec<Finding>,
}

/// A provisional grant whose expiry has passed, with the revocation's state from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub resource: Resource,
    pub scope: String,
    pub expires_at: DateTime<Utc>,
    /// Where the expiry was read: a tag, a description, a title, the ledger, a PIM schedule.
    pub marker_source: String,
    /// `pending`, `partial` or `performed`.
    pub status: String,
    /// The API actions, in order.
    pub actions: Vec<String>,
    #[serde(default)]
    pub performed_at: Option<DateTime<Utc>>,
}

/// A credential: ids and dates only, never a secret value nor its last characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub resource: Resource,
    #[serde(default)]
    pub principal_id: Option<String>,
    pub active: bool,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last rotation; a new secret under the same id moves it forward.
    #[serde(default)]
    pub rotated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    pub started_at: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    pub duration_ms: u64,
    pub sources: Vec<Source>,
    /// Total API calls by operation (`iam:GetAccountAuthorizationDetails` → 3).
    pub api_calls: BTreeMap<String, u64>,
    pub coverage_gaps: Vec<CoverageGap>,
    /// False when any source left a coverage gap: the findings are a lower bound.
    pub complete: bool,
    /// Rules that did not judge some subjects because an optional input was not given (1.2).
    /// Report-only: it does not make the scan incomplete. Read as empty when absent.
    #[serde(default)]
    pub not_judged: Vec<NotJudged>,
}

/// A rule that did not judge some subjects: the fact it needs was unknown on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotJudged {
    pub rule_id: String,
    pub fact: String,
    /// The input that supplies the fact.
    pub needs: String,
    pub subjects: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub source: String,
    pub scope: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub api_calls: BTreeMap<String, u64>,
    /// What the source says about its run (credential report age, files scanned, MB/s, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageGap {
    pub source: String,
    pub scope: String,
    pub what: String,
    pub reason: String,
    #[serde(default)]
    pub request: Option<String>,
}

/// Counts of active (not suppressed) findings; every severity and family key is present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total: u64,
    pub suppressed: u64,
    pub by_severity: BTreeMap<Severity, u64>,
    pub by_family: BTreeMap<Family, u64>,
    /// Machine identities by how their access ends (1.3).
    #[serde(default)]
    pub machine_access: MachineAccess,
}

/// Machine identities by access: standing, or self-ending (provisional or federated), with
/// the shares in whole percent (0 when there are none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineAccess {
    pub standing: u64,
    pub provisional: u64,
    pub federated: u64,
    pub standing_percent: u64,
    pub self_ending_percent: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Inventory {
    pub principals: BTreeMap<String, u64>,
    pub credentials: BTreeMap<String, u64>,
    pub grants: BTreeMap<String, u64>,
    pub policies: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Resource {
    pub provider: Provider,
    pub kind: String,
    /// The ARN or the provider's own id.
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub resource: Resource,
    pub scope: String,
    pub privilege: Privilege,
    /// `standing`, `provisional` or `expired`.
    pub window: String,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    pub active_credentials: u32,
    #[serde(default)]
    pub oldest_credential_age_days: Option<i64>,
    #[serde(default)]
    pub idle_days: Option<i64>,
    pub grants: Vec<String>,
    /// `standing`, `provisional` (a marker or live ledger lines end it) or `federated` (OIDC,
    /// no stored secret) (1.3).
    #[serde(default)]
    pub access: String,
    #[serde(default)]
    pub machine: bool,
    /// Who granted what, why, until when (the marker or the grant ledger) (1.3).
    #[serde(default)]
    pub provisional_grants: Vec<ProvisionalGrant>,
    /// Active findings on the identity or on what belongs to it (its keys, its grants).
    pub finding_count: u64,
    #[serde(default)]
    pub max_severity: Option<Severity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionalGrant {
    /// `ledger`, or where the identity's own marker was read (`tag`, `description`, ...).
    pub source: String,
    pub target: String,
    pub until: DateTime<Utc>,
    /// Declared, not verified.
    pub granted_by: Option<String>,
    pub requested_by: Option<String>,
    pub reason: Option<String>,
    pub ticket: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionIssue {
    pub rule: String,
    pub resource: String,
    pub reason: String,
    pub owner: String,
    pub expires: String,
    /// `expired` or `unmatched`.
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    #[serde(default)]
    pub line: Option<u32>,
    #[serde(default)]
    pub column: Option<u32>,
}

/// The principal holding a finding's resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub kind: String,
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub reason: String,
    pub owner: String,
    pub expires: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub title: Arc<str>,
    pub family: Family,
    pub severity: Severity,
    /// 0-100.
    pub risk: u8,
    pub resource: Resource,
    #[serde(default)]
    pub principal_id: Option<String>,
    /// Who holds the resource: on a credential, its application, user or repository (1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Holder>,
    /// Stable across runs: rule id + resource identity.
    pub fingerprint: String,
    pub evidence: BTreeMap<String, serde_json::Value>,
    pub remediation: Arc<str>,
    #[serde(default)]
    pub location: Option<Location>,
    pub suppressed: bool,
    /// Why it is not counted, when `suppressed`.
    #[serde(default)]
    pub suppression: Option<Suppression>,
}

/// A [`Finding`] as it serializes, borrowed from the internal finding: the JSON writer's form,
/// which writes 600k findings on a large estate and should not clone each one's evidence,
/// ids and resource first. The same fields, names and order as [`Finding`]; the two
/// serialize to the same bytes (`finding_view_serializes_as_the_finding`).
#[derive(Serialize)]
pub struct FindingView<'a> {
    rule_id: &'a str,
    title: Shared<'a>,
    family: Family,
    severity: Severity,
    risk: u8,
    resource: ResourceView<'a>,
    principal_id: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<Holder>,
    fingerprint: &'a str,
    evidence: &'a BTreeMap<String, serde_json::Value>,
    remediation: Shared<'a>,
    location: Option<Location>,
    suppressed: bool,
    suppression: Option<Suppression>,
}

/// A string every finding of a rule shares (its title, its remediation), with its JSON text
/// when the writer escaped it once for all of them: on a large estate the remediations are half
/// the report's bytes, each the same few hundred for every finding of its rule.
#[derive(Clone, Copy)]
struct Shared<'a> {
    text: &'a str,
    json: Option<&'a serde_json::value::RawValue>,
}

impl Serialize for Shared<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.json {
            // Written verbatim by serde_json (the only serializer of a view with `json` set:
            // see `FindingView::escaped`), the very bytes it writes for `text`.
            Some(raw) => raw.serialize(serializer),
            None => serializer.serialize_str(self.text),
        }
    }
}

/// The JSON text of the strings findings share, escaped once per string rather than once per
/// finding, for [`FindingView::escaped`]. Keyed by the shared allocation, so it only finds the
/// very strings it was built from.
#[derive(Default)]
pub struct Escaped(crate::hash::FastMap<(usize, usize), Box<serde_json::value::RawValue>>);

impl Escaped {
    /// The titles and remediations of `findings`, each escaped once.
    pub fn of(findings: &[crate::findings::Finding]) -> Self {
        let mut escaped = Escaped::default();
        for finding in findings {
            escaped.add(&finding.title);
            escaped.add(&finding.remediation);
        }
        escaped
    }

    fn key(text: &Arc<str>) -> (usize, usize) {
        (text.as_ptr() as usize, text.len())
    }

    fn add(&mut self, text: &Arc<str>) {
        let key = Self::key(text);
        if self.0.contains_key(&key) {
            return;
        }
        // Neither step can fail for a string; if one did, the string is written plainly.
        let raw = serde_json::to_string(&**text)
            .ok()
            .and_then(|json| serde_json::value::RawValue::from_string(json).ok());
        if let Some(raw) = raw {
            self.0.insert(key, raw);
        }
    }

    fn get<'a>(&'a self, text: &'a Arc<str>) -> Shared<'a> {
        Shared {
            text,
            json: self.0.get(&Self::key(text)).map(|raw| &**raw),
        }
    }
}

impl<'a> FindingView<'a> {
    /// The view with the shared strings `escaped` holds written from their JSON text. Only for
    /// serde_json's serializers, which write that text verbatim (any other would write a raw
    /// value's wrapper instead).
    pub fn escaped(f: &'a crate::findings::Finding, escaped: &'a Escaped) -> Self {
        FindingView {
            title: escaped.get(&f.title),
            remediation: escaped.get(&f.remediation),
            ..FindingView::from(f)
        }
    }
}

/// A [`Resource`], borrowed.
#[derive(Serialize)]
struct ResourceView<'a> {
    provider: Provider,
    kind: &'a str,
    id: &'a str,
    name: &'a str,
}

mod convert {
    //! From the internal types to the frozen ones. The only place that knows both.

    use super::*;
    use crate::{analyze, findings, inventory, report};

    impl From<findings::Severity> for Severity {
        fn from(s: findings::Severity) -> Self {
            match s {
                findings::Severity::Info => Severity::Info,
                findings::Severity::Low => Severity::Low,
                findings::Severity::Medium => Severity::Medium,
                findings::Severity::High => Severity::High,
                findings::Severity::Critical => Severity::Critical,
            }
        }
    }

    impl From<findings::Family> for Family {
        fn from(f: findings::Family) -> Self {
            match f {
                findings::Family::Unrotated => Family::Unrotated,
                findings::Family::Unused => Family::Unused,
                findings::Family::MissingTtl => Family::MissingTtl,
                findings::Family::StandingPrivilege => Family::StandingPrivilege,
                findings::Family::OverScope => Family::OverScope,
                findings::Family::ExpiredGrant => Family::ExpiredGrant,
                findings::Family::StaticCredential => Family::StaticCredential,
            }
        }
    }

    impl From<inventory::Provider> for Provider {
        fn from(p: inventory::Provider) -> Self {
            match p {
                inventory::Provider::Aws => Provider::Aws,
                inventory::Provider::Azure => Provider::Azure,
                inventory::Provider::Github => Provider::Github,
                inventory::Provider::Repo => Provider::Repo,
            }
        }
    }

    impl From<analyze::Privilege> for Privilege {
        fn from(p: analyze::Privilege) -> Self {
            match p {
                analyze::Privilege::None => Privilege::None,
                analyze::Privilege::Read => Privilege::Read,
                analyze::Privilege::Write => Privilege::Write,
                analyze::Privilege::Admin => Privilege::Admin,
            }
        }
    }

    impl From<&inventory::ResourceRef> for Resource {
        fn from(r: &inventory::ResourceRef) -> Self {
            Resource {
                provider: r.provider.into(),
                kind: r.kind.clone(),
                id: r.id.clone(),
                name: r.name.clone(),
            }
        }
    }

    impl From<&inventory::CoverageGap> for CoverageGap {
        fn from(g: &inventory::CoverageGap) -> Self {
            CoverageGap {
                source: g.source.clone(),
                scope: g.scope.clone(),
                what: g.what.clone(),
                reason: g.reason.clone(),
                request: g.request.clone(),
            }
        }
    }

    impl From<&inventory::SourceRun> for Source {
        fn from(s: &inventory::SourceRun) -> Self {
            Source {
                source: s.source.clone(),
                scope: s.scope.clone(),
                started_at: s.started_at,
                duration_ms: s.duration_ms,
                api_calls: s.api_calls.clone(),
                attributes: s.attributes.clone(),
            }
        }
    }

    impl From<&crate::revoke::Revocation> for Revocation {
        fn from(r: &crate::revoke::Revocation) -> Self {
            Revocation {
                resource: (&r.resource).into(),
                scope: r.scope.clone(),
                expires_at: r.expires_at,
                marker_source: r.marker_source.clone(),
                status: r.status.clone(),
                actions: r.actions.clone(),
                performed_at: r.performed_at,
            }
        }
    }

    impl From<&report::CredentialRecord> for Credential {
        fn from(c: &report::CredentialRecord) -> Self {
            Credential {
                resource: (&c.resource).into(),
                principal_id: c.principal_id.clone(),
                active: c.active,
                created_at: c.created_at,
                rotated_at: c.rotated_at,
                expires_at: c.expires_at,
            }
        }
    }

    impl From<&report::SuppressionIssue> for SuppressionIssue {
        fn from(s: &report::SuppressionIssue) -> Self {
            SuppressionIssue {
                rule: s.rule.clone(),
                resource: s.resource.clone(),
                reason: s.reason.clone(),
                owner: s.owner.clone(),
                expires: s.expires.clone(),
                problem: s.problem.clone(),
            }
        }
    }

    impl From<&report::InventorySummary> for Inventory {
        fn from(i: &report::InventorySummary) -> Self {
            Inventory {
                principals: i.principals.clone(),
                credentials: i.credentials.clone(),
                grants: i.grants.clone(),
                policies: i.policies,
            }
        }
    }

    impl From<&findings::Finding> for Finding {
        fn from(f: &findings::Finding) -> Self {
            let view = FindingView::from(f);
            Finding {
                rule_id: f.rule_id.clone(),
                title: f.title.clone(),
                family: view.family,
                severity: view.severity,
                risk: view.risk,
                resource: (&f.resource).into(),
                principal_id: f.principal_id.clone(),
                principal: view.principal,
                fingerprint: f.fingerprint.clone(),
                evidence: f.evidence.clone(),
                remediation: f.remediation.clone(),
                location: view.location,
                suppressed: view.suppressed,
                suppression: view.suppression,
            }
        }
    }

    impl<'a> From<&'a findings::Finding> for FindingView<'a> {
        fn from(f: &'a findings::Finding) -> Self {
            FindingView {
                rule_id: &f.rule_id,
                title: Shared {
                    text: &f.title,
                    json: None,
                },
                family: f.family.into(),
                severity: f.severity.into(),
                risk: f.risk.min(100),
                resource: ResourceView {
                    provider: f.resource.provider.into(),
                    kind: &f.resource.kind,
                    id: &f.resource.id,
                    name: &f.resource.name,
                },
                principal_id: &f.principal_id,
                principal: f.principal.as_ref().map(|h| Holder {
                    kind: h.kind.clone(),
                    id: h.id.clone(),
                    name: h.name.clone(),
                }),
                fingerprint: &f.fingerprint,
                evidence: &f.evidence,
                remediation: Shared {
                    text: &f.remediation,
                    json: None,
                },
                location: f.location.as_ref().map(|l| Location {
                    path: l.path.clone(),
                    line: l.line,
                    column: l.column,
                }),
                suppressed: f.suppressed.is_some(),
                suppression: f.suppressed.as_ref().map(|s| Suppression {
                    reason: s.reason.clone(),
                    owner: s.owner.clone(),
                    expires: s.expires.clone(),
                }),
            }
        }
    }
}

#[cfg(test)]
#[path = "v1_tests.rs"]
mod tests;
