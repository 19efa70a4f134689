//! Collect, AWS Organizations (offline): the service control policies on each account's path in
//! the organization, from a folder of `aws organizations … --output json` outputs
//! (`--aws-organizations DIR`).
//!
//! The outputs of the calls that take a parent or a policy do not repeat it, so the file name
//! carries it:
//!
//! | file | command |
//! |---|---|
//! | `describe-organization.json` (optional) | `aws organizations describe-organization` |
//! | `list-roots.json` | `aws organizations list-roots` |
//! | `list-organizational-units-for-parent-<PARENT>.json` | `… list-organizational-units-for-parent --parent-id <PARENT>` |
//! | `list-accounts-for-parent-<PARENT>.json` | `… list-accounts-for-parent --parent-id <PARENT>` |
//! | `list-policies.json` | `… list-policies --filter SERVICE_CONTROL_POLICY` |
//! | `describe-policy-<POLICY>.json` | `… describe-policy --policy-id <POLICY>` |
//! | `list-targets-for-policy-<POLICY>.json` | `… list-targets-for-policy --policy-id <POLICY>` |
//!
//! A file that does not parse is an error naming its file and line. Each account becomes one
//! `scp` grant per level of its path (root, each OU, the account) and SCP policy documents;
//! `analyze::aws` intersects a principal's permissions with every level. An account whose path
//! names an SCP whose document is missing gets no SCPs applied and a coverage gap: guessing
//! would either invent or hide a denial. SCPs never restrict the management account
//! (`describe-organization.json` names it). RCPs restrict resources, not principals: not read.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::AwsFilesError;
use crate::inventory::{Attributes, CoverageGap, Document, Grant, Inventory, Policy, Provider};

