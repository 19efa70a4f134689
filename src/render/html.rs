//! Render, HTML: writes `lapse-report.html`, one self-contained file that opens offline.
//!
//! The summary, charts, coverage gaps, rule docs and framework view are rendered by tera with
//! autoescape on (the template is named `*.html`) and no `| safe` anywhere in it. The findings
//! and identities are not rendered as rows: they go into a JSON data block (see `data`) that the
//! page script pages through with `textContent` only. The stylesheet, the script and the data
//! are spliced in at markers that autoescaped output can never produce (they start with `<`).
//! A Content-Security-Policy with `default-src 'none'` and the SHA-256 of the inline style and
//! script forbids every network request and every other script.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::RenderError;
use super::json;
use super::v1;
use crate::findings::{Family, Severity};
use crate::report::Report;

pub mod data;
mod drift;

pub use data::escape_for_script;

pub const FILE_NAME: &str = "lapse-report.html";

const TEMPLATE: &str = include_str!("../../reports/report.html.tera");
const STYLE: &str = include_str!("../../reports/report.css");
const SCRIPT: &str = include_str!("../../reports/report.js");

const STYLE_MARKER: &str = "<!--lapse:style-->";
const SCRIPT_MARKER: &str = "<!--lapse:script-->";
const DATA_MARKER: &str = "<!--lapse:data-->";

/// Width in SVG units of the longest bar of a chart.
const BAR_WIDTH: f64 = 260.0;

pub fn write(report: &Report, path: &Path) -> Result<(), RenderError> {
    write_derived(&super::Derived::new(report), path)
}

pub(crate) fn write_derived(derived: &super::Derived, path: &Path) -> Result<(), RenderError> {
    let page = render_derived(derived)?;
    let file = File::create(path).map_err(|e| RenderError::io(path, e))?;
    let mut out = BufWriter::new(file);
    out.write_all(page.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| RenderError::io(path, e))
}

/// The whole page as a string.
pub fn render_page(report: &Report) -> Result<String, RenderError> {
    render_derived(&super::Derived::new(report))
}

fn render_derived(derived: &super::Derived) -> Result<String, RenderError> {
    let report = derived.report;
    let identities = derived.identities();
    let view = View::build(report, identities);
    let mut tera = tera::Tera::default();
    // Named `.html` so tera autoescapes every `{{ }}`.
    tera.add_raw_template("report.html", TEMPLATE)
        .map_err(|e| RenderError::Template(e.to_string()))?;
    let context =
        tera::Context::from_serialize(&view).map_err(|e| RenderError::Template(e.to_string()))?;
    let shell = tera
        .render("report.html", &context)
        .map_err(|e| RenderError::Template(e.to_string()))?;
    let data = data::encode(report, identities);
    // In the order the markers appear in the template.
    splice(
        &shell,
        &[
            (STYLE_MARKER, STYLE),
            (DATA_MARKER, &data),
            (SCRIPT_MARKER, SCRIPT),
        ],
    )
}

/// Replaces each marker, which must occur exactly once in the rendered shell and in the order
/// given, by its content.
fn splice(shell: &str, parts: &[(&str, &str)]) -> Result<String, RenderError> {
    let extra: usize = parts.iter().map(|(_, content)| content.len()).sum();
    let mut page = String::with_capacity(shell.len() + extra);
    let mut rest = shell;
    for (marker, content) in parts {
        let Some(at) = rest.find(marker) else {
            return Err(RenderError::Template(format!("marker {marker} missing")));
        };
        page.push_str(&rest[..at]);
        page.push_str(content);
        rest = &rest[at + marker.len()..];
        if rest.contains(marker) {
            return Err(RenderError::Template(format!("marker {marker} repeated")));
        }
    }
    page.push_str(rest);
    Ok(page)
}

/// `'sha256-…'` of an inline element's exact content, for the CSP.
fn csp_hash(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(&digest[..])
    )
}

pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; base-uri 'none'; \
         form-action 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
}

