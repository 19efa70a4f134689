//! Render, Parquet: writes `lapse-findings.parquet`, one row per finding, with polars (for
//! Athena, BigQuery, Spark, DuckDB). `findings_frame` is shared with the CSV renderer.
//! Behind the `parquet` cargo feature; without it, the format is refused with an error that
//! names the feature.

use std::path::Path;

use super::RenderError;
use crate::report::Report;

pub const FILE_NAME: &str = "lapse-findings.parquet";

#[cfg(feature = "parquet")]
pub fn write(report: &Report, path: &Path) -> Result<(), RenderError> {
    use polars::prelude::ParquetWriter;
    let mut frame =
        frame::findings_frame(report, |text| text.to_string()).map_err(|e| RenderError::Table {
            message: format!("{}: {e}", path.display()),
        })?;
    let file = std::fs::File::create(path).map_err(|e| RenderError::io(path, e))?;
    ParquetWriter::new(file)
        .finish(&mut frame)
        .map_err(|e| RenderError::Table {
            message: format!("{}: {e}", path.display()),
        })?;
    Ok(())
}

#[cfg(not(feature = "parquet"))]
pub fn write(_report: &Report, path: &Path) -> Result<(), RenderError> {
    Err(RenderError::FeatureDisabled {
        format: "parquet",
        path: path.to_path_buf(),
    })
}

#[cfg(feature = "parquet")]
pub(crate) mod frame {
    //! The findings as a polars frame, one column per stable field.

    use polars::prelude::*;

    use crate::report::Report;

    /// Builds the frame; `cell` transforms every provider-controlled text cell (the CSV
    /// renderer neutralises spreadsheet formulas with it).
    pub fn findings_frame(
        report: &Report,
        cell: impl Fn(&str) -> String,
    ) -> PolarsResult<DataFrame> {
        let findings = &report.findings;
        let text = |get: &dyn Fn(&crate::findings::Finding) -> String| -> Vec<String> {
            findings.iter().map(|f| cell(&get(f))).collect()
        };
        let opt_text =
            |get: &dyn Fn(&crate::findings::Finding) -> Option<String>| -> Vec<Option<String>> {
                findings.iter().map(|f| get(f).map(|t| cell(&t))).collect()
            };
        let as_of = report.scan.as_of.timestamp_millis();
        let columns = vec![
            Column::new("as_of".into(), vec![as_of; findings.len()])
                .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?,
            Column::new("fingerprint".into(), text(&|f| f.fingerprint.clone())),
            Column::new("rule_id".into(), text(&|f| f.rule_id.clone())),
            Column::new("title".into(), text(&|f| f.title.to_string())),
            Column::new("family".into(), text(&|f| f.family.as_str().to_string())),
            Column::new(
                "severity".into(),
                text(&|f| f.severity.as_str().to_string()),
            ),
            Column::new(
                "risk".into(),
                findings
                    .iter()
                    .map(|f| i32::from(f.risk))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "provider".into(),
                text(&|f| f.resource.provider.as_str().to_string()),
            ),
            Column::new("kind".into(), text(&|f| f.resource.kind.clone())),
            Column::new("resource_id".into(), text(&|f| f.resource.id.clone())),
            Column::new("resource_name".into(), text(&|f| f.resource.name.clone())),
            Column::new("principal_id".into(), opt_text(&|f| f.principal_id.clone())),
            Column::new(
                "principal_kind".into(),
                opt_text(&|f| f.principal.as_ref().map(|h| h.kind.clone())),
            ),
            Column::new(
                "principal_name".into(),
                opt_text(&|f| f.principal.as_ref().map(|h| h.name.clone())),
            ),
            Column::new(
                "location_path".into(),
                opt_text(&|f| f.location.as_ref().map(|l| l.path.clone())),
            ),
            Column::new(
                "location_line".into(),
                findings
                    .iter()
                    .map(|f| f.location.as_ref().and_then(|l| l.line))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "suppressed".into(),
                findings
                    .iter()
                    .map(|f| f.suppressed.is_some())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "suppression_reason".into(),
                opt_text(&|f| f.suppressed.as_ref().map(|s| s.reason.clone())),
            ),
            Column::new("remediation".into(), text(&|f| f.remediation.to_string())),
            Column::new(
                "evidence".into(),
                text(&|f| serde_json::to_string(&f.evidence).unwrap_or_default()),
            ),
        ];
        DataFrame::new(findings.len(), columns)
    }
}
