//! Render: writes a `Report` in each requested format. One format, one file in this folder;
//! `write_all` is the one dispatcher, `summary` the terminal view, `read_report` reads a JSON
//! report back (for `lapse diff`).

use std::path::{Path, PathBuf};

use crate::cli::Format;
use crate::report::Report;

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod ocsf;
pub mod parquet;
pub mod sarif;
pub mod terminal;
pub mod v1;

pub use json::read_report;
pub use terminal::summary;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A report to read: too large, UTF-16, a byte-order mark, not UTF-8, unreadable.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{}: {source}", crate::input::shown(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write JSON: {source}", crate::input::shown(path))]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{}:{line}:{column}: malformed report: {message}",
        crate::input::shown(path)
    )]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{}: report schema_version {version:?} is not supported (this lapse reads 1.x)",
        crate::input::shown(path)
    )]
    UnsupportedVersion { path: PathBuf, version: String },
    #[error("HTML template: {0}")]
    Template(String),
    #[error("{message}")]
    Table { message: String },
    #[error(
        "{}: the {format} format needs the `parquet` feature, which this build of lapse lacks",
        crate::input::shown(path)
    )]
    FeatureDisabled { format: &'static str, path: PathBuf },
}

impl RenderError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        RenderError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn malformed(path: &Path, error: &serde_json::Error) -> Self {
        // serde_json puts "at line L column C" in its Display; keep the message without it.
        let message = error.to_string();
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_string(),
            None => message,
        };
        RenderError::Malformed {
            path: path.to_path_buf(),
            line: error.line(),
            column: error.column(),
            message,
        }
    }
}

/// Writes `report` in every format of `formats` into the folder `out` (created if missing) and
/// returns the paths written, in the order of `formats`. Duplicate formats are written once.
pub fn write_all(
    report: &Report,
    formats: &[Format],
    out: &Path,
) -> Result<Vec<PathBuf>, RenderError> {
    std::fs::create_dir_all(out).map_err(|e| RenderError::io(out, e))?;
    let mut unique: Vec<Format> = Vec::new();
    for format in formats {
        if !unique.contains(format) {
            unique.push(*format);
        }
    }
    // Formats are independent and each is one sequential pass: write them side by side.
    use rayon::prelude::*;
    let derived = Derived::new(report);
    unique
        .par_iter()
        .map(|format| {
            let started = std::time::Instant::now();
            let path = write_one(&derived, *format, out)?;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            tracing::debug!(format = ?format, elapsed_ms, "report written");
            Ok(path)
        })
        .collect()
}

/// A report with what several formats derive from it, computed once, by whichever format
/// asks first.
pub struct Derived<'a> {
    pub report: &'a Report,
    identities: std::sync::OnceLock<Vec<v1::Identity>>,
}

impl<'a> Derived<'a> {
    pub fn new(report: &'a Report) -> Self {
        Derived {
            report,
            identities: std::sync::OnceLock::new(),
        }
    }

    /// The per-identity view, with finding counts (see [`json::identities`]).
    pub fn identities(&self) -> &[v1::Identity] {
        self.identities
            .get_or_init(|| json::identities(self.report))
    }
}

fn write_one(derived: &Derived, format: Format, out: &Path) -> Result<PathBuf, RenderError> {
    let report = derived.report;
    match format {
        Format::Json => {
            let path = out.join(json::FILE_NAME);
            json::write_derived(derived, &path)?;
            Ok(path)
        }
        Format::Html => {
            let path = out.join(html::FILE_NAME);
            html::write_derived(derived, &path)?;
            Ok(path)
        }
        Format::Sarif => written(out.join(sarif::FILE_NAME), |p| sarif::write(report, p)),
        Format::Ocsf => written(out.join(ocsf::FILE_NAME), |p| ocsf::write(report, p)),
        Format::Csv => written(out.join(csv::FILE_NAME), |p| csv::write(report, p)),
        Format::Parquet => written(out.join(parquet::FILE_NAME), |p| parquet::write(report, p)),
        Format::Markdown => written(out.join(markdown::FILE_NAME), |p| {
            markdown::write(report, p)
        }),
    }
}

/// Runs a format's writer on `path` and returns the path written.
fn written(
    path: PathBuf,
    write: impl FnOnce(&Path) -> Result<(), RenderError>,
) -> Result<PathBuf, RenderError> {
    write(&path)?;
    Ok(path)
}
