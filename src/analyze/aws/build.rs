//! Analyze, AWS: builds subjects (`aws.user`, `aws.role`, `aws.access_key`, `aws.root`) and
//! identities from the inventory, judging each principal's policies once.
//!
//! Risk inputs, as chosen here:
//! * scope: the principal's privilege (a key carries its user's; the root is admin);
//! * window: days to expiry of a provisional principal (`lapse:expires-at`), else standing;
//! * idle: days since last use; a never-used subject counts its age; unknown stays unknown;
//! * exposure (`Exposure` docs): `public` when a role's trust admits any principal without a
//!   condition or any GitHub repository (unbound OIDC); `cross_account` for other accounts, a
//!   conditioned `*`, other federation and GitHub OIDC bound to one repository (federation is
//!   not a stored CI secret, so not `ci`); `internal` otherwise. Keys are `internal`: whether one
//!   sits in CI is for the GitHub/repo sources to say, not the credential report.

use rayon::prelude::*;

use crate::hash::FastMap;

use super::catalogue::Catalogue;
use super::chains::{self, Closure, Node, NodeKind};
use super::condition::Caller;
use super::effective::Effective;
use super::escalation::{self, Found, View};
use super::{AccessKeyFacts, PrivilegeFacts, RoleFacts, RootFacts, UserFacts};
use crate::analyze::expiry::{self, ExpiryFacts};
use crate::analyze::policy::{CompiledPolicy, Target, evaluate, rank};
use crate::analyze::trust::{self, TrustFacts};
use crate::analyze::{
    Analysis, AnalysisContext, Exposure, Facts, Identity, Privilege, RiskInputs, Subject, facts_of,
};
use crate::collect::aws::attr;
use crate::collect::aws::details::account_of_arn;
use crate::inventory::{
    Credential, Grant, Inventory, LastUsed, Principal, Provider, ResourceRef, Timestamp, Trust,
};

mod judge;

use judge::{close, privilege_facts, scps};

/// Per-inventory indexes, built once: everything a principal needs, by its ARN.
struct Index<'a> {
    grants: FastMap<&'a str, Vec<&'a Grant>>,
    credentials: FastMap<&'a str, Vec<&'a Credential>>,
    trusts: FastMap<&'a str, &'a Trust>,
    /// Managed policies, compiled once however many principals hold them.
    managed: FastMap<&'a str, CompiledPolicy>,
    /// Group inline policies, compiled once for all members: key `group ARN \0 policy name`.
    group_inline: FastMap<String, CompiledPolicy>,
    /// Users' and roles' own inline policies, by grant id.
    inline: FastMap<&'a str, CompiledPolicy>,
    /// The SCPs on each account's path in the organization, one entry per level.
    scps: FastMap<String, Vec<Vec<CompiledPolicy>>>,
}

/// What phase one decides of a user or role, before the chains.
struct Judgement<'a> {
    facts: PrivilegeFacts,
    found: Found,
    effective: Effective<'a>,
    trust: TrustFacts,
    /// Its own level, unconditional and counting conditions (self-escalation included).
    strict: Privilege,
    loose: Privilege,
}

