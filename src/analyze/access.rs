//! Analyze, access: tells for each identity whether its access is *standing* (never ends by
//! itself), *provisional* (a marker or live ledger lines end it: who granted it, why, until
//! when) or *federated* (it signs in through OIDC federation and holds no stored secret, so
//! every session ends by itself). Read by the reports' identity view and summary.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use super::{Analysis, AnalysisContext, Identity, ProvisionalGrant};
use crate::hash::FastMap;
use crate::inventory::{Inventory, LedgerEntry, Principal};

/// The facts of an identity's own subject that decide its access; the rest are skipped
/// unparsed. Held as JSON values, read as before (`as_bool`, `as_str`), so a fact of another
/// type on some subject kind reads as absent instead of failing the whole subject.
#[derive(Debug, Default, Deserialize)]
struct AccessFacts {
    machine: Option<Value>,
    microsoft_first_party: Option<Value>,
    trust_federated: Option<Value>,
    federated_credential_count: Option<Value>,
    github_oidc: Option<Value>,
    expiry_source: Option<Value>,
    owner: Option<Value>,
    reason: Option<Value>,
}

fn text(value: &Option<Value>) -> Option<String> {
    value.as_ref().and_then(Value::as_str).map(str::to_string)
}

fn flag(value: &Option<Value>) -> Option<bool> {
    value.as_ref().and_then(Value::as_bool)
}

pub fn classify(analysis: &mut Analysis, inventory: &Inventory, ctx: &AnalysisContext) {
    let ids: crate::hash::FastSet<&str> = analysis
        .identities
        .iter()
        .map(|i| i.resource.id.as_str())
        .collect();
    // The identity's own subject (same resource): only the facts read here are parsed.
    let facts: FastMap<&str, AccessFacts> = analysis
        .subjects
        .par_iter()
        .filter(|s| s.kind != "aws.access_key" && ids.contains(s.resource.id.as_str()))
        .map(|s| {
            // Facts are always a JSON object written by `Facts` and every field here is an
            // optional value, so this read cannot fail; were it to, the identity keeps the
            // defaults `to_map` gave before (a machine, standing), as before this reader.
            let facts = s.facts.read().unwrap_or_default();
            (s.resource.id.as_str(), facts)
        })
        .collect();
    let principals: FastMap<&str, &Principal> = inventory
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
    identities.par_iter_mut().for_each(|identity| {
        let id = identity.resource.id.as_str();
        let facts = facts.get(id);
        let mut lines = ledger.get(id).cloned().unwrap_or_default();
        lines.sort_by(|a, b| (&a.target, a.expires_at).cmp(&(&b.target, b.expires_at)));
        identity.machine = machine(facts);
        identity.provisional_grants = own_marker(identity, principals.get(id).copied(), facts)
            .into_iter()
            .chain(lines.iter().map(|e| from_ledger(e)))
            .collect();
        identity.access = access(identity, &lines, facts).into();
    });
    analysis.identities = identities;
}

fn machine(facts: Option<&AccessFacts>) -> bool {
    let Some(facts) = facts else { return true };
    match flag(&facts.machine) {
        Some(machine) => machine,
        None => flag(&facts.microsoft_first_party) != Some(true),
    }
}

fn access(
    identity: &Identity,
    lines: &[&LedgerEntry],
    facts: Option<&AccessFacts>,
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
            .trust_federated
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let azure = f
            .federated_credential_count
            .as_ref()
            .and_then(Value::as_u64)
            .is_some_and(|n| n > 0);
        trusts || azure || flag(&f.github_oidc) == Some(true)
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
    facts: Option<&AccessFacts>,
) -> Option<ProvisionalGrant> {
    if identity.window != "provisional" {
        return None;
    }
    let until = identity.expires_at?;
    let tag = |name: &str| principal.and_then(|p| p.tags.get(name)).cloned();
    Some(ProvisionalGrant {
        source: facts
            .and_then(|f| text(&f.expiry_source))
            .unwrap_or_else(|| "marker".into()),
        target: String::new(),
        until,
        granted_by: facts
            .and_then(|f| text(&f.owner))
            .or_else(|| tag(super::expiry::OWNER)),
        requested_by: None,
        reason: facts
            .and_then(|f| text(&f.reason))
            .or_else(|| tag(super::expiry::REASON)),
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
