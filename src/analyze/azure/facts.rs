//! Analyze, Azure facts: the fields each Azure subject kind carries (`r.<field>` in rules).

use serde::Serialize;

use crate::analyze::Privilege;
use crate::analyze::expiry::ExpiryFacts;

/// `azure.client_secret`, `azure.client_certificate`: one credential on an application or a
/// service principal (metadata only).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CredentialFacts {
    pub name: String,
    pub key_id: String,
    pub tenant: String,
    /// `application` or `service_principal`: the object the credential is stored on.
    pub owner_kind: String,
    pub owner_id: String,
    pub owner_name: String,
    pub app_id: Option<String>,
    /// Not past its end date.
    pub active: bool,
    pub has_end_date: bool,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// Days from start to end; null without an end date.
    pub lifetime_days: Option<i64>,
    pub age_days: Option<i64>,
    /// Past its end date and still on the object.
    pub expired: bool,
    /// Whole days until the end date (negative once past); null without one.
    pub expires_in_days: Option<i64>,
}

/// `azure.application`, `azure.service_principal`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrincipalFacts {
    pub name: String,
    pub object_id: String,
    pub app_id: Option<String>,
    pub tenant: String,
    pub service_principal_type: Option<String>,
    /// Owned by Microsoft's tenant (a first-party service).
    pub microsoft_first_party: bool,
    pub owners: Vec<String>,
    pub owner_count: u32,
    /// Active secrets stored on this object.
    pub active_secret_count: u32,
    pub active_certificate_count: u32,
    pub expired_credential_count: u32,
    /// Active secrets on this object or its application / service principal counterpart:
    /// the secrets that can sign in as this identity.
    pub usable_secret_count: u32,
    pub federated_credential_count: u32,
    pub last_sign_in_at: Option<String>,
    /// The tenant's sign-in report was read.
    pub sign_in_known: bool,
    pub never_signed_in: bool,
    /// Days since the last sign-in; when it never signed in, the age of its newest usable
    /// secret (so a fresh secret gets its grace); null when unknown.
    pub idle_days: Option<i64>,
    pub privilege: Privilege,
    pub privilege_rank: u8,
    /// `Role on scope` of the active assignments.
    pub roles: Vec<String>,
}

/// `azure.federated_credential`: who outside the tenant may sign in as an application.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FederatedFacts {
    pub name: Option<String>,
    pub app_object_id: String,
    pub app_name: String,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    /// The subject, or the pattern of a flexible credential's `claims['sub'] matches '…'`.
    pub subject_pattern: Option<String>,
    pub audiences: Vec<String>,
    pub github: bool,
    /// A flexible federated credential (claims-matching expression).
    pub flexible: bool,
    /// The pattern has `*` or `?`.
    pub subject_wildcard: bool,
    /// GitHub `repo:o/r:pull_request`: any branch that opens a pull request.
    pub pull_request: bool,
    /// Admits more than one repository, branch or environment.
    pub admits_multiple: bool,
    /// `owner/repo` part of a GitHub subject (may hold wildcards).
    pub repository: Option<String>,
}

/// `azure.role_assignment`: an active role assignment or a PIM eligibility.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoleAssignmentFacts {
    pub role: String,
    pub role_definition_id: Option<String>,
    pub scope: String,
    /// `root | management_group | subscription | resource_group | resource`.
    pub scope_level: String,
    pub subscription: Option<String>,
    pub principal_id: String,
    pub principal_name: Option<String>,
    pub principal_type: Option<String>,
    /// `active` (a role assignment) or `eligible` (PIM: must be activated first).
    pub assignment: String,
    /// PIM `Assigned` or `Activated`, when PIM describes it.
    pub pim_assignment_type: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub privilege: Privilege,
    pub privilege_rank: u8,
    /// Active with no readable end: held permanently.
    pub standing: bool,
    #[serde(flatten)]
    pub expiry: ExpiryFacts,
}
