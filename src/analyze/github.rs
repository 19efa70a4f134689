//! Analyze, GitHub: facts for Actions and Dependabot secrets, deploy keys, fine-grained PATs,
//! SAML credential authorizations, App installations and default workflow permissions; and the
//! cross-source link from AWS roles trusting GitHub OIDC to the repositories scanned.

use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::Facts;
use super::expiry::{self, ExpiryFacts};
use super::{Analysis, AnalysisContext, Exposure, Privilege, RiskInputs, Subject, facts_of};
use crate::inventory::{
    Credential, Document, Grant, Inventory, LastUsed, Provider, ResourceRef, Timestamp,
};

/// `github.actions_secret`, `github.dependabot_secret`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SecretFacts {
    pub name: String,
    pub org: String,
    /// `organization`, `repository`, `environment`.
    pub level: String,
    pub repository: Option<String>,
    pub environment: Option<String>,
    /// Org secrets: `all`, `private`, `selected`.
    pub visibility: Option<String>,
    /// Days since the value was last set (`updated_at`).
    pub age_days: Option<i64>,
}

/// `github.deploy_key`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeployKeyFacts {
    pub title: String,
    pub repository: String,
    pub read_only: bool,
    pub write: bool,
    pub added_by: Option<String>,
    pub age_days: Option<i64>,
    /// Days since last use; when never used, days since creation.
    pub idle_days: Option<i64>,
    pub never_used: bool,
    #[serde(flatten)]
    pub expiry: ExpiryFacts,
}

/// `github.fine_grained_pat`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PatFacts {
    pub owner: String,
    pub token_name: String,
    pub org: String,
    pub no_expiry: bool,
    pub token_expired: bool,
    pub expires_at: Option<String>,
    /// Days from access granted to expiry (the token's lifetime as the org sees it).
    pub lifetime_days: Option<i64>,
    pub idle_days: Option<i64>,
    pub never_used: bool,
    /// `all`, `selected`, `subset`.
    pub repository_selection: String,
    pub all_repositories: bool,
    /// `repository:contents`-style names of permissions at `write` or `admin`.
    pub write_permissions: Vec<String>,
    pub has_write: bool,
}

/// `github.credential_authorization`: a classic PAT or SSH key authorized for SAML SSO.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuthorizationFacts {
    pub login: String,
    /// `classic_pat` or `ssh_key`.
    pub credential_type: String,
    pub org: String,
    pub no_expiry: bool,
    pub expires_at: Option<String>,
    pub scopes: Vec<String>,
    pub age_days: Option<i64>,
    pub idle_days: Option<i64>,
}

/// `github.app_installation`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InstallationFacts {
    pub app_slug: String,
    pub org: String,
    pub repository_selection: String,
    pub all_repositories: bool,
    pub write_permissions: Vec<String>,
    pub administration_write: bool,
    pub secrets_write: bool,
    pub suspended: bool,
}

/// `github.workflow_permissions`: default `GITHUB_TOKEN` permissions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkflowPermissionFacts {
    /// `organization` or `repository`.
    pub level: String,
    pub target: String,
    /// `read` or `write`.
    pub default_workflow_permissions: String,
    pub write: bool,
    pub can_approve_pull_request_reviews: bool,
}

pub fn analyze(inventory: &Inventory, ctx: &AnalysisContext) -> Analysis {
    let mut analysis = Analysis::default();
    let github = |c: &&Credential| c.provider == Provider::Github;
    let ledger = expiry::LedgerIndex::new(&inventory.ledger);
    for c in inventory.credentials.iter().filter(github) {
        let subject = match c.kind.as_str() {
            "actions_secret" | "dependabot_secret" => secret(c, ctx),
            "deploy_key" => deploy_key(c, &ledger, ctx),
            "fine_grained_pat" => pat(c, ctx),
            "classic_pat" | "ssh_key" => authorization(c, ctx),
            _ => continue,
        };
        analysis.subjects.push(subject);
    }
    for g in inventory
        .grants
        .iter()
        .filter(|g| g.provider == Provider::Github)
    {
        match g.kind.as_str() {
            "app_permissions" => analysis.subjects.push(installation(g, inventory)),
            "token_permissions" => analysis.subjects.push(workflow_permissions(g)),
            _ => {}
        }
    }
    analysis
}

fn attr(c: &Credential, key: &str) -> Option<String> {
    c.attributes
        .get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn days(ctx: &AnalysisContext, t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| ctx.days_since(t))
}

/// Days idle: since last use, or since creation when never used.
fn idle(ctx: &AnalysisContext, c: &Credential) -> Option<i64> {
    match c.last_used {
        LastUsed::At(t) => Some(ctx.days_since(t)),
        LastUsed::Never => days(ctx, c.created_at),
        LastUsed::Unknown => None,
    }
}

