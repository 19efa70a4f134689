//! Revoke, grants ledger: provisional grants that cannot carry a tag (a managed-policy
//! attachment, an inline policy, an Actions secret), read from a JSON-lines file.
//!
//! One JSON object per line; blank lines and lines starting with `#` are ignored:
//!
//! ```text
//! # temporary admin for the migration, INC-4211
//! {"provider":"aws","kind":"policy_attachment","principal_id":"arn:aws:iam::123456789012:role/ci","target":"arn:aws:iam::aws:policy/AdministratorAccess","expires_at":"2025-07-01T00:00:00Z","owner":"alice","reason":"INC-4211"}
//! ```
//!
//! | provider | kind | target | principal_id |
//! |---|---|---|---|
//! | aws | `policy_attachment` | policy ARN | user, role or group ARN |
//! | aws | `inline_policy` | policy name | user, role or group ARN |
//! | github | `actions_secret` | `OWNER/REPO/NAME` or `ORG/NAME` | — |
//! | github | `deploy_key` | `OWNER/REPO/KEY_ID` | — |
//! | azure | `role_assignment` | role assignment id (`/subscriptions/…/roleAssignments/…`) | — |
//! | azure | `application_password` | `APPLICATION_OBJECT_ID/KEY_ID` | — |
//!
//! Optional on every line: `owner`, `reason`, `account` (the account, tenant or owner that
//! holds the grant), `principal_unique_id` (AWS `RoleId`/`UserId`, Azure object id),
//! `requested_by`, `approved_by` (declared, not verified), `ticket`. Any other field is an
//! error. When several lines name the same (provider, principal, kind, target), the latest line
//! wins: `lapse grant` extends a grant by appending a line.
//!
//! Every error names the file and line. `expires_at` is strict RFC 3339, parsed by
//! `analyze::expiry` like every other marker, and kept to its full precision. A target is split
//! into the segments its kind expects and each is checked (`revoke::target`) before anything
//! is planned from it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::analyze::expiry::parse_timestamp;
use crate::inventory::{LedgerEntry, Provider};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    provider: Provider,
    kind: String,
    target: String,
    #[serde(default)]
    principal_id: Option<String>,
    expires_at: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    principal_unique_id: Option<String>,
    #[serde(default)]
    requested_by: Option<String>,
    #[serde(default)]
    approved_by: Option<String>,
    #[serde(default)]
    ticket: Option<String>,
}

/// Reads and validates a ledger file.
pub fn load(path: &Path) -> Result<Vec<LedgerEntry>, LedgerError> {
    let text = crate::input::read_text(path, crate::input::MAX_LEDGER_BYTES)?;
    parse(&text).map_err(|(line, message)| LedgerError::Invalid {
        path: path.to_path_buf(),
        line,
        message,
    })
}

/// Appends one entry as a line and syncs it to disk; returns the file's length before, so a
/// provisioning that fails afterwards can take the line back (`truncate`).
pub fn append(path: &Path, entry: &LedgerEntry) -> Result<u64, LedgerError> {
    use std::io::Write;
    let io = |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    let before = file.metadata().map_err(io)?.len();
    let mut line = serde_json::to_string(entry).map_err(|e| io(std::io::Error::other(e)))?;
    // A last line without its newline must not be joined to this one.
    if before > 0 && !std::fs::read(path).map_err(io)?.ends_with(b"\n") {
        line.insert(0, '\n');
    }
    line.push('\n');
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(io)?;
    Ok(before)
}

/// Cuts the ledger back to `len` bytes: the rollback of an `append` whose grant failed.
pub fn truncate(path: &Path, len: u64) -> Result<(), LedgerError> {
    let io = |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io)?;
    file.set_len(len)
        .and_then(|()| file.sync_data())
        .map_err(io)
}

/// Parses ledger text; an error is `(1-based line, message)`. Of several lines naming the same
/// grant, the latest is kept (in the place of the first).
pub fn parse(text: &str) -> Result<Vec<LedgerEntry>, (usize, String)> {
    let mut entries: Vec<LedgerEntry> = Vec::new();
    let mut seen: std::collections::HashMap<GrantKey, usize> = Default::default();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let raw: RawEntry =
            serde_json::from_str(trimmed).map_err(|e| (index + 1, e.to_string()))?;
        let entry = validate(raw).map_err(|message| (index + 1, message))?;
        match seen.entry(grant_key(&entry)) {
            std::collections::hash_map::Entry::Occupied(at) => entries[*at.get()] = entry,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(entries.len());
                entries.push(entry);
            }
        }
    }
    Ok(entries)
}

