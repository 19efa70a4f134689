//! Access per identity (issue 15 item 4): standing, provisional (its own marker, or live grant
//! ledger lines covering all it holds: who granted it, why, until when) or federated (OIDC
//! trust, no stored secret), and the summary's share of machine access that ends by itself.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

const AS_OF: &str = "2026-11-20T00:00:00Z";

fn inline(name: &str, action: &str) -> Value {
    json!({"PolicyName": name, "PolicyDocument": {"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}})
}

fn write_estate(dir: &Path) {
    let oidc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main"}}}]});
    let ec2 = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role = |name: &str, trust: &Value, policy: Value| {
        json!({"Path": "/", "RoleName": name, "RoleId": format!("AROA{}", name.to_uppercase()),
            "Arn": format!("arn:aws:iam::111122223333:role/{name}"),
            "CreateDate": "2026-01-01T00:00:00Z", "AssumeRolePolicyDocument": trust,
            "RolePolicyList": [policy], "AttachedManagedPolicies": [], "Tags": []})
    };
    let user = |name: &str, tags: Value| {
        json!({"Path": "/", "UserName": name, "UserId": format!("AIDA{}", name.to_uppercase()),
            "Arn": format!("arn:aws:iam::111122223333:user/{name}"),
            "CreateDate": "2026-01-01T00:00:00Z", "UserPolicyList": [inline("work", "s3:PutObject")],
            "GroupList": [], "AttachedManagedPolicies": [], "Tags": tags})
    };
    let details = json!({
        "UserDetailList": [
            user("etl", json!([])),
            user("batch", json!([
                {"Key": "lapse:expires-at", "Value": "2026-11-25T00:00:00Z"},
                {"Key": "lapse:owner", "Value": "platform"},
                {"Key": "lapse:reason", "Value": "migration"}]))
        ],
        "GroupDetailList": [],
        "RoleDetailList": [
            role("gha-deploy", &oidc, inline("deploy", "s3:PutObject")),
            role("worker", &ec2, inline("temp-s3-write", "s3:PutObject")),
            role("app", &ec2, inline("app", "s3:GetObject"))
        ],
        "Policies": []
    });
    std::fs::write(dir.join("details.json"), details.to_string()).unwrap();
    let ledger = [
        json!({"provider": "aws", "kind": "inline_policy",
            "principal_id": "arn:aws:iam::111122223333:role/worker", "target": "temp-s3-write",
            "expires_at": "2026-12-01T00:00:00Z", "requested_by": "alice", "approved_by": "bob",
            "reason": "INC-1", "ticket": "T-7"}),
        // Past: no longer counts.
        json!({"provider": "aws", "kind": "inline_policy",
            "principal_id": "arn:aws:iam::111122223333:role/app", "target": "app",
            "expires_at": "2026-11-01T00:00:00Z", "requested_by": "carol"}),
    ];
    let lines: Vec<String> = ledger.iter().map(Value::to_string).collect();
    std::fs::write(dir.join("grants.jsonl"), lines.join("\n") + "\n").unwrap();
}

#[test]
fn identities_say_how_their_access_ends() {
    let dir = tempfile::tempdir().unwrap();
    write_estate(dir.path());
    Command::cargo_bin("lapse")
        .unwrap()
        .env_remove("RUST_LOG")
        .current_dir(dir.path())
        .args([
            "scan",
            "--quiet",
            "--as-of",
            AS_OF,
            "--fail-on",
            "never",
            "--allow-incomplete",
        ])
        .args([
            "--aws-authorization-details",
            "details.json",
            "--ledger",
            "grants.jsonl",
        ])
        .args(["--format", "json,html", "--out", "out"])
        .assert()
        .code(0);
    let text = std::fs::read_to_string(dir.path().join("out/lapse-report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    let mut rows: Vec<Value> = report["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            json!({"name": i["resource"]["name"], "window": i["window"], "access": i["access"],
                "machine": i["machine"], "provisional_grants": i["provisional_grants"]})
        })
        .collect();
    rows.sort_by_key(|r| r["name"].as_str().unwrap_or_default().to_string());
    insta::assert_json_snapshot!("identity_access", rows);
    insta::assert_json_snapshot!("machine_access", report["summary"]["machine_access"]);
    // The HTML summary card, and the identity view's data: access and each grant's line.
    let html = std::fs::read_to_string(dir.path().join("out/lapse-report.html")).unwrap();
    let card = html
        .split("<div class=\"card\" id=\"machine-access\">")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .expect("machine-access card");
    insta::assert_snapshot!("machine_access_card", card);
    assert!(
        html.contains("temp-s3-write until 2026-12-01T00:00:00+00:00 (ledger); granted by bob; requested by alice; reason INC-1; ticket T-7"),
        "the ledger grant's line is in the page data"
    );
}
