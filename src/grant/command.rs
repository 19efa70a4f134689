//! Grant, command: `lapse grant` end to end. Validate the request, confirm the account, read
//! the principal, decide, print the plan; with `--apply`, journal the request (and the declared
//! approval), write the ledger line, provision, and journal the issuance, all in the journal's
//! hash chain.
//!
//! Order on apply, so that no failure leaves access nobody tracks: the ledger line is written
//! (and synced) *before* the provider call, and taken back if the call fails; a crash between
//! the two leaves a ledger line for a grant that may not exist, which `revoke` later finds
//! already absent. The reverse order could leave access attached with no line to end it.
//!
//! Exit codes: 0 planned or granted; 1 the provisioning failed (nothing claimed); 2 refused
//! (TTL, approval, admin, standing access, unknown principal, wrong account, bad input).

use anyhow::Context;

use super::{Decision, RawRequest, Request};
use crate::cli::GrantArgs;
use crate::collect::aws::accounts::DEFAULT_MAX_ATTEMPTS;
use crate::collect::aws::client::{ClientSettings, sdk_config};
use crate::exit::Code;
use crate::revoke::Journal;
use crate::revoke::journal::Event;

pub fn run(args: &GrantArgs) -> anyhow::Result<Code> {
    let config = crate::plan::load_config(args.config.as_deref())?;
    let inline = match (&args.inline_policy, &args.policy_name) {
        (Some(file), Some(name)) => Some((
            std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?,
            name.as_str(),
        )),
        _ => None,
    };
    let raw = RawRequest {
        principal: &args.principal,
        attach_policy: args.attach_policy.as_deref(),
        inline_policy: inline,
        ttl: &args.ttl,
        reason: &args.reason,
        requested_by: &args.requested_by,
        approved_by: args.approved_by.as_deref(),
        ticket: args.ticket.as_deref(),
        allow_admin: args.allow_admin,
        ledger: args.ledger.clone(),
    };
    let request = Request::validate(raw, &config.grant, chrono::Utc::now())?;
    let ledger = match std::fs::metadata(&request.ledger) {
        Ok(_) => crate::revoke::ledger::load(&request.ledger)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("{}", request.ledger.display())),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async {
        let sdk = sdk_config(ClientSettings {
            profile: args.aws_profile.as_deref(),
            region: args.aws_region.as_deref(),
            endpoint_url: args.aws_endpoint_url.as_deref(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        })
        .await;
        super::aws::confirm_account(&aws_sdk_sts::Client::new(&sdk), &request.account).await?;
        let iam = aws_sdk_iam::Client::new(&sdk);
        let inspection = super::aws::inspect(&iam, &request).await?;
        let decision = super::decide(&request, &inspection, &ledger)?;
        let entry = request.ledger_entry(&inspection.unique_id);
        let line = serde_json::to_string(&entry)?;
        print!(
            "{}",
            super::print::plan_text(&request, &inspection, &decision, &line, args.apply)
        );
        if !args.apply {
            return Ok(Code::Clean);
        }
        let mut journal = Journal::open(&args.journal)?;
        let code = apply(&iam, &request, &decision, &entry, &mut journal).await?;
        anyhow::Ok(code)
    })
}

async fn apply(
    iam: &aws_sdk_iam::Client,
    request: &Request,
    decision: &Decision,
    entry: &crate::inventory::LedgerEntry,
    journal: &mut Journal,
) -> anyhow::Result<Code> {
    let record = |journal: &Journal, event: Event, actor: Option<&str>, detail| {
        let mut record = journal.record(event);
        record.grant = Some(request.grant_id());
        record.expires_at = Some(request.expires_at());
        record.actor = actor.map(str::to_string);
        record.detail = Some(detail);
        record
    };
    let requested = record(
        journal,
        Event::Requested,
        Some(&request.requested_by),
        serde_json::json!({
            "reason": request.reason,
            "ticket": request.ticket,
            "ttl": super::ttl::show(request.ttl),
            "principal_unique_id": entry.principal_unique_id,
        }),
    );
    journal.append(&requested)?;
    if let Some(approver) = &request.approved_by {
        let approved = record(
            journal,
            Event::Approved,
            Some(approver),
            serde_json::json!({ "note": "declared by the requester, not verified by lapse" }),
        );
        journal.append(&approved)?;
    }
    let calls = super::calls(request, decision);
    let before = crate::revoke::ledger::append(&request.ledger, entry)?;
    if matches!(decision, Decision::Issue)
        && let Err(error) = super::aws::provision(iam, request).await
    {
        crate::revoke::ledger::truncate(&request.ledger, before)?;
        let mut failed = record(
            journal,
            Event::Failed,
            None,
            serde_json::json!({ "calls": calls }),
        );
        failed.error = Some(error.clone());
        journal.append(&failed)?;
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
    let done = record(
        journal,
        event,
        None,
        serde_json::json!({ "calls": calls, "ledger": entry }),
    );
    journal.append(&done)?;
    println!(
        "{said} until {} (run {}); `lapse revoke --ledger {}` ends it after that",
        request
            .expires_at()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        journal.run_id(),
        crate::render::terminal::clean(&request.ledger.display().to_string())
    );
    Ok(Code::Clean)
}
