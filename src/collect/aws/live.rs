//! Collect, AWS live: scans one or many accounts through the SDK with the standard credential
//! chain, a bounded number of accounts in flight, and turns each failure into a coverage gap.
//!
//! The rest of lapse is synchronous, so [`collect_live`] owns a tokio runtime for its duration.
//! Each account's SDK output is shaped like the offline files and goes through the same
//! [`to_inventory`] translation: a live scan and an offline scan of the same account agree.

use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::json;

use super::accounts::LiveOptions;
use super::credential_report::{CredentialReport, parse_credential_report_csv};
use super::details::{AuthorizationDetails, ListRoles, account_of_arn};
use super::fetch::{self, CallFailure, Calls, LeakedKeys, RawCredentialReport};
use super::progress::{AccountBar, Progress};
use super::session::{AwsSessions, Purpose, caller_identity};
use super::translate::to_inventory;
use crate::collect::repo::secrets::AwsKeyId;
use crate::inventory::{CoverageGap, Inventory, SourceRun};

/// Name of this source in scan metadata and coverage gaps.
pub const SOURCE: &str = "aws";
/// Source-run attribute: digests of leaked key ids the account answered NoSuchEntity for.
pub const LEAKED_KEYS_ABSENT: &str = "leaked_keys_absent";
/// A report older than this (IAM's own regeneration threshold) is flagged in the scan metadata.
const REPORT_MAX_AGE_HOURS: i64 = 4;

/// One account to scan: through the ambient credentials, or by assuming `role_arn`.
#[derive(Debug, Clone)]
struct Target {
    /// The account as far as known before any call (the list entry, the role ARN's account).
    label: String,
    role_arn: Option<String>,
}

/// What one account yielded: its inventory fragment, or gaps with no data.
struct AccountOutcome {
    label: String,
    inventory: Inventory,
}

/// Scans every account of `opts` and returns their merged inventory. Never fails and never
/// panics on provider input: what could not be read is in `coverage_gaps`.
pub fn collect_live(opts: &LiveOptions) -> Inventory {
    collect_live_with(opts, &[])
}

/// As [`collect_live`], also resolving the AWS key ids a repository scan found (`leaked`)
/// in each scanned account they belong to (see [`fetch::leaked_keys`]).
pub fn collect_live_with(opts: &LiveOptions, leaked: &[AwsKeyId]) -> Inventory {
    let started_at = Utc::now();
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(collect_all(opts, leaked, started_at)),
        Err(e) => {
            let failure = CallFailure::new("tokio runtime", "every account", e.to_string());
            failed_account("aws", None, &failure, Calls::new(), started_at, 0)
        }
    }
}

fn targets(opts: &LiveOptions) -> Vec<Target> {
    if !opts.accounts.is_empty() {
        return opts
            .accounts
            .iter()
            .map(|account| Target {
                label: account.clone(),
                role_arn: opts.role_for(account),
            })
            .collect();
    }
    if !opts.scan_ambient {
        return Vec::new();
    }
    let role_arn = opts.role_arn.clone();
    let label = role_arn
        .as_deref()
        .and_then(account_of_arn)
        .unwrap_or("default credentials")
        .to_string();
    vec![Target { label, role_arn }]
}

async fn collect_all(
    opts: &LiveOptions,
    leaked: &[AwsKeyId],
    started_at: DateTime<Utc>,
) -> Inventory {
    let sessions = AwsSessions::new(opts).await;
    let progress = Progress::new(opts.quiet);
    let mut outcomes: Vec<AccountOutcome> = futures::stream::iter(targets(opts))
        .map(|target| collect_account(&sessions, opts, leaked, &progress, target))
        .buffer_unordered(opts.concurrency)
        .collect()
        .await;
    // Accounts finish in any order; the inventory does not depend on it.
    outcomes.sort_by(|a, b| a.label.cmp(&b.label));
    let mut inventory = Inventory::new(started_at);
    for outcome in outcomes {
        inventory.merge(outcome.inventory);
    }
    if opts.organizations {
        inventory.merge(super::organizations_api::collect(sessions.base()).await);
    }
    inventory
}

