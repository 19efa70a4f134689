//! Render, SARIF 2.1.0: writes `lapse-report.sarif` for GitHub code scanning and other SARIF
//! consumers.
//!
//! One run; `tool.driver.rules` holds every rule of the run with its docs as help text; each
//! finding is a result with `partialFingerprints` from its fingerprint (so code scanning tracks
//! it across runs) and a `security-severity` from its risk. A finding in a file gets a
//! `physicalLocation`; a cloud finding gets a `logicalLocation` named by the resource id (ARN).
//! Coverage gaps become tool execution notifications; suppressions become SARIF suppressions.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};

use super::RenderError;
use crate::findings::{Finding, Severity};
use crate::report::Report;
use crate::rules::Rule;

pub const FILE_NAME: &str = "lapse-report.sarif";
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The key under `partialFingerprints`; `/v1` is the SARIF convention for a recipe version.
pub const FINGERPRINT_KEY: &str = "lapseFingerprint/v1";

/// Characters escaped in a file path to make it a URI reference (RFC 3986).
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

pub fn write(report: &Report, path: &Path) -> Result<(), RenderError> {
    let file = File::create(path).map_err(|e| RenderError::io(path, e))?;
    let mut out = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut out, &document(report)).map_err(|e| RenderError::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(|e| RenderError::io(path, e))
}

/// The SARIF log as JSON.
pub fn document(report: &Report) -> Value {
    let rules = driver_rules(report);
    let index: BTreeMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, index.get(f.rule_id.as_str()).copied()))
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "lapse",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_iter().map(|(_, rule)| rule).collect::<Vec<_>>(),
            }},
            "invocations": [invocation(report)],
            "results": results,
            "properties": {"complete": report.is_complete()},
        }],
    })
}

/// Every rule of the run plus any rule id a finding names that the run did not list (a
/// finding merged from another shard), sorted by id so `ruleIndex` is stable.
fn driver_rules(report: &Report) -> Vec<(String, Value)> {
    let mut worst: BTreeMap<&str, u8> = BTreeMap::new();
    for f in report.active_findings() {
        let risk = worst.entry(f.rule_id.as_str()).or_insert(0);
        *risk = (*risk).max(f.risk);
    }
    let mut rules: BTreeMap<String, Value> = report
        .rules
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                descriptor(r, worst.get(r.id.as_str()).copied()),
            )
        })
        .collect();
    for f in &report.findings {
        rules
            .entry(f.rule_id.clone())
            .or_insert_with(|| unknown_rule(f));
    }
    rules.into_iter().collect()
}

fn descriptor(rule: &Rule, worst_risk: Option<u8>) -> Value {
    let docs = &rule.docs;
    let mut references = String::new();
    for r in &rule.references {
        references.push_str(&format!("\n- {} {}", r.framework, r.id));
    }
    let text = format!(
        "{}\n\nRemediation: {}\n\nExample: {}\n\nReferences:{}",
        docs.rationale, docs.remediation, docs.example, references
    );
    let markdown = format!(
        "{}\n\n**Remediation:** {}\n\n**Example:** {}\n\n**References:**{}",
        docs.rationale, docs.remediation, docs.example, references
    );
    let mut value = json!({
        "id": rule.id,
        "name": rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": docs.rationale},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": level(rule.severity), "enabled": rule.is_active()},
        "properties": {
            "tags": ["security", "non-human-identity", rule.family.as_str()],
            "precision": "high",
            "security-severity": security_severity(worst_risk, rule.severity),
        },
    });
    let uri = rule
        .references
        .iter()
        .filter_map(|r| r.url.as_deref())
        .find(|u| u.starts_with("https://"));
    if let (Some(uri), Some(object)) = (uri, value.as_object_mut()) {
        object.insert("helpUri".to_string(), json!(uri));
    }
    value
}