/// The grant kind of one SCP attachment on an account's path.
pub const SCP_GRANT: &str = "scp";
/// Attribute of an `scp` grant: its level on the path, 0 for the root.
pub const SCP_LEVEL: &str = "scp_level";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Node {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Roots {
    roots: Vec<Node>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Units {
    organizational_units: Vec<Node>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Accounts {
    accounts: Vec<Node>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Policies {
    policies: Vec<Node>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Described {
    policy: DescribedPolicy,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribedPolicy {
    policy_summary: Node,
    content: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribedOrganization {
    organization: OrganizationSummary,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OrganizationSummary {
    master_account_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Targets {
    targets: Vec<Target>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Target {
    target_id: String,
}

/// What the folder or the API says, before the paths are walked: the one model both feed.
#[derive(Default)]
pub(crate) struct Organization {
    /// The management account (`DescribeOrganization`): SCPs never restrict it.
    management: Option<String>,
    roots: Vec<String>,
    parent: BTreeMap<String, String>,
    accounts: Vec<String>,
    names: BTreeMap<String, String>,
    documents: BTreeMap<String, Document>,
    targets: BTreeMap<String, Vec<String>>,
}

fn read<T: DeserializeOwned>(path: &Path) -> Result<T, AwsFilesError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| AwsFilesError::Io {
        path: shown.clone(),
        error,
    })?;
    serde_json::from_str(&text).map_err(|e| AwsFilesError::json(&shown, &e))
}

/// Reads a folder of Organizations outputs into SCP grants and documents.
pub fn read_folder(dir: &Path) -> Result<Inventory, AwsFilesError> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|error| AwsFilesError::Io {
        path: shown.clone(),
        error,
    })?;
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    let mut org = Organization::default();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if stem == "describe-organization" {
            let described = read::<DescribedOrganization>(path)?.organization;
            org.management(described.master_account_id);
        } else if stem == "list-roots" {
            org.roots(read::<Roots>(path)?.roots.into_iter().map(|n| n.id));
        } else if let Some(parent) = stem.strip_prefix("list-organizational-units-for-parent-") {
            let units = read::<Units>(path)?.organizational_units;
            org.units(parent, units.into_iter().map(|n| n.id));
        } else if let Some(parent) = stem.strip_prefix("list-accounts-for-parent-") {
            let accounts = read::<Accounts>(path)?.accounts;
            org.accounts(parent, accounts.into_iter().map(|n| n.id));
        } else if stem == "list-policies" {
            for policy in read::<Policies>(path)?.policies {
                org.name(policy.id, policy.name);
            }
        } else if stem.starts_with("describe-policy-") {
            let described = read::<Described>(path)?.policy;
            let summary = described.policy_summary;
            org.document(summary.id, summary.name, described.content)
                .map_err(|message| AwsFilesError::invalid(&path.display().to_string(), message))?;
        } else if let Some(policy) = stem.strip_prefix("list-targets-for-policy-") {
            let targets = read::<Targets>(path)?.targets;
            org.targets(policy, targets.into_iter().map(|t| t.target_id));
        } else {
            let message = "not an `aws organizations` output lapse reads (see --aws-organizations)";
            return Err(AwsFilesError::invalid(&path.display().to_string(), message));
        }
    }
    Ok(org.into_inventory(&shown, |id| format!("no describe-policy-{id}.json")))
}

impl Organization {
    /// `DescribeOrganization`'s `MasterAccountId`.
    pub(crate) fn management(&mut self, account: Option<String>) {
        self.management = account;
    }

    /// `ListRoots`.
    pub(crate) fn roots(&mut self, ids: impl IntoIterator<Item = String>) {
        self.roots.extend(ids);
    }

    /// `ListOrganizationalUnitsForParent` of `parent`.
    pub(crate) fn units(&mut self, parent: &str, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            self.parent.insert(id, parent.to_string());
        }
    }

    /// `ListAccountsForParent` of `parent`.
    pub(crate) fn accounts(&mut self, parent: &str, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            self.parent.insert(id.clone(), parent.to_string());
            self.accounts.push(id);
        }
    }

    /// A policy's name (`ListPolicies`).
    pub(crate) fn name(&mut self, id: String, name: Option<String>) {
        if let Some(name) = name {
            self.names.insert(id, name);
        }
    }

    /// `DescribePolicy`: its document, or why `content` is not one.
    pub(crate) fn document(
        &mut self,
        id: String,
        name: Option<String>,
        content: String,
    ) -> Result<(), String> {
        let document = Document::from_text(content)
            .map_err(|e| format!("Policy.Content is not a JSON policy document: {e}"))?;
        self.name(id.clone(), name);
        self.documents.insert(id, document);
        Ok(())
    }

    /// `ListTargetsForPolicy` of `policy`.
    pub(crate) fn targets(&mut self, policy: &str, ids: impl IntoIterator<Item = String>) {
        for target in ids {
            self.targets
                .entry(target)
                .or_default()
                .push(policy.to_string());
        }
    }

    /// Root first, the account last; `None` if a parent is unknown (the folder lacks a listing)
    /// or the parents loop.
    fn path_of(&self, account: &str) -> Option<Vec<String>> {
        let mut path = vec![account.to_string()];
        let mut at = account;
        while let Some(parent) = self.parent.get(at) {
            if path.len() > 32 || path.iter().any(|p| p == parent) {
                return None;
            }
            path.push(parent.clone());
            at = parent;
        }
        self.roots.iter().any(|r| r == at).then(|| {
            path.reverse();
            path
        })
    }

    /// One `scp` grant per SCP on each account's path; a gap for an account whose path is not
    /// listed or names an SCP whose document is missing (`missing` says where it should be).
    pub(crate) fn into_inventory(
        self,
        origin: &str,
        missing: impl Fn(&str) -> String,
    ) -> Inventory {
        let mut inventory = Inventory::new(chrono::Utc::now());
        let gap = |account: &str, reason: String| CoverageGap {
            source: "aws-organizations".into(),
            scope: account.to_string(),
            what: "service control policies".into(),
            reason,
            request: None,
        };
        for account in &self.accounts {
            if self.management.as_ref() == Some(account) {
                continue; // SCPs do not restrict the management account.
            }
            let Some(path) = self.path_of(account) else {
                let reason = format!("{origin}: the account's path to the root is not listed");
                inventory.coverage_gaps.push(gap(account, reason));
                continue;
            };
            let levels: Vec<(usize, &String)> = path
                .iter()
                .enumerate()
                .flat_map(|(level, node)| {
                    self.targets
                        .get(node)
                        .into_iter()
                        .flatten()
                        .map(move |p| (level, p))
                })
                .collect();
            if let Some((_, policy)) = levels
                .iter()
                .find(|(_, p)| !self.documents.contains_key(*p))
            {
                let reason = format!("{origin}: {} for an SCP on its path", missing(policy));
                inventory.coverage_gaps.push(gap(account, reason));
                continue;
            }
            for (level, policy) in levels {
                let mut attributes = Attributes::new();
                attributes.insert(SCP_LEVEL.into(), json!(level));
                inventory.grants.push(Grant {
                    provider: Provider::Aws,
                    kind: SCP_GRANT.into(),
                    id: format!("{account}|scp|{}|{policy}", path[level]),
                    principal_id: account.clone(),
                    name: self
                        .names
                        .get(policy)
                        .cloned()
                        .unwrap_or_else(|| policy.clone()),
                    via: None,
                    policy_id: Some(policy.clone()),
                    document: None,
                    role: None,
                    target: Some(path[level].clone()),
                    starts_at: None,
                    ends_at: None,
                    description: None,
                    attributes,
                });
            }
        }
        for (id, document) in self.documents {
            let name = self.names.get(&id).cloned().unwrap_or_else(|| id.clone());
            inventory.policies.push(Policy {
                provider: Provider::Aws,
                id,
                name,
                document,
                provider_managed: false,
                attributes: Attributes::from_iter([("kind".to_string(), json!(SCP_GRANT))]),
            });
        }
        inventory
    }
}