async fn collect_account(
    sessions: &AwsSessions,
    opts: &LiveOptions,
    leaked: &[AwsKeyId],
    progress: &Progress,
    target: Target,
) -> AccountOutcome {
    let started_at = Utc::now();
    let clock = Instant::now();
    let bar = progress.account(&target.label);
    let mut calls = Calls::new();
    let mut run = AccountRun {
        account: None,
        role_arn: target.role_arn.clone(),
    };
    let result = scan_account(sessions, opts, &target, &mut run, &mut calls, &bar, leaked).await;
    let elapsed = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
    let scope = run.account.clone().unwrap_or_else(|| target.label.clone());
    let inventory = match result {
        Ok(data) => {
            bar.finish("done");
            account_inventory(&scope, &run, data, calls, started_at, elapsed)
        }
        Err(failure) => {
            bar.finish(&format!("failed: {}", failure.operation));
            tracing::warn!(account = %scope, operation = failure.operation, reason = %failure.reason, "AWS account not scanned");
            failed_account(
                &scope,
                run.role_arn.as_deref(),
                &failure,
                calls,
                started_at,
                elapsed,
            )
        }
    };
    AccountOutcome {
        label: target.label,
        inventory,
    }
}

/// What is known of an account as the scan goes: the id once STS has named it.
struct AccountRun {
    account: Option<String>,
    role_arn: Option<String>,
}

struct AccountData {
    details: serde_json::Value,
    roles: ListRoles,
    /// A report failure keeps the details (partial data) and becomes a gap of its own.
    report: Result<RawCredentialReport, CallFailure>,
    leaked: LeakedKeys,
}

async fn scan_account(
    sessions: &AwsSessions,
    opts: &LiveOptions,
    target: &Target,
    run: &mut AccountRun,
    calls: &mut Calls,
    bar: &AccountBar,
    leaked: &[AwsKeyId],
) -> Result<AccountData, CallFailure> {
    let config = match &target.role_arn {
        Some(role_arn) => {
            bar.step("assuming role");
            sessions.assume(role_arn, Purpose::Audit, calls).await?
        }
        None => sessions.base().clone(),
    };
    bar.step("identity");
    let (account, _) = caller_identity(&config, calls).await?;
    if target.role_arn.is_some() && !opts.accounts.is_empty() && account != target.label {
        let reason = format!(
            "the assumed role belongs to account {account}, not {}",
            target.label
        );
        return Err(CallFailure::new("sts:GetCallerIdentity", "account", reason));
    }
    let iam = aws_sdk_iam::Client::new(&config);
    // Only ids this account's own session may resolve: an id is looked up where it belongs.
    let mine: Vec<&AwsKeyId> = leaked.iter().filter(|k| k.account() == account).collect();
    run.account = Some(account);
    let details = fetch::authorization_details(&iam, calls, &|m| bar.step(m)).await?;
    let roles = fetch::list_roles(&iam, calls, &|m| bar.step(m)).await?;
    let report =
        fetch::credential_report(&iam, calls, &opts.report_polling, &|m| bar.step(m)).await;
    let leaked = match mine.is_empty() {
        true => LeakedKeys::default(),
        false => {
            bar.step("leaked access keys");
            fetch::leaked_keys(&iam, calls, &mine).await
        }
    };
    Ok(AccountData {
        details,
        roles,
        report,
        leaked,
    })
}

fn source_run(
    scope: &str,
    role_arn: Option<&str>,
    calls: Calls,
    started_at: DateTime<Utc>,
    elapsed: u64,
) -> SourceRun {
    let mut run = SourceRun {
        source: SOURCE.into(),
        scope: scope.to_string(),
        started_at,
        duration_ms: elapsed,
        api_calls: calls,
        attributes: Default::default(),
    };
    if let Some(arn) = role_arn {
        run.attributes.insert("role_arn".into(), json!(arn));
    }
    run
}

