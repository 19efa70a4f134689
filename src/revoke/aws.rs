//! Revoke, AWS: executes IAM actions. Idempotent: NoSuchEntity means already done. Access keys
//! are listed at apply time (the credential report carries no key ids), deactivated first and
//! deleted on a later run once `--grace` has passed since lapse deactivated them.

use std::collections::BTreeMap;

use aws_sdk_iam::Client;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{AccessKeyMetadata, StatusType};

use super::DENY_OLDER_SESSIONS;
use super::action::{Action, IamKind};
use super::apply::{ActionError, Effect, ExecContext};
use crate::inventory::Timestamp;

/// IAM clients by account; `default` serves an account without its own client.
#[derive(Clone, Default)]
pub struct AwsExecutor {
    default: Option<Client>,
    by_account: BTreeMap<String, Client>,
}

impl AwsExecutor {
    pub fn new(client: Client) -> Self {
        AwsExecutor {
            default: Some(client),
            by_account: BTreeMap::new(),
        }
    }

    /// A client for one account (the role assumed into it with `--aws-role-arn`).
    pub fn with_account(mut self, account: impl Into<String>, client: Client) -> Self {
        self.by_account.insert(account.into(), client);
        self
    }

    fn client(&self, account: &str) -> Result<&Client, ActionError> {
        self.by_account
            .get(account)
            .or(self.default.as_ref())
            .ok_or_else(|| ActionError {
                permission: false,
                message: format!("no AWS client for account {account}"),
            })
    }

    pub async fn run(
        &self,
        account: &str,
        action: &Action,
        ctx: &ExecContext<'_>,
    ) -> Result<Effect, ActionError> {
        let iam = self.client(account)?;
        let result = match action {
            Action::AwsDeactivateAccessKeys { user } => {
                // After a crash mid-call, the keys found inactive are the ones that call
                // deactivated: claim them so their grace period is counted.
                return deactivate_keys(iam, user, ctx.resuming).await;
            }
            Action::AwsDeleteDeactivatedAccessKeys { user } => {
                return delete_keys(iam, user, ctx).await;
            }
            Action::AwsDeleteLoginProfile { user } => {
                call(iam.delete_login_profile().user_name(user).send()).await
            }
            Action::AwsDenyOlderSessions { role } => {
                let document = deny_older_sessions(ctx.now);
                let request = iam
                    .put_role_policy()
                    .role_name(role)
                    .policy_name(DENY_OLDER_SESSIONS)
                    .policy_document(document.to_string());
                return settle(call(request.send()).await, || {
                    serde_json::json!({
                        "policy_name": DENY_OLDER_SESSIONS,
                        "token_issued_before": ctx.now,
                    })
                });
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

/// The deny AWS's console writes for "Revoke active sessions", named for lapse.
pub fn deny_older_sessions(revoked_at: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {
                "DateLessThan": {
                    "aws:TokenIssueTime": revoked_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                }
            }
        }]
    })
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
        _ => serde_json::Value::Null,
    }
}

enum Failure {
    Gone,
    Error(ActionError),
}

fn classify<E, R>(err: SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().unwrap_or_default().to_string();
    if code == "NoSuchEntity" {
        return Failure::Gone;
    }
    let permission = matches!(
        code.as_str(),
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "InvalidClientTokenId"
    );
    Failure::Error(ActionError {
        permission,
        message: DisplayErrorContext(&err).to_string(),
    })
}

/// Awaits one IAM call whose output is not needed, only whether it happened.
async fn call<T, E, R>(
    request: impl std::future::Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<(), Failure>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    request.await.map(|_| ()).map_err(classify)
}

/// `None` when the entity is gone (already done); an error stops the action.
fn present<T>(result: Result<T, Failure>) -> Result<Option<T>, ActionError> {
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

async fn list_keys(iam: &Client, user: &str) -> Result<Vec<AccessKeyMetadata>, Failure> {
    // A user holds at most two keys: one page.
    let out = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .map_err(classify)?;
    Ok(out.access_key_metadata().to_vec())
}

async fn deactivate_keys(iam: &Client, user: &str, resuming: bool) -> Result<Effect, ActionError> {
    let Some(keys) = present(list_keys(iam, user).await)? else {
        return Ok(Effect::AlreadyGone);
    };
    let mut deactivated: Vec<String> = Vec::new();
    if resuming {
        deactivated.extend(
            keys.iter()
                .filter(|k| k.status() == Some(&StatusType::Inactive))
                .filter_map(|k| k.access_key_id().map(str::to_string)),
        );
    }
    for key in keys
        .iter()
        .filter(|k| k.status() == Some(&StatusType::Active))
    {
        let Some(id) = key.access_key_id() else {
            continue;
        };
        let request = iam
            .update_access_key()
            .user_name(user)
            .access_key_id(id)
            .status(StatusType::Inactive);
        // Gone: deleted meanwhile, which is more than deactivated.
        present(call(request.send()).await)?;
        deactivated.push(id.to_string());
    }
    Ok(Effect::Done(
        serde_json::json!({ "deactivated_keys": deactivated }),
    ))
}

/// Deletes the inactive keys lapse deactivated at least `grace` ago. A key lapse did not
/// deactivate (someone else did, or the journal was lost) is left alone.
async fn delete_keys(
    iam: &Client,
    user: &str,
    ctx: &ExecContext<'_>,
) -> Result<Effect, ActionError> {
    let Some(keys) = present(list_keys(iam, user).await)? else {
        return Ok(Effect::AlreadyGone);
    };
    let mut deleted = Vec::new();
    let mut waiting_until: Option<Timestamp> = None;
    for key in keys
        .iter()
        .filter(|k| k.status() == Some(&StatusType::Inactive))
    {
        let Some(id) = key.access_key_id() else {
            continue;
        };
        let Some(deactivated_at) = ctx.journal.deactivated_keys.get(id) else {
            continue;
        };
        let due = *deactivated_at + ctx.grace;
        if due > ctx.now {
            waiting_until = Some(waiting_until.map_or(due, |w| w.max(due)));
            continue;
        }
        let request = iam.delete_access_key().user_name(user).access_key_id(id);
        present(call(request.send()).await)?;
        deleted.push(id.to_string());
    }
    let replaced = serde_json::json!({ "deleted_keys": deleted });
    Ok(match waiting_until {
        Some(until) => Effect::Deferred { until, replaced },
        None => Effect::Done(replaced),
    })
}