fn unknown_rule(f: &Finding) -> Value {
    json!({
        "id": f.rule_id,
        "name": f.rule_id,
        "shortDescription": {"text": f.title},
        "help": {"text": f.remediation},
        "defaultConfiguration": {"level": level(f.severity)},
        "properties": {
            "tags": ["security", "non-human-identity", f.family.as_str()],
            "security-severity": security_severity(Some(f.risk), f.severity),
        },
    })
}

fn result(f: &Finding, rule_index: Option<usize>) -> Value {
    let resource = &f.resource;
    let mut message = format!(
        "{}: {} {} `{}` ({})",
        f.title, resource.provider, resource.kind, resource.name, resource.id
    );
    if let Some(holder) = &f.principal {
        message.push_str(&format!(", held by {}", holder.describe()));
    }
    let mut value = json!({
        "ruleId": f.rule_id,
        "level": level(f.severity),
        "message": {"text": message},
        "locations": [location(f)],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {
            "security-severity": security_severity(Some(f.risk), f.severity),
            "risk": f.risk,
            "severity": f.severity.as_str(),
            "family": f.family.as_str(),
            "resource": {
                "provider": resource.provider.as_str(),
                "kind": resource.kind,
                "id": resource.id,
                "name": resource.name,
            },
            "evidence": f.evidence,
            "remediation": f.remediation,
            "principal": f.principal,
        },
    });
    if let Some(object) = value.as_object_mut() {
        if let Some(i) = rule_index {
            object.insert("ruleIndex".to_string(), json!(i));
        }
        if let Some(s) = &f.suppressed {
            let justification = format!("{} (owner {}, expires {})", s.reason, s.owner, s.expires);
            object.insert(
                "suppressions".to_string(),
                json!([{"kind": "external", "status": "accepted", "justification": justification}]),
            );
        }
    }
    value
}

fn location(f: &Finding) -> Value {
    match &f.location {
        Some(loc) => {
            let mut region = serde_json::Map::new();
            if let Some(line) = loc.line.filter(|l| *l > 0) {
                region.insert("startLine".to_string(), json!(line));
                if let Some(column) = loc.column.filter(|c| *c > 0) {
                    region.insert("startColumn".to_string(), json!(column));
                }
            }
            let mut physical = json!({
                "artifactLocation": {"uri": uri(&loc.path)},
            });
            if let (false, Some(object)) = (region.is_empty(), physical.as_object_mut()) {
                object.insert("region".to_string(), Value::Object(region));
            }
            json!({"physicalLocation": physical})
        }
        None => json!({"logicalLocations": [{
            "name": f.resource.name,
            "fullyQualifiedName": f.resource.id,
            "kind": "resource",
        }]}),
    }
}

/// A repository-relative path as a URI reference: forward slashes, no leading `./` or `/`.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.trim_start_matches("./").trim_start_matches('/');
    utf8_percent_encode(path, PATH).to_string()
}

fn invocation(report: &Report) -> Value {
    let notifications: Vec<Value> = report
        .scan
        .coverage_gaps
        .iter()
        .map(|g| {
            json!({
                "level": "warning",
                "descriptor": {"id": "coverage-gap"},
                "message": {"text": format!(
                    "coverage gap: {} {}: {} ({})", g.source, g.scope, g.what, g.reason
                )},
            })
        })
        .collect();
    json!({
        "executionSuccessful": true,
        "startTimeUtc": report.scan.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "toolExecutionNotifications": notifications,
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub reads `security-severity` as a string from 0.0 to 10.0 (≥ 9 critical, ≥ 7 high,
/// ≥ 4 medium, > 0 low). The risk score is 0-100, so it maps by a tenth; without a finding
/// the rule's severity gives a midpoint of its band.
fn security_severity(risk: Option<u8>, severity: Severity) -> String {
    let score = match risk {
        Some(risk) => f64::from(risk.min(100)) / 10.0,
        None => match severity {
            Severity::Critical => 9.5,
            Severity::High => 8.0,
            Severity::Medium => 5.5,
            Severity::Low => 2.0,
            Severity::Info => 0.0,
        },
    };
    format!("{score:.1}")
}
