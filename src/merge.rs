//! Merge: joins the JSON reports of several shards (`lapse scan --shard I/N`) into one report,
//! at the level of the frozen v1 output types, so any lapse that wrote them can be merged.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::render::{self, RenderError, v1};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Read(#[from] RenderError),
    #[error(
        "{}: judged as of {found}, but {first} was judged as of {expected}: rerun the shards with the same --as-of",
        crate::input::shown(path)
    )]
    AsOf {
        path: PathBuf,
        found: String,
        first: PathBuf,
        expected: String,
    },
    #[error("nothing to merge: name the shard reports")]
    Nothing,
    #[error("{}: {source}", crate::input::shown(path))]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads and merges the reports at `paths` (at least one).
pub fn merge_files(paths: &[PathBuf]) -> Result<v1::Report, MergeError> {
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        let report = render::json::read_report(path)?;
        if let Some((first_path, first)) = paths.first().zip(reports.first()) {
            let first: &v1::Report = first;
            if first.scan.as_of != report.scan.as_of {
                return Err(MergeError::AsOf {
                    path: path.clone(),
                    found: report.scan.as_of.to_rfc3339(),
                    first: first_path.clone(),
                    expected: first.scan.as_of.to_rfc3339(),
                });
            }
        }
        reports.push(report);
    }
    let mut reports = reports.into_iter();
    let first = reports.next().ok_or(MergeError::Nothing)?;
    Ok(merge(first, reports))
}

/// Joins reports judged at the same instant. Findings, identities and credentials are kept
/// once by identity; a suppression is "unmatched" only if no shard matched it.
pub fn merge(first: v1::Report, rest: impl IntoIterator<Item = v1::Report>) -> v1::Report {
    let mut merged = first;
    let mut unmatched_in_all: Vec<v1::SuppressionIssue> = merged.suppression_issues.clone();
    for report in rest {
        let scan = &mut merged.scan;
        scan.started_at = scan.started_at.min(report.scan.started_at);
        scan.duration_ms = scan.duration_ms.max(report.scan.duration_ms);
        scan.sources.extend(report.scan.sources);
        for (op, n) in report.scan.api_calls {
            *scan.api_calls.entry(op).or_insert(0) += n;
        }
        scan.coverage_gaps.extend(report.scan.coverage_gaps);
        join_not_judged(&mut scan.not_judged, report.scan.not_judged);
        add_counts(
            &mut merged.inventory.principals,
            report.inventory.principals,
        );
        add_counts(
            &mut merged.inventory.credentials,
            report.inventory.credentials,
        );
        add_counts(&mut merged.inventory.grants, report.inventory.grants);
        merged.inventory.policies += report.inventory.policies;
        merged.identities.extend(report.identities);
        merged.credentials.extend(report.credentials);
        merged.findings.extend(report.findings);
        merged.revocations.extend(report.revocations);
        unmatched_in_all.retain(|issue| {
            issue.problem != "unmatched" || report.suppression_issues.contains(issue)
        });
        for issue in report.suppression_issues {
            if issue.problem != "unmatched" && !unmatched_in_all.contains(&issue) {
                unmatched_in_all.push(issue);
            }
        }
    }
    merged.suppression_issues = unmatched_in_all;
    merged.scan.complete = merged.scan.coverage_gaps.is_empty();
    dedup_by(&mut merged.findings, |f| f.fingerprint.clone());
    dedup_by(&mut merged.identities, |i| i.resource.id.clone());
    dedup_by(&mut merged.credentials, |c| c.resource.id.clone());
    dedup_by(&mut merged.revocations, |r| r.resource.id.clone());
    merged.findings.sort_by(|a, b| {
        b.risk
            .cmp(&a.risk)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
            .then_with(|| a.resource.id.cmp(&b.resource.id))
    });
    merged.summary = summarize(&merged.summary, &merged.findings);
    merged
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (key, n) in from {
        *into.entry(key).or_insert(0) += n;
    }
}

fn dedup_by<T, K: std::hash::Hash + Eq>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    let mut seen = HashSet::new();
    items.retain(|item| seen.insert(key(item)));
}

/// Recounts active findings; keeps every severity and family key of the shape given.
fn summarize(shape: &v1::Summary, findings: &[v1::Finding]) -> v1::Summary {
    let mut summary = shape.clone();
    summary.by_severity.values_mut().for_each(|n| *n = 0);
    summary.by_family.values_mut().for_each(|n| *n = 0);
    summary.total = 0;
    summary.suppressed = 0;
    for finding in findings {
        if finding.suppressed {
            summary.suppressed += 1;
            continue;
        }
        summary.total += 1;
        *summary.by_severity.entry(finding.severity).or_insert(0) += 1;
        *summary.by_family.entry(finding.family).or_insert(0) += 1;
    }
    summary
}

/// Writes the merged report as `lapse-report.json` in `out`.
pub fn write(report: &v1::Report, out: &Path) -> Result<PathBuf, MergeError> {
    let path = out.join(render::json::FILE_NAME);
    let io = |source| MergeError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(out).map_err(io)?;
    let file = std::fs::File::create(&path).map_err(io)?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, report).map_err(|e| io(std::io::Error::other(e)))?;
    std::io::Write::flush(&mut writer).map_err(io)?;
    Ok(path)
}

/// Adds a shard's not-judged counts to the merged ones, by rule and fact.
fn join_not_judged(into: &mut Vec<v1::NotJudged>, more: Vec<v1::NotJudged>) {
    for item in more {
        match into
            .iter_mut()
            .find(|n| n.rule_id == item.rule_id && n.fact == item.fact)
        {
            Some(known) => known.subjects += item.subjects,
            None => into.push(item),
        }
    }
}
