//! Collect, GitHub: turns API bodies (shaped by GitHub's OpenAPI description) into inventory
//! items. Pure functions over JSON, so a test feeds them the published examples.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::inventory::{
    Attributes, Credential, Document, Grant, LastUsed, Principal, Provider, Timestamp,
};

/// A path segment, percent-encoded (names are attacker-controlled).
pub fn seg(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn time(v: &Value, key: &str) -> Option<Timestamp> {
    v.get(key)
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A nullable "last used" field: absent is unknown, null is never.
fn last_used(v: &Value, key: &str) -> LastUsed {
    match v.get(key) {
        None => LastUsed::Unknown,
        Some(Value::Null) => LastUsed::Never,
        Some(_) => time(v, key).map(LastUsed::At).unwrap_or(LastUsed::Unknown),
    }
}

fn attrs(pairs: &[(&str, Option<Value>)]) -> Attributes {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            v.clone()
                .filter(|v| !v.is_null())
                .map(|v| (k.to_string(), v))
        })
        .collect()
}

pub fn org_id(org: &str) -> String {
    format!("github:org/{org}")
}

pub fn repo_id(full: &str) -> String {
    format!("github:repo/{full}")
}

fn principal(
    kind: &str,
    id: String,
    name: String,
    scope: &str,
    attributes: Attributes,
) -> Principal {
    Principal {
        provider: Provider::Github,
        kind: kind.into(),
        id,
        name,
        scope: scope.to_string(),
        path: None,
        created_at: None,
        last_used: LastUsed::Unknown,
        tags: BTreeMap::new(),
        description: None,
        attributes,
    }
}

pub fn organization(org: &str) -> Principal {
    principal(
        "organization",
        org_id(org),
        org.to_string(),
        org,
        Attributes::new(),
    )
}

pub fn repository(org: &str, full: &str, body: Option<&Value>) -> Principal {
    let attributes = body
        .map(|b| {
            attrs(&[
                ("visibility", b.get("visibility").cloned()),
                ("archived", b.get("archived").cloned()),
                ("fork", b.get("fork").cloned()),
            ])
        })
        .unwrap_or_default();
    principal(
        "repository",
        repo_id(full),
        full.to_string(),
        org,
        attributes,
    )
}

/// Where a secret lives: the org, a repository, or a repository's environment.
pub enum SecretLevel<'a> {
    Organization,
    Repository(&'a str),
    Environment(&'a str, &'a str),
}

/// An Actions (`store = "actions"`) or Dependabot secret: name and dates, never a value.
pub fn secret(org: &str, store: &str, level: SecretLevel<'_>, body: &Value) -> Option<Credential> {
    let name = text(body, "name")?;
    let (owner_id, id, level_name, repo, env) = match level {
        SecretLevel::Organization => (
            org_id(org),
            format!("{}/{store}/secrets/{name}", org_id(org)),
            "organization",
            None,
            None,
        ),
        SecretLevel::Repository(full) => (
            repo_id(full),
            format!("{}/{store}/secrets/{name}", repo_id(full)),
            "repository",
            Some(full),
            None,
        ),
        SecretLevel::Environment(full, env) => (
            repo_id(full),
            format!("{}/environments/{env}/secrets/{name}", repo_id(full)),
            "environment",
            Some(full),
            Some(env),
        ),
    };
    let created_at = time(body, "created_at");
    Some(Credential {
        provider: Provider::Github,
        kind: format!("{store}_secret"),
        id,
        name,
        principal_id: Some(owner_id),
        scope: org.to_string(),
        active: true,
        created_at,
        rotated_at: time(body, "updated_at").or(created_at),
        expires_at: None,
        last_used: LastUsed::Unknown,
        hint: None,
        location: None,
        attributes: attrs(&[
            ("level", Some(level_name.into())),
            ("visibility", body.get("visibility").cloned()),
            ("repository", repo.map(Value::from)),
            ("environment", env.map(Value::from)),
        ]),
    })
}

pub fn deploy_key(org: &str, full: &str, body: &Value) -> Option<Credential> {
    let id = body.get("id")?.as_u64()?;
    Some(Credential {
        provider: Provider::Github,
        kind: "deploy_key".into(),
        id: format!("{}/keys/{id}", repo_id(full)),
        name: text(body, "title").unwrap_or_default(),
        principal_id: Some(repo_id(full)),
        scope: org.to_string(),
        active: body.get("enabled").and_then(Value::as_bool).unwrap_or(true),
        created_at: time(body, "created_at"),
        rotated_at: time(body, "created_at"),
        expires_at: None,
        last_used: last_used(body, "last_used"),
        hint: None,
        location: None,
        attributes: attrs(&[
            ("repository", Some(full.into())),
            ("read_only", body.get("read_only").cloned()),
            ("added_by", body.get("added_by").cloned()),
            ("verified", body.get("verified").cloned()),
        ]),
    })
}