pub(super) fn analyze(inventory: &Inventory, ctx: &AnalysisContext) -> Analysis {
    let index = crate::timed("analyze aws: index", || Index::build(inventory));
    let catalogue = Catalogue::builtin();
    let scp_levels = index.scp_levels();
    // Phase one, per principal: own privilege, effective permissions, paths it can take.
    let principals: Vec<&Principal> = inventory
        .principals
        .iter()
        .filter(|p| p.provider == Provider::Aws && (p.kind == "user" || p.kind == "role"))
        .collect();
    let judged: Vec<Judgement> = crate::timed("analyze aws: judge", || {
        principals
            .par_iter()
            .map(|p| index.judge(p, catalogue, &scp_levels))
            .collect()
    });
    // Phase two, over the whole inventory: escalation paths and assume-role chains closed.
    let groups = index.groups();
    let closures = crate::timed("analyze aws: chains", || {
        close(&principals, &judged, &groups, catalogue)
    });
    // Each judgement is consumed by its subject: freed while the subjects are built (the run's
    // peak of memory), its facts moved, not copied. Folded per piece of work, not collected
    // per principal (200k small vectors cost more than the subjects); pieces joined in the
    // principals' order, the root users (not judged) after them.
    let subjects = std::time::Instant::now();
    let mut parts: Vec<Analysis> = principals
        .into_par_iter()
        .zip(judged.into_par_iter().zip(closures))
        .fold(Analysis::default, |mut acc, (p, (j, c))| {
            acc.extend(match p.kind.as_str() {
                "user" => user(p, &index, ctx, j, c),
                _ => role(p, &index, ctx, j, c),
            });
            acc
        })
        .collect();
    let roots = inventory.principals.iter().filter(|p| p.kind == "root");
    let roots = roots.filter(|p| p.provider == Provider::Aws);
    parts.extend(roots.map(|p| root(p, &index, ctx)));
    tracing::debug!(
        stage = "analyze aws: subjects",
        elapsed_ms = subjects.elapsed().as_millis() as u64,
        "stage done"
    );
    drop(index);
    Analysis::concat(parts)
}

impl<'a> Index<'a> {
    fn build(inventory: &'a Inventory) -> Self {
        let aws = |provider: Provider| provider == Provider::Aws;
        let mut grants: FastMap<&str, Vec<&Grant>> = FastMap::default();
        for grant in inventory.grants.iter().filter(|g| aws(g.provider)) {
            grants
                .entry(grant.principal_id.as_str())
                .or_default()
                .push(grant);
        }
        let mut credentials: FastMap<&str, Vec<&Credential>> = FastMap::default();
        for credential in inventory.credentials.iter().filter(|c| aws(c.provider)) {
            if let Some(owner) = &credential.principal_id {
                credentials
                    .entry(owner.as_str())
                    .or_default()
                    .push(credential);
            }
        }
        let trusts = inventory
            .trusts
            .iter()
            .filter(|t| aws(t.provider) && t.kind == "assume_role_policy")
            .map(|t| (t.principal_id.as_str(), t))
            .collect();
        // Boundaries are managed policies too: compiled when the inventory holds them.
        let referenced: crate::hash::FastSet<&str> = grants
            .values()
            .flatten()
            .filter(|g| g.kind == "managed_policy" || g.kind == "permissions_boundary")
            .filter_map(|g| g.policy_id.as_deref())
            .collect();
        let managed = inventory
            .policies
            .par_iter()
            .filter(|p| aws(p.provider) && referenced.contains(p.id.as_str()))
            .map(|p| {
                (
                    p.id.as_str(),
                    CompiledPolicy::compile(&p.name, &p.document.value()),
                )
            })
            .collect();
        let mut group_inline = FastMap::default();
        for grant in grants
            .values()
            .flatten()
            .filter(|g| g.kind == "inline_policy")
        {
            if let (Some(key), Some(document)) = (group_key(grant), &grant.document) {
                group_inline
                    .entry(key)
                    .or_insert_with(|| CompiledPolicy::compile(&grant.name, &document.value()));
            }
        }
        let inline = grants
            .values()
            .flatten()
            .filter(|g| g.kind == "inline_policy" && group_key(g).is_none())
            .filter_map(|g| Some((g.id.as_str(), g.document.as_ref()?)))
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|(id, d)| (id, CompiledPolicy::compile(id, &d.value())))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        Index {
            grants,
            credentials,
            trusts,
            managed,
            group_inline,
            inline,
            scps: scps(inventory),
        }
    }

    /// The SCP levels of each account, borrowed as the effective permissions need them.
    fn scp_levels(&self) -> FastMap<&str, Vec<Vec<&CompiledPolicy>>> {
        self.scps
            .iter()
            .map(|(account, levels)| {
                let levels = levels.iter().map(|l| l.iter().collect()).collect();
                (account.as_str(), levels)
            })
            .collect()
    }

    /// Each group's policies (from its members' inherited grants), by group ARN.
    fn groups(&self) -> Vec<(&'a str, Vec<&CompiledPolicy>)> {
        let mut by_group: FastMap<&'a str, Vec<&CompiledPolicy>> = FastMap::default();
        for grant in self.grants.values().flatten() {
            let Some(arn) = grant
                .attributes
                .get(attr::GROUP_ARN)
                .and_then(|v| v.as_str())
            else {
                continue;
            };
            let policy = match grant.kind.as_str() {
                "managed_policy" => grant
                    .policy_id
                    .as_deref()
                    .and_then(|id| self.managed.get(id)),
                "inline_policy" => group_key(grant).and_then(|k| self.group_inline.get(&k)),
                _ => None,
            };
            let held = by_group.entry(arn).or_default();
            if let Some(policy) = policy.filter(|p| !held.iter().any(|h| std::ptr::eq(*h, *p))) {
                held.push(policy);
            }
        }
        let mut groups: Vec<_> = by_group.into_iter().collect();
        groups.sort_by_key(|(arn, _)| *arn);
        groups
    }

    fn grants_of(&self, principal: &Principal) -> &[&'a Grant] {
        self.grants
            .get(principal.id.as_str())
            .map_or(&[], Vec::as_slice)
    }

    fn credentials_of(&self, principal: &Principal) -> &[&'a Credential] {
        self.credentials
            .get(principal.id.as_str())
            .map_or(&[], Vec::as_slice)
    }

    fn access_keys_of(&self, principal: &Principal) -> Vec<&'a Credential> {
        let credentials = self.credentials_of(principal).iter().copied();
        credentials.filter(|c| c.kind == "access_key").collect()
    }
}

