//! Analyze, expiry markers: reads `lapse:expires-at` (tags, descriptions, titles, the ledger)
//! into the provisional-grant facts shared by every provider.
//!
//! A marker is provider-neutral: an AWS tag value, the text after `lapse:expires-at=` in an
//! Azure role assignment's description or in a GitHub deploy key's title (`[lapse:expires-at=…]`),
//! or a ledger entry. The value must be RFC 3339; anything else is an *invalid* marker, which is
//! a finding and never a reason to revoke. A readable marker further ahead than
//! `max_provisional_days` is *too far*: standing access in all but name, a finding too, and
//! judged as standing by every other rule. A tag key that is `lapse:expires-at` in another case
//! is an invalid marker: whoever wrote it meant an expiry that nothing would enforce.

use std::collections::BTreeMap;

use serde::Serialize;

use super::AnalysisContext;
use crate::inventory::{Credential, Grant, LedgerEntry, Provider, Timestamp};

/// Tag (AWS) or key (free text) carrying the expiry.
pub const EXPIRES_AT: &str = "lapse:expires-at";
/// Tag naming who asked for the grant.
pub const OWNER: &str = "lapse:owner";
/// Tag saying why the grant exists.
pub const REASON: &str = "lapse:reason";

/// Expiry-marker facts, flattened into the facts of every subject that can carry a marker.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExpiryFacts {
    /// `none | valid | invalid | too_far`.
    pub expiry_marker: String,
    /// The raw marker text when present (attacker-controlled: shown, never interpreted further).
    pub expiry_marker_value: Option<String>,
    /// Where the marker was read: `tag`, `description`, `title`, `ledger`, `schedule`.
    pub expiry_source: Option<String>,
    /// Has a readable expiry: a provisional grant.
    pub provisional: bool,
    /// RFC 3339.
    pub expires_at: Option<String>,
    /// Provisional and `expires_at <= as_of`.
    pub expired: bool,
    /// Whole days until expiry (negative once past); null when not provisional.
    pub expires_in_days: Option<i64>,
    /// `lapse:owner` and `lapse:reason` tags.
    pub owner: Option<String>,
    pub reason: Option<String>,
}

impl ExpiryFacts {
    /// The parsed expiry of a provisional grant.
    pub fn expires_at_time(&self) -> Option<Timestamp> {
        self.expires_at
            .as_deref()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    }

    /// `standing`, `provisional` or `expired`: the identity view's window.
    pub fn window(&self) -> &'static str {
        match (self.provisional, self.expired) {
            (false, _) => "standing",
            (true, false) => "provisional",
            (true, true) => "expired",
        }
    }
}

