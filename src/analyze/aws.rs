//! Analyze, AWS: facts for IAM users, roles, access keys and the root account.
//!
//! Subject kinds and the facts each carries are listed on the structs below; rules in
//! `rules/` read them as `r.<field>`. Field names are a contract with the rule catalogue:
//! renaming one breaks rules, so add instead.

use serde::Serialize;

use super::{Analysis, AnalysisContext, Privilege};
use crate::inventory::Inventory;

mod build;

/// Privilege facts, shared by users and roles (flattened into their facts).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrivilegeFacts {
    /// `admin | write | read | none`, after explicit Denies in the same principal's policies.
    pub privilege: Privilege,
    /// 3 admin, 2 write, 1 read, 0 none (for `>=` comparisons in conditions).
    pub privilege_rank: u8,
    /// Allowed action patterns with a wildcard that reach write actions (`*`, `s3:*`, `iam:Put*`).
    pub wildcard_actions: Vec<String>,
    /// An Allow statement uses NotAction.
    pub not_action: bool,
    /// Some write action is allowed on `Resource: "*"`.
    pub write_on_any_resource: bool,
    /// Names of the policies that make this principal admin.
    pub admin_via: Vec<String>,
    /// Some Allow that raised the privilege carries a Condition (counted anyway: conservative).
    pub privilege_conditional: bool,
    /// ARN of the permissions boundary, if any. Not applied to `privilege`: a boundary caps
    /// what the grants allow, and lapse reports what is granted.
    pub permissions_boundary: Option<String>,
}

/// Expiry-marker facts (`lapse:expires-at` tag), shared by users and roles; provider-neutral,
/// so it lives in `analyze::expiry`.
pub use super::expiry::ExpiryFacts;

/// `aws.user`: an IAM user.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserFacts {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub path: String,
    pub age_days: Option<i64>,
    pub password_enabled: bool,
    pub mfa_active: bool,
    /// No console password: a machine identity.
    pub machine: bool,
    pub active_key_count: u32,
    pub oldest_active_key_age_days: Option<i64>,
    /// Days since the most recent use of its password or any key; null when unknown.
    pub idle_days: Option<i64>,
    pub groups: Vec<String>,
    #[serde(flatten)]
    pub privilege: PrivilegeFacts,
    #[serde(flatten)]
    pub expiry: ExpiryFacts,
}

/// `aws.role`: an IAM role.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoleFacts {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub path: String,
    pub age_days: Option<i64>,
    /// Path `/aws-service-role/`: owned by AWS, never judged for standing privilege.
    pub service_linked: bool,
    /// Under `/aws-reserved/sso.amazonaws.com/`: assumed by people through IAM Identity Center.
    pub sso_role: bool,
    /// Neither service-linked nor an SSO role.
    pub machine: bool,
    /// MaxSessionDuration; null when no ListRoles output said it.
    pub max_session_duration_secs: Option<i64>,
    pub last_used_at: Option<String>,
    /// Days since last use; null when never used or unknown.
    pub idle_days: Option<i64>,
    /// RoleLastUsed is empty.
    pub never_used: bool,
    /// Trust admits `*` with no condition.
    pub trust_any_principal: bool,
    /// Trust admits `*` but a condition narrows it.
    pub trust_any_principal_conditioned: bool,
    /// Other AWS accounts admitted.
    pub trust_accounts: Vec<String>,
    /// Other accounts admitted without an `sts:ExternalId` condition.
    pub trust_accounts_without_external_id: Vec<String>,
    pub trust_services: Vec<String>,
    pub trust_federated: Vec<String>,
    /// Trust admits GitHub Actions OIDC (`token.actions.githubusercontent.com`).
    pub github_oidc: bool,
    /// GitHub OIDC trust whose `sub` is missing or matches more than one repository.
    pub github_oidc_unbound: bool,
    /// The `sub` patterns admitted.
    pub github_subjects: Vec<String>,
    /// Repositories (`owner/name`, possibly with wildcards) those patterns admit.
    pub github_repos: Vec<String>,
    #[serde(flatten)]
    pub privilege: PrivilegeFacts,
    #[serde(flatten)]
    pub expiry: ExpiryFacts,
}

/// `aws.access_key`: one access-key slot of a user, from the credential report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccessKeyFacts {
    pub user: String,
    pub user_arn: String,
    pub account: String,
    /// 1 or 2.
    pub slot: u8,
    pub active: bool,
    /// Days since last rotation (creation of the key).
    pub age_days: Option<i64>,
    pub last_used_at: Option<String>,
    /// Days since last use; null when never used or unknown.
    pub idle_days: Option<i64>,
    pub never_used: bool,
    /// `used | never | unknown`.
    pub usage: String,
    pub last_used_service: Option<String>,
    pub user_machine: bool,
    pub user_provisional: bool,
    pub user_privilege: Privilege,
}

/// `aws.root`: the account's root user.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RootFacts {
    pub account: String,
    pub arn: String,
    pub active_key_count: u32,
    pub mfa_active: bool,
    pub password_enabled: bool,
    pub password_idle_days: Option<i64>,
}

/// Builds the AWS subjects and identities of an inventory (see `build` for the judgements:
/// exposure, windows, idle time).
pub fn analyze(inventory: &Inventory, ctx: &AnalysisContext) -> Analysis {
    build::analyze(inventory, ctx)
}
