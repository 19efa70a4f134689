//! Render: the JSON report against its schema and back, the HTML report's escaping, embedded
//! data, CSP and size at 100k findings, and the terminal summary's escaping.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use lapse::analyze::{Identity, Privilege};
use lapse::cli::Format;
use lapse::findings::{Family, Finding, Reference, Severity, Suppression, fingerprint};
use lapse::inventory::{CoverageGap, Location, Provider, ResourceRef, SourceRun};
use lapse::render::{self, RenderError, html, v1};
use lapse::report::{InventorySummary, Report, ScanMeta, SuppressionIssue};
use lapse::rules::{Rule, RuleDocs, RuleStatus};
use sha2::{Digest, Sha256};

const HOSTILE: [&str; 3] = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/render")
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, day, 12, 0, 0).unwrap()
}

fn resource(kind: &str, name: &str) -> ResourceRef {
    ResourceRef {
        provider: Provider::Aws,
        kind: kind.to_string(),
        id: format!("arn:aws:iam::123456789012:{kind}/{name}"),
        name: name.to_string(),
    }
}

fn finding(rule: &str, family: Family, severity: Severity, risk: u8, on: ResourceRef) -> Finding {
    let mut evidence = BTreeMap::new();
    evidence.insert("age_days".to_string(), serde_json::json!(400));
    evidence.insert("name".to_string(), serde_json::json!(on.name.clone()));
    Finding {
        rule_id: rule.to_string(),
        title: format!("{rule} on {}", on.name).into(),
        family,
        severity,
        risk,
        fingerprint: fingerprint(rule, &on, None),
        principal_id: None,
        principal: None,
        resource: on,
        evidence,
        remediation: "Rotate the key, then delete the old one.".into(),
        location: None,
        suppressed: None,
    }
}

fn identity(name: &str) -> Identity {
    Identity {
        resource: resource("user", name),
        scope: "123456789012".to_string(),
        privilege: Privilege::Admin,
        window: "standing".to_string(),
        expires_at: None,
        active_credentials: 2,
        oldest_credential_age_days: Some(400),
        idle_days: None,
        grants: vec!["AdministratorAccess".to_string()],
        access: "standing".into(),
        machine: true,
        provisional_grants: Vec::new(),
    }
}

fn rule(id: &str, title: &str) -> Rule {
    Rule {
        id: id.to_string(),
        title: title.to_string(),
        family: Family::Unrotated,
        severity: Severity::High,
        status: RuleStatus::Stable,
        applies_to: vec!["aws.access_key".to_string()],
        condition: "true".to_string(),
        params: BTreeMap::new(),
        docs: RuleDocs {
            rationale: "Old keys leak.".to_string(),
            remediation: "Rotate <it>.".to_string(),
            example: "a key created in 2019".to_string(),
        },
        references: vec![
            Reference {
                framework: "OWASP NHI Top 10 2025".to_string(),
                id: "NHI7".to_string(),
                url: Some("https://owasp.org/www-project-non-human-identities-top-10/".to_string()),
            },
            Reference {
                framework: "CIS AWS".to_string(),
                id: "1.14".to_string(),
                url: Some("javascript:alert(3)".to_string()),
            },
        ],
        source: "builtin:rules/test.toml".to_string(),
        enabled: true,
    }
}

fn empty_report(findings: Vec<Finding>, identities: Vec<Identity>) -> Report {
    Report {
        scan: ScanMeta {
            started_at: at(1),
            as_of: at(1),
            duration_ms: 1234,
            sources: vec![SourceRun {
                source: "aws".to_string(),
                scope: "123456789012".to_string(),
                started_at: at(1),
                duration_ms: 1200,
                api_calls: BTreeMap::from([("iam:GetAccountAuthorizationDetails".to_string(), 3)]),
                attributes: BTreeMap::new(),
            }],
            api_calls: BTreeMap::from([("iam:GetAccountAuthorizationDetails".to_string(), 3)]),
            coverage_gaps: Vec::new(),
            not_judged: Vec::new(),
        },
        inventory: InventorySummary {
            principals: BTreeMap::from([("aws.user".to_string(), identities.len() as u64)]),
            ..InventorySummary::default()
        },
        findings,
        identities,
        suppression_issues: Vec::new(),
        rules: vec![rule("aws-key-unrotated", "Access key not rotated")],
        credentials: Vec::new(),
        drift: None,
        history: None,
        revocations: Vec::new(),
    }
}

