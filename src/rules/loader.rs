//! Rules, loading: reads rule TOML (built-in and `--rules DIR`), validates it with errors that
//! name file and line, and applies lapse.toml overrides.
//!
//! Built-in rules are embedded from `rules/**/*.toml` (`builtin.rs`); a user's folders are read
//! at run time in the same format. Every condition is compiled here, once per run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cel_interpreter::Program;
use serde::Deserialize;
use toml::Spanned;

use super::condition::{self, Reads};
use super::engine::{CompiledRule, RuleSet};
use super::{KNOWN_SUBJECT_KINDS, Rule, RuleDocs, RuleStatus};
use crate::config::{Config, ConfigError, RuleOverride, line_of, toml_error, toml_value_to_json};
use crate::findings::{Family, Reference, Severity};
use cel_parser::ast::IdedExpr;

use super::builtin::BUILTIN_RULES;

/// The embedded catalogue: `(rules/<family>/<ID>.toml, text)`, sorted by path.
pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
    BUILTIN_RULES
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// Too large, UTF-16, a byte-order mark, not UTF-8, unreadable.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    #[error("{}: {source}", crate::input::shown(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", crate::input::shown(path))]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", crate::input::shown(path))]
    Folder { path: PathBuf, message: String },
    /// Every file's errors at once, so an author fixes a folder in one pass.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Several(Vec<RuleError>),
}

