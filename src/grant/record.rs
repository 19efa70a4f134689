//! Grant, journal records: the `requested`, `approved`, `issued`/`extended`/`failed` events of
//! every kind of grant, in the journal's hash chain, keyed by the grant id `revoke` uses too and
//! naming the provider, the account (owner) and the principal's unique id like revoke's records.

use super::Common;
use crate::inventory::Provider;
use crate::revoke::Journal;
use crate::revoke::journal::{Event, JournalError};

/// The journal of one grant being issued.
pub struct Log<'a> {
    pub journal: &'a mut Journal,
    pub common: &'a Common,
    /// The id `revoke` will plan the grant under (a deploy key's is known after the POST).
    pub grant_id: String,
    pub provider: Provider,
    pub account: Option<String>,
    pub unique_id: Option<String>,
}

impl Log<'_> {
    /// Appends one grant event.
    pub fn append(
        &mut self,
        event: Event,
        actor: Option<&str>,
        detail: serde_json::Value,
        error: Option<String>,
    ) -> Result<(), JournalError> {
        let mut record = self.journal.record(event);
        record.grant = Some(self.grant_id.clone());
        record.provider = Some(self.provider);
        record.account = self.account.clone();
        record.principal_unique_id = self.unique_id.clone();
        record.expires_at = Some(self.common.expires_at());
        record.actor = actor.map(str::to_string);
        record.detail = Some(detail);
        record.error = error;
        self.journal.append(&record)
    }

    /// `requested` (by whom, why, the ticket, the TTL) and, when declared, `approved`.
    pub fn request_and_approval(
        &mut self,
        principal: serde_json::Value,
    ) -> Result<(), JournalError> {
        let common = self.common;
        let detail = serde_json::json!({
            "reason": common.reason,
            "ticket": common.ticket,
            "ttl": super::ttl::show(common.ttl),
            "principal": principal,
        });
        self.append(Event::Requested, Some(&common.requested_by), detail, None)?;
        if let Some(approver) = &common.approved_by {
            let note =
                serde_json::json!({ "note": "declared by the requester, not verified by lapse" });
            self.append(Event::Approved, Some(approver), note, None)?;
        }
        Ok(())
    }

    /// `failed`: the calls that were to run and why they did not.
    pub fn failed(&mut self, detail: serde_json::Value, error: &str) -> Result<(), JournalError> {
        self.append(Event::Failed, None, detail, Some(error.to_string()))
    }
}