/// A report whose every provider string an attacker could choose is hostile.
fn hostile_report() -> Report {
    let mut findings = Vec::new();
    let mut identities = Vec::new();
    for (i, name) in HOSTILE.iter().enumerate() {
        identities.push(identity(name));
        let severity = [Severity::Critical, Severity::High, Severity::Low][i];
        let mut f = finding(
            "aws-key-unrotated",
            Family::Unrotated,
            severity,
            90 - i as u8,
            resource("user", name),
        );
        f.title = format!("Key of {name} not rotated").into();
        findings.push(f);
    }
    let mut suppressed = finding(
        "aws-key-unrotated",
        Family::Unused,
        Severity::Medium,
        10,
        resource("user", "svc-ok"),
    );
    suppressed.suppressed = Some(Suppression {
        reason: "<b>migration</b>".to_string(),
        owner: "team".to_string(),
        expires: "2026-01-01".to_string(),
    });
    suppressed.location = Some(Location {
        path: ".github/workflows/ci.yml".to_string(),
        line: Some(12),
        column: None,
    });
    findings.push(suppressed);
    let mut report = empty_report(findings, identities);
    report.scan.coverage_gaps.push(CoverageGap {
        source: "aws".to_string(),
        scope: "123456789012".to_string(),
        what: "credential report".to_string(),
        reason: "<script>alert(4)</script> AccessDenied".to_string(),
        request: Some("iam:GenerateCredentialReport".to_string()),
    });
    report.suppression_issues.push(SuppressionIssue {
        rule: "aws-key-unrotated".to_string(),
        resource: "<img src=x onerror=alert(5)>".to_string(),
        reason: "legacy".to_string(),
        owner: "team".to_string(),
        expires: "2024-01-01".to_string(),
        problem: "expired".to_string(),
    });
    report.revocations.push(lapse::revoke::Revocation {
        resource: resource("role", HOSTILE[0]),
        scope: "123456789012".to_string(),
        expires_at: at(1),
        marker_source: "tag".to_string(),
        status: "pending".to_string(),
        actions: vec![format!("iam:DetachRolePolicy RoleName={}", HOSTILE[1])],
        performed_at: None,
    });
    report
}

fn schema_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/lapse-report.schema.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn written_json(report: &Report) -> (tempfile::TempDir, PathBuf, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let paths = render::write_all(report, &[Format::Json], dir.path()).unwrap();
    assert_eq!(paths, vec![dir.path().join("lapse-report.json")]);
    let value = serde_json::from_str(&std::fs::read_to_string(&paths[0]).unwrap()).unwrap();
    let path = paths[0].clone();
    (dir, path, value)
}

/// Past `PRETTY_MAX_FINDINGS` the report is written compact, its findings serialized in
/// parallel pieces and batches: it must still be one valid document, every finding in order.
#[test]
fn compact_json_report_is_the_same_document() {
    let mut report = hostile_report();
    let template = report.findings.clone();
    // Crosses several batches of the parallel writer, and ends inside one.
    let n = render::json::PRETTY_MAX_FINDINGS + 20_001;
    report.findings = (0..n)
        .map(|i| {
            let mut finding = template[i % template.len()].clone();
            finding.resource.id = format!("{}-{i}", finding.resource.id);
            finding.fingerprint = format!("{i:032x}");
            finding
        })
        .collect();
    let (_dir, path, value) = written_json(&report);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("\n  "), "written compact");
    let errors: Vec<String> = schema_validator()
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "schema errors: {:#?}",
        &errors[..errors.len().min(5)]
    );
    let expected: Vec<v1::Finding> = report.findings.iter().map(v1::Finding::from).collect();
    assert_eq!(value["findings"], serde_json::to_value(&expected).unwrap());
    // The head is the document's own: every field, the findings last.
    let revocations = text.find("\"revocations\":").unwrap();
    assert!(text.find("\"findings\":[").unwrap() > revocations);
    assert_eq!(
        value["summary"]["total"].as_u64().unwrap()
            + value["summary"]["suppressed"].as_u64().unwrap(),
        n as u64
    );
    assert_eq!(render::json::read_report(&path).unwrap().findings.len(), n);
}

