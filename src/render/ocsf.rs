//! Render, OCSF: writes `lapse-report.ocsf.json`, a JSON array of OCSF 1.3 Detection Finding
//! events (class 2004, category 2 Findings) for SIEMs and security lakes, one per finding,
//! streamed so 100k findings are never all in memory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::RenderError;
use crate::findings::{Finding, Severity};
use crate::inventory::Provider;
use crate::report::Report;

pub const FILE_NAME: &str = "lapse-report.ocsf.json";
pub const OCSF_VERSION: &str = "1.3.0";
pub const CLASS_UID: u32 = 2004;
pub const CATEGORY_UID: u32 = 2;
/// Activity 1, Create: the finding was observed in this run.
const ACTIVITY_CREATE: u32 = 1;

pub fn write(report: &Report, path: &Path) -> Result<(), RenderError> {
    let file = File::create(path).map_err(|e| RenderError::io(path, e))?;
    let mut out = BufWriter::new(file);
    let json_error = |e| RenderError::Json {
        path: path.to_path_buf(),
        source: e,
    };
    out.write_all(b"[").map_err(|e| RenderError::io(path, e))?;
    for (i, finding) in report.findings.iter().enumerate() {
        let separator: &[u8] = if i == 0 { b"\n" } else { b",\n" };
        out.write_all(separator)
            .map_err(|e| RenderError::io(path, e))?;
        serde_json::to_writer(&mut out, &event(report, finding)).map_err(json_error)?;
    }
    out.write_all(b"\n]\n")
        .and_then(|()| out.flush())
        .map_err(|e| RenderError::io(path, e))
}

/// One Detection Finding event.
pub fn event(report: &Report, f: &Finding) -> Value {
    let time = report.scan.as_of.timestamp_millis();
    let resource = &f.resource;
    let (status_id, status) = match f.suppressed {
        Some(_) => (3, "Suppressed"),
        None => (1, "New"),
    };
    let mut event = json!({
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Detection Finding: Create",
        "time": time,
        "severity_id": severity_id(f.severity),
        "severity": severity_name(f.severity),
        "status_id": status_id,
        "status": status,
        "risk_score": f.risk,
        "message": f.title,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "lapse",
                "vendor_name": "lapse",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "uid": f.fingerprint,
        },
        "finding_info": {
            "uid": f.fingerprint,
            "title": f.title,
            "desc": f.remediation,
            "types": [f.family.as_str()],
            "analytic": {"uid": f.rule_id, "name": f.rule_id, "type_id": 1, "type": "Rule"},
        },
        "resources": [{
            "uid": resource.id,
            "name": resource.name,
            "type": resource.kind,
            "cloud_partition": partition(resource.provider, &resource.id),
            // OCSF's resource owner: the holder of a credential.
            "owner": f.principal.as_ref().map(|h| json!({"uid": h.id, "name": h.name, "type": h.kind})),
        }],
        "remediation": {"desc": f.remediation},
        "unmapped": {
            "evidence": f.evidence,
            "provider": resource.provider.as_str(),
            "principal": f.principal,
        },
    });
    if let (Some(cloud), Some(object)) = (cloud(resource.provider), event.as_object_mut()) {
        object.insert("cloud".to_string(), json!({"provider": cloud}));
    }
    event
}

fn severity_id(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

fn cloud(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Aws => Some("AWS"),
        Provider::Azure => Some("Azure"),
        Provider::Github | Provider::Repo => None,
    }
}

/// The AWS partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`), for Security Lake.
fn partition(provider: Provider, id: &str) -> Option<String> {
    if provider != Provider::Aws {
        return None;
    }
    let mut parts = id.split(':');
    match (parts.next(), parts.next()) {
        (Some("arn"), Some(partition)) if !partition.is_empty() => Some(partition.to_string()),
        _ => None,
    }
}
