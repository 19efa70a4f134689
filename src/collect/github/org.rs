//! Collect, GitHub: organization-level reads (secrets, PAT grants, SAML authorizations, App
//! installations, default workflow permissions, the repository list).

use serde_json::Value;

use super::api_gap;
use super::client::{Api, ApiError};
use super::translate::{self, SecretLevel, seg};
use crate::inventory::Inventory;

pub async fn collect(api: &Api, org: &str, inventory: &mut Inventory) {
    let o = seg(org);
    inventory.principals.push(translate::organization(org));

    for (store, op) in [
        ("actions", "actions/list-org-secrets"),
        ("dependabot", "dependabot/list-org-secrets"),
    ] {
        match api
            .list(op, &format!("/orgs/{o}/{store}/secrets"), Some("secrets"))
            .await
        {
            Ok(items) => inventory.credentials.extend(
                items
                    .iter()
                    .filter_map(|b| translate::secret(org, store, SecretLevel::Organization, b)),
            ),
            Err(err) => inventory.coverage_gaps.push(api_gap(
                org,
                &format!("organization {store} secrets"),
                &err,
            )),
        }
    }

    match api
        .list(
            "orgs/list-pat-grants",
            &format!("/orgs/{o}/personal-access-tokens"),
            None,
        )
        .await
    {
        Ok(items) => inventory
            .credentials
            .extend(items.iter().filter_map(|b| translate::pat_grant(org, b))),
        Err(err) => {
            let mut gap = api_gap(org, "fine-grained personal access tokens", &err);
            if matches!(err, ApiError::Denied { .. } | ApiError::NotFound { .. }) {
                gap.reason.push_str(
                    " (listing an org's fine-grained PATs needs a GitHub App installation token with \
                     `organization_personal_access_tokens: read`)",
                );
            }
            inventory.coverage_gaps.push(gap);
        }
    }

    match api
        .list(
            "orgs/list-saml-sso-authorizations",
            &format!("/orgs/{o}/credential-authorizations"),
            None,
        )
        .await
    {
        Ok(items) => inventory.credentials.extend(
            items
                .iter()
                .filter_map(|b| translate::credential_authorization(org, b)),
        ),
        // An org without SAML single sign-on has no authorizations to list.
        Err(ApiError::NotFound { .. }) => {}
        Err(err) => {
            inventory
                .coverage_gaps
                .push(api_gap(org, "SAML credential authorizations", &err))
        }
    }

    match api
        .list(
            "orgs/list-app-installations",
            &format!("/orgs/{o}/installations"),
            Some("installations"),
        )
        .await
    {
        Ok(items) => {
            for (principal, grant) in items.iter().filter_map(|b| translate::installation(org, b)) {
                inventory.principals.push(principal);
                inventory.grants.push(grant);
            }
        }
        Err(err) => inventory
            .coverage_gaps
            .push(api_gap(org, "GitHub App installations", &err)),
    }

    let op = "actions/get-github-actions-default-workflow-permissions-organization";
    match api
        .get(op, &format!("/orgs/{o}/actions/permissions/workflow"))
        .await
    {
        Ok(body) => inventory.grants.push(translate::workflow_permissions(
            org,
            &translate::org_id(org),
            "organization",
            &body,
        )),
        Err(err) => {
            inventory
                .coverage_gaps
                .push(api_gap(org, "default workflow permissions", &err))
        }
    }
}

/// Names of every repository of the org.
pub async fn list_repos(api: &Api, org: &str) -> Result<Vec<String>, ApiError> {
    let items = api
        .list(
            "repos/list-for-org",
            &format!("/orgs/{}/repos", seg(org)),
            None,
        )
        .await?;
    Ok(items
        .iter()
        .filter_map(|r| r.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect())
}
