//! Test support: inventory items for the revoke tests that run through the library.

use std::collections::BTreeMap;

use serde_json::Value;

use lapse::inventory::{Credential, LastUsed, Provider};

/// A deploy key of `repo` (`OWNER/NAME`) as the GitHub collector records it.
pub fn deploy_key(repo: &str, id: u64, title: &str) -> Credential {
    Credential {
        provider: Provider::Github,
        kind: "deploy_key".into(),
        id: format!("{repo}/keys/{id}"),
        name: title.into(),
        principal_id: None,
        scope: repo.into(),
        active: true,
        created_at: None,
        rotated_at: None,
        expires_at: None,
        last_used: LastUsed::Unknown,
        hint: None,
        location: None,
        attributes: BTreeMap::from([
            ("repository".to_string(), Value::from(repo)),
            ("key_id".to_string(), Value::from(id)),
        ]),
    }
}
