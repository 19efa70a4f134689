//! The result of a run, as every renderer and the gate consume it: findings, identities,
//! scan metadata and coverage gaps. Renderers never see the inventory's raw provider data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analyze::Identity;
use crate::findings::{Finding, Severity};
use crate::inventory::{CoverageGap, SourceRun, Timestamp};
use crate::rules::Rule;

/// A suppression from lapse.toml that did not do its job: expired, or matched nothing.
/// (`render::v1::SuppressionIssue` looks the same on purpose: it is the frozen output type.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuppressionIssue {
    pub rule: String,
    pub resource: String,
    pub reason: String,
    pub owner: String,
    pub expires: String,
    /// `expired` or `unmatched`.
    pub problem: String,
}

/// Counts of what was inventoried, by provider and kind (`aws.user` → 42).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InventorySummary {
    pub principals: BTreeMap<String, u64>,
    pub credentials: BTreeMap<String, u64>,
    pub grants: BTreeMap<String, u64>,
    pub policies: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanMeta {
    pub started_at: Timestamp,
    pub as_of: Timestamp,
    pub duration_ms: u64,
    pub sources: Vec<SourceRun>,
    pub api_calls: BTreeMap<String, u64>,
    pub coverage_gaps: Vec<CoverageGap>,
    /// Rules that did not judge some subjects for want of an optional input (report-only:
    /// never a gap, never the gate).
    pub not_judged: Vec<crate::rules::engine::NotJudged>,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Report {
    pub scan: ScanMeta,
    pub inventory: InventorySummary,
    /// Sorted by descending risk, then rule id, then resource id.
    pub findings: Vec<Finding>,
    pub identities: Vec<Identity>,
    pub suppression_issues: Vec<SuppressionIssue>,
    /// The rules that were evaluated (for docs in the HTML report and SARIF).
    pub rules: Vec<Rule>,
    /// Every credential inventoried (ids and dates only), so `lapse diff` sees rotations.
    pub credentials: Vec<CredentialRecord>,
    /// The comparison with `--baseline`, when one was given.
    pub drift: Option<crate::drift::Drift>,
    /// Past runs read from `--history`, for the trend charts.
    pub history: Option<crate::drift::history::Trend>,
    /// Provisional grants past their expiry: pending, or performed per the revoke journal.
    pub revocations: Vec<crate::revoke::Revocation>,
}

/// A credential as reports carry it: ids and dates, never a secret value nor its hint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CredentialRecord {
    pub resource: crate::inventory::ResourceRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl From<&crate::inventory::Credential> for CredentialRecord {
    fn from(c: &crate::inventory::Credential) -> Self {
        CredentialRecord {
            resource: crate::inventory::ResourceRef {
                provider: c.provider,
                kind: c.kind.clone(),
                id: c.id.clone(),
                name: c.name.clone(),
            },
            principal_id: c.principal_id.clone(),
            active: c.active,
            created_at: c.created_at,
            rotated_at: c.rotated_at,
            expires_at: c.expires_at,
        }
    }
}

impl Report {
    /// Findings that count (not suppressed).
    pub fn active_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_none())
    }

    /// Active findings, riskiest first (then severity, rule, resource id): the order summaries
    /// list them in, whatever order the report holds them in.
    pub fn riskiest_findings(&self) -> Vec<&Finding> {
        let mut active: Vec<&Finding> = self.active_findings().collect();
        active.sort_by(|a, b| {
            (b.risk, b.severity)
                .cmp(&(a.risk, a.severity))
                .then_with(|| a.rule_id.cmp(&b.rule_id))
                .then_with(|| a.resource.id.cmp(&b.resource.id))
        });
        active
    }

    pub fn count_by_severity(&self) -> BTreeMap<Severity, u64> {
        let mut counts = BTreeMap::new();
        for finding in self.active_findings() {
            *counts.entry(finding.severity).or_insert(0) += 1;
        }
        counts
    }

    pub fn is_complete(&self) -> bool {
        self.scan.coverage_gaps.is_empty()
    }
}
