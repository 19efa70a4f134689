//! Live AWS Organizations against moto: `--aws-organizations-live` reads the SCPs on each
//! account's path through the API (counted in `scan.api_calls`), they cap what the account's
//! principals can do, the management account is never capped, and a scanner outside any
//! organization gets a coverage gap instead of a silent "no SCP".

use std::path::Path;

use assert_cmd::Command;
use aws_sdk_organizations::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_organizations::types::{OrganizationFeatureSet, PolicyType};
use serde_json::Value;

use crate::support::moto::{self, DEFAULT_ACCOUNT, Moto};

const ADMIN: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const S3_ONLY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn organizations(moto: &Moto) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::from_conf(
        aws_sdk_organizations::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&moto.endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .build(),
    )
}

async fn admin_user(iam: &aws_sdk_iam::Client, name: &str) {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .expect("create user");
    iam.put_user_policy()
        .user_name(name)
        .policy_name("admin")
        .policy_document(ADMIN)
        .send()
        .await
        .expect("admin policy");
}

/// An organization managed from moto's default account: root > OU `workloads` > a new member
/// account, with an SCP allowing only S3 on the OU; an admin user in each account. Returns the
/// member account's id.
async fn build_organization(moto: &Moto) -> String {
    let org = organizations(moto);
    org.create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .expect("create organization");
    let member = org
        .create_account()
        .email("workloads@example.com")
        .account_name("workloads")
        .send()
        .await
        .expect("create account")
        .create_account_status()
        .and_then(|s| s.account_id())
        .expect("moto names the new account")
        .to_string();
    let roots = org.list_roots().send().await.expect("list roots");
    let root = roots.roots()[0].id().expect("root id").to_string();
    let unit = org
        .create_organizational_unit()
        .parent_id(&root)
        .name("workloads")
        .send()
        .await
        .expect("create OU");
    let unit = unit
        .organizational_unit()
        .and_then(|u| u.id())
        .expect("OU id")
        .to_string();
    org.move_account()
        .account_id(&member)
        .source_parent_id(&root)
        .destination_parent_id(&unit)
        .send()
        .await
        .expect("move account");
    let policy = org
        .create_policy()
        .name("s3-only")
        .description("workloads may use S3 only")
        .r#type(PolicyType::ServiceControlPolicy)
        .content(S3_ONLY)
        .send()
        .await
        .expect("create SCP");
    let policy = policy
        .policy()
        .and_then(|p| p.policy_summary())
        .and_then(|s| s.id())
        .expect("SCP id")
        .to_string();
    org.attach_policy()
        .policy_id(&policy)
        .target_id(&unit)
        .send()
        .await
        .expect("attach SCP");
    // New OUs get FullAWSAccess, as in AWS; a level's SCPs are a union, so it must go for
    // s3-only to restrict.
    org.detach_policy()
        .policy_id("p-FullAWSAccess")
        .target_id(&unit)
        .send()
        .await
        .expect("detach FullAWSAccess");
    admin_user(&moto.iam(), "mgmt-admin").await;
    admin_user(&moto.iam_in(&member).await, "deployer").await;
    member
}

fn lapse(out: &Path, moto: &Moto) -> Command {
    let mut cmd = Command::cargo_bin("lapse").expect("the lapse binary is built");
    moto.env(&mut cmd);
    cmd.env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .current_dir(out)
        .args(["scan", "--quiet", "--as-of", "2035-01-01T00:00:00Z"])
        .args(["--fail-on", "never", "--format", "json", "--out"])
        .arg(out.join("out"));
    cmd
}

fn report(out: &Path) -> Value {
    let text = std::fs::read_to_string(out.join("out/lapse-report.json")).expect("report");
    serde_json::from_str(&text).expect("report is JSON")
}

fn identity<'a>(report: &'a Value, arn: &str) -> &'a Value {
    report["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .find(|i| i["resource"]["id"] == arn)
        .unwrap_or_else(|| panic!("no identity {arn}"))
}

fn admin_findings(report: &Value) -> Vec<String> {
    let mut arns: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule_id"] == "AWS-007")
        .map(|f| f["resource"]["id"].as_str().unwrap_or("").to_string())
        .collect();
    arns.sort();
    arns
}

#[test]
fn live_scps_cap_member_accounts_and_are_counted() {
    let moto = Moto::start();
    let member = runtime().block_on(build_organization(&moto));
    let dir = tempfile::tempdir().unwrap();
    let accounts = format!("{DEFAULT_ACCOUNT},{member}");
    lapse(dir.path(), &moto)
        .args(["--aws-role-arn", "arn:aws:iam::{account}:role/LapseAudit"])
        .args(["--aws-accounts", &accounts, "--aws-organizations-live"])
        .assert()
        .code(0);
    let report = report(dir.path());
    assert_eq!(
        report["scan"]["coverage_gaps"],
        serde_json::json!([]),
        "the organization was read whole"
    );
    let deployer = format!("arn:aws:iam::{member}:user/deployer");
    let mgmt = format!("arn:aws:iam::{DEFAULT_ACCOUNT}:user/mgmt-admin");
    // The member account's admin is capped to write by the OU's SCP; the management account's
    // is not (SCPs never restrict it).
    assert_eq!(identity(&report, &deployer)["privilege"], "write");
    assert_eq!(identity(&report, &mgmt)["privilege"], "admin");
    assert_eq!(admin_findings(&report), vec![mgmt]);
    let calls = &report["scan"]["api_calls"];
    for op in [
        "organizations:DescribeOrganization",
        "organizations:ListRoots",
        "organizations:ListPolicies",
    ] {
        assert_eq!(calls[op], 1, "{op}: {calls}");
    }
    // Root and OU: two parents listed for units and accounts.
    assert_eq!(calls["organizations:ListOrganizationalUnitsForParent"], 2);
    assert_eq!(calls["organizations:ListAccountsForParent"], 2);
    // FullAWSAccess and s3-only.
    assert_eq!(calls["organizations:DescribePolicy"], 2, "{calls}");
    assert_eq!(calls["organizations:ListTargetsForPolicy"], 2, "{calls}");
}

#[test]
fn no_organization_is_a_coverage_gap_not_no_scp() {
    let moto = Moto::start();
    runtime().block_on(admin_user(&moto.iam(), "ops"));
    let dir = tempfile::tempdir().unwrap();
    lapse(dir.path(), &moto)
        .args(["--aws", "--aws-organizations-live"])
        .assert()
        .code(3);
    let report = report(dir.path());
    let gaps = report["scan"]["coverage_gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    assert_eq!(gaps[0]["source"], "aws-organizations");
    assert_eq!(gaps[0]["what"], "service control policies");
    assert_eq!(gaps[0]["request"], "organizations:DescribeOrganization");
    let reason = gaps[0]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("no SCP applied"), "{reason}");
    assert!(!reason.contains("testing"), "a credential leaked: {reason}");
    // The IAM scan itself still stands.
    let ops = format!("arn:aws:iam::{DEFAULT_ACCOUNT}:user/ops");
    assert_eq!(identity(&report, &ops)["privilege"], "admin");
}

#[test]
fn the_live_flag_and_a_folder_are_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("lapse").expect("the lapse binary is built");
    moto::isolated_aws_env(&mut cmd);
    cmd.current_dir(dir.path())
        .args(["scan", "--aws-organizations-live", "--aws-organizations"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot be used with"));
}