impl From<ConfigError> for RuleError {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Input(e) => RuleError::Input(e),
            ConfigError::Io { path, source } => RuleError::Io { path, source },
            ConfigError::Invalid {
                path,
                line,
                message,
            } => RuleError::Invalid {
                path,
                line,
                message,
            },
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    title: Spanned<String>,
    family: Family,
    severity: Severity,
    status: RuleStatus,
    applies_to: Spanned<Vec<String>>,
    condition: Spanned<String>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    docs: Spanned<RawDocs>,
    #[serde(default)]
    references: Vec<Spanned<RawReference>>,
    /// Facts to show in a finding besides those the condition reads (context for the reader,
    /// e.g. which scanned repositories an unbound trust admits).
    #[serde(default)]
    evidence: Vec<String>,
    /// Fact → the input that supplies it, for facts a source may leave unknown (a role's
    /// session limit without `list-roles`): subjects lacking one are reported as not judged.
    #[serde(default)]
    requires: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocs {
    rationale: String,
    remediation: String,
    example: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    framework: String,
    id: String,
    url: Option<String>,
}

/// A rule read from one file, before overrides.
struct Parsed {
    rule: Rule,
    program: Program,
    reads: Reads,
    expr: IdedExpr,
    /// File shown in messages and the line of its `id`, for duplicate-id errors.
    path: PathBuf,
    id_line: usize,
}

/// Loads the built-in rules, then every user folder in `extra_dirs` (the plan merges `--rules`
/// and lapse.toml's `scan.rules`), applies `config.rules` overrides and compiles every condition.
pub fn load(extra_dirs: &[PathBuf], config: &Config) -> Result<RuleSet, RuleError> {
    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    for (path, text) in BUILTIN_RULES {
        let shown = Path::new(path);
        let source = format!("builtin:{path}");
        collect(parse(shown, text, source), &mut parsed, &mut errors);
    }
    for dir in unique_dirs(extra_dirs) {
        match toml_files(&dir) {
            Ok(files) => {
                for file in files {
                    let result = crate::input::read_text(&file, crate::input::MAX_CONFIG_BYTES)
                        .map_err(RuleError::Input)
                        .and_then(|text| parse(&file, &text, file.display().to_string()));
                    collect(result, &mut parsed, &mut errors);
                }
            }
            Err(err) => errors.push(err),
        }
    }
    if let Err(err) = check_unique(&parsed) {
        errors.push(err);
    }
    if !errors.is_empty() {
        return Err(several(errors));
    }
    apply_overrides(&mut parsed, config)?;
    let compiled = parsed.into_iter().map(finish).collect();
    Ok(RuleSet::new(compiled))
}

fn collect(
    result: Result<Parsed, RuleError>,
    parsed: &mut Vec<Parsed>,
    errors: &mut Vec<RuleError>,
) {
    match result {
        Ok(p) => parsed.push(p),
        Err(e) => errors.push(e),
    }
}

fn several(mut errors: Vec<RuleError>) -> RuleError {
    if errors.len() == 1 {
        errors.remove(0)
    } else {
        RuleError::Several(errors)
    }
}

/// Each folder once, even when named twice (`--rules ./x` and `scan.rules = ["x"]`): loading
/// it twice would report every rule in it as a duplicate of itself.
fn unique_dirs(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = Vec::new();
    let mut unique = Vec::new();
    for dir in dirs {
        let identity = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if !seen.contains(&identity) {
            seen.push(identity);
            unique.push(dir.clone());
        }
    }
    unique
}

/// Every `*.toml` under `dir`, sorted so rule order (and errors) are reproducible.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, RuleError> {
    let io = |source| RuleError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    // Each folder once, by its real path: a symlink back to a folder already read (a loop, or
    // two links to one folder) would read every rule in it again.
    let mut visited = std::collections::BTreeSet::new();
    while let Some(next) = pending.pop() {
        let real = std::fs::canonicalize(&next).map_err(|source| RuleError::Io {
            path: next.clone(),
            source,
        })?;
        if !visited.insert(real.clone()) {
            return Err(RuleError::Folder {
                path: next,
                message: format!(
                    "a symlink loop: this folder is {}, which is already being read",
                    crate::input::shown(&real)
                ),
            });
        }
        for entry in std::fs::read_dir(&next).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn invalid(path: &Path, line: usize, message: impl Into<String>) -> RuleError {
    RuleError::Invalid {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Parses and validates one rule file.
fn parse(path: &Path, text: &str, source: String) -> Result<Parsed, RuleError> {
    let raw: RawRule = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    let line = |span: std::ops::Range<usize>| line_of(text, span.start);
    let id_line = line(raw.id.span());
    let id = raw.id.into_inner();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            path,
            id_line,
            format!("rule id `{id}` must be letters, digits, `-` or `_`"),
        ));
    }
    let params: BTreeMap<String, serde_json::Value> = raw
        .params
        .into_iter()
        .map(|(k, v)| (k, toml_value_to_json(v)))
        .collect();
    let title_line = line(raw.title.span());
    let title = raw.title.into_inner();
    check_title(&title, &params).map_err(|m| invalid(path, title_line, m))?;
    let kinds_line = line(raw.applies_to.span());
    let applies_to = raw.applies_to.into_inner();
    check_kinds(&applies_to).map_err(|m| invalid(path, kinds_line, m))?;
    let docs_line = line(raw.docs.span());
    let docs = check_docs(raw.docs.into_inner()).map_err(|m| invalid(path, docs_line, m))?;
    let mut references = Vec::new();
    for spanned in raw.references {
        let at = line(spanned.span());
        let r = spanned.into_inner();
        if r.framework.trim().is_empty() || r.id.trim().is_empty() {
            return Err(invalid(
                path,
                at,
                "a reference needs a `framework` and an `id`",
            ));
        }
        references.push(Reference {
            framework: r.framework,
            id: r.id,
            url: r.url,
        });
    }
    let condition_line = condition_start_line(text, raw.condition.span());
    let condition = raw.condition.into_inner();
    let (program, mut reads, expr) = compile(&condition, &params)
        .map_err(|(offset, m)| invalid(path, condition_line + offset, m))?;
    for fact in raw.evidence {
        if !reads.facts.contains(&fact) {
            reads.facts.push(fact);
        }
    }
    reads.required = raw.requires.into_iter().collect();
    let rule = Rule {
        id,
        title,
        family: raw.family,
        severity: raw.severity,
        status: raw.status,
        applies_to,
        condition,
        params,
        docs,
        references,
        source,
        enabled: true,
    };
    Ok(Parsed {
        rule,
        program,
        reads,
        expr,
        path: path.to_path_buf(),
        id_line,
    })
}

/// Line where the condition's text starts: a `"""` string skips the newline after its quotes.
fn condition_start_line(text: &str, span: std::ops::Range<usize>) -> usize {
    let start = line_of(text, span.start);
    let raw = text.get(span).unwrap_or("");
    let multiline = raw.starts_with("\"\"\"\n")
        || raw.starts_with("'''\n")
        || raw.starts_with("\"\"\"\r\n")
        || raw.starts_with("'''\r\n");
    start + usize::from(multiline)
}

/// Compiles a condition; on error, the line offset within the condition and the message.
fn compile(
    condition: &str,
    params: &BTreeMap<String, serde_json::Value>,
) -> Result<(Program, Reads, IdedExpr), (usize, String)> {
    let (program, reads, expr) =
        condition::compile(condition).map_err(|e| (e.line - 1, e.message))?;
    if let Some(name) = reads.params.iter().find(|p| !params.contains_key(*p)) {
        return Err((
            0,
            format!("condition reads `params.{name}`, which [params] does not declare"),
        ));
    }
    Ok((program, reads, expr))
}

fn check_title(title: &str, params: &BTreeMap<String, serde_json::Value>) -> Result<(), String> {
    if title.trim().is_empty() {
        return Err("`title` must not be empty".into());
    }
    for name in placeholders(title) {
        if !params.contains_key(name) {
            return Err(format!(
                "title names `{{{name}}}`, which [params] does not declare"
            ));
        }
    }
    Ok(())
}

/// `{name}` placeholders of a title.
fn placeholders(title: &str) -> impl Iterator<Item = &str> {
    title
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

/// The title with each `{param}` replaced by its value.
pub fn render_title(title: &str, params: &BTreeMap<String, serde_json::Value>) -> String {
    let mut out = title.to_string();
    for (name, value) in params {
        let shown = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{name}}}"), &shown);
    }
    out
}

