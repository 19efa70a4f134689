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
//! Every error names the file and line. `expires_at` is strict RFC 3339, parsed by
//! `analyze::expiry` like every other marker.

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

/// Parses ledger text; an error is `(1-based line, message)`.
pub fn parse(text: &str) -> Result<Vec<LedgerEntry>, (usize, String)> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let raw: RawEntry =
            serde_json::from_str(trimmed).map_err(|e| (index + 1, e.to_string()))?;
        entries.push(validate(raw).map_err(|message| (index + 1, message))?);
    }
    Ok(entries)
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
    })
}

fn check_shape(
    provider: Provider,
    kind: &str,
    target: &str,
    principal: Option<&str>,
) -> Result<(), String> {
    let segments = target.split('/').filter(|s| !s.is_empty()).count();
    match (provider, kind) {
        (Provider::Aws, "policy_attachment" | "inline_policy") => {
            let principal =
                principal.ok_or("principal_id (the user, role or group ARN) is required")?;
            iam_principal(principal)?;
            if kind == "policy_attachment" && !target.starts_with("arn:") {
                return Err(format!("target {target:?} must be a policy ARN"));
            }
            Ok(())
        }
        (Provider::Github, "actions_secret") if segments == 2 || segments == 3 => Ok(()),
        (Provider::Github, "actions_secret") => Err(format!(
            "target {target:?} must be OWNER/REPO/NAME or ORG/NAME"
        )),
        (Provider::Github, "deploy_key") => match target.rsplit_once('/') {
            Some((repo, id)) if repo.contains('/') && id.parse::<u64>().is_ok() => Ok(()),
            _ => Err(format!("target {target:?} must be OWNER/REPO/KEY_ID")),
        },
        (Provider::Azure, "role_assignment") if target.contains("/roleAssignments/") => Ok(()),
        (Provider::Azure, "role_assignment") => Err(format!(
            "target {target:?} must be a role assignment id (…/providers/Microsoft.Authorization/roleAssignments/…)"
        )),
        (Provider::Azure, "application_password") if segments == 2 => Ok(()),
        (Provider::Azure, "application_password") => Err(format!(
            "target {target:?} must be APPLICATION_OBJECT_ID/KEY_ID"
        )),
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
