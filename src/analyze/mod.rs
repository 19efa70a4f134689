//! Analyze: turns the inventory into *subjects*, each a resource with the facts rules read.
//!
//! Every hard judgement (privilege level of a policy set, who a trust admits, when a grant
//! expires, how old and idle a credential is) is made here, once, in Rust. Rules never parse
//! provider data; they read the facts of a subject (`r.<fact>` in a condition).
//!
//! A subject's `kind` is `<provider>.<kind>` (`aws.user`, `aws.access_key`); a rule names the
//! kinds it applies to. Facts are a flat JSON object; `*_days` facts are whole days at `as_of`
//! and `null` when unknown, so conditions guard them (`r.age_days != null && ...`).

use serde::{Deserialize, Serialize};

use crate::inventory::{Inventory, Location, ResourceRef, Timestamp};

pub mod access;
pub mod aws;
pub mod azure;
pub mod documents;
pub mod expiry;
pub mod github;
pub mod leaks;
pub mod policy;
pub mod repo;
mod repo_steps;
pub mod trust;

/// The judgement inputs shared by all analyzers.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisContext {
    /// The instant the estate is judged at (`--as-of`, default now).
    pub as_of: Timestamp,
    /// A marker further ahead than this is standing access in all but name (`too_far`).
    pub max_provisional_days: i64,
}

impl AnalysisContext {
    /// Judged at `as_of` with the default horizon.
    pub fn at(as_of: Timestamp) -> AnalysisContext {
        AnalysisContext {
            as_of,
            max_provisional_days: crate::config::DEFAULT_MAX_PROVISIONAL_DAYS,
        }
    }

    /// Judged at `as_of` with lapse.toml's `[scan]` settings.
    pub fn from_config(as_of: Timestamp, config: &crate::config::Config) -> AnalysisContext {
        AnalysisContext {
            as_of,
            max_provisional_days: config.max_provisional_days,
        }
    }

    /// Whole days from `then` to `as_of` (negative if `then` is later).
    pub fn days_since(&self, then: Timestamp) -> i64 {
        (self.as_of - then).num_days()
    }
}

/// How much a principal can do.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Privilege {
    #[default]
    None,
    Read,
    Write,
    Admin,
}

impl Privilege {
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::None => "none",
            Privilege::Read => "read",
            Privilege::Write => "write",
            Privilege::Admin => "admin",
        }
    }
}

/// Who, beyond the owner, can reach a subject.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    #[default]
    Internal,
    /// Another account or tenant, or a CI system through federation bound to one repository.
    CrossAccount,
    /// Stored in or handed to CI, or in a repository's files.
    Ci,
    /// Any principal, any repository, the public.
    Public,
}

/// The inputs to a finding's risk score (see `findings::risk`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RiskInputs {
    pub scope: Privilege,
    /// Days until the access ends by itself; `None` when it never does (standing).
    pub window_days: Option<i64>,
    /// Days since last use; `None` when unknown. Never-used counts as age.
    pub idle_days: Option<i64>,
    pub exposure: Exposure,
}

/// A resource with the facts its rules read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subject {
    /// `<provider>.<kind>`, e.g. `aws.access_key`; rules select subjects by it.
    pub kind: String,
    pub resource: ResourceRef,
    /// The principal this subject belongs to (a key's user), for the per-identity view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Flat JSON object: what `r.<fact>` reads in a condition.
    pub facts: Facts,
    pub risk: RiskInputs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// One identity as an auditor reads it: what it can do, for how long, with which credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub resource: ResourceRef,
    pub scope: String,
    pub privilege: Privilege,
    /// `standing`, `provisional`, `expired`.
    pub window: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    pub active_credentials: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_credential_age_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_days: Option<i64>,
    /// Names of the grants held (policy names, roles), for the drill-down.
    pub grants: Vec<String>,
    /// `standing`, `provisional` or `federated` (set by `analyze::access`).
    #[serde(default)]
    pub access: String,
    /// A machine identity (not a person's user, not AWS's own or SSO roles).
    #[serde(default)]
    pub machine: bool,
    /// Who granted what, why and until when: the identity's own marker, or its live ledger lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisional_grants: Vec<ProvisionalGrant>,
}

