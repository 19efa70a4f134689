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
    /// Active findings on their own scale, then the identity windows (standing, provisional,
    /// federated) on one shared scale; a series the history never held is left out.
    pub series: Vec<Series>,
    pub last_median_age: Option<String>,
}

/// One line of the chart, broken where a run has no value (a file an older lapse wrote lacks
/// the column): a gap stays a gap, never a straight segment across it.
#[derive(Serialize)]
pub struct Series {
    /// `findings`, `standing`, `provisional`, `federated`: the CSS class suffix.
    pub key: &'static str,
    /// The legend's text: `federated identities (max 4, now 4; no data for 1 run)`.
    pub legend: String,
    /// SVG `points` of each unbroken run of two values or more.
    pub lines: Vec<String>,
    /// A value with a gap on both sides: drawn as a dot.
    pub dots: Vec<Dot>,
}

#[derive(Serialize)]
pub struct Dot {
    pub cx: String,
    pub cy: String,
}

/// `None` with fewer than two runs: one point is not a trend.
pub fn trend_view(trend: &Trend) -> Option<TrendView> {
    let points = &trend.points;
    if points.len() < 2 {
        return None;
    }
    let totals: Vec<Option<u64>> = points
        .iter()
        .map(|p| Some(p.findings.values().sum()))
        .collect();
    let windows: [(&'static str, Vec<Option<u64>>); 3] = [
        ("standing", points.iter().map(|p| p.standing).collect()),
        (
            "provisional",
            points.iter().map(|p| p.provisional).collect(),
        ),
        ("federated", points.iter().map(|p| p.federated).collect()),
    ];
    let identity_max = windows
        .iter()
        .flat_map(|(_, values)| values.iter().flatten().copied())
        .max()
        .unwrap_or(0);
    let mut series = vec![Series::of("findings", "active findings", &totals, None)];
    for (key, values) in &windows {
        if values.iter().any(Option::is_some) {
            let label = format!("{key} identities");
            series.push(Series::of(key, &label, values, Some(identity_max)));
        }
    }
    let last = points.last()?;
    Some(TrendView {
        runs: points.len(),
        first: points.first()?.run_at.to_rfc3339(),
        last: last.run_at.to_rfc3339(),
        series,
        last_median_age: last.median_credential_age_days.map(|d| format!("{d:.0}")),
    })
}

impl Series {
    /// Scales `values` into the chart box, by `scale` (the series' own maximum when `None`).
    fn of(key: &'static str, label: &str, values: &[Option<u64>], scale: Option<u64>) -> Series {
        let own_max = values.iter().flatten().copied().max().unwrap_or(0);
        let max = scale.unwrap_or(own_max).max(1) as f64;
        let step = TREND_WIDTH / (values.len().saturating_sub(1).max(1)) as f64;
        let at = |i: usize, v: u64| {
            let x = i as f64 * step;
            let y = TREND_HEIGHT - (v as f64 / max) * (TREND_HEIGHT - 10.0) - 5.0;
            (format!("{x:.1}"), format!("{y:.1}"))
        };
        let (mut lines, mut dots) = (Vec::new(), Vec::new());
        let mut run: Vec<(String, String)> = Vec::new();
        let mut flush = |run: &mut Vec<(String, String)>| {
            match run.len() {
                0 => {}
                1 => {
                    let (cx, cy) = run.remove(0);
                    dots.push(Dot { cx, cy });
                }
                _ => lines.push(
                    run.drain(..)
                        .map(|(x, y)| format!("{x},{y}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            }
            run.clear();
        };
        for (i, value) in values.iter().enumerate() {
            match value {
                Some(v) => run.push(at(i, *v)),
                None => flush(&mut run),
            }
        }
        flush(&mut run);
        let missing = values.iter().filter(|v| v.is_none()).count();
        let mut legend = format!("{label} (max {own_max}");
        if let Some(Some(now)) = values.last() {
            legend.push_str(&format!(", now {now}"));
        }
        if missing > 0 {
            let runs = if missing == 1 { "run" } else { "runs" };
            legend.push_str(&format!("; no data for {missing} {runs}"));
        }
        legend.push(')');
        Series {
            key,
            legend,
            lines,
            dots,
        }
    }
}
