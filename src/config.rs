//! Config: `lapse.toml`, read once into raw serde structs that reject unknown keys, then
//! validated into `Config`. Errors name the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::cli::{FailOn, Format};
use crate::findings::Severity;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
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
}

/// Line (1-based) of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Turns a toml error into one that names the file and line.
pub fn toml_error(path: &Path, text: &str, err: &toml::de::Error) -> ConfigError {
    let line = err.span().map(|s| line_of(text, s.start)).unwrap_or(1);
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        message: err.message().trim().to_string(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    scan: RawScan,
    #[serde(default)]
    rules: BTreeMap<String, RawRuleOverride>,
    #[serde(default)]
    suppressions: Vec<toml::Spanned<RawSuppression>>,
    #[serde(default)]
    fixtures: Vec<toml::Spanned<fixtures::RawFixtureMark>>,
    #[serde(default)]
    aws: Option<toml::Table>,
    #[serde(default)]
    github: Option<toml::Table>,
    #[serde(default)]
    azure: Option<toml::Table>,
    #[serde(default)]
    grant: RawGrant,
    #[serde(default)]
    repo: Option<toml::Table>,
}

/// `[grant]`: the policy `lapse grant` issues under.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    max_ttl: Option<toml::Spanned<String>>,
    require_approval: Option<bool>,
}

/// `[grant]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantPolicy {
    /// The longest `--ttl` accepted (default 24 hours).
    pub max_ttl: chrono::Duration,
    /// `--approved-by` required, and distinct from `--requested-by`.
    pub require_approval: bool,
}

