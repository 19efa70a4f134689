//! Live AWS end to end against moto's server: an estate built through the SDK, scanned by the
//! real `lapse` binary with `--aws`; the same account read offline agrees; roles assumed into two
//! accounts; a dead endpoint is a coverage gap and exit 3.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use aws_sdk_iam::types::Tag;
use serde_json::Value;

use crate::support::moto::{self, Moto};

/// Far enough ahead that every key moto creates (moto has no clock control) is old.
const AS_OF: &str = "2035-01-01T00:00:00Z";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().expect("tag")
}

const GITHUB_TRUST_WITHOUT_SUB: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com"},
 "Action":"sts:AssumeRoleWithWebIdentity",
 "Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}"#;
const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const WIDE_WRITE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Action":["s3:*","iam:PassRole"],"Resource":"*"}]}"#;
const READ_LOGS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Action":["logs:Get*","logs:Describe*"],"Resource":"*"}]}"#;

/// A small but realistic estate: an admin CI user with a key and an expired provisional tag,
/// a service user inheriting a group's inline policy, a GitHub OIDC role with no bound `sub`
/// and admin rights, an EC2 role with a customer-managed wildcard policy and 12-hour sessions
/// (a limit only ListRoles tells).
async fn build_estate(iam: &aws_sdk_iam::Client, account: &str) {
    iam.create_user()
        .user_name("ci-deploy")
        .tags(tag("lapse:expires-at", "2024-01-01T00:00:00Z"))
        .tags(tag("lapse:owner", "platform"))
        .send()
        .await
        .expect("create ci-deploy");
    iam.create_access_key()
        .user_name("ci-deploy")
        .send()
        .await
        .expect("key");
    iam.attach_user_policy()
        .user_name("ci-deploy")
        .policy_arn(ADMIN)
        .send()
        .await
        .expect("attach admin");

    iam.create_group()
        .group_name("builders")
        .send()
        .await
        .expect("group");
    iam.put_group_policy()
        .group_name("builders")
        .policy_name("builders-s3")
        .policy_document(WIDE_WRITE)
        .send()
        .await
        .expect("group policy");
    iam.create_user()
        .user_name("svc-reports")
        .send()
        .await
        .expect("svc-reports");
    iam.create_access_key()
        .user_name("svc-reports")
        .send()
        .await
        .expect("key");
    iam.add_user_to_group()
        .group_name("builders")
        .user_name("svc-reports")
        .send()
        .await
        .expect("membership");
    iam.put_user_policy()
        .user_name("svc-reports")
        .policy_name("read-logs")
        .policy_document(READ_LOGS)
        .send()
        .await
        .expect("inline");

    let trust = GITHUB_TRUST_WITHOUT_SUB.replace("ACCOUNT", account);
    iam.create_role()
        .role_name("gha-deploy")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("gha role");
    iam.attach_role_policy()
        .role_name("gha-deploy")
        .policy_arn(ADMIN)
        .send()
        .await
        .expect("attach admin");
    let policy = iam
        .create_policy()
        .policy_name("deploy-wide")
        .policy_document(WIDE_WRITE)
        .send()
        .await
        .expect("managed policy");
    let policy_arn = policy
        .policy()
        .and_then(|p| p.arn())
        .expect("policy arn")
        .to_string();
    iam.create_role()
        .role_name("app-runtime")
        .assume_role_policy_document(EC2_TRUST)
        .max_session_duration(43200)
        .send()
        .await
        .expect("ec2 role");
    iam.attach_role_policy()
        .role_name("app-runtime")
        .policy_arn(policy_arn)
        .send()
        .await
        .expect("attach managed");
}

fn lapse(out: &Path) -> Command {
    let mut cmd = Command::cargo_bin("lapse").expect("the lapse binary is built");
    cmd.env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(out);
    cmd.args([
        "scan",
        "--quiet",
        "--as-of",
        AS_OF,
        "--fail-on",
        "never",
        "--format",
        "json",
        "--out",
    ])
    .arg(out.join("out"));
    cmd
}

