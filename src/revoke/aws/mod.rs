//! Revoke, AWS: executes IAM actions. Idempotent: NoSuchEntity means already done. Access keys
//! are listed at apply time (the credential report carries no key ids), deactivated first and
//! deleted on a later run once `--grace` has passed since lapse deactivated them.

pub mod deny;
mod keys;
pub mod pin;

use std::collections::BTreeMap;

use aws_sdk_iam::Client;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::Mutex;

use super::action::{Action, IamKind};
use super::apply::{ActionError, Effect, ExecContext};
use crate::collect::aws::AwsSessions;
use crate::collect::aws::accounts::is_account_id;

/// Writes in each account through the session of that account only: the revoke role assumed
/// into it (the shared [`AwsSessions`] builder), confirmed by `sts:GetCallerIdentity` before the
/// first write there. An account whose session cannot be had, or lands elsewhere, has every
/// action refused; the verdict is kept for the run, so the account is asked once.
pub struct AwsExecutor {
    sessions: AwsSessions,
    verified: Mutex<BTreeMap<String, Result<Client, String>>>,
}

impl AwsExecutor {
    pub fn new(sessions: AwsSessions) -> Self {
        AwsExecutor {
            sessions,
            verified: Mutex::new(BTreeMap::new()),
        }
    }

    /// The IAM client of `account`, verified; an error refuses the account's actions.
    pub async fn client(&self, account: &str) -> Result<Client, ActionError> {
        let mut verified = self.verified.lock().await;
        if !verified.contains_key(account) {
            let verdict = if is_account_id(account) {
                self.sessions
                    .writer(account)
                    .await
                    .map(|session| session.iam())
                    .map_err(|failure| format!("{}: {}", failure.operation, failure.reason))
            } else {
                Err(format!("refused: `{account}` is not an AWS account id"))
            };
            verified.insert(account.to_string(), verdict);
        }
        match &verified[account] {
            Ok(client) => Ok(client.clone()),
            Err(reason) => Err(ActionError {
                permission: false,
                message: format!("account {account}: {reason}"),
            }),
        }
    }

    pub async fn run(
        &self,
        account: &str,
        action: &Action,
        ctx: &mut ExecContext<'_>,
    ) -> Result<Effect, ActionError> {
        let iam = &self.client(account).await?;
        let result = match action {
            Action::AwsDeactivateAccessKeys { user } => {
                return keys::deactivate(iam, user, ctx).await;
            }
            Action::AwsDeleteDeactivatedAccessKeys { user } => {
                return keys::delete(iam, user, ctx).await;
            }
            Action::AwsDeleteLoginProfile { user } => {
                call(iam.delete_login_profile().user_name(user).send()).await
            }
            Action::AwsDenyOlderSessions { role } => {
                let name = deny::deny_name(&ctx.run_id);
                let request = iam
                    .put_role_policy()
                    .role_name(role)
                    .policy_name(&name)
                    .policy_document(deny::deny_document(ctx.now).to_string());
                return settle(
                    call(request.send()).await,
                    || serde_json::json!({ "policy_name": name, "token_issued_before": ctx.now }),
                );
            }
            Action::AwsRemoveUserFromGroup { user, group } => {
                let request = iam
                    .remove_user_from_group()
                    .user_name(user)
                    .group_name(group);
                call(request.send()).await
            }
            Action::AwsDetachPolicy {
                principal,
                name,
                policy_arn,
            } => detach(iam, *principal, name, policy_arn).await,
            Action::AwsDeleteInlinePolicy {
                principal,
                name,
                policy_name,
            } => delete_inline(iam, *principal, name, policy_name).await,
            _ => return Err(not_mine(action)),
        };
        settle(result, || replaced_state(action))
    }
}

fn replaced_state(action: &Action) -> serde_json::Value {
    match action {
        Action::AwsDetachPolicy { policy_arn, .. } => {
            serde_json::json!({ "policy_arn_detached": policy_arn })
        }
        Action::AwsDeleteInlinePolicy { policy_name, .. } => {
            serde_json::json!({ "inline_policy_deleted": policy_name })
        }
        Action::AwsDeleteLoginProfile { .. } => {
            serde_json::json!({ "login_profile_deleted": true })
        }
        Action::AwsRemoveUserFromGroup { group, .. } => {
            serde_json::json!({ "removed_from_group": group })
        }
        _ => serde_json::Value::Null,
    }
}

pub(crate) enum Failure {
    Gone,
    Error(ActionError),
}

/// NoSuchEntity is `Gone`; AccessDenied (or a bare 401/403, as some IAM-compatible servers
/// answer) is a permission error; the message is the code and IAM's message, never a dump.
pub(crate) fn classify<E>(err: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = err.raw_response().map(|raw| raw.status().as_u16());
    let code = err.code().unwrap_or_default().to_string();
    if code == "NoSuchEntity" {
        return Failure::Gone;
    }
    let permission = matches!(
        code.as_str(),
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "InvalidClientTokenId"
    ) || matches!(status, Some(401 | 403));
    let mut message = crate::collect::aws::fetch::describe(&err);
    if code.is_empty()
        && let Some(status) = status
    {
        message = format!(
            "HTTP {status} ({})",
            if permission { "access denied" } else { "error" }
        );
    }
    Failure::Error(ActionError {
        permission,
        message,
    })
}

/// Awaits one IAM call whose output is not needed, only whether it happened.
pub(crate) async fn call<T, E>(
    request: impl std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<(), Failure>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    request.await.map(|_| ()).map_err(classify)
}

/// `None` when the entity is gone (already done); an error stops the action.
pub(crate) fn present<T>(result: Result<T, Failure>) -> Result<Option<T>, ActionError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Failure::Gone) => Ok(None),
        Err(Failure::Error(e)) => Err(e),
    }
}

fn settle(
    result: Result<(), Failure>,
    replaced: impl FnOnce() -> serde_json::Value,
) -> Result<Effect, ActionError> {
    Ok(match present(result)? {
        Some(()) => Effect::Done(replaced()),
        None => Effect::AlreadyGone,
    })
}

fn not_mine(action: &Action) -> ActionError {
    ActionError {
        permission: false,
        message: format!("not an AWS action: {}", action.describe()),
    }
}

async fn detach(iam: &Client, kind: IamKind, name: &str, arn: &str) -> Result<(), Failure> {
    match kind {
        IamKind::User => {
            let request = iam.detach_user_policy().user_name(name).policy_arn(arn);
            call(request.send()).await
        }
        IamKind::Role => {
            let request = iam.detach_role_policy().role_name(name).policy_arn(arn);
            call(request.send()).await
        }
        IamKind::Group => {
            let request = iam.detach_group_policy().group_name(name).policy_arn(arn);
            call(request.send()).await
        }
    }
}

async fn delete_inline(
    iam: &Client,
    kind: IamKind,
    name: &str,
    policy: &str,
) -> Result<(), Failure> {
    match kind {
        IamKind::User => {
            let request = iam.delete_user_policy().user_name(name).policy_name(policy);
            call(request.send()).await
        }
        IamKind::Role => {
            let request = iam.delete_role_policy().role_name(name).policy_name(policy);
            call(request.send()).await
        }
        IamKind::Group => {
            let request = iam
                .delete_group_policy()
                .group_name(name)
                .policy_name(policy);
            call(request.send()).await
        }
    }
}
