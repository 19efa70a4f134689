//! Drift: compares two runs by finding fingerprint, credential id and identity privilege, and
//! keeps the run history (`history`) the HTML report draws its trends from.
//!
//! `compare` is pure: it reads two frozen `v1` reports (what `lapse diff` reads back from disk,
//! or `current` for the run in memory) and says what is new, resolved and persisting, which
//! credentials appeared, disappeared or were rotated, and which identities gained privilege.
//! With a baseline, the gate counts only `Drift::new_findings`.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::render::{json, v1};
use crate::report::Report;

pub mod command;
pub mod history;
mod terminal;

pub use terminal::render_terminal;

/// A finding as drift reports it: enough to recognise it, nothing the full report lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRef {
    pub fingerprint: String,
    pub rule_id: String,
    pub title: String,
    pub severity: v1::Severity,
    pub risk: u8,
    pub resource: v1::Resource,
}

impl From<&v1::Finding> for FindingRef {
    fn from(f: &v1::Finding) -> Self {
        FindingRef {
            fingerprint: f.fingerprint.clone(),
            rule_id: f.rule_id.clone(),
            title: f.title.to_string(),
            severity: f.severity,
            risk: f.risk,
            resource: f.resource.clone(),
        }
    }
}

/// A credential that is in one run and not the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialRef {
    pub resource: v1::Resource,
    #[serde(default)]
    pub principal_id: Option<String>,
    pub active: bool,
}

impl From<&v1::Credential> for CredentialRef {
    fn from(c: &v1::Credential) -> Self {
        CredentialRef {
            resource: c.resource.clone(),
            principal_id: c.principal_id.clone(),
            active: c.active,
        }
    }
}

/// The same credential id with a newer secret: its rotation (or creation) time moved forward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rotation {
    pub resource: v1::Resource,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub old_rotated_at: Option<DateTime<Utc>>,
    pub new_rotated_at: DateTime<Utc>,
}

/// An identity whose privilege rank went up between the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Widening {
    pub resource: v1::Resource,
    pub old_privilege: v1::Privilege,
    pub new_privilege: v1::Privilege,
    /// Grants held now that were not held before (names, as the report lists them).
    pub added_grants: Vec<String>,
}

/// What changed between two runs. Lists are sorted (findings by descending risk, the rest by
/// resource id) so the output is stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub old_as_of: DateTime<Utc>,
    pub new_as_of: DateTime<Utc>,
    /// Active in the new run, absent from the old one (what a baseline gate counts).
    pub new_findings: Vec<FindingRef>,
    /// Active in the old run, absent from the new one.
    pub resolved_findings: Vec<FindingRef>,
    /// Active in the new run and present in the old one.
    pub persisting_findings: Vec<FindingRef>,
    pub credentials_added: Vec<CredentialRef>,
    pub credentials_removed: Vec<CredentialRef>,
    pub credentials_rotated: Vec<Rotation>,
    pub widened: Vec<Widening>,
}

impl Drift {
    /// New findings at or above `threshold`: what fails a gate run with a baseline.
    pub fn new_at_or_above(&self, threshold: v1::Severity) -> usize {
        self.new_findings
            .iter()
            .filter(|f| f.severity >= threshold)
            .count()
    }

    /// Nothing changed that a reader would act on.
    pub fn is_quiet(&self) -> bool {
        self.new_findings.is_empty()
            && self.resolved_findings.is_empty()
            && self.credentials_added.is_empty()
            && self.credentials_removed.is_empty()
            && self.credentials_rotated.is_empty()
            && self.widened.is_empty()
    }
}

/// Compares two runs. Suppressed findings count as neither new nor persisting; a finding that
/// is suppressed now but was active before is not reported as resolved either (it still exists).
pub fn compare(old: &v1::Report, new: &v1::Report) -> Drift {
    let (new_findings, resolved_findings, persisting_findings) = compare_findings(old, new);
    let (credentials_added, credentials_removed, credentials_rotated) =
        compare_credentials(&old.credentials, &new.credentials);
    Drift {
        old_as_of: old.scan.as_of,
        new_as_of: new.scan.as_of,
        new_findings,
        resolved_findings,
        persisting_findings,
        credentials_added,
        credentials_removed,
        credentials_rotated,
        widened: compare_privilege(&old.identities, &new.identities),
    }
}

type FindingLists = (Vec<FindingRef>, Vec<FindingRef>, Vec<FindingRef>);

