//! Revoke, actions: the provider API calls a plan is made of, their stable journal keys and
//! their human description (the exact operation and parameters).

use serde::{Deserialize, Serialize};

use crate::inventory::Provider;

/// An IAM principal kind that policies attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IamKind {
    User,
    Role,
    Group,
}

impl IamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IamKind::User => "User",
            IamKind::Role => "Role",
            IamKind::Group => "Group",
        }
    }
}

/// One provider API call (or a small fixed sequence for access keys). Every action is
/// idempotent: "already gone" (NoSuchEntity, 404) from a verified client counts as done
/// ("already absent"). Its journal key is [`super::ExpiredGrant::key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// ListAccessKeys, then UpdateAccessKey Status=Inactive on each active key.
    AwsDeactivateAccessKeys {
        user: String,
    },
    /// ListAccessKeys, then DeleteAccessKey on each key lapse deactivated at least `--grace`
    /// ago (the journal remembers when); younger ones wait for a later run.
    AwsDeleteDeactivatedAccessKeys {
        user: String,
    },
    AwsDeleteLoginProfile {
        user: String,
    },
    /// PutRolePolicy of an inline deny-all on `aws:TokenIssueTime` earlier than now, under a
    /// run-specific name (`LapseRevokeOlderSessions-<run>`, recorded in the journal).
    AwsDenyOlderSessions {
        role: String,
    },
    /// RemoveUserFromGroup: group policies are access too (reversible: AddUserToGroup).
    AwsRemoveUserFromGroup {
        user: String,
        group: String,
    },
    AwsDetachPolicy {
        principal: IamKind,
        name: String,
        policy_arn: String,
    },
    AwsDeleteInlinePolicy {
        principal: IamKind,
        name: String,
        policy_name: String,
    },
    GithubDeleteDeployKey {
        repo: String,
        key_id: u64,
    },
    GithubDeleteRepoSecret {
        repo: String,
        secret: String,
    },
    GithubDeleteOrgSecret {
        org: String,
        secret: String,
    },
    /// ARM DELETE on the role assignment id.
    AzureDeleteRoleAssignment {
        id: String,
    },
    /// Graph POST /{owner}/{object_id}/removePassword; `owner` is `applications` or
    /// `servicePrincipals`.
    AzureRemovePassword {
        owner: String,
        object_id: String,
        key_id: String,
    },
}

impl Action {
    pub fn provider(&self) -> Provider {
        match self {
            Action::AwsDeactivateAccessKeys { .. }
            | Action::AwsDeleteDeactivatedAccessKeys { .. }
            | Action::AwsDeleteLoginProfile { .. }
            | Action::AwsDenyOlderSessions { .. }
            | Action::AwsRemoveUserFromGroup { .. }
            | Action::AwsDetachPolicy { .. }
            | Action::AwsDeleteInlinePolicy { .. } => Provider::Aws,
            Action::GithubDeleteDeployKey { .. }
            | Action::GithubDeleteRepoSecret { .. }
            | Action::GithubDeleteOrgSecret { .. } => Provider::Github,
            Action::AzureDeleteRoleAssignment { .. } | Action::AzureRemovePassword { .. } => {
                Provider::Azure
            }
        }
    }

    /// The exact API operation and parameters, as printed in the plan.
    pub fn describe(&self) -> String {
        match self {
            Action::AwsDeactivateAccessKeys { user } => format!(
                "iam:ListAccessKeys UserName={user}; iam:UpdateAccessKey Status=Inactive on each active key"
            ),
            Action::AwsDeleteDeactivatedAccessKeys { user } => format!(
                "iam:DeleteAccessKey UserName={user} on each key lapse deactivated at least --grace ago"
            ),
            Action::AwsDeleteLoginProfile { user } => {
                format!("iam:DeleteLoginProfile UserName={user}")
            }
            Action::AwsDenyOlderSessions { role } => format!(
                "iam:PutRolePolicy RoleName={role} PolicyName={}-<run> (Deny * when aws:TokenIssueTime < revocation time)",
                super::aws::deny::DENY_PREFIX
            ),
            Action::AwsRemoveUserFromGroup { user, group } => {
                format!("iam:RemoveUserFromGroup UserName={user} GroupName={group}")
            }
            Action::AwsDetachPolicy {
                principal,
                name,
                policy_arn,
            } => format!(
                "iam:Detach{k}Policy {k}Name={name} PolicyArn={policy_arn}",
                k = principal.as_str()
            ),
            Action::AwsDeleteInlinePolicy {
                principal,
                name,
                policy_name,
            } => format!(
                "iam:Delete{k}Policy {k}Name={name} PolicyName={policy_name}",
                k = principal.as_str()
            ),
            Action::GithubDeleteDeployKey { repo, key_id } => {
                format!("DELETE /repos/{repo}/keys/{key_id}")
            }
            Action::GithubDeleteRepoSecret { repo, secret } => {
                format!("DELETE /repos/{repo}/actions/secrets/{secret}")
            }
            Action::GithubDeleteOrgSecret { org, secret } => {
                format!("DELETE /orgs/{org}/actions/secrets/{secret}")
            }
            Action::AzureDeleteRoleAssignment { id } => format!("DELETE {id} (ARM)"),
            Action::AzureRemovePassword {
                owner,
                object_id,
                key_id,
            } => format!("POST /v1.0/{owner}/{object_id}/removePassword keyId={key_id} (Graph)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_the_operation_and_target() {
        let a = Action::AwsDetachPolicy {
            principal: IamKind::Role,
            name: "ci".into(),
            policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        };
        let b = Action::AwsDetachPolicy {
            principal: IamKind::User,
            name: "ci".into(),
            policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        };
        assert_ne!(a, b);
        assert_eq!(
            a.describe(),
            "iam:DetachRolePolicy RoleName=ci PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"
        );
    }
}
