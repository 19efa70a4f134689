//! Findings: what a rule found on a subject, with a stable fingerprint, a risk score, the
//! evidence the condition read and the remediation. Suppressions are applied here.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inventory::{Location, ResourceRef};

pub mod fixtures;
pub mod risk;
pub mod suppress;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

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

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule families of DESIGN.md; their slugs are part of the JSON report's stable core.
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

impl Family {
    pub const ALL: [Family; 7] = [
        Family::StandingPrivilege,
        Family::OverScope,
        Family::ExpiredGrant,
        Family::StaticCredential,
        Family::MissingTtl,
        Family::Unrotated,
        Family::Unused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Unrotated => "unrotated",
            Family::Unused => "unused",
            Family::MissingTtl => "missing-ttl",
            Family::StandingPrivilege => "standing-privilege",
            Family::OverScope => "over-scope",
            Family::ExpiredGrant => "expired-grant",
            Family::StaticCredential => "static-credential",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A framework reference of a rule (`OWASP NHI Top 10 2025` / `NHI7`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub framework: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Why a finding is not counted, from `[[suppressions]]` in lapse.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub reason: String,
    pub owner: String,
    pub expires: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    /// The rule's title, shared by all its findings (a large scan has half a million).
    pub title: Arc<str>,
    pub family: Family,
    pub severity: Severity,
    /// 0-100, see `risk::score`.
    pub risk: u8,
    pub resource: ResourceRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Stable across runs: rule id + resource identity, never the run.
    pub fingerprint: String,
    /// The fact values the condition read.
    pub evidence: BTreeMap<String, serde_json::Value>,
    /// The rule's remediation, shared like the title.
    pub remediation: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppression>,
}

/// Fingerprint of a finding: the first 128 bits of SHA-256 over rule id and resource identity.
pub fn fingerprint(rule_id: &str, resource: &ResourceRef, location: Option<&Location>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(rule_id.as_bytes());
    hasher.update([0]);
    hasher.update(resource.provider.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(resource.id.as_bytes());
    if let Some(location) = location {
        // Two hard-coded secrets of one kind in one file differ only by where they are.
        hasher.update([0]);
        hasher.update(location.path.as_bytes());
        hasher.update(location.line.unwrap_or(0).to_le_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}
