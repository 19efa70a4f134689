//! Collect, AWS: the wire shape of `GetAccountAuthorizationDetails` (what
//! `aws iam get-account-authorization-details --output json` prints), as public serde structs
//! the offline reader parses and the live collector fills from the SDK.
//!
//! Unknown fields are ignored (AWS adds some); required ones (names, ARNs) are errors naming
//! the file, line and field. Policy documents arrive URL-encoded from AWS and the SDK, and as
//! plain JSON objects from some tools: [`PolicyDocument`] accepts both.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::inventory::{Document, Timestamp};

/// One page, or several merged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuthorizationDetails {
    #[serde(default)]
    pub user_detail_list: Vec<UserDetail>,
    #[serde(default)]
    pub group_detail_list: Vec<GroupDetail>,
    #[serde(default)]
    pub role_detail_list: Vec<RoleDetail>,
    #[serde(default)]
    pub policies: Vec<ManagedPolicyDetail>,
    /// Not in GetAccountAuthorizationDetails: `aws iam list-access-keys` outputs given among
    /// the details files, or the keys a live scan listed for the users of leaked key ids.
    #[serde(skip)]
    pub access_keys: Vec<ListedAccessKey>,
}

impl AuthorizationDetails {
    /// Appends another page (call [`Self::dedup`] once after the last one).
    pub fn merge(&mut self, page: AuthorizationDetails) {
        self.user_detail_list.extend(page.user_detail_list);
        self.group_detail_list.extend(page.group_detail_list);
        self.role_detail_list.extend(page.role_detail_list);
        self.policies.extend(page.policies);
        self.access_keys.extend(page.access_keys);
    }

    /// Keeps one entity per ARN (overlapping exports), first seen wins. One pass.
    pub fn dedup(&mut self) {
        dedup_by_arn(&mut self.user_detail_list, |u| &u.arn);
        dedup_by_arn(&mut self.group_detail_list, |g| &g.arn);
        dedup_by_arn(&mut self.role_detail_list, |r| &r.arn);
        dedup_by_arn(&mut self.policies, |p| &p.arn);
    }

    /// Sets each role's MaxSessionDuration and Description from ListRoles, joined by ARN. A
    /// listed role the details lack is left out: the details are what is judged.
    pub fn apply_list_roles(&mut self, list: &ListRoles) {
        let by_arn: HashMap<&str, &ListedRole> =
            list.roles.iter().map(|r| (r.arn.as_str(), r)).collect();
        for role in &mut self.role_detail_list {
            let Some(listed) = by_arn.get(role.arn.as_str()) else {
                continue;
            };
            if listed.max_session_duration.is_some() {
                role.max_session_duration = listed.max_session_duration;
            }
            if listed.description.is_some() {
                role.description.clone_from(&listed.description);
            }
        }
    }
}

fn dedup_by_arn<T>(items: &mut Vec<T>, key: impl Fn(&T) -> &String) {
    let keep: Vec<bool> = {
        let mut seen = crate::hash::FastSet::default();
        seen.reserve(items.len());
        items
            .iter()
            .map(|item| seen.insert(key(item).as_str()))
            .collect()
    };
    let mut keep = keep.into_iter();
    items.retain(|_| keep.next().unwrap_or(true));
}

// UserDetail, GroupDetail and RoleDetail look alike because AWS's three types do; they stay
// three structs so each parses exactly its own wire shape. A missing `Option` field is `None`
// without `#[serde(default)]`; lists need it.

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserDetail {
    pub path: Option<String>,
    pub user_name: String,
    pub user_id: Option<String>,
    pub arn: String,
    pub create_date: Option<Timestamp>,
    #[serde(default)]
    pub user_policy_list: Vec<InlinePolicy>,
    #[serde(default)]
    pub group_list: Vec<String>,
    #[serde(default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
    pub permissions_boundary: Option<PermissionsBoundary>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDetail {
    pub path: Option<String>,
    pub group_name: String,
    pub group_id: Option<String>,
    pub arn: String,
    pub create_date: Option<Timestamp>,
    #[serde(default)]
    pub group_policy_list: Vec<InlinePolicy>,
    #[serde(default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleDetail {
    pub path: Option<String>,
    pub role_name: String,
    pub role_id: Option<String>,
    pub arn: String,
    pub create_date: Option<Timestamp>,
    pub assume_role_policy_document: Option<PolicyDocument>,
    #[serde(default)]
    pub role_policy_list: Vec<InlinePolicy>,
    #[serde(default)]
    pub attached_managed_policies: Vec<AttachedPolicy>,
    pub permissions_boundary: Option<PermissionsBoundary>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub role_last_used: Option<RoleLastUsed>,
    /// Not in GetAccountAuthorizationDetails, so never read from it: set from ListRoles by
    /// [`AuthorizationDetails::apply_list_roles`]; `None` when no ListRoles output covered it.
    #[serde(skip_deserializing)]
    pub max_session_duration: Option<i64>,
    /// From ListRoles, like `max_session_duration`.
    #[serde(skip_deserializing)]
    pub description: Option<String>,
}

/// One entry of `aws iam list-access-keys --output json` (`AccessKeyMetadata`). The id is
/// kept only to join: translation writes its digest and last four characters, never the id.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedAccessKey {
    pub user_name: String,
    pub access_key_id: String,
    /// `Active` or `Inactive`.
    pub status: Option<String>,
    pub create_date: Option<Timestamp>,
    /// What `iam:GetAccessKeyLastUsed` said (live only).
    #[serde(skip)]
    pub last_used: Option<KeyLastUsed>,
}