fn compare_findings(old: &v1::Report, new: &v1::Report) -> FindingLists {
    let old_all: HashSet<&str> = old
        .findings
        .iter()
        .map(|f| f.fingerprint.as_str())
        .collect();
    let new_all: HashSet<&str> = new
        .findings
        .iter()
        .map(|f| f.fingerprint.as_str())
        .collect();
    let mut added = Vec::new();
    let mut persisting = Vec::new();
    for finding in new.findings.iter().filter(|f| !f.suppressed) {
        if old_all.contains(finding.fingerprint.as_str()) {
            persisting.push(FindingRef::from(finding));
        } else {
            added.push(FindingRef::from(finding));
        }
    }
    let mut resolved: Vec<FindingRef> = old
        .findings
        .iter()
        .filter(|f| !f.suppressed && !new_all.contains(f.fingerprint.as_str()))
        .map(FindingRef::from)
        .collect();
    for list in [&mut added, &mut resolved, &mut persisting] {
        sort_findings(list);
    }
    (added, resolved, persisting)
}

fn sort_findings(list: &mut [FindingRef]) {
    list.sort_by(|a, b| {
        (b.risk, b.severity)
            .cmp(&(a.risk, a.severity))
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.resource.id.cmp(&b.resource.id))
            .then_with(|| a.fingerprint.cmp(&b.fingerprint))
    });
}

type CredentialLists = (Vec<CredentialRef>, Vec<CredentialRef>, Vec<Rotation>);

fn compare_credentials(old: &[v1::Credential], new: &[v1::Credential]) -> CredentialLists {
    let old_by_id: BTreeMap<(v1::Provider, &str), &v1::Credential> = old
        .iter()
        .map(|c| ((c.resource.provider, c.resource.id.as_str()), c))
        .collect();
    let new_by_id: BTreeMap<(v1::Provider, &str), &v1::Credential> = new
        .iter()
        .map(|c| ((c.resource.provider, c.resource.id.as_str()), c))
        .collect();
    let mut added = Vec::new();
    let mut rotated = Vec::new();
    for (key, now) in &new_by_id {
        match old_by_id.get(key) {
            None => added.push(CredentialRef::from(*now)),
            Some(before) => rotated.extend(rotation(before, now)),
        }
    }
    let removed = old_by_id
        .iter()
        .filter(|(key, _)| !new_by_id.contains_key(*key))
        .map(|(_, c)| CredentialRef::from(*c))
        .collect();
    (added, removed, rotated)
}

/// The secret behind a credential id changed when its rotation time (falling back to its
/// creation time, as providers report a fresh key) moved forward.
fn rotation(before: &v1::Credential, now: &v1::Credential) -> Option<Rotation> {
    let then = before.rotated_at.or(before.created_at);
    let current = now.rotated_at.or(now.created_at)?;
    let is_newer = then.is_none_or(|t| current > t);
    is_newer.then(|| Rotation {
        resource: now.resource.clone(),
        principal_id: now.principal_id.clone(),
        old_rotated_at: then,
        new_rotated_at: current,
    })
}

fn compare_privilege(old: &[v1::Identity], new: &[v1::Identity]) -> Vec<Widening> {
    let before: HashMap<(v1::Provider, &str), &v1::Identity> = old
        .iter()
        .map(|i| ((i.resource.provider, i.resource.id.as_str()), i))
        .collect();
    let mut widened: Vec<Widening> = new
        .iter()
        .filter_map(|now| {
            let then = before.get(&(now.resource.provider, now.resource.id.as_str()))?;
            (now.privilege > then.privilege).then(|| Widening {
                resource: now.resource.clone(),
                old_privilege: then.privilege,
                new_privilege: now.privilege,
                added_grants: now
                    .grants
                    .iter()
                    .filter(|g| !then.grants.contains(g))
                    .cloned()
                    .collect(),
            })
        })
        .collect();
    widened.sort_by(|a, b| a.resource.id.cmp(&b.resource.id));
    widened
}

/// The run in memory as the frozen document `compare` reads, so `scan --baseline` compares
/// exactly what `lapse diff` would compare after the report is written.
pub fn current(report: &Report) -> v1::Report {
    v1::Report {
        schema_version: v1::SCHEMA_VERSION.to_string(),
        tool: json::tool(),
        scan: json::scan(report),
        summary: json::summary(report),
        inventory: (&report.inventory).into(),
        identities: json::identities(report),
        credentials: report.credentials.iter().map(Into::into).collect(),
        suppression_issues: report.suppression_issues.iter().map(Into::into).collect(),
        revocations: report.revocations.iter().map(Into::into).collect(),
        findings: report.findings.iter().map(Into::into).collect(),
    }
}

#[cfg(test)]
mod tests;
