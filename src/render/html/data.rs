//! Render, HTML data block: the findings and identities as compact columnar JSON with interned
//! strings, embedded in `<script type="application/json" id="data">` and rendered by the page's
//! script a page of rows at a time (so 100k findings stay well under 25 MB and responsive).
//!
//! Layout (documented for the page script, `reports/report.js`):
//! * `s`: the string table; every `*` column below holds an index into it.
//! * `f`: findings, one array per column, all of one length:
//!   `rule*`, `title*`, `fam*`, `sev` (0 info .. 4 critical), `risk`, `prov*`, `kind*`, `name*`,
//!   `rid` (`2*i` = the id is `s[i]`; `2*i+1` = the id is `s[i]` followed by the name, which
//!   saves the repeated ARN tail), `pid*` (-1 none), `fp` (fingerprint, inline), `rem*`,
//!   `loc*` (-1 none), `line` (0 none), `sup*` (-1 not suppressed), `ev` (evidence as a flat
//!   `[key*, value*, ...]` array per finding; a value's string is its compact JSON text),
//!   `x` (index into the top-level `x`, -1 none).
//! * `x`: the escalation drill-down of each finding whose evidence has a chain, escalation
//!   paths, conditions or reductions: `h` (the chain hop by hop, each `[from*, to*, path*, on*]`;
//!   a hop that does not read back, like the `…` of a cut chain, is `[text*, -1, -1, -1]`), `p`
//!   (path ids*), `c` (the conditions, quoted, *), `r` (what a boundary or SCP took away, *).
//! * `p`: the catalogue entry (`paths/aws/escalation.toml`) of every path id the embedded
//!   findings name: `t` title, `y` what it yields (text), `st` steps as `[action, must reach]`,
//!   `src` public sources.
//! * `i`: identities: `prov*`, `kind*`, `rid` (as above), `name*`, `scope*`, `priv*`, `win*`,
//!   `exp*` (-1 none), `cred`, `age` (-1 unknown), `idle` (-1 unknown), `grants` (array of `*`),
//!   `n` (active findings), `max` (worst severity, -1 none), `acc*` (standing, provisional,
//!   federated), `pg` (each provisional grant as one line of text, array of `*`).

use serde::Serialize;
use serde_json::Value;

use crate::findings::{Finding, Severity};
use crate::render::v1;
use crate::report::Report;

/// At most this many findings are embedded in the page: the riskiest ones (the report holds
/// findings riskiest first). Past it the page grew by 21 MB per 100k findings and the browser
/// had to parse them all; the page says when findings were left out and the JSON report always
/// has every one. Counts, charts and the per-identity view still cover all findings.
pub const MAX_EMBEDDED_FINDINGS: usize = 100_000;

/// The findings the page embeds: the first (riskiest) [`MAX_EMBEDDED_FINDINGS`].
pub fn embedded(findings: &[Finding]) -> &[Finding] {
    &findings[..findings.len().min(MAX_EMBEDDED_FINDINGS)]
}

/// Builds the data block's JSON, already escaped for an HTML `<script>` element.
pub fn encode(report: &Report, identities: &[v1::Identity]) -> String {
    let mut strings = Interner::default();
    let findings = FindingColumns::build(embedded(&report.findings), &mut strings);
    let identities = IdentityColumns::build(identities, &mut strings);
    let mut escalations = Escalations::default();
    let mut findings = findings;
    findings.x = embedded(&report.findings)
        .iter()
        .map(|f| escalations.add(&f.evidence, &mut strings))
        .collect();
    let data = Data {
        s: strings.table,
        f: findings,
        i: identities,
        p: escalations.paths(),
        x: escalations.list,
    };
    // Serializing plain strings, numbers and maps cannot fail; an empty object keeps the page
    // working (it shows no rows) rather than aborting a report that is otherwise written.
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".to_string());
    escape_for_script(&json)
}