fn group_key(grant: &Grant) -> Option<String> {
    grant.via.as_ref()?;
    let group_arn = grant.attributes.get(attr::GROUP_ARN)?.as_str()?;
    Some(format!("{group_arn}\0{}", grant.name))
}

fn user(
    principal: &Principal,
    index: &Index,
    ctx: &AnalysisContext,
    judgement: Judgement,
    closure: Closure,
) -> Analysis {
    let privilege = privilege_facts(judgement, closure);
    let expiry = expiry::from_tags(&principal.tags, ctx);
    let keys = index.access_keys_of(principal);
    let password_enabled = bool_attr(principal, attr::PASSWORD_ENABLED);
    let facts = UserFacts {
        name: principal.name.clone(),
        arn: principal.id.clone(),
        account: principal.scope.clone(),
        path: principal.path.clone().unwrap_or_else(|| "/".into()),
        age_days: principal.created_at.map(|t| ctx.days_since(t)),
        password_enabled: password_enabled == Some(true),
        mfa_active: bool_attr(principal, attr::MFA_ACTIVE) == Some(true),
        // Without a credential report nobody knows; lapse then treats the user as a machine.
        machine: password_enabled != Some(true),
        active_key_count: count_active(&keys),
        oldest_active_key_age_days: oldest_active_age(&keys, ctx),
        idle_days: principal.last_used.at().map(|t| ctx.days_since(t)),
        groups: string_list(principal, attr::GROUPS),
        privilege,
        expiry,
    };
    let judged = Judged {
        privilege: facts.privilege.effective_privilege,
        expiry: &facts.expiry,
        age_days: facts.age_days,
        idle_days: facts.idle_days,
        exposure: Exposure::Internal,
    };
    let mut analysis = principal_analysis("aws.user", principal, index, ctx, &judged, &facts);
    let owner = Owner {
        privilege: facts.privilege.effective_privilege,
        machine: facts.machine,
        expiry: &facts.expiry,
    };
    add_access_keys(&mut analysis, &keys, principal, &owner, ctx);
    analysis
}

/// What a key inherits from the principal holding it.
struct Owner<'a> {
    privilege: Privilege,
    machine: bool,
    expiry: &'a ExpiryFacts,
}

fn add_access_keys(
    analysis: &mut Analysis,
    keys: &[&Credential],
    principal: &Principal,
    owner: &Owner,
    ctx: &AnalysisContext,
) {
    let subjects = keys
        .iter()
        .map(|key| access_key(key, principal, owner, ctx));
    analysis.subjects.extend(subjects);
}