impl Default for GrantPolicy {
    fn default() -> Self {
        GrantPolicy {
            max_ttl: chrono::Duration::hours(24),
            require_approval: false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScan {
    fail_on: Option<FailOn>,
    allow_incomplete: Option<bool>,
    out: Option<PathBuf>,
    formats: Option<Vec<String>>,
    rules: Option<Vec<PathBuf>>,
    history: Option<PathBuf>,
    journal: Option<PathBuf>,
    max_provisional_days: Option<toml::Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleOverride {
    enabled: Option<bool>,
    severity: Option<Severity>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuppression {
    rule: String,
    resource: String,
    reason: String,
    owner: String,
    expires: String,
}

/// A rule's settings from `[rules.<ID>]`.
#[derive(Debug, Clone, Default)]
pub struct RuleOverride {
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub params: BTreeMap<String, serde_json::Value>,
    /// Line of the `[rules.<ID>]` table's first key, for errors about an unknown rule or param.
    pub line: usize,
}

/// `[[suppressions]]`: silence one rule on resources matching a glob, for a reason, until a date.
#[derive(Debug, Clone)]
pub struct SuppressionConfig {
    pub rule: String,
    /// Glob over the resource id (ARN) or name: `arn:aws:iam::*:user/ci-*`.
    pub resource: String,
    pub reason: String,
    pub owner: String,
    pub expires: NaiveDate,
    pub line: usize,
}

/// `[scan] max_provisional_days` when unset: a marker further ahead is not provisional.
pub const DEFAULT_MAX_PROVISIONAL_DAYS: i64 = 90;
/// Bounds of `max_provisional_days` (ten years at most: beyond that nothing is temporary).
pub const MAX_PROVISIONAL_DAYS_RANGE: std::ops::RangeInclusive<i64> = 1..=3650;

#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from, for messages; `None` when no lapse.toml was read.
    pub path: Option<PathBuf>,
    pub fail_on: Option<FailOn>,
    pub allow_incomplete: Option<bool>,
    pub out: Option<PathBuf>,
    pub formats: Vec<Format>,
    pub rule_dirs: Vec<PathBuf>,
    pub history: Option<PathBuf>,
    /// `[scan] journal`: the revoke journal `scan` reads for its revocation view (none unless named).
    pub journal: Option<PathBuf>,
    /// `[scan] max_provisional_days`.
    pub max_provisional_days: i64,
    /// `[grant]`.
    pub grant: GrantPolicy,
    pub rules: BTreeMap<String, RuleOverride>,
    pub suppressions: Vec<SuppressionConfig>,
    /// `[[fixtures]]`: files that hold test data on purpose.
    pub fixtures: Vec<FixtureMark>,
    /// Provider tables, validated by their collectors (`ProviderTable::read`).
    pub aws: Option<ProviderTable>,
    pub github: Option<ProviderTable>,
    pub azure: Option<ProviderTable>,
    /// `[repo]`, read by the repository collector (`RepoOptions::from_args`).
    pub repo: Option<ProviderTable>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            path: None,
            fail_on: None,
            allow_incomplete: None,
            out: None,
            formats: Vec::new(),
            rule_dirs: Vec::new(),
            history: None,
            journal: None,
            max_provisional_days: DEFAULT_MAX_PROVISIONAL_DAYS,
            grant: GrantPolicy::default(),
            fixtures: Vec::new(),
            rules: BTreeMap::new(),
            suppressions: Vec::new(),
            aws: None,
            github: None,
            azure: None,
            repo: None,
        }
    }
}

fn toml_to_json(value: toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s),
        toml::Value::Integer(i) => serde_json::Value::from(i),
        toml::Value::Float(f) => serde_json::Value::from(f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(toml_to_json).collect())
        }
        toml::Value::Table(t) => {
            serde_json::Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// Converts TOML to JSON values (rule parameters are JSON inside lapse).
pub fn toml_value_to_json(value: toml::Value) -> serde_json::Value {
    toml_to_json(value)
}

impl Config {
    /// Reads `path`; `explicit` says whether the user named it (then a missing file is an error).
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let text = match crate::input::read_text(path, crate::input::MAX_CONFIG_BYTES) {
            Ok(text) => text,
            Err(crate::input::InputError::Io { source, .. })
                if !explicit && source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(Config::default());
            }
            Err(e) => return Err(ConfigError::Input(e)),
        };
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        let text_arc: Arc<str> = Arc::from(text);
        let provider = |name: &'static str, table: Option<toml::Table>| {
            table.map(|_| ProviderTable::new(name, path, Arc::clone(&text_arc)))
        };
        let invalid = |line: usize, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut formats = Vec::new();
        for name in raw.scan.formats.unwrap_or_default() {
            let format = <Format as clap::ValueEnum>::from_str(&name, true).map_err(|_| {
                invalid(
                    find_line(text, &format!("\"{name}\"")),
                    format!("unknown format `{name}` in scan.formats"),
                )
            })?;
            formats.push(format);
        }
        let rules = raw
            .rules
            .into_iter()
            .map(|(id, o)| {
                let line = find_line(text, &format!("[rules.{id}"))
                    .max(find_line(text, &format!("[rules.\"{id}\"")));
                let params = o
                    .params
                    .into_iter()
                    .map(|(k, v)| (k, toml_to_json(v)))
                    .collect();
                (
                    id,
                    RuleOverride {
                        enabled: o.enabled,
                        severity: o.severity,
                        params,
                        line,
                    },
                )
            })
            .collect();
        let mut suppressions = Vec::new();
        for spanned in raw.suppressions {
            let line = line_of(text, spanned.span().start);
            let s = spanned.into_inner();
            let expires = NaiveDate::parse_from_str(&s.expires, "%Y-%m-%d").map_err(|_| {
                invalid(
                    line,
                    format!(
                        "suppression `expires` must be YYYY-MM-DD, got `{}`",
                        s.expires
                    ),
                )
            })?;
            for (field, value) in [
                ("reason", &s.reason),
                ("owner", &s.owner),
                ("rule", &s.rule),
            ] {
                if value.trim().is_empty() {
                    return Err(invalid(
                        line,
                        format!("suppression `{field}` must not be empty"),
                    ));
                }
            }
            globset::Glob::new(&s.resource).map_err(|e| {
                invalid(
                    line,
                    format!("suppression `resource` is not a valid pattern: {e}"),
                )
            })?;
            suppressions.push(SuppressionConfig {
                rule: s.rule,
                resource: s.resource,
                reason: s.reason,
                owner: s.owner,
                expires,
                line,
            });
        }
        let max_provisional_days = match raw.scan.max_provisional_days {
            None => DEFAULT_MAX_PROVISIONAL_DAYS,
            Some(days) if MAX_PROVISIONAL_DAYS_RANGE.contains(days.get_ref()) => *days.get_ref(),
            Some(days) => {
                return Err(invalid(
                    line_of(text, days.span().start),
                    format!(
                        "scan.max_provisional_days must be between {} and {} days, got {}",
                        MAX_PROVISIONAL_DAYS_RANGE.start(),
                        MAX_PROVISIONAL_DAYS_RANGE.end(),
                        days.get_ref()
                    ),
                ));
            }
        };
        let mut grant = GrantPolicy::default();
        if let Some(max_ttl) = raw.grant.max_ttl {
            grant.max_ttl = crate::grant::ttl::parse(max_ttl.get_ref()).map_err(|e| {
                invalid(
                    line_of(text, max_ttl.span().start),
                    format!("grant.max_ttl: {e}"),
                )
            })?;
        }
        grant.require_approval = raw.grant.require_approval.unwrap_or(false);
        Ok(Config {
            path: Some(path.to_path_buf()),
            journal: raw.scan.journal,
            grant,
            max_provisional_days,
            fail_on: raw.scan.fail_on,
            allow_incomplete: raw.scan.allow_incomplete,
            out: raw.scan.out,
            formats,
            rule_dirs: raw.scan.rules.unwrap_or_default(),
            history: raw.scan.history,
            rules,
            suppressions,
            fixtures: fixtures::validate(path, text, raw.fixtures)?,
            aws: provider("aws", raw.aws),
            github: provider("github", raw.github),
            azure: provider("azure", raw.azure),
            repo: provider("repo", raw.repo),
        })
    }
}

