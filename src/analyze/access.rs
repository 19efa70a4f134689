//! Analyze, access: tells for each identity whether its access is *standing* (never ends by
//! itself), *provisional* (a marker or live ledger lines end it: who granted it, why, until
//! when) or *federated* (it signs in through OIDC federation and holds no stored secret, so
//! every session ends by itself). Read by the reports' identity view and summary.

use std::collections::HashMap;

use serde_json::Value;

use super::{Analysis, AnalysisContext, Identity, ProvisionalGrant};
use crate::inventory::{Inventory, LedgerEntry, Principal};

pub fn classify(analysis: &mut Analysis, inventory: &Inventory, ctx: &AnalysisContext) {
    let ids: std::collections::HashSet<&str> = analysis
        .identities
        .iter()
        .map(|i| i.resource.id.as_str())
        .collect();
    // The identity's own subject (same resource), parsed once.
    let facts: HashMap<&str, serde_json::Map<String, Value>> = analysis
        .subjects
        .iter()
        .filter(|s| s.kind != "aws.access_key" && ids.contains(s.resource.id.as_str()))
        .map(|s| (s.resource.id.as_str(), s.facts()))
        .collect();
    let principals: HashMap<&str, &Principal> = inventory
        .principals
        .iter()
        .map(|p| (p.id.as_str(), p))
        .collect();
    // The latest line of each (principal, kind, target) wins, as for revoke.
    let mut latest: HashMap<(&str, &str, &str), &LedgerEntry> = HashMap::new();
    for entry in &inventory.ledger {
        if let Some(principal) = entry.principal_id.as_deref() {
            latest.insert(
                (principal, entry.kind.as_str(), entry.target.as_str()),
                entry,
            );
        }
    }
    let mut ledger: HashMap<&str, Vec<&LedgerEntry>> = HashMap::new();
    for ((principal, _, _), entry) in latest {
        if entry.expires_at > ctx.as_of {
            ledger.entry(principal).or_default().push(entry);
        }
    }
    drop(ids);
    let mut identities = std::mem::take(&mut analysis.identities);
    for identity in &mut identities {
        let id = identity.resource.id.as_str();
        let facts = facts.get(id);
        let mut lines = ledger.remove(id).unwrap_or_default();
        lines.sort_by(|a, b| (&a.target, a.expires_at).cmp(&(&b.target, b.expires_at)));
        identity.machine = machine(facts);
        identity.provisional_grants = own_marker(identity, principals.get(id).copied(), facts)
            .into_iter()
            .chain(lines.iter().map(|e| from_ledger(e)))
            .collect();
        identity.access = access(identity, &lines, facts).into();
    }
    analysis.identities = identities;
}

fn machine(facts: Option<&serde_json::Map<String, Value>>) -> bool {
    let Some(facts) = facts else { return true };
    match facts.get("machine").and_then(Value::as_bool) {
        Some(machine) => machine,
        None => facts.get("microsoft_first_party").and_then(Value::as_bool) != Some(true),
    }
}

fn access(
    identity: &Identity,
    lines: &[&LedgerEntry],
    facts: Option<&serde_json::Map<String, Value>>,
) -> &'static str {
    if identity.window == "provisional" {
        return "provisional";
    }
    // Everything it holds came from live ledger lines: revoke ends all of it.
    let covered = |grant: &String| {
        let name = grant.split(" (group ").next().unwrap_or(grant);
        lines
            .iter()
            .any(|l| l.target == *name || l.target.rsplit('/').next() == Some(name))
    };
    if identity.window == "standing"
        && !lines.is_empty()
        && identity.active_credentials == 0
        && identity.grants.iter().all(covered)
    {
        return "provisional";
    }
    let federated = facts.is_some_and(|f| {
        let trusts = f
            .get("trust_federated")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let azure = f
            .get("federated_credential_count")
            .and_then(Value::as_u64)
            .is_some_and(|n| n > 0);
        trusts || azure || f.get("github_oidc").and_then(Value::as_bool) == Some(true)
    });
    if federated && identity.active_credentials == 0 && identity.window != "expired" {
        return "federated";
    }
    "standing"
}

/// The identity's own marker (tag, description, PIM end), with the `lapse:owner` and
/// `lapse:reason` tags beside it.
fn own_marker(
    identity: &Identity,
    principal: Option<&Principal>,
    facts: Option<&serde_json::Map<String, Value>>,
) -> Option<ProvisionalGrant> {
    if identity.window != "provisional" {
        return None;
    }
    let until = identity.expires_at?;
    let fact = |name: &str| {
        facts
            .and_then(|f| f.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let tag = |name: &str| principal.and_then(|p| p.tags.get(name)).cloned();
    Some(ProvisionalGrant {
        source: fact("expiry_source").unwrap_or_else(|| "marker".into()),
        target: String::new(),
        until,
        granted_by: fact("owner").or_else(|| tag(super::expiry::OWNER)),
        requested_by: None,
        reason: fact("reason").or_else(|| tag(super::expiry::REASON)),
        ticket: None,
    })
}

fn from_ledger(entry: &LedgerEntry) -> ProvisionalGrant {
    ProvisionalGrant {
        source: "ledger".into(),
        target: entry.target.clone(),
        until: entry.expires_at,
        granted_by: entry.approved_by.clone().or_else(|| entry.owner.clone()),
        requested_by: entry.requested_by.clone(),
        reason: entry.reason.clone(),
        ticket: entry.ticket.clone(),
    }
}
