//! Revoke, Azure: deletes a role assignment (ARM) and removes an application or service
//! principal password (Graph `removePassword`). 404 means already gone; 401/403 are permission
//! errors.

use super::ExpiredGrant;
use super::action::Action;
use super::apply::{ActionError, Effect, Verdict};
use super::github::{segment, status_result};
use super::pin::{id_verdict, marker_verdict};
use crate::analyze::expiry::find_in_text;
use crate::collect::azure::{AzureOptions, Tokens};
use crate::render::terminal::clean;

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

/// Acts in one tenant (and, when the options name them, only those subscriptions): a grant
/// held elsewhere is refused before any request.
pub struct AzureExecutor {
    http: reqwest::Client,
    tenant: String,
    /// Empty: every subscription of the tenant.
    subscriptions: Vec<String>,
    /// Without the `/v1.0` suffix, like `--azure-graph-url`.
    graph_url: String,
    arm_url: String,
    auth: AzureAuth,
}

impl AzureExecutor {
    /// The executor of `lapse revoke`: the collector's options, token chain and HTTPS client.
    pub fn from_options(opts: &AzureOptions) -> Result<Self, crate::collect::azure::ApiError> {
        let http = crate::collect::azure::http_client(opts)?;
        let auth = AzureAuth::Chain {
            tokens: Tokens::from_environment(opts.credential, &opts.tenant),
            graph_scope: opts.graph_scope(),
            arm_scope: opts.arm_scope(),
        };
        let executor = AzureExecutor::new(http, &opts.graph_url, &opts.arm_url, auth);
        Ok(executor.in_tenant(&opts.tenant, &opts.subscriptions))
    }

    /// `tenant` is the only tenant written to (`subscriptions`, when not empty, the only
    /// subscriptions).
    pub fn new(http: reqwest::Client, graph_url: &str, arm_url: &str, auth: AzureAuth) -> Self {
        AzureExecutor {
            http,
            tenant: String::new(),
            subscriptions: Vec::new(),
            graph_url: graph_url.trim_end_matches('/').to_string(),
            arm_url: arm_url.trim_end_matches('/').to_string(),
            auth,
        }
    }

    pub fn in_tenant(mut self, tenant: &str, subscriptions: &[String]) -> Self {
        self.tenant = tenant.to_string();
        self.subscriptions = subscriptions.to_vec();
        self
    }

    /// Refuses, before any request, a grant of another tenant or of a subscription outside
    /// the options.
    fn check_scope(&self, grant: &ExpiredGrant, action: &Action) -> Result<(), ActionError> {
        let refused = |message: String| ActionError {
            permission: false,
            message: format!("refused: {message}"),
        };
        match grant.account.as_deref() {
            Some(tenant)
                if !self.tenant.is_empty() && tenant.eq_ignore_ascii_case(&self.tenant) => {}
            Some(tenant) => {
                return Err(refused(format!(
                    "the grant is in tenant {}, this run writes to tenant {}",
                    clean(tenant),
                    clean(&self.tenant)
                )));
            }
            None => return Err(refused("the grant's tenant is unknown".into())),
        }
        if let Action::AzureDeleteRoleAssignment { id } = action
            && !self.subscriptions.is_empty()
        {
            let subscription = subscription_of(id).unwrap_or_default();
            if !self
                .subscriptions
                .iter()
                .any(|s| s.eq_ignore_ascii_case(subscription))
            {
                return Err(refused(format!(
                    "subscription `{}` is not one this run was given",
                    clean(subscription)
                )));
            }
        }
        Ok(())
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

    /// Reads a role assignment again before deleting it (in the grant's own tenant only): gone
    /// is "already absent"; another principal behind the id, or a description marker changed
    /// since the plan, skips the grant.
    pub async fn check(&self, grant: &ExpiredGrant) -> Result<Verdict, ActionError> {
        let Some(action @ Action::AzureDeleteRoleAssignment { id }) = grant.actions.first() else {
            return Ok(Verdict::Proceed);
        };
        self.check_scope(grant, action)?;
        let url = format!(
            "{}{}?api-version={ROLE_ASSIGNMENTS_API}",
            self.arm_url,
            arm_path(id)?
        );
        let token = self.token(false).await?;
        let request_text = format!("GET {}", clean(id));
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| ActionError {
                permission: false,
                message: format!("{request_text}: {}", e.without_url()),
            })?;
        if !status_result(&request_text, response.status())? {
            return Ok(Verdict::Absent);
        }
        let body: serde_json::Value = response.json().await.map_err(|e| ActionError {
            permission: false,
            message: format!("{request_text}: not the expected JSON: {}", e.without_url()),
        })?;
        let properties = &body["properties"];
        let who = format!("role assignment {}", clean(id));
        if let Some(pinned) = grant.principal_unique_id.as_deref() {
            let current = properties["principalId"].as_str().unwrap_or_default();
            let verdict = id_verdict(&who, pinned, current);
            if verdict != Verdict::Proceed {
                return Ok(verdict);
            }
        }
        if grant.marker_source != "description" {
            return Ok(Verdict::Proceed);
        }
        let description = properties["description"].as_str().unwrap_or_default();
        Ok(marker_verdict(grant, &who, find_in_text(description)))
    }

    pub async fn run(&self, grant: &ExpiredGrant, action: &Action) -> Result<Effect, ActionError> {
        self.check_scope(grant, action)?;
        match action {
            Action::AzureDeleteRoleAssignment { id } => {
                let path = arm_path(id)?;
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
                    segment(owner)?,
                    segment(object_id)?
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

/// `/subscriptions/{id}/...` → `id`.
fn subscription_of(id: &str) -> Option<&str> {
    let mut segments = id.split('/').filter(|s| !s.is_empty());
    match (segments.next(), segments.next()) {
        (Some(head), Some(sub)) if head.eq_ignore_ascii_case("subscriptions") => Some(sub),
        _ => None,
    }
}

/// An ARM resource id as a URL path: `/` then segments, each validated and encoded.
fn arm_path(id: &str) -> Result<String, ActionError> {
    let Some(rest) = id.strip_prefix('/') else {
        return Err(ActionError {
            permission: false,
            message: format!("refused: `{}` is not an ARM resource id", clean(id)),
        });
    };
    let segments = rest
        .split('/')
        .map(segment)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!("/{}", segments.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_paths_are_encoded_and_dot_segments_refused() {
        let id = "/subscriptions/s1/resourceGroups/r g/providers/Microsoft.Authorization/roleAssignments/ra-1";
        assert_eq!(
            arm_path(id).unwrap(),
            "/subscriptions/s1/resourceGroups/r%20g/providers/Microsoft.Authorization/roleAssignments/ra-1"
        );
        for bad in [
            "/subscriptions/s1/../resourceGroups/x",
            "/subscriptions/s1/%2e%2e/x",
            "/subscriptions//x",
            "subscriptions/s1",
            "/subscriptions/s1/\nx",
        ] {
            assert!(arm_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(subscription_of("/subscriptions/s1/x"), Some("s1"));
        assert_eq!(subscription_of("/providers/x"), None);
    }
}
