//! Journal, the lifecycle view: `lapse journal show` groups the records by the grant they are
//! about and tells each grant's story in order (requested, approved, issued, extended, expired,
//! revoked, failed), with run ids and actors. Strings come from the file: they are escaped.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::Timestamp;
use crate::revoke::journal::{Event, Record};

/// One step of a grant's life.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Step {
    pub ts: Timestamp,
    /// `requested | approved | issued | extended | expired | revoking | revoked | deferred |
    /// failed` (and `run_started`/`run_finished` when a run record names a grant).
    pub stage: String,
    pub run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// What happened: the API call, the expiry, the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Every step of one grant (its resource id, as `revoke` plans it).
#[derive(Debug, Clone, Serialize)]
pub struct Lifecycle {
    pub grant: String,
    pub steps: Vec<Step>,
}

/// The lifecycles in a journal's records, in order of first appearance. `principal` keeps the
/// grants of that principal only (its ARN, object id or repository, as the grant id begins).
pub fn lifecycles(records: &[Record], principal: Option<&str>) -> Vec<Lifecycle> {
    // A grant whose id exists only once provisioned (a deploy key's) is requested under a
    // provisional id; its issuance names that id (`requested_as`) to join the two.
    let aliases: BTreeMap<(&str, &str), &str> = records
        .iter()
        .filter_map(|r| {
            let alias = r.detail.as_ref()?.get("requested_as")?.as_str()?;
            Some(((alias, r.run_id.as_str()), r.grant.as_deref()?))
        })
        .collect();
    let mut order: Vec<String> = Vec::new();
    let mut by_grant: BTreeMap<String, Vec<Step>> = BTreeMap::new();
    for record in records {
        let Some(grant) = &record.grant else { continue };
        let grant = &aliases
            .get(&(grant.as_str(), record.run_id.as_str()))
            .map_or_else(|| grant.clone(), |g| g.to_string());
        if principal.is_some_and(|p| !about(grant, p)) {
            continue;
        }
        let steps = by_grant.entry(grant.clone()).or_insert_with(|| {
            order.push(grant.clone());
            Vec::new()
        });
        // A revocation's first record is when lapse saw the grant expired.
        if matches!(record.event, Event::Started)
            && !steps.iter().any(|s| s.stage == "expired")
            && let Some(expires_at) = record.expires_at
        {
            steps.push(Step {
                ts: record.ts,
                stage: "expired".into(),
                run_id: record.run_id.clone(),
                actor: None,
                detail: Some(format!("expired at {}", rfc3339(expires_at))),
            });
        }
        steps.push(step(record));
    }
    order
        .into_iter()
        .map(|grant| Lifecycle {
            steps: by_grant.remove(&grant).unwrap_or_default(),
            grant,
        })
        .collect()
}

fn about(grant: &str, principal: &str) -> bool {
    grant == principal
        || grant
            .strip_prefix(principal)
            .is_some_and(|rest| rest.starts_with('#') || rest.starts_with('/'))
}

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn step(record: &Record) -> Step {
    let action = record.action.as_ref().map(crate::revoke::Action::describe);
    let (stage, detail) = match record.event {
        Event::Started => ("revoking", action),
        Event::Done => ("revoked", action),
        Event::Deferred => ("deferred", action),
        Event::KeyClaimed => ("key_claimed", action),
        Event::Skipped => ("skipped", with_error(action, record)),
        Event::Failed => ("failed", with_error(action, record)),
        Event::RunStarted => ("run_started", None),
        Event::RunFinished => ("run_finished", None),
        Event::Requested => ("requested", grant_detail(record)),
        Event::Approved => ("approved", grant_detail(record)),
        Event::Issued => ("issued", grant_detail(record)),
        Event::Extended => ("extended", grant_detail(record)),
    };
    Step {
        ts: record.ts,
        stage: stage.into(),
        run_id: record.run_id.clone(),
        actor: record.actor.clone(),
        detail,
    }
}

/// The action and why it did not happen, as `ACTION: ERROR`.
fn with_error(action: Option<String>, record: &Record) -> Option<String> {
    let parts: Vec<String> = [action, record.error.clone()]
        .into_iter()
        .flatten()
        .collect();
    Some(parts.join(": "))
}

/// A grant event's particulars on one line: `until …`, `reason …`, `ticket …`, the calls.
fn grant_detail(record: &Record) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(until) = record.expires_at {
        parts.push(format!("until {}", rfc3339(until)));
    }
    let detail = record.detail.as_ref();
    for key in ["reason", "ticket", "note"] {
        if let Some(value) = detail.and_then(|d| d.get(key)).and_then(|v| v.as_str()) {
            parts.push(format!("{key} {value}"));
        }
    }
    if let Some(calls) = detail
        .and_then(|d| d.get("calls"))
        .and_then(|v| v.as_array())
    {
        let calls: Vec<&str> = calls.iter().filter_map(|c| c.as_str()).collect();
        if !calls.is_empty() {
            parts.push(calls.join("; "));
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The human view: one block per grant, one line per step, every string escaped.
pub fn text(lifecycles: &[Lifecycle]) -> String {
    use crate::render::terminal::clean;
    let mut out = String::new();
    if lifecycles.is_empty() {
        out.push_str("no grant in this journal\n");
    }
    for lifecycle in lifecycles {
        out.push_str(&format!("grant {}\n", clean(&lifecycle.grant)));
        for step in &lifecycle.steps {
            out.push_str(&format!(
                "  {}  {:<9} run {}",
                rfc3339(step.ts),
                step.stage,
                clean(&step.run_id)
            ));
            if let Some(actor) = &step.actor {
                out.push_str(&format!("  by {}", clean(actor)));
            }
            if let Some(detail) = &step.detail {
                out.push_str(&format!("  {}", clean(detail)));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revoke::Action;

    fn record(event: Event, grant: &str) -> Record {
        serde_json::from_value(serde_json::json!({
            "ts": "2026-01-01T00:00:00Z",
            "run_id": "run-1",
            "event": event,
            "grant": grant,
            "expires_at": "2025-12-31T23:00:00.5Z",
            "action": Action::GithubDeleteRepoSecret { repo: "acme/api".into(), secret: "X".into() },
        }))
        .unwrap()
    }

    #[test]
    fn steps_are_grouped_by_grant_and_filtered_by_principal() {
        let records = vec![
            record(Event::Started, "acme/api/X"),
            record(
                Event::Started,
                "arn:aws:iam::1:role/ci#arn:aws:iam::aws:policy/P",
            ),
            record(Event::Done, "acme/api/X"),
        ];
        let all = lifecycles(&records, None);
        assert_eq!(all.len(), 2);
        let stages: Vec<&str> = all[0].steps.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(stages, ["expired", "revoking", "revoked"]);
        assert_eq!(
            all[0].steps[0].detail.as_deref(),
            Some("expired at 2025-12-31T23:00:00.500Z")
        );
        let ci = lifecycles(&records, Some("arn:aws:iam::1:role/ci"));
        assert_eq!(ci.len(), 1);
        assert!(lifecycles(&records, Some("arn:aws:iam::1:role/c")).is_empty());
        assert!(text(&all).contains("grant acme/api/X\n"));
    }
}