fn credential_subject(c: &Credential, kind: &str, facts: Facts, risk: RiskInputs) -> Subject {
    Subject {
        kind: format!("github.{kind}"),
        resource: ResourceRef {
            provider: c.provider,
            kind: c.kind.clone(),
            id: c.id.clone(),
            name: c.name.clone(),
        },
        principal_id: c.principal_id.clone(),
        facts,
        risk,
        location: None,
    }
}

fn secret(c: &Credential, ctx: &AnalysisContext) -> Subject {
    let facts = SecretFacts {
        name: c.name.clone(),
        org: c.scope.clone(),
        level: attr(c, "level").unwrap_or_default(),
        repository: attr(c, "repository"),
        environment: attr(c, "environment"),
        visibility: attr(c, "visibility"),
        age_days: days(ctx, c.rotated_at.or(c.created_at)),
    };
    let risk = RiskInputs {
        scope: Privilege::Write,
        window_days: None,
        idle_days: None,
        exposure: Exposure::Ci,
    };
    credential_subject(c, &c.kind, facts_of(&facts), risk)
}

fn deploy_key(c: &Credential, ledger: &expiry::LedgerIndex<'_>, ctx: &AnalysisContext) -> Subject {
    let read_only = c
        .attributes
        .get("read_only")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // The title cannot be edited: a ledger line lapse appended when it extended the key wins.
    let title = expiry::from_text(Some(&c.name), "title", ctx);
    let expiry = expiry::effective(title, ledger.credential(c), ctx);
    let facts = DeployKeyFacts {
        title: c.name.clone(),
        repository: attr(c, "repository").unwrap_or_default(),
        read_only,
        write: !read_only,
        added_by: attr(c, "added_by"),
        age_days: days(ctx, c.created_at),
        idle_days: idle(ctx, c),
        never_used: c.last_used == LastUsed::Never,
        expiry,
    };
    let risk = RiskInputs {
        scope: if read_only {
            Privilege::Read
        } else {
            Privilege::Write
        },
        window_days: facts.expiry.expires_in_days,
        idle_days: facts.idle_days,
        exposure: Exposure::Ci,
    };
    credential_subject(c, "deploy_key", facts_of(&facts), risk)
}

