//! Render formats: SARIF 2.1.0 against its schema, OCSF Detection Finding, CSV and Parquet
//! read back, Markdown escaping, the dispatcher writing every format, and the Parquet history.

use std::path::{Path, PathBuf};

use lapse::cli::Format;
use lapse::render::{self, csv, markdown, ocsf, parquet, sarif};
use serde_json::Value;

pub mod sample {
    //! A small report whose provider strings are hostile, shared by the drift and browser tests.

    use std::collections::BTreeMap;

    use chrono::{DateTime, TimeZone, Utc};
    use lapse::analyze::{Identity, Privilege};
    use lapse::findings::{Family, Finding, Reference, Severity, Suppression, fingerprint};
    use lapse::inventory::{CoverageGap, Location, Provider, ResourceRef};
    use lapse::report::{CredentialRecord, InventorySummary, Report, ScanMeta};
    use lapse::rules::{Rule, RuleDocs, RuleStatus};

    pub const IMG: &str = "<img src=x onerror=window.__pwned=1>";
    pub const SCRIPT: &str = "<script>window.__pwned=2</script>";
    pub const PIPE: &str = "a|b `c` [x](https://evil.example) @org/team";

    pub fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, day, 12, 0, 0).unwrap()
    }

    pub fn resource(kind: &str, name: &str) -> ResourceRef {
        ResourceRef {
            provider: Provider::Aws,
            kind: kind.to_string(),
            id: format!("arn:aws:iam::123456789012:{kind}/{name}"),
            name: name.to_string(),
        }
    }

    pub fn finding(rule: &str, severity: Severity, risk: u8, on: ResourceRef) -> Finding {
        Finding {
            rule_id: rule.to_string(),
            title: format!("{rule} on {}", on.name).into(),
            family: Family::Unrotated,
            severity,
            risk,
            fingerprint: fingerprint(rule, &on, None),
            principal_id: None,
            principal: None,
            resource: on.clone(),
            evidence: BTreeMap::from([("name".to_string(), serde_json::json!(on.name))]),
            remediation: "Rotate the key, then delete the old one.".into(),
            location: None,
            suppressed: None,
        }
    }

    pub fn identity(name: &str, privilege: Privilege, window: &str) -> Identity {
        Identity {
            resource: resource("user", name),
            scope: "123456789012".to_string(),
            privilege,
            window: window.to_string(),
            expires_at: None,
            active_credentials: 1,
            oldest_credential_age_days: Some(400),
            idle_days: None,
            grants: vec!["ReadOnlyAccess".to_string()],
            access: "standing".into(),
            machine: true,
            provisional_grants: Vec::new(),
        }
    }

    pub fn credential(name: &str, rotated: DateTime<Utc>) -> CredentialRecord {
        CredentialRecord {
            resource: resource("access_key", name),
            principal_id: Some(resource("user", name).id),
            active: true,
            created_at: Some(at(1) - chrono::Duration::days(400)),
            rotated_at: Some(rotated),
            expires_at: None,
        }
    }

    pub fn rule(id: &str) -> Rule {
        Rule {
            id: id.to_string(),
            title: format!("Rule {id}"),
            family: Family::Unrotated,
            severity: Severity::High,
            status: RuleStatus::Stable,
            applies_to: vec!["aws.access_key".to_string()],
            condition: "true".to_string(),
            params: BTreeMap::new(),
            docs: RuleDocs {
                rationale: "Old keys leak.".to_string(),
                remediation: "Rotate it.".to_string(),
                example: "a key created in 2019".to_string(),
            },
            references: vec![Reference {
                framework: "OWASP NHI Top 10 2025".to_string(),
                id: "NHI7".to_string(),
                url: Some("https://owasp.org/www-project-non-human-identities-top-10/".to_string()),
            }],
            source: "builtin:rules/test.toml".to_string(),
            enabled: true,
        }
    }

    /// Four findings: two with hostile identity names, one in a file, one suppressed.
    pub fn report() -> Report {
        let mut in_file = finding(
            "repo-hardcoded",
            Severity::Critical,
            95,
            resource("secret", "key.env"),
        );
        in_file.location = Some(Location {
            path: "config/my key.env".to_string(),
            line: Some(3),
            column: Some(7),
        });
        let mut suppressed = finding(
            "aws-key-unrotated",
            Severity::Medium,
            40,
            resource("user", "svc-ok"),
        );
        suppressed.suppressed = Some(Suppression {
            reason: "migration".to_string(),
            owner: "team".to_string(),
            expires: "2026-01-01".to_string(),
        });
        let findings = vec![
            in_file,
            finding(
                "aws-key-unrotated",
                Severity::High,
                80,
                resource("user", IMG),
            ),
            finding(
                "aws-key-unrotated",
                Severity::Low,
                20,
                resource("user", SCRIPT),
            ),
            finding("aws-user-admin", Severity::High, 70, resource("user", PIPE)),
            suppressed,
        ];
        Report {
            scan: ScanMeta {
                started_at: at(1),
                as_of: at(1),
                duration_ms: 10,
                sources: Vec::new(),
                api_calls: BTreeMap::new(),
                coverage_gaps: vec![CoverageGap {
                    source: "aws".to_string(),
                    scope: "123456789012".to_string(),
                    what: "credential report".to_string(),
                    reason: "AccessDenied".to_string(),
                    request: None,
                }],
                not_judged: Vec::new(),
            },
            inventory: InventorySummary {
                principals: BTreeMap::from([("aws.user".to_string(), 4)]),
                credentials: BTreeMap::from([("aws.access_key".to_string(), 2)]),
                ..InventorySummary::default()
            },
            findings,
            identities: vec![
                identity(IMG, Privilege::Read, "standing"),
                identity(SCRIPT, Privilege::Write, "provisional"),
                identity(PIPE, Privilege::Admin, "standing"),
            ],
            suppression_issues: Vec::new(),
            rules: vec![rule("aws-key-unrotated"), rule("aws-user-admin")],
            credentials: vec![
                credential("k1", at(1) - chrono::Duration::days(100)),
                credential("k2", at(1) - chrono::Duration::days(10)),
            ],
            drift: None,
            history: None,
            revocations: Vec::new(),
        }
    }
}

