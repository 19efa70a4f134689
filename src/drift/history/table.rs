//! Drift, history table: the polars side of `--history` (read, upgrade, append, write, and the
//! trend query).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use chrono::{DateTime, Utc};
use polars::prelude::*;

use super::{HISTORY_VERSION, HistoryError, RunSummary, Trend, TrendPoint};
use crate::findings::Severity;
use crate::report::Report;

const FINDING: &str = "finding";
const SUMMARY: &str = "summary";

/// The current schema, in column order. A file lacking a column gets it as nulls.
fn schema() -> Vec<(&'static str, DataType)> {
    vec![
        ("history_version", DataType::Int32),
        ("run_at", DataType::Datetime(TimeUnit::Milliseconds, None)),
        ("record", DataType::String),
        ("rule_id", DataType::String),
        ("family", DataType::String),
        ("severity", DataType::String),
        ("risk", DataType::Int32),
        ("fingerprint", DataType::String),
        ("provider", DataType::String),
        ("kind", DataType::String),
        ("resource_id", DataType::String),
        ("resource_name", DataType::String),
        ("suppressed", DataType::Boolean),
        ("principals", DataType::Int64),
        ("credentials", DataType::Int64),
        ("grants", DataType::Int64),
        ("standing_identities", DataType::Int64),
        ("provisional_identities", DataType::Int64),
        ("expired_identities", DataType::Int64),
        ("median_credential_age_days", DataType::Float64),
        ("federated_identities", DataType::Int64),
    ]
}

