//! Revoke, Azure: deletes a role assignment (ARM) and removes an application or service
//! principal password (Graph `removePassword`). 404 means already gone; 401/403 are permission
//! errors.

use super::action::Action;
use super::apply::{ActionError, Effect};
use super::github::{segment, status_result};
use crate::collect::azure::Tokens;

/// ARM API version for role assignments.
const ROLE_ASSIGNMENTS_API: &str = "2022-04-01";

/// Where bearer tokens come from: the collector's credential chain, or fixed tokens (tests,
/// or a caller that already holds them). Never printed.
pub enum AzureAuth {
    Chain {
        tokens: Tokens,
        graph_scope: String,
        arm_scope: String,
    },
    Fixed {
        graph: String,
        arm: String,
    },
}

pub struct AzureExecutor {
    http: reqwest::Client,
    /// Without the `/v1.0` suffix, like `--azure-graph-url`.
    graph_url: String,
    arm_url: String,
    auth: AzureAuth,
}

impl AzureExecutor {
    pub fn new(http: reqwest::Client, graph_url: &str, arm_url: &str, auth: AzureAuth) -> Self {
        AzureExecutor {
            http,
            graph_url: graph_url.trim_end_matches('/').to_string(),
            arm_url: arm_url.trim_end_matches('/').to_string(),
            auth,
        }
    }

    async fn token(&self, graph: bool) -> Result<String, ActionError> {
        let failed = |message: String| ActionError {
            permission: false,
            message: format!("Azure token: {message}"),
        };
        match &self.auth {
            AzureAuth::Fixed { graph: g, arm } => Ok(if graph { g.clone() } else { arm.clone() }),
            AzureAuth::Chain {
                tokens,
                graph_scope,
                arm_scope,
            } => {
                let scope = if graph { graph_scope } else { arm_scope };
                tokens.token(scope).await.map_err(failed)
            }
        }
    }

    pub async fn run(&self, action: &Action) -> Result<Effect, ActionError> {
        match action {
            Action::AzureDeleteRoleAssignment { id } => {
                let path = id.split('/').map(segment).collect::<Vec<_>>().join("/");
                let url = format!("{}{path}?api-version={ROLE_ASSIGNMENTS_API}", self.arm_url);
                let token = self.token(false).await?;
                let request = self.http.delete(url).bearer_auth(token);
                let replaced = serde_json::json!({ "role_assignment_deleted": id });
                self.send(format!("DELETE {id}"), request, replaced).await
            }
            Action::AzureRemovePassword {
                owner,
                object_id,
                key_id,
            } => {
                let path = format!(
                    "/v1.0/{}/{}/removePassword",
                    segment(owner),
                    segment(object_id)
                );
                let token = self.token(true).await?;
                let request = self
                    .http
                    .post(format!("{}{path}", self.graph_url))
                    .bearer_auth(token)
                    .json(&serde_json::json!({ "keyId": key_id }));
                let replaced =
                    serde_json::json!({ "password_removed": key_id, "owner": object_id });
                self.send(format!("POST {path}"), request, replaced).await
            }
            _ => Err(ActionError {
                permission: false,
                message: format!("not an Azure action: {}", action.describe()),
            }),
        }
    }

    async fn send(
        &self,
        request_text: String,
        request: reqwest::RequestBuilder,
        replaced: serde_json::Value,
    ) -> Result<Effect, ActionError> {
        let response = request.send().await.map_err(|e| ActionError {
            permission: false,
            message: format!("{request_text}: {}", e.without_url()),
        })?;
        // Graph answers removePassword of an unknown keyId with 400 "No password credential
        // found": the password is already gone.
        let status = response.status();
        if status == reqwest::StatusCode::BAD_REQUEST && request_text.ends_with("removePassword") {
            let body = response.text().await.unwrap_or_default();
            if body.contains("No password credential found") {
                return Ok(Effect::AlreadyGone);
            }
            return Err(ActionError {
                permission: false,
                message: format!("{request_text}: HTTP {status}"),
            });
        }
        if status_result(&request_text, status)? {
            Ok(Effect::Done(replaced))
        } else {
            Ok(Effect::AlreadyGone)
        }
    }
}
