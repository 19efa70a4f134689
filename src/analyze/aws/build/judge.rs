//! Analyze, AWS: phase one for each user and role (its own privilege within boundary and SCPs,
//! the escalation paths it can take, its credential exposure) and the inventory's view for the
//! chains (phase two).

use super::*;

/// The chains' view of the inventory's users, roles and groups.
pub(super) fn close(
    principals: &[&Principal],
    judged: &[Judgement],
    groups: &[(&str, Vec<&CompiledPolicy>)],
    catalogue: &Catalogue,
) -> Vec<Closure> {
    let mut nodes: Vec<Node> = principals
        .iter()
        .zip(judged)
        .map(|(p, j)| Node {
            arn: &p.id,
            account: &p.scope,
            kind: if p.kind == "user" {
                NodeKind::User
            } else {
                NodeKind::Role
            },
            strict: j.strict,
            loose: j.loose,
            found: Some(&j.found),
            effective: Some(&j.effective),
            admits: (p.kind == "role").then_some(&j.trust.admits),
            services: &j.trust.services,
        })
        .collect();
    for (arn, policies) in groups {
        let facts = evaluate(policies, None);
        nodes.push(Node {
            arn,
            account: account_of_arn(arn).unwrap_or_default(),
            kind: NodeKind::Group,
            strict: facts.strict,
            loose: facts.privilege,
            found: None,
            effective: None,
            admits: None,
            services: &[],
        });
    }
    let mut closures = chains::close(&nodes, catalogue);
    closures.truncate(principals.len());
    closures
}

impl<'a> Index<'a> {
    /// The identity policies a principal holds (managed, inline, via groups).
    pub(super) fn held(&self, principal: &Principal) -> Vec<&CompiledPolicy> {
        let mut held = Vec::new();
        for grant in self.grants_of(principal) {
            let policy = match grant.kind.as_str() {
                "managed_policy" => grant
                    .policy_id
                    .as_deref()
                    .and_then(|id| self.managed.get(id)),
                "inline_policy" => match group_key(grant) {
                    Some(key) => self.group_inline.get(&key),
                    None => self.inline.get(grant.id.as_str()),
                },
                _ => None,
            };
            held.extend(policy);
        }
        held
    }

    /// Phase one for a user or role: its own privilege (identity ∩ boundary ∩ SCPs), the
    /// paths it can take, what a boundary or SCP took away, its trust.
    pub(super) fn judge<'s>(
        &'s self,
        principal: &'s Principal,
        catalogue: &Catalogue,
        scp_levels: &'s FastMap<&str, Vec<Vec<&'s CompiledPolicy>>>,
    ) -> Judgement<'s> {
        let caller = Caller {
            arn: &principal.id,
            account: &principal.scope,
            tags: &principal.tags,
        };
        let grants = self.grants_of(principal);
        let boundary_arn = grants
            .iter()
            .find(|g| g.kind == "permissions_boundary")
            .and_then(|g| g.policy_id.as_deref());
        let effective = Effective {
            identity: self.held(principal),
            boundary: boundary_arn.map(|arn| self.managed.get(arn)),
            scp_levels: scp_levels
                .get(principal.scope.as_str())
                .map_or(&[], Vec::as_slice),
            caller,
        };
        let mut facts = evaluate(&effective.identity, Some(&caller));
        facts.permissions_boundary = boundary_arn.map(str::to_string);
        let mut reduced = Vec::new();
        match effective.boundary {
            Some(Some(boundary)) => cap(&mut facts, &[boundary], &caller, &mut reduced, || {
                format!("permissions boundary {}", boundary_arn.unwrap_or_default())
            }),
            Some(None) => reduced.push(format!(
                "permissions boundary {} not applied: its document is not in the inventory",
                boundary_arn.unwrap_or_default()
            )),
            None => {}
        }
        for level in effective.scp_levels {
            cap(&mut facts, level, &caller, &mut reduced, || {
                "service control policies".to_string()
            });
        }
        let view = View {
            kind: &principal.kind,
            arn: &principal.id,
            account: &principal.scope,
            own_groups: own_groups(grants),
            attached_policies: attached_policies(grants),
            effective: effective.clone(),
        };
        let found = escalation::find(&view, catalogue);
        let (mut strict, mut loose) = (facts.strict, facts.privilege);
        for taken in found.self_admin(catalogue) {
            loose = Privilege::Admin;
            if taken.conditions.is_empty() {
                strict = Privilege::Admin;
            }
        }
        if loose > facts.privilege {
            facts.privilege = loose;
            facts.privilege_conditional |= strict < loose;
        }
        facts.privilege_rank = rank(facts.privilege);
        reduced.extend(found.cut.iter().cloned());
        facts.reduced_by = reduced;
        facts.credential_exposure = credential_exposure(&effective, catalogue);
        facts.escalation_conditions = found
            .taken
            .iter()
            .flat_map(|t| t.conditions.iter().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let trust = match principal.kind.as_str() {
            "role" => self
                .trusts
                .get(principal.id.as_str())
                .and_then(|t| t.document.as_ref())
                .map(|d| trust::analyze(&d.value(), &principal.scope))
                .unwrap_or_default(),
            _ => TrustFacts::default(),
        };
        Judgement {
            facts,
            found,
            effective,
            trust,
            strict,
            loose,
        }
    }
}

