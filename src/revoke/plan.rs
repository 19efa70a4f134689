//! Revoke, planning: from the inventory and the expiry facts at `as_of`, the grants to end and
//! the exact API calls that end them. Markers are read by `analyze::expiry` only.
//!
//! Inventory conventions relied on (set by the collectors): an AWS principal's `id` is its ARN,
//! `name` its user or role name and `scope` its account; its grants point at it by
//! `principal_id`, a managed-policy grant carries the policy ARN in `policy_id`, an inline one
//! its name in `name`. A GitHub deploy key carries `repository` and `key_id` attributes (else
//! `scope` and the last segment of `id`); an Azure password's `principal_id` is its
//! application's (or service principal's, `owner_kind` attribute) object id, with a `key_id`
//! attribute.

use crate::analyze::AnalysisContext;
use crate::analyze::expiry::{self, ExpiryFacts, LedgerIndex};
use crate::inventory::{Credential, Grant, Inventory, LedgerEntry, Principal, Provider, Timestamp};

use super::action::{Action, IamKind};
use super::aws::deny::is_own_deny;
use super::ledger::iam_principal;
use super::{ExpiredGrant, Extended, MarkerIssue, Plan, resource};
use crate::collect::aws::attr;

/// What pins a grant to its holder: the account (tenant, owner) and the principal's unique id.
#[derive(Debug, Default)]
struct Pin {
    account: Option<String>,
    unique_id: Option<String>,
}

/// Computes what `lapse revoke` does at `as_of`, with the default marker horizon.
pub fn plan(inventory: &Inventory, as_of: Timestamp) -> Plan {
    plan_in(inventory, &AnalysisContext::at(as_of))
}

/// Computes what `lapse revoke` does in `ctx` (its instant and lapse.toml's marker horizon).
/// Pure: reads the inventory, calls nothing.
pub fn plan_in(inventory: &Inventory, ctx: &AnalysisContext) -> Plan {
    let (ctx, as_of) = (*ctx, ctx.as_of);
    let mut builder = Builder {
        aws_principals: Default::default(),
        ledger: LedgerIndex::new(&inventory.ledger),
        covered: Default::default(),
        plan: Plan {
            as_of,
            grants: Vec::new(),
            issues: Vec::new(),
            not_yet_expired: 0,
            extended: Vec::new(),
        },
    };
    // Indexed once: an estate of 200k principals and 400k grants must not be scanned per grant.
    let mut aws_grants: crate::hash::FastMap<&str, Vec<&Grant>> = Default::default();
    for grant in inventory
        .grants
        .iter()
        .filter(|g| g.provider == Provider::Aws)
    {
        aws_grants
            .entry(grant.principal_id.as_str())
            .or_default()
            .push(grant);
    }
    for principal in &inventory.principals {
        if principal.provider == Provider::Aws && matches!(principal.kind.as_str(), "user" | "role")
        {
            builder
                .aws_principals
                .insert(principal.id.as_str(), aws_pin(principal));
            let facts = expiry::from_tags(&principal.tags, &ctx);
            let own_grants = aws_grants
                .get(principal.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let actions = || aws_principal_actions(principal, own_grants);
            let pin = aws_pin(principal);
            builder.consider(
                principal_ref(principal),
                &principal.scope,
                &facts,
                pin,
                actions,
            );
        }
    }
    for grant in &inventory.grants {
        if grant.provider == Provider::Azure {
            builder.azure_grant(grant, &ctx);
        }
    }
    for credential in &inventory.credentials {
        builder.credential(credential, &ctx);
    }
    for entry in &inventory.ledger {
        // A line for a grant the inventory holds was planned with it, from the same expiry.
        if !builder.covered.contains(&std::ptr::from_ref(entry)) {
            builder.ledger_entry(entry, &ctx);
        }
    }
    builder.plan.grants.sort_by(|a, b| {
        (a.resource.provider, &a.resource.id).cmp(&(b.resource.provider, &b.resource.id))
    });
    builder.plan
}

struct Builder<'a> {
    /// AWS principals by ARN, to pin a ledger entry that names one.
    aws_principals: crate::hash::FastMap<&'a str, Pin>,
    /// The latest ledger line of each grant a provider marker can stand beside.
    ledger: LedgerIndex<'a>,
    /// Ledger lines already planned with the inventory's grant or credential they name.
    covered: std::collections::HashSet<*const LedgerEntry>,
    plan: Plan,
}

