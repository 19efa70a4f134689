//! Hostile and broken input, end to end through the real binary: every object lapse cannot use
//! is a coverage gap or an exit 2 naming the file, never a crash, a silent drop or a raw escape.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::cli::lapse;

const AS_OF: &str = "2026-11-20T00:00:00Z";

fn estate() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/estate")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `lapse collect --save` of the demo estate.
fn demo_inventory(dir: &Path) -> PathBuf {
    let estate = estate();
    let inventory = dir.join("inv.json");
    lapse()
        .arg("collect")
        .arg("--aws-authorization-details")
        .arg(&estate)
        .arg("--aws-credential-report")
        .arg(estate.join("credential-report.csv"))
        .arg("--save")
        .arg(&inventory)
        .assert()
        .code(0);
    inventory
}

fn evaluate(inventories: &[&Path], out: &Path) -> std::process::Output {
    lapse()
        .arg("evaluate")
        .args(inventories)
        .args(["--as-of", AS_OF, "--fail-on", "never", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

fn finding_keys(report: &Value) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let rule = f["rule_id"].as_str().unwrap().to_string();
            (rule, f["resource"]["id"].as_str().unwrap().to_string())
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn an_inventory_given_twice_is_judged_once() {
    let dir = tempfile::tempdir().unwrap();
    let inv = demo_inventory(dir.path());
    let once = evaluate(&[&inv], &dir.path().join("once"));
    assert_eq!(once.status.code(), Some(0));
    let twice = evaluate(&[&inv, &inv], &dir.path().join("twice"));
    assert_eq!(
        twice.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
    let once = read_json(&dir.path().join("once/lapse-report.json"));
    let twice = read_json(&dir.path().join("twice/lapse-report.json"));
    assert_eq!(finding_keys(&once), finding_keys(&twice));
    assert_eq!(once["inventory"], twice["inventory"]);
}

#[test]
fn overlapping_shards_keep_the_copy_collected_later_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let inv = demo_inventory(dir.path());
    let mut later = read_json(&inv);
    let collected: chrono::DateTime<chrono::Utc> =
        later["collected_at"].as_str().unwrap().parse().unwrap();
    later["collected_at"] = json!((collected + chrono::Duration::hours(1)).to_rfc3339());
    let renamed = later["principals"][0]["id"].as_str().unwrap().to_string();
    later["principals"][0]["name"] = json!("renamed-later");
    let later_path = dir.path().join("later.json");
    std::fs::write(&later_path, later.to_string()).unwrap();
    // Named first, collected later: it still wins.
    let output = evaluate(&[&later_path, &inv], &dir.path().join("out"));
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("principal aws {renamed} differs"))
            && stderr.contains("later.json"),
        "{stderr}"
    );
    let report = read_json(&dir.path().join("out/lapse-report.json"));
    let names: Vec<&str> = report["identities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["resource"]["id"] == renamed.as_str())
        .map(|i| i["resource"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["renamed-later"]);
}

/// `lapse scan` of one details file (or folder) with extra arguments, into `out`.
fn scan_details(details: &Path, args: &[&str], out: &Path) -> std::process::Output {
    lapse()
        .arg("scan")
        .arg("--aws-authorization-details")
        .arg(details)
        .args(args)
        .arg(out)
        .output()
        .unwrap()
}

/// A details page whose only user holds one managed policy with the given document.
fn details_with_policy_document(dir: &Path, document: Value) -> PathBuf {
    let arn = "arn:aws:iam::111122223333:policy/odd";
    let page = json!({
        "UserDetailList": [{
            "Path": "/", "UserName": "bot", "UserId": "AIDAODD0000000000001",
            "Arn": "arn:aws:iam::111122223333:user/bot", "CreateDate": "2026-01-01T00:00:00Z",
            "UserPolicyList": [], "GroupList": [],
            "AttachedManagedPolicies": [{"PolicyName": "odd", "PolicyArn": arn}], "Tags": []
        }],
        "GroupDetailList": [], "RoleDetailList": [],
        "Policies": [{
            "PolicyName": "odd", "PolicyId": "ANPAODD", "Arn": arn, "Path": "/",
            "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": true,
            "PolicyVersionList": [{"Document": document, "VersionId": "v1", "IsDefaultVersion": true}]
        }]
    });
    let path = dir.join("details.json");
    std::fs::write(&path, page.to_string()).unwrap();
    path
}

#[test]
fn a_policy_document_lapse_cannot_read_is_a_coverage_gap() {
    let admin = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    // Encoded three times: the collector decodes one level, the analysis one more, leaving a
    // string where the statements should be.
    let once = Value::String(admin.to_string());
    let thrice = Value::String(Value::String(once.to_string()).to_string());
    for (label, document) in [
        ("null", json!("null")),
        ("array", json!("[]")),
        ("deep", thrice),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let details = details_with_policy_document(dir.path(), document);
        let output = scan_details(
            &details,
            &["--as-of", AS_OF, "--fail-on", "never", "--quiet", "--out"],
            &dir.path().join("out"),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{label}: {stderr}");
        let report = read_json(&dir.path().join("out/lapse-report.json"));
        let gaps = report["scan"]["coverage_gaps"].as_array().unwrap();
        assert!(
            gaps.iter().any(|g| g["what"]
                == "policy document of arn:aws:iam::111122223333:policy/odd"
                && g["reason"]
                    .as_str()
                    .unwrap()
                    .contains("granting no permissions")),
            "{label}: {gaps:?}"
        );
    }
}

#[test]
fn an_out_folder_holding_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("estate");
    std::fs::create_dir(&inputs).unwrap();
    for page in [
        "authorization-details-page-1.json",
        "authorization-details-page-2.json",
    ] {
        std::fs::copy(estate().join(page), inputs.join(page)).unwrap();
    }
    for out in [inputs.clone(), dir.path().to_path_buf()] {
        let output = scan_details(&inputs, &["--fail-on", "never", "--quiet", "--out"], &out);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("holds the input"), "{stderr}");
        assert!(!inputs.join("lapse-report.json").exists());
    }
}

#[test]
fn bom_and_utf16_files_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(estate().join("authorization-details-page-1.json")).unwrap();
    let bom = dir.path().join("bom.json");
    std::fs::write(&bom, [b"\xef\xbb\xbf".as_slice(), text.as_bytes()].concat()).unwrap();
    let utf16 = dir.path().join("utf16.json");
    let wide: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(&utf16, wide).unwrap();
    for (file, named) in [(&bom, "byte-order mark"), (&utf16, "UTF-16LE")] {
        let output = scan_details(file, &["--quiet", "--out"], &dir.path().join("out"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(named), "{stderr}");
    }
}

#[test]
fn a_missing_file_gives_its_os_error_once() {
    let dir = tempfile::tempdir().unwrap();
    let output = lapse()
        .arg("evaluate")
        .arg(dir.path().join("missing.json"))
        .args(["--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_shown_without_loss() {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.json");
    let path = dir.path().join(name);
    std::fs::write(&path, "{\"UserDetailList\": [").unwrap();
    let output = scan_details(&path, &["--quiet", "--out"], &dir.path().join("out"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("caf\\xe9.json:1:"), "{stderr}");
}

#[test]
fn a_huge_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inv.json");
    // Sparse: 2 GiB of zeros that take no disk; lapse must refuse it from its size.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let output = evaluate(&[&path], &dir.path().join("out"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("2147483648 bytes; lapse reads at most"),
        "{stderr}"
    );
}

const RULE: &str = r#"id = "ACME-001"
title = "Hostile"
family = "unrotated"
severity = "low"
status = "preview"
applies_to = ["aws.access_key"]
condition = "CONDITION"

[docs]
rationale = "Why."
remediation = "Fix."
example = "Example."
"#;

fn rules_dir(dir: &Path, condition: &str) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("acme.toml"),
        RULE.replace("CONDITION", condition),
    )
    .unwrap();
    rules
}

