//! Grant: `lapse grant` issues self-ending access (request → approval → provisioning), the
//! first half of the lifecycle whose second half is `revoke`. A request is validated once
//! against lapse.toml's `[grant]` policy (TTL, approval), the provider is asked what the
//! principal is and already holds, and the plan says what will be granted, to whom, until when,
//! why, who approved, the exact calls and the ledger line. `--apply` executes it.
//!
//! AWS policy grants live in the ledger only, never as a `lapse:expires-at` tag on the
//! principal (a tag would make `revoke` strip everything the principal holds).

use std::path::PathBuf;

use serde::Serialize;

use crate::analyze::Privilege;
use crate::config::GrantPolicy;
use crate::inventory::{LedgerEntry, Provider, Timestamp};
use crate::revoke::action::IamKind;

pub mod aws;
pub mod azure;
pub mod command;
pub mod github;
pub mod print;
pub mod privilege;
pub mod record;
pub mod ttl;

/// A request refused before anything changes (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// What is granted on an AWS principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Granted {
    /// A managed policy attached.
    PolicyAttachment { policy_arn: String },
    /// An inline policy written (its document from `--inline-policy FILE`).
    InlinePolicy {
        policy_name: String,
        document: String,
    },
}

impl Granted {
    /// Ledger `kind` and `target`.
    pub fn ledger_kind_target(&self) -> (&'static str, &str) {
        match self {
            Granted::PolicyAttachment { policy_arn } => ("policy_attachment", policy_arn),
            Granted::InlinePolicy { policy_name, .. } => ("inline_policy", policy_name),
        }
    }
}

/// What every grant carries, whatever the provider: validated once against `[grant]`.
#[derive(Debug, Clone)]
pub struct Common {
    pub ttl: chrono::Duration,
    pub now: Timestamp,
    pub reason: String,
    pub requested_by: String,
    /// Declared by the caller, not verified by lapse.
    pub approved_by: Option<String>,
    pub ticket: Option<String>,
    pub ledger: PathBuf,
}

/// The raw inputs shared by every kind of grant, as the command line gives them.
#[derive(Debug, Clone)]
pub struct RawCommon<'a> {
    pub ttl: &'a str,
    pub reason: &'a str,
    pub requested_by: &'a str,
    pub approved_by: Option<&'a str>,
    pub ticket: Option<&'a str>,
    pub ledger: PathBuf,
}

/// Non-empty text without control characters (it goes into ledgers, journals and titles).
pub fn text(flag: &str, value: &str) -> Result<String, Refused> {
    let value = value.trim();
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(Refused(format!("{flag} must be non-empty text")));
    }
    Ok(value.to_string())
}