/// An AWS principal's account and UserId/RoleId.
fn aws_pin(principal: &Principal) -> Pin {
    let key = if principal.kind == "user" {
        attr::USER_ID
    } else {
        attr::ROLE_ID
    };
    Pin {
        account: Some(principal.scope.clone()),
        unique_id: principal
            .attributes
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string),
    }
}

type Planned = (Vec<Action>, Vec<String>);

impl<'a> Builder<'a> {
    /// The effective expiry of a grant the provider marks (`expiry::effective`): its latest
    /// ledger line when there is one, else `marker`. A marker that has passed while the ledger
    /// runs later is listed as extended.
    fn effective(
        &mut self,
        what: &crate::inventory::ResourceRef,
        marker: ExpiryFacts,
        line: Option<&'a LedgerEntry>,
        ctx: &AnalysisContext,
    ) -> ExpiryFacts {
        let Some(entry) = line else {
            return marker;
        };
        self.covered.insert(std::ptr::from_ref(entry));
        let facts = expiry::effective(marker.clone(), Some(entry), ctx);
        if marker.expired && facts.provisional && !facts.expired {
            self.plan.extended.push(Extended {
                resource: what.clone(),
                marker_source: marker.expiry_source.clone().unwrap_or_default(),
                marker: marker.expiry_marker_value.clone(),
                expires_at: entry.expires_at,
            });
        }
        facts
    }

    /// Files one marker: an expired grant with its actions, an issue, or a count.
    fn consider(
        &mut self,
        what: crate::inventory::ResourceRef,
        scope: &str,
        facts: &ExpiryFacts,
        pin: Pin,
        actions: impl FnOnce() -> Planned,
    ) {
        match facts.expiry_marker.as_str() {
            "invalid" | "too_far" => self.plan.issues.push(MarkerIssue {
                resource: what,
                marker_source: facts.expiry_source.clone().unwrap_or_default(),
                value: facts.expiry_marker_value.clone().unwrap_or_default(),
            }),
            "valid" if facts.expired => {
                let Some(expires_at) = facts.expires_at_time() else {
                    return;
                };
                let (actions, notes) = actions();
                self.plan.grants.push(ExpiredGrant {
                    resource: what,
                    scope: scope.to_string(),
                    account: pin.account,
                    principal_unique_id: pin.unique_id,
                    marker: facts.expiry_marker_value.clone(),
                    expires_at,
                    marker_source: facts.expiry_source.clone().unwrap_or_default(),
                    owner: facts.owner.clone(),
                    reason: facts.reason.clone(),
                    actions,
                    notes,
                });
            }
            "valid" => self.plan.not_yet_expired += 1,
            _ => {}
        }
    }

    fn azure_grant(&mut self, grant: &Grant, ctx: &AnalysisContext) {
        if !matches!(grant.kind.as_str(), "role_assignment" | "pim_active") {
            return;
        }
        let mut marker = expiry::from_text(grant.description.as_deref(), "description", ctx);
        if marker.expiry_marker == "none"
            && let Some(ends_at) = grant.ends_at
        {
            marker = expiry::read_marker(Some(&rfc3339(ends_at)), "schedule", ctx);
        }
        let what = resource(Provider::Azure, &grant.kind, &grant.id, &grant.name);
        let facts = self.effective(&what, marker, self.ledger.grant(grant), ctx);
        let scope = grant.target.clone().unwrap_or_default();
        let id = grant.id.clone();
        let pin = Pin {
            account: grant
                .attributes
                .get(crate::collect::azure::TENANT_ATTRIBUTE)
                .and_then(|v| v.as_str())
                .map(str::to_string),
            unique_id: Some(grant.principal_id.clone()).filter(|p| !p.is_empty()),
        };
        self.consider(what, &scope, &facts, pin, || {
            (vec![Action::AzureDeleteRoleAssignment { id }], Vec::new())
        });
    }

    fn credential(&mut self, credential: &Credential, ctx: &AnalysisContext) {
        let what = || {
            resource(
                credential.provider,
                &credential.kind,
                &credential.id,
                &credential.name,
            )
        };
        match (credential.provider, credential.kind.as_str()) {
            (Provider::Github, "deploy_key") => {
                let marker = expiry::from_text(Some(&credential.name), "title", ctx);
                let line = self.ledger.credential(credential);
                let facts = self.effective(&what(), marker, line, ctx);
                let pin = Pin {
                    account: owner(&credential.scope),
                    unique_id: attribute(credential, "key_id"),
                };
                self.consider(what(), &credential.scope, &facts, pin, || {
                    deploy_key(credential)
                });
            }
            (Provider::Azure, "client_secret" | "password") => {
                let line = self.ledger.credential(credential);
                let mut marker = expiry::from_text(Some(&credential.name), "description", ctx);
                if marker.expiry_marker == "none"
                    && let Some(end) = credential.expires_at
                {
                    marker = expiry::read_marker(Some(&rfc3339(end)), "end_date", ctx);
                    // A secret's own lifetime is not a claim to be temporary: a distant end
                    // date is simply not a provisional grant.
                    if marker.expiry_marker == "too_far" && line.is_none() {
                        return;
                    }
                }
                let facts = self.effective(&what(), marker, line, ctx);
                let pin = Pin {
                    account: Some(credential.scope.clone()),
                    unique_id: credential.principal_id.clone(),
                };
                self.consider(what(), &credential.scope, &facts, pin, || {
                    azure_password(credential)
                });
            }
            _ => {}
        }
    }

