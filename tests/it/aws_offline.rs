//! AWS offline collection and analysis: a two-page GetAccountAuthorizationDetails export with
//! URL-encoded documents, a credential report as CSV and as GetCredentialReport JSON, and the
//! facts lapse derives from them; plus the errors bad files give.

use std::path::{Path, PathBuf};

use lapse::analyze::{self, Analysis, AnalysisContext, Exposure, Privilege, Subject};
use lapse::collect::aws::{AwsFilesError, collect_files};
use lapse::inventory::{Inventory, LastUsed};
use serde_json::{Value, json};

const ACCOUNT: &str = "111111111111";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/aws_offline")
        .join(name)
}

fn arn(rest: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:{rest}")
}

fn ctx() -> AnalysisContext {
    AnalysisContext::at("2025-06-01T00:00:00Z".parse().unwrap())
}

fn collect(report: &str) -> Inventory {
    let pages = [
        fixture("details/page-1.json"),
        fixture("details/page-2.json"),
    ];
    collect_files(&pages, &[fixture(report)]).expect("fixtures parse")
}

fn subject<'a>(analysis: &'a Analysis, kind: &str, id: &str) -> &'a Subject {
    analysis
        .subjects
        .iter()
        .find(|s| s.kind == kind && s.resource.id == id)
        .unwrap_or_else(|| panic!("no {kind} {id}"))
}

fn fact(s: &Subject, name: &str) -> Value {
    s.facts
        .get(name)
        .unwrap_or_else(|| panic!("no fact {name}"))
}