/// Each account's SCPs (from `--aws-organizations`), compiled once, one list per level of its
/// path that has any.
pub(super) fn scps(inventory: &Inventory) -> FastMap<String, Vec<Vec<CompiledPolicy>>> {
    use crate::collect::aws::organizations::{SCP_GRANT, SCP_LEVEL};
    let documents: FastMap<&str, &crate::inventory::Policy> = inventory
        .policies
        .iter()
        .filter(|p| p.attributes.get("kind").and_then(|k| k.as_str()) == Some(SCP_GRANT))
        .map(|p| (p.id.as_str(), p))
        .collect();
    let mut levels: FastMap<String, std::collections::BTreeMap<u64, Vec<CompiledPolicy>>> =
        FastMap::default();
    for grant in inventory.grants.iter().filter(|g| g.kind == SCP_GRANT) {
        let Some(policy) = grant.policy_id.as_deref().and_then(|id| documents.get(id)) else {
            continue; // The reader gave the account a gap instead of this grant.
        };
        let level = grant
            .attributes
            .get(SCP_LEVEL)
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let name = format!("SCP {}", policy.name);
        levels
            .entry(grant.principal_id.clone())
            .or_default()
            .entry(level)
            .or_default()
            .push(CompiledPolicy::compile(&name, &policy.document.value()));
    }
    levels
        .into_iter()
        .map(|(account, by_level)| (account, by_level.into_values().collect()))
        .collect()
}

/// Caps a principal's level to what `policies` (a boundary, one SCP level) allow.
fn cap(
    facts: &mut PrivilegeFacts,
    policies: &[&CompiledPolicy],
    caller: &Caller,
    reduced: &mut Vec<String>,
    what: impl Fn() -> String,
) {
    let allowed = evaluate(policies, Some(caller));
    if allowed.privilege < facts.privilege {
        reduced.push(format!(
            "{} caps {} to {}",
            what(),
            facts.privilege.as_str(),
            allowed.privilege.as_str()
        ));
        facts.privilege = allowed.privilege;
        if allowed.privilege < Privilege::Admin {
            facts.admin_via.clear();
        }
    }
    facts.strict = facts.strict.min(allowed.privilege);
}

/// Group ARNs a user's inherited grants name.
fn own_groups<'a>(grants: &[&'a Grant]) -> Vec<&'a str> {
    let mut groups: Vec<&str> = grants
        .iter()
        .filter_map(|g| g.attributes.get(attr::GROUP_ARN)?.as_str())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// Customer-managed policies attached to a principal, directly or through its groups.
fn attached_policies<'a>(grants: &[&'a Grant]) -> Vec<&'a str> {
    let mut policies: Vec<&str> = grants
        .iter()
        .filter(|g| g.kind == "managed_policy")
        .filter_map(|g| g.policy_id.as_deref())
        .filter(|arn| account_of_arn(arn) != Some("aws"))
        .collect();
    policies.sort_unstable();
    policies.dedup();
    policies
}

/// `action: what` for each credential-exposing action allowed on every resource.
fn credential_exposure(effective: &Effective, catalogue: &Catalogue) -> Vec<String> {
    catalogue
        .credential
        .iter()
        .filter(|c| effective.mentions_slot(&catalogue.actions, c.slot))
        .filter_map(|c| {
            let service = c.service();
            let access = effective.access_slot(&catalogue.actions, c.slot, Target::AllOf(&service));
            access.allowed.then(|| {
                let conditional = if access.conditional() {
                    " (conditional)"
                } else {
                    ""
                };
                format!("{}: {}{conditional}", c.action, c.what)
            })
        })
        .collect()
}

/// The facts of phase one completed with the closure's.
pub(super) fn privilege_facts(judgement: Judgement, closure: Closure) -> PrivilegeFacts {
    let mut facts = judgement.facts;
    facts.effective_privilege = closure.strict.max(facts.strict);
    facts.effective_privilege_rank = rank(facts.effective_privilege);
    facts.effective_privilege_conditional = closure.loose.max(facts.effective_privilege);
    facts.escalation_paths = closure.paths;
    facts.chain = closure.chain;
    facts
}