fn write_all(formats: &[Format]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let written = render::write_all(&sample::report(), formats, dir.path()).unwrap();
    (dir, written)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_format_is_written_by_the_dispatcher() {
    let all = [
        Format::Json,
        Format::Html,
        Format::Sarif,
        Format::Ocsf,
        Format::Csv,
        Format::Parquet,
        Format::Markdown,
    ];
    let (_dir, written) = write_all(&all);
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
    for (name, expected) in names.iter().zip([
        render::json::FILE_NAME,
        render::html::FILE_NAME,
        sarif::FILE_NAME,
        ocsf::FILE_NAME,
        csv::FILE_NAME,
        parquet::FILE_NAME,
        markdown::FILE_NAME,
    ]) {
        assert_eq!(name, expected);
    }
    for path in &written {
        assert!(
            std::fs::metadata(path).unwrap().len() > 0,
            "{} is empty",
            path.display()
        );
    }
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let (_dir, written) = write_all(&[Format::Sarif]);
    let log = read_json(&written[0]);
    let schema = read_json(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/formats/sarif-schema-2.1.0.json"),
    );
    let mut schema = schema;
    // The two patterns of the vendored rtm.5 text that are not a valid regex (a stray `]`,
    // `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$`), which the validator's meta-schema check
    // refuses; replaced by what it means (`en` or `en-US`). Lapse never writes `language`.
    for owner in ["run", "toolComponent"] {
        schema["definitions"][owner]["properties"]["language"]["pattern"] =
            Value::from("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
    }
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // And the validator does reject a log that breaks the schema, so the check above can fail.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn sarif_results_carry_locations_fingerprints_rules_and_severity() {
    let (_dir, written) = write_all(&[Format::Sarif]);
    let log = read_json(&written[0]);
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["aws-key-unrotated", "aws-user-admin", "repo-hardcoded"]
    );
    assert!(
        rules[0]["help"]["text"]
            .as_str()
            .unwrap()
            .contains("Rotate it.")
    );
    assert_eq!(
        rules[0]["helpUri"],
        "https://owasp.org/www-project-non-human-identities-top-10/"
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let in_file = &results[0];
    assert_eq!(in_file["ruleId"], "repo-hardcoded");
    assert_eq!(in_file["ruleIndex"], 2);
    let physical = &in_file["locations"][0]["physicalLocation"];
    assert_eq!(physical["artifactLocation"]["uri"], "config/my%20key.env");
    assert_eq!(physical["region"]["startLine"], 3);
    assert_eq!(in_file["properties"]["security-severity"], "9.5");
    let cloud = &results[1];
    let logical = &cloud["locations"][0]["logicalLocations"][0];
    assert_eq!(
        logical["fullyQualifiedName"],
        format!("arn:aws:iam::123456789012:user/{}", sample::IMG)
    );
    assert!(cloud["locations"][0].get("physicalLocation").is_none());
    let report = sample::report();
    assert_eq!(
        cloud["partialFingerprints"][sarif::FINGERPRINT_KEY],
        report.findings[1].fingerprint.as_str()
    );
    assert_eq!(cloud["level"], "error");
    assert_eq!(results[4]["suppressions"][0]["kind"], "external");
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 1);
}

#[test]
fn ocsf_events_are_detection_findings() {
    let (_dir, written) = write_all(&[Format::Ocsf]);
    let events = read_json(&written[0]);
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 5);
    for event in events {
        assert_eq!(event["class_uid"], 2004);
        assert_eq!(event["category_uid"], 2);
        assert_eq!(event["type_uid"], 200401);
        assert_eq!(event["metadata"]["product"]["name"], "lapse");
        assert!(
            event["metadata"]["version"]
                .as_str()
                .unwrap()
                .starts_with("1.")
        );
        assert!(event["finding_info"]["uid"].as_str().unwrap().len() == 32);
        assert!(event["time"].as_i64().unwrap() > 0);
    }
    assert_eq!(events[0]["severity_id"], 5);
    assert_eq!(events[3]["severity_id"], 4);
    assert_eq!(events[1]["resources"][0]["name"], sample::IMG);
    assert_eq!(events[1]["resources"][0]["cloud_partition"], "aws");
    assert_eq!(events[1]["cloud"]["provider"], "AWS");
    assert_eq!(events[4]["status_id"], 3);
}