/// Everything the template reads; plain strings and numbers, computed here so the template
/// holds no logic beyond loops and conditions.
#[derive(Serialize)]
struct View {
    csp: String,
    tool_version: String,
    started_at: String,
    as_of: String,
    duration: String,
    complete: bool,
    total: u64,
    suppressed: u64,
    identity_count: usize,
    machine_access: crate::render::v1::MachineAccess,
    /// Set when the page embeds only the riskiest findings (see `data::MAX_EMBEDDED_FINDINGS`).
    capped: Option<CappedView>,
    severity_bars: Vec<Bar>,
    family_bars: Vec<Bar>,
    chart_height: u32,
    family_chart_height: u32,
    sources: Vec<SourceView>,
    api_calls: Vec<Count>,
    api_call_total: u64,
    gaps: Vec<v1::CoverageGap>,
    not_judged: Vec<v1::NotJudged>,
    suppression_issues: Vec<v1::SuppressionIssue>,
    inventory: Vec<Count>,
    policies: u64,
    rules: Vec<RuleView>,
    frameworks: Vec<FrameworkView>,
    severities: Vec<&'static str>,
    families: Vec<&'static str>,
    providers: Vec<&'static str>,
    drift: Option<drift::DriftView>,
    trend: Option<drift::TrendView>,
    revocations: Vec<v1::Revocation>,
}

#[derive(Serialize)]
struct Bar {
    label: &'static str,
    class: String,
    count: u64,
    width: String,
    y: u32,
    text_y: u32,
    count_x: String,
}

#[derive(Serialize)]
struct CappedView {
    embedded: usize,
    total: usize,
}

#[derive(Serialize)]
struct SourceView {
    source: String,
    scope: String,
    duration_ms: u64,
    calls: u64,
    /// `key: value` notes from the source (credential report age, files scanned).
    notes: Vec<String>,
}

#[derive(Serialize)]
struct Count {
    name: String,
    count: u64,
}

#[derive(Serialize)]
struct RuleView {
    id: String,
    anchor: String,
    title: String,
    family: &'static str,
    severity: &'static str,
    status: String,
    enabled: bool,
    rationale: String,
    remediation: String,
    example: String,
    references: Vec<ReferenceView>,
    findings: u64,
}

#[derive(Serialize, Clone)]
struct ReferenceView {
    framework: String,
    id: String,
    /// Only http(s) links: a rule file's `javascript:` URL must not become a link.
    url: Option<String>,
}

#[derive(Serialize)]
struct FrameworkView {
    framework: String,
    id: String,
    url: Option<String>,
    rules: String,
    findings: u64,
}

