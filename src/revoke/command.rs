//! Revoke, command: `lapse revoke` on a collected inventory: print the plan; with `--apply`,
//! take the lock, build the provider executors the plan needs (from the same validated options
//! the collectors used) and execute it.
//!
//! Exit codes: 0 plan printed, or everything planned done (key deletions waiting for their grace
//! period count as done); 1 some action failed, was refused (another account, tenant or owner)
//! or skipped (the principal or its marker changed since the plan); 2 input error, including a
//! second concurrent `--apply` refused by the lock.

use anyhow::Context;

use super::action::Action;
use super::apply::Executors;
use super::aws::AwsExecutor;
use super::azure::AzureExecutor;
use super::github::GithubExecutor;
use super::{Journal, Plan};
use crate::app::ProviderOptions;
use crate::cli::RevokeArgs;
use crate::collect::aws::AwsSessions;
use crate::exit::Code;
use crate::inventory::{Inventory, Provider};

/// Runs `lapse revoke` on an inventory collected with the command's source flags; `options`
/// are the validated provider options the collectors used, `ctx` the instant and lapse.toml's
/// marker horizon.
pub fn run(
    args: &RevokeArgs,
    options: &ProviderOptions,
    inventory: &Inventory,
    ctx: &crate::analyze::AnalysisContext,
) -> anyhow::Result<Code> {
    let plan = super::plan::plan_in(inventory, ctx);
    print!("{}", super::print::plan_text(&plan, args.apply));
    for gap in &inventory.coverage_gaps {
        eprintln!(
            "warning: not collected, so not planned: {} {}: {}",
            crate::render::terminal::clean(&gap.scope),
            crate::render::terminal::clean(&gap.what),
            crate::render::terminal::clean(&gap.reason)
        );
    }
    if let Some(path) = &args.plan_json {
        let text = serde_json::to_string_pretty(&plan)?;
        std::fs::write(path, text).with_context(|| format!("{}", path.display()))?;
    }
    if !args.apply {
        return Ok(Code::Clean);
    }
    let mut journal = Journal::open(&args.journal)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let outcome = runtime.block_on(async {
        let ca_bundle = args.sources.client.ca_bundle.as_deref();
        let executors = executors(options, ca_bundle, &plan, args.grace).await?;
        anyhow::Ok(super::apply(&plan, &executors, &mut journal).await?)
    })?;
    print!("{}", super::print::outcome_text(&outcome));
    Ok(outcome.exit_code())
}

fn needs(plan: &Plan, provider: Provider) -> bool {
    plan.grants
        .iter()
        .flat_map(|g| &g.actions)
        .any(|a: &Action| a.provider() == provider)
}

/// Only the clients the plan needs, each built from the provider's validated options by the
/// same builder its collector uses: a plan with no Azure action never looks for Azure
/// credentials. A provider without options or credentials fails its actions (exit 1).
async fn executors(
    options: &ProviderOptions,
    ca_bundle: Option<&std::path::Path>,
    plan: &Plan,
    grace_days: u32,
) -> anyhow::Result<Executors> {
    let mut executors = Executors {
        grace: chrono::Duration::days(i64::from(grace_days)),
        ..Executors::default()
    };
    if let (true, Some(opts)) = (needs(plan, Provider::Aws), &options.aws) {
        executors.aws = Some(AwsExecutor::new(AwsSessions::new(opts).await));
    }
    if let (true, Some(opts)) = (needs(plan, Provider::Github), &options.github) {
        let http = crate::net::client(ca_bundle)?;
        executors.github = GithubExecutor::from_options(http, opts);
    }
    if let (true, Some(opts)) = (needs(plan, Provider::Azure), &options.azure) {
        executors.azure = Some(AzureExecutor::from_options(opts)?);
    }
    Ok(executors)
}