#[cfg(feature = "parquet")]
#[test]
fn csv_reads_back_with_formulas_neutralised() {
    let mut report = sample::report();
    report.findings[3].resource.name = "=HYPERLINK(\"https://evil\",\"x\")".to_string();
    let dir = tempfile::tempdir().unwrap();
    let written = render::write_all(&report, &[Format::Csv], dir.path()).unwrap();
    let mut reader = ::csv::Reader::from_path(&written[0]).unwrap();
    let headers = reader.headers().unwrap().clone();
    let name_at = headers.iter().position(|h| h == "resource_name").unwrap();
    let fp_at = headers.iter().position(|h| h == "fingerprint").unwrap();
    let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[1][name_at], sample::IMG);
    assert_eq!(&rows[3][name_at], "'=HYPERLINK(\"https://evil\",\"x\")");
    assert_eq!(&rows[0][fp_at], report.findings[0].fingerprint.as_str());
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_reads_back_with_polars() {
    use polars::prelude::*;
    let (_dir, written) = write_all(&[Format::Parquet]);
    let frame = ParquetReader::new(std::fs::File::open(&written[0]).unwrap())
        .finish()
        .unwrap();
    assert_eq!(frame.height(), 5);
    let names: Vec<String> = frame
        .column("resource_name")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect();
    assert_eq!(names[1], sample::IMG);
    let risk: Vec<i32> = frame
        .column("risk")
        .unwrap()
        .i32()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect();
    assert_eq!(risk, [95, 80, 20, 70, 40]);
    assert_eq!(
        frame.column("location_line").unwrap().u32().unwrap().get(0),
        Some(3)
    );
}