/// Reads one marker value. `raw` is the marker text when one is present (`None`: no marker);
/// `source` says where it came from (`tag`, `description`, `title`, `ledger`).
pub fn read_marker(raw: Option<&str>, source: &str, ctx: &AnalysisContext) -> ExpiryFacts {
    let Some(raw) = raw else {
        return ExpiryFacts {
            expiry_marker: "none".into(),
            ..ExpiryFacts::default()
        };
    };
    let mut facts = ExpiryFacts {
        expiry_marker_value: Some(raw.to_string()),
        expiry_source: Some(source.to_string()),
        ..ExpiryFacts::default()
    };
    match parse_timestamp(raw) {
        Some(expires_at) => {
            let ahead = expires_at - ctx.as_of;
            facts.expires_at =
                Some(expires_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
            facts.expires_in_days = Some(ahead.num_days());
            if ahead > chrono::Duration::days(ctx.max_provisional_days) {
                facts.expiry_marker = "too_far".into();
            } else {
                facts.expiry_marker = "valid".into();
                facts.provisional = true;
                facts.expired = expires_at <= ctx.as_of;
            }
        }
        None => facts.expiry_marker = "invalid".into(),
    }
    facts
}

/// Reads the marker from tags (AWS): `lapse:expires-at`, `lapse:owner`, `lapse:reason`.
pub fn from_tags(tags: &BTreeMap<String, String>, ctx: &AnalysisContext) -> ExpiryFacts {
    let look_alike = tags
        .iter()
        .find(|(key, _)| key.as_str() != EXPIRES_AT && key.eq_ignore_ascii_case(EXPIRES_AT));
    let mut facts = match look_alike {
        // Even beside the exact key: two markers that disagree in case are not one expiry.
        Some((key, value)) => ExpiryFacts {
            expiry_marker: "invalid".into(),
            expiry_marker_value: Some(format!("{key}={value}")),
            expiry_source: Some("tag".into()),
            ..ExpiryFacts::default()
        },
        None => read_marker(tags.get(EXPIRES_AT).map(String::as_str), "tag", ctx),
    };
    facts.owner = tags.get(OWNER).cloned();
    facts.reason = tags.get(REASON).cloned();
    facts
}

/// Reads the marker from free text (an Azure description, a GitHub deploy key title).
pub fn from_text(text: Option<&str>, source: &str, ctx: &AnalysisContext) -> ExpiryFacts {
    read_marker(text.and_then(find_in_text), source, ctx)
}

/// Finds `lapse:expires-at=<value>` in free text and returns `<value>` (possibly empty, which
/// reads as an invalid marker). The value ends at whitespace, `]`, `)`, `,` or `;`, so both
/// `[lapse:expires-at=2026-01-31T00:00:00Z]` and `... lapse:expires-at=… owner=x` work. The key
/// is matched without regard to case: a human typed it.
pub fn find_in_text(text: &str) -> Option<&str> {
    let key = format!("{EXPIRES_AT}=");
    let start = find_ascii_case_insensitive(text, &key)? + key.len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, ']' | ')' | ',' | ';'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (haystack.as_bytes(), needle.as_bytes());
    if needle.len() > hay.len() {
        return None;
    }
    // Byte offsets are char boundaries here: the needle is ASCII, so a match starts on one.
    (0..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

/// The latest ledger line of each grant, found by what the provider calls the grant (a deploy
/// key's `OWNER/REPO/KEY_ID`, a role assignment's id, an application password's
/// `OBJECT_ID/KEY_ID`). The ledger is the source of truth for a grant lapse issued: `lapse
/// grant` extends one by appending a line (GitHub cannot edit a key's title), so that line's
/// expiry overrides the marker the provider holds. Built once per inventory.
#[derive(Debug, Default)]
pub struct LedgerIndex<'a> {
    lines: std::collections::HashMap<(Provider, &'static str, String), &'a LedgerEntry>,
}

/// The ledger kinds a provider marker can stand beside.
const LEDGER_KINDS: [&str; 3] = ["deploy_key", "role_assignment", "application_password"];

impl<'a> LedgerIndex<'a> {
    /// Indexes `ledger`; of several lines for one grant the later wins, as in `revoke::ledger`.
    pub fn new(ledger: &'a [LedgerEntry]) -> Self {
        let mut lines = std::collections::HashMap::new();
        for entry in ledger {
            if let Some(kind) = LEDGER_KINDS.iter().find(|k| **k == entry.kind) {
                lines.insert((entry.provider, *kind, key(&entry.target)), entry);
            }
        }
        LedgerIndex { lines }
    }

    /// The line for `target` of ledger kind `kind`.
    pub fn line(&self, provider: Provider, kind: &str, target: &str) -> Option<&'a LedgerEntry> {
        let kind = LEDGER_KINDS.iter().find(|k| **k == kind)?;
        self.lines.get(&(provider, *kind, key(target))).copied()
    }

    /// The line of a collected credential: a GitHub deploy key, an Azure application password.
    pub fn credential(&self, credential: &Credential) -> Option<&'a LedgerEntry> {
        if self.lines.is_empty() {
            return None;
        }
        let attribute = |name: &str| match credential.attributes.get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        match (credential.provider, credential.kind.as_str()) {
            (Provider::Github, "deploy_key") => {
                let repo = attribute("repository").unwrap_or_else(|| credential.scope.clone());
                let key_id = attribute("key_id")
                    .or_else(|| credential.id.rsplit(['/', ':']).next().map(str::to_string))?;
                self.line(Provider::Github, "deploy_key", &format!("{repo}/{key_id}"))
            }
            (Provider::Azure, "client_secret" | "password") => {
                let owner = credential.principal_id.as_deref()?;
                let key_id = attribute("key_id")?;
                self.line(
                    Provider::Azure,
                    "application_password",
                    &format!("{owner}/{key_id}"),
                )
            }
            _ => None,
        }
    }

    /// The line of a collected Azure role assignment (active or PIM-active), by its id.
    pub fn grant(&self, grant: &Grant) -> Option<&'a LedgerEntry> {
        match (grant.provider, grant.kind.as_str()) {
            (Provider::Azure, "role_assignment" | "pim_active") => {
                self.line(Provider::Azure, "role_assignment", &grant.id)
            }
            _ => None,
        }
    }
}

/// GitHub owners and repositories and ARM ids are case-insensitive.
fn key(target: &str) -> String {
    target.trim_end_matches('/').to_ascii_lowercase()
}

/// The effective expiry of a grant: the latest ledger line for its grant key when there is one
/// (with its owner and reason), else the marker the provider holds. Shared by `revoke`'s plan
/// and `scan`, for every provider.
pub fn effective(
    marker: ExpiryFacts,
    line: Option<&LedgerEntry>,
    ctx: &AnalysisContext,
) -> ExpiryFacts {
    let Some(entry) = line else {
        return marker;
    };
    let at = entry
        .expires_at
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let mut facts = read_marker(Some(&at), "ledger", ctx);
    facts.owner = entry.owner.clone();
    facts.reason = entry.reason.clone();
    facts
}