fn access_key(
    key: &Credential,
    principal: &Principal,
    owner: &Owner,
    ctx: &AnalysisContext,
) -> Subject {
    let rotated = key.rotated_at.or(key.created_at);
    let age_days = rotated.map(|t| ctx.days_since(t));
    let facts = AccessKeyFacts {
        user: principal.name.clone(),
        user_arn: principal.id.clone(),
        account: key.scope.clone(),
        slot: key
            .attributes
            .get(attr::SLOT)
            .and_then(|v| v.as_u64())
            .map_or(0, |s| s as u8),
        active: key.active,
        age_days,
        last_used_at: key.last_used.at().map(rfc3339),
        idle_days: key.last_used.at().map(|t| ctx.days_since(t)),
        never_used: key.last_used == LastUsed::Never,
        usage: usage(key.last_used).into(),
        last_used_service: key
            .attributes
            .get(attr::LAST_USED_SERVICE)
            .and_then(|v| v.as_str())
            .map(str::to_string),
        user_machine: owner.machine,
        user_provisional: owner.expiry.provisional,
        user_privilege: owner.privilege,
        key_hint: key.hint.clone(),
        leaked: false,
        leaked_in: Vec::new(),
    };
    let risk = RiskInputs {
        scope: owner.privilege,
        window_days: window(owner.expiry),
        idle_days: idle(key.last_used, age_days, ctx),
        exposure: Exposure::Internal,
    };
    Subject {
        kind: "aws.access_key".into(),
        resource: resource("access_key", &key.id, &key.name),
        principal_id: Some(principal.id.clone()),
        facts: facts_of(&facts),
        risk,
        location: None,
    }
}

fn role(
    principal: &Principal,
    index: &Index,
    ctx: &AnalysisContext,
    mut judgement: Judgement,
    closure: Closure,
) -> Analysis {
    let trust = std::mem::take(&mut judgement.trust);
    let privilege = privilege_facts(judgement, closure);
    let path = principal.path.clone().unwrap_or_else(|| "/".into());
    let service_linked = path.starts_with("/aws-service-role/");
    // Only IAM Identity Center creates roles under its reserved path; a name anyone can choose.
    let sso_role = path.starts_with("/aws-reserved/sso.amazonaws.com/");
    let age_days = principal.created_at.map(|t| ctx.days_since(t));
    let exposure = exposure(&trust);
    let facts = RoleFacts {
        name: principal.name.clone(),
        arn: principal.id.clone(),
        account: principal.scope.clone(),
        path,
        age_days,
        service_linked,
        sso_role,
        machine: !service_linked && !sso_role,
        // Only ListRoles says it (live, or its output given offline); unknown otherwise.
        max_session_duration_secs: principal
            .attributes
            .get(attr::MAX_SESSION_DURATION)
            .and_then(|v| v.as_i64()),
        last_used_at: principal.last_used.at().map(rfc3339),
        idle_days: principal.last_used.at().map(|t| ctx.days_since(t)),
        never_used: principal.last_used == LastUsed::Never,
        trust_any_principal: trust.any_principal,
        trust_any_principal_conditioned: trust.any_principal_conditioned,
        trust_accounts: trust.accounts,
        trust_accounts_without_external_id: trust.accounts_without_external_id,
        trust_services: trust.services,
        trust_federated: trust.federated,
        github_oidc: trust.github_oidc,
        github_oidc_unbound: trust.github_oidc_unbound,
        github_subjects: trust.github_subjects,
        github_repos: trust.github_repos,
        privilege,
        expiry: expiry::from_tags(&principal.tags, ctx),
    };
    let judged = Judged {
        privilege: facts.privilege.effective_privilege,
        expiry: &facts.expiry,
        age_days,
        idle_days: facts.idle_days,
        exposure,
    };
    principal_analysis("aws.role", principal, index, ctx, &judged, &facts)
}

fn exposure(trust: &TrustFacts) -> Exposure {
    if trust.any_principal || trust.github_oidc_unbound {
        Exposure::Public
    } else if trust.any_principal_conditioned
        || !trust.accounts.is_empty()
        || !trust.federated.is_empty()
    {
        Exposure::CrossAccount
    } else {
        Exposure::Internal
    }
}