impl std::fmt::Debug for ListedAccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListedAccessKey")
            .field("user_name", &self.user_name)
            .field(
                "access_key_id",
                &format!(
                    "…{}",
                    crate::collect::repo::secrets::last_four(&self.access_key_id)
                ),
            )
            .field("status", &self.status)
            .field("create_date", &self.create_date)
            .field("last_used", &self.last_used)
            .finish()
    }
}

/// `iam:GetAccessKeyLastUsed`'s answer: `at` is `None` when the key was never used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyLastUsed {
    pub at: Option<Timestamp>,
    pub service: Option<String>,
    pub region: Option<String>,
}

/// What `aws iam list-roles --output json` prints (pages merged), reduced to what
/// GetAccountAuthorizationDetails leaves out. The live collector fills it from the SDK.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRoles {
    pub roles: Vec<ListedRole>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedRole {
    pub arn: String,
    pub max_session_duration: Option<i64>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleLastUsed {
    pub last_used_date: Option<Timestamp>,
    pub region: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicyDetail {
    /// moto sometimes omits it: derived from the ARN then.
    pub policy_name: Option<String>,
    pub policy_id: Option<String>,
    pub arn: String,
    pub path: Option<String>,
    pub default_version_id: Option<String>,
    pub attachment_count: Option<i64>,
    pub create_date: Option<Timestamp>,
    pub update_date: Option<Timestamp>,
    #[serde(default)]
    pub policy_version_list: Vec<PolicyVersion>,
}

impl ManagedPolicyDetail {
    /// `PolicyName`, or the last segment of the ARN (`arn:aws:iam::aws:policy/job/Name`).
    pub fn name(&self) -> &str {
        match &self.policy_name {
            Some(name) if !name.is_empty() => name,
            _ => self.arn.rsplit('/').next().unwrap_or(&self.arn),
        }
    }

    /// The version with `IsDefaultVersion`, else the one `DefaultVersionId` names.
    pub fn default_version(&self) -> Option<&PolicyVersion> {
        self.policy_version_list
            .iter()
            .find(|v| v.is_default_version)
            .or_else(|| {
                let id = self.default_version_id.as_deref()?;
                self.policy_version_list
                    .iter()
                    .find(|v| v.version_id.as_deref() == Some(id))
            })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    pub document: Option<PolicyDocument>,
    pub version_id: Option<String>,
    #[serde(default)]
    pub is_default_version: bool,
    pub create_date: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_name: String,
    pub policy_document: PolicyDocument,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    pub policy_name: Option<String>,
    pub policy_arn: String,
}

impl AttachedPolicy {
    pub fn name(&self) -> &str {
        match &self.policy_name {
            Some(name) if !name.is_empty() => name,
            _ => self
                .policy_arn
                .rsplit('/')
                .next()
                .unwrap_or(&self.policy_arn),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionsBoundary {
    pub permissions_boundary_type: Option<String>,
    pub permissions_boundary_arn: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// A decoded policy document. Deserializes from a JSON object, or from a string holding
/// URL-encoded (AWS, SDK) or plain JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct PolicyDocument(pub Document);

impl<'de> Deserialize<'de> for PolicyDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(text) => decode_policy_document(&text)
                .map(PolicyDocument)
                .map_err(serde::de::Error::custom),
            value @ serde_json::Value::Object(_) => Ok(PolicyDocument(Document::from(value))),
            _ => Err(serde::de::Error::custom(
                "policy document: expected a JSON object or an (URL-encoded) JSON string",
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("policy document is not JSON (after URL-decoding): {0}")]
pub struct PolicyDocumentError(String);

/// Decodes a policy document as AWS returns it (URL-encoded JSON) or as plain JSON text.
/// The document is checked, not parsed: analysis parses it when it judges it.
pub fn decode_policy_document(text: &str) -> Result<Document, PolicyDocumentError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{')
        && let Ok(document) = Document::from_text(trimmed)
    {
        return Ok(document);
    }
    let decoded = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_err(|e| PolicyDocumentError(e.to_string()))?;
    // Only the position is reported: the document itself may be long and is provider data.
    Document::from_text(decoded).map_err(|e| PolicyDocumentError(e.to_string()))
}

/// Account id of an ARN (`arn:aws:iam::123456789012:user/x` → `123456789012`).
pub fn account_of_arn(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_and_plain_documents() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        let value = decode_policy_document(encoded).unwrap().value();
        assert_eq!(value["Version"], "2012-10-17");
        let plain = decode_policy_document(r#" {"Version":"2012-10-17"}"#)
            .unwrap()
            .value();
        assert_eq!(plain["Version"], "2012-10-17");
        assert!(decode_policy_document("%7Bnot json").is_err());
    }

    #[test]
    fn policy_document_field_accepts_object_and_string() {
        let obj: InlinePolicy =
            serde_json::from_str(r#"{"PolicyName":"a","PolicyDocument":{"Statement":[]}}"#)
                .unwrap();
        let text: InlinePolicy = serde_json::from_str(
            r#"{"PolicyName":"a","PolicyDocument":"%7B%22Statement%22%3A%5B%5D%7D"}"#,
        )
        .unwrap();
        assert_eq!(obj.policy_document, text.policy_document);
        let bad = serde_json::from_str::<InlinePolicy>(r#"{"PolicyName":"a","PolicyDocument":5}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn policy_name_falls_back_to_arn() {
        let p: ManagedPolicyDetail = serde_json::from_str(
            r#"{"Arn":"arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"}"#,
        )
        .unwrap();
        assert_eq!(p.name(), "ViewOnlyAccess");
    }

    #[test]
    fn default_version_by_flag_or_id() {
        let p: ManagedPolicyDetail = serde_json::from_str(
            r#"{"Arn":"arn:x/p","DefaultVersionId":"v2","PolicyVersionList":[
                {"VersionId":"v1","Document":{"v":1}},{"VersionId":"v2","Document":{"v":2}}]}"#,
        )
        .unwrap();
        assert_eq!(
            p.default_version().unwrap().version_id.as_deref(),
            Some("v2")
        );
    }

    #[test]
    fn merge_keeps_first_of_duplicates() {
        let page = |name: &str| AuthorizationDetails {
            user_detail_list: vec![
                serde_json::from_str(&format!(
                    r#"{{"UserName":"{name}","Arn":"arn:aws:iam::1:user/u"}}"#
                ))
                .unwrap(),
            ],
            ..Default::default()
        };
        let mut all = page("first");
        all.merge(page("second"));
        assert_eq!(all.user_detail_list.len(), 2);
        all.dedup();
        assert_eq!(all.user_detail_list.len(), 1);
        assert_eq!(all.user_detail_list[0].user_name, "first");
    }

    #[test]
    fn list_roles_join_by_arn_and_are_not_read_from_details() {
        let mut details: AuthorizationDetails = serde_json::from_str(
            r#"{"RoleDetailList": [
                {"RoleName": "a", "Arn": "arn:aws:iam::1:role/a", "MaxSessionDuration": 7200},
                {"RoleName": "b", "Arn": "arn:aws:iam::1:role/b"}]}"#,
        )
        .unwrap();
        assert_eq!(details.role_detail_list[0].max_session_duration, None);
        let list: ListRoles = serde_json::from_str(
            r#"{"Roles": [{"RoleName": "a", "Arn": "arn:aws:iam::1:role/a",
                "MaxSessionDuration": 43200, "Description": "ci"}]}"#,
        )
        .unwrap();
        details.apply_list_roles(&list);
        let [a, b] = &details.role_detail_list[..] else {
            panic!("two roles");
        };
        assert_eq!(a.max_session_duration, Some(43200));
        assert_eq!(a.description.as_deref(), Some("ci"));
        assert_eq!(b.max_session_duration, None);
    }

    #[test]
    fn account_from_arn() {
        assert_eq!(
            account_of_arn("arn:aws:iam::123456789012:user/x"),
            Some("123456789012")
        );
        assert_eq!(account_of_arn("arn:aws:iam::aws:policy/X"), Some("aws"));
        assert_eq!(account_of_arn("nonsense"), None);
    }
}
