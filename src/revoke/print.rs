//! Revoke, terminal output: the plan (what, why, since when, the exact API calls) and the
//! outcome of an apply. Provider strings are escaped: names and markers are attacker-controlled.

use std::fmt::Write;

use super::apply::{ActionStatus, Outcome};
use super::{ExpiredGrant, Plan};
use crate::render::terminal::clean;

/// The plan as text. `apply` says whether it is about to run or only shown.
pub fn plan_text(plan: &Plan, apply: bool) -> String {
    let mut out = String::new();
    let as_of = plan
        .as_of
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let _ = writeln!(
        out,
        "Revocation plan at {as_of}: {} expired provisional grant(s), {} action(s){}",
        plan.grants.len(),
        plan.action_count(),
        if apply {
            ""
        } else {
            " (plan only: nothing is changed; --apply executes it)"
        }
    );
    for grant in &plan.grants {
        grant_text(&mut out, grant, plan);
    }
    if !plan.issues.is_empty() {
        let _ = writeln!(
            out,
            "\nUnreadable expiry markers (reported, never acted on):"
        );
        for issue in &plan.issues {
            let _ = writeln!(
                out,
                "  {} {} {}: {} {:?}",
                issue.resource.provider,
                clean(&issue.resource.kind),
                clean(&issue.resource.id),
                clean(&issue.marker_source),
                clean(&issue.value),
            );
        }
    }
    if plan.not_yet_expired > 0 {
        let _ = writeln!(
            out,
            "\n{} provisional grant(s) not yet expired: left alone.",
            plan.not_yet_expired
        );
    }
    for extended in &plan.extended {
        let _ = writeln!(
            out,
            "  {} {} {}: its {} says {:?}, but the ledger extended it to {}",
            extended.resource.provider,
            clean(&extended.resource.kind),
            clean(&extended.resource.id),
            clean(&extended.marker_source),
            clean(extended.marker.as_deref().unwrap_or_default()),
            extended
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    out
}

fn grant_text(out: &mut String, grant: &ExpiredGrant, plan: &Plan) {
    let days = (plan.as_of - grant.expires_at).num_days();
    let _ = writeln!(
        out,
        "\n* {} {} {} ({})",
        grant.resource.provider,
        clean(&grant.resource.kind),
        clean(&grant.resource.name),
        clean(&grant.resource.id),
    );
    let _ = writeln!(
        out,
        "  why: expired {} ({days} day(s) ago), read from its {}",
        grant
            .expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        clean(&grant.marker_source),
    );
    if let Some(owner) = &grant.owner {
        let _ = writeln!(out, "  owner: {}", clean(owner));
    }
    if let Some(reason) = &grant.reason {
        let _ = writeln!(out, "  reason: {}", clean(reason));
    }
    for (index, action) in grant.actions.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", index + 1, clean(&action.describe()));
    }
    for note in &grant.notes {
        let _ = writeln!(out, "  note: {}", clean(note));
    }
}

/// What an apply did, one line per action, and a closing count.
pub fn outcome_text(outcome: &Outcome) -> String {
    let mut out = String::new();
    let (mut done, mut failed, mut other) = (0, 0, 0);
    for result in &outcome.results {
        let status = match &result.status {
            ActionStatus::Done => {
                done += 1;
                "done".to_string()
            }
            ActionStatus::AlreadyAbsent => {
                done += 1;
                "already absent".to_string()
            }
            ActionStatus::Resumed => {
                done += 1;
                "done by an interrupted earlier run".to_string()
            }
            ActionStatus::Deferred { until } => {
                other += 1;
                format!(
                    "waiting for the grace period until {}",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            }
            ActionStatus::Failed { permission, error } => {
                failed += 1;
                let why = if *permission {
                    "permission denied"
                } else {
                    "failed"
                };
                format!("{why}: {}", clean(error))
            }
            ActionStatus::Skipped { reason } => {
                other += 1;
                format!("skipped: {}", clean(reason))
            }
        };
        let _ = writeln!(out, "  {} — {status}", clean(&result.action.describe()));
    }
    let _ = writeln!(
        out,
        "Run {}: {done} done, {failed} failed, {other} waiting or skipped.",
        outcome.run_id
    );
    out
}