impl View {
    fn build(report: &Report, identities: &[v1::Identity]) -> View {
        let summary = json::summary(report);
        let severity_counts: Vec<(&'static str, u64)> = Severity::ALL
            .iter()
            .map(|s| (s.as_str(), summary.by_severity[&(*s).into()]))
            .collect();
        let family_counts: Vec<(&'static str, u64)> = Family::ALL
            .iter()
            .map(|f| (f.as_str(), summary.by_family[&(*f).into()]))
            .collect();
        let per_rule = findings_per_rule(report);
        let meta = &report.scan;
        View {
            csp: content_security_policy(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: meta.started_at.to_rfc3339(),
            as_of: meta.as_of.to_rfc3339(),
            duration: format!("{:.1} s", meta.duration_ms as f64 / 1000.0),
            complete: report.is_complete(),
            total: summary.total,
            suppressed: summary.suppressed,
            identity_count: identities.len(),
            machine_access: summary.machine_access.clone(),
            capped: capped(report),
            chart_height: chart_height(severity_counts.len()),
            family_chart_height: chart_height(family_counts.len()),
            severity_bars: bars(&severity_counts, "sev"),
            family_bars: bars(&family_counts, "fam"),
            sources: sources(report),
            api_call_total: meta.api_calls.values().sum(),
            api_calls: counts(&meta.api_calls),
            gaps: meta.coverage_gaps.iter().map(Into::into).collect(),
            not_judged: super::json::scan(report).not_judged,
            suppression_issues: report.suppression_issues.iter().map(Into::into).collect(),
            inventory: inventory(report),
            policies: report.inventory.policies,
            rules: rules(report, &per_rule),
            frameworks: frameworks(report, &per_rule),
            severities: Severity::ALL.iter().map(|s| s.as_str()).collect(),
            families: Family::ALL.iter().map(|f| f.as_str()).collect(),
            providers: vec!["aws", "azure", "github", "repo"],
            drift: report.drift.as_ref().map(drift::drift_view),
            trend: report.history.as_ref().and_then(drift::trend_view),
            revocations: report.revocations.iter().map(Into::into).collect(),
        }
    }
}

fn capped(report: &Report) -> Option<CappedView> {
    let embedded = data::embedded(&report.findings).len();
    (embedded < report.findings.len()).then_some(CappedView {
        embedded,
        total: report.findings.len(),
    })
}

fn chart_height(rows: usize) -> u32 {
    rows as u32 * 26 + 4
}

fn bars(counts: &[(&'static str, u64)], class_prefix: &str) -> Vec<Bar> {
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    counts
        .iter()
        .enumerate()
        .map(|(i, (label, count))| {
            let width = if *count == 0 {
                0.0
            } else {
                (BAR_WIDTH * *count as f64 / max as f64).max(2.0)
            };
            Bar {
                label,
                class: format!("{class_prefix}-{label}"),
                count: *count,
                width: format!("{width:.1}"),
                y: i as u32 * 26 + 4,
                text_y: i as u32 * 26 + 19,
                count_x: format!("{:.1}", 140.0 + width + 6.0),
            }
        })
        .collect()
}

fn sources(report: &Report) -> Vec<SourceView> {
    report
        .scan
        .sources
        .iter()
        .map(|s| SourceView {
            source: s.source.clone(),
            scope: s.scope.clone(),
            duration_ms: s.duration_ms,
            calls: s.api_calls.values().sum(),
            notes: s
                .attributes
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(text) => format!("{k}: {text}"),
                    other => format!("{k}: {other}"),
                })
                .collect(),
        })
        .collect()
}

fn counts(map: &BTreeMap<String, u64>) -> Vec<Count> {
    map.iter()
        .map(|(name, count)| Count {
            name: name.clone(),
            count: *count,
        })
        .collect()
}

fn inventory(report: &Report) -> Vec<Count> {
    let inv = &report.inventory;
    [&inv.principals, &inv.credentials, &inv.grants]
        .into_iter()
        .flat_map(counts)
        .collect()
}

fn findings_per_rule(report: &Report) -> BTreeMap<&str, u64> {
    let mut per_rule = BTreeMap::new();
    for finding in report.active_findings() {
        *per_rule.entry(finding.rule_id.as_str()).or_insert(0) += 1;
    }
    per_rule
}

fn safe_url(url: Option<&str>) -> Option<String> {
    url.filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(str::to_string)
}

fn rules(report: &Report, per_rule: &BTreeMap<&str, u64>) -> Vec<RuleView> {
    let mut rules: Vec<RuleView> = report
        .rules
        .iter()
        .map(|rule| RuleView {
            id: rule.id.clone(),
            anchor: anchor(&rule.id),
            title: rule.title.clone(),
            family: rule.family.as_str(),
            severity: rule.severity.as_str(),
            status: format!("{:?}", rule.status).to_lowercase(),
            enabled: rule.enabled,
            rationale: rule.docs.rationale.clone(),
            remediation: rule.docs.remediation.clone(),
            example: rule.docs.example.clone(),
            references: rule
                .references
                .iter()
                .map(|r| ReferenceView {
                    framework: r.framework.clone(),
                    id: r.id.clone(),
                    url: safe_url(r.url.as_deref()),
                })
                .collect(),
            findings: per_rule.get(rule.id.as_str()).copied().unwrap_or(0),
        })
        .collect();
    rules.sort_by(|a, b| b.findings.cmp(&a.findings).then_with(|| a.id.cmp(&b.id)));
    rules
}

/// An element id for a rule: the page script links a finding to `rule-<anchor>`. Characters
/// outside `[A-Za-z0-9_-]` become `_` (an id is attacker-influenced through `--rules`).
pub fn anchor(rule_id: &str) -> String {
    let clean: String = rule_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("rule-{clean}")
}

/// The framework view: each framework id with the rules mapped to it and their findings.
fn frameworks(report: &Report, per_rule: &BTreeMap<&str, u64>) -> Vec<FrameworkView> {
    let mut by_id: BTreeMap<(String, String), FrameworkView> = BTreeMap::new();
    for rule in &report.rules {
        for reference in &rule.references {
            let key = (reference.framework.clone(), reference.id.clone());
            let entry = by_id.entry(key).or_insert_with(|| FrameworkView {
                framework: reference.framework.clone(),
                id: reference.id.clone(),
                url: None,
                rules: String::new(),
                findings: 0,
            });
            if entry.url.is_none() {
                entry.url = safe_url(reference.url.as_deref());
            }
            if !entry.rules.is_empty() {
                entry.rules.push_str(", ");
            }
            entry.rules.push_str(&rule.id);
            entry.findings += per_rule.get(rule.id.as_str()).copied().unwrap_or(0);
        }
    }
    by_id.into_values().collect()
}
