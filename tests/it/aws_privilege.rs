//! Effective AWS privilege end to end: a multi-principal, two-account estate through analyze and
//! the rules, findings snapshotted by resource, rule, severity and evidence.

use chrono::{TimeZone, Utc};
use lapse::analyze::{AnalysisContext, analyze};
use lapse::collect::aws::{AuthorizationDetails, to_inventory};
use lapse::config::Config;
use lapse::inventory::SourceRun;
use lapse::rules;
use serde_json::{Value, json};

const A: &str = "111111111111";
const B: &str = "222222222222";

fn allow(action: Value, resource: Value) -> Value {
    json!({"Effect": "Allow", "Action": action, "Resource": resource})
}

fn doc(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn user(account: &str, name: &str, statements: Vec<Value>) -> Value {
    json!({"UserName": name, "Path": "/", "Arn": format!("arn:aws:iam::{account}:user/{name}"),
        "UserPolicyList": [{"PolicyName": "inline", "PolicyDocument": doc(statements)}]})
}

fn role(account: &str, name: &str, trust: Value, statements: Vec<Value>) -> Value {
    json!({"RoleName": name, "Path": "/", "Arn": format!("arn:aws:iam::{account}:role/{name}"),
        "AssumeRolePolicyDocument": doc(vec![trust]),
        "RolePolicyList": [{"PolicyName": "inline", "PolicyDocument": doc(statements)}],
        "RoleLastUsed": {"LastUsedDate": "2025-05-30T00:00:00Z"}})
}

fn trusts(principal: Value) -> Value {
    json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})
}

fn estate() -> Value {
    let mut guarded = allow(
        json!("iam:PutRolePolicy"),
        json!(format!("arn:aws:iam::{A}:role/guarded")),
    );
    guarded["Condition"] = json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}});
    let mut open_trust = trusts(json!({"AWS": "*"}));
    open_trust["Condition"] = json!({"Bool": {"aws:SecureTransport": "true"}});
    let mut vendor_trust = trusts(json!({"AWS": "arn:aws:iam::999988887777:root"}));
    vendor_trust["Condition"] = json!({"StringLike": {"sts:ExternalId": "*"}});
    let mut capped = user(A, "capped", vec![allow(json!("*"), json!("*"))]);
    capped["PermissionsBoundary"] =
        json!({"PermissionsBoundaryArn": format!("arn:aws:iam::{A}:policy/read-only")});
    json!({
        "UserDetailList": [
            // Can make itself admin: iam:PutUserPolicy on its own ARN through user/*.
            user(A, "ci", vec![allow(json!("iam:PutUserPolicy"), json!(format!("arn:aws:iam::{A}:user/*")))]),
            // Reaches admin in account B through a chain of two roles.
            user(A, "dev", vec![allow(json!("sts:AssumeRole"), json!(format!("arn:aws:iam::{B}:role/*")))]),
            // Admin within a read-only boundary: no admin finding.
            capped,
        ],
        "RoleDetailList": [
            role(B, "hop", trusts(json!({"AWS": format!("arn:aws:iam::{A}:root")})),
                vec![allow(json!("sts:AssumeRole"), json!("*"))]),
            role(B, "admin", trusts(json!({"AWS": format!("arn:aws:iam::{B}:role/hop")})),
                vec![allow(json!("*"), json!("*"))]),
            // Passes an admin role to EC2.
            role(A, "launcher", trusts(json!({"Service": "lambda.amazonaws.com"})),
                vec![allow(json!(["iam:PassRole", "ec2:RunInstances"]), json!("*"))]),
            role(A, "instance-admin", trusts(json!({"Service": "ec2.amazonaws.com"})),
                vec![allow(json!("*"), json!("*"))]),
            role(A, "guarded", trusts(json!({"Service": "ecs-tasks.amazonaws.com"})), vec![guarded]),
            role(A, "etl", trusts(json!({"Service": "glue.amazonaws.com"})),
                vec![allow(json!("secretsmanager:GetSecretValue"), json!("*"))]),
            role(A, "open", open_trust, vec![allow(json!("s3:GetObject"), json!("*"))]),
            role(A, "vendor", vendor_trust, vec![allow(json!("s3:GetObject"), json!("*"))]),
        ],
        "Policies": [{"PolicyName": "read-only", "Arn": format!("arn:aws:iam::{A}:policy/read-only"),
            "DefaultVersionId": "v1", "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
                "Document": doc(vec![allow(json!("s3:Get*"), json!("*"))])}]}],
    })
}

#[test]
fn findings_of_a_multi_principal_estate() {
    let as_of = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
    let details: AuthorizationDetails = serde_json::from_value(estate()).unwrap();
    let source = SourceRun {
        source: "aws-offline".into(),
        scope: String::new(),
        started_at: as_of,
        duration_ms: 0,
        api_calls: Default::default(),
        attributes: Default::default(),
    };
    let inventory = to_inventory(details, None, source);
    let analysis = analyze(&inventory, &AnalysisContext::at(as_of));
    let set = rules::load(&[], &Config::default()).unwrap();
    let eval = rules::evaluate(&set, &analysis.subjects, as_of);
    assert!(eval.errors.is_empty(), "{:?}", eval.errors);
    let watched = ["AWS-007", "AWS-011", "AWS-013", "AWS-018", "AWS-019"];
    let mut findings: Vec<Value> = eval
        .findings
        .iter()
        .filter(|f| watched.contains(&f.rule_id.as_str()))
        .map(|f| {
            json!({"resource": f.resource.id, "rule": f.rule_id, "severity": f.severity,
                "evidence": f.evidence})
        })
        .collect();
    findings.sort_by_key(|f| (f["resource"].to_string(), f["rule"].to_string()));
    insta::assert_json_snapshot!(findings);
}