fn root(principal: &Principal, index: &Index, ctx: &AnalysisContext) -> Analysis {
    let keys = index.access_keys_of(principal);
    let password_last_used = last_used_attr(principal, attr::PASSWORD_LAST_USED);
    let facts = RootFacts {
        account: principal.scope.clone(),
        arn: principal.id.clone(),
        active_key_count: count_active(&keys),
        mfa_active: bool_attr(principal, attr::MFA_ACTIVE) == Some(true),
        password_enabled: bool_attr(principal, attr::PASSWORD_ENABLED) == Some(true),
        password_idle_days: password_last_used.at().map(|t| ctx.days_since(t)),
    };
    let age_days = principal.created_at.map(|t| ctx.days_since(t));
    let risk = RiskInputs {
        scope: Privilege::Admin,
        window_days: None,
        idle_days: idle(principal.last_used, age_days, ctx),
        exposure: Exposure::Internal,
    };
    let standing = ExpiryFacts::default();
    let owner = Owner {
        privilege: Privilege::Admin,
        machine: false,
        expiry: &standing,
    };
    let mut analysis = Analysis::default();
    analysis
        .subjects
        .push(subject("aws.root", principal, facts_of(&facts), risk));
    add_access_keys(&mut analysis, &keys, principal, &owner, ctx);
    analysis
}

/// What a user and a role are judged by, beyond their facts.
struct Judged<'a> {
    privilege: Privilege,
    expiry: &'a ExpiryFacts,
    age_days: Option<i64>,
    idle_days: Option<i64>,
    exposure: Exposure,
}

/// A user's or role's identity and its own subject (a user's keys are added by the caller).
fn principal_analysis(
    kind: &str,
    principal: &Principal,
    index: &Index,
    ctx: &AnalysisContext,
    judged: &Judged,
    facts: &impl serde::Serialize,
) -> Analysis {
    let risk = RiskInputs {
        scope: judged.privilege,
        window_days: window(judged.expiry),
        idle_days: idle(principal.last_used, judged.age_days, ctx),
        exposure: judged.exposure,
    };
    let mut analysis = Analysis::default();
    analysis
        .identities
        .push(identity(principal, index, ctx, judged));
    analysis
        .subjects
        .push(subject(kind, principal, facts_of(facts), risk));
    analysis
}

fn identity(
    principal: &Principal,
    index: &Index,
    ctx: &AnalysisContext,
    judged: &Judged,
) -> Identity {
    let credentials = index.credentials_of(principal);
    let mut grants: Vec<String> = index
        .grants_of(principal)
        .iter()
        .filter(|g| g.kind != "permissions_boundary")
        .map(|g| match &g.via {
            Some(group) => format!("{} (group {group})", g.name),
            None => g.name.clone(),
        })
        .collect();
    grants.sort();
    grants.dedup();
    Identity {
        resource: resource(&principal.kind, &principal.id, &principal.name),
        scope: principal.scope.clone(),
        privilege: judged.privilege,
        window: judged.expiry.window().into(),
        expires_at: judged.expiry.expires_at_time(),
        active_credentials: count_active(credentials),
        oldest_credential_age_days: oldest_active_age(credentials, ctx),
        idle_days: judged.idle_days,
        grants,
        access: String::new(),
        machine: false,
        provisional_grants: Vec::new(),
    }
}

fn subject(kind: &str, principal: &Principal, facts: Facts, risk: RiskInputs) -> Subject {
    Subject {
        kind: kind.into(),
        resource: resource(&principal.kind, &principal.id, &principal.name),
        principal_id: Some(principal.id.clone()),
        facts,
        risk,
        location: None,
    }
}

fn resource(kind: &str, id: &str, name: &str) -> ResourceRef {
    ResourceRef {
        provider: Provider::Aws,
        kind: kind.into(),
        id: id.into(),
        name: name.into(),
    }
}

