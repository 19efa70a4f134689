//! Render, JSON: writes `lapse-report.json` (frozen `v1` types, streamed) and reads it back
//! for `lapse diff`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;
use serde::ser::SerializeStruct;

use super::RenderError;
use super::v1;
use crate::findings::{Family, Severity};
use crate::report::Report;

pub const FILE_NAME: &str = "lapse-report.json";

/// Above this many findings the report is written compact rather than indented: at 500k
/// findings indentation doubled the file (785 MB) and the time to write it, and nobody reads
/// such a file by eye. The content is the same JSON either way.
pub const PRETTY_MAX_FINDINGS: usize = 50_000;

/// Writes the report as JSON to `path` (pretty up to [`PRETTY_MAX_FINDINGS`] findings, compact
/// above), one finding at a time: the document is never held in memory, only each finding's
/// `v1` copy while it is written.
pub fn write(report: &Report, path: &Path) -> Result<(), RenderError> {
    write_derived(&super::Derived::new(report), path)
}

pub(crate) fn write_derived(derived: &super::Derived, path: &Path) -> Result<(), RenderError> {
    let report = derived.report;
    let file = File::create(path).map_err(|e| RenderError::io(path, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    if report.findings.len() > PRETTY_MAX_FINDINGS {
        write_compact(derived, &mut out).map_err(|e| match e {
            Failed::Json(source) => RenderError::Json {
                path: path.to_path_buf(),
                source,
            },
            Failed::Io(source) => RenderError::io(path, source),
        })?;
    } else {
        let document = Document {
            derived,
            findings: true,
        };
        document
            .serialize(&mut serde_json::Serializer::pretty(&mut out))
            .map_err(|e| RenderError::Json {
                path: path.to_path_buf(),
                source: e,
            })?;
    }
    out.write_all(b"\n").map_err(|e| RenderError::io(path, e))?;
    out.flush().map_err(|e| RenderError::io(path, e))
}

/// Reads a `lapse-report.json` written by any 1.x version of lapse. Errors name the file and,
/// for malformed or mistyped JSON, the line and column.
pub fn read_report(path: &Path) -> Result<v1::Report, RenderError> {
    let text = crate::input::read_text(path, crate::input::MAX_DATA_BYTES)?;
    // The version first: a v2 file should say so, not fail on its first renamed field.
    let header: VersionOnly =
        serde_json::from_str(&text).map_err(|e| RenderError::malformed(path, &e))?;
    let major = header.schema_version.split('.').next().unwrap_or("");
    if major != v1::SCHEMA_MAJOR {
        return Err(RenderError::UnsupportedVersion {
            path: path.to_path_buf(),
            version: header.schema_version,
        });
    }
    serde_json::from_str(&text).map_err(|e| RenderError::malformed(path, &e))
}

/// Findings serialized per piece of parallel work, and per batch of pieces written in order:
/// a batch's text (about 16 MB) is all that is held at once.
const FINDINGS_PER_PIECE: usize = 1024;
const FINDINGS_PER_BATCH: usize = 16 * FINDINGS_PER_PIECE;

enum Failed {
    Json(serde_json::Error),
    Io(std::io::Error),
}

impl From<serde_json::Error> for Failed {
    fn from(e: serde_json::Error) -> Self {
        Failed::Json(e)
    }
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Failed::Io(e)
    }
}

/// The compact document: everything but the findings through the one [`Document`] definition,
/// then the findings, serialized in parallel (half the time of a sequential pass on a large
/// estate) and written in order. The bytes are those `serde_json::to_writer` would write.
fn write_compact(derived: &super::Derived, out: &mut impl Write) -> Result<(), Failed> {
    use rayon::prelude::*;
    let document = Document {
        derived,
        findings: false,
    };
    let mut head = Unclosed::new(&mut *out);
    document.serialize(&mut serde_json::Serializer::new(&mut head))?;
    head.finish()?;
    out.write_all(b",\"findings\":[")?;
    let findings = &derived.report.findings;
    for (batch_at, batch) in findings.chunks(FINDINGS_PER_BATCH).enumerate() {
        let pieces: Vec<Result<Vec<u8>, serde_json::Error>> = batch
            .par_chunks(FINDINGS_PER_PIECE)
            .map(|piece| {
                let mut text = Vec::with_capacity(piece.len() * 1024);
                for (at, finding) in piece.iter().enumerate() {
                    if at > 0 {
                        text.push(b',');
                    }
                    serde_json::to_writer(&mut text, &v1::FindingView::from(finding))?;
                }
                Ok(text)
            })
            .collect();
        for (at, piece) in pieces.into_iter().enumerate() {
            if batch_at > 0 || at > 0 {
                out.write_all(b",")?;
            }
            out.write_all(&piece?)?;
        }
    }
    out.write_all(b"]}")?;
    Ok(())
}

/// A writer that passes everything on but the last byte, which must close the object: the
/// head of the compact document is left open for the findings.
struct Unclosed<W: Write> {
    inner: W,
    last: Option<u8>,
}

impl<W: Write> Unclosed<W> {
    fn new(inner: W) -> Self {
        Unclosed { inner, last: None }
    }

    fn finish(self) -> std::io::Result<()> {
        match self.last {
            Some(b'}') => Ok(()),
            _ => Err(std::io::Error::other(
                "the report's head did not end as an object",
            )),
        }
    }
}

impl<W: Write> Write for Unclosed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some((&last, rest)) = buf.split_last() else {
            return Ok(0);
        };
        if let Some(held) = self.last.take() {
            self.inner.write_all(&[held])?;
        }
        self.inner.write_all(rest)?;
        self.last = Some(last);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[derive(serde::Deserialize)]
struct VersionOnly {
    schema_version: String,
}

/// The report as the v1 document, serialized field by field so `findings` can stream.
struct Document<'a> {
    derived: &'a super::Derived<'a>,
    /// Without them, the document is the head of the compact form ([`write_compact`]).
    findings: bool,
}

