//! Collect, AWS: the IAM credential report, as the CSV AWS generates or as the raw
//! `GetCredentialReport` JSON (`{"Content": base64, "ReportFormat": "text/csv", ...}`),
//! parsed into typed rows.
//!
//! AWS spells "unknown" three ways: `N/A` (never: a key never used, a password never set),
//! `no_information` (not tracked: use before 2015) and `not_supported` (the root row).

use std::collections::HashMap;

use base64::Engine as _;
use serde::Deserialize;

use super::AwsFilesError;
use crate::inventory::{LastUsed, Timestamp};

/// The rows of one or more reports (several accounts merge by appending).
#[derive(Debug, Clone, Default)]
pub struct CredentialReport {
    /// `GeneratedTime` of the raw JSON form, when known.
    pub generated_at: Option<Timestamp>,
    pub rows: Vec<CredentialReportRow>,
}

/// One user (or `<root_account>`).
#[derive(Debug, Clone, Default)]
pub struct CredentialReportRow {
    pub user: String,
    pub arn: String,
    pub user_creation_time: Option<Timestamp>,
    /// `None`: `not_supported` (root) or unreadable.
    pub password_enabled: Option<bool>,
    pub password_last_used: LastUsed,
    pub password_last_changed: Option<Timestamp>,
    pub password_next_rotation: Option<Timestamp>,
    pub mfa_active: bool,
    pub access_keys: [KeySlot; 2],
    pub certs: [CertSlot; 2],
    /// 1-based line in the CSV, for messages.
    pub line: u64,
}

impl CredentialReportRow {
    pub fn is_root(&self) -> bool {
        self.user == ROOT_USER
    }
}

#[derive(Debug, Clone, Default)]
pub struct KeySlot {
    pub active: bool,
    pub last_rotated: Option<Timestamp>,
    pub last_used: LastUsed,
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

impl KeySlot {
    /// A slot inactive and never rotated never held a key.
    pub fn exists(&self) -> bool {
        self.active || self.last_rotated.is_some()
    }
}

#[derive(Debug, Clone, Default)]
pub struct CertSlot {
    pub active: bool,
    pub last_rotated: Option<Timestamp>,
}

impl CertSlot {
    pub fn exists(&self) -> bool {
        self.active || self.last_rotated.is_some()
    }
}

/// The `user` of the account's root row.
pub const ROOT_USER: &str = "<root_account>";

/// The columns of the real report, in AWS's order.
pub const COLUMNS: &[&str] = &[
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawReport {
    content: String,
    #[serde(default)]
    report_format: Option<String>,
    #[serde(default)]
    generated_time: Option<Timestamp>,
}

/// Reads a report file in either form: JSON when it starts with `{`, CSV otherwise.
pub fn parse_credential_report(
    bytes: &[u8],
    origin: &str,
) -> Result<CredentialReport, AwsFilesError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        parse_credential_report_json(bytes, origin)
    } else {
        parse_credential_report_csv(bytes, origin)
    }
}

/// The raw `GetCredentialReport` response (`aws iam get-credential-report --output json`).
pub fn parse_credential_report_json(
    bytes: &[u8],
    origin: &str,
) -> Result<CredentialReport, AwsFilesError> {
    let raw: RawReport =
        serde_json::from_slice(bytes).map_err(|e| AwsFilesError::json(origin, &e))?;
    if let Some(format) = raw.report_format.as_deref().filter(|f| *f != "text/csv") {
        return Err(AwsFilesError::invalid(
            origin,
            format!("ReportFormat `{format}` is not text/csv"),
        ));
    }
    // The CLI wraps base64 at no width, but a hand-copied file may carry line breaks.
    let content: String = raw.content.split_whitespace().collect();
    let csv = base64::engine::general_purpose::STANDARD
        .decode(content.as_bytes())
        .map_err(|e| AwsFilesError::invalid(origin, format!("Content is not base64: {e}")))?;
    let mut report = parse_credential_report_csv(&csv, origin)?;
    report.generated_at = raw.generated_time;
    Ok(report)
}

/// The CSV AWS generates. The header must name every column of the real report.
pub fn parse_credential_report_csv(
    bytes: &[u8],
    origin: &str,
) -> Result<CredentialReport, AwsFilesError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let headers = reader.headers().map_err(|e| csv_error(origin, &e))?.clone();
    let index: HashMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let mut positions = [0usize; COLUMNS.len()];
    for (slot, column) in COLUMNS.iter().enumerate() {
        positions[slot] = *index
            .get(column)
            .ok_or_else(|| AwsFilesError::MissingColumn {
                path: origin.to_string(),
                column: (*column).to_string(),
            })?;
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(origin, &e))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |column: usize| record.get(positions[column]).unwrap_or("").trim();
        rows.push(read_row(&field, origin, line)?);
    }
    Ok(CredentialReport {
        generated_at: None,
        rows,
    })
}