fn count_active(credentials: &[&Credential]) -> u32 {
    u32::try_from(credentials.iter().filter(|c| c.active).count()).unwrap_or(u32::MAX)
}

fn oldest_active_age(credentials: &[&Credential], ctx: &AnalysisContext) -> Option<i64> {
    credentials
        .iter()
        .filter(|c| c.active)
        .filter_map(|c| c.rotated_at.or(c.created_at))
        .map(|t| ctx.days_since(t))
        .max()
}

fn window(expiry: &ExpiryFacts) -> Option<i64> {
    expiry.expires_in_days.filter(|_| expiry.provisional)
}

/// Days idle for the risk score: since last use, or since creation when never used.
fn idle(last_used: LastUsed, age_days: Option<i64>, ctx: &AnalysisContext) -> Option<i64> {
    match last_used {
        LastUsed::At(t) => Some(ctx.days_since(t)),
        LastUsed::Never => age_days,
        LastUsed::Unknown => None,
    }
}

fn usage(last_used: LastUsed) -> &'static str {
    match last_used {
        LastUsed::At(_) => "used",
        LastUsed::Never => "never",
        LastUsed::Unknown => "unknown",
    }
}

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn bool_attr(principal: &Principal, key: &str) -> Option<bool> {
    principal.attributes.get(key).and_then(|v| v.as_bool())
}

fn last_used_attr(principal: &Principal, key: &str) -> LastUsed {
    principal
        .attributes
        .get(key)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

fn string_list(principal: &Principal, key: &str) -> Vec<String> {
    let items = principal.attributes.get(key).and_then(|v| v.as_array());
    items
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> AnalysisContext {
        AnalysisContext::at("2025-06-01T00:00:00Z".parse().unwrap())
    }

    #[test]
    fn exposure_follows_trust() {
        let any = TrustFacts {
            any_principal: true,
            ..TrustFacts::default()
        };
        assert_eq!(exposure(&any), Exposure::Public);
        let unbound = TrustFacts {
            github_oidc: true,
            github_oidc_unbound: true,
            ..TrustFacts::default()
        };
        assert_eq!(exposure(&unbound), Exposure::Public);
        let bound = TrustFacts {
            github_oidc: true,
            federated: vec!["gh".into()],
            ..TrustFacts::default()
        };
        assert_eq!(exposure(&bound), Exposure::CrossAccount);
        let other = TrustFacts {
            accounts: vec!["222222222222".into()],
            ..TrustFacts::default()
        };
        assert_eq!(exposure(&other), Exposure::CrossAccount);
        let conditioned = TrustFacts {
            any_principal_conditioned: true,
            ..TrustFacts::default()
        };
        assert_eq!(exposure(&conditioned), Exposure::CrossAccount);
        let service = TrustFacts {
            services: vec!["lambda.amazonaws.com".into()],
            ..TrustFacts::default()
        };
        assert_eq!(exposure(&service), Exposure::Internal);
    }

    #[test]
    fn idle_counts_age_when_never_used() {
        let ctx = ctx();
        let used = LastUsed::At("2025-05-22T00:00:00Z".parse().unwrap());
        assert_eq!(idle(used, Some(400), &ctx), Some(10));
        assert_eq!(idle(LastUsed::Never, Some(400), &ctx), Some(400));
        assert_eq!(idle(LastUsed::Unknown, Some(400), &ctx), None);
    }

    #[test]
    fn window_only_for_provisional() {
        let standing = ExpiryFacts::default();
        assert_eq!(window(&standing), None);
        let provisional = expiry::read_marker(Some("2025-06-11T00:00:00Z"), "tag", &ctx());
        assert_eq!(window(&provisional), Some(10));
        let invalid = expiry::read_marker(Some("soon"), "tag", &ctx());
        assert_eq!(window(&invalid), None);
    }

    #[test]
    fn usage_words() {
        assert_eq!(usage(LastUsed::Never), "never");
        assert_eq!(usage(LastUsed::Unknown), "unknown");
        assert_eq!(
            usage(LastUsed::At("2025-01-01T00:00:00Z".parse().unwrap())),
            "used"
        );
    }
}
