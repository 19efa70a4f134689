//! Grant, privilege: what the principal could do *after* the grant, judged by the same
//! effective-privilege analysis a scan runs (`analyze::aws`: identity policies, groups,
//! boundaries, the escalation catalogue and assume-role chains). The principal's account is read
//! with `iam:GetAccountAuthorizationDetails` (what a live scan reads), the granted policy is
//! added to the principal in that picture, and both pictures are analysed: a policy harmless on
//! its own (`ec2:RunInstances`) is admin next to an `iam:PassRole` the principal already holds.
//!
//! A principal that is already admin stays admin after any grant: that is refused too unless
//! `--allow-admin`, and the refusal says it was so before.

use serde_json::{Value, json};

use super::{Granted, Refused, Request};
use crate::analyze::{AnalysisContext, Privilege};
use crate::collect::aws::AuthorizationDetails;
use crate::inventory::{SourceRun, Timestamp};
use crate::revoke::action::IamKind;

/// The principal's effective privilege before and after the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub before: Privilege,
    /// Counting conditional steps too (`effective_privilege_conditional`): a refusal errs on
    /// the side of caution, `--allow-admin` overrides it.
    pub after: Privilege,
    /// Why `after` is what it is: the escalation paths and the chain the analysis names.
    pub evidence: Vec<String>,
}

/// Reads the account's authorization details and judges the principal with and without the
/// grant. `document` is the granted policy's document (managed: its default version).
pub async fn judge(
    iam: &aws_sdk_iam::Client,
    request: &Request,
    document: &Value,
    now: Timestamp,
) -> Result<Judgement, Refused> {
    let mut calls = crate::collect::aws::fetch::Calls::new();
    let details = crate::collect::aws::fetch::authorization_details(iam, &mut calls, &|_| {})
        .await
        .map_err(|f| Refused(format!("{}: {}", f.operation, f.reason)))?;
    judge_details(details, request, document, now)
}

/// The judgement on authorization details already read (the CLI's JSON shape).
pub fn judge_details(
    details: Value,
    request: &Request,
    document: &Value,
    now: Timestamp,
) -> Result<Judgement, Refused> {
    let granted = with_grant(details.clone(), request, document)?;
    let (before, _) = analyse(details, request, now)?;
    let (after, evidence) = analyse(granted, request, now)?;
    Ok(Judgement {
        before,
        after,
        evidence,
    })
}

