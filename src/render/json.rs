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
/// above), streamed: the document is never held in memory, only (compact) a batch of each
/// large array's text while it is written.
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
        let document = Document { derived };
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

/// Array items serialized per piece of parallel work, and per batch of pieces written in
/// order: a batch's text (about 16 MB of findings) is all that is held at once.
const ITEMS_PER_PIECE: usize = 1024;
const ITEMS_PER_BATCH: usize = 16 * ITEMS_PER_PIECE;

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

/// The compact document: the fields of [`document`], its large arrays (identities,
/// credentials, revocations, findings) serialized in parallel pieces (half the time of a
/// sequential pass on a large estate) and written in order. The bytes are those
/// `serde_json::to_writer` writes for the same document.
fn write_compact(derived: &super::Derived, out: &mut (impl Write + Send)) -> Result<(), Failed> {
    let mut sink = Compact { out, fields: 0 };
    document(derived, &mut sink)?;
    sink.out
        .write_all(if sink.fields == 0 { b"{}" } else { b"}" })?;
    Ok(())
}

/// Where [`document`] puts the report's fields, in order: a serde struct (the pretty form), or
/// the compact writer with its parallel arrays.
trait Fields {
    type Error;
    fn field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Self::Error>;
    /// An array of `items`, each written as `view` makes it.
    fn array<'a, T: Sync, V: Serialize>(
        &mut self,
        name: &'static str,
        items: &'a [T],
        view: impl Fn(&'a T) -> V + Sync,
    ) -> Result<(), Self::Error>;
}

/// The report as the v1 document, field by field, in the schema's order: the one definition
/// of the document both forms write.
fn document<F: Fields>(derived: &super::Derived, out: &mut F) -> Result<(), F::Error> {
    let report = derived.report;
    out.field("schema_version", v1::SCHEMA_VERSION)?;
    out.field("tool", &tool())?;
    out.field("scan", &scan(report))?;
    out.field("summary", &summary(report))?;
    out.field("inventory", &v1::Inventory::from(&report.inventory))?;
    out.array("identities", derived.identities(), |i| i)?;
    out.array("credentials", &report.credentials, |c| {
        v1::Credential::from(c)
    })?;
    let issues: Vec<v1::SuppressionIssue> =
        report.suppression_issues.iter().map(Into::into).collect();
    out.field("suppression_issues", &issues)?;
    out.array("revocations", &report.revocations, |r| {
        v1::Revocation::from(r)
    })?;
    // Every finding of a rule shares its title and remediation: escaped once, not per finding.
    let escaped = v1::Escaped::of(&report.findings);
    out.array("findings", &report.findings, |f| {
        v1::FindingView::escaped(f, &escaped)
    })
}

/// The pretty form: the document as one serde struct.
struct Document<'a> {
    derived: &'a super::Derived<'a>,
}

impl Serialize for Document<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut doc = Struct(serializer.serialize_struct("Report", 10)?);
        document(self.derived, &mut doc)?;
        doc.0.end()
    }
}

struct Struct<S>(S);

impl<S: SerializeStruct> Fields for Struct<S> {
    type Error = S::Error;
    fn field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        self.0.serialize_field(name, value)
    }
    fn array<'a, T: Sync, V: Serialize>(
        &mut self,
        name: &'static str,
        items: &'a [T],
        view: impl Fn(&'a T) -> V + Sync,
    ) -> Result<(), S::Error> {
        self.0.serialize_field(name, &Seq(items, &view))
    }
}

/// `items` as a JSON array of their views, one at a time.
struct Seq<'a, 'f, T, F>(&'a [T], &'f F);

impl<'a, T, V: Serialize, F: Fn(&'a T) -> V> Serialize for Seq<'a, '_, T, F> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(self.1))
    }
}

/// The compact form, written field by field as `serde_json::to_writer` would.
struct Compact<'w, W: Write> {
    out: &'w mut W,
    fields: usize,
}

impl<W: Write> Compact<'_, W> {
    fn name(&mut self, name: &str) -> Result<(), Failed> {
        self.out
            .write_all(if self.fields == 0 { b"{" } else { b"," })?;
        self.fields += 1;
        serde_json::to_writer(&mut *self.out, name)?;
        self.out.write_all(b":")?;
        Ok(())
    }
}

impl<W: Write + Send> Fields for Compact<'_, W> {
    type Error = Failed;
    fn field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Failed> {
        self.name(name)?;
        serde_json::to_writer(&mut *self.out, value)?;
        Ok(())
    }
    fn array<'a, T: Sync, V: Serialize>(
        &mut self,
        name: &'static str,
        items: &'a [T],
        view: impl Fn(&'a T) -> V + Sync,
    ) -> Result<(), Failed> {
        use rayon::prelude::*;
        self.name(name)?;
        self.out.write_all(b"[")?;
        // Each batch is serialized (in parallel pieces) while the one before it is written:
        // copying 790 MB into the page cache is a second of the kernel's time on a large
        // estate, which the serialization no longer waits for. Two batches are held at once.
        let serialize = |batch: &'a [T]| -> Vec<Result<Vec<u8>, serde_json::Error>> {
            batch
                .par_chunks(ITEMS_PER_PIECE)
                .map(|piece| {
                    let mut text = Vec::with_capacity(piece.len() * 1024);
                    for (at, item) in piece.iter().enumerate() {
                        if at > 0 {
                            text.push(b',');
                        }
                        serde_json::to_writer(&mut text, &view(item))?;
                    }
                    Ok(text)
                })
                .collect()
        };
        let out = &mut *self.out;
        let mut written = 0usize;
        let mut write = |pieces: Vec<Result<Vec<u8>, serde_json::Error>>| -> Result<(), Failed> {
            for piece in pieces {
                if written > 0 {
                    out.write_all(b",")?;
                }
                written += 1;
                out.write_all(&piece?)?;
            }
            Ok(())
        };
        let mut pending = None;
        for batch in items.chunks(ITEMS_PER_BATCH) {
            let (done, pieces) = rayon::join(
                || pending.take().map_or(Ok(()), &mut write),
                || serialize(batch),
            );
            done?;
            pending = Some(pieces);
        }
        if let Some(pieces) = pending {
            write(pieces)?;
        }
        self.out.write_all(b"]")?;
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct VersionOnly {
    schema_version: String,
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
    use rayon::prelude::*;
    report
        .identities
        .par_iter()
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