fn check_kinds(kinds: &[String]) -> Result<(), String> {
    if kinds.is_empty() {
        return Err("`applies_to` must name at least one subject kind".into());
    }
    match kinds
        .iter()
        .find(|k| !KNOWN_SUBJECT_KINDS.contains(&k.as_str()))
    {
        Some(kind) => Err(format!(
            "unknown subject kind `{kind}` in applies_to (known: {})",
            KNOWN_SUBJECT_KINDS.join(", ")
        )),
        None => Ok(()),
    }
}

fn check_docs(raw: RawDocs) -> Result<RuleDocs, String> {
    for (name, value) in [
        ("rationale", &raw.rationale),
        ("remediation", &raw.remediation),
        ("example", &raw.example),
    ] {
        if value.trim().is_empty() {
            return Err(format!("[docs] `{name}` must not be empty"));
        }
    }
    Ok(RuleDocs {
        rationale: raw.rationale.trim().to_string(),
        remediation: raw.remediation.trim().to_string(),
        example: raw.example.trim().to_string(),
    })
}

/// An id is never reused: a user's rule cannot replace a built-in one (tune it in lapse.toml).
fn check_unique(parsed: &[Parsed]) -> Result<(), RuleError> {
    let mut seen: BTreeMap<&str, &Parsed> = BTreeMap::new();
    let mut errors = Vec::new();
    for p in parsed {
        if let Some(first) = seen.insert(&p.rule.id, p) {
            errors.push(invalid(
                &p.path,
                p.id_line,
                format!(
                    "rule id `{}` is already defined in {}",
                    p.rule.id,
                    first.path.display()
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(several(errors))
    }
}

fn apply_overrides(parsed: &mut [Parsed], config: &Config) -> Result<(), RuleError> {
    let config_path = config
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from("lapse.toml"));
    for (id, over) in &config.rules {
        let Some(p) = parsed.iter_mut().find(|p| &p.rule.id == id) else {
            return Err(invalid(
                &config_path,
                over.line,
                format!("[rules.{id}]: unknown rule id `{id}`"),
            ));
        };
        apply_override(&mut p.rule, over).map_err(|m| invalid(&config_path, over.line, m))?;
    }
    Ok(())
}

fn apply_override(rule: &mut Rule, over: &RuleOverride) -> Result<(), String> {
    for (name, value) in &over.params {
        let Some(default) = rule.params.get(name) else {
            let known: Vec<&str> = rule.params.keys().map(String::as_str).collect();
            return Err(format!(
                "[rules.{}]: unknown parameter `{name}` (parameters: {})",
                rule.id,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
        };
        let value = coerce(default, value).ok_or_else(|| {
            format!(
                "[rules.{}]: parameter `{name}` must be {}, got {value}",
                rule.id,
                kind_name(default)
            )
        })?;
        rule.params.insert(name.clone(), value);
    }
    if let Some(enabled) = over.enabled {
        rule.enabled = enabled;
    }
    if let Some(severity) = over.severity {
        rule.severity = severity;
    }
    Ok(())
}

/// `value` in the type of `default`; an integer is accepted where a float is expected.
fn coerce(default: &serde_json::Value, value: &serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    match (default, value) {
        (J::Number(d), J::Number(v)) if d.is_f64() => v.as_f64().map(J::from),
        (J::Number(d), J::Number(v)) if !d.is_f64() && !v.is_f64() => Some(value.clone()),
        (J::String(_), J::String(_)) | (J::Bool(_), J::Bool(_)) => Some(value.clone()),
        (J::Array(_), J::Array(_)) | (J::Object(_), J::Object(_)) => Some(value.clone()),
        _ => None,
    }
}

fn kind_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => "a number",
        serde_json::Value::Number(_) => "an integer",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a table",
        serde_json::Value::Null => "null",
    }
}

fn finish(p: Parsed) -> CompiledRule {
    let mut rule = p.rule;
    rule.title = render_title(&rule.title, &rule.params);
    CompiledRule::new(rule, p.program, p.reads, p.expr)
}
