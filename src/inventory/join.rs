//! Inventory, joining saved files: `lapse evaluate a.json b.json` (shards of one estate,
//! overlapping shards, or the same file named twice) keeps each object once, by its id, so a
//! principal held by two files is judged once and its keys are not counted twice.
//!
//! When two copies of one id differ, the copy from the file collected later wins (files with
//! the same `collected_at` rank in the order they were named) and the conflict is returned
//! for the caller to report.

use std::collections::HashMap;

use serde::Serialize;

use super::{Inventory, Provider};

/// Two files disagree about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// `principal`, `credential`, `policy`, `grant`, `trust`, `ledger entry`.
    pub section: &'static str,
    pub id: String,
    /// The file whose copy was kept (collected later) and the one whose copy was dropped.
    pub kept: String,
    pub dropped: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} differs between {} and {}; keeping the copy collected later, from {}",
            self.section, self.id, self.dropped, self.kept, self.kept
        )
    }
}

/// Joins `(name, inventory)` files into one inventory, each object once.
pub fn join(mut files: Vec<(String, Inventory)>) -> (Inventory, Vec<Conflict>) {
    // Stable: files collected at the same instant keep the order they were named in.
    files.sort_by_key(|(_, inv)| inv.collected_at);
    let collected_at = files
        .last()
        .map_or_else(chrono::Utc::now, |(_, i)| i.collected_at);
    let names: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
    let mut joined = Inventory::new(collected_at);
    let mut parts = Parts::default();
    for (file, (_, inv)) in files.into_iter().enumerate() {
        parts.take(file, inv);
    }
    let mut conflicts = Vec::new();
    let mut pass = Pass {
        names: &names,
        conflicts: &mut conflicts,
    };
    joined.principals = pass.dedup("principal", parts.principals, |p| key(p.provider, &[&p.id]));
    joined.credentials = pass.dedup("credential", parts.credentials, |c| {
        key(c.provider, &[&c.id])
    });
    joined.policies = pass.dedup("policy", parts.policies, |p| key(p.provider, &[&p.id]));
    joined.grants = pass.dedup("grant", parts.grants, |g| {
        key(g.provider, &[&g.kind, &g.principal_id, &g.id])
    });
    joined.trusts = pass.dedup("trust", parts.trusts, |t| {
        let own_id = t.document.as_ref().and_then(|d| {
            let value = d.value();
            value.get("id").and_then(|v| v.as_str()).map(str::to_string)
        });
        let own_id = own_id.unwrap_or_default();
        let issuer = t.issuer.as_deref().unwrap_or("");
        let subject = t.subject.as_deref().unwrap_or("");
        key(
            t.provider,
            &[&t.kind, &t.principal_id, &own_id, issuer, subject],
        )
    });
    joined.ledger = pass.dedup("ledger entry", parts.ledger, |e| {
        let principal = e.principal_id.as_deref().unwrap_or("");
        key(e.provider, &[&e.kind, principal, &e.target])
    });
    // Runs and gaps have no id: only exact repeats (the same file twice) are dropped.
    joined.sources = pass.dedup("source run", parts.sources, exact);
    joined.coverage_gaps = pass.dedup("coverage gap", parts.coverage_gaps, exact);
    (joined, conflicts)
}

/// Every file's items, each with the index of its file.
#[derive(Default)]
struct Parts {
    principals: Vec<(usize, super::Principal)>,
    credentials: Vec<(usize, super::Credential)>,
    policies: Vec<(usize, super::Policy)>,
    grants: Vec<(usize, super::Grant)>,
    trusts: Vec<(usize, super::Trust)>,
    ledger: Vec<(usize, super::LedgerEntry)>,
    sources: Vec<(usize, super::SourceRun)>,
    coverage_gaps: Vec<(usize, super::CoverageGap)>,
}

impl Parts {
    fn take(&mut self, file: usize, inv: Inventory) {
        tag(&mut self.principals, file, inv.principals);
        tag(&mut self.credentials, file, inv.credentials);
        tag(&mut self.policies, file, inv.policies);
        tag(&mut self.grants, file, inv.grants);
        tag(&mut self.trusts, file, inv.trusts);
        tag(&mut self.ledger, file, inv.ledger);
        tag(&mut self.sources, file, inv.sources);
        tag(&mut self.coverage_gaps, file, inv.coverage_gaps);
    }
}

fn tag<T>(into: &mut Vec<(usize, T)>, file: usize, items: Vec<T>) {
    into.extend(items.into_iter().map(|item| (file, item)));
}

struct Pass<'a> {
    names: &'a [String],
    conflicts: &'a mut Vec<Conflict>,
}

impl Pass<'_> {
    /// Keeps one item per key, at the place of its first copy, with the latest file's value.
    fn dedup<T: Serialize>(
        &mut self,
        section: &'static str,
        items: Vec<(usize, T)>,
        key: impl Fn(&T) -> String,
    ) -> Vec<T> {
        let mut at: HashMap<String, usize> = HashMap::with_capacity(items.len());
        let mut kept: Vec<(usize, T)> = Vec::with_capacity(items.len());
        for (file, item) in items {
            let id = key(&item);
            match at.get(&id) {
                None => {
                    at.insert(id, kept.len());
                    kept.push((file, item));
                }
                Some(&index) => {
                    let (old_file, old) = &kept[index];
                    if serde_json::to_value(old).ok() != serde_json::to_value(&item).ok() {
                        self.conflicts.push(Conflict {
                            section,
                            id: shown_id(&id),
                            kept: self.names[file].clone(),
                            dropped: self.names[*old_file].clone(),
                        });
                    }
                    kept[index] = (file, item);
                }
            }
        }
        kept.into_iter().map(|(_, item)| item).collect()
    }
}

fn key(provider: Provider, parts: &[&str]) -> String {
    let mut key = provider.as_str().to_string();
    for part in parts {
        key.push('\0');
        key.push_str(part);
    }
    key
}

fn exact<T: Serialize>(item: &T) -> String {
    serde_json::to_string(item).unwrap_or_default()
}

/// The key as a reader sees it: its parts joined by spaces, empty parts left out.
fn shown_id(key: &str) -> String {
    key.split('\0')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
