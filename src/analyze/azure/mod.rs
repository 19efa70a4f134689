//! Analyze, Azure: facts for Entra applications, service principals, their client secrets and
//! certificates, federated credentials, and role assignments (active, PIM-eligible).
//!
//! Subject kinds: `azure.application`, `azure.service_principal`, `azure.client_secret`,
//! `azure.client_certificate`, `azure.federated_credential`, `azure.role_assignment`. Field
//! names are a contract with the rules in `rules/`: add, never rename.

use std::collections::HashMap;

use super::{
    Analysis, AnalysisContext, Exposure, Identity, Privilege, RiskInputs, Subject, facts_of,
};
use crate::inventory::{Credential, Grant, Inventory, LastUsed, Principal, Provider, ResourceRef};

/// `appOwnerOrganizationId` of Microsoft's own first-party service principals.
const MICROSOFT_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

mod facts;
mod grants;

pub use facts::{CredentialFacts, FederatedFacts, PrincipalFacts, RoleAssignmentFacts};
use grants::{federated_subject, role_assignment_facts, role_assignment_subject};
pub use grants::{role_privilege, scope_level};

/// Builds the Azure subjects and identities of an inventory.
pub fn analyze(inventory: &Inventory, ctx: &AnalysisContext) -> Analysis {
    let index = Index::new(inventory);
    let mut analysis = Analysis::default();
    let grants: Vec<(&Grant, RoleAssignmentFacts)> = inventory
        .grants
        .iter()
        .filter(|g| {
            g.provider == Provider::Azure
                && matches!(g.kind.as_str(), "role_assignment" | "pim_eligible")
        })
        .map(|g| (g, role_assignment_facts(g, &index, ctx)))
        .collect();
    for credential in inventory
        .credentials
        .iter()
        .filter(|c| c.provider == Provider::Azure)
    {
        if let Some(subject) = credential_subject(credential, &index, &grants, ctx) {
            analysis.subjects.push(subject);
        }
    }
    for principal in index.principals.values() {
        let facts = principal_facts(principal, &index, &grants, ctx);
        analysis.subjects.push(principal_subject(principal, &facts));
        if principal.kind == "service_principal" && worth_listing(&facts) {
            analysis
                .identities
                .push(identity(principal, &facts, &grants, &index, ctx));
        }
    }
    for trust in inventory
        .trusts
        .iter()
        .filter(|t| t.provider == Provider::Azure)
    {
        analysis.subjects.push(federated_subject(trust, &index));
    }
    for (grant, facts) in grants {
        analysis
            .subjects
            .push(role_assignment_subject(grant, facts));
    }
    analysis
}

/// Lookups across objects: an application and its service principal share an appId.
struct Index<'a> {
    principals: std::collections::BTreeMap<&'a str, &'a Principal>,
    by_app_id: HashMap<(&'a str, &'a str), &'a Principal>,
    credentials: HashMap<&'a str, Vec<&'a Credential>>,
    federated: HashMap<&'a str, u32>,
    /// The ledger's latest line of each assignment lapse issued.
    ledger: crate::analyze::expiry::LedgerIndex<'a>,
}

impl<'a> Index<'a> {
    fn new(inventory: &'a Inventory) -> Self {
        let azure = inventory
            .principals
            .iter()
            .filter(|p| p.provider == Provider::Azure);
        let mut index = Index {
            principals: azure.clone().map(|p| (p.id.as_str(), p)).collect(),
            by_app_id: HashMap::new(),
            credentials: HashMap::new(),
            federated: HashMap::new(),
            ledger: crate::analyze::expiry::LedgerIndex::new(&inventory.ledger),
        };
        for p in azure {
            if let Some(app_id) = app_id(p) {
                index.by_app_id.insert((p.kind.as_str(), app_id), p);
            }
        }
        for c in inventory
            .credentials
            .iter()
            .filter(|c| c.provider == Provider::Azure)
        {
            if let Some(owner) = &c.principal_id {
                index.credentials.entry(owner.as_str()).or_default().push(c);
            }
        }
        for t in inventory
            .trusts
            .iter()
            .filter(|t| t.provider == Provider::Azure)
        {
            *index.federated.entry(t.principal_id.as_str()).or_default() += 1;
        }
        index
    }

    /// The application of a service principal, or the service principal of an application.
    fn counterpart(&self, p: &Principal) -> Option<&'a Principal> {
        let other = if p.kind == "application" {
            "service_principal"
        } else {
            "application"
        };
        self.by_app_id.get(&(other, app_id(p)?)).copied()
    }

    fn credentials_of(&self, id: &str) -> &[&'a Credential] {
        self.credentials.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The service principal that signs in with credentials stored on `owner_id`.
    fn signing_principal(&self, owner_id: &str) -> Option<&'a Principal> {
        let owner = self.principals.get(owner_id)?;
        if owner.kind == "service_principal" {
            Some(owner)
        } else {
            self.counterpart(owner)
        }
    }
}