#[test]
fn json_report_validates_against_its_schema() {
    let (_dir, _path, value) = written_json(&hostile_report());
    let validator = schema_validator();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
    assert_eq!(value["schema_version"], lapse::render::v1::SCHEMA_VERSION);
    assert_eq!(value["findings"][0]["resource"]["provider"], "aws");
    assert_eq!(value["scan"]["complete"], false);
    assert_eq!(value["summary"]["total"], 3);
    assert_eq!(value["summary"]["suppressed"], 1);
    assert_eq!(value["summary"]["by_severity"]["critical"], 1);
    assert_eq!(value["summary"]["by_family"]["expired-grant"], 0);
    assert_eq!(value["identities"][0]["finding_count"], 1);
    assert_eq!(value["identities"][0]["max_severity"], "critical");
}

#[test]
fn schema_rejects_a_report_without_findings_or_with_a_bad_severity() {
    let (_dir, _path, value) = written_json(&hostile_report());
    let validator = schema_validator();
    assert!(validator.is_valid(&value));

    let mut missing = value.clone();
    missing.as_object_mut().unwrap().remove("findings");
    assert!(!validator.is_valid(&missing));

    let mut bad_severity = value.clone();
    bad_severity["findings"][0]["severity"] = serde_json::json!("severe");
    assert!(!validator.is_valid(&bad_severity));

    let mut bad_risk = value;
    bad_risk["findings"][0]["risk"] = serde_json::json!(101);
    assert!(!validator.is_valid(&bad_risk));
}

#[test]
fn json_report_reads_back_as_written() {
    let report = hostile_report();
    let (_dir, path, _) = written_json(&report);
    let read = render::read_report(&path).unwrap();
    assert_eq!(read.schema_version, v1::SCHEMA_VERSION);
    assert_eq!(read.findings.len(), report.findings.len());
    for (read, original) in read.findings.iter().zip(&report.findings) {
        assert_eq!(read, &v1::Finding::from(original));
    }
    assert!(read.findings[3].suppressed);
    assert_eq!(read.scan.coverage_gaps.len(), 1);
    assert_eq!(read.identities[1].resource.name, HOSTILE[1]);
    assert_eq!(read.suppression_issues[0].problem, "expired");
}

