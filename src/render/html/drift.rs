//! Render, HTML drift and trend: the view of `--baseline` drift (what is new, resolved,
//! rotated, widened) and of `--history` (active findings and standing identities per run, as
//! SVG polylines). Numbers and escaped text only; the template draws them.

use serde::Serialize;

use crate::drift::Drift;
use crate::drift::history::Trend;

/// How many new findings and widened identities the drift section lists.
const LISTED: usize = 100;
const TREND_WIDTH: f64 = 600.0;
const TREND_HEIGHT: f64 = 120.0;

#[derive(Serialize)]
pub struct DriftView {
    pub old_as_of: String,
    pub new_findings: usize,
    pub resolved_findings: usize,
    pub persisting_findings: usize,
    pub credentials_added: usize,
    pub credentials_removed: usize,
    pub credentials_rotated: usize,
    pub widened: usize,
    pub new_listed: Vec<FindingLine>,
    pub widened_listed: Vec<WideningLine>,
}

#[derive(Serialize)]
pub struct FindingLine {
    severity: &'static str,
    risk: u8,
    rule_id: String,
    title: String,
    resource: String,
}

#[derive(Serialize)]
pub struct WideningLine {
    resource: String,
    from: &'static str,
    to: &'static str,
    added_grants: String,
}

pub fn drift_view(drift: &Drift) -> DriftView {
    DriftView {
        old_as_of: drift.old_as_of.to_rfc3339(),
        new_findings: drift.new_findings.len(),
        resolved_findings: drift.resolved_findings.len(),
        persisting_findings: drift.persisting_findings.len(),
        credentials_added: drift.credentials_added.len(),
        credentials_removed: drift.credentials_removed.len(),
        credentials_rotated: drift.credentials_rotated.len(),
        widened: drift.widened.len(),
        new_listed: drift
            .new_findings
            .iter()
            .take(LISTED)
            .map(|f| FindingLine {
                severity: f.severity.as_str(),
                risk: f.risk,
                rule_id: f.rule_id.clone(),
                title: f.title.clone(),
                resource: f.resource.id.clone(),
            })
            .collect(),
        widened_listed: drift
            .widened
            .iter()
            .take(LISTED)
            .map(|w| WideningLine {
                resource: w.resource.id.clone(),
                from: w.old_privilege.as_str(),
                to: w.new_privilege.as_str(),
                added_grants: w.added_grants.join(", "),
            })
            .collect(),
    }
}

#[derive(Serialize)]
pub struct TrendView {
    pub runs: usize,
    pub first: String,
    pub last: String,
    /// SVG `points` of active findings per run.
    pub findings_points: String,
    /// SVG `points` of standing identities per run (empty when the history lacks them).
    pub standing_points: String,
    pub max_findings: u64,
    pub max_standing: u64,
    pub last_findings: u64,
    pub last_standing: Option<u64>,
    pub last_median_age: Option<String>,
}

/// `None` with fewer than two runs: one point is not a trend.
pub fn trend_view(trend: &Trend) -> Option<TrendView> {
    let points = &trend.points;
    if points.len() < 2 {
        return None;
    }
    let totals: Vec<u64> = points.iter().map(|p| p.findings.values().sum()).collect();
    let standing: Vec<Option<u64>> = points.iter().map(|p| p.standing).collect();
    let last = points.last()?;
    Some(TrendView {
        runs: points.len(),
        first: points.first()?.run_at.to_rfc3339(),
        last: last.run_at.to_rfc3339(),
        max_findings: totals.iter().copied().max().unwrap_or(0),
        max_standing: standing.iter().flatten().copied().max().unwrap_or(0),
        findings_points: polyline(&totals.iter().map(|t| Some(*t)).collect::<Vec<_>>()),
        standing_points: polyline(&standing),
        last_findings: totals.last().copied().unwrap_or(0),
        last_standing: last.standing,
        last_median_age: last.median_credential_age_days.map(|d| format!("{d:.0}")),
    })
}

/// Scales a series into the chart box; runs without a value are skipped.
fn polyline(series: &[Option<u64>]) -> String {
    let max = series.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let step = TREND_WIDTH / (series.len().saturating_sub(1).max(1)) as f64;
    series
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.map(|v| {
                let x = i as f64 * step;
                let y = TREND_HEIGHT - (v as f64 / max) * (TREND_HEIGHT - 10.0) - 5.0;
                format!("{x:.1},{y:.1}")
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}