pub type GrantKey = (Provider, Option<String>, String, String);

/// The latest line for the grant `key` (the latest line wins, whether or not `ledger` came
/// through `parse`).
pub fn latest<'a>(ledger: &'a [LedgerEntry], key: &GrantKey) -> Option<&'a LedgerEntry> {
    ledger.iter().rev().find(|e| grant_key(e) == *key)
}

/// What makes two ledger lines the same grant.
pub fn grant_key(entry: &LedgerEntry) -> GrantKey {
    (
        entry.provider,
        entry.principal_id.clone(),
        entry.kind.clone(),
        entry.target.clone(),
    )
}

fn validate(raw: RawEntry) -> Result<LedgerEntry, String> {
    let expires_at = parse_timestamp(&raw.expires_at).ok_or_else(|| {
        format!(
            "expires_at {:?} is not an RFC 3339 timestamp with offset (e.g. 2025-07-01T00:00:00Z)",
            raw.expires_at
        )
    })?;
    check_shape(
        raw.provider,
        &raw.kind,
        &raw.target,
        raw.principal_id.as_deref(),
    )?;
    Ok(LedgerEntry {
        provider: raw.provider,
        kind: raw.kind,
        target: raw.target,
        principal_id: raw.principal_id,
        expires_at,
        owner: raw.owner,
        reason: raw.reason,
        account: raw.account,
        principal_unique_id: raw.principal_unique_id,
        requested_by: raw.requested_by,
        approved_by: raw.approved_by,
        ticket: raw.ticket,
    })
}

fn check_shape(
    provider: Provider,
    kind: &str,
    target: &str,
    principal: Option<&str>,
) -> Result<(), String> {
    use super::target::{check_segment, iam_arn_path, role_assignment_id, split};
    match (provider, kind) {
        (Provider::Aws, "policy_attachment" | "inline_policy") => {
            let principal =
                principal.ok_or("principal_id (the user, role or group ARN) is required")?;
            iam_principal(principal)?;
            iam_arn_path(principal)?;
            if kind == "inline_policy" {
                return check_segment(target).map_err(|e| format!("target {target:?}: {e}"));
            }
            if !target.starts_with("arn:") || !target.contains(":policy/") {
                return Err(format!("target {target:?} must be a policy ARN"));
            }
            iam_arn_path(target)
        }
        (Provider::Github, "actions_secret") => {
            split(target, &[2, 3], "OWNER/REPO/NAME or ORG/NAME").map(drop)
        }
        (Provider::Github, "deploy_key") => {
            let segments = split(target, &[3], "OWNER/REPO/KEY_ID")?;
            match segments[2].parse::<u64>() {
                Ok(_) => Ok(()),
                Err(_) => Err(format!("target {target:?} must be OWNER/REPO/KEY_ID")),
            }
        }
        (Provider::Azure, "role_assignment") => role_assignment_id(target),
        (Provider::Azure, "application_password") => {
            split(target, &[2], "APPLICATION_OBJECT_ID/KEY_ID").map(drop)
        }
        _ => Err(format!(
            "kind {kind:?} is not supported for provider {provider} (aws: policy_attachment, \
             inline_policy; github: actions_secret, deploy_key; azure: role_assignment, \
             application_password)"
        )),
    }
}

