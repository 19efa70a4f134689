//! Unit tests of `analyze::policy`: one small document per judgement.

use serde_json::json;

use super::*;

fn stmt(effect: &str, action: Value, resource: Value) -> Value {
    json!({"Effect": effect, "Action": action, "Resource": resource})
}

fn doc(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn facts(docs: &[Value]) -> PrivilegeFacts {
    let compiled: Vec<CompiledPolicy> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| CompiledPolicy::compile(&format!("p{i}"), d))
        .collect();
    let refs: Vec<&CompiledPolicy> = compiled.iter().collect();
    evaluate(&refs, None)
}

fn level(docs: &[Value]) -> Privilege {
    facts(docs).privilege
}

#[test]
fn star_on_star_is_admin() {
    let f = facts(&[doc(vec![stmt("Allow", json!("*"), json!("*"))])]);
    assert_eq!(f.privilege, Privilege::Admin);
    assert_eq!(f.privilege_rank, 3);
    assert_eq!(f.admin_via, vec!["p0"]);
    assert_eq!(f.wildcard_actions, vec!["*"]);
    assert!(f.write_on_any_resource);
}

#[test]
fn star_colon_star_is_admin() {
    assert_eq!(
        level(&[doc(vec![stmt("Allow", json!("*:*"), json!("*"))])]),
        Privilege::Admin
    );
}

