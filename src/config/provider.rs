//! Config, provider tables: `[aws]`, `[github]` and `[azure]` of lapse.toml. lapse.toml checks only
//! that each is a table; its collector reads it into a raw struct of its own (`deny_unknown_fields`)
//! with [`ProviderTable::read`], so a typo there still names the file and the line of the key.

use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::{ConfigError, line_of, toml_error};

/// One provider table and the file it came from.
#[derive(Clone)]
pub struct ProviderTable {
    name: &'static str,
    path: PathBuf,
    /// The whole file: errors are located in it, not in a copy of the table without spans.
    text: Arc<str>,
}

impl fmt::Debug for ProviderTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ProviderTable([{}] in {})",
            self.name,
            self.path.display()
        )
    }
}

impl ProviderTable {
    pub(super) fn new(name: &'static str, path: &Path, text: Arc<str>) -> Self {
        ProviderTable {
            name,
            path: path.to_path_buf(),
            text,
        }
    }

    /// `aws`, `github` or `azure`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The lapse.toml this table is in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deserializes the table into `T`; an unknown key or a wrong type names the file and line.
    pub fn read<T: DeserializeOwned + Default>(&self) -> Result<T, ConfigError> {
        let located = |e: toml::de::Error| {
            let mut err = toml_error(&self.path, &self.text, &e);
            if let ConfigError::Invalid { message, .. } = &mut err {
                *message = format!("[{}] {message}", self.name);
            }
            err
        };
        let document = toml::de::Deserializer::parse(&self.text).map_err(located)?;
        let seed = OneTable::<T> {
            name: self.name,
            wanted: PhantomData,
        };
        Ok(seed
            .deserialize(document)
            .map_err(located)?
            .unwrap_or_default())
    }

    /// An error about `key` of this table (a value of the right type that is still wrong), at the
    /// key's line, or the table's when the key is not written in it.
    pub fn invalid(&self, key: &str, message: impl fmt::Display) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            line: self.line_of_key(key),
            message: format!("[{}] {key}: {message}", self.name),
        }
    }

    /// A path written in the table is relative to lapse.toml's folder, not to where lapse runs.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        match self.path.parent() {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    fn line_of_key(&self, key: &str) -> usize {
        let Ok(root) = toml::de::DeTable::parse(&self.text) else {
            return 1;
        };
        let root = root.into_inner();
        let Some((name, table)) = root.iter().find(|(k, _)| k.get_ref().as_ref() == self.name)
        else {
            return 1;
        };
        let at = match table.get_ref() {
            toml::de::DeValue::Table(t) => t
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == key)
                .map_or(name.span().start, |(k, _)| k.span().start),
            _ => name.span().start,
        };
        line_of(&self.text, at)
    }
}

/// Reads one top-level table of the document as `T`, skipping the others (lapse.toml's own
/// parse already rejected unknown top-level keys).
struct OneTable<T> {
    name: &'static str,
    wanted: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for OneTable<T> {
    type Value = Option<T>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for OneTable<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a TOML document with a [{}] table", self.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.name {
                found = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::super::Config;
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        orgs: Option<Vec<String>>,
        key: Option<PathBuf>,
    }

    fn github(text: &str) -> ProviderTable {
        Config::parse(Path::new("conf/lapse.toml"), text)
            .unwrap()
            .github
            .unwrap()
    }

    #[test]
    fn read_names_the_line_of_an_unknown_key() {
        let table = github("[scan]\nfail_on = \"high\"\n\n[github]\norgs = [\"acme\"]\norgz = 1\n");
        let err = table.read::<Raw>().unwrap_err().to_string();
        assert!(
            err.starts_with("conf/lapse.toml:6: [github] unknown field `orgz`"),
            "{err}"
        );
    }

    #[test]
    fn read_and_resolve_and_invalid() {
        let table = github("[github]\norgs = [\"acme\"]\nkey = \"keys/app.pem\"\n");
        let raw: Raw = table.read().unwrap();
        assert_eq!(raw.orgs.unwrap(), vec!["acme"]);
        let key = table.resolve(&raw.key.unwrap());
        assert_eq!(key, Path::new("conf/keys/app.pem"));
        assert_eq!(table.resolve(Path::new("/abs.pem")), Path::new("/abs.pem"));
        let err = table.invalid("key", "unreadable").to_string();
        assert_eq!(err, "conf/lapse.toml:3: [github] key: unreadable");
        assert!(
            table
                .invalid("absent", "x")
                .to_string()
                .starts_with("conf/lapse.toml:1:")
        );
    }

    #[test]
    fn a_provider_key_of_the_wrong_type_is_an_error() {
        let table = github("[github]\norgs = \"acme\"\n");
        let err = table.read::<Raw>().unwrap_err().to_string();
        assert!(err.starts_with("conf/lapse.toml:2: [github]"), "{err}");
    }
}