/// Line of the first occurrence of `needle` (1 when absent): for errors found after parsing.
fn find_line(text: &str, needle: &str) -> usize {
    text.find(needle).map(|at| line_of(text, at)).unwrap_or(1)
}

mod fixtures;
mod provider;
pub use fixtures::FixtureMark;
pub use provider::ProviderTable;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_and_line() {
        let text = "[scan]\nfail_on = \"high\"\nfial_on = \"low\"\n";
        let err = Config::parse(Path::new("lapse.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("lapse.toml:3:"), "{err}");
        assert!(err.contains("fial_on"), "{err}");
    }

    #[test]
    fn max_provisional_days_is_bounded() {
        let config = Config::parse(Path::new("l.toml"), "[scan]\nmax_provisional_days = 30\n");
        assert_eq!(config.unwrap().max_provisional_days, 30);
        assert_eq!(Config::default().max_provisional_days, 90);
        for bad in ["0", "-1", "100000000"] {
            let text = format!("[scan]\nmax_provisional_days = {bad}\n");
            let err = Config::parse(Path::new("l.toml"), &text)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("l.toml:2:"), "{err}");
        }
    }

    #[test]
    fn suppression_needs_a_date() {
        let text = "[[suppressions]]\nrule = \"AWS-001\"\nresource = \"*\"\nreason = \"r\"\nowner = \"o\"\nexpires = \"soon\"\n";
        let err = Config::parse(Path::new("l.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("YYYY-MM-DD"), "{err}");
    }

    #[test]
    fn overrides_and_formats_are_read() {
        let text = "[scan]\nformats = [\"json\", \"sarif\"]\n[rules.AWS-001]\nseverity = \"high\"\nparams = { max_age_days = 60 }\n";
        let config = Config::parse(Path::new("l.toml"), text).unwrap();
        assert_eq!(config.formats, vec![Format::Json, Format::Sarif]);
        let rule = &config.rules["AWS-001"];
        assert_eq!(rule.severity, Some(Severity::High));
        assert_eq!(rule.params["max_age_days"], serde_json::json!(60));
        assert_eq!(rule.line, 3);
    }
}
