//! Property tests over every parser lapse owns or calls on hostile input: the authorization
//! details and credential report readers, policy and trust documents, lapse.toml and rule
//! files. Arbitrary text and mutations of a valid file must never panic, and either parse or
//! give an error that names the file and, for syntax errors, the line.
//!
//! Small by default (64 cases each) so CI stays quick; a long campaign is
//! `PROPTEST_CASES=100000 scripts/test props::` (proptest reads `PROPTEST_CASES`).

use std::path::Path;

use lapse::analyze::{self, AnalysisContext};
use lapse::collect::aws::credential_report::parse_credential_report;
use lapse::collect::aws::files::parse_details;
use lapse::collect::aws::translate;
use lapse::config::Config;
use lapse::inventory::Document;
use proptest::prelude::*;

const DETAILS: &str = include_str!("../../examples/estate/authorization-details-page-1.json");
const LIST_ROLES: &str = include_str!("../../examples/estate/list-roles.json");
const REPORT: &str = include_str!("../../examples/estate/credential-report.csv");
const CONFIG: &str = include_str!("../../examples/lapse.toml");
const RULE: &str = include_str!("../../rules/unrotated/AWS-001.toml");
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","iam:*"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}},{"Effect":"Deny","NotAction":"s3:*","Resource":["arn:aws:s3:::b/*"]}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"}}},{"Effect":"Allow","Principal":{"AWS":["*","arn:aws:iam::999999999999:root"]},"Action":"sts:AssumeRole"}]}"#;

/// A valid file with a few bytes changed: deleted, duplicated, replaced by a byte that matters
/// to the format (quotes, brackets, separators, newlines, NUL, a high byte).
fn mutated(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    const SPECIAL: &[u8] = b"\"'{}[](),:=\n\r\t\\#\0\xff\xc3 -.0123456789e";
    let edits = prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            0u8..3,
            any::<prop::sample::Index>(),
        ),
        1..8,
    );
    edits.prop_map(move |edits| {
        let mut bytes = seed.as_bytes().to_vec();
        for (at, op, with) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => {
                    bytes.remove(i);
                }
                1 => {
                    let end = (i + 1 + with.index(64)).min(bytes.len());
                    let copy = bytes[i..end].to_vec();
                    bytes.splice(i..i, copy);
                }
                _ => bytes[i] = SPECIAL[with.index(SPECIAL.len())],
            }
        }
        bytes
    })
}

/// Arbitrary bytes, mutations of the seed, or the seed cut short.
fn hostile(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "\\PC{0,256}".prop_map(String::into_bytes),
        mutated(seed),
        any::<prop::sample::Index>()
            .prop_map(move |i| seed.as_bytes()[..i.index(seed.len())].to_vec()),
    ]
}

/// `origin:LINE:` or `origin:LINE:COL:` at the start, or `origin: ` for a whole-file problem.
fn names_the_file(message: &str, origin: &str) -> bool {
    message.starts_with(&format!("{origin}:"))
}

fn ctx() -> AnalysisContext {
    AnalysisContext::at("2026-11-20T00:00:00Z".parse().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn authorization_details_never_panic_and_errors_name_the_file(
        bytes in prop_oneof![hostile(DETAILS), hostile(LIST_ROLES)]
    ) {
        match parse_details(&bytes, "details.json") {
            Ok((details, roles)) => {
                // What parses is translated and analyzed without a panic too.
                let mut details = details;
                details.apply_list_roles(&roles);
                let source = lapse::inventory::SourceRun {
                    source: "aws-offline".into(),
                    scope: String::new(),
                    started_at: chrono::Utc::now(),
                    duration_ms: 0,
                    api_calls: Default::default(),
                    attributes: Default::default(),
                };
                let inventory = translate::to_inventory(details, None, source);
                let _ = analyze::analyze(&inventory, &ctx());
            }
            Err(e) => prop_assert!(names_the_file(&e.to_string(), "details.json"), "{e}"),
        }
    }

    #[test]
    fn credential_reports_never_panic_and_errors_name_the_file(bytes in hostile(REPORT)) {
        if let Err(e) = parse_credential_report(&bytes, "report.csv") {
            prop_assert!(names_the_file(&e.to_string(), "report.csv"), "{e}");
        }
    }

    #[test]
    fn policy_and_trust_documents_never_panic(
        bytes in prop_oneof![hostile(POLICY), hostile(TRUST)]
    ) {
        let text = String::from_utf8_lossy(&bytes);
        // The collector's decoding boundary (URL-encoded or plain), then the analyses.
        if let Ok(document) = lapse::collect::aws::decode_policy_document(&text) {
            check_document(&document);
        }
        if let Ok(document) = Document::from_text(text.to_string()) {
            check_document(&document);
        }
    }

    #[test]
    fn lapse_toml_never_panics_and_errors_name_file_and_line(bytes in hostile(CONFIG)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = Config::parse(Path::new("lapse.toml"), &text) {
            let message = e.to_string();
            prop_assert!(names_the_file(&message, "lapse.toml"), "{message}");
        }
    }

    #[test]
    fn rule_files_never_panic_and_errors_name_file_and_line(bytes in hostile(RULE)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.toml");
        // A copy of a built-in rule under a new id, so a file that parses is not a duplicate.
        let text = String::from_utf8_lossy(&bytes).replace("AWS-001", "ACME-001");
        std::fs::write(&path, text).unwrap();
        let shown = path.display().to_string();
        if let Err(e) = lapse::rules::loader::load(&[dir.path().to_path_buf()], &Config::default()) {
            let message = e.to_string();
            prop_assert!(names_the_file(&message, &shown), "{message}");
        }
    }
}

/// Every analysis that reads a document, on one that may be anything JSON can hold.
fn check_document(document: &Document) {
    let value = document.value();
    let policy = analyze::policy::CompiledPolicy::compile("p", &value);
    let _ = analyze::policy::evaluate(&[&policy], None);
    let _ = analyze::trust::analyze(&value, "111122223333");
}

#[test]
fn deep_json_and_toml_are_refused_without_overflowing() {
    // JSON: serde_json stops at 128 levels with an error naming line and column.
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = parse_details(deep_json.as_bytes(), "deep.json")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("deep.json:1:"), "{err}");
    let deep_document = format!(
        "{{\"Statement\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    // Kept as text, it would read back as `null` (no permissions): refused when made.
    let err = Document::from_text(deep_document).unwrap_err().to_string();
    assert!(err.contains("recursion limit exceeded"), "{err}");
    // TOML: nested arrays and inline tables.
    for deep in [
        format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("a = {}{}", "{b = ".repeat(50_000), "}".repeat(50_000)),
    ] {
        let err = Config::parse(Path::new("lapse.toml"), &deep)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("lapse.toml:1:"), "{err}");
    }
}
