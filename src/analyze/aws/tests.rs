//! Tests of `analyze::aws` over whole estates: effective privilege, escalation paths, chains.
//! Estates are written as GetAccountAuthorizationDetails JSON and translated as a scan would.

use serde_json::{Value, json};

use crate::analyze::{AnalysisContext, Subject};
use crate::collect::aws::{AuthorizationDetails, to_inventory};
use crate::inventory::{Inventory, SourceRun};

pub(super) const A: &str = "111111111111";
pub(super) const B: &str = "222222222222";

pub(super) fn ctx() -> AnalysisContext {
    AnalysisContext::at("2025-06-01T00:00:00Z".parse().unwrap())
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

/// A folder of `aws organizations` outputs: root r-1 > OU ou-1 > `account`; FullAWSAccess on
/// the root, `scp` on the OU.
pub(super) fn org_folder(account: &str, scp: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, value: Value| {
        std::fs::write(dir.path().join(name), value.to_string()).unwrap();
    };
    write(
        "list-roots.json",
        json!({"Roots": [{"Id": "r-1", "Name": "Root"}]}),
    );
    write(
        "list-organizational-units-for-parent-r-1.json",
        json!({"OrganizationalUnits": [{"Id": "ou-1", "Name": "workloads"}]}),
    );
    write(
        "list-accounts-for-parent-ou-1.json",
        json!({"Accounts": [{"Id": account, "Name": "prod"}]}),
    );
    let full = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    for (id, name, document, target) in [
        ("p-full", "FullAWSAccess", full, "r-1"),
        ("p-guard", "guard", scp, "ou-1"),
    ] {
        write(
            &format!("describe-policy-{id}.json"),
            json!({"Policy": {"PolicySummary": {"Id": id, "Name": name}, "Content": document.to_string()}}),
        );
        write(
            &format!("list-targets-for-policy-{id}.json"),
            json!({"Targets": [{"TargetId": target, "Type": "ORGANIZATIONAL_UNIT"}]}),
        );
    }
    dir
}

pub(super) fn with_org(mut inventory: Inventory, folder: &std::path::Path) -> Inventory {
    let org = crate::collect::aws::organizations::read_folder(folder).unwrap();
    inventory.merge(org);
    inventory
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

/// A chain across accounts, through a role trusted by account root and one trusted by ARN,
/// past a cycle: highest level reached and one witness, hop by hop.
#[test]
fn assume_role_chains_close_across_accounts_and_cycles() {
    let assume =
        |resource: &str| vec![statement("Allow", json!("sts:AssumeRole"), json!(resource))];
    let hop_arn = format!("arn:aws:iam::{B}:role/hop");
    let loop_arn = format!("arn:aws:iam::{B}:role/loop");
    let details = json!({
        "UserDetailList": [
            user(A, "dev", assume(&format!("arn:aws:iam::{B}:role/*"))),
            // Allowed to assume anything, but no trust admits account A's root or it.
            user(A, "bystander", assume("*")),
        ],
        "RoleDetailList": [
            role(B, "hop", json!({"AWS": format!("arn:aws:iam::{A}:user/dev")}), assume("*")),
            role(B, "loop", json!({"AWS": hop_arn}), assume(&hop_arn)),
            role(B, "admin", json!({"AWS": loop_arn}), admin()),
            role(A, "narrow", json!({"AWS": format!("arn:aws:iam::{A}:user/dev")}), vec![]),
        ],
    });
    let subjects = subjects(&inventory(details));
    let dev = format!("arn:aws:iam::{A}:user/dev");
    assert_eq!(fact(&subjects, &dev, "privilege"), json!("write"));
    assert_eq!(fact(&subjects, &dev, "effective_privilege"), json!("admin"));
    let via = "via sts-001 (sts:AssumeRole)";
    assert_eq!(
        fact(&subjects, &dev, "chain"),
        json!([
            format!("{dev} → {hop_arn} {via}"),
            format!("{hop_arn} → {loop_arn} {via}"),
            format!("{loop_arn} → arn:aws:iam::{B}:role/admin {via}"),
        ])
    );
    let bystander = format!("arn:aws:iam::{A}:user/bystander");
    assert_eq!(
        fact(&subjects, &bystander, "effective_privilege"),
        json!("write")
    );
    assert_eq!(fact(&subjects, &bystander, "chain"), json!([]));
    // The cycle hop → loop → hop terminates; both reach admin.
    assert_eq!(
        fact(&subjects, &hop_arn, "effective_privilege"),
        json!("admin")
    );
    assert_eq!(
        fact(&subjects, &loop_arn, "effective_privilege"),
        json!("admin")
    );
}

/// A conditional step makes the path conditional: one level lower in the rules, quoted.
#[test]
fn conditional_paths_are_flagged_and_quoted() {
    let mut put = statement("Allow", json!("iam:PutUserPolicy"), json!("*"));
    put["Condition"] = json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}});
    let details = json!({"UserDetailList": [user(A, "u", vec![put])]});
    let subjects = subjects(&inventory(details));
    let u = format!("arn:aws:iam::{A}:user/u");
    // Nothing is granted without the condition; with it, admin.
    assert_eq!(fact(&subjects, &u, "effective_privilege"), json!("none"));
    assert_eq!(
        fact(&subjects, &u, "effective_privilege_conditional"),
        json!("admin")
    );
    assert_eq!(fact(&subjects, &u, "privilege_conditional"), json!(true));
    assert_eq!(
        fact(&subjects, &u, "escalation_conditions"),
        json!([r#"{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#])
    );
}

/// Credential-exposing actions on every resource are a fact; on one resource they are not.
#[test]
fn credential_exposure_on_every_resource() {
    let details = json!({"UserDetailList": [
        user(A, "wide", vec![statement("Allow", json!(["secretsmanager:GetSecretValue", "sts:AssumeRole"]), json!("*"))]),
        user(A, "narrow", vec![statement("Allow", json!("secretsmanager:GetSecretValue"),
            json!(format!("arn:aws:secretsmanager:eu-west-1:{A}:secret:app-*")))]),
    ]});
    let subjects = subjects(&inventory(details));
    let wide = fact(
        &subjects,
        &format!("arn:aws:iam::{A}:user/wide"),
        "credential_exposure",
    );
    assert_eq!(
        wide,
        json!([
            "secretsmanager:GetSecretValue: every Secrets Manager secret's value",
            "sts:AssumeRole: a session of any role whose trust admits it"
        ])
    );
    let narrow = fact(
        &subjects,
        &format!("arn:aws:iam::{A}:user/narrow"),
        "credential_exposure",
    );
    assert_eq!(narrow, json!([]));
}

/// Effective privilege = identity ∩ boundary ∩ the SCPs of every level of the account's path.
#[test]
fn scps_on_the_account_path_cap_privilege() {
    let allow_s3 = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
    let org = org_folder(A, allow_s3);
    let details = json!({"UserDetailList": [user(A, "ops", admin()), user(B, "ops", admin())]});
    let subjects = subjects(&with_org(inventory(details), org.path()));
    let capped = format!("arn:aws:iam::{A}:user/ops");
    assert_eq!(fact(&subjects, &capped, "privilege"), json!("write"));
    assert_eq!(
        fact(&subjects, &capped, "effective_privilege"),
        json!("write")
    );
    assert_eq!(
        fact(&subjects, &capped, "reduced_by")[0],
        json!("service control policies caps admin to write")
    );
    // Account B is not in the organization's listing: nothing caps it.
    let free = format!("arn:aws:iam::{B}:user/ops");
    assert_eq!(
        fact(&subjects, &free, "effective_privilege"),
        json!("admin")
    );
}

#[test]
fn organization_files_errors_and_gaps() {
    let org = org_folder(A, json!({"Statement": []}));
    std::fs::write(
        org.path().join("list-roots.json"),
        "{\n  \"Roots\": [\n  {\"Id\": 3}]}",
    )
    .unwrap();
    let error = crate::collect::aws::organizations::read_folder(org.path())
        .unwrap_err()
        .to_string();
    assert!(error.contains("list-roots.json:3:"), "{error}");
    let org = org_folder(A, json!({"Statement": []}));
    std::fs::remove_file(org.path().join("describe-policy-p-guard.json")).unwrap();
    let read = crate::collect::aws::organizations::read_folder(org.path()).unwrap();
    assert_eq!(read.coverage_gaps.len(), 1);
    assert!(
        read.coverage_gaps[0]
            .reason
            .contains("describe-policy-p-guard.json")
    );
    assert!(
        read.grants.is_empty(),
        "no SCP applied on a path with a missing one"
    );
}

/// Only IAM Identity Center's own path makes a role a person's SSO role, not its name.
#[test]
fn sso_roles_by_path_only() {
    let sso_role = |name: &str, path: &str| json!({"RoleName": name, "Path": path, "Arn": format!("arn:aws:iam::{A}:role{path}{name}")});
    let details = json!({"RoleDetailList": [
        sso_role("AWSReservedSSO_Admin_1", "/"),
        sso_role("AWSReservedSSO_Admin_2", "/aws-reserved/sso.amazonaws.com/"),
    ]});
    let subjects = subjects(&inventory(details));
    let sso: Vec<(String, Value)> = subjects
        .iter()
        .map(|s| (s.resource.name.clone(), s.facts.get("sso_role").unwrap()))
        .collect();
    assert_eq!(
        sso,
        vec![
            ("AWSReservedSSO_Admin_1".to_string(), json!(false)),
            ("AWSReservedSSO_Admin_2".to_string(), json!(true))
        ]
    );
}

/// Principals that hold the same PassRole statement share one resolution of the roles it can
/// pass; which of them the inventory lists first must not change what the others reach. Here
/// `builder`, itself a role EC2 runs with that can make itself admin, holds the same statement
/// as `ci`: `ci` passes it to EC2 and reaches admin whichever comes first.
#[test]
fn a_shared_passed_role_path_reaches_its_roles_in_any_order() {
    let pass = statement(
        "Allow",
        json!(["iam:PassRole", "ec2:RunInstances"]),
        json!("*"),
    );
    let builder_arn = format!("arn:aws:iam::{A}:role/builder");
    let own_policy = statement("Allow", json!("iam:PutRolePolicy"), json!(builder_arn));
    let builder = role(
        A,
        "builder",
        json!({"Service": "ec2.amazonaws.com"}),
        vec![pass.clone(), own_policy],
    );
    let ci = role(
        A,
        "ci",
        json!({"Service": "lambda.amazonaws.com"}),
        vec![pass],
    );
    let ci_arn = format!("arn:aws:iam::{A}:role/ci");
    for roles in [vec![builder.clone(), ci.clone()], vec![ci, builder]] {
        let first = roles[0]["RoleName"].clone();
        let subjects = subjects(&inventory(json!({"RoleDetailList": roles})));
        assert_eq!(
            fact(&subjects, &builder_arn, "effective_privilege"),
            json!("admin"),
            "{first} first"
        );
        assert_eq!(
            fact(&subjects, &ci_arn, "effective_privilege"),
            json!("admin"),
            "{first} first"
        );
        assert_eq!(
            fact(&subjects, &ci_arn, "chain"),
            json!([format!(
                "{ci_arn} → {builder_arn} via ec2-001 (iam:PassRole + ec2:RunInstances)"
            )]),
            "{first} first"
        );
    }
}

/// A permissions boundary whose document lapse does not have: a coverage gap naming it, the
/// principal's level left uncapped and said so, never a silent pass.
#[test]
fn a_boundary_without_its_document_is_a_coverage_gap() {
    let boundary = format!("arn:aws:iam::{A}:policy/missing-boundary");
    let mut capped = user(A, "capped", admin());
    capped["PermissionsBoundary"] = json!({"PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": boundary});
    let mut also = user(A, "also", admin());
    also["PermissionsBoundary"] = capped["PermissionsBoundary"].clone();
    let inventory = inventory(json!({"UserDetailList": [capped, also]}));
    let gaps: Vec<(&str, &str, &str)> = inventory
        .coverage_gaps
        .iter()
        .map(|g| (g.scope.as_str(), g.what.as_str(), g.reason.as_str()))
        .collect();
    let what = format!("policy document of {boundary}");
    assert_eq!(
        gaps,
        vec![(
            A,
            what.as_str(),
            "the permissions boundary of arn:aws:iam::111111111111:user/capped (and any other \
             principal it bounds), but not in the authorization details' Policies: not applied, \
             so privilege may be overstated"
        )],
        "one gap per boundary, however many principals it bounds"
    );
    let subjects = subjects(&inventory);
    let arn = format!("arn:aws:iam::{A}:user/capped");
    assert_eq!(fact(&subjects, &arn, "effective_privilege"), json!("admin"));
    assert_eq!(
        fact(&subjects, &arn, "reduced_by"),
        json!([format!(
            "permissions boundary {boundary} not applied: its document is not in the inventory"
        )])
    );
}