/// A self-ending grant as its marker or ledger line records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionalGrant {
    /// `tag`, `description`, `title`, `schedule` (the identity's own marker) or `ledger`.
    pub source: String,
    /// The policy, role or key granted; empty for a marker on the identity itself.
    pub target: String,
    pub until: Timestamp,
    /// `approved_by`, else the ledger's or the tag's owner: declared, not verified.
    pub granted_by: Option<String>,
    pub requested_by: Option<String>,
    pub reason: Option<String>,
    pub ticket: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Analysis {
    pub subjects: Vec<Subject>,
    pub identities: Vec<Identity>,
    /// What an analyzer could not use or judge (an unreadable document, an inventory
    /// attribute it cannot read), shown with the collectors' gaps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<crate::inventory::CoverageGap>,
}

impl Analysis {
    /// Joins parts, in order, into vectors allocated once at their final size: pairwise
    /// appends of a parallel reduce copied the whole estate's subjects several times over.
    pub fn concat(parts: Vec<Analysis>) -> Analysis {
        let subjects = parts.iter().map(|p| p.subjects.len()).sum();
        let identities = parts.iter().map(|p| p.identities.len()).sum();
        let mut all = Analysis {
            subjects: Vec::with_capacity(subjects),
            identities: Vec::with_capacity(identities),
            gaps: Vec::new(),
        };
        for part in parts {
            all.subjects.extend(part.subjects);
            all.identities.extend(part.identities);
            all.gaps.extend(part.gaps);
        }
        all
    }

    fn extend(&mut self, other: Analysis) {
        // Taking the first provider's vectors as they are avoids holding two copies of a
        // large estate's subjects at the peak of the run.
        if self.subjects.is_empty() {
            self.subjects = other.subjects;
        } else {
            self.subjects.extend(other.subjects);
        }
        if self.identities.is_empty() {
            self.identities = other.identities;
        } else {
            self.identities.extend(other.identities);
        }
        self.gaps.extend(other.gaps);
    }
}

/// A subject's facts, kept as one compact JSON object: a parsed map of ~30 keys per subject
/// cost about 3 KiB each, a third of the peak memory of a 300k-subject scan. The rule engine
/// parses them once per subject, when it builds the subject's CEL context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts(Box<str>);

impl Default for Facts {
    fn default() -> Self {
        Facts("{}".into())
    }
}

impl Facts {
    /// The facts as a JSON object.
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        // Always written from a map by this type, so it always parses back into one.
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    /// One fact, parsed; `None` when the subject does not carry it.
    pub fn get(&self, name: &str) -> Option<serde_json::Value> {
        self.to_map().remove(name)
    }

    /// Sets (or replaces) one fact.
    pub fn insert(&mut self, name: impl Into<String>, value: serde_json::Value) {
        let mut map = self.to_map();
        map.insert(name.into(), value);
        *self = Facts::from(map);
    }

    /// The named facts a caller needs, into its own type (unknown facts skipped, nothing else
    /// parsed): for readers of a few facts of every subject, where [`Facts::to_map`] on 200k
    /// subjects cost seconds and a map per subject held at once.
    pub fn read<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(&self.0).ok()
    }

    /// The compact JSON text of the object.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The facts named in `names` (sorted, no duplicates), parsed in one pass over the text,
    /// in the order of `names`; `None` where the subject does not carry one. Every other fact
    /// is skipped unparsed: the rule engine reads a few facts of a wide set on every subject.
    /// A name written twice reads as its last value, as in [`Facts::to_map`].
    pub fn pick<N: AsRef<str>>(&self, names: &[N]) -> Vec<Option<serde_json::Value>> {
        let mut de = serde_json::Deserializer::from_str(&self.0);
        // Always written from a map by this type, so it always parses.
        serde::de::DeserializeSeed::deserialize(Pick(names), &mut de)
            .unwrap_or_else(|_| names.iter().map(|_| None).collect())
    }
}

/// The visitor of [`Facts::pick`]: keys matched against the sorted names, wanted values parsed.
struct Pick<'n, N>(&'n [N]);

