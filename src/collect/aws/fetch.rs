//! Collect, AWS live: the API calls of one account, in bulk (GetAccountAuthorizationDetails,
//! the credential report, ListRoles for what the former lacks), each counted by operation.
//!
//! Any failure is returned as [`CallFailure`] and the caller drops the account's data: a page
//! that fails mid-pagination never becomes an inventory that looks complete.

use std::collections::BTreeMap;
use std::error::Error as StdError;

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{ReportFormatType, ReportStateType};
use serde_json::Value;

use super::accounts::ReportPolling;
use super::details::{KeyLastUsed, ListRoles, ListedAccessKey, ListedRole};
use super::wire::{self, DetailsDocument};
use crate::collect::repo::secrets::AwsKeyId;

/// Items per page: IAM's maximum, so an account of N entities takes ⌈N/1000⌉ pages.
const PAGE_SIZE: i32 = 1000;
/// A marker loop (an endpoint that keeps answering IsTruncated) ends here, as a failure.
const MAX_PAGES: usize = 10_000;

/// API calls by operation (`iam:GetAccountAuthorizationDetails`), including polls.
pub type Calls = BTreeMap<String, u64>;

pub fn count(calls: &mut Calls, operation: &str) {
    *calls.entry(operation.to_string()).or_insert(0) += 1;
}

/// One failed request: becomes a coverage gap with `request = operation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    pub operation: &'static str,
    /// What is missing because of it (`authorization details`, `credential report`, `account`).
    pub what: &'static str,
    pub reason: String,
}

impl CallFailure {
    pub fn new(operation: &'static str, what: &'static str, reason: impl Into<String>) -> Self {
        CallFailure {
            operation,
            what,
            reason: reason.into(),
        }
    }

    pub fn from_sdk<E, R>(operation: &'static str, what: &'static str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: std::fmt::Debug,
    {
        CallFailure::new(operation, what, describe(err))
    }
}

/// A short reason: the service's error code and message when there is one, else the cause chain
/// (unreachable endpoint, timeout). Neither carries a credential.
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("ServiceError");
            match inner.message() {
                Some(message) => format!("{code}: {message}"),
                None => code.to_string(),
            }
        }
        SdkError::TimeoutError(_) => "timed out (after the retry budget)".to_string(),
        SdkError::DispatchFailure(_) => {
            format!(
                "endpoint unreachable (after the retry budget): {}",
                DisplayErrorContext(err)
            )
        }
        _ => DisplayErrorContext(err).to_string(),
    }
}

/// Every page of GetAccountAuthorizationDetails, merged, in the CLI's JSON shape.
pub async fn authorization_details(
    iam: &aws_sdk_iam::Client,
    calls: &mut Calls,
    on_page: &dyn Fn(&str),
) -> Result<Value, CallFailure> {
    const OP: &str = "iam:GetAccountAuthorizationDetails";
    const WHAT: &str = "authorization details";
    let mut document = DetailsDocument::default();
    paginate(OP, WHAT, calls, on_page, async |marker| {
        let out = iam
            .get_account_authorization_details()
            .max_items(PAGE_SIZE)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(OP, WHAT, &e))?;
        document.add_page(&out);
        Ok(Next::of(out.is_truncated(), out.marker()))
    })
    .await?;
    Ok(document.into_json())
}

/// Where a listing stands after a page: done, or truncated with the marker of the next page.
struct Next {
    truncated: bool,
    marker: Option<String>,
}

impl Next {
    fn of(truncated: bool, marker: Option<&str>) -> Self {
        Next {
            truncated,
            marker: marker.map(str::to_string),
        }
    }
}

/// Fetches pages (`page` gets the marker, `None` first) until one is not truncated; each is
/// counted and shown. An endpoint that never stops, or loses its marker, is a failure.
async fn paginate(
    op: &'static str,
    what: &'static str,
    calls: &mut Calls,
    on_page: &dyn Fn(&str),
    mut page: impl AsyncFnMut(Option<String>) -> Result<Next, CallFailure>,
) -> Result<(), CallFailure> {
    let mut marker: Option<String> = None;
    for number in 1..=MAX_PAGES {
        on_page(&format!("{what}, page {number}"));
        count(calls, op);
        let next = page(marker.take()).await?;
        if !next.truncated {
            return Ok(());
        }
        marker = Some(next_marker(next.marker.as_deref(), op, what)?);
    }
    Err(CallFailure::new(
        op,
        what,
        format!("still truncated after {MAX_PAGES} pages"),
    ))
}

