//! Grant, command: `lapse grant` end to end. Validate the request, confirm where it acts, read
//! the principal, decide, print the plan; with `--apply`, journal the request (and the declared
//! approval), write the ledger line, provision, and journal the issuance, all in the journal's
//! hash chain. The provider follows from the target flags.
//!
//! Order on apply (AWS), so that no failure leaves access nobody tracks: the ledger line is
//! written (and synced) *before* the provider call, and taken back if the call fails; a crash
//! between the two leaves a ledger line for a grant that may not exist, which `revoke` later
//! finds already absent. The reverse order could leave access attached with no line to end it.
//!
//! Exit codes: 0 planned or granted; 1 the provisioning failed (nothing claimed); 2 refused
//! (TTL, approval, admin, standing access, unknown principal, wrong account, bad input).

use anyhow::Context;
use chrono::SubsecRound;

use super::{Common, Decision, RawCommon, RawRequest, Refused, Request, record};
use crate::cli::{GrantArgs, SourceArgs};
use crate::collect::aws::AwsSessions;
use crate::collect::aws::accounts::LiveOptions;
use crate::config::Config;
use crate::exit::Code;
use crate::inventory::LedgerEntry;
use crate::revoke::Journal;
use crate::revoke::journal::Event;

pub fn run(args: &GrantArgs) -> anyhow::Result<Code> {
    let config = crate::plan::load_config(args.config.as_deref())?;
    let raw = RawCommon {
        ttl: &args.ttl,
        reason: &args.reason,
        requested_by: &args.requested_by,
        approved_by: args.approved_by.as_deref(),
        ticket: args.ticket.as_deref(),
        ledger: args.ledger.clone(),
    };
    // Whole seconds: the same instant in a title marker, the ledger and the journal.
    let common = Common::validate(raw, &config.grant, chrono::Utc::now().trunc_subsecs(0))?;
    let ledger = load_ledger(&common)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    match (&args.principal, &args.deploy_key_repo) {
        (Some(principal), None) => {
            let inline = match (&args.inline_policy, &args.policy_name) {
                (Some(file), Some(name)) => Some((
                    std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?,
                    name.as_str(),
                )),
                _ => None,
            };
            let raw = RawRequest {
                principal,
                attach_policy: args.attach_policy.as_deref(),
                inline_policy: inline,
                allow_admin: args.allow_admin,
            };
            let request = Request::validate(raw, common)?;
            runtime.block_on(aws(args, &config, &request, &ledger))
        }
        (None, Some(repo)) => {
            let request = super::github::DeployKeyRequest::validate(args, repo, common)?;
            runtime.block_on(super::github::run(args, &config, &request, &ledger))
        }
        (None, None) if args.assignee.is_some() => {
            let request = super::azure::RoleRequest::validate(
                args.assignee.as_deref().unwrap_or_default(),
                args.role.as_deref().unwrap_or_default(),
                args.scope.as_deref().unwrap_or_default(),
                common,
            )?;
            runtime.block_on(super::azure::run(args, &config, &request, &ledger))
        }
        _ => anyhow::bail!(
            "name one target: --principal ARN (AWS), --deploy-key-repo OWNER/NAME (GitHub) or \
             --assignee OBJECT_ID --role NAME --scope SCOPE (Azure)"
        ),
    }
}

fn load_ledger(common: &Common) -> anyhow::Result<Vec<LedgerEntry>> {
    match std::fs::metadata(&common.ledger) {
        Ok(_) => Ok(crate::revoke::ledger::load(&common.ledger)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("{}", common.ledger.display())),
    }
}

/// The source arguments the shared client builders read for a grant: the client flags only
/// (no source switch), plus the repository a deploy-key grant writes to.
pub fn client_sources(args: &GrantArgs) -> SourceArgs {
    SourceArgs {
        client: args.client.clone(),
        github_repo: args.deploy_key_repo.iter().cloned().collect(),
        quiet: true,
        ..SourceArgs::default()
    }
}

/// The IAM client of the principal's account, through revoke's writer session builder: the
/// revoke role assumed there (`--aws-revoke-role-arn`, `[aws] revoke_role_arn`) or the ambient
/// credentials, confirmed by `sts:GetCallerIdentity` to be in that account before anything is
/// read or written.
pub async fn aws_writer(
    args: &GrantArgs,
    config: &Config,
    account: &str,
) -> anyhow::Result<aws_sdk_iam::Client> {
    let options = LiveOptions::from_args(&client_sources(args), config.aws.as_ref())?;
    let sessions = AwsSessions::new(&options).await;
    let session = sessions.writer(account).await.map_err(|failure| {
        Refused(format!(
            "{}: {}: nothing is changed",
            failure.operation, failure.reason
        ))
    })?;
    Ok(session.iam())
}

async fn aws(
    args: &GrantArgs,
    config: &Config,
    request: &Request,
    ledger: &[LedgerEntry],
) -> anyhow::Result<Code> {
    let iam = aws_writer(args, config, &request.account).await?;
    let inspection = super::aws::inspect(&iam, request).await?;
    let decision = super::decide(request, &inspection, ledger)?;
    let entry = request.ledger_entry(&inspection.unique_id);
    let line = serde_json::to_string(&entry)?;
    print!(
        "{}",
        super::print::plan_text(request, &inspection, &decision, &line, args.apply)
    );
    if !args.apply {
        return Ok(Code::Clean);
    }
    let mut journal = Journal::open(&args.journal)?;
    let grant_id = request.grant_id();
    let common = &request.common;
    let principal = serde_json::json!({
        "arn": request.principal_arn,
        "unique_id": inspection.unique_id,
    });
    let mut log = record::Log {
        journal: &mut journal,
        common,
        grant_id,
        provider: crate::inventory::Provider::Aws,
        account: Some(request.account.clone()),
        unique_id: Some(inspection.unique_id.clone()),
    };
    log.request_and_approval(principal)?;
    let calls = super::calls(request, &decision);
    let before = crate::revoke::ledger::append(&common.ledger, &entry)?;
    if matches!(decision, Decision::Issue)
        && let Err(error) = super::aws::provision(&iam, request).await
    {
        crate::revoke::ledger::truncate(&common.ledger, before)?;
        let detail = serde_json::json!({ "calls": calls });
        log.failed(detail, &error)?;
        eprintln!(
            "error: the grant was not provisioned ({}); its ledger line was taken back",
            crate::render::terminal::clean(&error)
        );
        return Ok(Code::Findings);
    }
    let (event, said) = match decision {
        Decision::Issue => (Event::Issued, "granted"),
        Decision::Extend { .. } => (Event::Extended, "extended"),
    };
    let mut detail = serde_json::json!({ "calls": calls, "ledger": entry });
    if let Decision::Extend { previous } = decision {
        detail["previous_expires_at"] = serde_json::json!(previous);
    }
    log.append(event, None, detail, None)?;
    print_done(said, common, log.journal);
    Ok(Code::Clean)
}

/// The last line of an applied grant.
pub fn print_done(said: &str, common: &Common, journal: &Journal) {
    println!(
        "{said} until {} (run {}); `lapse revoke --ledger {}` ends it after that",
        common
            .expires_at()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        journal.run_id(),
        crate::render::terminal::clean(&common.ledger.display().to_string())
    );
}