#[test]
fn read_report_names_the_file_and_line_of_malformed_json() {
    let path = fixtures().join("malformed.json");
    let err = render::read_report(&path).unwrap_err();
    assert!(
        matches!(err, RenderError::Malformed { line: 3, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("malformed.json:3:"), "{message}");
}

#[test]
fn read_report_refuses_another_major_version() {
    let err = render::read_report(&fixtures().join("future-version.json")).unwrap_err();
    assert!(
        matches!(err, RenderError::UnsupportedVersion { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("2.0.0"));
}

#[test]
fn write_all_writes_each_format_once() {
    let dir = tempfile::tempdir().unwrap();
    let report = hostile_report();
    let paths = render::write_all(
        &report,
        &[Format::Json, Format::Html, Format::Json],
        dir.path(),
    )
    .unwrap();
    assert_eq!(paths.len(), 2);
    assert!(paths.iter().all(|p| p.is_file()));
}

fn data_block(page: &str) -> &str {
    let open = r#"<script type="application/json" id="data">"#;
    let start = page.find(open).expect("data block") + open.len();
    let end = start + page[start..].find("</script>").expect("end of data block");
    &page[start..end]
}

fn inline_block<'a>(page: &'a str, open: &str, close: &str) -> &'a str {
    let start = page.find(open).expect("block") + open.len();
    let end = start + page[start..].find(close).expect("end of block");
    &page[start..end]
}

#[test]
fn html_escapes_hostile_provider_strings() {
    let page = html::render_page(&hostile_report()).unwrap();
    assert!(!page.contains("<script>alert"), "raw script from data");
    assert!(!page.contains("<img"), "raw img from data");
    assert!(!page.contains("<b>migration"), "raw markup from data");
    // Exactly the two script elements of the template: the data block and the page script.
    assert_eq!(page.matches("<script").count(), 2);
    assert_eq!(page.matches("</script>").count(), 2);
    // Server-rendered parts escape too (coverage gap reason, suppression issue resource).
    assert!(page.contains("&lt;script&gt;alert(4)&lt;/script&gt; AccessDenied"));
    assert!(page.contains("&lt;img src=x onerror=alert(5)&gt;"));
    // A rule reference with a javascript: URL is not a link; the https one is.
    assert!(!page.contains("javascript:alert"));
    assert!(page.contains(r#"href="https://owasp.org/www-project-non-human-identities-top-10/""#));
    // Rule docs are escaped text.
    assert!(page.contains("Rotate &lt;it&gt;."));
}

#[test]
fn html_embedded_data_round_trips() {
    let report = hostile_report();
    let page = html::render_page(&report).unwrap();
    let block = data_block(&page);
    for forbidden in ["<", ">", "&", "\u{2028}", "\u{2029}"] {
        assert!(!block.contains(forbidden), "{forbidden:?} in data block");
    }
    let data: serde_json::Value = serde_json::from_str(block).unwrap();
    let strings: Vec<&str> = data["s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let name_of = |i: u64| strings[i as usize];
    let f = &data["f"];
    assert_eq!(f["risk"].as_array().unwrap().len(), report.findings.len());
    for (i, original) in report.findings.iter().enumerate() {
        assert_eq!(
            name_of(f["name"][i].as_u64().unwrap()),
            original.resource.name
        );
        assert_eq!(f["fp"][i], original.fingerprint.as_str());
        // The resource id is the interned prefix, plus the name when the low bit says so.
        let rid = f["rid"][i].as_u64().unwrap();
        let mut id = name_of(rid / 2).to_string();
        if rid % 2 == 1 {
            id.push_str(&original.resource.name);
        }
        assert_eq!(id, original.resource.id);
    }
    assert_eq!(
        data["i"]["n"].as_array().unwrap().len(),
        report.identities.len()
    );
    assert!(strings.contains(&HOSTILE[2]));
}

#[test]
fn html_csp_allows_exactly_the_inline_script_and_style() {
    let page = html::render_page(&hostile_report()).unwrap();
    let script = inline_block(&page, "<script>", "</script>");
    let style = inline_block(&page, "<style>", "</style>");
    let hash = |text: &str| {
        use base64::Engine as _;
        let digest = Sha256::digest(text.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(&digest[..])
        )
    };
    let csp = inline_block(
        &page,
        r#"http-equiv="Content-Security-Policy" content=""#,
        "\"",
    );
    // Autoescaped attribute text; the browser decodes `&#39;` back to `'`.
    let csp = csp.replace("&#39;", "'");
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(
        csp.contains(&format!("script-src {};", hash(script))),
        "{csp}"
    );
    assert!(
        csp.contains(&format!("style-src {};", hash(style))),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    // The page script never writes markup from strings.
    assert!(!script.contains("innerHTML") && !script.contains("insertAdjacentHTML"));
    assert!(!script.contains("</script") && !script.contains("<!--"));
}

#[test]
fn html_template_never_marks_data_safe() {
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/report.html.tera"),
    )
    .unwrap();
    let code: String = template.split("#}").skip(1).collect::<Vec<_>>().join("#}");
    assert!(!code.contains("| safe") && !code.contains("|safe"));
}

#[test]
fn html_element_ids_the_browser_tests_rely_on_are_present() {
    let page = html::render_page(&hostile_report()).unwrap();
    for id in [
        "summary",
        "coverage-gaps",
        "filters",
        "filter-severity",
        "filter-family",
        "filter-provider",
        "filter-text",
        "findings-table",
        "findings-body",
        "pager",
        "row-count",
        "detail",
        "identities",
        "frameworks",
        "rules",
        "data",
    ] {
        assert!(page.contains(&format!(r#"id="{id}""#)), "missing #{id}");
    }
}

fn synthetic_report(count: usize) -> Report {
    let rules = [
        ("aws-key-unrotated", Family::Unrotated, Severity::High),
        ("aws-key-unused", Family::Unused, Severity::Medium),
        (
            "aws-user-standing-admin",
            Family::StandingPrivilege,
            Severity::Critical,
        ),
        (
            "aws-role-oidc-any-repo",
            Family::OverScope,
            Severity::Critical,
        ),
    ];
    let identities: Vec<Identity> = (0..count / 4)
        .map(|i| identity(&format!("svc-deploy-{i:06}")))
        .collect();
    let findings = (0..count)
        .map(|i| {
            let (rule, family, severity) = rules[i % rules.len()];
            let key = ResourceRef {
                provider: Provider::Aws,
                kind: "access_key".to_string(),
                id: format!(
                    "arn:aws:iam::123456789012:user/svc-deploy-{:06}/access_key_1",
                    i / 4
                ),
                name: format!("AKIA…{:04}", i % 10_000),
            };
            let mut f = finding(rule, family, severity, (i % 101) as u8, key);
            f.principal_id = Some(format!(
                "arn:aws:iam::123456789012:user/svc-deploy-{:06}",
                i / 4
            ));
            f.evidence
                .insert("age_days".to_string(), serde_json::json!(90 + i % 900));
            f.evidence
                .insert("active".to_string(), serde_json::json!(true));
            f
        })
        .collect();
    empty_report(findings, identities)
}

#[test]
fn html_with_100k_findings_stays_under_25_mb() {
    let page = html::render_page(&synthetic_report(100_000)).unwrap();
    let size = page.len();
    eprintln!("100k-finding HTML report: {:.1} MB", size as f64 / 1e6);
    assert!(size < 25_000_000, "{size} bytes");
    // No row is inlined in the markup: the table body is filled by the script.
    assert!(page.contains(r#"<tbody id="findings-body"></tbody>"#));
    assert!(
        !page.contains("findings-capped"),
        "100k findings are all embedded"
    );
}

#[test]
fn past_the_cap_html_embeds_the_riskiest_and_says_so_while_json_keeps_all() {
    let cap = html::data::MAX_EMBEDDED_FINDINGS;
    let mut report = synthetic_report(cap + 7);
    // The report's order is riskiest first; the page must keep that head.
    report.findings.sort_by_key(|f| std::cmp::Reverse(f.risk));
    let page = html::render_page(&report).unwrap();
    let data: serde_json::Value = serde_json::from_str(data_block(&page)).unwrap();
    let risks = data["f"]["risk"].as_array().unwrap();
    assert_eq!(risks.len(), cap);
    assert_eq!(risks[0], serde_json::json!(report.findings[0].risk));
    let notice = inline_block(&page, r#"<div id="findings-capped""#, "</div>");
    assert!(
        notice.contains(&format!("{cap} riskiest of {} findings", cap + 7)),
        "{notice}"
    );

    let (_dir, path, value) = written_json(&report);
    assert_eq!(value["findings"].as_array().unwrap().len(), cap + 7);
    // Past PRETTY_MAX_FINDINGS the JSON is compact: one line plus the final newline.
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn terminal_summary_escapes_control_characters() {
    let mut report = hostile_report();
    report.findings[0].resource.name = "evil\x1b[2J\x1b]0;owned\x07\nFAKE LINE\r".to_string();
    report.findings[0].title = "title\u{202e}desrever".into();
    let plain = render::summary(&report, false);
    assert!(!plain.contains('\x1b') && !plain.contains('\x07') && !plain.contains('\r'));
    assert!(!plain.contains('\u{202e}'));
    assert!(plain.contains("evil\\u{1b}[2J"), "{plain}");
    assert!(!plain.lines().any(|l| l.starts_with("FAKE LINE")));
    assert!(plain.contains("critical 1"), "{plain}");
    assert!(plain.contains("Coverage gaps"));
    assert!(plain.contains("expired suppression of aws-key-unrotated"));

    let colored = render::summary(&report, true);
    // Our own colour codes only: every ESC starts an SGR sequence (`ESC [ … m`).
    for (i, _) in colored.match_indices('\x1b') {
        let rest = &colored[i + 1..];
        let sgr = rest.starts_with('[')
            && rest[1..]
                .chars()
                .take_while(|c| *c != 'm')
                .all(|c| c.is_ascii_digit() || c == ';');
        assert!(
            sgr,
            "foreign escape at {i}: {:?}",
            &colored[i..(i + 8).min(colored.len())]
        );
    }
    assert!(!colored.contains("\x1b[2J"));
}

#[test]
fn terminal_summary_lists_at_most_ten_findings_in_risk_order() {
    let report = synthetic_report(40);
    let text = lapse::render::terminal::summary_with_reports(
        &report,
        false,
        &[PathBuf::from("out/lapse-report.json")],
    );
    let risks: Vec<u32> = text
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let severity = words.next()?;
            Severity::ALL
                .iter()
                .any(|s| s.as_str() == severity)
                .then(|| words.next()?.parse().ok())?
        })
        .collect();
    assert_eq!(risks.len(), 10, "{text}");
    assert!(risks.windows(2).all(|w| w[0] >= w[1]), "{risks:?}");
    assert!(text.contains("… and 30 more"));
    assert!(text.contains("out/lapse-report.json"));
}

#[test]
fn html_shows_drift_and_trend_escaped() {
    use lapse::drift::history::{Trend, TrendPoint};
    use lapse::drift::{Drift, FindingRef, Widening};
    let mut report = hostile_report();
    let hostile = v1::Finding::from(&report.findings[0]);
    report.drift = Some(Drift {
        old_as_of: at(1),
        new_as_of: at(2),
        new_findings: vec![FindingRef::from(&hostile)],
        resolved_findings: Vec::new(),
        persisting_findings: Vec::new(),
        credentials_added: Vec::new(),
        credentials_removed: Vec::new(),
        credentials_rotated: Vec::new(),
        widened: vec![Widening {
            resource: hostile.resource.clone(),
            old_privilege: v1::Privilege::Read,
            new_privilege: v1::Privilege::Admin,
            added_grants: vec!["<svg onload=alert(6)>".to_string()],
        }],
    });
    let point = |day: u32, total: u64, standing: Option<u64>| TrendPoint {
        run_at: at(day),
        findings: BTreeMap::from([("critical".to_string(), total)]),
        standing,
        provisional: None,
        federated: None,
        median_credential_age_days: Some(120.0),
    };
    report.history = Some(Trend {
        points: vec![
            point(1, 10, Some(4)),
            point(2, 5, Some(2)),
            point(3, 0, None),
        ],
    });
    let page = html::render_page(&report).unwrap();
    assert!(page.contains(r#"id="drift""#) && page.contains(r#"id="trend""#));
    assert!(!page.contains("<script>alert") && !page.contains("<svg onload"));
    assert!(page.contains("&lt;svg onload=alert(6)&gt;"));
    // Three runs, the first at the top of the box (max), the last at the bottom (zero).
    assert!(
        page.contains(r#"points="0.0,5.0 300.0,60.0 600.0,115.0""#),
        "trend points"
    );
    assert!(
        page.contains(r#"points="0.0,5.0 300.0,60.0""#),
        "standing skips the missing run"
    );
}

/// The trend draws every identity window the history holds (standing, provisional, federated)
/// on one scale, and a run without a value (a file an older lapse wrote) is a gap in the line,
/// not a straight segment across it; a value between two gaps is a dot.
#[test]
fn html_trend_draws_federated_identities_and_leaves_gaps() {
    use lapse::drift::history::{Trend, TrendPoint};
    let mut report = synthetic_report(2);
    let point = |day: u32, total: u64, windows: [Option<u64>; 3]| TrendPoint {
        run_at: at(day),
        findings: BTreeMap::from([("high".to_string(), total)]),
        standing: windows[0],
        provisional: windows[1],
        federated: windows[2],
        median_credential_age_days: None,
    };
    report.history = Some(Trend {
        points: vec![
            point(1, 10, [Some(4), Some(1), Some(2)]),
            point(2, 5, [Some(2), None, None]),
            point(3, 0, [Some(4), Some(0), Some(4)]),
            point(4, 0, [Some(1), Some(2), Some(4)]),
        ],
    });
    let page = html::render_page(&report).unwrap();
    let trend = &page[page.find(r#"<figure id="trend""#).unwrap()..];
    let trend = &trend[..trend.find("</figure>").unwrap()];
    // One scale for identities (max 4): 4 → y 5, 2 → y 60; four runs → x 0, 200, 400, 600.
    assert!(
        trend.contains(r#"class="line-federated" points="400.0,5.0 600.0,5.0""#),
        "{trend}"
    );
    assert!(
        trend.contains(r#"class="dot-federated" cx="0.0" cy="60.0""#),
        "a lone run is a dot: {trend}"
    );
    assert!(
        !trend.contains(r#"points="0.0,60.0"#),
        "no line across the gap: {trend}"
    );
    assert!(
        trend.contains(r#"class="line-provisional" points="400.0,115.0 600.0,60.0""#),
        "{trend}"
    );
    assert!(
        trend.contains(r#"class="line-standing" points="0.0,5.0 200.0,60.0 400.0,5.0 600.0,87.5""#),
        "{trend}"
    );
    assert!(
        trend.contains("federated identities (max 4, now 4; no data for 1 run)"),
        "the legend names the series and its gap: {trend}"
    );
    assert!(trend.contains("provisional identities (max 2, now 2; no data for 1 run)"));
    assert!(trend.contains("standing identities (max 4, now 1)"));
    assert!(trend.contains("active findings (max 10, now 0)"));
}

#[test]
fn terminal_summary_names_the_holder_of_a_credential_escaped() {
    let mut report = synthetic_report(3);
    report.findings[0].principal = Some(lapse::findings::Holder {
        kind: "application".into(),
        id: "11111111-0000-0000-0000-000000000001".into(),
        name: "deploy\x1b[2J".into(),
    });
    let text = lapse::render::terminal::summary(&report, false);
    assert!(
        text.contains(
            "held by deploy\\u{1b}[2J (application 11111111-0000-0000-0000-000000000001)"
        ),
        "{text}"
    );
}
