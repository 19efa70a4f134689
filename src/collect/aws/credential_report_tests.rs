//! Unit tests of the credential report parser.

use base64::Engine as _;

use super::*;

const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";
const ROOT: &str = "<root_account>,arn:aws:iam::111111111111:root,2019-01-01T00:00:00+00:00,not_supported,2024-01-02T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
const CI: &str = "ci,arn:aws:iam::111111111111:user/ci,2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2020-01-01T00:00:00+00:00,2024-05-01T10:00:00+00:00,us-east-1,s3,false,2021-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A";
const OLD: &str = "old,arn:aws:iam::111111111111:user/old,2014-01-01T00:00:00+00:00,true,no_information,2014-01-01T00:00:00+00:00,N/A,true,true,2014-01-01T00:00:00+00:00,no_information,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";

fn csv(rows: &[&str]) -> String {
    let mut text = HEADER.to_string();
    for row in rows {
        text.push('\n');
        text.push_str(row);
    }
    text.push('\n');
    text
}

#[test]
fn parses_rows_and_special_values() {
    let report = parse_credential_report_csv(csv(&[ROOT, CI, OLD]).as_bytes(), "r.csv").unwrap();
    assert_eq!(report.rows.len(), 3);
    let root = &report.rows[0];
    assert!(root.is_root());
    assert_eq!(root.password_enabled, None);
    assert!(root.mfa_active);
    assert!(!root.access_keys[0].exists());
    let ci = &report.rows[1];
    assert_eq!(ci.line, 3);
    assert_eq!(ci.password_enabled, Some(false));
    assert_eq!(ci.password_last_used, LastUsed::Never);
    assert!(ci.access_keys[0].active && ci.access_keys[0].exists());
    assert!(matches!(ci.access_keys[0].last_used, LastUsed::At(_)));
    assert_eq!(ci.access_keys[0].last_used_service.as_deref(), Some("s3"));
    // Inactive but rotated: a key that exists, deactivated, never used.
    assert!(!ci.access_keys[1].active && ci.access_keys[1].exists());
    assert_eq!(ci.access_keys[1].last_used, LastUsed::Never);
    assert_eq!(ci.access_keys[1].last_used_service, None);
    let old = &report.rows[2];
    assert_eq!(old.password_last_used, LastUsed::Unknown);
    assert_eq!(old.access_keys[0].last_used, LastUsed::Unknown);
}

#[test]
fn columns_in_another_order_are_read_by_name() {
    let mut header: Vec<&str> = HEADER.split(',').collect();
    let mut row: Vec<&str> = CI.split(',').collect();
    header.swap(0, 1);
    row.swap(0, 1);
    let text = format!("{}\n{}\n", header.join(","), row.join(","));
    let report = parse_credential_report_csv(text.as_bytes(), "r.csv").unwrap();
    assert_eq!(report.rows[0].user, "ci");
}

#[test]
fn wrong_header_names_the_missing_column() {
    let text = csv(&[CI]).replace("mfa_active", "mfa");
    let err = parse_credential_report_csv(text.as_bytes(), "r.csv").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("r.csv") && message.contains("`mfa_active`"),
        "{message}"
    );
}

#[test]
fn bad_time_names_file_line_and_column() {
    let text = csv(&[CI
        .replace("2024-05-01T10:00:00+00:00", "yesterday")
        .as_str()]);
    let err = parse_credential_report_csv(text.as_bytes(), "r.csv").unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with("r.csv:2:"), "{message}");
    assert!(message.contains("access_key_1_last_used_date"), "{message}");
    assert!(!message.contains("yesterday"), "{message}");
}

#[test]
fn short_row_is_an_error_with_line() {
    let text = csv(&["ci,arn:aws:iam::1:user/ci,true"]);
    let message = parse_credential_report_csv(text.as_bytes(), "r.csv")
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("r.csv:2:"), "{message}");
}

#[test]
fn raw_json_form_is_decoded() {
    let content = base64::engine::general_purpose::STANDARD.encode(csv(&[ROOT, CI]));
    let json = format!(
        r#"{{"Content": "{content}", "ReportFormat": "text/csv", "GeneratedTime": "2024-06-01T00:00:00Z"}}"#
    );
    let report = parse_credential_report(json.as_bytes(), "r.json").unwrap();
    assert_eq!(report.rows.len(), 2);
    assert!(report.generated_at.is_some());
}

#[test]
fn raw_json_with_bad_base64_is_an_error() {
    let err = parse_credential_report(
        br#"{"Content": "!!!", "ReportFormat": "text/csv"}"#,
        "r.json",
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("r.json: Content is not base64"),
        "{err}"
    );
    let err = parse_credential_report(br#"{"ReportFormat": "text/csv"}"#, "r.json").unwrap_err();
    assert!(err.to_string().contains("missing field `Content`"), "{err}");
}