fn read_report(out: &Path) -> Value {
    let path = out.join("out/lapse-report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("report is JSON")
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings array")
}

/// `(family, resource name)` of every finding.
fn families_by_name(report: &Value) -> BTreeSet<(String, String)> {
    findings(report)
        .iter()
        .map(|f| {
            let family = f["family"].as_str().unwrap_or("").to_string();
            (
                family,
                f["resource"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn fingerprints(report: &Value) -> BTreeSet<String> {
    findings(report)
        .iter()
        .map(|f| f["fingerprint"].as_str().expect("fingerprint").to_string())
        .collect()
}

fn has(report: &Value, family: &str, name_part: &str) -> bool {
    families_by_name(report)
        .iter()
        .any(|(f, n)| f == family && n.contains(name_part))
}

#[test]
fn live_scan_of_an_estate_reports_its_findings_in_bulk_calls() {
    let moto = Moto::start();
    runtime().block_on(build_estate(&moto.iam(), moto::DEFAULT_ACCOUNT));
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = lapse(dir.path());
    moto.env(&mut cmd);
    cmd.arg("--aws").assert().code(0);

    let report = read_report(dir.path());
    assert_eq!(
        report["scan"]["coverage_gaps"],
        Value::Array(vec![]),
        "{:#}",
        report["scan"]
    );
    let all = families_by_name(&report);
    assert!(has(&report, "expired-grant", "ci-deploy"), "{all:#?}");
    assert!(has(&report, "standing-privilege", "gha-deploy"), "{all:#?}");
    assert!(has(&report, "over-scope", "gha-deploy"), "{all:#?}");
    assert!(has(&report, "unrotated", "ci-deploy"), "{all:#?}");

    let calls = &report["scan"]["api_calls"];
    assert_eq!(calls["iam:GetAccountAuthorizationDetails"], 1, "{calls:#}");
    assert_eq!(calls["iam:GetCredentialReport"], 1, "{calls:#}");
    assert_eq!(calls["sts:GetCallerIdentity"], 1, "{calls:#}");
    let total: u64 = calls
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert!(total <= 10, "bulk collection used {total} calls: {calls:#}");
    // The account is named by GetCallerIdentity, not guessed from the credentials.
    let source = &report["scan"]["sources"][0];
    assert_eq!(source["scope"], moto::DEFAULT_ACCOUNT, "{source:#}");
}

/// The offline files, written the way the AWS CLI writes them: by boto3 (the CLI's own
/// library, from moto's virtualenv), an implementation independent of lapse's.
fn export_offline_files(moto: &Moto, dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let server = std::env::var("LAPSE_MOTO_SERVER").expect("LAPSE_MOTO_SERVER (run scripts/test)");
    let python = Path::new(&server).with_file_name("python");
    let details = dir.join("authorization-details.json");
    let list_roles = dir.join("list-roles.json");
    let report = dir.join("credential-report.json");
    let script = r#"
import base64, json, sys, time, boto3
endpoint, details_path, roles_path, report_path = sys.argv[1:5]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
merged = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
for page in iam.get_paginator("get_account_authorization_details").paginate():
    for key in merged:
        merged[key].extend(page.get(key, []))
iso = lambda v: v.isoformat()
json.dump(merged, open(details_path, "w"), default=iso, indent=1)
roles = [r for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]]
json.dump({"Roles": roles}, open(roles_path, "w"), default=iso, indent=1)
while iam.generate_credential_report()["State"] != "COMPLETE":
    time.sleep(0.2)
r = iam.get_credential_report()
json.dump({"Content": base64.b64encode(r["Content"]).decode(), "ReportFormat": r["ReportFormat"],
           "GeneratedTime": r["GeneratedTime"].isoformat()}, open(report_path, "w"))
"#;
    let status = StdCommand::new(&python)
        .args(["-c", script, &moto.endpoint])
        .arg(&details)
        .arg(&list_roles)
        .arg(&report)
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(status.success(), "boto3 export failed");
    (details, list_roles, report)
}

#[test]
fn live_and_offline_scans_of_one_account_give_the_same_findings() {
    let moto = Moto::start();
    runtime().block_on(build_estate(&moto.iam(), moto::DEFAULT_ACCOUNT));
    let dir = tempfile::tempdir().unwrap();
    let live_dir = dir.path().join("live");
    let offline_dir = dir.path().join("offline");
    std::fs::create_dir_all(&live_dir).unwrap();
    std::fs::create_dir_all(&offline_dir).unwrap();

    let mut live = lapse(&live_dir);
    moto.env(&mut live);
    live.arg("--aws").assert().code(0);
    let (details, list_roles, credential_report) = export_offline_files(&moto, dir.path());
    let mut offline = lapse(&offline_dir);
    moto::isolated_aws_env(&mut offline);
    offline
        .arg("--aws-authorization-details")
        .arg(&details)
        .arg("--aws-authorization-details")
        .arg(&list_roles)
        .arg("--aws-credential-report")
        .arg(&credential_report)
        .assert()
        .code(0);

    let live = read_report(&live_dir);
    let offline = read_report(&offline_dir);
    assert!(findings(&live).len() >= 4, "{:#?}", families_by_name(&live));
    // The session limit comes from ListRoles on both sides.
    assert!(
        findings(&live)
            .iter()
            .any(|f| f["rule_id"] == "AWS-014" && f["resource"]["name"] == "app-runtime"),
        "{:#?}",
        families_by_name(&live)
    );
    assert_eq!(
        fingerprints(&live),
        fingerprints(&offline),
        "live {:#?}\noffline {:#?}",
        families_by_name(&live),
        families_by_name(&offline)
    );
}

fn accounts_in_findings(report: &Value) -> BTreeSet<String> {
    findings(report)
        .iter()
        .filter_map(|f| {
            f["resource"]["id"]
                .as_str()?
                .split(':')
                .nth(4)
                .map(str::to_string)
        })
        .filter(|a| a.len() == 12)
        .collect()
}

#[test]
fn assumes_a_role_into_each_listed_account_and_shards_them() {
    let moto = Moto::start();
    runtime().block_on(async {
        for account in ["111111111111", "222222222222"] {
            build_estate(&moto.iam_in(account).await, account).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = lapse(dir.path());
    moto.env(&mut cmd);
    cmd.args(["--aws-role-arn", "arn:aws:iam::{account}:role/LapseAudit"])
        .args([
            "--aws-accounts",
            "222222222222,111111111111",
            "--aws-external-id",
            "lapse-test",
        ])
        .args(["--concurrency", "2"])
        .assert()
        .code(0);
    let report = read_report(dir.path());
    assert_eq!(report["scan"]["coverage_gaps"], Value::Array(vec![]));
    assert_eq!(
        accounts_in_findings(&report),
        BTreeSet::from(["111111111111".to_string(), "222222222222".to_string()])
    );
    assert_eq!(report["scan"]["api_calls"]["sts:AssumeRole"], 2);
    assert!(!accounts_in_findings(&report).contains(moto::DEFAULT_ACCOUNT));

    let shard_dir = tempfile::tempdir().unwrap();
    let mut cmd = lapse(shard_dir.path());
    moto.env(&mut cmd);
    cmd.args(["--aws-role-arn", "arn:aws:iam::{account}:role/LapseAudit"])
        .args([
            "--aws-accounts",
            "222222222222,111111111111",
            "--shard",
            "1/2",
        ])
        .assert()
        .code(0);
    let sharded = read_report(shard_dir.path());
    assert_eq!(
        accounts_in_findings(&sharded),
        BTreeSet::from(["222222222222".to_string()])
    );
    assert_eq!(sharded["scan"]["api_calls"]["sts:AssumeRole"], 1);
}

#[test]
fn an_unreachable_endpoint_is_a_coverage_gap_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    // Two attempts instead of five keep the test short; the config table is read too.
    std::fs::write(dir.path().join("lapse.toml"), "[aws]\nmax_attempts = 2\n").unwrap();
    let dead = format!("http://127.0.0.1:{}", moto::free_port());
    let mut cmd = lapse(dir.path());
    moto::isolated_aws_env(&mut cmd);
    cmd.args(["--aws", "--aws-endpoint-url", &dead])
        .assert()
        .code(3);

    let report = read_report(dir.path());
    let gaps = report["scan"]["coverage_gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    assert_eq!(gaps[0]["source"], "aws");
    assert_eq!(gaps[0]["request"], "sts:GetCallerIdentity");
    let reason = gaps[0]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("unreachable"), "{reason}");
    assert!(
        !reason.contains("testing"),
        "a credential leaked into the gap: {reason}"
    );
    assert_eq!(report["scan"]["complete"], false);
    assert!(findings(&report).is_empty());
}

#[test]
fn a_bad_accounts_list_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = lapse(dir.path());
    moto::isolated_aws_env(&mut cmd);
    cmd.args(["--aws-role-arn", "arn:aws:iam::{account}:role/LapseAudit"])
        .args(["--aws-accounts", "111111111111,12345"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "'12345' is not a 12-digit AWS account id",
        ));
}