    fn ledger_entry(&mut self, entry: &LedgerEntry, ctx: &AnalysisContext) {
        let mut facts = expiry::read_marker(Some(&rfc3339(entry.expires_at)), "ledger", ctx);
        facts.owner = entry.owner.clone();
        facts.reason = entry.reason.clone();
        let principal = entry.principal_id.clone().unwrap_or_default();
        let id = if principal.is_empty() {
            entry.target.clone()
        } else {
            format!("{principal}#{}", entry.target)
        };
        let what = resource(entry.provider, &entry.kind, &id, &entry.target);
        let scope = ledger_scope(entry);
        let pin = match entry.provider {
            Provider::Aws => Pin {
                account: Some(scope.clone()).filter(|s| !s.is_empty()),
                unique_id: entry
                    .principal_id
                    .as_deref()
                    .and_then(|arn| self.aws_principals.get(arn))
                    .and_then(|p| p.unique_id.clone()),
            },
            Provider::Github => Pin {
                account: owner(&entry.target),
                unique_id: None,
            },
            // The tenant and object id `lapse grant` recorded: the executor writes only in its
            // own tenant, and reads the assignment again to see it is still this principal's.
            Provider::Azure => Pin {
                account: entry.account.clone(),
                unique_id: entry.principal_unique_id.clone(),
            },
            _ => Pin::default(),
        };
        self.consider(what, &scope, &facts, pin, || ledger_actions(entry));
    }
}

fn principal_ref(principal: &Principal) -> crate::inventory::ResourceRef {
    resource(
        principal.provider,
        &principal.kind,
        &principal.id,
        &principal.name,
    )
}

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// The owner of `owner/...` (a GitHub repository or target path).
fn owner(path: &str) -> Option<String> {
    path.split('/')
        .next()
        .filter(|o| !o.is_empty())
        .map(str::to_string)
}

/// Whether an inline-policy grant is lapse's own session cutoff, judged by its content.
fn is_lapse_deny(grant: &Grant) -> bool {
    grant.kind == "inline_policy"
        && grant
            .document
            .as_ref()
            .is_some_and(|d| is_own_deny(&grant.name, &d.value()))
}

/// A user: keys off first (the most direct way in), then the console, its groups, every
/// policy; key deletion last, as it waits for the grace period. A role: cut live sessions
/// first, unless lapse's own cutoff (recognised by content) is already there.
fn aws_principal_actions(principal: &Principal, own_grants: &[&Grant]) -> Planned {
    let name = principal.name.clone();
    let is_user = principal.kind == "user";
    let iam_kind = if is_user {
        IamKind::User
    } else {
        IamKind::Role
    };
    let mut actions = Vec::new();
    let mut notes = Vec::new();
    if is_user {
        actions.push(Action::AwsDeactivateAccessKeys { user: name.clone() });
        actions.push(Action::AwsDeleteLoginProfile { user: name.clone() });
        for group in user_groups(principal, own_grants) {
            actions.push(Action::AwsRemoveUserFromGroup {
                user: name.clone(),
                group,
            });
        }
    } else if !own_grants.iter().any(|g| is_lapse_deny(g)) {
        actions.push(Action::AwsDenyOlderSessions { role: name.clone() });
    }
    for grant in own_grants.iter().copied() {
        if let Some(group) = &grant.via {
            notes.push(format!(
                "{} comes from group {group}: the user leaves the group, the group is unchanged",
                grant.name
            ));
            continue;
        }
        match grant.kind.as_str() {
            "managed_policy" => actions.push(Action::AwsDetachPolicy {
                principal: iam_kind,
                name: name.clone(),
                policy_arn: grant.policy_id.clone().unwrap_or_else(|| grant.id.clone()),
            }),
            "inline_policy" if !is_lapse_deny(grant) => {
                actions.push(Action::AwsDeleteInlinePolicy {
                    principal: iam_kind,
                    name: name.clone(),
                    policy_name: grant.name.clone(),
                })
            }
            _ => {}
        }
    }
    if is_user {
        actions.push(Action::AwsDeleteDeactivatedAccessKeys { user: name });
    }
    (actions, notes)
}

