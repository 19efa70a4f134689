//! Grant, printing: the plan a person approves before `--apply` (what, to whom, until when,
//! why, who approved, the exact calls, the ledger line). Every string from the user or the
//! provider is escaped for the terminal.

use super::{Common, Decision, Inspection, Request, calls, ttl};
use crate::render::terminal::clean;

fn rfc3339(t: crate::inventory::Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Until when, why, who asked and who approved: the same for every kind of grant.
pub fn common_lines(common: &Common) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "  until:    {} ({} from now)\n",
        rfc3339(common.expires_at()),
        ttl::show(common.ttl)
    ));
    let ticket = common
        .ticket
        .as_deref()
        .map(|t| format!(" (ticket {})", clean(t)))
        .unwrap_or_default();
    out.push_str(&format!("  why:      {}{ticket}\n", clean(&common.reason)));
    let approval = match &common.approved_by {
        Some(approver) => format!("approved by {} (declared, not verified)", clean(approver)),
        None => "no approval given".into(),
    };
    out.push_str(&format!(
        "  who:      requested by {}, {approval}\n",
        clean(&common.requested_by)
    ));
    out
}

/// The heading of a plan.
pub fn heading(apply: bool) -> String {
    let mode = if apply {
        "applying"
    } else {
        "plan only: nothing is changed; --apply executes it"
    };
    format!("Grant plan ({mode})\n\n")
}

pub fn plan_text(
    request: &Request,
    inspection: &Inspection,
    decision: &Decision,
    ledger_line: &str,
    apply: bool,
) -> String {
    let mut out = heading(apply);
    let (kind, target) = request.granted.ledger_kind_target();
    let what = match kind {
        "policy_attachment" => format!("managed policy {} attached", clean(target)),
        _ => format!("inline policy {}", clean(target)),
    };
    out.push_str(&format!(
        "  to:       {} ({}Id {})\n",
        clean(&request.principal_arn),
        request.kind.as_str(),
        clean(&inspection.unique_id)
    ));
    out.push_str(&format!(
        "  grant:    {what} (privilege of what is granted: {})\n",
        inspection.privilege.as_str()
    ));
    out.push_str(&format!(
        "  scope:    the principal's effective privilege {} now, {} with the grant\n",
        inspection.combined.before.as_str(),
        inspection.combined.after.as_str()
    ));
    out.push_str(&common_lines(&request.common));
    match decision {
        Decision::Issue => {
            for (i, call) in calls(request, decision).iter().enumerate() {
                out.push_str(&format!("  call {}:   {}\n", i + 1, clean(call)));
            }
        }
        Decision::Extend { previous } => out.push_str(&format!(
            "  extends:  the grant lapse issued (until {}): no provider call, a new ledger line\n",
            rfc3339(*previous)
        )),
    }
    out.push_str(&ledger_lines(&request.common, ledger_line));
    out
}

/// The plan's `ledger:` line: which ledger file gets which line (both escaped).
pub fn ledger_lines(common: &Common, line: &str) -> String {
    format!(
        "  ledger:   {} gets {}\n",
        clean(&common.ledger.display().to_string()),
        clean(line)
    )
}