fn app_id(p: &Principal) -> Option<&str> {
    p.attributes.get("app_id").and_then(|v| v.as_str())
}

fn rfc3339(t: crate::inventory::Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn credential_facts(c: &Credential, index: &Index, ctx: &AnalysisContext) -> CredentialFacts {
    let owner = c
        .principal_id
        .as_deref()
        .and_then(|id| index.principals.get(id));
    let expired = c.expires_at.is_some_and(|end| end <= ctx.as_of);
    CredentialFacts {
        name: c.name.clone(),
        key_id: c
            .attributes
            .get("key_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string(),
        tenant: c.scope.clone(),
        owner_kind: c
            .attributes
            .get("owner_kind")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string(),
        owner_id: c.principal_id.clone().unwrap_or_default(),
        owner_name: owner.map(|o| o.name.clone()).unwrap_or_default(),
        app_id: c
            .attributes
            .get("app_id")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        active: !expired,
        has_end_date: c.expires_at.is_some(),
        starts_at: c.created_at.map(rfc3339),
        ends_at: c.expires_at.map(rfc3339),
        lifetime_days: c
            .created_at
            .zip(c.expires_at)
            .map(|(start, end)| (end - start).num_days()),
        age_days: c.created_at.map(|t| ctx.days_since(t)),
        expired,
        expires_in_days: c.expires_at.map(|end| (end - ctx.as_of).num_days()),
    }
}

fn credential_subject(
    c: &Credential,
    index: &Index,
    grants: &[(&Grant, RoleAssignmentFacts)],
    ctx: &AnalysisContext,
) -> Option<Subject> {
    if !matches!(c.kind.as_str(), "client_secret" | "client_certificate") {
        return None;
    }
    let facts = credential_facts(c, index, ctx);
    let signer = c
        .principal_id
        .as_deref()
        .and_then(|id| index.signing_principal(id));
    let scope = signer.map_or(Privilege::None, |sp| active_privilege(&sp.id, grants));
    let idle_days = signer
        .and_then(|sp| sp.last_used.at())
        .map(|t| ctx.days_since(t));
    Some(Subject {
        kind: format!("azure.{}", c.kind),
        resource: ResourceRef {
            provider: Provider::Azure,
            kind: c.kind.clone(),
            id: c.id.clone(),
            name: c.name.clone(),
        },
        principal_id: signer
            .map(|sp| sp.id.clone())
            .or_else(|| c.principal_id.clone()),
        risk: RiskInputs {
            scope,
            window_days: facts.expires_in_days.filter(|d| *d >= 0),
            idle_days,
            exposure: Exposure::Internal,
        },
        facts: facts_of(&facts),
        location: None,
    })
}

fn principal_facts(
    p: &Principal,
    index: &Index,
    grants: &[(&Grant, RoleAssignmentFacts)],
    ctx: &AnalysisContext,
) -> PrincipalFacts {
    let own = index.credentials_of(&p.id);
    let counterpart = index.counterpart(p);
    let theirs = counterpart.map_or(&[][..], |o| index.credentials_of(&o.id));
    let active =
        |c: &&&Credential, kind: &str| c.kind == kind && c.expires_at.is_none_or(|e| e > ctx.as_of);
    let usable: Vec<&&Credential> = own
        .iter()
        .chain(theirs)
        .filter(|c| active(c, "client_secret"))
        .collect();
    // Sign-ins are reported per appId, so an application reads its service principal's.
    let signer = if p.kind == "service_principal" {
        Some(p)
    } else {
        counterpart
    };
    let last_used = signer.map_or(LastUsed::Unknown, |s| s.last_used);
    let newest_secret_age = usable
        .iter()
        .filter_map(|c| c.created_at)
        .max()
        .map(|t| ctx.days_since(t));
    let idle_days = match last_used {
        LastUsed::At(t) => Some(ctx.days_since(t)),
        LastUsed::Never => newest_secret_age,
        LastUsed::Unknown => None,
    };
    let sp_id = signer.map(|s| s.id.as_str()).unwrap_or_default();
    let privilege = active_privilege(sp_id, grants);
    let owners: Vec<String> = p
        .attributes
        .get("owners")
        .and_then(|v| v.as_array())
        .map(|owners| owners.iter().filter_map(owner_label).collect())
        .unwrap_or_default();
    PrincipalFacts {
        name: p.name.clone(),
        object_id: p.id.clone(),
        app_id: app_id(p).map(str::to_string),
        tenant: p.scope.clone(),
        service_principal_type: p
            .attributes
            .get("service_principal_type")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        microsoft_first_party: p
            .attributes
            .get("app_owner_organization_id")
            .and_then(|v| v.as_str())
            == Some(MICROSOFT_TENANT),
        owner_count: owners.len() as u32,
        owners,
        active_secret_count: own.iter().filter(|c| active(c, "client_secret")).count() as u32,
        active_certificate_count: own
            .iter()
            .filter(|c| active(c, "client_certificate"))
            .count() as u32,
        expired_credential_count: own
            .iter()
            .filter(|c| c.expires_at.is_some_and(|e| e <= ctx.as_of))
            .count() as u32,
        usable_secret_count: usable.len() as u32,
        federated_credential_count: index.federated.get(p.id.as_str()).copied().unwrap_or(0)
            + counterpart
                .and_then(|o| index.federated.get(o.id.as_str()))
                .copied()
                .unwrap_or(0),
        last_sign_in_at: last_used.at().map(rfc3339),
        sign_in_known: last_used != LastUsed::Unknown,
        never_signed_in: last_used == LastUsed::Never,
        idle_days,
        privilege,
        privilege_rank: privilege as u8,
        roles: grants
            .iter()
            .filter(|(g, f)| {
                g.principal_id == sp_id && f.assignment == "active" && !f.expiry.expired
            })
            .map(|(_, f)| format!("{} on {}", f.role, f.scope))
            .collect(),
    }
}

fn owner_label(owner: &serde_json::Value) -> Option<String> {
    let name = owner.get("display_name").and_then(|v| v.as_str());
    let id = owner.get("id").and_then(|v| v.as_str());
    name.or(id).map(str::to_string)
}

fn principal_subject(p: &Principal, facts: &PrincipalFacts) -> Subject {
    Subject {
        kind: format!("azure.{}", p.kind),
        resource: ResourceRef {
            provider: Provider::Azure,
            kind: p.kind.clone(),
            id: p.id.clone(),
            name: p.name.clone(),
        },
        principal_id: Some(p.id.clone()),
        risk: RiskInputs {
            scope: facts.privilege,
            window_days: None,
            idle_days: facts.idle_days,
            exposure: Exposure::Internal,
        },
        facts: facts_of(facts),
        location: None,
    }
}

/// A service principal worth a line in the identity view: it holds something.
fn worth_listing(facts: &PrincipalFacts) -> bool {
    facts.usable_secret_count + facts.active_certificate_count + facts.federated_credential_count
        > 0
        || !facts.roles.is_empty()
}

fn identity(
    p: &Principal,
    facts: &PrincipalFacts,
    grants: &[(&Grant, RoleAssignmentFacts)],
    index: &Index,
    ctx: &AnalysisContext,
) -> Identity {
    let active: Vec<&RoleAssignmentFacts> = grants
        .iter()
        .filter(|(g, f)| g.principal_id == p.id && f.assignment == "active")
        .map(|(_, f)| f)
        .collect();
    let window = if active.is_empty() || active.iter().any(|f| !f.expiry.provisional) {
        "standing"
    } else if active.iter().all(|f| f.expiry.expired) {
        "expired"
    } else {
        "provisional"
    };
    let expires_at = match window {
        "standing" => None,
        _ => active
            .iter()
            .filter_map(|f| f.expiry.expires_at_time())
            .max(),
    };
    let counterpart = index.counterpart(p);
    let all = index
        .credentials_of(&p.id)
        .iter()
        .chain(counterpart.map_or(&[][..], |o| index.credentials_of(&o.id)));
    let oldest = all.filter(|c| c.active).filter_map(|c| c.created_at).min();
    Identity {
        resource: ResourceRef {
            provider: Provider::Azure,
            kind: p.kind.clone(),
            id: p.id.clone(),
            name: p.name.clone(),
        },
        scope: p.scope.clone(),
        privilege: facts.privilege,
        window: window.into(),
        expires_at,
        active_credentials: facts.usable_secret_count + facts.active_certificate_count,
        oldest_credential_age_days: oldest.map(|t| ctx.days_since(t)),
        idle_days: facts.idle_days,
        grants: facts.roles.clone(),
        access: String::new(),
        machine: false,
        provisional_grants: Vec::new(),
    }
}

/// The highest privilege among a principal's active, unexpired assignments.
fn active_privilege(principal_id: &str, grants: &[(&Grant, RoleAssignmentFacts)]) -> Privilege {
    grants
        .iter()
        .filter(|(g, f)| {
            g.principal_id == principal_id && f.assignment == "active" && !f.expiry.expired
        })
        .map(|(_, f)| f.privilege)
        .max()
        .unwrap_or(Privilege::None)
}
