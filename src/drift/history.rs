//! Drift, history: `--history FILE.parquet` appends each run (its findings and an inventory
//! summary) to one Parquet table, and reads the table back as a `Trend` for the HTML charts.
//!
//! One long table, one row per finding (`record = "finding"`) plus one summary row per run
//! (`record = "summary"`), so Athena, DuckDB or polars read it without joins. Every row carries
//! `history_version`; a file written by an older lapse loads with its missing columns filled
//! with nulls. Timestamps are UTC, stored as naive milliseconds.
//!
//! The polars code is behind the `parquet` cargo feature; without it, `append` and `load`
//! return `HistoryError::Disabled` naming the feature.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::report::Report;

/// Written in the `history_version` column. 2 added `median_credential_age_days` and the
/// identity window counts; 3 added `federated_identities`; older files load with the missing
/// columns as null.
pub const HISTORY_VERSION: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{}: {source}", crate::input::shown(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: history table: {message}", crate::input::shown(path))]
    Table { path: PathBuf, message: String },
    #[error(
        "{}: --history needs the `parquet` feature, which this build of lapse lacks \
         (use a release binary, or build with the default features)",
        crate::input::shown(path)
    )]
    Disabled { path: PathBuf },
}

/// The runs of a history file, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub points: Vec<TrendPoint>,
}

/// One run: active findings by severity, identities by window, median credential age.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub run_at: DateTime<Utc>,
    /// `critical` → 3; every severity present, zeros included.
    pub findings: BTreeMap<String, u64>,
    /// Identities whose access never ends by itself; `None` in a file that lacks the column.
    pub standing: Option<u64>,
    pub provisional: Option<u64>,
    /// Identities signing in through OIDC federation with no stored secret (history 3).
    #[serde(default)]
    pub federated: Option<u64>,
    pub median_credential_age_days: Option<f64>,
}

/// The summary row of a run, computed from the report (shared by every backend).
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub run_at: DateTime<Utc>,
    pub principals: i64,
    pub credentials: i64,
    pub grants: i64,
    pub standing: i64,
    pub provisional: i64,
    pub expired: i64,
    pub federated: i64,
    pub median_credential_age_days: Option<f64>,
}

impl RunSummary {
    pub fn of(report: &Report) -> RunSummary {
        let inventory = &report.inventory;
        let total = |map: &BTreeMap<String, u64>| map.values().sum::<u64>() as i64;
        let window = |name: &str| {
            report
                .identities
                .iter()
                .filter(|i| i.window == name)
                .count() as i64
        };
        RunSummary {
            run_at: report.scan.as_of,
            principals: total(&inventory.principals),
            credentials: total(&inventory.credentials),
            grants: total(&inventory.grants),
            standing: window("standing"),
            provisional: window("provisional"),
            expired: window("expired"),
            federated: report
                .identities
                .iter()
                .filter(|i| i.access == "federated")
                .count() as i64,
            median_credential_age_days: median_credential_age(report),
        }
    }
}

/// Median age in days of the active credentials, since their last rotation (or creation).
pub fn median_credential_age(report: &Report) -> Option<f64> {
    let as_of = report.scan.as_of;
    let mut ages: Vec<f64> = report
        .credentials
        .iter()
        .filter(|c| c.active)
        .filter_map(|c| c.rotated_at.or(c.created_at))
        .map(|t| (as_of - t).num_seconds() as f64 / 86_400.0)
        .collect();
    median(&mut ages)
}

pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// Appends the run to the history file (created if missing). The file is rewritten through a
/// temporary file and a rename, so a crash never leaves a half-written history.
pub fn append(path: &Path, report: &Report) -> Result<(), HistoryError> {
    #[cfg(feature = "parquet")]
    {
        table::append(path, report)
    }
    #[cfg(not(feature = "parquet"))]
    {
        let _ = report;
        Err(HistoryError::Disabled {
            path: path.to_path_buf(),
        })
    }
}

/// This run joined to a history file but not yet written: the trend the reports draw (this
/// run included) now, the file once the reports are written, so a run whose reports failed
/// is never recorded.
pub struct Pending {
    path: PathBuf,
    #[cfg(feature = "parquet")]
    table: polars::prelude::DataFrame,
}

impl Pending {
    /// Writes the history file (through a temporary file and a rename).
    pub fn commit(self) -> Result<(), HistoryError> {
        #[cfg(feature = "parquet")]
        {
            table::write_table(&self.path, self.table)
        }
        #[cfg(not(feature = "parquet"))]
        {
            Err(HistoryError::Disabled { path: self.path })
        }
    }
}

/// Joins the run to the history file in memory: its trend, and the write still to do.
pub fn prepare(path: &Path, report: &Report) -> Result<(Trend, Pending), HistoryError> {
    #[cfg(feature = "parquet")]
    {
        let joined = table::joined(path, report)?;
        let trend = table::trend_of(path, &joined)?;
        let pending = Pending {
            path: path.to_path_buf(),
            table: joined,
        };
        Ok((trend, pending))
    }
    #[cfg(not(feature = "parquet"))]
    {
        let _ = report;
        Err(HistoryError::Disabled {
            path: path.to_path_buf(),
        })
    }
}

/// Reads the history file as a trend, oldest run first.
pub fn load(path: &Path) -> Result<Trend, HistoryError> {
    #[cfg(feature = "parquet")]
    {
        table::load(path)
    }
    #[cfg(not(feature = "parquet"))]
    {
        Err(HistoryError::Disabled {
            path: path.to_path_buf(),
        })
    }
}

#[cfg(feature = "parquet")]
pub mod table;
