//! Tests of `analyze::aws` over whole estates: effective privilege, escalation paths, chains.
//! Estates are written as GetAccountAuthorizationDetails JSON and translated as a scan would.

use serde_json::{Value, json};

use crate::analyze::{AnalysisContext, Subject};
use crate::collect::aws::{AuthorizationDetails, to_inventory};
use crate::inventory::{Inventory, SourceRun};

pub(super) const A: &str = "111111111111";
pub(super) const B: &str = "222222222222";

pub(super) fn ctx() -> AnalysisContext {
    AnalysisContext {
        as_of: "2025-06-01T00:00:00Z".parse().unwrap(),
    }
}

pub(super) fn statement(effect: &str, action: Value, resource: Value) -> Value {
    json!({"Effect": effect, "Action": action, "Resource": resource})
}

pub(super) fn inline(statements: Vec<Value>) -> Value {
    json!([{"PolicyName": "inline", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}])
}

pub(super) fn user(account: &str, name: &str, statements: Vec<Value>) -> Value {
    json!({"UserName": name, "Path": "/", "Arn": format!("arn:aws:iam::{account}:user/{name}"),
        "UserPolicyList": inline(statements)})
}

pub(super) fn role(account: &str, name: &str, trust: Value, statements: Vec<Value>) -> Value {
    json!({"RoleName": name, "Path": "/", "Arn": format!("arn:aws:iam::{account}:role/{name}"),
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": trust, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": inline(statements)})
}

pub(super) fn admin() -> Vec<Value> {
    vec![statement("Allow", json!("*"), json!("*"))]
}

pub(super) fn inventory(details: Value) -> Inventory {
    let details: AuthorizationDetails = serde_json::from_value(details).unwrap();
    let source = SourceRun {
        source: "aws".into(),
        scope: String::new(),
        started_at: ctx().as_of,
        duration_ms: 0,
        api_calls: Default::default(),
        attributes: Default::default(),
    };
    to_inventory(details, None, source)
}

pub(super) fn subjects(inventory: &Inventory) -> Vec<Subject> {
    super::analyze(inventory, &ctx()).subjects
}

pub(super) fn fact(subjects: &[Subject], arn: &str, name: &str) -> Value {
    let subject = subjects
        .iter()
        .find(|s| s.resource.id == arn)
        .unwrap_or_else(|| panic!("no subject {arn}"));
    subject.facts.get(name).unwrap_or(Value::Null)
}

fn privilege_of(statements: Vec<Value>) -> Value {
    let inventory = inventory(json!({"UserDetailList": [user(A, "u", statements)]}));
    fact(
        &subjects(&inventory),
        &format!("arn:aws:iam::{A}:user/u"),
        "privilege",
    )
}

/// Resource wildcards match what they match.
#[test]
fn resource_wildcards_reach_what_they_name() {
    let admin = [
        statement("Allow", json!("*"), json!("arn:*")),
        statement("Allow", json!("*"), json!("arn:aws:*:*:*:*")),
        statement("Allow", json!("iam:*"), json!("arn:aws:iam::*:*")),
        statement(
            "Allow",
            json!("iam:PutUserPolicy"),
            json!(format!("arn:aws:iam::{A}:user/*")),
        ),
        statement(
            "Allow",
            json!("iam:Put*"),
            json!(format!("arn:aws:iam::{A}:user/u")),
        ),
    ];
    for s in admin {
        assert_eq!(privilege_of(vec![s.clone()]), json!("admin"), "{s}");
    }
    let write = [
        statement(
            "Allow",
            json!("iam:PutUserPolicy"),
            json!(format!("arn:aws:iam::{B}:user/*")),
        ),
        statement(
            "Allow",
            json!("iam:PutUserPolicy"),
            json!(format!("arn:aws:iam::{A}:user/other")),
        ),
        statement("Allow", json!("*"), json!("arn:aws:s3:::*")),
        statement("Allow", json!("iam:PutRolePolicy"), json!("*")),
    ];
    for s in write {
        assert_eq!(privilege_of(vec![s.clone()]), json!("write"), "{s}");
    }
}

/// A condition lapse can decide against the principal: an unsatisfiable one grants nothing.
#[test]
fn unsatisfiable_conditional_allow_is_not_admin() {
    let mut allow = statement("Allow", json!("*"), json!("*"));
    allow["Condition"] = json!({"StringEquals": {"aws:PrincipalAccount": B}});
    assert_eq!(privilege_of(vec![allow.clone()]), json!("none"));
    allow["Condition"] = json!({"StringEquals": {"aws:PrincipalAccount": A}});
    assert_eq!(privilege_of(vec![allow]), json!("admin"));
}
