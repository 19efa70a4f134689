//! Rules: the catalogue as data. A rule is a TOML file (id, title, family, severity,
//! parameters, a CEL condition over a subject's facts, its docs and framework references).
//! `loader` reads and validates rule files (built-in ones are embedded at build time, a user's
//! come from `--rules DIR`); `engine` compiles each condition once and evaluates the rules
//! against the subjects in parallel.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::findings::{Family, Reference, Severity};

mod builtin;
pub mod condition;
pub mod engine;
pub mod explain;
mod fast;
pub mod loader;

pub use engine::{Evaluation, RuleSet, evaluate};
pub use loader::{RuleError, load};

/// Subject kinds a rule may name in `applies_to`. Each analyzer adds the kinds it produces
/// (`github.*`, `azure.*`, `repo.*`); a rule naming anything else is a load error, so a typo
/// never yields a rule that silently matches nothing.
pub const KNOWN_SUBJECT_KINDS: &[&str] = &[
    "aws.user",
    "aws.role",
    "aws.access_key",
    "aws.root",
    "azure.application",
    "azure.service_principal",
    "azure.client_secret",
    "azure.client_certificate",
    "azure.federated_credential",
    "azure.role_assignment",
    "github.actions_secret",
    "github.dependabot_secret",
    "github.deploy_key",
    "github.fine_grained_pat",
    "github.credential_authorization",
    "github.app_installation",
    "github.workflow_permissions",
    "github.workflow",
    "github.workflow_job",
    "github.workflow_step",
    "github.ci_cloud_key",
    "repo.workflow",
    "repo.workflow_job",
    "repo.workflow_step",
    "repo.ci_cloud_key",
    "repo.hardcoded_secret",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Stable,
    Preview,
    /// Retired: the id stays reserved and is never evaluated.
    Removed,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Stable => "stable",
            RuleStatus::Preview => "preview",
            RuleStatus::Removed => "removed",
        }
    }
}

/// A rule's documentation, rendered by `rules explain`, the HTML report and the README table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleDocs {
    /// One paragraph: why this matters.
    pub rationale: String,
    /// How to fix it.
    pub remediation: String,
    /// An example of what triggers it.
    pub example: String,
}

/// A validated rule, after `lapse.toml` overrides were applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub family: Family,
    pub severity: Severity,
    pub status: RuleStatus,
    /// Subject kinds (`aws.user`, `aws.access_key`) this rule is evaluated on.
    pub applies_to: Vec<String>,
    /// CEL over `r` (the subject's facts), `params` (this rule's parameters) and `now`.
    pub condition: String,
    pub params: BTreeMap<String, serde_json::Value>,
    pub docs: RuleDocs,
    pub references: Vec<Reference>,
    /// Where the rule came from: `builtin:rules/...toml` or a user's path.
    pub source: String,
    /// Disabled in lapse.toml: listed, never evaluated.
    pub enabled: bool,
}

impl Rule {
    /// Evaluated in a scan: enabled and not retired.
    pub fn is_active(&self) -> bool {
        self.enabled && self.status != RuleStatus::Removed
    }
}