/// Escapes JSON text for a `<script>` element. `<`, `>` and `&` only ever occur inside JSON
/// strings, where `\u003c` means the same, so the result is the same JSON; but no `</script>`
/// or `<!--` can appear to end the element early. U+2028/2029 are escaped for old parsers.
pub fn escape_for_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    // Copied a run at a time between the characters to escape: `<`, `>`, `&`, and U+2028/2029,
    // whose UTF-8 starts with 0xE2 (which no other escaped character's bytes contain).
    let mut copied = 0;
    for (at, byte) in json.bytes().enumerate() {
        let escape = match byte {
            b'<' => "\\u003c",
            b'>' => "\\u003e",
            b'&' => "\\u0026",
            0xE2 => match json.get(at..at + 3) {
                Some("\u{2028}") => "\\u2028",
                Some("\u{2029}") => "\\u2029",
                _ => continue,
            },
            _ => continue,
        };
        out.push_str(&json[copied..at]);
        out.push_str(escape);
        copied = at + if byte == 0xE2 { 3 } else { 1 };
    }
    out.push_str(&json[copied..]);
    out
}

#[derive(Serialize)]
struct Data {
    s: Vec<String>,
    f: FindingColumns,
    i: IdentityColumns,
    x: Vec<Escalation>,
    p: std::collections::BTreeMap<String, PathView>,
}

/// One finding's escalation drill-down (see the layout above).
#[derive(Serialize)]
struct Escalation {
    h: Vec<[i64; 4]>,
    p: Vec<i64>,
    c: Vec<i64>,
    r: Vec<i64>,
}

#[derive(Serialize)]
struct PathView {
    t: String,
    y: String,
    st: Vec<[String; 2]>,
    src: Vec<String>,
}

#[derive(Default)]
struct Escalations {
    list: Vec<Escalation>,
    ids: std::collections::BTreeSet<String>,
}

impl Escalations {
    /// The index of the finding's drill-down, or -1 when its evidence has none.
    fn add(
        &mut self,
        evidence: &std::collections::BTreeMap<String, Value>,
        s: &mut Interner,
    ) -> i64 {
        use crate::analyze::aws::evidence::{Hop, path_id_of};
        let texts = |key: &str| -> Vec<&str> {
            evidence
                .get(key)
                .and_then(Value::as_array)
                .map(|values| values.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        };
        let (chain, paths) = (texts("chain"), texts("escalation_paths"));
        let (conditions, reduced) = (texts("escalation_conditions"), texts("reduced_by"));
        if chain.is_empty() && paths.is_empty() && conditions.is_empty() && reduced.is_empty() {
            return -1;
        }
        // The chain's paths first (the page opens the first), then the other paths it can take.
        let mut ids: Vec<&str> = Vec::new();
        let h = chain
            .iter()
            .map(|line| match Hop::parse(line) {
                Some(hop) => {
                    ids.push(hop.path);
                    [s.id(hop.from), s.id(hop.to), s.id(hop.path), s.opt(hop.on)]
                }
                None => [s.id(line), -1, -1, -1],
            })
            .collect();
        ids.extend(paths.iter().filter_map(|l| path_id_of(l)));
        let mut seen = std::collections::BTreeSet::new();
        ids.retain(|id| seen.insert(*id));
        self.ids.extend(ids.iter().map(|id| id.to_string()));
        self.list.push(Escalation {
            h,
            p: ids.iter().map(|id| s.id(id)).collect(),
            c: conditions.iter().map(|c| s.id(c)).collect(),
            r: reduced.iter().map(|r| s.id(r)).collect(),
        });
        self.list.len() as i64 - 1
    }

    /// The catalogue entries of every path id named.
    fn paths(&self) -> std::collections::BTreeMap<String, PathView> {
        let catalogue = crate::analyze::aws::catalogue::Catalogue::builtin();
        catalogue
            .path
            .iter()
            .filter(|p| self.ids.contains(&p.id))
            .map(|p| {
                let view = PathView {
                    t: p.title.clone(),
                    y: p.yields_text(),
                    st: p
                        .steps
                        .iter()
                        .map(|step| [step.action.clone(), p.reach_text(step.reach)])
                        .collect(),
                    src: p.sources.clone(),
                };
                (p.id.clone(), view)
            })
            .collect()
    }
}

#[derive(Default)]
struct Interner {
    table: Vec<String>,
    index: crate::hash::FastMap<String, u32>,
}

impl Interner {
    fn id(&mut self, text: &str) -> i64 {
        if let Some(&i) = self.index.get(text) {
            return i64::from(i);
        }
        let i = self.table.len() as u32;
        self.table.push(text.to_string());
        self.index.insert(text.to_string(), i);
        i64::from(i)
    }

