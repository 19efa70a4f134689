//! Render, CSV: writes `lapse-findings.csv`, one row per finding (the Parquet columns), with
//! polars. Cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR at the
//! start) are prefixed with `'` (OWASP CSV injection advice): identity names are
//! attacker-controlled. Behind the `parquet` cargo feature, like the Parquet output.

use std::path::Path;

use super::RenderError;
use crate::report::Report;

pub const FILE_NAME: &str = "lapse-findings.csv";

#[cfg(feature = "parquet")]
pub fn write(report: &Report, path: &Path) -> Result<(), RenderError> {
    use polars::prelude::{CsvWriter, SerWriter};
    let table_error = |e: polars::prelude::PolarsError| RenderError::Table {
        message: format!("{}: {e}", path.display()),
    };
    let mut frame =
        super::parquet::frame::findings_frame(report, neutralise_formula).map_err(table_error)?;
    let file = std::fs::File::create(path).map_err(|e| RenderError::io(path, e))?;
    CsvWriter::new(file)
        .include_header(true)
        .finish(&mut frame)
        .map_err(table_error)
}

#[cfg(not(feature = "parquet"))]
pub fn write(_report: &Report, path: &Path) -> Result<(), RenderError> {
    Err(RenderError::FeatureDisabled {
        format: "csv",
        path: path.to_path_buf(),
    })
}

/// `'=cmd|...` stays readable and is never evaluated by Excel, LibreOffice or Sheets.
pub fn neutralise_formula(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise_formula;

    #[test]
    fn formula_cells_are_prefixed_and_others_kept() {
        assert_eq!(
            neutralise_formula("=HYPERLINK(\"x\")"),
            "'=HYPERLINK(\"x\")"
        );
        assert_eq!(neutralise_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise_formula("-1+2"), "'-1+2");
        assert_eq!(neutralise_formula("deploy-bot"), "deploy-bot");
        assert_eq!(neutralise_formula(""), "");
    }
}
