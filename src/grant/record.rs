//! Grant, journal records: the `requested`, `approved`, `issued`/`extended`/`failed` events of
//! every kind of grant, in the journal's hash chain, keyed by the grant id `revoke` uses too.

use super::Common;
use crate::revoke::Journal;
use crate::revoke::journal::{Event, JournalError};

/// Appends one grant event.
pub fn append(
    journal: &mut Journal,
    grant_id: &str,
    common: &Common,
    event: Event,
    actor: Option<&str>,
    detail: serde_json::Value,
    error: Option<String>,
) -> Result<(), JournalError> {
    let mut record = journal.record(event);
    record.grant = Some(grant_id.to_string());
    record.expires_at = Some(common.expires_at());
    record.actor = actor.map(str::to_string);
    record.detail = Some(detail);
    record.error = error;
    journal.append(&record)
}

/// `requested` (by whom, why, the ticket, the TTL) and, when declared, `approved`.
pub fn request_and_approval(
    journal: &mut Journal,
    grant_id: &str,
    common: &Common,
    extra: serde_json::Value,
) -> Result<(), JournalError> {
    let detail = serde_json::json!({
        "reason": common.reason,
        "ticket": common.ticket,
        "ttl": super::ttl::show(common.ttl),
        "principal": extra,
    });
    let requester = Some(common.requested_by.as_str());
    append(
        journal,
        grant_id,
        common,
        Event::Requested,
        requester,
        detail,
        None,
    )?;
    if let Some(approver) = &common.approved_by {
        let note =
            serde_json::json!({ "note": "declared by the requester, not verified by lapse" });
        append(
            journal,
            grant_id,
            common,
            Event::Approved,
            Some(approver),
            note,
            None,
        )?;
    }
    Ok(())
}