    fn opt(&mut self, text: Option<&str>) -> i64 {
        text.map_or(-1, |t| self.id(t))
    }

    /// Encodes a resource id, dropping its tail when that is the resource's name.
    fn resource_id(&mut self, id: &str, name: &str) -> i64 {
        match id.strip_suffix(name) {
            Some(prefix) if !name.is_empty() => self.id(prefix) * 2 + 1,
            _ => self.id(id) * 2,
        }
    }
}

fn severity_rank(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 0,
        Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    }
}

fn v1_severity_rank(severity: v1::Severity) -> i8 {
    match severity {
        v1::Severity::Info => 0,
        v1::Severity::Low => 1,
        v1::Severity::Medium => 2,
        v1::Severity::High => 3,
        v1::Severity::Critical => 4,
    }
}

#[derive(Default, Serialize)]
struct FindingColumns {
    rule: Vec<i64>,
    title: Vec<i64>,
    fam: Vec<i64>,
    sev: Vec<u8>,
    risk: Vec<u8>,
    prov: Vec<i64>,
    kind: Vec<i64>,
    name: Vec<i64>,
    rid: Vec<i64>,
    pid: Vec<i64>,
    /// The holder of a credential, as text.
    held: Vec<i64>,
    fp: Vec<String>,
    rem: Vec<i64>,
    loc: Vec<i64>,
    line: Vec<u32>,
    sup: Vec<i64>,
    ev: Vec<Vec<i64>>,
    /// Filled by `encode` (the escalation drill-downs).
    x: Vec<i64>,
}

impl FindingColumns {
    fn build(findings: &[Finding], s: &mut Interner) -> Self {
        let mut cols = FindingColumns::default();
        for f in findings {
            cols.rule.push(s.id(&f.rule_id));
            cols.title.push(s.id(&f.title));
            cols.fam.push(s.id(f.family.as_str()));
            cols.sev.push(severity_rank(f.severity));
            cols.risk.push(f.risk.min(100));
            cols.prov.push(s.id(f.resource.provider.as_str()));
            cols.kind.push(s.id(&f.resource.kind));
            cols.name.push(s.id(&f.resource.name));
            cols.rid
                .push(s.resource_id(&f.resource.id, &f.resource.name));
            cols.pid.push(s.opt(f.principal_id.as_deref()));
            let held = f
                .principal
                .as_ref()
                .map(|h| crate::findings::describe_holder(&h.kind, &h.id, &h.name));
            cols.held.push(s.opt(held.as_deref()));
            cols.fp.push(f.fingerprint.clone());
            cols.rem.push(s.id(&f.remediation));
            cols.loc
                .push(s.opt(f.location.as_ref().map(|l| l.path.as_str())));
            cols.line
                .push(f.location.as_ref().and_then(|l| l.line).unwrap_or(0));
            let suppression = f
                .suppressed
                .as_ref()
                .map(|x| format!("{} (owner {}, expires {})", x.reason, x.owner, x.expires));
            cols.sup.push(s.opt(suppression.as_deref()));
            cols.ev.push(evidence(&f.evidence, s));
        }
        cols
    }
}

/// Evidence as `[key*, value*, ...]` where the value is interned as its compact JSON text:
/// values repeat (`true`, small ages, the same policy name) far more than they differ.
fn evidence(evidence: &std::collections::BTreeMap<String, Value>, s: &mut Interner) -> Vec<i64> {
    let mut flat = Vec::with_capacity(evidence.len() * 2);
    for (key, value) in evidence {
        flat.push(s.id(key));
        flat.push(s.id(&value.to_string()));
    }
    flat
}

