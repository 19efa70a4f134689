//! Collect, repository: the secret-pattern catalogue. Patterns are data (`secrets/*.toml`,
//! embedded at build time, plus every `*.toml` of the folders given with `--secrets DIR` or
//! `[repo] secrets`), validated once: a typo, a duplicate id or a regex that does not compile
//! names the file and line. See `secrets/cloud.toml` for the format.

use std::path::{Path, PathBuf};

use regex::Regex;
use serde::Deserialize;

/// The built-in catalogue, listed by hand so the compiler tracks each file; a test checks that
/// every file under `secrets/` is listed.
pub static BUILTIN_SECRETS: &[(&str, &str)] = &[
    (
        "secrets/cloud.toml",
        include_str!("../../../secrets/cloud.toml"),
    ),
    (
        "secrets/code_hosting.toml",
        include_str!("../../../secrets/code_hosting.toml"),
    ),
    (
        "secrets/infrastructure.toml",
        include_str!("../../../secrets/infrastructure.toml"),
    ),
    (
        "secrets/known-public.toml",
        include_str!("../../../secrets/known-public.toml"),
    ),
    (
        "secrets/registries.toml",
        include_str!("../../../secrets/registries.toml"),
    ),
    (
        "secrets/saas.toml",
        include_str!("../../../secrets/saas.toml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    pattern: Vec<toml::Spanned<RawPattern>>,
    #[serde(default)]
    known_public: Vec<RawKnown>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    id: String,
    title: String,
    regex: String,
    group: Option<usize>,
    #[serde(default)]
    min_entropy: f64,
    #[serde(default = "yes")]
    hint: bool,
    #[serde(default)]
    generic: bool,
    requires: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKnown {
    value: String,
    #[allow(dead_code)]
    reason: String,
}

/// One credential type.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub id: String,
    pub title: String,
    pub regex: Regex,
    /// The capture holding the secret itself.
    pub group: usize,
    /// Minimum Shannon entropy (bits per character) of the captured value; 0 disables it.
    pub min_entropy: f64,
    /// Whether the last four characters may be shown.
    pub hint: bool,
    /// The entropy-checked catch-all, which yields to every precise pattern.
    pub generic: bool,
    /// A regex the whole text must also match (context anywhere in the file, such as
    /// `kind: Secret`), kept out of `regex` so the set stays small.
    pub requires: Option<Regex>,
    /// Where it was defined, for messages.
    pub source: String,
}

/// Every pattern of a run and the values known to be public.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub patterns: Vec<Pattern>,
    pub known_public: Vec<String>,
}

impl Catalogue {
    /// The built-in catalogue plus the `*.toml` files of `dirs`, in that order.
    pub fn load(dirs: &[PathBuf]) -> Result<Catalogue, CatalogueError> {
        let mut catalogue = Catalogue::default();
        for (path, text) in BUILTIN_SECRETS {
            catalogue.add(path, text)?;
        }
        for dir in dirs {
            let entries = std::fs::read_dir(dir).map_err(|source| CatalogueError::Io {
                path: dir.clone(),
                source,
            })?;
            let mut files: Vec<PathBuf> = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|source| CatalogueError::Io {
                    path: dir.clone(),
                    source,
                })?;
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    files.push(path);
                }
            }
            files.sort();
            for path in files {
                let text = std::fs::read_to_string(&path).map_err(|source| CatalogueError::Io {
                    path: path.clone(),
                    source,
                })?;
                catalogue.add(&path.display().to_string(), &text)?;
            }
        }
        Ok(catalogue)
    }

    fn add(&mut self, path: &str, text: &str) -> Result<(), CatalogueError> {
        let invalid = |offset: usize, message: String| CatalogueError::Invalid {
            path: path.to_string(),
            line: line_at(text, offset),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            invalid(offset, e.message().trim().to_string())
        })?;
        for spanned in raw.pattern {
            let offset = spanned.span().start;
            let raw = spanned.into_inner();
            if raw.id.is_empty()
                || !raw
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(invalid(
                    offset,
                    format!("pattern id `{}` must be snake_case", raw.id),
                ));
            }
            if let Some(other) = self.patterns.iter().find(|p| p.id == raw.id) {
                return Err(invalid(
                    offset,
                    format!(
                        "pattern `{}` is already defined in {}",
                        raw.id, other.source
                    ),
                ));
            }
            let regex = Regex::new(&raw.regex)
                .map_err(|e| invalid(offset, format!("pattern `{}`: {e}", raw.id)))?;
            let group = raw
                .group
                .unwrap_or(if regex.captures_len() > 1 { 1 } else { 0 });
            if group >= regex.captures_len() {
                return Err(invalid(
                    offset,
                    format!("pattern `{}`: no capture group {group}", raw.id),
                ));
            }
            let requires = raw
                .requires
                .as_deref()
                .map(Regex::new)
                .transpose()
                .map_err(|e| invalid(offset, format!("pattern `{}` requires: {e}", raw.id)))?;
            self.patterns.push(Pattern {
                id: raw.id,
                title: raw.title,
                regex,
                group,
                min_entropy: raw.min_entropy,
                hint: raw.hint,
                generic: raw.generic,
                requires,
                source: path.to_string(),
            });
        }
        self.known_public
            .extend(raw.known_public.into_iter().map(|k| k.value));
        Ok(())
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The folder holding the built-in files, for the test that every file there is listed.
pub fn builtin_dir() -> &'static Path {
    Path::new("secrets")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_secrets_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut on_disk: Vec<String> = std::fs::read_dir(root.join(builtin_dir()))
            .unwrap()
            .map(|e| format!("secrets/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|p| p.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = BUILTIN_SECRETS.iter().map(|(p, _)| *p).collect();
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn builtin_catalogue_loads_with_sixty_types_or_more() {
        let catalogue = Catalogue::load(&[]).unwrap();
        assert!(
            catalogue.patterns.len() >= 60,
            "{}",
            catalogue.patterns.len()
        );
        assert!(catalogue.known_public.len() >= 3);
    }

    #[test]
    fn bad_user_files_name_file_and_line() {
        let dir = tempfile_dir();
        std::fs::write(
            dir.join("a.toml"),
            "[[pattern]]\nid = \"acme_key\"\ntitle = \"x\"\nregex = '''acme_(['''\n",
        )
        .unwrap();
        let err = Catalogue::load(std::slice::from_ref(&dir))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a.toml:1:") && err.contains("acme_key"),
            "{err}"
        );
        std::fs::write(
            dir.join("a.toml"),
            "[[pattern]]\nid = \"acme_key\"\ntitel = \"x\"\nregex = 'x'\n",
        )
        .unwrap();
        let err = Catalogue::load(std::slice::from_ref(&dir))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.toml:") && err.contains("titel"), "{err}");
        std::fs::write(
            dir.join("a.toml"),
            "[[pattern]]\nid = \"github_pat\"\ntitle = \"x\"\nregex = 'x'\n",
        )
        .unwrap();
        let err = Catalogue::load(std::slice::from_ref(&dir))
            .unwrap_err()
            .to_string();
        assert!(err.contains("already defined"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lapse-secrets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
