//! Collect, AWS Organizations (live, `--aws-organizations-live`): the same calls as the offline
//! folder (`organizations`), through the SDK with the scan's base credentials, which must be
//! the management account's or a delegated administrator's. Read-only: `DescribeOrganization`
//! (the management account, which SCPs never restrict), `ListRoots`, then
//! `ListOrganizationalUnitsForParent` and `ListAccountsForParent` down the tree, `ListPolicies`
//! (`SERVICE_CONTROL_POLICY`), and `DescribePolicy` and `ListTargetsForPolicy` for each SCP, every
//! page counted in `scan.api_calls`. They fill the offline reader's model, so the SCP grants are
//! the same either way.
//!
//! Any failed call (not in an organization, access denied, throttled past the retry budget, a
//! page loop) keeps nothing and becomes one coverage gap: a half-read organization could leave
//! out the SCP that denies, and "no SCP" would then be silent.

use std::collections::VecDeque;

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::PolicyType;
use chrono::Utc;

use super::fetch::{CallFailure, Calls, count};
use super::organizations::Organization;
use crate::inventory::{CoverageGap, Inventory, SourceRun};

/// Name of this source in scan metadata and coverage gaps (as the offline reader's gaps).
pub const SOURCE: &str = "aws-organizations";
const WHAT: &str = "service control policies";
/// A NextToken loop (an endpoint that never stops) ends here, as a failure.
const MAX_PAGES: usize = 10_000;
/// Organizational units nest at most five deep under the root; more is a loop.
const MAX_DEPTH: usize = 8;

/// Reads the organization's SCPs; never fails: what could not be read is a coverage gap.
pub async fn collect(config: &aws_config::SdkConfig) -> Inventory {
    let started_at = Utc::now();
    let clock = std::time::Instant::now();
    let client = Client::new(config);
    let mut calls = Calls::new();
    let result = walk(&client, &mut calls).await;
    let mut inventory = match result {
        Ok(org) => org.into_inventory("the Organizations API", |id| {
            format!("DescribePolicy returned no document for {id}")
        }),
        Err(failure) => {
            tracing::warn!(operation = failure.operation, reason = %failure.reason, "AWS Organizations not read");
            let mut inventory = Inventory::new(started_at);
            inventory.coverage_gaps.push(CoverageGap {
                source: SOURCE.into(),
                scope: "organization".into(),
                what: WHAT.into(),
                reason: format!(
                    "{} (no SCP applied to any account: run from the management or a \
                     delegated-administrator account, or pass --aws-organizations DIR)",
                    failure.reason
                ),
                request: Some(failure.operation.to_string()),
            });
            inventory
        }
    };
    inventory.sources.push(SourceRun {
        source: SOURCE.into(),
        scope: "organization".into(),
        started_at,
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        api_calls: calls,
        attributes: Default::default(),
    });
    inventory
}

/// Pages of one listing: `page` gets the NextToken (`None` first) and returns the next one.
async fn pages(
    op: &'static str,
    calls: &mut Calls,
    mut page: impl AsyncFnMut(Option<String>) -> Result<Option<String>, CallFailure>,
) -> Result<(), CallFailure> {
    let mut token = None;
    for _ in 0..MAX_PAGES {
        count(calls, op);
        match page(token.take()).await? {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(()),
        }
    }
    Err(CallFailure::new(
        op,
        WHAT,
        format!("still paging after {MAX_PAGES} pages"),
    ))
}

fn ids<'a>(ids: impl Iterator<Item = Option<&'a str>>) -> Vec<String> {
    ids.flatten().map(str::to_string).collect()
}

async fn walk(client: &Client, calls: &mut Calls) -> Result<Organization, CallFailure> {
    let mut org = Organization::default();
    const ORGANIZATION: &str = "organizations:DescribeOrganization";
    count(calls, ORGANIZATION);
    let out = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| CallFailure::from_sdk(ORGANIZATION, WHAT, &e))?;
    org.management(
        out.organization()
            .and_then(|o| o.master_account_id())
            .map(str::to_string),
    );
    let mut parents: VecDeque<(String, usize)> = VecDeque::new();
    const ROOTS: &str = "organizations:ListRoots";
    pages(ROOTS, calls, async |token| {
        let out = client
            .list_roots()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(ROOTS, WHAT, &e))?;
        let roots = ids(out.roots().iter().map(|r| r.id()));
        parents.extend(roots.iter().map(|r| (r.clone(), 0)));
        org.roots(roots);
        Ok(out.next_token().map(str::to_string))
    })
    .await?;
    while let Some((parent, depth)) = parents.pop_front() {
        if depth > MAX_DEPTH {
            let reason =
                format!("organizational units nest deeper than {MAX_DEPTH} under {parent}");
            return Err(CallFailure::new(UNITS, WHAT, reason));
        }
        const UNITS: &str = "organizations:ListOrganizationalUnitsForParent";
        pages(UNITS, calls, async |token| {
            let out = client
                .list_organizational_units_for_parent()
                .parent_id(&parent)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| CallFailure::from_sdk(UNITS, WHAT, &e))?;
            let units = ids(out.organizational_units().iter().map(|u| u.id()));
            parents.extend(units.iter().map(|u| (u.clone(), depth + 1)));
            org.units(&parent, units);
            Ok(out.next_token().map(str::to_string))
        })
        .await?;
        const ACCOUNTS: &str = "organizations:ListAccountsForParent";
        pages(ACCOUNTS, calls, async |token| {
            let out = client
                .list_accounts_for_parent()
                .parent_id(&parent)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| CallFailure::from_sdk(ACCOUNTS, WHAT, &e))?;
            org.accounts(&parent, ids(out.accounts().iter().map(|a| a.id())));
            Ok(out.next_token().map(str::to_string))
        })
        .await?;
    }
    let mut policies = Vec::new();
    const POLICIES: &str = "organizations:ListPolicies";
    pages(POLICIES, calls, async |token| {
        let out = client
            .list_policies()
            .filter(PolicyType::ServiceControlPolicy)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(POLICIES, WHAT, &e))?;
        for policy in out.policies() {
            if let Some(id) = policy.id() {
                org.name(id.to_string(), policy.name().map(str::to_string));
                policies.push(id.to_string());
            }
        }
        Ok(out.next_token().map(str::to_string))
    })
    .await?;
    for policy in &policies {
        const DESCRIBE: &str = "organizations:DescribePolicy";
        count(calls, DESCRIBE);
        let out = client
            .describe_policy()
            .policy_id(policy)
            .send()
            .await
            .map_err(|e| CallFailure::from_sdk(DESCRIBE, WHAT, &e))?;
        if let Some(content) = out.policy().and_then(|p| p.content()) {
            let name = out
                .policy()
                .and_then(|p| p.policy_summary())
                .and_then(|s| s.name())
                .map(str::to_string);
            org.document(policy.clone(), name, content.to_string())
                .map_err(|reason| {
                    CallFailure::new(DESCRIBE, WHAT, format!("{policy}: {reason}"))
                })?;
        }
        const TARGETS: &str = "organizations:ListTargetsForPolicy";
        pages(TARGETS, calls, async |token| {
            let out = client
                .list_targets_for_policy()
                .policy_id(policy)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| CallFailure::from_sdk(TARGETS, WHAT, &e))?;
            org.targets(policy, ids(out.targets().iter().map(|t| t.target_id())));
            Ok(out.next_token().map(str::to_string))
        })
        .await?;
    }
    Ok(org)
}