#[derive(Default, Serialize)]
struct IdentityColumns {
    prov: Vec<i64>,
    kind: Vec<i64>,
    rid: Vec<i64>,
    name: Vec<i64>,
    scope: Vec<i64>,
    #[serde(rename = "priv")]
    privilege: Vec<i64>,
    win: Vec<i64>,
    exp: Vec<i64>,
    cred: Vec<u32>,
    age: Vec<i64>,
    idle: Vec<i64>,
    grants: Vec<Vec<i64>>,
    n: Vec<u64>,
    max: Vec<i8>,
    acc: Vec<i64>,
    pg: Vec<Vec<i64>>,
}

/// `target until T (source); granted by …, requested by …, reason …, ticket …`.
fn grant_line(grant: &v1::ProvisionalGrant) -> String {
    let target = if grant.target.is_empty() {
        "this identity"
    } else {
        &grant.target
    };
    let mut line = format!(
        "{target} until {} ({})",
        grant.until.to_rfc3339(),
        grant.source
    );
    for (label, value) in [
        ("granted by", &grant.granted_by),
        ("requested by", &grant.requested_by),
        ("reason", &grant.reason),
        ("ticket", &grant.ticket),
    ] {
        if let Some(value) = value {
            line.push_str(&format!("; {label} {value}"));
        }
    }
    line
}

impl IdentityColumns {
    fn build(identities: &[v1::Identity], s: &mut Interner) -> Self {
        let mut cols = IdentityColumns::default();
        for identity in identities {
            let resource = &identity.resource;
            let provider = serde_json::to_value(resource.provider).unwrap_or(Value::Null);
            cols.prov.push(s.id(provider.as_str().unwrap_or("")));
            cols.kind.push(s.id(&resource.kind));
            cols.rid.push(s.resource_id(&resource.id, &resource.name));
            cols.name.push(s.id(&resource.name));
            cols.scope.push(s.id(&identity.scope));
            let privilege = serde_json::to_value(identity.privilege).unwrap_or(Value::Null);
            cols.privilege.push(s.id(privilege.as_str().unwrap_or("")));
            cols.win.push(s.id(&identity.window));
            let expires = identity.expires_at.map(|t| t.to_rfc3339());
            cols.exp.push(s.opt(expires.as_deref()));
            cols.cred.push(identity.active_credentials);
            cols.age
                .push(identity.oldest_credential_age_days.unwrap_or(-1));
            cols.idle.push(identity.idle_days.unwrap_or(-1));
            cols.grants
                .push(identity.grants.iter().map(|g| s.id(g)).collect());
            cols.n.push(identity.finding_count);
            cols.max
                .push(identity.max_severity.map_or(-1, v1_severity_rank));
            cols.acc.push(s.id(&identity.access));
            let grants = identity.provisional_grants.iter().map(grant_line);
            cols.pg.push(grants.map(|g| s.id(&g)).collect());
        }
        cols
    }
}

#[cfg(test)]
mod escape_tests {
    use super::escape_for_script;
    use proptest::prelude::*;

    /// The definition, a character at a time.
    fn reference(json: &str) -> String {
        json.chars()
            .map(|c| match c {
                '<' => "\\u003c".to_string(),
                '>' => "\\u003e".to_string(),
                '&' => "\\u0026".to_string(),
                '\u{2028}' => "\\u2028".to_string(),
                '\u{2029}' => "\\u2029".to_string(),
                c => c.to_string(),
            })
            .collect()
    }

    #[test]
    fn escapes_what_could_end_the_script_element() {
        assert_eq!(
            escape_for_script("[\"</script><!--&\u{2028}\u{2029}\u{2027}€\"]"),
            "[\"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029\u{2027}€\"]"
        );
        assert_eq!(escape_for_script(""), "");
    }

    proptest! {
        #[test]
        fn escape_for_script_is_the_per_character_definition(
            text in "[<>&a\u{2028}\u{2029}\u{2027}\u{e2}€ -~]{0,40}"
        ) {
            prop_assert_eq!(escape_for_script(&text), reference(&text));
        }
    }
}