/// A fine-grained PAT granted access to the org (`orgs/list-pat-grants`).
pub fn pat_grant(org: &str, body: &Value) -> Option<Credential> {
    let token_id = body.get("token_id")?.as_u64()?;
    let owner = body
        .get("owner")
        .and_then(|o| text(o, "login"))
        .unwrap_or_default();
    let expired = body
        .get("token_expired")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some(Credential {
        provider: Provider::Github,
        kind: "fine_grained_pat".into(),
        id: format!("{}/personal-access-tokens/{token_id}", org_id(org)),
        name: format!("{} ({owner})", text(body, "token_name").unwrap_or_default()),
        principal_id: Some(org_id(org)),
        scope: org.to_string(),
        active: !expired,
        created_at: time(body, "access_granted_at"),
        rotated_at: None,
        expires_at: time(body, "token_expires_at"),
        last_used: last_used(body, "token_last_used_at"),
        hint: None,
        location: None,
        attributes: attrs(&[
            ("owner", Some(owner.into())),
            ("grant_id", body.get("id").cloned()),
            (
                "repository_selection",
                body.get("repository_selection").cloned(),
            ),
            ("permissions", body.get("permissions").cloned()),
            ("token_expired", Some(expired.into())),
        ]),
    })
}

/// A SAML SSO credential authorization: a classic PAT or an SSH key (other kinds skipped).
pub fn credential_authorization(org: &str, body: &Value) -> Option<Credential> {
    let kind = match text(body, "credential_type")?.as_str() {
        "personal access token" => "classic_pat",
        "SSH key" => "ssh_key",
        _ => return None,
    };
    let id = body.get("credential_id")?.as_u64()?;
    let login = text(body, "login").unwrap_or_default();
    let title = text(body, "authorized_credential_title");
    let hint = text(body, "token_last_eight").map(|t| {
        t.chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    });
    Some(Credential {
        provider: Provider::Github,
        kind: kind.into(),
        id: format!("{}/credential-authorizations/{id}", org_id(org)),
        name: match &title {
            Some(t) => format!("{login}: {t}"),
            None => format!("{login}: {kind}"),
        },
        principal_id: Some(org_id(org)),
        scope: org.to_string(),
        active: true,
        created_at: time(body, "credential_authorized_at"),
        rotated_at: None,
        expires_at: time(body, "authorized_credential_expires_at"),
        last_used: time(body, "credential_accessed_at")
            .map(LastUsed::At)
            .unwrap_or_default(),
        hint,
        location: None,
        attributes: attrs(&[
            ("login", Some(login.clone().into())),
            ("scopes", body.get("scopes").cloned()),
            ("fingerprint", body.get("fingerprint").cloned()),
        ]),
    })
}

/// An App installation and the grant of its permissions.
pub fn installation(org: &str, body: &Value) -> Option<(Principal, Grant)> {
    let id = body.get("id")?.as_u64()?;
    let slug = text(body, "app_slug").unwrap_or_else(|| format!("app-{id}"));
    let principal_id = format!("{}/installations/{id}", org_id(org));
    let selection = text(body, "repository_selection");
    let mut p = principal(
        "app_installation",
        principal_id.clone(),
        slug.clone(),
        org,
        attrs(&[
            ("app_id", body.get("app_id").cloned()),
            ("repository_selection", selection.clone().map(Value::from)),
            ("suspended_at", body.get("suspended_at").cloned()),
        ]),
    );
    p.created_at = time(body, "created_at");
    let grant = Grant {
        provider: Provider::Github,
        kind: "app_permissions".into(),
        id: format!("{principal_id}/permissions"),
        principal_id,
        name: format!("{slug} permissions"),
        via: None,
        policy_id: None,
        document: body.get("permissions").cloned().map(Document::from),
        role: None,
        target: selection,
        starts_at: None,
        ends_at: None,
        description: None,
        attributes: Attributes::new(),
    };
    Some((p, grant))
}

/// Default `GITHUB_TOKEN` permissions of an org or a repository.
pub fn workflow_permissions(scope: &str, principal_id: &str, level: &str, body: &Value) -> Grant {
    Grant {
        provider: Provider::Github,
        kind: "token_permissions".into(),
        id: format!("{principal_id}/actions/permissions/workflow"),
        principal_id: principal_id.to_string(),
        name: format!("default GITHUB_TOKEN permissions of {scope}"),
        via: None,
        policy_id: None,
        document: None,
        role: text(body, "default_workflow_permissions"),
        target: Some(scope.to_string()),
        starts_at: None,
        ends_at: None,
        description: None,
        attributes: attrs(&[
            ("level", Some(level.into())),
            (
                "can_approve_pull_request_reviews",
                body.get("can_approve_pull_request_reviews").cloned(),
            ),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn saml_authorization_keeps_last_four_only() {
        let body = json!({"login": "octocat", "credential_id": 161195, "credential_type": "personal access token",
            "token_last_eight": "71c3fc11", "credential_authorized_at": "2011-01-26T19:06:43Z",
            "authorized_credential_expires_at": null, "scopes": ["repo"]});
        let c = credential_authorization("acme", &body).unwrap();
        assert_eq!(c.kind, "classic_pat");
        assert_eq!(c.hint.as_deref(), Some("fc11"));
        assert_eq!(c.expires_at, None);
        let other = json!({"credential_type": "OAuth app token", "credential_id": 1});
        assert!(credential_authorization("acme", &other).is_none());
    }

    #[test]
    fn deploy_key_last_used_null_is_never() {
        let body = json!({"id": 1, "title": "ci", "read_only": false, "created_at": "2014-12-10T15:53:42Z", "last_used": null});
        assert_eq!(
            deploy_key("acme", "acme/api", &body).unwrap().last_used,
            LastUsed::Never
        );
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("my-env.prod_1"), "my-env.prod_1");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }
}