#[test]
fn inventory_from_pages_and_report() {
    let inv = collect("credential-report.csv");
    let run = &inv.sources[0];
    assert_eq!(
        (run.source.as_str(), run.scope.as_str()),
        ("aws-offline", ACCOUNT)
    );
    assert!(run.api_calls.is_empty());
    assert!(inv.coverage_gaps.is_empty(), "{:?}", inv.coverage_gaps);

    let kinds: Vec<(&str, &str)> = inv
        .principals
        .iter()
        .map(|p| (p.kind.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(kinds.len(), 9, "{kinds:?}");
    assert!(kinds.contains(&("root", "root")) && kinds.contains(&("user", "ghost")));

    let admin = inv
        .policies
        .iter()
        .find(|p| p.name == "AdministratorAccess")
        .unwrap();
    assert_eq!(
        admin.document.value()["Statement"][0]["Action"],
        "*",
        "default version v2, decoded"
    );
    assert!(admin.provider_managed);
    assert!(
        inv.policies.iter().any(|p| p.name == "ReadOnlyAccess"),
        "name derived from the ARN"
    );

    let ci = arn("user/machines/ci-deploy");
    let via_group: Vec<_> = inv
        .grants
        .iter()
        .filter(|g| g.principal_id == ci && g.via.as_deref() == Some("deployers"))
        .collect();
    assert_eq!(via_group.len(), 1);
    assert_eq!(
        via_group[0].document.as_ref().unwrap().value()["Statement"][0]["Action"],
        "s3:*"
    );
    assert!(
        inv.grants
            .iter()
            .any(|g| g.kind == "permissions_boundary" && g.principal_id == arn("user/alice"))
    );

    let ci_user = inv.principals.iter().find(|p| p.id == ci).unwrap();
    assert_eq!(
        ci_user.tags.get("lapse:owner").map(String::as_str),
        Some("alice")
    );
    assert_eq!(ci_user.attributes["password_enabled"], json!(false));
    assert_eq!(ci_user.path.as_deref(), Some("/machines/"));

    let ids: Vec<&str> = inv.credentials.iter().map(|c| c.id.as_str()).collect();
    let (ci_key, ghost_key) = (format!("{ci}/access_key_1"), arn("user/ghost/access_key_1"));
    assert_eq!(
        ids,
        vec![ci_key.as_str(), ghost_key.as_str()],
        "slot 2 never existed"
    );
    assert_eq!(inv.credentials[1].last_used, LastUsed::Never);

    let gh = inv
        .principals
        .iter()
        .find(|p| p.name == "gh-deploy")
        .unwrap();
    assert_eq!(gh.last_used, LastUsed::Never);
    assert_eq!(inv.trusts.len(), 4);
}

#[test]
fn json_report_reads_like_csv() {
    let csv = collect("credential-report.csv");
    let raw = collect("credential-report.json");
    let as_json =
        |inv: &Inventory| serde_json::to_value((&inv.principals, &inv.credentials)).unwrap();
    assert_eq!(as_json(&csv), as_json(&raw));
}

#[test]
fn facts_of_users_and_keys() {
    let analysis = analyze::analyze(&collect("credential-report.csv"), &ctx());
    let ci = subject(&analysis, "aws.user", &arn("user/machines/ci-deploy"));
    assert_eq!(fact(ci, "privilege"), "write");
    assert_eq!(fact(ci, "wildcard_actions"), json!(["s3:*"]));
    assert_eq!(fact(ci, "groups"), json!(["deployers"]));
    assert_eq!(
        (fact(ci, "machine"), fact(ci, "expired"), fact(ci, "owner")),
        (json!(true), json!(true), json!("alice"))
    );
    assert_eq!(fact(ci, "active_key_count"), 1);
    assert_eq!(ci.risk.scope, Privilege::Write);
    assert_eq!(ci.risk.window_days, Some(-31));

    let alice = subject(&analysis, "aws.user", &arn("user/alice"));
    // AdministratorAccess within a ReadOnlyAccess boundary: read, and the evidence says why.
    assert_eq!(fact(alice, "privilege"), "read");
    assert_eq!(fact(alice, "effective_privilege"), "read");
    assert_eq!(fact(alice, "admin_via"), json!([]));
    let reduced = fact(alice, "reduced_by");
    assert_eq!(
        reduced[0],
        "permissions boundary arn:aws:iam::aws:policy/ReadOnlyAccess caps admin to read"
    );
    let cut = reduced[1].as_str().unwrap();
    assert!(
        cut.starts_with("escalation paths cut by permissions boundary: iam-007, iam-008"),
        "{cut}"
    );
    assert_eq!(fact(alice, "machine"), false);
    assert_eq!(fact(alice, "idle_days"), 0);
    assert_eq!(
        fact(alice, "permissions_boundary"),
        "arn:aws:iam::aws:policy/ReadOnlyAccess"
    );

    let temp = subject(&analysis, "aws.user", &arn("user/temp-contractor"));
    assert_eq!(
        fact(temp, "privilege"),
        "none",
        "inline Deny * cancels AdministratorAccess"
    );
    assert_eq!(
        (fact(temp, "expiry_marker"), fact(temp, "provisional")),
        (json!("invalid"), json!(false))
    );

    let key = subject(
        &analysis,
        "aws.access_key",
        &format!("{}/access_key_1", arn("user/machines/ci-deploy")),
    );
    assert_eq!(
        (fact(key, "age_days"), fact(key, "idle_days")),
        (json!(517), json!(11))
    );
    assert_eq!(
        (fact(key, "usage"), fact(key, "last_used_service")),
        (json!("used"), json!("s3"))
    );
    assert_eq!(
        (fact(key, "user_privilege"), fact(key, "user_provisional")),
        (json!("write"), json!(true))
    );

    let ghost = subject(&analysis, "aws.access_key", &arn("user/ghost/access_key_1"));
    assert_eq!(
        (fact(ghost, "never_used"), fact(ghost, "usage")),
        (json!(true), json!("never"))
    );
    assert_eq!(ghost.risk.idle_days, Some(731), "never used counts its age");

    let root = subject(&analysis, "aws.root", &arn("root"));
    assert_eq!(
        (fact(root, "mfa_active"), fact(root, "active_key_count")),
        (json!(true), json!(0))
    );
    assert_eq!(fact(root, "password_idle_days"), 91);
}

#[test]
fn facts_of_roles() {
    let analysis = analyze::analyze(&collect("credential-report.csv"), &ctx());
    let open = subject(&analysis, "aws.role", &arn("role/gh-deploy"));
    assert_eq!(
        (fact(open, "github_oidc_unbound"), fact(open, "privilege")),
        (json!(true), json!("admin"))
    );
    assert_eq!(fact(open, "github_repos"), json!(["org/*"]));
    assert_eq!(fact(open, "never_used"), true);
    assert_eq!(open.risk.exposure, Exposure::Public);

    let bound = subject(&analysis, "aws.role", &arn("role/gh-bound"));
    assert_eq!(
        (
            fact(bound, "github_oidc"),
            fact(bound, "github_oidc_unbound")
        ),
        (json!(true), json!(false))
    );
    assert_eq!(fact(bound, "github_repos"), json!(["org/app"]));
    assert_eq!(
        (fact(bound, "privilege"), fact(bound, "idle_days")),
        (json!("read"), json!(1))
    );
    assert_eq!(bound.risk.exposure, Exposure::CrossAccount);

    let vendor = subject(&analysis, "aws.role", &arn("role/vendor"));
    assert_eq!(
        fact(vendor, "trust_accounts_without_external_id"),
        json!(["222222222222"])
    );
    assert_eq!(vendor.risk.exposure, Exposure::CrossAccount);

    let support = arn("role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport");
    let support = subject(&analysis, "aws.role", &support);
    assert_eq!(
        (fact(support, "service_linked"), fact(support, "machine")),
        (json!(true), json!(false))
    );
    assert_eq!(
        fact(support, "trust_services"),
        json!(["support.amazonaws.com"])
    );

    let identity = analysis
        .identities
        .iter()
        .find(|i| i.resource.name == "ci-deploy")
        .unwrap();
    assert_eq!(
        (identity.window.as_str(), identity.active_credentials),
        ("expired", 1)
    );
    assert_eq!(
        identity.grants,
        vec!["ReadOnlyAccess", "deploy (group deployers)"]
    );
}

/// `aws iam list-roles` output among the details files, found by its `Roles` key, supplies what
/// GetAccountAuthorizationDetails lacks; a role it does not list stays unknown (null).
#[test]
fn list_roles_output_fills_session_limits_by_arn() {
    let files = [
        fixture("list-roles.json"),
        fixture("details/page-1.json"),
        fixture("details/page-2.json"),
    ];
    let inv = collect_files(&files, &[fixture("credential-report.csv")]).unwrap();
    let deploy = inv
        .principals
        .iter()
        .find(|p| p.id == arn("role/gh-deploy"))
        .unwrap();
    assert_eq!(deploy.description.as_deref(), Some("GitHub Actions deploy"));
    let analysis = analyze::analyze(&inv, &ctx());
    let session = |role: &str| {
        fact(
            subject(&analysis, "aws.role", &arn(role)),
            "max_session_duration_secs",
        )
        .clone()
    };
    assert_eq!(session("role/gh-deploy"), json!(43200));
    assert_eq!(session("role/vendor"), json!(3600));
    assert_eq!(session("role/gh-bound"), Value::Null);

    let without = analyze::analyze(&collect("credential-report.csv"), &ctx());
    let deploy = subject(&without, "aws.role", &arn("role/gh-deploy"));
    assert_eq!(fact(deploy, "max_session_duration_secs"), Value::Null);
}

#[test]
fn folder_of_pages_reads_like_the_files() {
    let folder = collect_files(&[fixture("details")], &[fixture("credential-report.csv")]).unwrap();
    assert_eq!(
        folder.principals.len(),
        collect("credential-report.csv").principals.len()
    );
}

#[test]
fn details_without_report_is_a_coverage_gap() {
    let inv = collect_files(&[fixture("details/page-1.json")], &[]).unwrap();
    assert_eq!(inv.coverage_gaps.len(), 3, "{:?}", inv.coverage_gaps);
    assert!(
        inv.coverage_gaps
            .iter()
            .any(|g| g.what == "credential report" && g.scope == ACCOUNT)
    );
    // Page 1 attaches policies whose documents are on page 2.
    assert!(
        inv.coverage_gaps
            .iter()
            .any(|g| g.what.starts_with("policy document of"))
    );
}

fn error_of(details: &str, report: Option<&str>) -> String {
    let reports: Vec<PathBuf> = report.map(fixture).into_iter().collect();
    match collect_files(&[fixture(details)], &reports) {
        Err(err) => err.to_string(),
        Ok(_) => panic!("{details} should not parse"),
    }
}

#[test]
fn truncated_json_names_file_and_line() {
    let message = error_of("bad/truncated.json", None);
    assert!(message.contains("truncated.json:"), "{message}");
    assert!(message.contains("EOF while parsing"), "{message}");
}

#[test]
fn missing_field_names_file_line_and_field() {
    let message = error_of("bad/missing-arn.json", None);
    let after = message
        .split("missing-arn.json:")
        .nth(1)
        .unwrap_or_default();
    assert!(after.starts_with(|c: char| c.is_ascii_digit()), "{message}");
    assert!(message.contains("missing field `Arn`"), "{message}");
}

#[test]
fn wrong_header_names_the_column() {
    let message = error_of("details/page-1.json", Some("bad/wrong-header.csv"));
    assert!(
        message.contains("wrong-header.csv") && message.contains("`mfa_active`"),
        "{message}"
    );
}

#[test]
fn other_json_is_not_details() {
    let err = collect_files(&[fixture("bad/not-details.json")], &[]).unwrap_err();
    assert!(matches!(err, AwsFilesError::Invalid { .. }), "{err}");
}

#[test]
fn missing_file_is_an_io_error() {
    let err = collect_files(&[fixture("nope.json")], &[]).unwrap_err();
    assert!(err.to_string().contains("nope.json: cannot read"), "{err}");
}

/// Entities are parsed in parallel, each from its own slice of the file: an error inside one
/// must still name the line and column in the file, exactly where a whole-file parse puts it.
#[test]
fn entity_errors_point_into_the_file() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Whole {
        #[serde(rename = "UserDetailList")]
        users: Vec<lapse::collect::aws::details::UserDetail>,
    }
    let dir = tempfile::tempdir().unwrap();
    let good = json!({"UserName": "a", "Arn": "arn:aws:iam::123456789012:user/a"});
    for (name, bad) in [
        ("missing-field", json!({"UserName": "b"})),
        (
            "wrong-type",
            json!({"UserName": "b", "Arn": "arn:aws:iam::123456789012:user/b", "Tags": 5}),
        ),
    ] {
        let page = json!({"UserDetailList": [good, good, bad, good]});
        let text = serde_json::to_string_pretty(&page).unwrap();
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, &text).unwrap();
        let whole = serde_json::from_str::<Whole>(&text).err().unwrap();
        let err = collect_files(std::slice::from_ref(&path), &[]).unwrap_err();
        match err {
            AwsFilesError::Json { line, column, .. } => {
                assert_eq!((line, column), (whole.line(), whole.column()), "{name}");
                assert!(line > 10, "{name}: line {line} is inside the third user");
            }
            other => panic!("{name}: {other}"),
        }
    }
}
