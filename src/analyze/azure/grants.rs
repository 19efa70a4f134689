//! Analyze, Azure grants and federation: role privilege, scope level, provisional windows of
//! role assignments (description marker or PIM end), and who a federated credential admits.

use super::facts::{FederatedFacts, RoleAssignmentFacts};
use super::{GITHUB_ISSUER, Index, rfc3339};
use crate::analyze::expiry;
use crate::analyze::{AnalysisContext, Exposure, Privilege, RiskInputs, Subject, facts_of};
use crate::inventory::{Document, Grant, Provider, ResourceRef, Trust};

/// What a role lets its holder do. User Access Administrator can grant itself Owner: admin.
/// An unknown custom role counts as write: conservative, and visible in the evidence.
pub fn role_privilege(role: &str) -> Privilege {
    match role {
        "Owner" | "User Access Administrator" | "Role Based Access Control Administrator" => {
            Privilege::Admin
        }
        "Contributor" => Privilege::Write,
        r if r == "Reader" || r.ends_with(" Reader") => Privilege::Read,
        _ => Privilege::Write,
    }
}

/// Where an ARM scope sits in the hierarchy.
pub fn scope_level(scope: &str) -> &'static str {
    let lower = scope.trim_end_matches('/').to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        [] => "root",
        ["providers", "microsoft.management", "managementgroups", _] => "management_group",
        ["subscriptions", _] => "subscription",
        ["subscriptions", _, "resourcegroups", _] => "resource_group",
        _ => "resource",
    }
}

