//! Grant, AWS: reads what the principal is and holds (its unique id, the policy already
//! attached or the inline policy of that name, the granted document's privilege and the
//! principal's effective privilege with it, `privilege`), and provisions the grant. The client
//! comes from revoke's writer session, already confirmed to be in the principal's account.

use aws_sdk_iam::Client;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::{Granted, Inspection, Refused, Request};
use crate::analyze::policy::CompiledPolicy;
use crate::revoke::action::IamKind;

/// A provider error, its message with the SDK's context.
fn message<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DisplayErrorContext(err).to_string()
}

fn no_such_entity<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("NoSuchEntity")
}

/// Reads the principal and what it holds. A principal that does not exist is refused.
pub async fn inspect(iam: &Client, request: &Request) -> Result<Inspection, Refused> {
    let missing = || Refused(format!("{} does not exist", request.principal_arn));
    let name = request.name.as_str();
    let (unique_id, arn) = match request.kind {
        IamKind::Role => match iam.get_role().role_name(name).send().await {
            Ok(out) => out
                .role()
                .map(|r| (r.role_id().to_string(), r.arn().to_string())),
            Err(e) if no_such_entity(&e) => return Err(missing()),
            Err(e) => return Err(Refused(format!("iam:GetRole: {}", message(&e)))),
        },
        _ => match iam.get_user().user_name(name).send().await {
            Ok(out) => out
                .user()
                .map(|u| (u.user_id().to_string(), u.arn().to_string())),
            Err(e) if no_such_entity(&e) => return Err(missing()),
            Err(e) => return Err(Refused(format!("iam:GetUser: {}", message(&e)))),
        },
    }
    .filter(|(id, _)| !id.is_empty())
    .ok_or_else(missing)?;
    // The ARN names a path too: the principal found by name must be the one the ARN names.
    if arn != request.principal_arn {
        return Err(Refused(format!(
            "{} does not exist (the {} of that name is {arn})",
            request.principal_arn,
            request.kind.as_str().to_lowercase()
        )));
    }
    let (held, document) = match &request.granted {
        Granted::PolicyAttachment { policy_arn } => (
            attached(iam, request)
                .await?
                .iter()
                .any(|a| a == policy_arn),
            managed_document(iam, policy_arn).await?,
        ),
        Granted::InlinePolicy {
            policy_name,
            document,
        } => (
            inline_exists(iam, request, policy_name).await?,
            serde_json::from_str(document).map_err(|e| Refused(e.to_string()))?,
        ),
    };
    let (_, target) = request.granted.ledger_kind_target();
    let privilege = CompiledPolicy::compile(target, &document)
        .verdict()
        .privilege;
    let combined = super::privilege::judge(iam, request, &document, request.common.now).await?;
    Ok(Inspection {
        unique_id,
        held,
        privilege,
        combined,
    })
}

/// One page of `iam:ListAttached{Role,User}Policies`: the ARNs and the next marker.
macro_rules! attached_page {
    ($request:expr, $name:ident, $op:literal, $principal:expr, $marker:expr) => {{
        let out = $request
            .$name($principal)
            .set_marker($marker)
            .send()
            .await
            .map_err(|e| Refused(format!("iam:{}: {}", $op, message(&e))))?;
        let arns: Vec<String> = out
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect();
        (arns, out.is_truncated.then(|| out.marker.clone()).flatten())
    }};
}

async fn attached(iam: &Client, request: &Request) -> Result<Vec<String>, Refused> {
    let mut arns = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let name = &request.name;
        let (page, next) = match request.kind {
            IamKind::Role => attached_page!(
                iam.list_attached_role_policies(),
                role_name,
                "ListAttachedRolePolicies",
                name,
                marker.clone()
            ),
            _ => attached_page!(
                iam.list_attached_user_policies(),
                user_name,
                "ListAttachedUserPolicies",
                name,
                marker.clone()
            ),
        };
        arns.extend(page);
        match next {
            Some(next) => marker = Some(next),
            None => return Ok(arns),
        }
    }
}

async fn inline_exists(iam: &Client, request: &Request, policy: &str) -> Result<bool, Refused> {
    let result = match request.kind {
        IamKind::Role => iam
            .get_role_policy()
            .role_name(&request.name)
            .policy_name(policy)
            .send()
            .await
            .map(drop)
            .map_err(|e| (no_such_entity(&e), message(&e))),
        _ => iam
            .get_user_policy()
            .user_name(&request.name)
            .policy_name(policy)
            .send()
            .await
            .map(drop)
            .map_err(|e| (no_such_entity(&e), message(&e))),
    };
    match result {
        Ok(()) => Ok(true),
        Err((true, _)) => Ok(false),
        Err((false, e)) => Err(Refused(format!("reading inline policy {policy}: {e}"))),
    }
}

/// The default version's document of a managed policy (URL-encoded JSON on the wire).
async fn managed_document(iam: &Client, arn: &str) -> Result<serde_json::Value, Refused> {
    let policy = iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| Refused(format!("iam:GetPolicy {arn}: {}", message(&e))))?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .ok_or_else(|| Refused(format!("{arn} has no default version")))?;
    let out = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| Refused(format!("iam:GetPolicyVersion {arn}: {}", message(&e))))?;
    let text = out
        .policy_version()
        .and_then(|v| v.document())
        .ok_or_else(|| Refused(format!("{arn} has no document")))?;
    crate::collect::aws::details::decode_policy_document(text)
        .map(|d| d.value())
        .map_err(|e| Refused(format!("{arn}: {e}")))
}

/// Provisions the grant. The error is the provider's message.
pub async fn provision(iam: &Client, request: &Request) -> Result<(), String> {
    let name = request.name.as_str();
    match (&request.granted, request.kind) {
        (Granted::PolicyAttachment { policy_arn }, IamKind::Role) => iam
            .attach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| message(&e)),
        (Granted::PolicyAttachment { policy_arn }, _) => iam
            .attach_user_policy()
            .user_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map(drop)
            .map_err(|e| message(&e)),
        (
            Granted::InlinePolicy {
                policy_name,
                document,
            },
            IamKind::Role,
        ) => iam
            .put_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map(drop)
            .map_err(|e| message(&e)),
        (
            Granted::InlinePolicy {
                policy_name,
                document,
            },
            _,
        ) => iam
            .put_user_policy()
            .user_name(name)
            .policy_name(policy_name)
            .policy_document(document)
            .send()
            .await
            .map(drop)
            .map_err(|e| message(&e)),
    }
}