/// Splits an IAM user, role or group ARN into its kind and name (the last path segment).
pub fn iam_principal(arn: &str) -> Result<(super::action::IamKind, String), String> {
    use super::action::IamKind;
    let resource = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.splitn(5, ':').nth(4))
        .ok_or_else(|| format!("{arn:?} is not an IAM ARN"))?;
    let (kind, path) = resource
        .split_once('/')
        .ok_or_else(|| format!("{arn:?} is not an IAM user, role or group ARN"))?;
    let kind = match kind {
        "user" => IamKind::User,
        "role" => IamKind::Role,
        "group" => IamKind::Group,
        _ => return Err(format!("{arn:?} is not an IAM user, role or group ARN")),
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.is_empty() {
        return Err(format!("{arn:?} has no name"));
    }
    Ok((kind, name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
# a comment
{"provider":"aws","kind":"policy_attachment","principal_id":"arn:aws:iam::123456789012:role/path/ci","target":"arn:aws:iam::aws:policy/ReadOnlyAccess","expires_at":"2025-07-01T00:00:00Z"}

{"provider":"github","kind":"actions_secret","target":"acme/api/DEPLOY_TOKEN","expires_at":"2025-07-01T00:00:00+02:00","owner":"bob"}
"#;

    #[test]
    fn reads_entries_and_skips_comments() {
        let entries = parse(GOOD).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].kind, "policy_attachment");
        assert_eq!(
            entries[1].expires_at.to_rfc3339(),
            "2025-06-30T22:00:00+00:00"
        );
        assert_eq!(entries[1].owner.as_deref(), Some("bob"));
    }

    #[test]
    fn errors_name_the_line() {
        let bad_time = "\n{\"provider\":\"aws\",\"kind\":\"inline_policy\",\"principal_id\":\"arn:aws:iam::1:user/u\",\"target\":\"p\",\"expires_at\":\"2025-07-01\"}";
        let (line, message) = parse(bad_time).unwrap_err();
        assert_eq!(line, 2);
        assert!(message.contains("RFC 3339"), "{message}");

        let typo = "{\"provider\":\"aws\",\"kynd\":\"x\"}";
        let (line, message) = parse(typo).unwrap_err();
        assert_eq!(line, 1);
        assert!(message.contains("kynd"), "{message}");

        let no_principal = "{\"provider\":\"aws\",\"kind\":\"policy_attachment\",\"target\":\"arn:aws:iam::aws:policy/X\",\"expires_at\":\"2025-07-01T00:00:00Z\"}";
        assert!(parse(no_principal).unwrap_err().1.contains("principal_id"));

        let unknown = "{\"provider\":\"github\",\"kind\":\"pat\",\"target\":\"x\",\"expires_at\":\"2025-07-01T00:00:00Z\"}";
        assert!(parse(unknown).unwrap_err().1.contains("not supported"));
    }

    fn secret_line(target: &str, expires: &str, extra: &str) -> String {
        format!(
            "{{\"provider\":\"github\",\"kind\":\"actions_secret\",\"target\":\"{target}\",\"expires_at\":\"{expires}\"{extra}}}\n"
        )
    }

    #[test]
    fn targets_are_split_into_checked_segments() {
        for bad in [
            "acme/../X",
            "acme/%2e%2e/X",
            "acme//X",
            "acme/api/X/extra",
            "/X",
        ] {
            let text = format!("# c\n{}", secret_line(bad, "2025-07-01T00:00:00Z", ""));
            let (line, message) = parse(&text).unwrap_err();
            assert_eq!(line, 2, "{bad}");
            assert!(message.contains("OWNER/REPO/NAME"), "{bad}: {message}");
        }
        let key = "{\"provider\":\"github\",\"kind\":\"deploy_key\",\"target\":\"acme/../7\",\"expires_at\":\"2025-07-01T00:00:00Z\"}";
        assert!(parse(key).is_err());
        let inline = "{\"provider\":\"aws\",\"kind\":\"inline_policy\",\"principal_id\":\"arn:aws:iam::1:user/../u\",\"target\":\"p\",\"expires_at\":\"2025-07-01T00:00:00Z\"}";
        assert!(parse(inline).is_err());
    }

    #[test]
    fn the_latest_line_wins_and_the_new_fields_are_read() {
        let extra = ",\"requested_by\":\"alice\",\"approved_by\":\"bob\",\"ticket\":\"INC-1\",\"account\":\"acme\"";
        let text = secret_line("acme/api/X", "2025-07-01T00:00:00Z", "")
            + &secret_line("acme/api/Y", "2025-07-01T00:00:00Z", "")
            + &secret_line("acme/api/X", "2025-08-01T00:00:00.900Z", extra);
        let entries = parse(&text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].target, "acme/api/X");
        assert_eq!(
            entries[0]
                .expires_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            "2025-08-01T00:00:00.900Z"
        );
        assert_eq!(entries[0].approved_by.as_deref(), Some("bob"));
        assert_eq!(entries[0].ticket.as_deref(), Some("INC-1"));
        let typo = secret_line(
            "acme/api/X",
            "2025-07-01T00:00:00Z",
            ",\"aproved_by\":\"b\"",
        );
        assert!(parse(&typo).unwrap_err().1.contains("aproved_by"));
    }

    #[test]
    fn iam_principal_reads_kind_and_name() {
        let (kind, name) = iam_principal("arn:aws:iam::123456789012:role/a/b/ci").unwrap();
        assert_eq!(
            (kind, name.as_str()),
            (super::super::action::IamKind::Role, "ci")
        );
        assert!(iam_principal("arn:aws:s3:::bucket").is_err());
        assert!(iam_principal("ci").is_err());
    }
}