impl Common {
    /// Checks the TTL against `max_ttl` and the approval when `[grant]` requires one (by
    /// someone other than the requester).
    pub fn validate(
        raw: RawCommon<'_>,
        policy: &GrantPolicy,
        now: Timestamp,
    ) -> Result<Common, Refused> {
        let ttl = ttl::parse(raw.ttl).map_err(|e| Refused(format!("--ttl {e}")))?;
        if ttl > policy.max_ttl {
            return Err(Refused(format!(
                "--ttl {} is longer than [grant] max_ttl {} of lapse.toml",
                raw.ttl,
                ttl::show(policy.max_ttl)
            )));
        }
        let reason = text("--reason", raw.reason)?;
        let requested_by = text("--requested-by", raw.requested_by)?;
        let approved_by = raw
            .approved_by
            .map(|a| text("--approved-by", a))
            .transpose()?;
        let ticket = raw.ticket.map(|t| text("--ticket", t)).transpose()?;
        if policy.require_approval {
            match &approved_by {
                None => {
                    return Err(Refused(
                        "[grant] require_approval is set in lapse.toml: --approved-by is required"
                            .into(),
                    ));
                }
                Some(approver) if approver.eq_ignore_ascii_case(&requested_by) => {
                    return Err(Refused(format!(
                        "--approved-by must differ from --requested-by ({approver} cannot approve \
                         their own request)"
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(Common {
            ttl,
            now,
            reason,
            requested_by,
            approved_by,
            ticket,
            ledger: raw.ledger,
        })
    }

    pub fn expires_at(&self) -> Timestamp {
        self.now + self.ttl
    }

    /// Who, why and the ticket, on a ledger line.
    pub fn stamp(&self, entry: &mut LedgerEntry) {
        entry.owner = Some(self.requested_by.clone());
        entry.reason = Some(self.reason.clone());
        entry.requested_by = Some(self.requested_by.clone());
        entry.approved_by = self.approved_by.clone();
        entry.ticket = self.ticket.clone();
    }
}

/// A validated AWS `lapse grant` request.
#[derive(Debug, Clone)]
pub struct Request {
    pub common: Common,
    pub principal_arn: String,
    pub kind: IamKind,
    pub name: String,
    pub account: String,
    pub granted: Granted,
    pub allow_admin: bool,
}

/// The raw AWS inputs of a request, as the command line gives them.
#[derive(Debug, Clone)]
pub struct RawRequest<'a> {
    pub principal: &'a str,
    pub attach_policy: Option<&'a str>,
    pub inline_policy: Option<(String, &'a str)>,
    pub allow_admin: bool,
}

impl Request {
    /// Checks the principal and what is granted.
    pub fn validate(raw: RawRequest<'_>, common: Common) -> Result<Request, Refused> {
        let (kind, name) = crate::revoke::ledger::iam_principal(raw.principal).map_err(Refused)?;
        crate::revoke::target::iam_arn_path(raw.principal).map_err(Refused)?;
        if kind == IamKind::Group {
            return Err(Refused(
                "a group is shared by its members: grant to the user or role that needs it".into(),
            ));
        }
        let account = raw
            .principal
            .split(':')
            .nth(4)
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| Refused(format!("{:?} has no 12-digit account id", raw.principal)))?
            .to_string();
        let granted = match (raw.attach_policy, raw.inline_policy) {
            (Some(arn), None) => {
                if !arn.starts_with("arn:") || !arn.contains(":policy/") {
                    return Err(Refused(format!(
                        "--attach-policy {arn:?} is not a policy ARN"
                    )));
                }
                crate::revoke::target::iam_arn_path(arn).map_err(Refused)?;
                Granted::PolicyAttachment {
                    policy_arn: arn.to_string(),
                }
            }
            (None, Some((document, name))) => {
                crate::revoke::target::check_segment(name)
                    .map_err(|e| Refused(format!("--policy-name: {e}")))?;
                serde_json::from_str::<serde_json::Value>(&document)
                    .map_err(|e| Refused(format!("--inline-policy is not JSON: {e}")))?;
                Granted::InlinePolicy {
                    policy_name: name.to_string(),
                    document,
                }
            }
            _ => {
                return Err(Refused(
                    "name what to grant: --attach-policy ARN, or --inline-policy FILE with \
                     --policy-name NAME"
                        .into(),
                ));
            }
        };
        Ok(Request {
            common,
            principal_arn: raw.principal.to_string(),
            kind,
            name,
            account,
            granted,
            allow_admin: raw.allow_admin,
        })
    }

    pub fn expires_at(&self) -> Timestamp {
        self.common.expires_at()
    }

    /// The ledger line that records this grant, pinned to the principal's unique id.
    pub fn ledger_entry(&self, unique_id: &str) -> LedgerEntry {
        let (kind, target) = self.granted.ledger_kind_target();
        let mut entry = LedgerEntry::new(Provider::Aws, kind, target, self.expires_at());
        entry.principal_id = Some(self.principal_arn.clone());
        entry.account = Some(self.account.clone());
        entry.principal_unique_id = Some(unique_id.to_string());
        self.common.stamp(&mut entry);
        entry
    }

    /// The grant's id, as `revoke` plans a ledger entry (`PRINCIPAL#TARGET`), so the journal's
    /// grant and revoke records of one grant share it.
    pub fn grant_id(&self) -> String {
        format!(
            "{}#{}",
            self.principal_arn,
            self.granted.ledger_kind_target().1
        )
    }
}

/// What the provider said about the principal, read before anything changes.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// `RoleId` / `UserId`.
    pub unique_id: String,
    /// The principal already holds what is asked (attached, or an inline policy of that name).
    pub held: bool,
    /// Privilege of the granted document alone, per the policy analysis.
    pub privilege: Privilege,
    /// The principal's effective privilege before and after the grant: its live policies plus
    /// what is granted, through the effective-privilege analysis.
    pub combined: privilege::Judgement,
}

/// What `--apply` will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Provision it, then record it.
    Issue,
    /// A grant lapse issued is live (or not yet revoked): a new ledger line moves its expiry,
    /// no provider call.
    Extend { previous: Timestamp },
}

/// Decides from the inspection and the ledger; refuses standing access, a re-created
/// principal and admin without `--allow-admin`.
pub fn decide(
    request: &Request,
    inspection: &Inspection,
    ledger: &[LedgerEntry],
) -> Result<Decision, Refused> {
    let combined = &inspection.combined;
    let admin = inspection.privilege == Privilege::Admin || combined.after == Privilege::Admin;
    if admin && !request.allow_admin {
        let why = if inspection.privilege == Privilege::Admin {
            "what is granted is admin on its own".to_string()
        } else if combined.before == Privilege::Admin {
            "the principal is admin already, and stays so with the grant".to_string()
        } else {
            format!(
                "with what it already holds, the grant makes it admin ({})",
                combined
                    .evidence
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        return Err(Refused(format!(
            "after this grant {} would be admin: {why}; refused unless --allow-admin (expiry \
             alone does not make admin safe)",
            request.principal_arn
        )));
    }
    let wanted = crate::revoke::ledger::grant_key(&request.ledger_entry(&inspection.unique_id));
    let previous = crate::revoke::ledger::latest(ledger, &wanted);
    match (inspection.held, previous) {
        (false, _) => Ok(Decision::Issue),
        (true, Some(entry))
            if entry
                .principal_unique_id
                .as_deref()
                .is_some_and(|id| id != inspection.unique_id) =>
        {
            Err(Refused(format!(
                "{} was deleted and re-created since the ledger's grant (unique id {} then, {} \
                 now): the policy it holds now was not granted by lapse",
                request.principal_arn,
                entry.principal_unique_id.as_deref().unwrap_or_default(),
                inspection.unique_id
            )))
        }
        (true, Some(entry)) => Ok(Decision::Extend {
            previous: entry.expires_at,
        }),
        (true, None) => Err(Refused(format!(
            "{} already holds {}: that is standing access, and a provisional grant of it would \
             make `lapse revoke` remove it later",
            request.principal_arn,
            request.granted.ledger_kind_target().1
        ))),
    }
}

/// The exact provider calls of a decision.
pub fn calls(request: &Request, decision: &Decision) -> Vec<String> {
    if matches!(decision, Decision::Extend { .. }) {
        return Vec::new();
    }
    let kind = request.kind.as_str();
    match &request.granted {
        Granted::PolicyAttachment { policy_arn } => vec![format!(
            "iam:Attach{kind}Policy {kind}Name={} PolicyArn={policy_arn}",
            request.name
        )],
        Granted::InlinePolicy { policy_name, .. } => vec![format!(
            "iam:Put{kind}Policy {kind}Name={} PolicyName={policy_name}",
            request.name
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        crate::analyze::expiry::parse_timestamp(text).unwrap()
    }

    fn request() -> Request {
        let common = Common {
            ttl: chrono::Duration::hours(2),
            now: at("2025-06-01T00:00:00Z"),
            reason: "INC-1".into(),
            requested_by: "alice".into(),
            approved_by: None,
            ticket: None,
            ledger: PathBuf::from("grants.jsonl"),
        };
        let raw = RawRequest {
            principal: "arn:aws:iam::123456789012:role/worker",
            attach_policy: Some("arn:aws:iam::123456789012:policy/Deploy"),
            inline_policy: None,
            allow_admin: false,
        };
        Request::validate(raw, common).unwrap()
    }

    /// Two lines for the grant held now (the first grant, then an extension): the extension
    /// extends from the latest line, as `revoke` reads the ledger.
    #[test]
    fn an_extension_starts_from_the_latest_ledger_line() {
        let request = request();
        let inspection = Inspection {
            unique_id: "AROAWORKER".into(),
            held: true,
            privilege: Privilege::Write,
            combined: privilege::Judgement {
                before: Privilege::Write,
                after: Privilege::Write,
                evidence: Vec::new(),
            },
        };
        let mut first = request.ledger_entry("AROAWORKER");
        first.expires_at = at("2025-06-01T01:00:00Z");
        let mut second = first.clone();
        second.expires_at = at("2025-06-01T03:00:00Z");
        let decision = decide(&request, &inspection, &[first, second]).unwrap();
        assert_eq!(
            decision,
            Decision::Extend {
                previous: at("2025-06-01T03:00:00Z")
            }
        );
    }
}