impl<'de, N: AsRef<str>> serde::de::DeserializeSeed<'de> for Pick<'_, N> {
    type Value = Vec<Option<serde_json::Value>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, N: AsRef<str>> serde::de::Visitor<'de> for Pick<'_, N> {
    type Value = Vec<Option<serde_json::Value>>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object of facts")
    }
    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut values: Vec<Option<serde_json::Value>> = self.0.iter().map(|_| None).collect();
        while let Some(FactName(name)) = map.next_key()? {
            match self.0.binary_search_by(|n| n.as_ref().cmp(&name)) {
                Ok(at) => values[at] = Some(map.next_value()?),
                Err(_) => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }
}

/// A fact's name, borrowed from the text unless it had to be unescaped.
struct FactName<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for FactName<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = FactName<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a fact name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(FactName(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FactName(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for Facts {
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Self {
        // A map of JSON values always serializes.
        Facts(
            serde_json::to_string(&map)
                .unwrap_or_else(|_| "{}".into())
                .into_boxed_str(),
        )
    }
}

impl Serialize for Facts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Facts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Map::deserialize(deserializer).map(Facts::from)
    }
}

impl Subject {
    /// The facts as a JSON object (parsed: callers in a loop should call it once).
    pub fn facts(&self) -> serde_json::Map<String, serde_json::Value> {
        self.facts.to_map()
    }

    /// Sets (or replaces) one fact.
    pub fn set_fact(&mut self, name: impl Into<String>, value: serde_json::Value) {
        self.facts.insert(name, value);
    }
}

/// Serializes a typed facts struct into the flat object a subject carries.
pub fn facts_of<T: Serialize>(facts: &T) -> Facts {
    // Straight to text: a parsed map in between would cost as much as the facts themselves.
    match serde_json::to_string(facts) {
        Ok(text) if text.starts_with('{') => Facts(text.into_boxed_str()),
        // Facts structs are plain structs of plain fields; anything else is a programming error
        // caught by every analyzer test.
        _ => Facts::default(),
    }
}

/// Runs every provider's analyzer over the inventory.
pub fn analyze(inventory: &Inventory, ctx: &AnalysisContext) -> Analysis {
    let mut analysis = Analysis::default();
    // The documents check reads only the inventory: it runs beside the AWS analysis, whose
    // serial stretches (the chains, joining the subjects) leave a core idle.
    let (aws, unreadable) = rayon::join(
        || crate::timed("analyze aws", || aws::analyze(inventory, ctx)),
        || crate::timed("analyze: documents", || documents::unreadable(inventory)),
    );
    analysis.extend(aws);
    analysis.extend(azure::analyze(inventory, ctx));
    analysis.extend(github::analyze(inventory, ctx));
    analysis.extend(repo::analyze(inventory, ctx));
    github::link_aws_roles(&mut analysis, inventory);
    leaks::link(&mut analysis, inventory);
    crate::timed("analyze: access", || {
        access::classify(&mut analysis, inventory, ctx)
    });
    analysis.gaps.extend(unreadable);
    analysis
}

#[cfg(test)]
mod facts_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pick_reads_the_named_facts_as_the_map_does() {
        let map = json!({"age_days": 91, "name": "a\"b", "tags": {"k": [1, null]}, "gone": null});
        let facts = Facts::from(map.as_object().unwrap().clone());
        let names = ["age_days", "gone", "missing", "name", "tags"];
        let picked = facts.pick(&names);
        for (name, value) in names.iter().zip(&picked) {
            assert_eq!(value.as_ref(), map.get(*name), "{name}");
        }
        assert_eq!(
            facts.pick::<&str>(&[]),
            Vec::<Option<serde_json::Value>>::new()
        );
    }

    #[test]
    fn pick_unescapes_names_and_keeps_the_last_of_a_repeated_one() {
        // Analyzers never write such names; a hand-made inventory might.
        let facts = Facts(r#"{"a\u0062": 1, "c": 1, "c": 2}"#.into());
        assert_eq!(
            facts.pick(&["ab", "c"]),
            vec![Some(json!(1)), Some(json!(2))]
        );
        assert_eq!(facts.get("ab"), Some(json!(1)));
        assert_eq!(facts.get("c"), Some(json!(2)));
    }
}