impl Serialize for Document<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let report = self.derived.report;
        let mut doc = serializer.serialize_struct("Report", 10)?;
        doc.serialize_field("schema_version", v1::SCHEMA_VERSION)?;
        doc.serialize_field("tool", &tool())?;
        doc.serialize_field("scan", &scan(report))?;
        doc.serialize_field("summary", &summary(report))?;
        doc.serialize_field("inventory", &v1::Inventory::from(&report.inventory))?;
        doc.serialize_field("identities", self.derived.identities())?;
        let credentials: Vec<v1::Credential> = report.credentials.iter().map(Into::into).collect();
        doc.serialize_field("credentials", &credentials)?;
        let issues: Vec<v1::SuppressionIssue> =
            report.suppression_issues.iter().map(Into::into).collect();
        doc.serialize_field("suppression_issues", &issues)?;
        let revocations: Vec<v1::Revocation> = report.revocations.iter().map(Into::into).collect();
        doc.serialize_field("revocations", &revocations)?;
        if self.findings {
            doc.serialize_field("findings", &Findings(report))?;
        }
        doc.end()
    }
}

struct Findings<'a>(&'a Report);

impl Serialize for Findings<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.findings.iter().map(v1::FindingView::from))
    }
}

pub fn tool() -> v1::Tool {
    v1::Tool {
        name: "lapse".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

pub fn scan(report: &Report) -> v1::Scan {
    let meta = &report.scan;
    v1::Scan {
        started_at: meta.started_at,
        as_of: meta.as_of,
        duration_ms: meta.duration_ms,
        sources: meta.sources.iter().map(Into::into).collect(),
        api_calls: meta.api_calls.clone(),
        coverage_gaps: meta.coverage_gaps.iter().map(Into::into).collect(),
        complete: report.is_complete(),
        not_judged: meta
            .not_judged
            .iter()
            .map(|n| v1::NotJudged {
                rule_id: n.rule_id.clone(),
                fact: n.fact.clone(),
                needs: n.needs.clone(),
                subjects: n.subjects,
            })
            .collect(),
    }
}

/// Counts of active findings by severity and family; every key present, zeros included, so a
/// consumer never has to guess whether a missing key means zero.
pub fn summary(report: &Report) -> v1::Summary {
    let mut by_severity: BTreeMap<v1::Severity, u64> =
        Severity::ALL.iter().map(|s| ((*s).into(), 0)).collect();
    let mut by_family: BTreeMap<v1::Family, u64> =
        Family::ALL.iter().map(|f| ((*f).into(), 0)).collect();
    let mut total = 0;
    for finding in report.active_findings() {
        total += 1;
        *by_severity.entry(finding.severity.into()).or_insert(0) += 1;
        *by_family.entry(finding.family.into()).or_insert(0) += 1;
    }
    v1::Summary {
        total,
        suppressed: report.findings.len() as u64 - total,
        by_severity,
        by_family,
        machine_access: machine_access(&report.identities),
    }
}

/// Machine identities by access; expired grants still in place count as standing.
pub fn machine_access(identities: &[crate::analyze::Identity]) -> v1::MachineAccess {
    let machines = identities.iter().filter(|i| i.machine);
    let mut access = v1::MachineAccess::default();
    for identity in machines {
        match identity.access.as_str() {
            "provisional" => access.provisional += 1,
            "federated" => access.federated += 1,
            _ => access.standing += 1,
        }
    }
    let total = access.standing + access.provisional + access.federated;
    if total > 0 {
        access.standing_percent = (access.standing * 100 + total / 2) / total;
        access.self_ending_percent = 100 - access.standing_percent;
    }
    access
}

/// The per-identity view: each identity with the count and worst severity of the active
/// findings on it or on what it owns (a finding's `principal_id` or its resource id).
pub fn identities(report: &Report) -> Vec<v1::Identity> {
    // Hashed once per finding: foldhash, seeded per run, rather than SipHash.
    let index: HashMap<&str, usize, foldhash::fast::RandomState> = report
        .identities
        .iter()
        .enumerate()
        .map(|(i, identity)| (identity.resource.id.as_str(), i))
        .collect();
    let mut counts: Vec<(u64, Option<Severity>)> = vec![(0, None); report.identities.len()];
    for finding in report.active_findings() {
        let owner = finding
            .principal_id
            .as_deref()
            .and_then(|id| index.get(id))
            .or_else(|| index.get(finding.resource.id.as_str()));
        if let Some(&i) = owner {
            counts[i].0 += 1;
            counts[i].1 = counts[i].1.max(Some(finding.severity));
        }
    }
    report
        .identities
        .iter()
        .zip(counts)
        .map(|(identity, (finding_count, max_severity))| v1::Identity {
            resource: (&identity.resource).into(),
            scope: identity.scope.clone(),
            privilege: identity.privilege.into(),
            window: identity.window.clone(),
            expires_at: identity.expires_at,
            active_credentials: identity.active_credentials,
            oldest_credential_age_days: identity.oldest_credential_age_days,
            idle_days: identity.idle_days,
            grants: identity.grants.clone(),
            access: identity.access.clone(),
            machine: identity.machine,
            provisional_grants: identity
                .provisional_grants
                .iter()
                .map(|g| v1::ProvisionalGrant {
                    source: g.source.clone(),
                    target: g.target.clone(),
                    until: g.until,
                    granted_by: g.granted_by.clone(),
                    requested_by: g.requested_by.clone(),
                    reason: g.reason.clone(),
                    ticket: g.ticket.clone(),
                })
                .collect(),
            finding_count,
            max_severity: max_severity.map(Into::into),
        })
        .collect()
}
