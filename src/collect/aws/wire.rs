//! Collect, AWS live: turns SDK output into the JSON that `aws iam
//! get-account-authorization-details --output json` writes, so live and offline scans go through
//! the same parser and translation and cannot disagree.
//!
//! The SDK types do not implement `Serialize`, hence the field-by-field mapping; the result is
//! deserialized into [`super::details::AuthorizationDetails`], the offline reader's type.

use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::types::{
    AttachedPermissionsBoundary, AttachedPolicy, GroupDetail, ManagedPolicyDetail, PolicyDetail,
    PolicyVersion, RoleDetail, Tag, UserDetail,
};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value, json};

/// The four lists of GetAccountAuthorizationDetails, merged over every page.
#[derive(Debug, Default)]
pub struct DetailsDocument {
    pub users: Vec<Value>,
    pub groups: Vec<Value>,
    pub roles: Vec<Value>,
    pub policies: Vec<Value>,
}

impl DetailsDocument {
    pub fn add_page(&mut self, page: &GetAccountAuthorizationDetailsOutput) {
        self.users.extend(page.user_detail_list().iter().map(user));
        self.groups
            .extend(page.group_detail_list().iter().map(group));
        self.roles.extend(page.role_detail_list().iter().map(role));
        self.policies
            .extend(page.policies().iter().map(managed_policy));
    }

    /// One document in the CLI's shape (the CLI also merges pages into one output).
    pub fn into_json(self) -> Value {
        json!({
            "UserDetailList": self.users,
            "GroupDetailList": self.groups,
            "RoleDetailList": self.roles,
            "Policies": self.policies,
            "IsTruncated": false,
        })
    }
}

/// Drops absent fields, as the CLI does, so a missing value never reads as an empty one.
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    Value::Object(map)
}

fn text(value: Option<&str>) -> Option<Value> {
    value.map(|s| Value::String(s.to_string()))
}

pub fn timestamp(value: Option<&DateTime>) -> Option<Value> {
    value
        .and_then(|t| t.fmt(Format::DateTime).ok())
        .map(Value::String)
}

/// IAM sends policy documents URL-encoded; they are passed on as sent, and
/// [`super::details::PolicyDocument`] decodes them exactly as it does for a file.
fn policy_document(raw: Option<&str>) -> Option<Value> {
    text(raw)
}

fn list<T>(items: &[T], f: impl Fn(&T) -> Value) -> Option<Value> {
    Some(Value::Array(items.iter().map(f).collect()))
}

fn tag(t: &Tag) -> Value {
    json!({ "Key": t.key(), "Value": t.value() })
}

fn attached(p: &AttachedPolicy) -> Value {
    object(vec![
        ("PolicyName", text(p.policy_name())),
        ("PolicyArn", text(p.policy_arn())),
    ])
}

fn inline(p: &PolicyDetail) -> Value {
    object(vec![
        ("PolicyName", text(p.policy_name())),
        ("PolicyDocument", policy_document(p.policy_document())),
    ])
}

fn boundary(b: Option<&AttachedPermissionsBoundary>) -> Option<Value> {
    b.map(|b| {
        object(vec![
            (
                "PermissionsBoundaryType",
                text(b.permissions_boundary_type().map(|t| t.as_str())),
            ),
            ("PermissionsBoundaryArn", text(b.permissions_boundary_arn())),
        ])
    })
}

fn user(u: &UserDetail) -> Value {
    object(vec![
        ("Path", text(u.path())),
        ("UserName", text(u.user_name())),
        ("UserId", text(u.user_id())),
        ("Arn", text(u.arn())),
        ("CreateDate", timestamp(u.create_date())),
        ("UserPolicyList", list(u.user_policy_list(), inline)),
        ("GroupList", Some(Value::from(u.group_list().to_vec()))),
        (
            "AttachedManagedPolicies",
            list(u.attached_managed_policies(), attached),
        ),
        ("PermissionsBoundary", boundary(u.permissions_boundary())),
        ("Tags", list(u.tags(), tag)),
    ])
}

fn group(g: &GroupDetail) -> Value {
    object(vec![
        ("Path", text(g.path())),
        ("GroupName", text(g.group_name())),
        ("GroupId", text(g.group_id())),
        ("Arn", text(g.arn())),
        ("CreateDate", timestamp(g.create_date())),
        ("GroupPolicyList", list(g.group_policy_list(), inline)),
        (
            "AttachedManagedPolicies",
            list(g.attached_managed_policies(), attached),
        ),
    ])
}

fn role(r: &RoleDetail) -> Value {
    let last_used = r.role_last_used().map(|l| {
        object(vec![
            ("LastUsedDate", timestamp(l.last_used_date())),
            ("Region", text(l.region())),
        ])
    });
    object(vec![
        ("Path", text(r.path())),
        ("RoleName", text(r.role_name())),
        ("RoleId", text(r.role_id())),
        ("Arn", text(r.arn())),
        ("CreateDate", timestamp(r.create_date())),
        (
            "AssumeRolePolicyDocument",
            policy_document(r.assume_role_policy_document()),
        ),
        ("RolePolicyList", list(r.role_policy_list(), inline)),
        (
            "AttachedManagedPolicies",
            list(r.attached_managed_policies(), attached),
        ),
        ("PermissionsBoundary", boundary(r.permissions_boundary())),
        ("Tags", list(r.tags(), tag)),
        ("RoleLastUsed", last_used),
    ])
}

fn version(v: &PolicyVersion) -> Value {
    object(vec![
        ("Document", policy_document(v.document())),
        ("VersionId", text(v.version_id())),
        (
            "IsDefaultVersion",
            Some(Value::Bool(v.is_default_version())),
        ),
        ("CreateDate", timestamp(v.create_date())),
    ])
}

/// moto omits `PolicyName` here; the ARN's last segment is the name, so it is recovered from it
/// rather than left empty (real IAM always sends both, and then they agree).
fn managed_policy(p: &ManagedPolicyDetail) -> Value {
    let name = p.policy_name().map(str::to_string).or_else(|| {
        p.arn()
            .and_then(|a| a.rsplit('/').next())
            .map(str::to_string)
    });
    object(vec![
        ("PolicyName", name.map(Value::String)),
        ("PolicyId", text(p.policy_id())),
        ("Arn", text(p.arn())),
        ("Path", text(p.path())),
        ("DefaultVersionId", text(p.default_version_id())),
        ("AttachmentCount", p.attachment_count().map(Value::from)),
        (
            "PermissionsBoundaryUsageCount",
            p.permissions_boundary_usage_count().map(Value::from),
        ),
        ("IsAttachable", Some(Value::Bool(p.is_attachable()))),
        ("Description", text(p.description())),
        ("CreateDate", timestamp(p.create_date())),
        ("UpdateDate", timestamp(p.update_date())),
        ("PolicyVersionList", list(p.policy_version_list(), version)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_policy_name_is_taken_from_the_arn() {
        let p = ManagedPolicyDetail::builder()
            .arn("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess")
            .build();
        assert_eq!(managed_policy(&p)["PolicyName"], "ViewOnlyAccess");
        let u = UserDetail::builder().user_name("ci").build();
        let v = user(&u);
        assert_eq!(v["UserName"], "ci");
        assert!(v.get("PermissionsBoundary").is_none());
    }
}