fn gap(scope: &str, failure: &CallFailure) -> CoverageGap {
    CoverageGap {
        source: SOURCE.into(),
        scope: scope.to_string(),
        what: failure.what.to_string(),
        reason: failure.reason.clone(),
        request: Some(failure.operation.to_string()),
    }
}

/// An account that yielded nothing usable: its calls are counted, its data is absent.
fn failed_account(
    scope: &str,
    role_arn: Option<&str>,
    failure: &CallFailure,
    calls: Calls,
    started_at: DateTime<Utc>,
    elapsed: u64,
) -> Inventory {
    let mut inventory = Inventory::new(started_at);
    inventory
        .sources
        .push(source_run(scope, role_arn, calls, started_at, elapsed));
    let mut failure = failure.clone();
    if failure.what != "account" {
        failure.reason = format!("{} (no data kept for this account)", failure.reason);
    }
    inventory.coverage_gaps.push(gap(scope, &failure));
    inventory
}

fn account_inventory(
    scope: &str,
    run: &AccountRun,
    data: AccountData,
    calls: Calls,
    started_at: DateTime<Utc>,
    elapsed: u64,
) -> Inventory {
    let mut details: AuthorizationDetails = match serde_json::from_value(data.details) {
        Ok(details) => details,
        Err(e) => {
            let reason = format!("the response does not parse: {e}");
            let failure = CallFailure::new(
                "iam:GetAccountAuthorizationDetails",
                "authorization details",
                reason,
            );
            return failed_account(
                scope,
                run.role_arn.as_deref(),
                &failure,
                calls,
                started_at,
                elapsed,
            );
        }
    };
    details.apply_list_roles(&data.roles);
    details.access_keys = data.leaked.listed;
    let mut source = source_run(scope, run.role_arn.as_deref(), calls, started_at, elapsed);
    if !data.leaked.absent.is_empty() {
        source
            .attributes
            .insert(LEAKED_KEYS_ABSENT.into(), json!(data.leaked.absent));
    }
    let (report, report_gap) = match data.report.and_then(|raw| parse_report(scope, raw)) {
        Ok(report) => {
            note_report_age(&mut source, &report, started_at);
            (Some(report), None)
        }
        Err(failure) => (None, Some(gap(scope, &failure))),
    };
    let mut inventory = to_inventory(details, report, source);
    inventory.coverage_gaps.extend(report_gap);
    let key_gaps = data.leaked.failures.iter().map(|f| gap(scope, f));
    inventory.coverage_gaps.extend(key_gaps);
    inventory
}

fn parse_report(scope: &str, raw: RawCredentialReport) -> Result<CredentialReport, CallFailure> {
    let origin = format!("GetCredentialReport of account {scope}");
    let mut report = parse_credential_report_csv(&raw.csv, &origin).map_err(|e| {
        CallFailure::new(
            "iam:GetCredentialReport",
            "credential report",
            e.to_string(),
        )
    })?;
    report.generated_at = raw
        .generated_time
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(report)
}

/// Records when the report was generated and flags one past IAM's 4-hour threshold. IAM only
/// hands out such a report when its clock disagrees (moto answers a fixed 2015 date), so it is
/// shown rather than regenerated in a loop.
fn note_report_age(source: &mut SourceRun, report: &CredentialReport, now: DateTime<Utc>) {
    let Some(generated) = report.generated_at else {
        return;
    };
    let age_hours = (now - generated).num_hours();
    source.attributes.insert(
        "credential_report_generated_at".into(),
        json!(generated.to_rfc3339()),
    );
    source
        .attributes
        .insert("credential_report_age_hours".into(), json!(age_hours));
    if age_hours >= REPORT_MAX_AGE_HOURS {
        source
            .attributes
            .insert("credential_report_stale".into(), json!(true));
        tracing::warn!(account = %source.scope, %generated, "credential report is {age_hours} h old (IAM regenerates after 4 h)");
    }
}