/// `lapse rules list --rules DIR`, which must exit 2; its stderr.
fn rules_list_refuses(rules: &Path) -> String {
    let output = lapse()
        .args(["rules", "list", "--rules"])
        .arg(rules)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn a_deeply_nested_condition_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let condition = format!("{}r.active{}", "(".repeat(2000), ")".repeat(2000));
    let rules = rules_dir(dir.path(), &condition);
    let stderr = rules_list_refuses(&rules);
    assert!(
        stderr.contains("acme.toml:7: condition nests brackets"),
        "{stderr}"
    );
}

/// A `duration()` literal of a million terms panics inside cel-interpreter (chrono overflows):
/// the rule file is refused at load, by its size or its condition's. (A panic that gets through
/// is contained per rule and subject: `rules::engine` tests.)
#[test]
fn a_huge_duration_literal_is_refused_at_load() {
    for (terms, message) in [
        (
            10_000,
            "acme.toml:7: condition is 110029 bytes; at most 4096",
        ),
        (
            1_000_100,
            "bytes; lapse reads at most 1048576 bytes from one file",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let condition = format!(
            "duration('{}') > duration('1s')",
            "9223372036s".repeat(terms)
        );
        let rules = rules_dir(dir.path(), &condition);
        let stderr = rules_list_refuses(&rules);
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_in_rules_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_dir(dir.path(), "r.active");
    std::os::unix::fs::symlink(&rules, rules.join("again")).unwrap();
    let stderr = rules_list_refuses(&rules);
    assert!(stderr.contains("symlink loop"), "{stderr}");
    assert!(!stderr.contains("already defined"), "{stderr}");
}

#[test]
fn explain_and_errors_never_print_raw_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_dir(dir.path(), "r.active");
    let file = rules.join("acme.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("Why.", "Why.\\u001b]0;owned\\u0007\\u202e"),
    )
    .unwrap();
    let output = lapse()
        .args(["rules", "explain", "ACME-001", "--rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains('\x1b') && !stdout.contains('\u{202e}'),
        "{stdout:?}"
    );
    // A parser quoting file data in its error (an unknown format in lapse.toml).
    std::fs::write(
        dir.path().join("lapse.toml"),
        "[scan]\nformats = [\"\x1b[2Jjson\"]\n",
    )
    .unwrap();
    let output = lapse()
        .current_dir(dir.path())
        .args(["rules", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
}

#[test]
fn a_run_whose_reports_fail_is_not_recorded_in_history() {
    let dir = tempfile::tempdir().unwrap();
    let inv = demo_inventory(dir.path());
    // A file where the reports folder should be: every report fails to write.
    let out = dir.path().join("out");
    std::fs::write(&out, "not a folder").unwrap();
    let history = dir.path().join("history.parquet");
    let output = lapse()
        .arg("evaluate")
        .arg(&inv)
        .args(["--as-of", AS_OF, "--fail-on", "never", "--out"])
        .arg(&out)
        .arg("--history")
        .arg(&history)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !history.exists(),
        "a failed run must not be appended to --history"
    );
}

#[test]
fn hostile_names_in_the_markdown_summary_do_not_crash_it() {
    let dir = tempfile::tempdir().unwrap();
    let inv = demo_inventory(dir.path());
    let mut value = read_json(&inv);
    // Names that escaping inflates, multi-byte, enough of them to pass the size limit.
    let name = format!("é|<@[{}", "é".repeat(200));
    for principal in value["principals"].as_array_mut().unwrap() {
        principal["name"] = json!(name);
    }
    for credential in value["credentials"].as_array_mut().unwrap() {
        credential["name"] = json!(format!("\u{202e}www.evil.example{name}"));
    }
    std::fs::write(&inv, value.to_string()).unwrap();
    let output = lapse()
        .arg("evaluate")
        .arg(&inv)
        .args([
            "--as-of",
            AS_OF,
            "--fail-on",
            "never",
            "--format",
            "markdown",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("out/lapse-summary.md")).unwrap();
    assert!(!md.contains('\u{202e}') && !md.contains("www.evil"), "{md}");
}

#[test]
fn findings_on_a_credential_name_its_holder_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let estate = estate();
    let out = dir.path().join("out");
    let output = lapse()
        .arg("scan")
        .arg("--aws-authorization-details")
        .arg(&estate)
        .arg("--aws-credential-report")
        .arg(estate.join("credential-report.csv"))
        .args(["--as-of", AS_OF, "--fail-on", "never", "--format"])
        .arg("json,html,sarif,ocsf,csv,parquet,markdown")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = "arn:aws:iam::111122223333:user/ci-deploy/access_key_1";
    let holder = json!({"kind": "user", "id": "arn:aws:iam::111122223333:user/ci-deploy", "name": "ci-deploy"});
    let report = read_json(&out.join("lapse-report.json"));
    let on_key: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["resource"]["id"] == key)
        .collect();
    assert!(!on_key.is_empty());
    assert!(
        on_key.iter().all(|f| f["principal"] == holder),
        "{on_key:?}"
    );
    let shown = "ci-deploy (user arn:aws:iam::111122223333:user/ci-deploy)";
    let sarif = std::fs::read_to_string(out.join("lapse-report.sarif")).unwrap();
    assert!(sarif.contains(&format!("held by {shown}")), "sarif");
    let ocsf = std::fs::read_to_string(out.join("lapse-report.ocsf.json")).unwrap();
    assert!(ocsf.contains("\"owner\":{\"name\":\"ci-deploy\""), "ocsf");
    let csv = std::fs::read_to_string(out.join("lapse-findings.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("principal_kind,principal_name"),
        "csv"
    );
    let html = std::fs::read_to_string(out.join("lapse-report.html")).unwrap();
    assert!(html.contains(shown), "html");
    // The terminal's "held by" line: `render::terminal_summary_names_the_holder…`.
    let md = std::fs::read_to_string(out.join("lapse-summary.md")).unwrap();
    assert!(md.contains("| Held by |"), "{md}");
}

#[test]
fn aws_014_without_list_roles_is_listed_as_not_judged_and_keeps_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let estate = estate();
    let out = dir.path().join("out");
    let output = lapse()
        .arg("scan")
        .arg("--aws-authorization-details")
        .arg(estate.join("authorization-details-page-1.json"))
        .arg("--aws-authorization-details")
        .arg(estate.join("authorization-details-page-2.json"))
        .arg("--aws-credential-report")
        .arg(estate.join("credential-report.csv"))
        .args(["--as-of", AS_OF, "--fail-on", "never", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Not judged") && stdout.contains("AWS-014"),
        "{stdout}"
    );
    let report = read_json(&out.join("lapse-report.json"));
    assert_eq!(report["scan"]["complete"], true);
    let not_judged = report["scan"]["not_judged"].as_array().unwrap();
    assert_eq!(not_judged.len(), 1, "{not_judged:?}");
    assert_eq!(not_judged[0]["rule_id"], "AWS-014");
    assert!(not_judged[0]["subjects"].as_u64().unwrap() > 0);
    let html = std::fs::read_to_string(out.join("lapse-report.html")).unwrap();
    assert!(html.contains("id=\"not-judged\""), "html");
}

#[test]
fn a_string_encoded_document_nested_too_deep_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("{{\"Statement\":{}{}}}", "[".repeat(500), "]".repeat(500));
    let details = details_with_policy_document(dir.path(), Value::String(deep));
    let output = scan_details(
        &details,
        &["--as-of", AS_OF, "--fail-on", "never", "--quiet", "--out"],
        &dir.path().join("out"),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("details.json:1:") && stderr.contains("recursion limit"),
        "{stderr}"
    );
}