fn next_marker(
    marker: Option<&str>,
    op: &'static str,
    what: &'static str,
) -> Result<String, CallFailure> {
    marker
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            CallFailure::new(
                op,
                what,
                "IsTruncated without a Marker: the listing cannot continue",
            )
        })
}

/// ListRoles, every page: MaxSessionDuration and Description of each role, the only role facts
/// GetAccountAuthorizationDetails leaves out (joined by [`AuthorizationDetails::apply_list_roles`],
/// as for `aws iam list-roles` output given offline).
///
/// [`AuthorizationDetails::apply_list_roles`]: super::details::AuthorizationDetails::apply_list_roles
pub async fn list_roles(
    iam: &aws_sdk_iam::Client,
    calls: &mut Calls,
    on_page: &dyn Fn(&str),
) -> Result<ListRoles, CallFailure> {
    const OP: &str = "iam:ListRoles";
    const WHAT: &str = "role settings";
    let mut list = ListRoles::default();
    paginate(OP, WHAT, calls, on_page, async |marker| {
        let out = iam
            .list_roles()
            .max_items(PAGE_SIZE)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(OP, WHAT, &e))?;
        list.roles.extend(out.roles().iter().map(|role| ListedRole {
            arn: role.arn().to_string(),
            max_session_duration: role.max_session_duration().map(i64::from),
            description: role.description().map(str::to_string),
        }));
        Ok(Next::of(out.is_truncated(), out.marker()))
    })
    .await?;
    Ok(list)
}

/// The credential report as CSV, with its GeneratedTime (RFC 3339) when the service gives one.
#[derive(Debug, Clone)]
pub struct RawCredentialReport {
    pub csv: Vec<u8>,
    pub generated_time: Option<String>,
}

/// GenerateCredentialReport until COMPLETE (bounded, with doubling delays), then one
/// GetCredentialReport. IAM only regenerates a report older than 4 h, so a COMPLETE report is
/// fresh by the service's rule; its age is still reported, because not every endpoint honours it.
pub async fn credential_report(
    iam: &aws_sdk_iam::Client,
    calls: &mut Calls,
    polling: &ReportPolling,
    on_step: &dyn Fn(&str),
) -> Result<RawCredentialReport, CallFailure> {
    wait_for_report(iam, calls, polling, on_step).await?;
    const OP: &str = "iam:GetCredentialReport";
    on_step("credential report");
    count(calls, OP);
    let out = iam
        .get_credential_report()
        .send()
        .await
        .map_err(|e| CallFailure::from_sdk(OP, "credential report", &e))?;
    if let Some(format) = out
        .report_format()
        .filter(|f| **f != ReportFormatType::TextCsv)
    {
        let reason = format!("ReportFormat {} is not text/csv", format.as_str());
        return Err(CallFailure::new(OP, "credential report", reason));
    }
    let csv = out
        .content()
        .map(|b| b.as_ref().to_vec())
        .ok_or_else(|| CallFailure::new(OP, "credential report", "the response has no Content"))?;
    Ok(RawCredentialReport {
        csv,
        generated_time: wire::timestamp(out.generated_time())
            .and_then(|v| v.as_str().map(str::to_string)),
    })
}

async fn wait_for_report(
    iam: &aws_sdk_iam::Client,
    calls: &mut Calls,
    polling: &ReportPolling,
    on_step: &dyn Fn(&str),
) -> Result<(), CallFailure> {
    const OP: &str = "iam:GenerateCredentialReport";
    let mut delay = polling.first_delay;
    for poll in 1..=polling.max_polls {
        on_step(&format!("credential report, poll {poll}"));
        count(calls, OP);
        let out = iam
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(OP, "credential report", &e))?;
        if out.state() == Some(&ReportStateType::Complete) {
            return Ok(());
        }
        if poll < polling.max_polls {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(polling.max_delay);
        }
    }
    let reason = format!("not COMPLETE after {} polls", polling.max_polls);
    Err(CallFailure::new(OP, "credential report", reason))
}

