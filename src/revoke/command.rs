//! Revoke, command: `lapse revoke` on a collected inventory: print the plan; with `--apply`,
//! take the lock, build the provider clients the plan needs and execute it.
//!
//! Exit codes: 0 plan printed, or everything planned done (key deletions waiting for their grace
//! period count as done); 1 some action failed (a permission error stops its grant); 2 input
//! error, including a second concurrent `--apply` refused by the lock.

use std::path::Path;

use anyhow::Context;

use super::action::Action;
use super::apply::Executors;
use super::aws::AwsExecutor;
use super::azure::{AzureAuth, AzureExecutor};
use super::github::GithubExecutor;
use super::{Journal, Plan};
use crate::cli::{RevokeArgs, SourceArgs};
use crate::exit::Code;
use crate::inventory::{Inventory, Provider, Timestamp};

const GITHUB_API: &str = "https://api.github.com";

/// Runs `lapse revoke` on an inventory collected with the command's source flags.
pub fn run(args: &RevokeArgs, inventory: &Inventory, as_of: Timestamp) -> anyhow::Result<Code> {
    let plan = super::plan(inventory, as_of);
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
            let http = http_client(sources.ca_bundle.as_deref())?;
            executors.github = Some(GithubExecutor::new(http, api, token));
        }
    }
    if needs(plan, Provider::Azure) {
        executors.azure = azure(sources)?;
    }
    Ok(executors)
}

/// The standard credential chain, as the live collector uses it: profile, region, endpoint
/// override (`--aws-endpoint-url`; the SDK also reads `AWS_ENDPOINT_URL`).
async fn aws_client(sources: &SourceArgs) -> aws_sdk_iam::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = &sources.aws_profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &sources.aws_region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(url) = &sources.aws_endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    let config = if config.region().is_some() {
        config
    } else {
        // IAM is global; the SDK still wants a region.
        config
            .into_builder()
            .region(aws_config::Region::new("us-east-1"))
            .build()
    };
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
    let http = http_client(sources.ca_bundle.as_deref())?;
    Ok(Some(AzureExecutor::new(
        http,
        &opts.graph_url,
        &opts.arm_url,
        auth,
    )))
}

/// reqwest with the bundled roots plus `--ca-bundle` and `SSL_CERT_FILE`.
fn http_client(ca_bundle: Option<&Path>) -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("lapse/", env!("CARGO_PKG_VERSION")));
    let env_bundle = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    for path in ca_bundle.into_iter().chain(env_bundle.as_deref()) {
        let pem = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{}", path.display()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder.build()?)
}