/// `scope:name` of each permission at `write` or `admin` in a `{scope: {name: level}}` map, or
/// `name` in a flat `{name: level}` map.
fn write_permissions(doc: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(Value::Object(map)) = doc else {
        return out;
    };
    for (key, value) in map {
        match value {
            Value::String(level) if level == "write" || level == "admin" => out.push(key.clone()),
            Value::Object(inner) => {
                for (name, level) in inner {
                    if matches!(level.as_str(), Some("write" | "admin")) {
                        out.push(format!("{key}:{name}"));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn pat(c: &Credential, ctx: &AnalysisContext) -> Subject {
    let selection = attr(c, "repository_selection").unwrap_or_default();
    let writes = write_permissions(c.attributes.get("permissions"));
    let facts = PatFacts {
        owner: attr(c, "owner").unwrap_or_default(),
        token_name: c.name.clone(),
        org: c.scope.clone(),
        no_expiry: c.expires_at.is_none(),
        token_expired: c
            .attributes
            .get("token_expired")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        expires_at: c.expires_at.map(|t| t.to_rfc3339()),
        lifetime_days: c
            .expires_at
            .zip(c.created_at)
            .map(|(e, s)| (e - s).num_days()),
        idle_days: idle(ctx, c),
        never_used: c.last_used == LastUsed::Never,
        all_repositories: selection == "all",
        repository_selection: selection,
        has_write: !writes.is_empty(),
        write_permissions: writes,
    };
    let risk = RiskInputs {
        scope: if facts.has_write {
            Privilege::Write
        } else {
            Privilege::Read
        },
        window_days: c.expires_at.map(|e| (e - ctx.as_of).num_days()),
        idle_days: facts.idle_days,
        exposure: Exposure::Internal,
    };
    credential_subject(c, "fine_grained_pat", facts_of(&facts), risk)
}

fn authorization(c: &Credential, ctx: &AnalysisContext) -> Subject {
    let scopes = c
        .attributes
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let facts = AuthorizationFacts {
        login: attr(c, "login").unwrap_or_default(),
        credential_type: c.kind.clone(),
        org: c.scope.clone(),
        no_expiry: c.expires_at.is_none(),
        expires_at: c.expires_at.map(|t| t.to_rfc3339()),
        scopes,
        age_days: days(ctx, c.created_at),
        idle_days: idle(ctx, c),
    };
    let risk = RiskInputs {
        scope: Privilege::Write,
        window_days: c.expires_at.map(|e| (e - ctx.as_of).num_days()),
        idle_days: facts.idle_days,
        exposure: Exposure::Internal,
    };
    credential_subject(c, "credential_authorization", facts_of(&facts), risk)
}

fn grant_subject(g: &Grant, kind: &str, name: String, facts: Facts, scope: Privilege) -> Subject {
    Subject {
        kind: format!("github.{kind}"),
        resource: ResourceRef {
            provider: Provider::Github,
            kind: kind.into(),
            id: g.principal_id.clone(),
            name,
        },
        principal_id: Some(g.principal_id.clone()),
        facts,
        risk: RiskInputs {
            scope,
            window_days: None,
            idle_days: None,
            exposure: Exposure::Internal,
        },
        location: None,
    }
}

fn installation(g: &Grant, inventory: &Inventory) -> Subject {
    let principal = inventory.principals.iter().find(|p| p.id == g.principal_id);
    let writes = write_permissions(g.document.as_ref().map(Document::value).as_ref());
    let selection = g.target.clone().unwrap_or_default();
    let facts = InstallationFacts {
        app_slug: principal.map(|p| p.name.clone()).unwrap_or_default(),
        org: principal.map(|p| p.scope.clone()).unwrap_or_default(),
        all_repositories: selection == "all",
        repository_selection: selection,
        administration_write: writes.iter().any(|w| w == "administration"),
        secrets_write: writes.iter().any(|w| w == "secrets"),
        suspended: principal.is_some_and(|p| {
            p.attributes
                .get("suspended_at")
                .is_some_and(|v| !v.is_null())
        }),
        write_permissions: writes,
    };
    let scope = if facts.administration_write {
        Privilege::Admin
    } else {
        Privilege::Write
    };
    let name = facts.app_slug.clone();
    grant_subject(g, "app_installation", name, facts_of(&facts), scope)
}

fn workflow_permissions(g: &Grant) -> Subject {
    let default = g.role.clone().unwrap_or_default();
    let facts = WorkflowPermissionFacts {
        level: g
            .attributes
            .get("level")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        target: g.target.clone().unwrap_or_default(),
        write: default == "write",
        default_workflow_permissions: default,
        can_approve_pull_request_reviews: g
            .attributes
            .get("can_approve_pull_request_reviews")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let mut s = grant_subject(
        g,
        "workflow_permissions",
        g.name.clone(),
        facts_of(&facts),
        Privilege::Write,
    );
    s.resource.id = g.id.clone();
    s
}

/// Adds to each `aws.role` whose trust admits GitHub OIDC the scanned repositories it admits
/// (`github_scanned_repos_admitted`), so the unbound-trust finding names the exposure.
pub fn link_aws_roles(analysis: &mut Analysis, inventory: &Inventory) {
    let scanned: Vec<&str> = inventory
        .principals
        .iter()
        .filter(|p| {
            p.kind == "repository" && matches!(p.provider, Provider::Github | Provider::Repo)
        })
        .map(|p| p.name.as_str())
        .collect();
    // The fact is set (possibly empty) on every GitHub-trusting role, so a rule may read it
    // whether or not a repository was scanned in this run.
    // Each role on its own: the text search below reads every role's facts once.
    let link = |subject: &mut Subject| {
        // Most roles do not trust GitHub: skip them without parsing their facts. An unescaped
        // `"github_oidc":true` can only be the fact itself, never text inside a string value.
        if !subject.facts.as_json().contains("\"github_oidc\":true") {
            return;
        }
        let facts = subject.facts();
        if facts.get("github_oidc").and_then(Value::as_bool) != Some(true) {
            return;
        }
        let patterns: Vec<String> = facts
            .get("github_repos")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let admitted: Vec<Value> = scanned
            .iter()
            .filter(|repo| {
                patterns
                    .iter()
                    .any(|p| glob_match(&p.to_ascii_lowercase(), &repo.to_ascii_lowercase()))
            })
            .map(|repo| Value::from(*repo))
            .collect();
        subject.set_fact("github_scanned_repos_admitted", Value::Array(admitted));
    };
    analysis
        .subjects
        .par_iter_mut()
        .filter(|s| s.kind == "aws.role")
        .for_each(link);
}

/// `*` matches any run of characters (GitHub `sub` patterns as AWS `StringLike` reads them).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("acme/*", "acme/api"));
        assert!(glob_match("*", "x/y"));
        assert!(glob_match("acme/api", "acme/api"));
        assert!(!glob_match("acme/api-*", "acme/web"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("ab*ba", "aba"));
    }

    #[test]
    fn write_permissions_nested_and_flat() {
        let doc = serde_json::json!({"repository": {"contents": "write", "metadata": "read"}, "organization": {"members": "read"}});
        assert_eq!(write_permissions(Some(&doc)), vec!["repository:contents"]);
        let flat = serde_json::json!({"administration": "write", "issues": "read"});
        assert_eq!(write_permissions(Some(&flat)), vec!["administration"]);
    }
}