/// The details with the grant added to the principal.
fn with_grant(mut details: Value, request: &Request, document: &Value) -> Result<Value, Refused> {
    let (list, inline_key) = match request.kind {
        IamKind::Role => ("RoleDetailList", "RolePolicyList"),
        _ => ("UserDetailList", "UserPolicyList"),
    };
    let principal = details
        .get_mut(list)
        .and_then(Value::as_array_mut)
        .and_then(|l| {
            l.iter_mut()
                .find(|e| e.get("Arn").and_then(Value::as_str) == Some(&request.principal_arn))
        })
        .ok_or_else(|| {
            Refused(format!(
                "{} is not in iam:GetAccountAuthorizationDetails: its privilege after the grant \
                 cannot be judged",
                request.principal_arn
            ))
        })?;
    match &request.granted {
        Granted::PolicyAttachment { policy_arn } => {
            let name = policy_arn.rsplit('/').next().unwrap_or(policy_arn);
            push_unique(
                principal,
                "AttachedManagedPolicies",
                "PolicyArn",
                json!({ "PolicyName": name, "PolicyArn": policy_arn }),
            );
            // GetAccountAuthorizationDetails lists AWS managed policies only when attached
            // somewhere: the document read with GetPolicyVersion stands in for it.
            push_unique(
                &mut details,
                "Policies",
                "Arn",
                json!({
                    "PolicyName": name,
                    "Arn": policy_arn,
                    "DefaultVersionId": "v1",
                    "PolicyVersionList": [
                        { "Document": document, "VersionId": "v1", "IsDefaultVersion": true }
                    ],
                }),
            );
        }
        Granted::InlinePolicy { policy_name, .. } => {
            let list = principal
                .as_object_mut()
                .map(|o| o.entry(inline_key).or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = list {
                list.retain(|p| p.get("PolicyName").and_then(Value::as_str) != Some(policy_name));
                list.push(json!({ "PolicyName": policy_name, "PolicyDocument": document }));
            }
        }
    }
    Ok(details)
}

/// Appends `item` to the array `key` of `object` unless an element has the same `id` field.
fn push_unique(object: &mut Value, key: &str, id: &str, item: Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    if let Value::Array(list) = map.entry(key).or_insert_with(|| json!([]))
        && !list.iter().any(|e| e.get(id) == item.get(id))
    {
        list.push(item);
    }
}

/// The principal's `effective_privilege_conditional` (at least `privilege`) and its evidence.
fn analyse(
    details: Value,
    request: &Request,
    now: Timestamp,
) -> Result<(Privilege, Vec<String>), Refused> {
    let details: AuthorizationDetails = serde_json::from_value(details).map_err(|e| {
        Refused(format!(
            "iam:GetAccountAuthorizationDetails: the response does not parse: {e}"
        ))
    })?;
    let source = SourceRun {
        source: "aws".into(),
        scope: request.account.clone(),
        started_at: now,
        duration_ms: 0,
        api_calls: Default::default(),
        attributes: Default::default(),
    };
    let inventory = crate::collect::aws::translate::to_inventory(details, None, source);
    let analysis = crate::analyze::aws::analyze(&inventory, &AnalysisContext::at(now));
    let kind = format!("aws.{}", request.kind.as_str().to_lowercase());
    let subject = analysis
        .subjects
        .iter()
        .find(|s| {
            s.kind == kind
                && s.facts
                    .get("arn")
                    .and_then(|a| a.as_str().map(str::to_string))
                    .as_deref()
                    == Some(request.principal_arn.as_str())
        })
        .ok_or_else(|| {
            Refused(format!(
                "{} was not judged by the privilege analysis",
                request.principal_arn
            ))
        })?;
    let level = |name: &str| -> Privilege {
        subject
            .facts
            .get(name)
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    };
    let privilege = level("privilege")
        .max(level("effective_privilege"))
        .max(level("effective_privilege_conditional"));
    let strings = |name: &str| -> Vec<String> {
        subject
            .facts
            .get(name)
            .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
            .unwrap_or_default()
    };
    let mut evidence: Vec<String> = strings("admin_via")
        .into_iter()
        .map(|p| format!("admin through policy {p}"))
        .collect();
    evidence.extend(strings("escalation_paths"));
    evidence.extend(strings("chain"));
    Ok((privilege, evidence))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::{Common, RawRequest};

    const ROLE: &str = "arn:aws:iam::123456789012:role/worker";
    const ADMIN_ROLE: &str = "arn:aws:iam::123456789012:role/instance-admin";
    const LAUNCH: &str = "arn:aws:iam::123456789012:policy/Launch";

    fn request(policy: &str) -> Request {
        let common = Common {
            ttl: chrono::Duration::hours(2),
            now: chrono::Utc::now(),
            reason: "INC-1".into(),
            requested_by: "alice".into(),
            approved_by: None,
            ticket: None,
            ledger: "grants.jsonl".into(),
        };
        let raw = RawRequest {
            principal: ROLE,
            attach_policy: Some(policy),
            inline_policy: None,
            allow_admin: false,
        };
        Request::validate(raw, common).unwrap()
    }

    fn role(arn: &str, name: &str, trust: &str, inline: Value) -> Value {
        json!({
            "RoleName": name, "RoleId": format!("AROA{}", name.len()), "Arn": arn, "Path": "/",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": trust}, "Action": "sts:AssumeRole"}]},
            "RolePolicyList": [{"PolicyName": "own", "PolicyDocument": inline}],
            "AttachedManagedPolicies": [],
        })
    }

    fn allow(actions: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": "*"}]})
    }

    /// The worker can pass roles; an EC2 role is admin. `ec2:RunInstances` alone is write;
    /// granted to the worker it opens ec2-001 to the admin role.
    fn details(worker_actions: Value) -> Value {
        json!({
            "UserDetailList": [], "GroupDetailList": [], "Policies": [],
            "RoleDetailList": [
                role(ROLE, "worker", "ec2.amazonaws.com", allow(worker_actions)),
                role(ADMIN_ROLE, "instance-admin", "ec2.amazonaws.com", allow(json!("*"))),
            ],
        })
    }

    #[test]
    fn a_harmless_policy_next_to_pass_role_makes_admin() {
        let launch = allow(json!("ec2:RunInstances"));
        let judged = judge_details(
            details(json!(["iam:PassRole", "s3:GetObject"])),
            &request(LAUNCH),
            &launch,
            chrono::Utc::now(),
        )
        .unwrap();
        assert!(judged.before < Privilege::Admin, "{judged:?}");
        assert_eq!(judged.after, Privilege::Admin, "{judged:?}");
        assert!(
            judged.evidence.iter().any(|e| e.contains("ec2-001")),
            "{judged:?}"
        );
        // Without the PassRole it already holds, the same policy stays below admin.
        let judged = judge_details(
            details(json!(["s3:GetObject"])),
            &request(LAUNCH),
            &launch,
            chrono::Utc::now(),
        )
        .unwrap();
        assert!(judged.after < Privilege::Admin, "{judged:?}");
    }
}