pub(super) fn role_assignment_facts(
    g: &Grant,
    index: &Index,
    ctx: &AnalysisContext,
) -> RoleAssignmentFacts {
    let role = g.role.clone().unwrap_or_else(|| g.name.clone());
    let scope = g.target.clone().unwrap_or_default();
    let attr = |key: &str| {
        g.attributes
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    // An explicit marker wins; otherwise a PIM end date makes the grant provisional; a ledger
    // line for the assignment (lapse extended it) wins over both.
    let mut expiry = expiry::from_text(g.description.as_deref(), "description", ctx);
    if expiry.expiry_marker == "none"
        && let Some(end) = g.ends_at
    {
        expiry = expiry::read_marker(Some(&rfc3339(end)), "schedule", ctx);
    }
    let expiry = expiry::effective(expiry, index.ledger.grant(g), ctx);
    let assignment = if g.kind == "pim_eligible" {
        "eligible"
    } else {
        "active"
    };
    let privilege = role_privilege(&role);
    RoleAssignmentFacts {
        scope_level: scope_level(&scope).into(),
        subscription: attr("subscription"),
        principal_id: g.principal_id.clone(),
        principal_name: index
            .principals
            .get(g.principal_id.as_str())
            .map(|p| p.name.clone()),
        principal_type: attr("principal_type"),
        assignment: assignment.into(),
        pim_assignment_type: attr("pim_assignment_type"),
        role_definition_id: attr("role_definition_id"),
        starts_at: g.starts_at.map(rfc3339),
        ends_at: g.ends_at.map(rfc3339),
        privilege,
        privilege_rank: privilege as u8,
        standing: assignment == "active" && !expiry.provisional,
        role,
        scope,
        expiry,
    }
}

pub(super) fn role_assignment_subject(g: &Grant, facts: RoleAssignmentFacts) -> Subject {
    let name = format!("{} on {}", facts.role, facts.scope);
    Subject {
        kind: "azure.role_assignment".into(),
        resource: ResourceRef {
            provider: Provider::Azure,
            kind: g.kind.clone(),
            id: g.id.clone(),
            name,
        },
        principal_id: Some(g.principal_id.clone()),
        risk: RiskInputs {
            scope: if facts.assignment == "active" {
                facts.privilege
            } else {
                Privilege::None
            },
            window_days: facts
                .expiry
                .expires_in_days
                .filter(|_| facts.expiry.provisional),
            idle_days: None,
            exposure: Exposure::Internal,
        },
        facts: facts_of(&facts),
        location: None,
    }
}

pub(super) fn federated_subject(t: &Trust, index: &Index) -> Subject {
    let facts = federated_facts(t, index);
    let name = facts
        .name
        .clone()
        .unwrap_or_else(|| facts.subject_pattern.clone().unwrap_or_default());
    let document = t.document.as_ref().map(Document::value);
    let id = document
        .as_ref()
        .and_then(|d| d.get("id"))
        .and_then(|v| v.as_str())
        .map_or_else(
            || format!("{}/federatedIdentityCredentials/{name}", t.principal_id),
            |fic| format!("{}/federatedIdentityCredentials/{fic}", t.principal_id),
        );
    let exposure = if facts.admits_multiple {
        Exposure::Public
    } else {
        Exposure::CrossAccount
    };
    Subject {
        kind: "azure.federated_credential".into(),
        resource: ResourceRef {
            provider: Provider::Azure,
            kind: "federated_credential".into(),
            id,
            name,
        },
        principal_id: index
            .signing_principal(&t.principal_id)
            .map(|sp| sp.id.clone())
            .or(Some(t.principal_id.clone())),
        risk: RiskInputs {
            scope: Privilege::None,
            window_days: None,
            idle_days: None,
            exposure,
        },
        facts: facts_of(&facts),
        location: None,
    }
}

fn federated_facts(t: &Trust, index: &Index) -> FederatedFacts {
    let doc = t.document.as_ref().map(Document::value);
    let expression = doc
        .as_ref()
        .and_then(|d| d.get("claimsMatchingExpression"))
        .and_then(|e| e.get("value").or(Some(e)))
        .and_then(|v| v.as_str());
    let pattern = t
        .subject
        .clone()
        .or_else(|| expression.map(|e| sub_pattern(e).unwrap_or(e).to_string()));
    let github = t
        .issuer
        .as_deref()
        .is_some_and(|i| i.trim_end_matches('/') == GITHUB_ISSUER);
    let wildcard = pattern.as_deref().is_some_and(|p| p.contains(['*', '?']));
    let pull_request = github
        && pattern
            .as_deref()
            .is_some_and(|p| p.ends_with(":pull_request"));
    let repository = pattern
        .as_deref()
        .filter(|_| github)
        .and_then(|p| p.strip_prefix("repo:"))
        .map(|rest| rest.split(':').next().unwrap_or(rest).to_string());
    FederatedFacts {
        name: doc
            .as_ref()
            .and_then(|d| d.get("name"))
            .and_then(|v| v.as_str())
            .map(str::to_string),
        app_object_id: t.principal_id.clone(),
        app_name: index
            .principals
            .get(t.principal_id.as_str())
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        issuer: t.issuer.clone(),
        subject: t.subject.clone(),
        audiences: t.audiences.clone(),
        github,
        flexible: t.subject.is_none() && expression.is_some(),
        subject_wildcard: wildcard,
        pull_request,
        // No subject and no expression admits nothing Entra would accept; a wildcard or a
        // pull_request subject admits many.
        admits_multiple: wildcard || pull_request,
        repository,
        subject_pattern: pattern,
    }
}

/// The pattern in `claims['sub'] matches 'repo:o/*'` (flexible federated credentials).
fn sub_pattern(expression: &str) -> Option<&str> {
    let rest = expression.split_once("matches")?.1.trim();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = &rest[1..];
    inner.find(quote).map(|end| &inner[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_levels() {
        assert_eq!(scope_level("/"), "root");
        assert_eq!(
            scope_level("/providers/Microsoft.Management/managementGroups/mg1"),
            "management_group"
        );
        assert_eq!(scope_level("/subscriptions/s1"), "subscription");
        assert_eq!(
            scope_level("/subscriptions/s1/resourceGroups/rg"),
            "resource_group"
        );
        assert_eq!(
            scope_level(
                "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
            ),
            "resource"
        );
    }

    #[test]
    fn role_privileges() {
        assert_eq!(role_privilege("Owner"), Privilege::Admin);
        assert_eq!(
            role_privilege("User Access Administrator"),
            Privilege::Admin
        );
        assert_eq!(role_privilege("Contributor"), Privilege::Write);
        assert_eq!(role_privilege("Storage Blob Data Reader"), Privilege::Read);
        assert_eq!(role_privilege("My Custom Role"), Privilege::Write);
    }

    #[test]
    fn flexible_subject_patterns() {
        assert_eq!(
            sub_pattern("claims['sub'] matches 'repo:contoso/*'"),
            Some("repo:contoso/*")
        );
        assert_eq!(sub_pattern("claims['sub'] eq 'x'"), None);
        assert_eq!(sub_pattern("matches"), None);
    }
}