fn table_error(path: &Path, error: PolarsError) -> HistoryError {
    HistoryError::Table {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

pub fn append(path: &Path, report: &Report) -> Result<(), HistoryError> {
    let mut table = joined(path, report)?;
    write(path, &mut table)
}

/// The history file's rows with this run's appended, in memory.
pub fn joined(path: &Path, report: &Report) -> Result<DataFrame, HistoryError> {
    let run = run_frame(report).map_err(|e| table_error(path, e))?;
    match path.exists() {
        true => {
            let old = read(path)?;
            old.vstack(&run).map_err(|e| table_error(path, e))
        }
        false => Ok(run),
    }
}

/// The trend of a table in memory (what `load` reads from a file).
pub fn trend_of(path: &Path, table: &DataFrame) -> Result<Trend, HistoryError> {
    trend(table.clone()).map_err(|e| table_error(path, e))
}

pub fn write_table(path: &Path, mut table: DataFrame) -> Result<(), HistoryError> {
    write(path, &mut table)
}

pub fn load(path: &Path) -> Result<Trend, HistoryError> {
    let table = read(path)?;
    trend(table).map_err(|e| table_error(path, e))
}

/// Reads a history file and brings it to the current schema.
pub fn read(path: &Path) -> Result<DataFrame, HistoryError> {
    let file = File::open(path).map_err(|source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let frame = ParquetReader::new(file)
        .finish()
        .map_err(|e| table_error(path, e))?;
    upgrade(frame).map_err(|e| table_error(path, e))
}

/// Adds the columns an older file lacks (as nulls; `history_version` as 1, the first version,
/// which had no such column), casts every column to the current type, and orders them.
fn upgrade(frame: DataFrame) -> PolarsResult<DataFrame> {
    let height = frame.height();
    let mut columns = Vec::new();
    for (name, dtype) in schema() {
        let column = match frame.column(name) {
            Ok(existing) => existing.cast(&dtype)?,
            Err(_) if name == "history_version" => Column::new(name.into(), vec![1i32; height]),
            Err(_) => Column::full_null(name.into(), height, &dtype),
        };
        columns.push(column.with_name(name.into()));
    }
    DataFrame::new(height, columns)
}

fn write(path: &Path, table: &mut DataFrame) -> Result<(), HistoryError> {
    let io_error = |source| HistoryError::Io {
        path: path.to_path_buf(),
        source,
    };
    let partial = path.with_extension("parquet.partial");
    let file = File::create(&partial).map_err(io_error)?;
    ParquetWriter::new(file)
        .finish(table)
        .map_err(|e| table_error(path, e))?;
    std::fs::rename(&partial, path).map_err(io_error)
}

/// The run as rows of the current schema: its findings, then its summary row.
fn run_frame(report: &Report) -> PolarsResult<DataFrame> {
    let summary = RunSummary::of(report);
    let n = report.findings.len() + 1;
    let mut rule_id = Vec::with_capacity(n);
    let mut family = Vec::with_capacity(n);
    let mut severity = Vec::with_capacity(n);
    let mut risk = Vec::with_capacity(n);
    let mut fingerprint = Vec::with_capacity(n);
    let mut provider = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut resource_id = Vec::with_capacity(n);
    let mut resource_name = Vec::with_capacity(n);
    let mut suppressed = Vec::with_capacity(n);
    for f in &report.findings {
        rule_id.push(Some(f.rule_id.clone()));
        family.push(Some(f.family.as_str().to_string()));
        severity.push(Some(f.severity.as_str().to_string()));
        risk.push(Some(i32::from(f.risk)));
        fingerprint.push(Some(f.fingerprint.clone()));
        provider.push(Some(f.resource.provider.as_str().to_string()));
        kind.push(Some(f.resource.kind.clone()));
        resource_id.push(Some(f.resource.id.clone()));
        resource_name.push(Some(f.resource.name.clone()));
        suppressed.push(Some(f.suppressed.is_some()));
    }
    // The summary row: finding columns null, summary columns set.
    for column in [
        &mut rule_id,
        &mut family,
        &mut severity,
        &mut fingerprint,
        &mut provider,
        &mut kind,
        &mut resource_id,
        &mut resource_name,
    ] {
        column.push(None);
    }
    risk.push(None);
    suppressed.push(None);
    let mut record = vec![FINDING; n - 1];
    record.push(SUMMARY);
    let only_last = |value: Option<i64>| {
        let mut column = vec![None; n - 1];
        column.push(value);
        column
    };
    let mut median = vec![None; n - 1];
    median.push(summary.median_credential_age_days);
    let run_at = summary.run_at.timestamp_millis();
    let columns = vec![
        Column::new("history_version".into(), vec![HISTORY_VERSION; n]),
        Column::new("run_at".into(), vec![run_at; n])
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?,
        Column::new("record".into(), record),
        Column::new("rule_id".into(), rule_id),
        Column::new("family".into(), family),
        Column::new("severity".into(), severity),
        Column::new("risk".into(), risk),
        Column::new("fingerprint".into(), fingerprint),
        Column::new("provider".into(), provider),
        Column::new("kind".into(), kind),
        Column::new("resource_id".into(), resource_id),
        Column::new("resource_name".into(), resource_name),
        Column::new("suppressed".into(), suppressed),
        Column::new("principals".into(), only_last(Some(summary.principals))),
        Column::new("credentials".into(), only_last(Some(summary.credentials))),
        Column::new("grants".into(), only_last(Some(summary.grants))),
        Column::new(
            "standing_identities".into(),
            only_last(Some(summary.standing)),
        ),
        Column::new(
            "provisional_identities".into(),
            only_last(Some(summary.provisional)),
        ),
        Column::new(
            "expired_identities".into(),
            only_last(Some(summary.expired)),
        ),
        Column::new("median_credential_age_days".into(), median),
        Column::new(
            "federated_identities".into(),
            only_last(Some(summary.federated)),
        ),
    ];
    DataFrame::new(n, columns)
}

/// One point per run: active findings by severity (from the finding rows, so a run recorded
/// before the summary columns existed still counts), the rest from the summary row.
///
/// One eager pass over the columns: the table is a few rows per finding per run, and this keeps
/// polars' lazy engine (half of polars' build time) out of the binary.
fn trend(table: DataFrame) -> PolarsResult<Trend> {
    let runs = millis(&table, "run_at")?;
    let record = table.column("record")?.str()?.clone();
    let suppressed = table.column("suppressed")?.bool()?.clone();
    let severity = table.column("severity")?.str()?.clone();
    let standing = table.column("standing_identities")?.i64()?.clone();
    let provisional = table.column("provisional_identities")?.i64()?.clone();
    let federated = table.column("federated_identities")?.i64()?.clone();
    let median = table.column("median_credential_age_days")?.f64()?.clone();
    let mut points: BTreeMap<i64, TrendPoint> = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        let Some(run) = run else { continue };
        match record.get(i) {
            Some(SUMMARY) => {
                let point = points.entry(*run).or_insert_with(|| empty_point(*run));
                point.standing = standing.get(i).map(|v| v.max(0) as u64);
                point.provisional = provisional.get(i).map(|v| v.max(0) as u64);
                point.federated = federated.get(i).map(|v| v.max(0) as u64);
                point.median_credential_age_days = median.get(i);
            }
            Some(FINDING) if !suppressed.get(i).unwrap_or(false) => {
                let Some(severity) = severity.get(i) else {
                    continue;
                };
                let point = points.entry(*run).or_insert_with(|| empty_point(*run));
                *point.findings.entry(severity.to_string()).or_insert(0) += 1;
            }
            _ => {}
        }
    }
    Ok(Trend {
        points: points.into_values().collect(),
    })
}

fn millis(frame: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    let column = frame.column(name)?.cast(&DataType::Int64)?;
    Ok(column.i64()?.iter().collect())
}

fn empty_point(run_millis: i64) -> TrendPoint {
    TrendPoint {
        run_at: DateTime::<Utc>::from_timestamp_millis(run_millis).unwrap_or_default(),
        findings: Severity::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), 0))
            .collect(),
        standing: None,
        provisional: None,
        federated: None,
        median_credential_age_days: None,
    }
}
