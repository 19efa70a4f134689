//! Analyze, AWS: facts for IAM users, roles, access keys and the root account.
//!
//! Subject kinds and the facts each carries are listed on the structs below; rules in
//! `rules/` read them as `r.<field>`. Field names are a contract with the rule catalogue:
//! renaming one breaks rules, so add instead.

use serde::Serialize;

use super::{Analysis, AnalysisContext, Privilege};
use crate::inventory::Inventory;

mod build;
pub mod catalogue;
mod chains;
pub(crate) mod condition;
mod effective;
mod escalation;
pub mod evidence;

/// Privilege facts, shared by users and roles (flattened into their facts).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrivilegeFacts {
    /// `admin | write | read | none`: what the principal's own policies grant, after explicit
    /// Denies, within its permission boundary and its account's SCPs; `admin` also when an
    /// escalation path on itself (its own policies, groups or user) makes it admin.
    pub privilege: Privilege,
    /// 3 admin, 2 write, 1 read, 0 none (for `>=` comparisons in conditions).
    pub privilege_rank: u8,
    /// Allowed action patterns with a wildcard that reach write actions (`*`, `s3:*`, `iam:Put*`).
    pub wildcard_actions: Vec<String>,
    /// An Allow statement uses NotAction.
    pub not_action: bool,
    /// Some write action is allowed on every resource (`*`, `arn:*`, NotResource).
    pub write_on_any_resource: bool,
    /// Names of the policies that make this principal admin by `*` on everything.
    pub admin_via: Vec<String>,
    /// Some Allow that raised the privilege carries a condition lapse cannot decide.
    pub privilege_conditional: bool,
    /// ARN of the permissions boundary, if any (applied to every level below).
    pub permissions_boundary: Option<String>,
    /// The highest privilege reachable through escalation paths and assume-role chains,
    /// counting only unconditional steps.
    pub effective_privilege: Privilege,
    pub effective_privilege_rank: u8,
    /// The same, counting conditional steps too (at least `effective_privilege`).
    pub effective_privilege_conditional: Privilege,
    /// Escalation paths it can take that lead somewhere: `id: title (actions)`.
    pub escalation_paths: Vec<String>,
    /// Conditions (quoted) of the conditional statements its paths rely on.
    pub escalation_conditions: Vec<String>,
    /// One witness chain to `effective_privilege` (or to the conditional level when higher),
    /// hop by hop: `from → to via path (actions)`.
    pub chain: Vec<String>,
    /// What a permissions boundary or SCP took away (levels and paths).
    pub reduced_by: Vec<String>,
    /// Actions allowed on every resource that hand over another identity's secret or session.
    pub credential_exposure: Vec<String>,
    /// The level unconditional statements alone grant (for the chains; not a fact).
    #[serde(skip)]
    pub strict: Privilege,
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
    /// Last four characters of the key id, when ListAccessKeys (live or offline) named it.
    pub key_hint: Option<String>,
    /// Its id was found in a scanned repository (set by `analyze::leaks`).
    pub leaked: bool,
    /// Where: `owner/name/path:line`, with the commit for one only in history.
    pub leaked_in: Vec<String>,
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

#[cfg(test)]
mod catalogue_tests;
#[cfg(test)]
mod tests;
