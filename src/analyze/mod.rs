//! Analyze: turns the inventory into *subjects*, each a resource with the facts rules read.
//!
//! Every hard judgement (privilege level of a policy set, who a trust admits, when a grant
//! expires, how old and idle a credential is) is made here, once, in Rust. Rules never parse
//! provider data; they read the facts of a subject (`r.<fact>` in a condition).
//!
//! A subject's `kind` is `<provider>.<kind>` (`aws.user`, `aws.access_key`); a rule names the
//! kinds it applies to. Facts are a flat JSON object; `*_days` facts are whole days at `as_of`
//! and `null` when unknown, so conditions guard them (`r.age_days != null && ...`).

use serde::{Deserialize, Serialize};

use crate::inventory::{Inventory, Location, ResourceRef, Timestamp};

pub mod aws;
pub mod azure;
pub mod expiry;
pub mod github;
pub mod policy;
pub mod repo;
pub mod trust;

/// The judgement inputs shared by all analyzers.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisContext {
    /// The instant the estate is judged at (`--as-of`, default now).
    pub as_of: Timestamp,
}

impl AnalysisContext {
    /// Whole days from `then` to `as_of` (negative if `then` is later).
    pub fn days_since(&self, then: Timestamp) -> i64 {
        (self.as_of - then).num_days()
    }
}

/// How much a principal can do.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Privilege {
    #[default]
    None,
    Read,
    Write,
    Admin,
}

impl Privilege {
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::None => "none",
            Privilege::Read => "read",
            Privilege::Write => "write",
            Privilege::Admin => "admin",
        }
    }
}

/// Who, beyond the owner, can reach a subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    #[default]
    Internal,
    /// Another account or tenant, or a CI system through federation bound to one repository.
    CrossAccount,
    /// Stored in or handed to CI, or in a repository's files.
    Ci,
    /// Any principal, any repository, the public.
    Public,
}

/// The inputs to a finding's risk score (see `findings::risk`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RiskInputs {
    pub scope: Privilege,
    /// Days until the access ends by itself; `None` when it never does (standing).
    pub window_days: Option<i64>,
    /// Days since last use; `None` when unknown. Never-used counts as age.
    pub idle_days: Option<i64>,
    pub exposure: Exposure,
}

/// A resource with the facts its rules read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subject {
    /// `<provider>.<kind>`, e.g. `aws.access_key`; rules select subjects by it.
    pub kind: String,
    pub resource: ResourceRef,
    /// The principal this subject belongs to (a key's user), for the per-identity view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Flat JSON object: what `r.<fact>` reads in a condition.
    pub facts: serde_json::Map<String, serde_json::Value>,
    pub risk: RiskInputs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// One identity as an auditor reads it: what it can do, for how long, with which credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub resource: ResourceRef,
    pub scope: String,
    pub privilege: Privilege,
    /// `standing`, `provisional`, `expired`.
    pub window: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    pub active_credentials: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_credential_age_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_days: Option<i64>,
    /// Names of the grants held (policy names, roles), for the drill-down.
    pub grants: Vec<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Analysis {
    pub subjects: Vec<Subject>,
    pub identities: Vec<Identity>,
}

impl Analysis {
    fn extend(&mut self, other: Analysis) {
        self.subjects.extend(other.subjects);
        self.identities.extend(other.identities);
    }
}

/// Serializes a typed facts struct into the flat object a subject carries.
pub fn facts_of<T: Serialize>(facts: &T) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(facts) {
        Ok(serde_json::Value::Object(map)) => map,
        // Facts structs are plain structs of plain fields; anything else is a programming error
        // caught by every analyzer test.
        _ => serde_json::Map::new(),
    }
}

/// Runs every provider's analyzer over the inventory.
pub fn analyze(inventory: &Inventory, ctx: &AnalysisContext) -> Analysis {
    let mut analysis = Analysis::default();
    analysis.extend(aws::analyze(inventory, ctx));
    analysis.extend(azure::analyze(inventory, ctx));
    analysis.extend(github::analyze(inventory, ctx));
    analysis.extend(repo::analyze(inventory, ctx));
    github::link_aws_roles(&mut analysis, inventory);
    analysis
}
