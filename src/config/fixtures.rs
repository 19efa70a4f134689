//! Config, fixture marks: `[[fixtures]]` of lapse.toml names files in a scanned repository that
//! hold test data on purpose (fake keys for the secret scanner's tests, pattern examples), with
//! the reason. Findings located in those files are kept in every report but not counted; a mark
//! that matches nothing is reported, like a suppression, so a stale mark cannot hide a new file.

use std::path::Path;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use super::{ConfigError, line_of};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFixtureMark {
    paths: Vec<String>,
    reason: String,
    /// Rule ids the mark applies to; every rule when absent.
    #[serde(default)]
    rules: Option<Vec<String>>,
}

/// One validated `[[fixtures]]` entry.
#[derive(Debug, Clone)]
pub struct FixtureMark {
    /// Globs over a file's path relative to the repository root (`/`-separated; `*` stays
    /// within one folder, `**` crosses folders).
    pub paths: Vec<String>,
    pub reason: String,
    /// Empty: every rule.
    pub rules: Vec<String>,
    pub line: usize,
    matcher: GlobSet,
}

impl FixtureMark {
    /// Whether a finding of `rule` located in `path` is fixture data.
    pub fn covers(&self, rule: &str, path: &str) -> bool {
        (self.rules.is_empty() || self.rules.iter().any(|r| r == rule))
            && self.matcher.is_match(path)
    }
}

/// A glob whose `*` does not cross `/`, like a `.gitignore` line.
fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

/// Validates the raw marks: each names at least one path, none may name the whole repository,
/// and each has a reason.
pub(super) fn validate(
    path: &Path,
    text: &str,
    raw: Vec<toml::Spanned<RawFixtureMark>>,
) -> Result<Vec<FixtureMark>, ConfigError> {
    let mut marks = Vec::with_capacity(raw.len());
    for spanned in raw {
        let line = line_of(text, spanned.span().start);
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mark = spanned.into_inner();
        if mark.reason.trim().is_empty() {
            return Err(invalid("fixture mark `reason` must not be empty".into()));
        }
        if mark.paths.is_empty() {
            return Err(invalid(
                "fixture mark `paths` must name at least one path".into(),
            ));
        }
        let mut set = GlobSetBuilder::new();
        for pattern in &mark.paths {
            let trimmed = pattern.trim_start_matches("./");
            if trimmed.is_empty() || trimmed.trim_start_matches(['*', '/']).is_empty() {
                return Err(invalid(format!(
                    "fixture path `{pattern}` matches every file: name the fixture folders or files"
                )));
            }
            let compiled = glob(trimmed).map_err(|e| {
                invalid(format!(
                    "fixture path `{pattern}` is not a valid pattern: {e}"
                ))
            })?;
            set.add(compiled);
        }
        let matcher = set
            .build()
            .map_err(|e| invalid(format!("fixture paths: {e}")))?;
        let rules = mark.rules.unwrap_or_default();
        if rules.iter().any(|r| r.trim().is_empty()) {
            return Err(invalid(
                "fixture mark `rules` holds an empty rule id".into(),
            ));
        }
        marks.push(FixtureMark {
            paths: mark.paths,
            reason: mark.reason,
            rules,
            line,
            matcher,
        });
    }
    Ok(marks)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("lapse.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn marks_are_read_with_their_line() {
        let config = parse(
            "[scan]\nfail_on = \"high\"\n\n[[fixtures]]\npaths = [\"tests/fixtures/**\", \"src/collect/repo/secrets.rs\"]\nreason = \"fake keys\"\nrules = [\"REPO-006\"]\n",
        )
        .unwrap();
        let mark = &config.fixtures[0];
        assert_eq!(mark.line, 4);
        assert!(mark.covers("REPO-006", "tests/fixtures/repo/leaky/app.env"));
        assert!(mark.covers("REPO-006", "src/collect/repo/secrets.rs"));
        assert!(
            !mark.covers("REPO-007", "src/collect/repo/secrets.rs"),
            "other rule"
        );
        assert!(!mark.covers("REPO-006", "src/main.rs"));
    }

    #[test]
    fn star_stays_within_one_folder() {
        let config = parse("[[fixtures]]\npaths = [\"tests/*.env\"]\nreason = \"r\"\n").unwrap();
        assert!(config.fixtures[0].covers("REPO-006", "tests/a.env"));
        assert!(!config.fixtures[0].covers("REPO-006", "tests/deep/a.env"));
    }

    #[test]
    fn unknown_key_is_an_error_naming_the_line() {
        let err = parse("[[fixtures]]\npaths = [\"t/**\"]\nreason = \"r\"\nowner = \"me\"\n")
            .unwrap_err();
        assert!(err.starts_with("lapse.toml:4:"), "{err}");
        assert!(err.contains("owner"), "{err}");
    }

    #[test]
    fn a_mark_needs_a_reason_and_a_narrow_path() {
        let err = parse("[[fixtures]]\npaths = [\"t/**\"]\nreason = \" \"\n").unwrap_err();
        assert!(err.contains("reason"), "{err}");
        let err = parse("[[fixtures]]\npaths = []\nreason = \"r\"\n").unwrap_err();
        assert!(err.contains("at least one path"), "{err}");
        for everything in ["**", "*", "**/*", "./**", "/**"] {
            let text = format!("\n[[fixtures]]\npaths = [\"{everything}\"]\nreason = \"r\"\n");
            let err = parse(&text).unwrap_err();
            assert!(err.starts_with("lapse.toml:2:"), "{everything}: {err}");
            assert!(err.contains("matches every file"), "{everything}: {err}");
        }
        let err = parse("[[fixtures]]\npaths = [\"a/[\"]\nreason = \"r\"\n").unwrap_err();
        assert!(err.contains("not a valid pattern"), "{err}");
    }
}
