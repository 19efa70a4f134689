//! Collect, GitHub: repository-level reads (Actions, environment and Dependabot secrets, deploy
//! keys, default workflow permissions, workflow files). A repository that answers 404 is one
//! coverage gap and nothing else.

use base64::Engine as _;
use serde_json::Value;

use super::api_gap;
use super::client::{Api, ApiError};
use super::translate::{self, SecretLevel, seg};
use crate::collect::repo::{workflow, workflow_principal};
use crate::inventory::{Inventory, Provider};

pub async fn collect(api: &Api, org: &str, name: &str, read_workflows: bool) -> Inventory {
    let full = format!("{org}/{name}");
    let base = format!("/repos/{}/{}", seg(org), seg(name));
    let mut inv = Inventory::new(chrono::Utc::now());

    // The first read doubles as the existence check.
    match api
        .list(
            "actions/list-repo-secrets",
            &format!("{base}/actions/secrets"),
            Some("secrets"),
        )
        .await
    {
        Ok(items) => {
            inv.principals.push(translate::repository(org, &full, None));
            inv.credentials.extend(items.iter().filter_map(|b| {
                translate::secret(org, "actions", SecretLevel::Repository(&full), b)
            }));
        }
        Err(err @ ApiError::NotFound { .. }) => {
            inv.coverage_gaps
                .push(api_gap(org, &format!("repository {full}"), &err));
            return inv;
        }
        Err(err) => {
            inv.principals.push(translate::repository(org, &full, None));
            inv.coverage_gaps
                .push(api_gap(org, &format!("actions secrets of {full}"), &err));
        }
    }

    match api
        .list(
            "dependabot/list-repo-secrets",
            &format!("{base}/dependabot/secrets"),
            Some("secrets"),
        )
        .await
    {
        Ok(items) => inv.credentials.extend(items.iter().filter_map(|b| {
            translate::secret(org, "dependabot", SecretLevel::Repository(&full), b)
        })),
        Err(err) => {
            inv.coverage_gaps
                .push(api_gap(org, &format!("dependabot secrets of {full}"), &err))
        }
    }

    environments(api, org, &full, &base, &mut inv).await;

    match api
        .list("repos/list-deploy-keys", &format!("{base}/keys"), None)
        .await
    {
        Ok(items) => inv.credentials.extend(
            items
                .iter()
                .filter_map(|b| translate::deploy_key(org, &full, b)),
        ),
        Err(err) => inv
            .coverage_gaps
            .push(api_gap(org, &format!("deploy keys of {full}"), &err)),
    }

    let op = "actions/get-github-actions-default-workflow-permissions-repository";
    match api
        .get(op, &format!("{base}/actions/permissions/workflow"))
        .await
    {
        Ok(body) => inv.grants.push(translate::workflow_permissions(
            &full,
            &translate::repo_id(&full),
            "repository",
            &body,
        )),
        Err(err) => inv.coverage_gaps.push(api_gap(
            org,
            &format!("default workflow permissions of {full}"),
            &err,
        )),
    }

    workflows(api, org, &full, &base, read_workflows, &mut inv).await;
    inv
}

async fn environments(api: &Api, org: &str, full: &str, base: &str, inv: &mut Inventory) {
    let envs = match api
        .list(
            "repos/get-all-environments",
            &format!("{base}/environments"),
            Some("environments"),
        )
        .await
    {
        Ok(envs) => envs,
        Err(err) => {
            inv.coverage_gaps
                .push(api_gap(org, &format!("environments of {full}"), &err));
            return;
        }
    };
    for env in envs
        .iter()
        .filter_map(|e| e.get("name").and_then(Value::as_str))
    {
        let path = format!("{base}/environments/{}/secrets", seg(env));
        match api
            .list("actions/list-environment-secrets", &path, Some("secrets"))
            .await
        {
            Ok(items) => inv.credentials.extend(items.iter().filter_map(|b| {
                translate::secret(org, "actions", SecretLevel::Environment(full, env), b)
            })),
            Err(err) => inv.coverage_gaps.push(api_gap(
                org,
                &format!("secrets of environment {env} in {full}"),
                &err,
            )),
        }
    }
}

async fn workflows(api: &Api, org: &str, full: &str, base: &str, read: bool, inv: &mut Inventory) {
    let list = match api
        .list(
            "actions/list-repo-workflows",
            &format!("{base}/actions/workflows"),
            Some("workflows"),
        )
        .await
    {
        Ok(list) => list,
        Err(err) => {
            inv.coverage_gaps
                .push(api_gap(org, &format!("workflows of {full}"), &err));
            return;
        }
    };
    let paths = list
        .iter()
        .filter_map(|w| w.get("path").and_then(Value::as_str));
    // Dynamic workflows (Dependabot, CodeQL default setup) have no file in the repository.
    for path in paths.filter(|p| crate::collect::repo::is_workflow(p)) {
        let doc = if read {
            let route = format!(
                "{base}/contents/{}",
                path.split('/').map(seg).collect::<Vec<_>>().join("/")
            );
            match api.get("repos/get-content", &route).await {
                Ok(body) => match decode_content(&body) {
                    Some(text) => workflow::read(path, &text),
                    None => {
                        inv.coverage_gaps.push(super::gap(
                            org,
                            &format!("workflow {path} of {full}"),
                            "content is not base64 text".into(),
                            Some(format!("GET {route}")),
                        ));
                        continue;
                    }
                },
                Err(err) => {
                    inv.coverage_gaps.push(api_gap(
                        org,
                        &format!("workflow {path} of {full}"),
                        &err,
                    ));
                    continue;
                }
            }
        } else {
            workflow::WorkflowDoc {
                path: path.to_string(),
                ..Default::default()
            }
        };
        // The same reader as a local checkout's: what it cannot judge is a gap naming the file.
        if let Some(reason) = &doc.unreadable {
            inv.coverage_gaps.push(super::gap(
                org,
                &format!("workflow {path} of {full}"),
                format!("could not read as a workflow: {reason}"),
                None,
            ));
        }
        inv.principals
            .push(workflow_principal(Provider::Github, full, &doc));
    }
}

/// The text of a `repos/get-content` file body (base64 with line breaks).
fn decode_content(body: &Value) -> Option<String> {
    let content: String = body
        .get("content")?
        .as_str()?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .ok()?;
    String::from_utf8(bytes).ok()
}