/// The user's groups: the `groups` attribute, and any group a grant was inherited through.
fn user_groups(principal: &Principal, own_grants: &[&Grant]) -> Vec<String> {
    let mut groups: Vec<String> = principal
        .attributes
        .get(attr::GROUPS)
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    groups.extend(own_grants.iter().filter_map(|g| g.via.clone()));
    groups.sort();
    groups.dedup();
    groups
}

fn attribute(credential: &Credential, key: &str) -> Option<String> {
    match credential.attributes.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn deploy_key(credential: &Credential) -> Planned {
    let repo = attribute(credential, "repository").unwrap_or_else(|| credential.scope.clone());
    let key_id = attribute(credential, "key_id")
        .or_else(|| credential.id.rsplit(['/', ':']).next().map(str::to_string))
        .and_then(|id| id.parse::<u64>().ok());
    match key_id {
        Some(key_id) if repo.contains('/') => (
            vec![Action::GithubDeleteDeployKey { repo, key_id }],
            Vec::new(),
        ),
        _ => (
            Vec::new(),
            vec!["no repository or numeric key id in the inventory: revoke by hand".into()],
        ),
    }
}

fn azure_password(credential: &Credential) -> Planned {
    let object_id = credential.principal_id.clone().unwrap_or_default();
    let key_id = attribute(credential, "key_id").unwrap_or_default();
    if object_id.is_empty() || key_id.is_empty() {
        let note = "no owner object id or key id in the inventory: revoke by hand";
        return (Vec::new(), vec![note.into()]);
    }
    let owner = match attribute(credential, "owner_kind").as_deref() {
        Some("service_principal") => "servicePrincipals",
        _ => "applications",
    };
    let action = Action::AzureRemovePassword {
        owner: owner.into(),
        object_id,
        key_id,
    };
    (vec![action], Vec::new())
}

fn ledger_scope(entry: &LedgerEntry) -> String {
    match entry.provider {
        // The account of the principal's ARN selects the AWS client.
        Provider::Aws => entry
            .principal_id
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
            .unwrap_or_default()
            .to_string(),
        _ => entry
            .target
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// The ledger was validated on load; a shape that still does not fit yields a note, no action.
fn ledger_actions(entry: &LedgerEntry) -> Planned {
    let principal = entry.principal_id.as_deref().unwrap_or_default();
    let action = match (entry.provider, entry.kind.as_str()) {
        (Provider::Aws, "policy_attachment") => {
            iam_principal(principal)
                .ok()
                .map(|(kind, name)| Action::AwsDetachPolicy {
                    principal: kind,
                    name,
                    policy_arn: entry.target.clone(),
                })
        }
        (Provider::Aws, "inline_policy") => {
            iam_principal(principal)
                .ok()
                .map(|(kind, name)| Action::AwsDeleteInlinePolicy {
                    principal: kind,
                    name,
                    policy_name: entry.target.clone(),
                })
        }
        (Provider::Github, "actions_secret") => github_secret(&entry.target),
        (Provider::Github, "deploy_key") => entry.target.rsplit_once('/').and_then(|(repo, id)| {
            Some(Action::GithubDeleteDeployKey {
                repo: repo.to_string(),
                key_id: id.parse().ok()?,
            })
        }),
        (Provider::Azure, "role_assignment") => Some(Action::AzureDeleteRoleAssignment {
            id: entry.target.clone(),
        }),
        (Provider::Azure, "application_password") => {
            entry
                .target
                .split_once('/')
                .map(|(app, key)| Action::AzureRemovePassword {
                    owner: "applications".into(),
                    object_id: app.to_string(),
                    key_id: key.to_string(),
                })
        }
        _ => None,
    };
    match action {
        Some(action) => (vec![action], Vec::new()),
        None => (
            Vec::new(),
            vec!["ledger entry of an unsupported shape: revoke by hand".into()],
        ),
    }
}

fn github_secret(target: &str) -> Option<Action> {
    let parts: Vec<&str> = target.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        [owner, repo, secret] => Some(Action::GithubDeleteRepoSecret {
            repo: format!("{owner}/{repo}"),
            secret: secret.to_string(),
        }),
        [org, secret] => Some(Action::GithubDeleteOrgSecret {
            org: org.to_string(),
            secret: secret.to_string(),
        }),
        _ => None,
    }
}
