//! Analyze, leaked ↔ live: joins an AWS access key id found in a repository with the IAM key
//! of that id, when the same run read the key's account (live: GetAccessKeyLastUsed and
//! ListAccessKeys; offline: `aws iam list-access-keys` outputs). Both sides carry the SHA-256
//! of the id (`key_id_sha256`), never the id.
//!
//! The IAM key's subject (`aws.access_key`) gets `leaked` and `leaked_in`, and the repository's
//! location, so a finding on it points at the file; the repository's subject
//! (`repo.hardcoded_secret`) gets the key's state and user.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::{Analysis, Exposure};
use crate::collect::aws::live::LEAKED_KEYS_ABSENT;
use crate::collect::repo::KEY_ID_SHA256;
use crate::inventory::{Credential, Inventory, Provider};

pub fn link(analysis: &mut Analysis, inventory: &Inventory) {
    let digest = |c: &Credential| {
        c.attributes
            .get(KEY_ID_SHA256)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut leaks: HashMap<String, Vec<&Credential>> = HashMap::new();
    for credential in inventory
        .credentials
        .iter()
        .filter(|c| c.provider == Provider::Repo)
    {
        if let Some(digest) = digest(credential) {
            leaks.entry(digest).or_default().push(credential);
        }
    }
    if leaks.is_empty() {
        return;
    }
    // IAM key id → (digest, key), and repo credential id → the key its id names.
    let mut keys: HashMap<&str, &Credential> = HashMap::new();
    let mut by_leak: HashMap<&str, &Credential> = HashMap::new();
    for key in inventory
        .credentials
        .iter()
        .filter(|c| c.provider == Provider::Aws && c.kind == "access_key")
    {
        let Some(digest) = digest(key) else { continue };
        if let Some(found) = leaks.get(&digest) {
            keys.insert(key.id.as_str(), key);
            for leak in found {
                by_leak.insert(leak.id.as_str(), key);
            }
        }
    }
    let absent: BTreeSet<&str> = inventory
        .sources
        .iter()
        .filter_map(|s| s.attributes.get(LEAKED_KEYS_ABSENT))
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let absent_leaks: BTreeSet<&str> = leaks
        .iter()
        .filter(|(digest, _)| absent.contains(digest.as_str()))
        .flat_map(|(_, found)| found.iter().map(|c| c.id.as_str()))
        .collect();
    for subject in &mut analysis.subjects {
        match subject.kind.as_str() {
            "aws.access_key" => {
                let Some(key) = keys.get(subject.resource.id.as_str()) else {
                    continue;
                };
                let Some(found) = digest(key).and_then(|d| leaks.get(&d)) else {
                    continue;
                };
                let places: Vec<Value> = found.iter().map(|c| json!(place(c))).collect();
                subject.set_fact("leaked", json!(true));
                subject.set_fact("leaked_in", Value::Array(places));
                // Relative to the repository, as SARIF uploaded for it expects.
                subject.location = found.iter().find_map(|c| c.location.clone());
                subject.risk.exposure = subject.risk.exposure.max(Exposure::Ci);
            }
            "repo.hardcoded_secret" => {
                let id = subject.resource.id.as_str();
                if let Some(key) = by_leak.get(id) {
                    let state = if key.active { "active" } else { "inactive" };
                    subject.set_fact("aws_key_state", json!(state));
                    if let Some(user) = key.principal_id.as_deref() {
                        subject.set_fact("aws_key_user", json!(user));
                    }
                } else if absent_leaks.contains(id) {
                    subject.set_fact("aws_key_state", json!("absent"));
                }
            }
            _ => {}
        }
    }
}

/// `owner/name/path:line`, and the commit for a secret no longer in HEAD.
fn place(leak: &Credential) -> String {
    let at = leak
        .location
        .as_ref()
        .map(|l| match l.line {
            Some(line) => format!("{}:{line}", l.path),
            None => l.path.clone(),
        })
        .unwrap_or_default();
    let in_head = leak.attributes.get("in_head").and_then(Value::as_bool);
    let commit = leak.attributes.get("introduced_in").and_then(Value::as_str);
    match (in_head, commit) {
        (Some(false), Some(commit)) => {
            format!(
                "{}/{at} (history, commit {})",
                leak.scope,
                &commit[..commit.len().min(12)]
            )
        }
        _ => format!("{}/{at}", leak.scope),
    }
}