/// First column of access-key slot 1 and of certificate slot 1 in [`COLUMNS`]; a slot spans
/// 5 (key) or 2 (certificate) columns.
const KEY_BASE: usize = 8;
const CERT_BASE: usize = 18;

fn read_row<'a>(
    field: &dyn Fn(usize) -> &'a str,
    origin: &str,
    line: u64,
) -> Result<CredentialReportRow, AwsFilesError> {
    let time = |c: usize| parse_time(field(c), origin, line, COLUMNS[c]);
    let used = |c: usize| parse_last_used(field(c), origin, line, COLUMNS[c]);
    let flag = |c: usize| parse_bool(field(c), origin, line, COLUMNS[c]);
    let text = |c: usize| Some(field(c)).filter(|v| !is_absent(v)).map(str::to_string);
    let key = |base: usize| -> Result<KeySlot, AwsFilesError> {
        Ok(KeySlot {
            active: flag(base)?.unwrap_or(false),
            last_rotated: time(base + 1)?,
            last_used: used(base + 2)?,
            last_used_region: text(base + 3),
            last_used_service: text(base + 4),
        })
    };
    let cert = |base: usize| -> Result<CertSlot, AwsFilesError> {
        Ok(CertSlot {
            active: flag(base)?.unwrap_or(false),
            last_rotated: time(base + 1)?,
        })
    };
    let (user, arn) = (field(0), field(1));
    if user.is_empty() || arn.is_empty() {
        return Err(AwsFilesError::Csv {
            path: origin.to_string(),
            line,
            message: "empty `user` or `arn`".into(),
        });
    }
    Ok(CredentialReportRow {
        user: user.to_string(),
        arn: arn.to_string(),
        user_creation_time: time(2)?,
        password_enabled: flag(3)?,
        password_last_used: used(4)?,
        password_last_changed: time(5)?,
        password_next_rotation: time(6)?,
        mfa_active: flag(7)?.unwrap_or(false),
        access_keys: [key(KEY_BASE)?, key(KEY_BASE + 5)?],
        certs: [cert(CERT_BASE)?, cert(CERT_BASE + 2)?],
        line,
    })
}

fn is_absent(value: &str) -> bool {
    matches!(value, "" | "N/A" | "no_information" | "not_supported")
}

fn bad_value(origin: &str, line: u64, column: &str, what: &str) -> AwsFilesError {
    AwsFilesError::Csv {
        path: origin.to_string(),
        line,
        message: format!("column `{column}`: expected {what}"),
    }
}

fn parse_time(
    value: &str,
    origin: &str,
    line: u64,
    column: &str,
) -> Result<Option<Timestamp>, AwsFilesError> {
    if is_absent(value) {
        return Ok(None);
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| Some(t.with_timezone(&chrono::Utc)))
        .map_err(|_| {
            bad_value(
                origin,
                line,
                column,
                "an ISO 8601 time, N/A or no_information",
            )
        })
}

fn parse_last_used(
    value: &str,
    origin: &str,
    line: u64,
    column: &str,
) -> Result<LastUsed, AwsFilesError> {
    match value {
        "N/A" => Ok(LastUsed::Never),
        "" | "no_information" | "not_supported" => Ok(LastUsed::Unknown),
        _ => Ok(parse_time(value, origin, line, column)?.map_or(LastUsed::Unknown, LastUsed::At)),
    }
}

fn parse_bool(
    value: &str,
    origin: &str,
    line: u64,
    column: &str,
) -> Result<Option<bool>, AwsFilesError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        v if is_absent(v) => Ok(None),
        _ => Err(bad_value(origin, line, column, "true or false")),
    }
}

fn csv_error(origin: &str, error: &csv::Error) -> AwsFilesError {
    AwsFilesError::Csv {
        path: origin.to_string(),
        line: error.position().map_or(0, |p| p.line()),
        message: match error.kind() {
            // The record itself is provider data; say only what is wrong with it.
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("{len} fields where the header has {expected_len}")
            }
            csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_string(),
            _ => error.to_string(),
        },
    }
}

#[cfg(test)]
#[path = "credential_report_tests.rs"]
mod tests;