/// Strict RFC 3339 (with offset); a date alone or a local time is ambiguous, so invalid.
pub fn parse_timestamp(raw: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> AnalysisContext {
        AnalysisContext::at(parse_timestamp("2025-06-01T00:00:00Z").unwrap())
    }

    #[test]
    fn no_marker_is_standing() {
        let facts = read_marker(None, "tag", &ctx());
        assert_eq!(facts.expiry_marker, "none");
        assert!(!facts.provisional);
        assert_eq!(facts.window(), "standing");
        assert_eq!(facts.expires_in_days, None);
    }

    #[test]
    fn future_marker_is_provisional() {
        let facts = read_marker(Some("2025-06-11T12:00:00+02:00"), "tag", &ctx());
        assert_eq!(facts.expiry_marker, "valid");
        assert!(facts.provisional && !facts.expired);
        assert_eq!(facts.expires_at.as_deref(), Some("2025-06-11T10:00:00Z"));
        assert_eq!(facts.expires_in_days, Some(10));
        assert_eq!(facts.window(), "provisional");
        assert_eq!(facts.expiry_source.as_deref(), Some("tag"));
    }

    #[test]
    fn past_marker_is_expired() {
        let facts = read_marker(Some("2025-05-01T00:00:00Z"), "tag", &ctx());
        assert!(facts.provisional && facts.expired);
        assert_eq!(facts.expires_in_days, Some(-31));
        assert_eq!(facts.window(), "expired");
    }

    #[test]
    fn expiry_at_as_of_is_expired() {
        let facts = read_marker(Some("2025-06-01T00:00:00Z"), "tag", &ctx());
        assert!(facts.expired);
    }

    #[test]
    fn unreadable_marker_is_invalid_not_provisional() {
        for raw in [
            "tomorrow",
            "2025-06-30",
            "2025-06-30T00:00:00",
            "",
            "<script>",
        ] {
            let facts = read_marker(Some(raw), "tag", &ctx());
            assert_eq!(facts.expiry_marker, "invalid", "{raw}");
            assert!(!facts.provisional && !facts.expired, "{raw}");
            assert_eq!(facts.expiry_marker_value.as_deref(), Some(raw));
        }
    }

    #[test]
    fn a_marker_beyond_the_horizon_is_too_far_not_provisional() {
        let facts = read_marker(Some("9999-12-31T00:00:00Z"), "tag", &ctx());
        assert_eq!(facts.expiry_marker, "too_far");
        assert!(!facts.provisional && !facts.expired);
        assert_eq!(facts.window(), "standing");
        let facts = read_marker(Some("2025-08-30T00:00:00Z"), "tag", &ctx());
        assert_eq!(facts.expiry_marker, "valid", "90 days is still provisional");
        let facts = read_marker(Some("2025-08-30T00:00:00.001Z"), "tag", &ctx());
        assert_eq!(facts.expiry_marker, "too_far");
        assert_eq!(
            facts.expires_at.as_deref(),
            Some("2025-08-30T00:00:00.001Z")
        );
    }

    #[test]
    fn a_marker_key_in_another_case_is_invalid() {
        let tags = BTreeMap::from([(
            "Lapse:Expires-At".to_string(),
            "2025-06-02T00:00:00Z".to_string(),
        )]);
        let facts = from_tags(&tags, &ctx());
        assert_eq!(facts.expiry_marker, "invalid");
        assert!(!facts.provisional);
        assert_eq!(
            facts.expiry_marker_value.as_deref(),
            Some("Lapse:Expires-At=2025-06-02T00:00:00Z")
        );
    }

    #[test]
    fn tags_carry_owner_and_reason() {
        let tags = BTreeMap::from([
            (EXPIRES_AT.to_string(), "2025-07-01T00:00:00Z".to_string()),
            (OWNER.to_string(), "alice".to_string()),
            (REASON.to_string(), "incident 42".to_string()),
        ]);
        let facts = from_tags(&tags, &ctx());
        assert!(facts.provisional);
        assert_eq!(facts.owner.as_deref(), Some("alice"));
        assert_eq!(facts.reason.as_deref(), Some("incident 42"));
    }

    #[test]
    fn finds_marker_in_free_text() {
        assert_eq!(
            find_in_text("deploy [lapse:expires-at=2025-07-01T00:00:00Z]"),
            Some("2025-07-01T00:00:00Z")
        );
        assert_eq!(
            find_in_text("Temp access. LAPSE:EXPIRES-AT=2025-07-01T00:00:00Z owner=bob"),
            Some("2025-07-01T00:00:00Z")
        );
        assert_eq!(find_in_text("lapse:expires-at=; x"), Some(""));
        assert_eq!(find_in_text("no marker here"), None);
        assert_eq!(find_in_text("é"), None);
    }

    #[test]
    fn text_marker_reads_like_a_tag() {
        let facts = from_text(
            Some("ci [lapse:expires-at=2025-05-01T00:00:00Z]"),
            "title",
            &ctx(),
        );
        assert!(facts.expired);
        assert_eq!(facts.expiry_source.as_deref(), Some("title"));
        let facts = from_text(Some("ci [lapse:expires-at=soon]"), "title", &ctx());
        assert_eq!(facts.expiry_marker, "invalid");
        let facts = from_text(None, "description", &ctx());
        assert_eq!(facts.expiry_marker, "none");
    }
}
