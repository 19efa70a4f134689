//! Revoke, command: `lapse revoke` on a collected inventory: print the plan; with `--apply`,
//! take the lock, build the provider clients the plan needs and execute it.
//!
//! Exit codes: 0 plan printed, or everything planned done (key deletions waiting for their grace
//! period count as done); 1 some action failed (a permission error stops its grant); 2 input
//! error, including a second concurrent `--apply` refused by the lock.

use anyhow::Context;

use super::action::Action;
use super::apply::Executors;
use super::aws::AwsExecutor;
use super::azure::{AzureAuth, AzureExecutor};
use super::github::GithubExecutor;
use super::{Journal, Plan};
use crate::cli::{RevokeArgs, SourceArgs};
use crate::collect::aws::accounts::DEFAULT_MAX_ATTEMPTS;
use crate::collect::aws::client::{ClientSettings, sdk_config};
use crate::exit::Code;
use crate::inventory::{Inventory, Provider};

const GITHUB_API: &str = "https://api.github.com";

/// Runs `lapse revoke` on an inventory collected with the command's source flags.
pub fn run(
    args: &RevokeArgs,
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
        let executors = executors(&args.sources, &plan, args.grace).await?;
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

/// Only the clients the plan needs: a plan with no Azure action never looks for Azure
/// credentials. A provider whose credentials are missing fails its actions (exit 1).
async fn executors(
    sources: &SourceArgs,
    plan: &Plan,
    grace_days: u32,
) -> anyhow::Result<Executors> {
    let mut executors = Executors {
        grace: chrono::Duration::days(i64::from(grace_days)),
        ..Executors::default()
    };
    if needs(plan, Provider::Aws) {
        executors.aws = Some(AwsExecutor::new(aws_client(sources).await));
    }
    if needs(plan, Provider::Github) {
        let token = std::env::var("GITHUB_TOKEN").or_else(|_| std::env::var("GH_TOKEN"));
        if let Ok(token) = token {
            let api = sources.github_api_url.as_deref().unwrap_or(GITHUB_API);
            let http = crate::net::client(sources.ca_bundle.as_deref())?;
            executors.github = Some(GithubExecutor::new(http, api, token));
        }
    }
    if needs(plan, Provider::Azure) {
        executors.azure = azure(sources)?;
    }
    Ok(executors)
}

/// The live collector's SDK config (standard chain, profile, region, endpoint override,
/// retries), from the command's flags.
async fn aws_client(sources: &SourceArgs) -> aws_sdk_iam::Client {
    let config = sdk_config(ClientSettings {
        profile: sources.aws_profile.as_deref(),
        region: sources.aws_region.as_deref(),
        endpoint_url: sources.aws_endpoint_url.as_deref(),
        max_attempts: DEFAULT_MAX_ATTEMPTS,
    })
    .await;
    aws_sdk_iam::Client::new(&config)
}

fn azure(sources: &SourceArgs) -> anyhow::Result<Option<AzureExecutor>> {
    let Some(tenant) = &sources.azure_tenant else {
        return Ok(None);
    };
    let opts = crate::collect::azure::AzureOptions::from_flags(
        tenant,
        &sources.azure_subscription,
        sources.azure_graph_url.as_deref(),
        sources.azure_arm_url.as_deref(),
        sources.azure_credential.as_deref(),
    )?;
    let tokens = crate::collect::azure::Tokens::from_environment(opts.credential, &opts.tenant);
    let auth = AzureAuth::Chain {
        tokens,
        graph_scope: opts.graph_scope(),
        arm_scope: opts.arm_scope(),
    };
    let http = crate::net::client(sources.ca_bundle.as_deref())?;
    Ok(Some(AzureExecutor::new(
        http,
        &opts.graph_url,
        &opts.arm_url,
        auth,
    )))
}