#[test]
fn markdown_tables_survive_hostile_names() {
    let (_dir, written) = write_all(&[Format::Markdown]);
    let text = std::fs::read_to_string(&written[0]).unwrap();
    assert!(
        text.starts_with("## lapse: 4 findings (incomplete scan)"),
        "{text}"
    );
    assert!(!text.contains("<img"), "{text}");
    assert!(!text.contains("<script"), "{text}");
    assert!(!text.contains("@org"), "{text}");
    let top: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("| Severity | Risk"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert_eq!(top.len(), 2 + 4, "{text}");
    for row in &top {
        // Eight pipes: seven cells. A stray `|` in a name would add one.
        assert_eq!(row.matches('|').count(), 8, "{row}");
    }
    assert!(text.contains("| critical | 1 |"), "{text}");
    assert!(text.contains("coverage gap"), "{text}");
}

#[cfg(feature = "parquet")]
mod history {
    use super::*;
    use lapse::drift::history;
    use polars::prelude::*;

    #[test]
    fn runs_append_and_load_as_a_trend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.parquet");
        let mut first = sample::report();
        first.identities[0].access = "federated".into();
        history::append(&path, &first).unwrap();
        let mut second = sample::report();
        second.scan.as_of = sample::at(2);
        second.findings.truncate(2);
        history::append(&path, &second).unwrap();
        let trend = history::load(&path).unwrap();
        assert_eq!(trend.points.len(), 2);
        let [a, b] = &trend.points[..] else {
            unreachable!()
        };
        assert_eq!(a.run_at, sample::at(1));
        assert_eq!(a.findings["critical"], 1);
        assert_eq!(a.findings["high"], 2);
        assert_eq!(a.findings["low"], 1);
        assert_eq!(
            a.findings["medium"], 0,
            "suppressed findings are not counted"
        );
        assert_eq!(b.findings["high"], 1);
        assert_eq!(b.findings["low"], 0);
        assert_eq!(a.standing, Some(2));
        assert_eq!(a.provisional, Some(1));
        assert_eq!(a.federated, Some(1));
        assert_eq!(b.federated, Some(0));
        assert_eq!(a.median_credential_age_days, Some(55.0));
    }

    #[test]
    fn a_history_from_an_older_schema_loads_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.parquet");
        // Version 1 had no version column, no identity windows and no median age.
        let run_at = sample::at(1).timestamp_millis();
        let mut old = DataFrame::new(
            3,
            vec![
                Column::new("run_at".into(), vec![run_at; 3])
                    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                    .unwrap(),
                Column::new("record".into(), ["finding", "finding", "summary"]),
                Column::new("rule_id".into(), [Some("r"), Some("r"), None]),
                Column::new("severity".into(), [Some("high"), Some("critical"), None]),
                Column::new("suppressed".into(), [Some(false), Some(false), None]),
            ],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut old)
            .unwrap();

        let trend = history::load(&path).unwrap();
        assert_eq!(trend.points.len(), 1);
        assert_eq!(trend.points[0].findings["high"], 1);
        assert_eq!(trend.points[0].standing, None);
        assert_eq!(trend.points[0].federated, None);
        assert_eq!(trend.points[0].median_credential_age_days, None);

        let mut next = sample::report();
        next.scan.as_of = sample::at(3);
        history::append(&path, &next).unwrap();
        let trend = history::load(&path).unwrap();
        assert_eq!(trend.points.len(), 2);
        assert_eq!(trend.points[1].standing, Some(2));
        let table = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        let versions: Vec<Option<i32>> = table
            .column("history_version")
            .unwrap()
            .i32()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(versions[0], Some(1));
        assert_eq!(
            versions.last().copied().flatten(),
            Some(history::HISTORY_VERSION)
        );
    }

    #[test]
    fn a_corrupt_history_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        std::fs::write(&path, b"not parquet").unwrap();
        let error = history::append(&path, &sample::report())
            .unwrap_err()
            .to_string();
        assert!(error.contains("bad.parquet"), "{error}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"not parquet",
            "the file is left as it was"
        );
    }
}