#[test]
fn single_statement_object_and_arrays_are_read() {
    let d = json!({"Statement": {"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}});
    assert_eq!(level(&[d]), Privilege::Admin);
}

/// A document alone rates IAM escalation actions as write: whether they make the principal
/// admin depends on the ARN they reach, which the escalation catalogue decides (tested in
/// `analyze::aws::tests` and `catalogue_tests`).
#[test]
fn escalation_actions_alone_are_write() {
    for action in [
        "iam:*",
        "iam:PutUserPolicy",
        "iam:Attach*",
        "IAM:createpolicyversion",
        "iam:Put*Policy",
    ] {
        assert_eq!(
            level(&[doc(vec![stmt("Allow", json!(action), json!("*"))])]),
            Privilege::Write,
            "{action}"
        );
    }
}

#[test]
fn every_resource_spellings() {
    for r in [
        "*",
        "arn:*",
        "arn:aws:*",
        "arn:aws:*:*:*:*",
        "arn:aws-cn:*:*:*:*",
    ] {
        assert!(every_resource(r), "{r}");
        assert_eq!(
            level(&[doc(vec![stmt("Allow", json!("*"), json!(r))])]),
            Privilege::Admin,
            "{r}"
        );
    }
    for r in [
        "arn:aws:iam::*:*",
        "arn:aws:s3:::*",
        "arn",
        "arn:aws:*:*:*:x",
    ] {
        assert!(!every_resource(r), "{r}");
    }
}

#[test]
fn admin_actions_on_one_resource_are_write() {
    let d = doc(vec![stmt(
        "Allow",
        json!("*"),
        json!("arn:aws:s3:::bucket/*"),
    )]);
    let f = facts(&[d]);
    assert_eq!(f.privilege, Privilege::Write);
    assert!(!f.write_on_any_resource);
    assert!(f.admin_via.is_empty());
}

#[test]
fn read_verbs_are_read() {
    for action in [
        "s3:GetObject",
        "s3:Get*",
        "ec2:Describe*",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:BatchGetItem",
        "s3:ListBucket",
        "*:Get*",
        "cloudtrail:LookupEvents",
    ] {
        let f = facts(&[doc(vec![stmt("Allow", json!(action), json!("*"))])]);
        assert_eq!(f.privilege, Privilege::Read, "{action}");
        assert!(f.wildcard_actions.is_empty(), "{action}");
        assert!(!f.write_on_any_resource, "{action}");
    }
}

#[test]
fn other_verbs_and_service_wildcards_are_write() {
    for action in [
        "s3:PutObject",
        "s3:*",
        "s3:De*",
        "iam:PassRole",
        "sts:AssumeRole",
        "ec2:?*",
    ] {
        assert_eq!(
            level(&[doc(vec![stmt("Allow", json!(action), json!("*"))])]),
            Privilege::Write,
            "{action}"
        );
    }
}

#[test]
fn service_wildcard_is_listed() {
    let f = facts(&[doc(vec![stmt(
        "Allow",
        json!(["s3:*", "s3:GetObject", "ec2:Describe*"]),
        json!("*"),
    )])]);
    assert_eq!(f.wildcard_actions, vec!["s3:*"]);
    assert!(f.write_on_any_resource);
}

#[test]
fn empty_and_malformed_documents_are_none() {
    assert_eq!(level(&[]), Privilege::None);
    assert_eq!(level(&[json!({})]), Privilege::None);
    assert_eq!(
        level(&[json!({"Statement": [{"Effect": "Allow"}, 3, "x"]})]),
        Privilege::None
    );
    assert_eq!(
        level(&[json!({"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]})]),
        Privilege::None
    );
    assert_eq!(
        level(&[doc(vec![stmt("Allow", json!("nonsense"), json!("*"))])]),
        Privilege::None
    );
}

#[test]
fn document_in_string_form_is_read() {
    let d =
        Value::String(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into());
    assert_eq!(level(&[d]), Privilege::Admin);
}

#[test]
fn not_action_excluding_iam_is_write() {
    // PowerUserAccess.
    let d = json!({"Statement": [{"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}]});
    let f = facts(&[d]);
    assert_eq!(f.privilege, Privilege::Write);
    assert!(f.not_action);
    assert!(f.write_on_any_resource);
}

#[test]
fn not_action_alone_is_write() {
    // Escalation through what it leaves allowed is the catalogue's to find.
    let d = json!({"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]});
    let f = facts(&[d]);
    assert_eq!(f.privilege, Privilege::Write);
    assert!(f.not_action);
}

#[test]
fn not_resource_counts_as_any_resource() {
    let d = json!({"Statement": [{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret"}]});
    assert_eq!(level(&[d]), Privilege::Admin);
}

#[test]
fn deny_everything_cancels_admin() {
    let allow = doc(vec![stmt("Allow", json!("*"), json!("*"))]);
    let deny = doc(vec![stmt("Deny", json!("*:*"), json!("*"))]);
    let f = facts(&[allow, deny]);
    assert_eq!(f.privilege, Privilege::None);
    assert!(f.wildcard_actions.is_empty());
    assert!(f.admin_via.is_empty());
}

#[test]
fn deny_iam_removes_the_route_to_admin() {
    let allow = doc(vec![stmt("Allow", json!("*"), json!("*"))]);
    let deny = doc(vec![stmt("Deny", json!("iam:*"), json!("*"))]);
    assert_eq!(level(&[allow, deny]), Privilege::Write);
}

#[test]
fn deny_iam_cancels_iam_star() {
    let allow = doc(vec![stmt(
        "Allow",
        json!(["iam:*", "s3:GetObject"]),
        json!("*"),
    )]);
    let deny = doc(vec![stmt("Deny", json!("iam:*"), json!("*"))]);
    let f = facts(&[allow, deny]);
    assert_eq!(f.privilege, Privilege::Read);
    assert!(f.wildcard_actions.is_empty());
}

#[test]
fn deny_in_same_document_cancels() {
    let d = doc(vec![
        stmt("Allow", json!("s3:*"), json!("*")),
        stmt("Deny", json!("s3:*"), json!("*")),
    ]);
    assert_eq!(level(&[d]), Privilege::None);
}

#[test]
fn narrower_deny_does_not_cancel_wider_allow() {
    let allow = doc(vec![stmt("Allow", json!("s3:*"), json!("*"))]);
    let deny = doc(vec![stmt("Deny", json!("s3:Get*"), json!("*"))]);
    assert_eq!(level(&[allow, deny]), Privilege::Write);
}

#[test]
fn deny_on_one_resource_does_not_cancel_allow_on_all() {
    let allow = doc(vec![stmt("Allow", json!("*"), json!("*"))]);
    let deny = doc(vec![stmt("Deny", json!("*"), json!("arn:aws:s3:::b"))]);
    assert_eq!(level(&[allow, deny]), Privilege::Admin);
}

#[test]
fn deny_on_matching_resources_cancels() {
    let allow = doc(vec![stmt(
        "Allow",
        json!("s3:PutObject"),
        json!("arn:aws:s3:::b/logs/*"),
    )]);
    let deny = doc(vec![stmt("Deny", json!("s3:*"), json!("arn:aws:s3:::b/*"))]);
    assert_eq!(level(&[allow, deny]), Privilege::None);
}

#[test]
fn conditional_deny_does_not_cancel() {
    let allow = doc(vec![stmt("Allow", json!("*"), json!("*"))]);
    let deny = json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}]});
    assert_eq!(level(&[allow, deny]), Privilege::Admin);
}

#[test]
fn conditional_allow_counts_and_is_flagged() {
    let d = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]});
    let f = facts(&[d]);
    assert_eq!(f.privilege, Privilege::Admin);
    assert!(f.privilege_conditional);
    let plain = facts(&[doc(vec![stmt("Allow", json!("*"), json!("*"))])]);
    assert!(!plain.privilege_conditional);
}

#[test]
fn empty_condition_is_unconditional() {
    let allow = doc(vec![stmt("Allow", json!("*"), json!("*"))]);
    let deny =
        json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {}}]});
    assert_eq!(level(&[allow, deny]), Privilege::None);
}

#[test]
fn deny_with_not_action_on_other_service_cancels() {
    // Deny everything but S3: the EC2 allow is gone, the S3 one stays.
    let allow = doc(vec![stmt(
        "Allow",
        json!(["ec2:*", "s3:GetObject"]),
        json!("*"),
    )]);
    let deny = json!({"Statement": [{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}]});
    assert_eq!(level(&[allow, deny]), Privilege::Read);
}

#[test]
fn deny_all_cancels_not_action_allow() {
    let allow = json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]});
    let deny = doc(vec![stmt("Deny", json!("*"), json!("*"))]);
    let f = facts(&[allow, deny]);
    assert_eq!(f.privilege, Privilege::None);
    assert!(!f.not_action);
}

#[test]
fn union_of_documents_takes_the_highest() {
    let read = doc(vec![stmt("Allow", json!("s3:GetObject"), json!("*"))]);
    let write = doc(vec![stmt("Allow", json!("sqs:*"), json!("*"))]);
    let f = facts(&[read, write]);
    assert_eq!(f.privilege, Privilege::Write);
    assert_eq!(f.wildcard_actions, vec!["sqs:*"]);
}

#[test]
fn admin_via_names_every_admin_policy() {
    let a = doc(vec![stmt("Allow", json!("*"), json!("*"))]);
    let b = doc(vec![stmt("Allow", json!("iam:*"), json!("*"))]);
    let c = doc(vec![stmt("Allow", json!("s3:*"), json!("*"))]);
    let d = doc(vec![stmt("Allow", json!("*"), json!("arn:*"))]);
    assert_eq!(facts(&[a, b, c, d]).admin_via, vec!["p0", "p3"]);
}

#[test]
fn wildcard_match_semantics() {
    assert!(wildcard_match("*", "s3:getobject"));
    assert!(wildcard_match("s3:get*", "s3:getobject"));
    assert!(wildcard_match("s3:*object", "s3:putobject"));
    assert!(wildcard_match("s3:g?tobject", "s3:getobject"));
    assert!(!wildcard_match("s3:get*", "s3:putobject"));
    assert!(!wildcard_match("s3:get", "s3:getobject"));
    // Pattern containment: `iam:*` covers `iam:put*`, `s3:get*` does not cover `s3:*`.
    assert!(wildcard_match("iam:*", "iam:put*"));
    assert!(!wildcard_match("s3:get*", "s3:*"));
    assert!(!wildcard_match("a?c", "a*c"));
}