/// What the leaked key ids of one account resolved to.
#[derive(Debug, Default)]
pub struct LeakedKeys {
    /// The keys of each user a leaked id belongs to (ListAccessKeys), with the leaked ones'
    /// last use (GetAccessKeyLastUsed): joined to the report's slots like offline output.
    pub listed: Vec<ListedAccessKey>,
    /// Digests of ids the account does not hold (NoSuchEntity): deleted, or never its own.
    pub absent: Vec<String>,
    /// Ids that could not be resolved; the rest of the account is kept.
    pub failures: Vec<CallFailure>,
}

/// Resolves each leaked id with one read-only `iam:GetAccessKeyLastUsed` (which names its
/// user and last use; the key itself is never used), then `iam:ListAccessKeys` once per user
/// named, for each key's status and creation time.
pub async fn leaked_keys(
    iam: &aws_sdk_iam::Client,
    calls: &mut Calls,
    keys: &[&AwsKeyId],
) -> LeakedKeys {
    const LAST_USED: &str = "iam:GetAccessKeyLastUsed";
    const LIST: &str = "iam:ListAccessKeys";
    const WHAT: &str = "leaked access key";
    let mut out = LeakedKeys::default();
    let mut users: Vec<(String, Vec<(&AwsKeyId, KeyLastUsed)>)> = Vec::new();
    for key in keys {
        count(calls, LAST_USED);
        let answer = iam
            .get_access_key_last_used()
            .access_key_id(key.expose())
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(SdkError::ServiceError(e)) if e.err().code() == Some("NoSuchEntity") => {
                out.absent.push(key.digest());
                continue;
            }
            Err(e) => {
                let mut failure = CallFailure::from_sdk(LAST_USED, WHAT, &e);
                failure.reason = format!("key …{}: {}", key.last_four(), failure.reason);
                out.failures.push(failure);
                continue;
            }
        };
        let Some(user) = answer.user_name().filter(|u| !u.is_empty()) else {
            // A root key: GetAccessKeyLastUsed names no user.
            out.failures.push(CallFailure::new(
                LAST_USED,
                WHAT,
                format!(
                    "key …{}: the answer names no user (a root key?)",
                    key.last_four()
                ),
            ));
            continue;
        };
        let used = answer.access_key_last_used().map(|u| KeyLastUsed {
            at: u.last_used_date().and_then(chrono_time),
            service: Some(u.service_name().to_string()),
            region: Some(u.region().to_string()),
        });
        let entry = match users.iter_mut().find(|(name, _)| name == user) {
            Some(entry) => entry,
            None => {
                users.push((user.to_string(), Vec::new()));
                users.last_mut().expect("just pushed")
            }
        };
        entry.1.push((key, used.unwrap_or_default()));
    }
    for (user, leaked) in users {
        count(calls, LIST);
        let listed = match iam.list_access_keys().user_name(&user).send().await {
            Ok(listed) => listed,
            Err(e) => {
                let mut failure = CallFailure::from_sdk(LIST, WHAT, &e);
                failure.reason = format!("keys of user {user}: {}", failure.reason);
                out.failures.push(failure);
                continue;
            }
        };
        for meta in listed.access_key_metadata() {
            let id = meta.access_key_id().unwrap_or_default();
            let last_used = leaked
                .iter()
                .find(|(key, _)| key.expose() == id)
                .map(|(_, used)| used.clone());
            out.listed.push(ListedAccessKey {
                user_name: user.clone(),
                access_key_id: id.to_string(),
                status: meta.status().map(|s| s.as_str().to_string()),
                create_date: meta.create_date().and_then(chrono_time),
                last_used,
            });
        }
    }
    out
}

fn chrono_time(t: &aws_sdk_iam::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_without_marker_is_a_failure() {
        assert!(next_marker(None, "iam:ListRoles", "role settings").is_err());
        assert!(next_marker(Some(""), "iam:ListRoles", "role settings").is_err());
        assert_eq!(
            next_marker(Some("m"), "iam:ListRoles", "role settings").unwrap(),
            "m"
        );
    }
}
